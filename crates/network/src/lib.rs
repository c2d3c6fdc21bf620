//! The network model of aquatwin: junctions, reservoirs, tanks, pipes,
//! pumps, valves, patterns, curves, controls and rules, in SI units; the
//! EPANET `.inp` reader and writer; a petgraph view of the topology.
//!
//! Everything else in aquatwin builds on this crate. It must not do I/O
//! (callers read and write files and hand over bytes or text), must not
//! simulate (that is `hydraulics`), and must never panic on bad input: a
//! malformed file yields located [`inp::InpError`]s.

pub mod control;
pub mod graph;
pub mod hash;
pub mod inp;
pub mod link;
pub mod network;
pub mod node;
pub mod options;
pub mod pattern;
pub mod units;

pub use control::*;
pub use link::*;
pub use network::{Counts, Label, Network};
pub use node::*;
pub use options::*;
pub use pattern::*;
pub use units::{FlowUnits, PressureUnits, Quantity, UnitSystem, Units};
