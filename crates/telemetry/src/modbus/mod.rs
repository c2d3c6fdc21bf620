//! Reading sensors from Modbus TCP devices.
//!
//! [`plan`] turns a device's sensors into as few read requests as possible
//! (contiguous registers of one table merged, ≤ 125 registers each);
//! [`poller`] runs one task per device that polls at the device's interval.
//!
//! aquatwin only ever reads: every request it can send is a [`ReadKind`],
//! whose function codes are 1–4. The crate's client code never names
//! tokio-modbus's `Writer` trait; the test `read_only` checks both that and,
//! against a real pymodbus server, every function code that arrives.

pub mod plan;
pub mod poller;

pub use plan::{plan_device, ReadKind, ReadRequest};
pub use poller::{poll_device, PollStats};
