//! Samples and their quality flags.
//!
//! Every poll of every sensor yields exactly one [`Sample`], good or not: a
//! failed read is stored as a sample without a value and with the reason in
//! its [`Quality`], so gaps are recorded, never papered over.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a sample is (or is not) trustworthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// Read and within the sensor's valid range.
    Good,
    /// The device did not answer within the time-out.
    Timeout,
    /// Read, but outside the sensor's valid range (value kept).
    OutOfRange,
    /// Read, but unchanged for longer than the sensor's `stale_after_s`.
    Stale,
    /// No connection to the device (refused, dropped, backing off).
    CommsLost,
    /// The device answered with a Modbus exception (code kept in the sample).
    Exception,
    /// The registers decoded to a non-finite number (NaN, infinity): garbage.
    BadValue,
}

impl Quality {
    pub const ALL: [Quality; 7] = [
        Quality::Good,
        Quality::Timeout,
        Quality::OutOfRange,
        Quality::Stale,
        Quality::CommsLost,
        Quality::Exception,
        Quality::BadValue,
    ];

    /// Stable numeric code used by the stores.
    pub fn code(self) -> u8 {
        match self {
            Quality::Good => 0,
            Quality::Timeout => 1,
            Quality::OutOfRange => 2,
            Quality::Stale => 3,
            Quality::CommsLost => 4,
            Quality::Exception => 5,
            Quality::BadValue => 6,
        }
    }

    pub fn from_code(c: u8) -> Option<Quality> {
        Quality::ALL.into_iter().find(|q| q.code() == c)
    }

    pub fn name(self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::Timeout => "timeout",
            Quality::OutOfRange => "out_of_range",
            Quality::Stale => "stale",
            Quality::CommsLost => "comms_lost",
            Quality::Exception => "exception",
            Quality::BadValue => "bad_value",
        }
    }

    /// Whether the sample's value may be used by the model.
    pub fn is_usable(self) -> bool {
        matches!(self, Quality::Good)
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One reading of one sensor. `value` is in SI (m of head, m³/s, m) and is
/// `None` when nothing usable was read (time-out, comms lost, exception,
/// garbage). Out-of-range and stale samples keep their value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub sensor: String,
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub ts_ms: i64,
    pub value: Option<f64>,
    pub quality: Quality,
    /// Modbus exception code (for `Quality::Exception`), else 0.
    #[serde(default)]
    pub detail: u8,
}

impl Sample {
    pub fn good(sensor: &str, ts_ms: i64, value: f64) -> Sample {
        Sample {
            sensor: sensor.to_string(),
            ts_ms,
            value: Some(value),
            quality: Quality::Good,
            detail: 0,
        }
    }
    pub fn missing(sensor: &str, ts_ms: i64, quality: Quality, detail: u8) -> Sample {
        Sample {
            sensor: sensor.to_string(),
            ts_ms,
            value: None,
            quality,
            detail,
        }
    }
}

/// Grades a decoded value against the sensor's valid range and its history.
#[derive(Debug, Clone)]
pub struct Grader {
    pub min: f64,
    pub max: f64,
    /// A value unchanged for this long (ms) is stale; `None` disables.
    pub stale_after_ms: Option<i64>,
    last_value: Option<f64>,
    last_change_ms: i64,
}

impl Grader {
    pub fn new(min: f64, max: f64, stale_after_ms: Option<i64>) -> Grader {
        Grader {
            min,
            max,
            stale_after_ms,
            last_value: None,
            last_change_ms: 0,
        }
    }

    /// The sample for a value read at `ts_ms` (SI).
    pub fn grade(&mut self, sensor: &str, ts_ms: i64, value: f64) -> Sample {
        if !value.is_finite() {
            return Sample::missing(sensor, ts_ms, Quality::BadValue, 0);
        }
        if self.last_value != Some(value) {
            self.last_value = Some(value);
            self.last_change_ms = ts_ms;
        }
        let quality = if value < self.min || value > self.max {
            Quality::OutOfRange
        } else if matches!(self.stale_after_ms, Some(s) if ts_ms - self.last_change_ms >= s) {
            Quality::Stale
        } else {
            Quality::Good
        };
        Sample {
            sensor: sensor.to_string(),
            ts_ms,
            value: Some(value),
            quality,
            detail: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for q in Quality::ALL {
            assert_eq!(Quality::from_code(q.code()), Some(q));
        }
        assert_eq!(Quality::from_code(99), None);
    }

    #[test]
    fn grader_flags_range_garbage_and_stale() {
        let mut g = Grader::new(0.0, 100.0, Some(3000));
        assert_eq!(g.grade("a", 0, 50.0).quality, Quality::Good);
        assert_eq!(g.grade("a", 1000, 150.0).quality, Quality::OutOfRange);
        assert_eq!(g.grade("a", 2000, f64::NAN).quality, Quality::BadValue);
        assert_eq!(g.grade("a", 3000, 40.0).quality, Quality::Good);
        assert_eq!(g.grade("a", 5000, 40.0).quality, Quality::Good);
        assert_eq!(g.grade("a", 6000, 40.0).quality, Quality::Stale);
        assert_eq!(g.grade("a", 7000, 41.0).quality, Quality::Good);
    }
}
