//! Hydraulic solver (Global Gradient Algorithm, as EPANET 2.3). No I/O, no async.

pub mod sparse;
