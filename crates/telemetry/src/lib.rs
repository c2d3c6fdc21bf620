//! Telemetry for the aquatwin digital twin: how a utility describes its
//! sensors ([`sensor_map`]), reading them from field devices over Modbus TCP
//! ([`modbus`]) or from SCADA exports ([`scada`]), grading every reading
//! ([`quality`]), and keeping every sample in a time-series store that loses
//! nothing when the store is down ([`store`]). [`resample`] brings series to
//! the model's hydraulic step; [`field_sim`] serves a simulated field over
//! Modbus TCP for demos and tests. Timestamps are UTC epoch milliseconds
//! everywhere; [`time`] reads wall-clock exports in the sensor map's zone
//! (tz database embedded).
//!
//! ```
//! use telemetry::units::Unit;
//! // Every reading is converted by its sensor's declared unit; SI inside.
//! let m3h = Unit::parse("m3/h").unwrap();
//! assert!((m3h.to_si(36.0) - 0.01).abs() < 1e-15); // m³/s
//! // Unknown units are refused, not guessed.
//! assert!(Unit::parse("furlongs").is_none());
//! ```

pub mod config;
pub mod field_sim;
pub mod ingest;
pub mod logging;
pub mod modbus;
pub mod quality;
pub mod resample;
pub mod scada;
pub mod sensor_map;
pub mod store;
pub mod time;
pub mod units;

pub use quality::{Quality, Sample};
pub use sensor_map::{Kind, Sensor, SensorMap};
