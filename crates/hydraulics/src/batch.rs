//! Many scenarios in parallel: each starts from a clone of a prepared
//! simulation (sharing its ordering and symbolic factorization, and its
//! current flows as a warm start) and is run by a closure on rayon's pool.

use crate::simulation::Simulation;
use rayon::prelude::*;

/// Runs `f` on a clone of `base` for every scenario, in parallel, keeping order.
pub fn run_batch<S, R, F>(base: &Simulation, scenarios: &[S], f: F) -> Vec<R>
where
    S: Sync,
    R: Send,
    F: Fn(Simulation, &S) -> R + Sync,
{
    scenarios.par_iter().map(|sc| f(base.clone(), sc)).collect()
}
