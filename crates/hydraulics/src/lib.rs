//! Hydraulic solver of aquatwin: the Global Gradient Algorithm (Todini &
//! Pilati) exactly as EPANET 2.3 applies it — same initial flows, status
//! logic, convergence tests, controls, rules and time stepping — so that
//! results agree with EPANET to its own precision, with a faster linear
//! algebra core ([`sparse`]) and a data layout built for speed.
//!
//! The crate works internally in EPANET's units (ft, cfs) because EPANET's
//! rounded unit factors are part of its arithmetic; [`units`] converts at
//! the boundary, and everything the API returns is SI.
//!
//! It must not do I/O or async work, and must never panic on a model that
//! parsed: a singular system or an unbalanced step is a reported warning
//! or error, as in EPANET.

pub mod batch;
mod coeffs;
mod controls;
pub mod lanes;
pub mod prepared;
pub mod simulation;
mod solver;
pub mod sparse;
mod status;
pub mod units;

pub use prepared::{PrepareError, Prepared};
pub use simulation::{LinkState, SimError, Simulation, StepReport, Warning};
