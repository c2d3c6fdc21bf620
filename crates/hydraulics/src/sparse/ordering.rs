//! Fill-reducing ordering: exact minimum degree on a quotient graph.
//!
//! Each eliminated pivot becomes an *element* standing for the clique it
//! creates; the elements adjacent to the pivot are absorbed into it, so the
//! quotient graph never grows beyond the original storage order of
//! magnitude. After an elimination only the variables of the new element
//! change degree; their exact external degree
//! `|A_i ∪ ⋃_{e ∈ E_i} L_e \ {i}|` is recomputed and they are moved between
//! degree buckets (doubly linked lists), so picking the next pivot is O(1)
//! amortised. Water networks are nearly planar with degree ~2–4, so the exact
//! degree costs little and gives true minimum-degree quality.
//!
//! The result is then renumbered by height in its elimination tree (an
//! equivalent ordering: same fill) so that consecutive columns are
//! independent, which the numeric kernels exploit.

use super::graph::Graph;
use super::symbolic::elimination_tree;
use super::{PatternError, NONE};

/// A permutation of the unknowns: `perm[new] = old`, `iperm[old] = new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordering {
    perm: Vec<u32>,
    iperm: Vec<u32>,
}

impl Ordering {
    /// Minimum-degree ordering of the pattern given by `couplings`
    /// (duplicates, both orientations and `i == j` are tolerated), renumbered
    /// leaves-first by elimination-tree height (same fill).
    pub fn minimum_degree(n: usize, couplings: &[(usize, usize)]) -> Result<Self, PatternError> {
        let g = Graph::from_couplings(n, couplings)?;
        Ok(Self::from_graph(&g))
    }

    /// Minimum degree, then renumbered level by level of its elimination
    /// tree (same fill, more instruction-level parallelism; see `level_order`).
    pub(crate) fn from_graph(g: &Graph) -> Self {
        let el = eliminate(g);
        Self::from_perm_u32(el.level_perm())
    }

    /// The reference path (separate elimination tree and sort), for tests.
    pub(crate) fn from_graph_reference(g: &Graph) -> Self {
        let md = Self::from_perm_u32(minimum_degree_reference(g));
        let parent = elimination_tree(g, &md.perm, &md.iperm);
        let post = super::symbolic::level_order_reference(&parent);
        Self::from_perm_u32(post.iter().map(|&k| md.perm[k as usize]).collect())
    }

    /// Identity ordering (no fill reduction); useful for tests and tiny systems.
    pub fn natural(n: usize) -> Self {
        let perm: Vec<u32> = (0..n as u32).collect();
        Ordering {
            iperm: perm.clone(),
            perm,
        }
    }

    /// Ordering from a caller-supplied `perm` (`perm[new] = old`).
    pub fn from_perm(perm: &[usize]) -> Result<Self, PatternError> {
        if perm.len() >= u32::MAX as usize {
            return Err(PatternError::TooLarge);
        }
        let n = perm.len();
        let mut iperm = vec![NONE; n];
        for (new, &old) in perm.iter().enumerate() {
            if old >= n || iperm[old] != NONE {
                return Err(PatternError::NotAPermutation);
            }
            iperm[old] = new as u32;
        }
        Ok(Ordering {
            perm: perm.iter().map(|&p| p as u32).collect(),
            iperm,
        })
    }

    pub(crate) fn from_perm_u32(perm: Vec<u32>) -> Self {
        let mut iperm = vec![NONE; perm.len()];
        for (new, &old) in perm.iter().enumerate() {
            iperm[old as usize] = new as u32;
        }
        Ordering { perm, iperm }
    }

    /// Number of unknowns.
    pub fn len(&self) -> usize {
        self.perm.len()
    }

    pub fn is_empty(&self) -> bool {
        self.perm.is_empty()
    }

    /// `perm[new] = old`.
    pub fn perm(&self) -> &[u32] {
        &self.perm
    }

    /// `iperm[old] = new`.
    pub fn iperm(&self) -> &[u32] {
        &self.iperm
    }
}

const VARIABLE: u8 = 0;
const ELEMENT: u8 = 1;
const ABSORBED: u8 = 2;

/// Degree buckets: one doubly linked list of variables per degree.
struct Buckets {
    head: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    min: usize,
}

impl Buckets {
    fn new(n: usize) -> Self {
        Buckets {
            head: vec![NONE; n.max(1)],
            next: vec![NONE; n],
            prev: vec![NONE; n],
            min: 0,
        }
    }

    #[inline]
    fn insert(&mut self, v: u32, deg: usize) {
        let h = self.head[deg];
        self.next[v as usize] = h;
        self.prev[v as usize] = NONE;
        if h != NONE {
            self.prev[h as usize] = v;
        }
        self.head[deg] = v;
        if deg < self.min {
            self.min = deg;
        }
    }

    #[inline]
    fn remove(&mut self, v: u32, deg: usize) {
        let (nx, pv) = (self.next[v as usize], self.prev[v as usize]);
        if pv != NONE {
            self.next[pv as usize] = nx;
        } else {
            self.head[deg] = nx;
        }
        if nx != NONE {
            self.prev[nx as usize] = pv;
        }
    }

    /// Removes and returns a variable of minimum degree (the list is non-empty
    /// as long as variables remain).
    #[inline]
    fn pop_min(&mut self) -> u32 {
        while self.head[self.min] == NONE {
            self.min += 1;
        }
        let v = self.head[self.min];
        self.remove(v, self.min);
        v
    }
}

/// The straightforward implementation (one `Vec` per list) the flat
/// [`eliminate`] must reproduce exactly; kept to test that it does.
/// Returns `perm` (`perm[new] = old`).
pub(crate) fn minimum_degree_reference(g: &Graph) -> Vec<u32> {
    let n = g.n;
    // Quotient graph. For a variable: `adj` = variable neighbours, `elems` =
    // adjacent elements. For an element: `vars` = its variables (L_e).
    let mut adj: Vec<Vec<u32>> = (0..n).map(|v| g.neighbors(v).to_vec()).collect();
    let mut elems: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut vars: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut status = vec![VARIABLE; n];
    let mut degree: Vec<u32> = adj.iter().map(|a| a.len() as u32).collect();

    let mut buckets = Buckets::new(n);
    // Insert in reverse so that ties are broken towards the lower index.
    for v in (0..n).rev() {
        buckets.insert(v as u32, degree[v] as usize);
    }
    buckets.min = 0;

    // Marks with generation counters avoid clearing arrays.
    let mut in_lp = vec![0usize; n];
    let mut lp_tag = 0usize;
    let mut seen = vec![0usize; n];
    let mut seen_tag = 0usize;

    let mut perm = Vec::with_capacity(n);
    for _ in 0..n {
        let p = buckets.pop_min();
        let pu = p as usize;
        perm.push(p);

        // L_p = A_p ∪ ⋃_{e ∈ E_p} L_e \ {p}; absorb the elements of E_p.
        lp_tag += 1;
        in_lp[pu] = lp_tag;
        let mut lp: Vec<u32> = std::mem::take(&mut adj[pu]);
        for &v in &lp {
            in_lp[v as usize] = lp_tag;
        }
        let ep = std::mem::take(&mut elems[pu]);
        for &e in &ep {
            let le = std::mem::take(&mut vars[e as usize]);
            for &v in &le {
                debug_assert_eq!(status[v as usize], VARIABLE);
                if in_lp[v as usize] != lp_tag {
                    in_lp[v as usize] = lp_tag;
                    lp.push(v);
                }
            }
            status[e as usize] = ABSORBED;
        }
        status[pu] = ELEMENT;

        // Update the quotient graph around each variable of the new element.
        for &i in &lp {
            let iu = i as usize;
            buckets.remove(i, degree[iu] as usize);
            let ei = &mut elems[iu];
            ei.retain(|&e| status[e as usize] == ELEMENT);
            ei.push(p);
            // Variable neighbours inside L_p (and p itself) are now covered by p.
            adj[iu].retain(|&v| in_lp[v as usize] != lp_tag);
        }

        // Exact external degrees of the variables of L_p.
        let base = lp.len().saturating_sub(1);
        for &i in &lp {
            let iu = i as usize;
            seen_tag += 1;
            let mut d = base;
            for &v in &adj[iu] {
                // Distinct, outside L_p by the pruning above.
                seen[v as usize] = seen_tag;
                d += 1;
            }
            for &e in &elems[iu] {
                if e == p {
                    continue;
                }
                for &v in &vars[e as usize] {
                    let vu = v as usize;
                    if in_lp[vu] != lp_tag && seen[vu] != seen_tag {
                        seen[vu] = seen_tag;
                        d += 1;
                    }
                }
            }
            degree[iu] = d as u32;
            buckets.insert(i, d);
        }
        vars[pu] = lp;
    }
    perm
}

/// Outcome of the minimum-degree elimination, all in original numbering
/// except `order`.
///
/// Without supervariables or aggressive absorption the quotient graph gives
/// the factor for free: the variable set `L_p` of the element formed when
/// `p` is eliminated is exactly the strictly lower pattern of column `p` of
/// `L`, and the pivot that absorbs element `p` is its parent in the
/// elimination tree.
pub(crate) struct Elimination {
    /// `order[step] = old`: the elimination (minimum-degree) order.
    pub(crate) order: Vec<u32>,
    /// Elimination-tree parent of each unknown (original numbering), or [`NONE`].
    pub(crate) parent: Vec<u32>,
    /// `L_p` of unknown `p` is `vars[vptr[p]..vptr[p] + vlen[p]]` (original numbering).
    pub(crate) vptr: Vec<u32>,
    pub(crate) vlen: Vec<u32>,
    pub(crate) vars: Vec<u32>,
}

impl Elimination {
    /// The elimination order renumbered by height in the elimination tree,
    /// leaves first, stable (what [`level_order`] gives, by counting sort).
    pub(crate) fn level_perm(&self) -> Vec<u32> {
        let n = self.order.len();
        let mut step = vec![0u32; n];
        for (k, &v) in self.order.iter().enumerate() {
            step[v as usize] = k as u32;
        }
        // Heights: a parent is eliminated after its children.
        let mut h = vec![0u32; n];
        let mut max_h = 0u32;
        for &v in &self.order {
            let hv = h[v as usize];
            max_h = max_h.max(hv);
            let p = self.parent[v as usize];
            if p != NONE && h[p as usize] < hv + 1 {
                h[p as usize] = hv + 1;
            }
        }
        let mut start = vec![0u32; max_h as usize + 2];
        for &v in &self.order {
            start[h[v as usize] as usize + 1] += 1;
        }
        for l in 0..=max_h as usize {
            start[l + 1] += start[l];
        }
        let mut perm = vec![0u32; n];
        for &v in &self.order {
            let l = h[v as usize] as usize;
            perm[start[l] as usize] = v;
            start[l] += 1;
        }
        perm
    }
}

/// Exact minimum degree on a quotient graph held in flat arrays (no
/// allocation per variable or per pivot). Produces the same pivot sequence
/// as [`minimum_degree_reference`]: every list keeps the same order, so ties
/// are broken the same way.
///
/// Storage: unknown `i` owns the region `g.ptr[i]..g.ptr[i + 1]` of `store`,
/// holding its variable neighbours (`alen[i]` entries) followed by its
/// adjacent elements (`elen[i]`). When `i` joins a new element `p`, either
/// `p` was a variable neighbour of `i` (which is dropped) or `i` belonged to
/// an element now absorbed into `p` (which is dropped), so the lists never
/// outgrow the region. Elements' variable sets are appended to `vars`
/// (their total length is `nnz(L)`).
pub(crate) fn eliminate(g: &Graph) -> Elimination {
    let n = g.n;
    let mut store: Vec<u32> = g.adj.clone();
    let rs = &g.ptr;
    let mut alen: Vec<u32> = (0..n).map(|v| rs[v + 1] - rs[v]).collect();
    let mut elen = vec![0u32; n];
    let mut status = vec![VARIABLE; n];
    let mut degree: Vec<u32> = alen.clone();
    let mut parent = vec![NONE; n];
    let mut vptr = vec![0u32; n];
    let mut vlen = vec![0u32; n];
    let mut vars: Vec<u32> = Vec::with_capacity(2 * g.adj.len() + n);

    let mut buckets = Buckets::new(n);
    for v in (0..n).rev() {
        buckets.insert(v as u32, degree[v] as usize);
    }
    buckets.min = 0;

    let mut in_lp = vec![0u32; n];
    let mut lp_tag = 0u32;
    let mut seen = vec![0u32; n];
    let mut seen_tag = 0u32;

    // Unchecked indexing below: every unknown stored in `store` and `vars`
    // is `< n` (the graph's adjacency, checked when it was built, or a
    // pivot); positions in `store` stay inside each unknown's region (the
    // debug assertion on region growth) and positions in `vars` below its
    // length. Debug builds check every access.
    macro_rules! ix {
        ($a:expr, $i:expr) => {{
            let i = $i as usize;
            debug_assert!(i < $a.len());
            // SAFETY: see the comment above.
            *unsafe { $a.get_unchecked(i) }
        }};
    }
    macro_rules! set {
        ($a:expr, $i:expr, $v:expr) => {{
            let i = $i as usize;
            let v = $v;
            debug_assert!(i < $a.len());
            // SAFETY: see the comment above.
            unsafe {
                *$a.get_unchecked_mut(i) = v;
            }
        }};
    }
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        let p = buckets.pop_min();
        let pu = p as usize;
        order.push(p);

        // L_p = A_p ∪ ⋃_{e ∈ E_p} L_e \ {p}, appended to `vars`.
        lp_tag += 1;
        set!(in_lp, pu, lp_tag);
        let lp_start = vars.len();
        let ps = ix!(rs, pu) as usize;
        for &v in &store[ps..ps + ix!(alen, pu) as usize] {
            set!(in_lp, v, lp_tag);
            vars.push(v);
        }
        let es = ps + ix!(alen, pu) as usize;
        // The merges below are branch-free (write, then advance the cursor
        // by the condition): which variables are new is data-dependent and
        // mispredicts otherwise; the result is the same list.
        for r in es..es + ix!(elen, pu) as usize {
            let e = ix!(store, r) as usize;
            let (a, b) = (
                ix!(vptr, e) as usize,
                (ix!(vptr, e) + ix!(vlen, e)) as usize,
            );
            let mut w = vars.len();
            vars.resize(w + (b - a), 0);
            for x in a..b {
                let v = ix!(vars, x);
                debug_assert_eq!(ix!(status, v as usize), VARIABLE);
                let new = ix!(in_lp, v as usize) != lp_tag;
                set!(in_lp, v as usize, lp_tag);
                set!(vars, w, v);
                w += new as usize;
            }
            vars.truncate(w);
            set!(status, e, ABSORBED);
            set!(parent, e, p);
        }
        set!(alen, pu, 0);
        set!(elen, pu, 0);
        set!(status, pu, ELEMENT);
        let lp_end = vars.len();

        // Update the quotient graph around each variable of the new element:
        // drop absorbed elements and the variables now covered by p, add p.
        for x in lp_start..lp_end {
            let i = ix!(vars, x);
            let iu = i as usize;
            buckets.remove(i, ix!(degree, iu) as usize);
            let s = ix!(rs, iu) as usize;
            let (na, ne) = (ix!(alen, iu) as usize, ix!(elen, iu) as usize);
            let mut w = s;
            for r in s..s + na {
                let v = ix!(store, r);
                set!(store, w, v);
                w += (ix!(in_lp, v as usize) != lp_tag) as usize;
            }
            let new_na = w - s;
            for r in s + na..s + na + ne {
                let e = ix!(store, r);
                set!(store, w, e);
                w += (ix!(status, e as usize) == ELEMENT) as usize;
            }
            debug_assert!(
                w < ix!(rs, iu + 1) as usize,
                "quotient graph outgrew its region"
            );
            set!(store, w, p);
            w += 1;
            set!(alen, iu, new_na as u32);
            set!(elen, iu, (w - s - new_na) as u32);
        }

        // Exact external degrees of the variables of L_p.
        let base = (lp_end - lp_start).saturating_sub(1);
        for x in lp_start..lp_end {
            let iu = ix!(vars, x) as usize;
            seen_tag += 1;
            let s = ix!(rs, iu) as usize;
            let na = ix!(alen, iu) as usize;
            let mut d = base + na;
            for &v in &store[s..s + na] {
                set!(seen, v, seen_tag);
            }
            for &e in &store[s + na..s + na + ix!(elen, iu) as usize] {
                if e == p {
                    continue;
                }
                let eu = e as usize;
                let (va, vb) = (ix!(vptr, eu) as usize, ix!(vlen, eu) as usize);
                for &v in &vars[va..va + vb] {
                    // Marking a variable of L_p as seen changes nothing (it
                    // is never counted), so the mark is unconditional.
                    let vu = v as usize;
                    let new = (ix!(in_lp, vu) != lp_tag) & (ix!(seen, vu) != seen_tag);
                    set!(seen, vu, seen_tag);
                    d += new as usize;
                }
            }
            set!(degree, iu, d as u32);
            buckets.insert(ix!(vars, x), d);
        }
        set!(vptr, pu, lp_start as u32);
        set!(vlen, pu, (lp_end - lp_start) as u32);
    }
    Elimination {
        order,
        parent,
        vptr,
        vlen,
        vars,
    }
}
