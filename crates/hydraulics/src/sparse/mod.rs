//! Sparse symmetric positive-definite solver specialised for the GGA Jacobian.
//!
//! The GGA head equations of a pipe network give a matrix `A` whose unknowns
//! are junction heads: a diagonal entry per junction and an off-diagonal
//! coupling per link joining two junctions (links that touch a fixed-head
//! node only change diagonals and the right-hand side). The pattern depends
//! only on topology, so the work is split into three phases:
//!
//! 1. [`Ordering`]: a fill-reducing permutation (exact minimum degree on a
//!    quotient graph with element absorption), computed once per topology.
//! 2. [`Symbolic`]: elimination tree, the CSC pattern of the strictly lower
//!    factor `L`, the row patterns used by the numeric kernel and the *slot*
//!    maps that let a caller assemble straight into factor storage.
//!    Computed once per topology and shared through an [`Arc`](std::sync::Arc).
//! 3. [`Factor`]: value arrays sized once; assemble with
//!    [`Factor::add_diag`] / [`Factor::add_offdiag_slot`], then
//!    [`Factor::factorize`] (left-looking simplicial `LDLᵀ`, in place, no
//!    allocation) and [`Factor::solve`] (original numbering).
//!
//! ```
//! use std::sync::Arc;
//! use hydraulics::sparse::{Symbolic, Factor};
//! // 0 -- 1 -- 2, node 0 also tied to a reservoir.
//! let links = [(0, 1), (1, 2)];
//! let sym = Arc::new(Symbolic::new(3, &links).unwrap());
//! let slots = sym.offdiag_slots(&links).unwrap();
//! let mut f = Factor::new(sym);
//! f.clear();
//! for (k, &(i, j)) in links.iter().enumerate() {
//!     let p = 1.0; // link conductance
//!     f.add_diag(i, p);
//!     f.add_diag(j, p);
//!     f.add_offdiag_slot(slots[k], -p);
//! }
//! f.add_diag(0, 1.0); // link to the reservoir
//! f.factorize().unwrap();
//! let mut x = [1.0, 0.0, 0.0];
//! f.solve(&mut x);
//! assert!((x[0] - 1.0).abs() < 1e-12 && (x[2] - 1.0).abs() < 1e-12);
//! ```
//!
//! Indices are stored as `u32` (halving index bandwidth); a pattern with more
//! than `u32::MAX - 1` unknowns or factor entries is rejected.

mod factor;
mod graph;
mod ordering;
mod symbolic;

#[cfg(test)]
mod tests;

pub use factor::Factor;
pub use ordering::Ordering;
pub use symbolic::Symbolic;

use std::fmt;

/// Index into the value arrays of a [`Factor`]: either the diagonal array
/// ([`Symbolic::diag_slot`]) or the strictly-lower factor array
/// ([`Symbolic::offdiag_slot`]).
pub type Slot = u32;

/// Marker for "no node" in `u32` index arrays (e.g. a root of the elimination tree).
pub const NONE: u32 = u32::MAX;

/// Factorization met a pivot that is not strictly positive (or is NaN).
///
/// Mirrors EPANET's `linsolve`, which returns the index of the ill-conditioned
/// node so the caller can report it (or try to fix a valve): `column` is the
/// unknown in the caller's **original** numbering. After this error the
/// value arrays hold partial results: `clear()` and re-assemble before the
/// next `factorize()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPositiveDefinite {
    /// Unknown (original numbering) whose pivot was `<= 0` or NaN.
    pub column: usize,
}

impl fmt::Display for NotPositiveDefinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "matrix not positive definite: non-positive pivot at unknown {}",
            self.column
        )
    }
}

impl std::error::Error for NotPositiveDefinite {}

/// Invalid input to the ordering or symbolic phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// A coupling refers to an unknown `>= n`.
    IndexOutOfRange { index: usize, n: usize },
    /// The problem is too large for `u32` indices.
    TooLarge,
    /// A permutation given by the caller is not a permutation of `0..n`.
    NotAPermutation,
    /// `offdiag_slots`: the pair is not in the pattern of `L` (or `i == j`).
    NotInPattern { i: usize, j: usize },
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::IndexOutOfRange { index, n } => {
                write!(
                    f,
                    "coupling refers to unknown {index}, but there are only {n}"
                )
            }
            PatternError::TooLarge => write!(f, "sparse pattern too large for 32-bit indices"),
            PatternError::NotAPermutation => write!(f, "ordering is not a permutation"),
            PatternError::NotInPattern { i, j } => {
                write!(
                    f,
                    "pair ({i}, {j}) is not an off-diagonal entry of the factor pattern"
                )
            }
        }
    }
}

impl std::error::Error for PatternError {}
