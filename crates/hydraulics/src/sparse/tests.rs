#![allow(clippy::needless_range_loop)]

use std::sync::Arc;

use super::*;

/// Small deterministic generator (xorshift64*), no dependencies.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `A = Σ_k w_k (e_i - e_j)(e_i - e_j)ᵀ + diag(g)`: a weighted graph
/// Laplacian (as the GGA Jacobian) grounded by `g`.
struct System {
    n: usize,
    links: Vec<(usize, usize)>,
    w: Vec<f64>,
    g: Vec<f64>,
}

impl System {
    fn random_weights(
        n: usize,
        links: Vec<(usize, usize)>,
        rng: &mut Rng,
        ground_all: bool,
    ) -> Self {
        let w = links.iter().map(|_| 0.1 + 10.0 * rng.unit()).collect();
        let g = (0..n)
            .map(|i| {
                if ground_all || i % 17 == 0 {
                    0.01 + rng.unit()
                } else {
                    0.0
                }
            })
            .collect();
        System { n, links, w, g }
    }

    fn assemble(&self, f: &mut Factor, slots: &[Slot]) {
        f.clear();
        for i in 0..self.n {
            f.add_diag(i, self.g[i]);
        }
        for (k, &(i, j)) in self.links.iter().enumerate() {
            if i == j {
                continue;
            }
            f.add_diag(i, self.w[k]);
            f.add_diag(j, self.w[k]);
            f.add_offdiag_slot(slots[k], -self.w[k]);
        }
    }

    fn matvec(&self, x: &[f64]) -> Vec<f64> {
        let mut y: Vec<f64> = (0..self.n).map(|i| self.g[i] * x[i]).collect();
        for (k, &(i, j)) in self.links.iter().enumerate() {
            let d = self.w[k] * (x[i] - x[j]);
            y[i] += d;
            y[j] -= d;
        }
        y
    }

    fn dense(&self) -> Vec<Vec<f64>> {
        let mut a = vec![vec![0.0; self.n]; self.n];
        for i in 0..self.n {
            a[i][i] += self.g[i];
        }
        for (k, &(i, j)) in self.links.iter().enumerate() {
            if i == j {
                continue;
            }
            a[i][i] += self.w[k];
            a[j][j] += self.w[k];
            a[i][j] -= self.w[k];
            a[j][i] -= self.w[k];
        }
        a
    }
}

/// Reference: dense Cholesky solve.
fn dense_solve(mut a: Vec<Vec<f64>>, b: &[f64]) -> Vec<f64> {
    let n = b.len();
    for j in 0..n {
        let mut s = a[j][j];
        for k in 0..j {
            s -= a[j][k] * a[j][k];
        }
        assert!(s > 0.0, "dense reference: not SPD");
        let ljj = s.sqrt();
        a[j][j] = ljj;
        for i in j + 1..n {
            let mut s = a[i][j];
            for k in 0..j {
                s -= a[i][k] * a[j][k];
            }
            a[i][j] = s / ljj;
        }
    }
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= a[i][k] * y[k];
        }
        y[i] /= a[i][i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= a[k][i] * y[k];
        }
        y[i] /= a[i][i];
    }
    y
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Factorizes, solves, and checks the relative residual (and the dense
/// reference for small systems). Returns the factor for further checks.
fn check_system(sys: &System, rng: &mut Rng) -> Factor {
    let sym = Arc::new(Symbolic::new(sys.n, &sys.links).unwrap());
    check_perm(sym.perm(), sym.iperm());
    // Self loops have no slot (and contribute nothing): `assemble` skips them.
    let slots: Vec<Slot> = (sys.links.iter())
        .map(|&(i, j)| {
            if i == j {
                NONE
            } else {
                sym.offdiag_slot(i, j).unwrap()
            }
        })
        .collect();
    let mut f = Factor::new(sym);
    sys.assemble(&mut f, &slots);
    f.factorize().unwrap();
    let b: Vec<f64> = (0..sys.n).map(|_| rng.unit() - 0.5).collect();
    let mut x = b.clone();
    f.solve(&mut x);
    let ax = sys.matvec(&x);
    let r: Vec<f64> = ax.iter().zip(&b).map(|(a, b)| a - b).collect();
    let bn = norm(&b);
    if sys.n > 0 {
        assert!(
            norm(&r) <= 1e-10 * bn.max(f64::MIN_POSITIVE),
            "residual {} vs {}",
            norm(&r),
            bn
        );
    }
    if sys.n <= 400 {
        let xd = dense_solve(sys.dense(), &b);
        let err: Vec<f64> = x.iter().zip(&xd).map(|(a, b)| a - b).collect();
        assert!(
            norm(&err) <= 1e-9 * norm(&xd).max(1e-300),
            "dense mismatch {}",
            norm(&err)
        );
    }
    f
}

fn check_perm(perm: &[u32], iperm: &[u32]) {
    let n = perm.len();
    assert_eq!(iperm.len(), n);
    let mut seen = vec![false; n];
    for (new, &old) in perm.iter().enumerate() {
        assert!(!seen[old as usize], "duplicate in permutation");
        seen[old as usize] = true;
        assert_eq!(iperm[old as usize] as usize, new);
    }
}

fn random_graph(n: usize, m: usize, rng: &mut Rng) -> Vec<(usize, usize)> {
    (0..m).map(|_| (rng.below(n), rng.below(n))).collect()
}

fn grid(nx: usize, ny: usize) -> Vec<(usize, usize)> {
    let mut e = Vec::new();
    for y in 0..ny {
        for x in 0..nx {
            let v = y * nx + x;
            if x + 1 < nx {
                e.push((v, v + 1));
            }
            if y + 1 < ny {
                e.push((v, v + nx));
            }
        }
    }
    e
}

fn random_tree(n: usize, rng: &mut Rng) -> Vec<(usize, usize)> {
    (1..n).map(|v| (v, rng.below(v))).collect()
}

#[test]
fn random_sparse_systems_match_dense() {
    let mut rng = Rng::new(1);
    for trial in 0..40 {
        let n = 1 + rng.below(300);
        let m = rng.below(2 * n + 1);
        let mut links = random_graph(n, m, &mut rng);
        // Parallel duplicates in both orientations and a self loop.
        for _ in 0..rng.below(5) {
            if let Some(&(i, j)) = links.get(rng.below(links.len().max(1))) {
                links.push((j, i));
                links.push((i, j));
            }
        }
        links.push((n - 1, n - 1));
        let sys = System::random_weights(n, links, &mut rng, trial % 2 == 0);
        // Grounding only every 17th node may leave floating components: ground them.
        let mut sys = sys;
        ground_components(&mut sys);
        check_system(&sys, &mut rng);
    }
}

/// Ensure each connected component has a positive diagonal somewhere.
fn ground_components(sys: &mut System) {
    let n = sys.n;
    let mut uf: Vec<usize> = (0..n).collect();
    fn find(uf: &mut [usize], mut v: usize) -> usize {
        while uf[v] != v {
            uf[v] = uf[uf[v]];
            v = uf[v];
        }
        v
    }
    for &(i, j) in &sys.links {
        let (a, b) = (find(&mut uf, i), find(&mut uf, j));
        uf[a] = b;
    }
    let mut grounded = vec![false; n];
    for v in 0..n {
        if sys.g[v] > 0.0 {
            let r = find(&mut uf, v);
            grounded[r] = true;
        }
    }
    for v in 0..n {
        let r = find(&mut uf, v);
        if !grounded[r] {
            sys.g[v] = 0.5;
            grounded[r] = true;
        }
    }
}

#[test]
fn disconnected_components() {
    let mut rng = Rng::new(2);
    // Three components: a path, a triangle, isolated nodes.
    let links = vec![(0, 1), (1, 2), (2, 3), (5, 6), (6, 7), (7, 5), (5, 6)];
    let mut sys = System::random_weights(10, links, &mut rng, false);
    ground_components(&mut sys);
    check_system(&sys, &mut rng);
}

#[test]
fn tree_has_no_fill() {
    let mut rng = Rng::new(3);
    let links = random_tree(2000, &mut rng);
    let mut sys = System::random_weights(2000, links, &mut rng, false);
    ground_components(&mut sys);
    let f = check_system(&sys, &mut rng);
    assert_eq!(f.symbolic().nnz_l(), 1999);
    assert_eq!(f.symbolic().fill_ratio(), 1.0);
}

#[test]
fn grid_100x100() {
    let mut rng = Rng::new(4);
    let links = grid(100, 100);
    let mut sys = System::random_weights(10_000, links, &mut rng, false);
    ground_components(&mut sys);
    let f = check_system(&sys, &mut rng);
    let s = f.symbolic();
    let natural = Symbolic::with_ordering(sys.n, &sys.links, &Ordering::natural(sys.n)).unwrap();
    assert!(
        s.nnz_l() * 3 < natural.nnz_l(),
        "md {} vs natural {}",
        s.nnz_l(),
        natural.nnz_l()
    );
}

#[test]
fn small_dense_grid_matches_dense() {
    let mut rng = Rng::new(5);
    let mut sys = System::random_weights(225, grid(15, 15), &mut rng, false);
    ground_components(&mut sys);
    check_system(&sys, &mut rng);
}

#[test]
fn n1_and_n0() {
    let mut rng = Rng::new(6);
    let sys = System {
        n: 1,
        links: vec![],
        w: vec![],
        g: vec![2.0],
    };
    let mut f = check_system(&sys, &mut rng);
    let mut x = [4.0];
    f.solve(&mut x);
    assert_eq!(x, [2.0]);

    let sym = Arc::new(Symbolic::new(0, &[]).unwrap());
    assert_eq!(sym.nnz_l(), 0);
    assert_eq!(sym.fill_ratio(), 1.0);
    let mut f = Factor::new(sym);
    f.clear();
    f.factorize().unwrap();
    f.solve(&mut []);
}

#[test]
fn ordering_is_a_permutation() {
    let mut rng = Rng::new(7);
    for _ in 0..20 {
        let n = rng.below(500);
        let m = rng.below(3 * n + 1);
        let links = if n == 0 {
            vec![]
        } else {
            random_graph(n, m, &mut rng)
        };
        let ord = Ordering::minimum_degree(n, &links).unwrap();
        assert_eq!(ord.len(), n);
        check_perm(ord.perm(), ord.iperm());
    }
    assert!(Ordering::from_perm(&[0, 0]).is_err());
    assert!(Ordering::from_perm(&[1, 2]).is_err());
    assert_eq!(Ordering::from_perm(&[2, 0, 1]).unwrap().iperm(), &[1, 2, 0]);
}

#[test]
fn etree_and_pattern_are_consistent() {
    let mut rng = Rng::new(8);
    let links = random_graph(300, 500, &mut rng);
    let s = Symbolic::new(300, &links).unwrap();
    let (cp, ri, parent) = (s.col_ptr(), s.row_idx(), s.etree());
    for j in 0..300 {
        let col = &ri[cp[j] as usize..cp[j + 1] as usize];
        assert!(col.windows(2).all(|w| w[0] < w[1]));
        assert!(col.iter().all(|&r| r as usize > j));
        // parent(j) = first off-diagonal row of column j.
        assert_eq!(parent[j], col.first().copied().unwrap_or(NONE));
    }
}

#[test]
fn slots_share_duplicates_and_orientations() {
    let links = [(0, 1), (1, 0), (1, 2), (0, 1), (3, 2)];
    let s = Symbolic::new(4, &links).unwrap();
    let slots = s.offdiag_slots(&links).unwrap();
    assert_eq!(slots[0], slots[1]);
    assert_eq!(slots[0], slots[3]);
    assert_ne!(slots[0], slots[2]);
    assert_eq!(s.offdiag_slot(2, 3), Some(slots[4]));
    assert_eq!(s.offdiag_slot(2, 2), None);
    assert_eq!(s.offdiag_slot(0, 9), None);
    assert_eq!(s.offdiag_slot(0, 3), None); // path 0-1-2-3 ordered by MD: no fill there
    assert!(s.offdiag_slots(&[(0, 3)]).is_err());
    assert_eq!(s.nnz_a_lower(), 3);
    assert!(matches!(
        Symbolic::new(2, &[(0, 2)]),
        Err(PatternError::IndexOutOfRange { index: 2, n: 2 })
    ));
}

#[test]
fn refactorize_reuses_buffers() {
    let mut rng = Rng::new(9);
    let mut sys = System::random_weights(2500, grid(50, 50), &mut rng, false);
    ground_components(&mut sys);
    let sym = Arc::new(Symbolic::new(sys.n, &sys.links).unwrap());
    let slots = sym.offdiag_slots(&sys.links).unwrap();
    let mut f = Factor::new(Arc::clone(&sym));
    let ptrs = |f: &Factor| {
        (
            f.lx.as_ptr(),
            f.d.as_ptr(),
            f.work.as_ptr(),
            f.lx.capacity(),
            f.work.capacity(),
        )
    };
    let before = ptrs(&f);
    for round in 0..3 {
        for w in sys.w.iter_mut() {
            *w *= 1.0 + 0.5 * rng.unit();
        }
        sys.assemble(&mut f, &slots);
        f.factorize().unwrap();
        let b: Vec<f64> = (0..sys.n).map(|_| rng.unit()).collect();
        let mut x = b.clone();
        f.solve(&mut x);
        let r: Vec<f64> = sys.matvec(&x).iter().zip(&b).map(|(a, b)| a - b).collect();
        assert!(norm(&r) < 1e-10 * norm(&b), "round {round}");
        assert_eq!(ptrs(&f), before);
    }
    assert!(Arc::ptr_eq(f.symbolic(), &sym));
}

#[test]
fn clones_share_symbolic_and_are_independent() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Factor>();
    assert_send_sync::<Symbolic>();

    let mut rng = Rng::new(10);
    let mut sys = System::random_weights(400, grid(20, 20), &mut rng, true);
    let sym = Arc::new(Symbolic::new(sys.n, &sys.links).unwrap());
    let slots = sym.offdiag_slots(&sys.links).unwrap();
    let mut f = Factor::new(sym);
    sys.assemble(&mut f, &slots);
    f.factorize().unwrap();
    let mut g = f.clone();
    assert!(Arc::ptr_eq(f.symbolic(), g.symbolic()));
    // Change the clone's system; the original's factor must be unaffected.
    sys.g[0] += 100.0;
    sys.assemble(&mut g, &slots);
    g.factorize().unwrap();
    let b = vec![1.0; sys.n];
    let (mut x1, mut x2) = (b.clone(), b.clone());
    f.solve(&mut x1);
    g.solve(&mut x2);
    assert_ne!(x1, x2);
    let r = sys.matvec(&x2);
    assert!(r.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-10));
    // Shared immutable use with a caller workspace.
    let mut work = vec![0.0; sys.n];
    let mut x3 = b.clone();
    g.solve_with_workspace(&mut x3, &mut work);
    assert_eq!(x2, x3);
}

#[test]
fn non_positive_pivot_reports_original_unknown() {
    // Component {3, 4, 5} is floating (singular Laplacian); node 7 has a zero diagonal.
    let links = vec![(0, 1), (1, 2), (3, 4), (4, 5), (5, 3)];
    let mut rng = Rng::new(11);
    let mut sys = System::random_weights(8, links, &mut rng, false);
    sys.g = vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    // Unit weights: the triangle's last pivot is exactly 2 - 0.5 - 1.5 = 0.
    sys.w = vec![1.0; 5];
    let sym = Arc::new(Symbolic::new(sys.n, &sys.links).unwrap());
    let slots = sym.offdiag_slots(&sys.links).unwrap();
    let mut f = Factor::new(Arc::clone(&sym));
    sys.assemble(&mut f, &slots);
    let err = f.factorize().unwrap_err();
    assert!(!f.is_factorized());
    // The failing column is the first bad pivot in elimination order: either
    // node 7 (isolated, zero) or the last-eliminated node of {3, 4, 5}.
    let pos = |v: usize| sym.iperm()[v];
    let last_of_floating = [3, 4, 5].into_iter().max_by_key(|&v| pos(v)).unwrap();
    let expected = if pos(7) < pos(last_of_floating) {
        7
    } else {
        last_of_floating
    };
    assert_eq!(err, NotPositiveDefinite { column: expected });
    assert!(err.to_string().contains(&expected.to_string()));

    // Grounding both makes it factorize again with the same buffers.
    sys.g[3] = 1.0;
    sys.g[7] = 1.0;
    sys.assemble(&mut f, &slots);
    f.factorize().unwrap();
}

#[test]
fn minimum_degree_beats_natural_on_random_planar() {
    let mut rng = Rng::new(12);
    let n = 3000;
    let mut links = random_tree(n, &mut rng);
    links.extend(random_graph(n, 200, &mut rng));
    let md = Symbolic::new(n, &links).unwrap();
    let nat = Symbolic::with_ordering(n, &links, &Ordering::natural(n)).unwrap();
    assert!(md.nnz_l() <= nat.nnz_l());
}

/// The flat elimination must give exactly the ordering and pattern of the
/// straightforward reference (same pivots, same ties, same tree).
#[test]
fn flat_elimination_matches_reference() {
    let mut rng = Rng::new(7);
    let mut cases: Vec<(usize, Vec<(usize, usize)>)> = vec![
        (0, vec![]),
        (1, vec![]),
        (2, vec![(0, 1)]),
        (400, grid(20, 20)),
        (35 * 17, grid(35, 17)),
    ];
    for n in [10, 50, 300, 2000] {
        cases.push((n, random_tree(n, &mut rng)));
        for extra in [n / 10, n / 3, n, 3 * n] {
            let mut links = random_tree(n, &mut rng);
            links.extend(random_graph(n, extra, &mut rng));
            cases.push((n, links));
        }
        // Disconnected, with isolated unknowns and repeated couplings.
        let mut links = random_graph(n, n / 2, &mut rng);
        links.extend(links.clone());
        cases.push((n, links));
    }
    for (n, links) in cases {
        let fast = Symbolic::new(n, &links).unwrap();
        let reference = Symbolic::new_reference(n, &links).unwrap();
        assert_eq!(fast, reference, "n = {n}, {} couplings", links.len());
    }
}

/// The right-looking factorization gives the left-looking one's values bit
/// for bit (same products, same order of subtraction), through both
/// symbolic paths.
#[test]
fn right_looking_equals_left_looking_bitwise() {
    let mut rng = Rng::new(11);
    let mut cases = vec![(400, grid(20, 20))];
    for n in [30, 300, 3000] {
        let mut links = random_tree(n, &mut rng);
        links.extend(random_graph(n, n / 3, &mut rng));
        cases.push((n, links));
    }
    for (n, links) in cases {
        let sys = System::random_weights(n, links, &mut rng, true);
        let mut syms = vec![Symbolic::new(sys.n, &sys.links).unwrap()];
        if n <= 400 {
            // The natural order has a lot of fill: only on small systems.
            syms.push(
                Symbolic::with_ordering(sys.n, &sys.links, &Ordering::natural(sys.n)).unwrap(),
            );
        }
        for sym in syms {
            let sym = Arc::new(sym);
            let slots = sym.offdiag_slots(&sys.links).unwrap();
            let mut right = Factor::new(Arc::clone(&sym));
            let mut left = Factor::new(Arc::clone(&sym));
            sys.assemble(&mut right, &slots);
            sys.assemble(&mut left, &slots);
            right.factorize().unwrap();
            left.factorize_left_looking().unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(right.d()), bits(left.d()));
            assert_eq!(bits(right.ld_values()), bits(left.ld_values()));
        }
    }
}

/// `factorize_solve` (forward sweep fused into the factorization) gives the
/// bits of `factorize` then `solve`.
#[test]
fn fused_factorize_solve_equals_separate_calls() {
    let mut rng = Rng::new(12);
    for n in [1, 40, 500, 3000] {
        let mut links = random_tree(n, &mut rng);
        links.extend(random_graph(n, n / 4, &mut rng));
        links.retain(|&(i, j)| i != j);
        let mut sys = System::random_weights(n, links, &mut rng, false);
        ground_components(&mut sys);
        let sym = Arc::new(Symbolic::new(sys.n, &sys.links).unwrap());
        let slots = sym.offdiag_slots(&sys.links).unwrap();
        let b: Vec<f64> = (0..n).map(|_| rng.unit() - 0.5).collect();
        let mut a = Factor::new(Arc::clone(&sym));
        sys.assemble(&mut a, &slots);
        a.factorize().unwrap();
        let mut xa = b.clone();
        a.solve(&mut xa);
        let mut f = Factor::new(Arc::clone(&sym));
        sys.assemble(&mut f, &slots);
        let mut xf = b.clone();
        f.factorize_solve(&mut xf).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&xa), bits(&xf), "n = {n}");
        assert_eq!(bits(a.ld_values()), bits(f.ld_values()));
        // The fused factor also solves other right-hand sides.
        let mut x2 = b.clone();
        f.solve(&mut x2);
        assert_eq!(bits(&xa), bits(&x2));
    }
}
