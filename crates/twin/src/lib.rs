//! The live twin service's foundation: durable operator alerts, the HTTP
//! API and operators' page over them, and their webhook delivery.
//!
//! `twin` composes the lower crates into a service (the streaming detector
//! that will fill the alert store comes with `aquatwin run`); it holds no
//! method of its own. It **never writes to a field device**: reading devices
//! is `telemetry`'s job, and nothing here talks Modbus. Its HTTP API binds to
//! loopback unless given a bearer token ([`api::bind_address_allowed`]), and
//! every state-changing call needs that token.
//!
//! - [`alerts`]: [`AlertStore`], one deduplicated alert per leak in
//!   `alerts.sqlite` (WAL) in the state directory; lifecycle `open` →
//!   `acknowledged` → `closed`.
//! - [`api`]: the axum [`Router`](axum::Router) over the store, the live
//!   status, the model and the time-series store ([`api::Service`]).
//! - [`status`]: [`status::TwinStatus`], the live status the run loop fills.
//! - [`geojson`]: the model and candidate areas as GeoJSON.
//! - [`page`]: the operators' page, embedded; it requests nothing from any
//!   other host.
//! - [`webhook`]: alert events POSTed in order, HMAC-signed, from the
//!   durable outbox every alert change writes in its own transaction.
//!
//! ```
//! use twin::alerts::{AlertState, AlertStore, Candidate, LeakEvent, Resolution};
//!
//! let dir = tempfile::tempdir()?;
//! let mut store = AlertStore::open(dir.path())?;
//! let mut event = LeakEvent {
//!     leak_key: "leak-7".into(),
//!     observed_ms: 1_700_000_000_000,
//!     estimated_start_ms: 1_699_990_000_000,
//!     size_lps: 2.0,
//!     confidence: 0.9,
//!     pipe: "p257".into(),
//!     also_pipe: None,
//!     candidates: vec![Candidate { pipe: "p257".into(), weight: 1.0 }],
//!     evidence: vec![],
//!     place_uncertain: false, // a report placed it at `pipe`
//!     at_pump: None,        // nor does it point at a pump station
//! };
//! let id = store.upsert(&event)?.alert().id;
//! event.size_lps = 3.0; // the leak grows: same alert, updated
//! assert_eq!(store.upsert(&event)?.alert().id, id);
//! store.acknowledge(id, Some("crew on the way"), 1_700_000_100_000)?;
//! let closed = store.close(id, Resolution::Repaired, None, 1_700_000_900_000)?;
//! assert_eq!(closed.state, AlertState::Closed);
//! assert_eq!(store.list(None)?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod alerts;
pub mod api;
pub mod geojson;
pub mod live;
pub mod page;
pub mod status;
pub mod webhook;

pub use alerts::{AlertError, AlertStore};
