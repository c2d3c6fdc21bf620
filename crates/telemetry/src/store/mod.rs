//! Time-series stores.
//!
//! A [`Store`] keeps samples keyed by (sensor, timestamp): writing a sample
//! whose key is already stored replaces it. That makes every write
//! idempotent, which is what lets the on-disk [`buffer`] replay after a
//! crash without ever duplicating a sample (delivery is at-least-once, the
//! store makes it exactly-once).

pub mod buffer;
pub mod influx;
pub mod sqlite;

use crate::quality::Sample;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached now (refused, timed out, 5xx): try later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store refused the request (bad request, auth): retrying won't help.
    #[error("store refused the request: {0}")]
    Rejected(String),
    /// Local I/O or database failure.
    #[error("{0}")]
    Local(String),
    /// SQLite failed (locked, busy, disk full, I/O, read-only…). The
    /// SQLite error is kept; its message is this one's (`sqlite: …`), so it
    /// is not chained again as a source (which would print it twice).
    #[error("sqlite: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

impl StoreError {
    /// Whether the batch should wait in the on-disk buffer and be retried:
    /// every failure except a request the store refuses as malformed
    /// (which retrying cannot fix and which goes to `rejected.jsonl`).
    pub fn is_transient(&self) -> bool {
        !matches!(self, StoreError::Rejected(_))
    }
}

/// A time-series store of samples.
pub trait Store: Send {
    /// Short human name ("sqlite:/path", "influxdb:http://…/db").
    fn describe(&self) -> String;
    /// Writes a batch atomically where the backend allows; idempotent per
    /// (sensor, ts).
    fn write(&mut self, samples: &[Sample]) -> Result<(), StoreError>;
    /// Samples of one sensor with `from_ms <= ts < to_ms`, ordered by time.
    fn query(&mut self, sensor: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Sample>, StoreError>;
    /// Timestamp of the sensor's latest sample, if any.
    fn last_timestamp(&mut self, sensor: &str) -> Result<Option<i64>, StoreError>;
}

impl<S: Store + ?Sized> Store for Box<S> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn write(&mut self, samples: &[Sample]) -> Result<(), StoreError> {
        (**self).write(samples)
    }
    fn query(&mut self, sensor: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Sample>, StoreError> {
        (**self).query(sensor, from_ms, to_ms)
    }
    fn last_timestamp(&mut self, sensor: &str) -> Result<Option<i64>, StoreError> {
        (**self).last_timestamp(sensor)
    }
}
