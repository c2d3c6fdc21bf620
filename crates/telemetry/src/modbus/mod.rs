//! Reading sensors from Modbus TCP devices.
//!
//! [`plan`] turns a device's sensors into as few read requests as possible
//! (contiguous registers of one table merged, ≤ 125 registers each);
//! [`poller`] runs one task per device that polls at the device's interval.
//!
//! aquatwin only ever reads: every request it can send is a [`ReadKind`],
//! whose function codes are 1–4. The crate's client code never names
//! tokio-modbus's writing trait (test `poller_source_has_no_write_calls`), and the test
//! `pymodbus_registers_qualities_and_read_only` checks every function code a real
//! pymodbus server receives.

pub mod plan;
pub mod poller;

pub use plan::{plan_device, ReadKind, ReadRequest};
pub use poller::{poll_device, PollStats};
