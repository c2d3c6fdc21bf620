//! The network model of aquatwin: junctions, reservoirs, tanks, pipes,
//! pumps, valves, patterns, curves, controls and rules, in SI units; the
//! EPANET `.inp` reader and writer; a petgraph view of the topology.
//!
//! Everything else in aquatwin builds on this crate. It must not do I/O
//! (callers read and write files and hand over bytes or text), must not
//! simulate (that is `hydraulics`), and must never panic on bad input: a
//! malformed file yields located [`inp::InpError`]s.
//!
//! ```
//! let text = "[JUNCTIONS]\nJ1 10 5\n[RESERVOIRS]\nR1 50\n[PIPES]\nP1 R1 J1 100 150 100\n[OPTIONS]\nUNITS LPS\n";
//! let net = network::inp::parse_inp(text, "tiny.inp").unwrap();
//! assert_eq!(net.nodes.len(), 2);
//! let j1 = net.node_index("J1").unwrap();
//! // SI inside: 5 L/s of base demand is 0.005 m³/s.
//! assert!((net.nodes[j1].junction().unwrap().demands[0].base - 0.005).abs() < 1e-12);
//! // A malformed line is an error with its place, never a panic.
//! let err = network::inp::parse_inp("[JUNCTIONS]\nJ1 ten\n", "bad.inp").unwrap_err();
//! assert!(err.to_string().starts_with("bad.inp:2: [JUNCTIONS]"));
//! ```

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
