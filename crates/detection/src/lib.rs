//! Leak detection and localization: residuals between measured and
//! simulated values, alarms, candidate-leak localization. The method alone:
//! the BattLeDIM 2020 scenario layout, official scorer and L-Town sensor set
//! live in the `battledim` crate, distances along the network in `network`.
//!
//! The maths here does no I/O and no async; callers hand over parsed data.
//!
//! ```
//! // A leak signature fit: the observed residual change is 2× the first
//! // candidate's signature, and the second candidate does not fit at all.
//! let a = [1.0, 0.5, 0.0];
//! let b = [0.0, -1.0, 1.0];
//! let y = [2.0, 1.0, 0.0];
//! let (coef, misfit) = detection::signature::fit(&[&a, &b], &y);
//! assert!((coef[0] - 2.0).abs() < 1e-6 && coef[1] < 1e-6 && misfit < 1e-9);
//! ```

pub mod detect;
pub mod netedit;
pub mod sensors;
pub mod signature;
pub mod time;
