//! Many scenarios in parallel: each starts from a clone of a prepared
//! simulation (sharing its ordering and symbolic factorization, and its
//! current flows as a warm start) and is run by a closure on rayon's pool.
//! The clones also share one table of junction demands per pattern period
//! ([`Simulation::share_demands`]), so each period's demands are computed
//! once for the whole batch; results are bit-identical to separate runs.
//! Start from an unsolved base (as `Simulation::new` gives it) to get
//! EPANET's results; a base solved first and rewound (a warm start) takes
//! fewer iterations but lands up to EPANET's ACCURACY away from them
//! (`tests/batch_conformance.rs` checks both).
//!
//! For throughput, [`crate::lanes::run_batch_lanes`] runs the same kind of
//! batch with eight scenarios per thread sharing each trial's SIMD assembly
//! and factorization (the same bits, about 1.7× faster on L-TOWN); this
//! closure form stays for scenarios that want to drive their simulation
//! themselves.

use crate::simulation::Simulation;
use rayon::prelude::*;

/// Runs `f` on a clone of `base` for every scenario, in parallel, keeping order.
pub fn run_batch<S, R, F>(base: &Simulation, scenarios: &[S], f: F) -> Vec<R>
where
    S: Sync,
    R: Send,
    F: Fn(Simulation, &S) -> R + Sync,
{
    // Scenarios meet the same pattern periods: their demands are computed
    // once per period and shared (see Simulation::share_demands).
    let mut base = base.clone();
    base.share_demands();
    let base = &base;
    scenarios.par_iter().map(|sc| f(base.clone(), sc)).collect()
}
