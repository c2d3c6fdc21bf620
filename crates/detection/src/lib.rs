//! Leak detection and localization: residuals between measured and
//! simulated values, alarms, candidate-leak localization, scenario
//! generation and the official BattLeDIM 2020 scoring.
//!
//! The maths here does no I/O and no async; callers hand over parsed data.

pub mod detect;
pub mod netedit;
pub mod rng;
pub mod scenario;
pub mod scoring;
pub mod sensors;
pub mod signature;
