//! Numeric `LDLᵀ` factorization with assembly straight into factor storage.

use std::sync::Arc;

use super::symbolic::Symbolic;
use super::{NotPositiveDefinite, Slot};

/// Numeric factor `P A Pᵀ = L D Lᵀ` over a shared [`Symbolic`] (stored as
/// `D`, `1/D` and `W = L·D`).
///
/// The matrix is assembled directly into the factor's value arrays: the
/// diagonal of `A` into `d` (slot [`Symbolic::diag_slot`]) and the strictly
/// lower entries into `lx` (slot [`Symbolic::offdiag_slot`]); fill positions
/// stay zero. [`factorize`](Self::factorize) then overwrites them with `D`
/// and `L·D`. Every buffer is sized in [`new`](Self::new) and never resized, so
/// assembling, factorizing and solving allocate nothing.
///
/// `Clone` copies the value arrays (`O(n + nnz(L))`) and shares the symbolic
/// part, which is what batch scenarios need. The type is `Send + Sync`.
///
/// Cycle: `clear()` → `add_*` → `factorize()` → `solve()` (any number of
/// times) → `clear()` … After `factorize()` the arrays hold the factor, so
/// adding to them without `clear()` is meaningless.
#[derive(Debug, Clone)]
pub struct Factor {
    sym: Arc<Symbolic>,
    /// Strictly lower values, CSC order of `sym`: `A` after assembly, `L·D` after factorization.
    pub(super) lx: Vec<f64>,
    /// Diagonal, permuted numbering (holds `D` after factorization).
    pub(super) d: Vec<f64>,
    /// `1 / D` after factorization (the solve multiplies instead of dividing).
    dinv: Vec<f64>,
    /// Dense workspace of length `n` (factorization scatter, solve permutation).
    pub(super) work: Vec<f64>,
    factored: bool,
}

impl Factor {
    /// Allocates the value arrays (zeroed) for the pattern of `sym`.
    pub fn new(sym: Arc<Symbolic>) -> Self {
        let n = sym.n();
        let nnz = sym.nnz_l();
        Factor {
            lx: vec![0.0; nnz],
            d: vec![0.0; n],
            dinv: vec![0.0; n],
            work: vec![0.0; n],
            factored: false,
            sym,
        }
    }

    /// The shared symbolic part.
    pub fn symbolic(&self) -> &Arc<Symbolic> {
        &self.sym
    }

    /// Number of unknowns.
    pub fn n(&self) -> usize {
        self.d.len()
    }

    /// Zeroes all values (including fill) before a new assembly.
    pub fn clear(&mut self) {
        self.lx.fill(0.0);
        self.d.fill(0.0);
        self.factored = false;
    }

    /// `A(i, i) += v`, `i` in original numbering.
    #[inline]
    pub fn add_diag(&mut self, i: usize, v: f64) {
        let s = self.sym.diag_slot(i) as usize;
        self.d[s] += v;
    }

    /// `A(i, i) += v` through a precomputed [`Symbolic::diag_slot`].
    #[inline]
    pub fn add_diag_slot(&mut self, slot: Slot, v: f64) {
        self.d[slot as usize] += v;
    }

    /// `A(i, j) += v` (and `A(j, i)`) through a precomputed
    /// [`Symbolic::offdiag_slot`].
    #[inline]
    pub fn add_offdiag_slot(&mut self, slot: Slot, v: f64) {
        self.lx[slot as usize] += v;
    }

    /// `A(i, j) += v` looked up by a binary search (slow path; prefer slots).
    ///
    /// # Panics
    /// If `(i, j)` is not in the factor pattern.
    pub fn add_offdiag(&mut self, i: usize, j: usize, v: f64) {
        let s = self
            .sym
            .offdiag_slot(i, j)
            .unwrap_or_else(|| panic!("({i}, {j}) is not in the sparse pattern"));
        self.lx[s as usize] += v;
    }

    /// Raw value arrays `(diagonal, strictly lower)` indexed by slots, for
    /// assembly loops that want no per-call overhead.
    #[inline]
    pub fn values_mut(&mut self) -> (&mut [f64], &mut [f64]) {
        self.factored = false;
        (&mut self.d, &mut self.lx)
    }

    /// After [`factorize`](Self::factorize): `D` in permuted numbering.
    pub fn d(&self) -> &[f64] {
        &self.d
    }

    /// After [`factorize`](Self::factorize): `W = L·D` (strictly lower, CSC
    /// of [`Symbolic::col_ptr`] / [`Symbolic::row_idx`]), i.e. entry `(i, j)`
    /// is `L(i, j) · D(j)`.
    pub fn ld_values(&self) -> &[f64] {
        &self.lx
    }

    /// Whether the arrays currently hold a successful factorization.
    pub fn is_factorized(&self) -> bool {
        self.factored
    }

    /// In-place right-looking `LDLᵀ`: when column `j` is reached its values
    /// are final (`D(j)` in `d`, `W(:, j) = L(:, j) D(j)` in the strictly
    /// lower array); it then subtracts its outer product from the later
    /// columns through the precomputed [`Symbolic::update_targets`].
    ///
    /// The off-diagonal array stores `W = L·D` (entries not yet divided by
    /// their pivot) and `1/D` is kept beside `D`: that removes the division
    /// from the dependency chain between a column and its parent in the
    /// elimination tree, which is what bounds the speed on the long, thin
    /// trees of water networks. The solve uses `W` without extra work.
    ///
    /// Every entry receives the same products, subtracted in the same order
    /// (increasing `j`), as in the left-looking form
    /// ([`factorize_left_looking`](Self::factorize_left_looking)): the results
    /// are identical bit for bit; only the scatter/gather passes and the row
    /// patterns are gone, which pays on factors with 1–3 entries per column.
    ///
    /// Returns the unknown (original numbering) of the first pivot `<= 0`
    /// (or NaN), as EPANET's `linsolve` does.
    pub fn factorize(&mut self) -> Result<(), NotPositiveDefinite> {
        self.factorize_impl::<false>()
    }

    /// [`factorize`](Self::factorize) and [`solve`](Self::solve) in one: the
    /// forward substitution runs inside the factorization (column `j` is
    /// final when it is reached, and so is `z(j)`), which saves a sweep over
    /// `L`. Same operations in the same order as the two calls, so the same
    /// bits. On error `rhs` is left unspecified.
    pub fn factorize_solve(&mut self, rhs: &mut [f64]) -> Result<(), NotPositiveDefinite> {
        let n = self.n();
        assert_eq!(rhs.len(), n, "rhs length must equal the number of unknowns");
        {
            let perm = self.sym.perm();
            for (yk, &p) in self.work.iter_mut().zip(perm) {
                *yk = rhs[p as usize];
            }
        }
        self.factorize_impl::<true>()?;
        let mut y = std::mem::take(&mut self.work);
        self.backward(&mut y);
        for (&yk, &p) in y.iter().zip(self.sym.perm()) {
            rhs[p as usize] = yk;
        }
        self.work = y;
        Ok(())
    }

    /// The right-looking factorization; with `FORWARD`, also the forward
    /// substitution `L z = P b`, `w = D⁻¹ z` on `self.work` (which holds `P b`).
    fn factorize_impl<const FORWARD: bool>(&mut self) -> Result<(), NotPositiveDefinite> {
        self.factored = false;
        let s = &*self.sym;
        let n = s.n();
        let cp = s.col_ptr();
        let ri = s.row_idx();
        let tg = s.update_targets();
        let wx = &mut self.lx[..];
        let d = &mut self.d[..];
        let dinv = &mut self.dinv[..];
        let y = &mut self.work[..];
        assert!(cp.len() == n + 1 && d.len() == n && dinv.len() == n && y.len() == n);
        assert!(wx.len() == ri.len() && cp[n] as usize == ri.len());
        let mut t = 0usize;
        for j in 0..n {
            let dj = d[j];
            // Negated test on purpose: a NaN pivot is rejected too.
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            if !(dj > 0.0) {
                return Err(NotPositiveDefinite {
                    column: s.perm()[j] as usize,
                });
            }
            let dij = 1.0 / dj;
            dinv[j] = dij;
            let (cs, ce) = (cp[j] as usize, cp[j + 1] as usize);
            if FORWARD {
                let wj = y[j] * dij;
                y[j] = wj;
                for a in cs..ce {
                    // SAFETY: as below (rows < n == y.len()).
                    unsafe {
                        let r = *ri.get_unchecked(a) as usize;
                        debug_assert!(r < n);
                        *y.get_unchecked_mut(r) -= *wx.get_unchecked(a) * wj;
                    }
                }
            }
            for a in cs..ce {
                // SAFETY: `Symbolic` guarantees `col_ptr` ascending up to
                // `row_idx.len() == wx.len()` (asserted above), rows `< n`,
                // and `c (c − 1) / 2` targets per column of `c` entries, each
                // `< row_idx.len()`; `t` walks them in step with (a, b).
                unsafe {
                    let wa = *wx.get_unchecked(a);
                    let la = wa * dij; // L(row a, j)
                    let ra = *ri.get_unchecked(a) as usize;
                    debug_assert!(ra < n);
                    *d.get_unchecked_mut(ra) -= la * wa;
                    for b in a + 1..ce {
                        let p = *tg.get_unchecked(t) as usize;
                        debug_assert!(p < wx.len() && t < tg.len());
                        let wb = *wx.get_unchecked(b);
                        *wx.get_unchecked_mut(p) -= wb * la;
                        t += 1;
                    }
                }
            }
        }
        debug_assert_eq!(t, tg.len());
        self.factored = true;
        Ok(())
    }

    /// In-place left-looking `LDLᵀ`. Column `k` is formed by scattering its
    /// assembled entries into the dense workspace, subtracting
    /// `L(k:n, j) D(j) L(k,j)` for every `j` in the precomputed row pattern
    /// of `k`, and gathering back.
    ///
    /// The off-diagonal array stores `W = L·D` (entries not yet divided by
    /// their pivot) and `1/D` is kept beside `D`: that removes the division
    /// from the dependency chain between a column and its parent in the
    /// elimination tree, which is what bounds the speed on the long, thin
    /// trees of water networks. The solve uses `W` without extra work.
    ///
    /// Returns the unknown (original numbering) of the first pivot `<= 0`
    /// (or NaN), as EPANET's `linsolve` does.
    #[doc(hidden)]
    pub fn factorize_left_looking(&mut self) -> Result<(), NotPositiveDefinite> {
        self.factored = false;
        let s = &*self.sym;
        let n = s.n();
        let cp = s.col_ptr();
        let ri = s.row_idx();
        let rp = s.row_ptr();
        let re = s.row_entries();
        let wx = &mut self.lx[..];
        let d = &mut self.d[..];
        let dinv = &mut self.dinv[..];
        let x = &mut self.work[..];
        for k in 0..n {
            let cs = cp[k] as usize;
            let ce = cp[k + 1] as usize;
            // Scatter A(k+1:n, k) (fill positions are zero).
            for (&r, &v) in ri[cs..ce].iter().zip(&wx[cs..ce]) {
                x[r as usize] = v;
            }
            let mut dk = d[k];
            for e in &re[rp[k] as usize..rp[k + 1] as usize] {
                let j = e.col as usize;
                let pos = e.pos as usize;
                let end = cp[j + 1] as usize;
                let wkj = wx[pos]; // L(k,j) D(j)
                let lkj = wkj * dinv[j]; // L(k,j)
                dk -= lkj * wkj;
                // Rows of column j below k are a subset of column k's pattern.
                for (&r, &w) in ri[pos + 1..end].iter().zip(&wx[pos + 1..end]) {
                    x[r as usize] -= w * lkj;
                }
            }
            // Negated test on purpose: a NaN pivot is rejected too.
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            if !(dk > 0.0) {
                return Err(NotPositiveDefinite {
                    column: s.perm()[k] as usize,
                });
            }
            d[k] = dk;
            dinv[k] = 1.0 / dk;
            for (&r, w) in ri[cs..ce].iter().zip(&mut wx[cs..ce]) {
                *w = x[r as usize];
            }
        }
        self.factored = true;
        Ok(())
    }

    /// Solves `A x = b` in place (`rhs` = `b` on entry, `x` on exit), in the
    /// caller's original numbering, using the internal workspace.
    ///
    /// # Panics
    /// If `rhs.len() != n` or the factor is not factorized.
    pub fn solve(&mut self, rhs: &mut [f64]) {
        let mut work = std::mem::take(&mut self.work);
        self.solve_with_workspace(rhs, &mut work);
        self.work = work;
    }

    /// As [`solve`](Self::solve) but with a caller workspace (length `n`), so
    /// one factor can be shared immutably by several threads.
    pub fn solve_with_workspace(&self, rhs: &mut [f64], work: &mut [f64]) {
        let s = &*self.sym;
        let n = s.n();
        assert!(
            self.factored,
            "solve() called without a successful factorize()"
        );
        assert_eq!(rhs.len(), n, "rhs length must equal the number of unknowns");
        assert_eq!(
            work.len(),
            n,
            "workspace length must equal the number of unknowns"
        );
        let perm = s.perm();
        let cp = s.col_ptr();
        let ri = s.row_idx();
        let wx = &self.lx[..];
        let dinv = &self.dinv[..];
        let y = work;
        assert!(cp.len() == n + 1 && perm.len() == n && dinv.len() == n);
        assert!(wx.len() == ri.len() && cp[n] as usize == ri.len());
        for (yk, &p) in y.iter_mut().zip(perm) {
            *yk = rhs[p as usize];
        }
        // SAFETY (both sweeps): `col_ptr` is ascending up to
        // `row_idx.len() == wx.len()` and every row index is `< n == y.len()`
        // (guaranteed by `Symbolic`, lengths asserted above).
        // Forward: L z = P b, then w = D⁻¹ z, column oriented. With W = L·D:
        // y(r) -= L(r,j) z(j) = W(r,j) w(j).
        for j in 0..n {
            let wj = y[j] * dinv[j];
            y[j] = wj;
            let (cs, ce) = (cp[j] as usize, cp[j + 1] as usize);
            for a in cs..ce {
                unsafe {
                    let r = *ri.get_unchecked(a) as usize;
                    debug_assert!(r < n);
                    *y.get_unchecked_mut(r) -= *wx.get_unchecked(a) * wj;
                }
            }
        }
        self.backward(y);
        for (&yk, &p) in y.iter().zip(perm) {
            rhs[p as usize] = yk;
        }
    }

    /// Backward substitution `Lᵀ v = w` in place (permuted numbering).
    fn backward(&self, y: &mut [f64]) {
        let s = &*self.sym;
        let n = s.n();
        let cp = s.col_ptr();
        let ri = s.row_idx();
        let wx = &self.lx[..];
        let dinv = &self.dinv[..];
        assert!(cp.len() == n + 1 && dinv.len() == n && y.len() == n);
        assert!(wx.len() == ri.len() && cp[n] as usize == ri.len());
        // v(j) = w(j) - D⁻¹(j) Σ_r W(r,j) v(r).
        for j in (0..n).rev() {
            let (cs, ce) = (cp[j] as usize, cp[j + 1] as usize);
            let mut acc = 0.0;
            for a in cs..ce {
                // SAFETY: `col_ptr` ascending up to `row_idx.len() ==
                // wx.len()` and rows `< n == y.len()` (asserted above).
                unsafe {
                    let r = *ri.get_unchecked(a) as usize;
                    debug_assert!(r < n);
                    acc += *wx.get_unchecked(a) * *y.get_unchecked(r);
                }
            }
            y[j] -= acc * dinv[j];
        }
    }
}
