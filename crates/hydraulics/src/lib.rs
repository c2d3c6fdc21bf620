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
//!
//! ```
//! let text = "[JUNCTIONS]\nJ1 10 5\n[RESERVOIRS]\nR1 50\n[PIPES]\nP1 R1 J1 100 150 100\n[OPTIONS]\nUNITS LPS\n";
//! let net = network::inp::parse_inp(text, "tiny.inp").unwrap();
//! let mut sim = hydraulics::Simulation::from_network(net).unwrap();
//! let step = sim.run().unwrap(); // one hydraulic time step (EPANET's ENrunH)
//! assert_eq!(step.time_s, 0);
//! // 5 L/s flows from the reservoir to J1, which sits below the 50 m head.
//! assert!((sim.flow_lps(0) - 5.0).abs() < 1e-6);
//! assert!(sim.head_m(0) < 50.0 && sim.pressure_m(0) > 30.0);
//! assert_eq!(sim.next(), 0); // no duration: the run is over
//! ```

pub mod batch;
mod coeffs;
mod controls;
pub mod lanes;
pub mod prepared;
pub mod sensor;
pub mod simulation;
mod solver;
pub mod sparse;
mod status;
pub mod units;

pub use prepared::{PrepareError, Prepared};
pub use sensor::SensorKind;
pub use simulation::{LinkState, SimError, Simulation, StepReport, Warning};
