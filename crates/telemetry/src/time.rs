//! Timestamps: milliseconds since the Unix epoch, UTC, everywhere inside
//! aquatwin (stores, samples, exports). Calendars and time zones are
//! [`jiff`]'s, with the IANA tz database embedded in the binary (feature
//! `tzdb-bundle-always`): no `/usr/share/zoneinfo` is needed.
//!
//! SCADA exports carry wall-clock timestamps (`2019-01-01 00:05:00`) in the
//! zone the sensor map declares (`time_zone = "Europe/Paris"`; UTC when
//! absent). A [`LocalClock`] reads one file's timestamps in order:
//!
//! * a local time that occurs twice (the autumn fold: 02:00…02:59 repeats in
//!   Europe/Paris) takes the earlier offset, unless that would not move
//!   forward from the previous timestamp of the file: then it takes the later
//!   offset. A sequential export that writes 02:00…02:55 twice thus becomes
//!   monotone UTC (first pass at +02:00, second at +01:00);
//! * a local time that does not exist (the spring gap: 02:00…02:59 is skipped)
//!   is an error, never shifted;
//! * a timestamp with an explicit offset (`…+01:00`, `…Z`) or a bare integer
//!   of epoch milliseconds is an instant, whatever the declared zone.

use jiff::civil::DateTime;
pub use jiff::tz::TimeZone;
use jiff::tz::{AmbiguousOffset, Offset};
use jiff::Timestamp;

/// A timestamp or a time zone that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TimeError {
    #[error("'{text}' is not a timestamp (expected YYYY-MM-DD HH:MM[:SS])")]
    Syntax {
        text: String,
        #[source]
        source: jiff::Error,
    },
    #[error("'{text}' is out of range")]
    Range {
        text: String,
        #[source]
        source: jiff::Error,
    },
    #[error(
        "local time '{text}' does not exist in {zone}: the clocks skip it \
         (UTC offset {before} → {after})"
    )]
    Gap {
        text: String,
        zone: String,
        before: Offset,
        after: Offset,
    },
    #[error(
        "unknown time zone '{name}' (expected an IANA name such as \"Europe/Paris\", or \"UTC\")"
    )]
    UnknownZone {
        name: String,
        #[source]
        source: jiff::Error,
    },
}

/// A time zone by IANA name (`Europe/Paris`, `UTC`), from the tz database
/// embedded in the binary.
pub fn zone(name: &str) -> Result<TimeZone, TimeError> {
    TimeZone::get(name).map_err(|source| TimeError::UnknownZone {
        name: name.to_string(),
        source,
    })
}

/// The IANA name of a zone, for messages (`UTC` for UTC).
pub fn zone_name(tz: &TimeZone) -> &str {
    tz.iana_name().unwrap_or("UTC")
}

/// Reads the timestamps of one file, in order, in one time zone; keeps the
/// previous instant to resolve repeated local times (see the module docs).
#[derive(Debug, Clone)]
pub struct LocalClock {
    tz: TimeZone,
    last_ms: Option<i64>,
}

impl LocalClock {
    pub fn new(tz: TimeZone) -> LocalClock {
        LocalClock { tz, last_ms: None }
    }

    pub fn utc() -> LocalClock {
        LocalClock::new(TimeZone::UTC)
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Parses `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]` or `YYYY-MM-DD` (local time in
    /// this clock's zone), the same with an offset or `Z` (an instant), or a
    /// bare integer of epoch milliseconds. Returns epoch milliseconds (UTC).
    pub fn parse(&mut self, text: &str) -> Result<i64, TimeError> {
        let ms = parse_in(text, &self.tz, self.last_ms)?;
        self.last_ms = Some(ms);
        Ok(ms)
    }
}

/// One timestamp in zone `tz`; `previous` (epoch ms) is the timestamp read
/// just before in the same file, used to resolve a repeated local time.
pub fn parse_in(text: &str, tz: &TimeZone, previous: Option<i64>) -> Result<i64, TimeError> {
    let s = text.trim();
    if s.len() > 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(ms) = s.parse::<i64>() {
            return Ok(ms);
        }
    }
    // An explicit offset or `Z` (after the date) makes the text an instant.
    let after_date = s.get(10..).unwrap_or("");
    if after_date.contains(['Z', 'z', '+', '-', '\u{2212}']) {
        if let Ok(ts) = s.parse::<Timestamp>() {
            return Ok(ts.as_millisecond());
        }
    }
    let dt: DateTime = s.parse().map_err(|source| TimeError::Syntax {
        text: s.to_string(),
        source,
    })?;
    let range = |source| TimeError::Range {
        text: s.to_string(),
        source,
    };
    let instant = |offset: Offset| offset.to_timestamp(dt).map(|t| t.as_millisecond());
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => instant(offset).map_err(range),
        AmbiguousOffset::Fold { before, after } => {
            let earlier = instant(before).map_err(range)?;
            if previous.is_some_and(|p| earlier <= p) {
                instant(after).map_err(range)
            } else {
                Ok(earlier)
            }
        }
        AmbiguousOffset::Gap { before, after } => Err(TimeError::Gap {
            text: s.to_string(),
            zone: zone_name(tz).to_string(),
            before,
            after,
        }),
    }
}

/// Parses one timestamp as UTC (see [`LocalClock::parse`]).
pub fn parse_timestamp(s: &str) -> Result<i64, TimeError> {
    parse_in(s, &TimeZone::UTC, None)
}

/// Formats as `YYYY-MM-DD HH:MM:SS` (UTC), with `.fff` when not whole
/// seconds; the bare number outside years -9999…9999.
pub fn format_timestamp(ms: i64) -> String {
    let Ok(ts) = Timestamp::from_millisecond(ms) else {
        return ms.to_string();
    };
    let dt = Offset::UTC.to_datetime(ts);
    let base = dt.strftime("%Y-%m-%d %H:%M:%S").to_string();
    match ms.rem_euclid(1000) {
        0 => base,
        frac => format!("{base}.{frac:03}"),
    }
}

/// Current wall-clock time in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = parse_timestamp("2019-01-01 00:05:00").unwrap();
        assert_eq!(t, 1_546_301_100_000);
        assert_eq!(format_timestamp(t), "2019-01-01 00:05:00");
        assert_eq!(parse_timestamp("2020-02-29T23:59").unwrap() % 1000, 0);
        assert_eq!(
            format_timestamp(parse_timestamp("1969-12-31 23:59:59.5").unwrap()),
            "1969-12-31 23:59:59.500"
        );
        assert_eq!(parse_timestamp("2019-01-01").unwrap(), 1_546_300_800_000);
        assert!(parse_timestamp("2019-02-29 00:00").is_err());
        assert!(parse_timestamp("2019-01-01 24:00").is_err());
        assert!(parse_timestamp("yesterday").is_err());
        assert_eq!(parse_timestamp("1546301100000").unwrap(), 1_546_301_100_000);
        assert_eq!(
            parse_timestamp("2019-01-01 01:05:00+01:00").unwrap(),
            1_546_301_100_000
        );
        assert_eq!(
            parse_timestamp("2019-01-01T00:05:00Z").unwrap(),
            1_546_301_100_000
        );
    }

    fn utc(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn declared_zone_is_converted_to_utc() {
        let paris = zone("Europe/Paris").unwrap();
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(
            parse_in("2024-01-15 12:00", &paris, None).unwrap(),
            utc("2024-01-15 11:00")
        );
        assert_eq!(
            parse_in("2024-07-15 12:00", &paris, None).unwrap(),
            utc("2024-07-15 10:00")
        );
        // An explicit offset wins over the declared zone.
        assert_eq!(
            parse_in("2024-07-15 12:00Z", &paris, None).unwrap(),
            utc("2024-07-15 12:00")
        );
        let e = zone("Europe/Pariss").unwrap_err();
        assert!(
            e.to_string().contains("unknown time zone 'Europe/Pariss'"),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some());
    }

    /// Autumn: 2024-10-27 03:00 CEST → 02:00 CET in Europe/Paris; a
    /// sequential 5-minute export writes 02:00…02:55 twice.
    #[test]
    fn autumn_repeated_hour_is_monotone() {
        let mut clock = LocalClock::new(zone("Europe/Paris").unwrap());
        let mut local = vec!["2024-10-27 01:55".to_string()];
        for _pass in 0..2 {
            for m in (0..60).step_by(5) {
                local.push(format!("2024-10-27 02:{m:02}"));
            }
        }
        local.push("2024-10-27 03:00".into());
        let got: Vec<i64> = local.iter().map(|s| clock.parse(s).unwrap()).collect();
        // 01:55 CEST = 23:55 UTC the day before; then every 5 minutes.
        let start = utc("2024-10-26 23:55");
        let want: Vec<i64> = (0..got.len() as i64).map(|i| start + i * 300_000).collect();
        assert_eq!(got, want);
        assert_eq!(format_timestamp(got[1]), "2024-10-27 00:00:00");
        assert_eq!(format_timestamp(got[13]), "2024-10-27 01:00:00");
        assert_eq!(format_timestamp(got[25]), "2024-10-27 02:00:00");
        // Hourly: 02:00 written twice.
        let mut clock = LocalClock::new(zone("Europe/Paris").unwrap());
        let got: Vec<String> = ["01:00", "02:00", "02:00", "03:00"]
            .iter()
            .map(|t| format_timestamp(clock.parse(&format!("2024-10-27 {t}")).unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                "2024-10-26 23:00:00",
                "2024-10-27 00:00:00",
                "2024-10-27 01:00:00",
                "2024-10-27 02:00:00"
            ]
        );
    }

    /// Spring: 2024-03-31 02:00 CET → 03:00 CEST; 02:30 does not exist.
    #[test]
    fn spring_missing_hour_is_an_error() {
        let mut clock = LocalClock::new(zone("Europe/Paris").unwrap());
        assert_eq!(
            clock.parse("2024-03-31 01:55").unwrap(),
            utc("2024-03-31 00:55")
        );
        let e = clock.parse("2024-03-31 02:30").unwrap_err();
        assert!(matches!(e, TimeError::Gap { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "local time '2024-03-31 02:30' does not exist in Europe/Paris: \
             the clocks skip it (UTC offset +01 → +02)"
        );
        assert_eq!(
            clock.parse("2024-03-31 03:00").unwrap(),
            utc("2024-03-31 01:00")
        );
    }
}

/// The data clock: the time samples are stamped with. Real time by
/// default; accelerated for simulated fields (demos, tests): data time =
/// `data_start_ms` + (wall − `wall_start_ms`) × `speed`, the same mapping
/// in every process that shares it (`[clock]` of `twin.toml`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataClock {
    pub data_start_ms: i64,
    pub wall_start_ms: i64,
    pub speed: f64,
}

impl Default for DataClock {
    fn default() -> Self {
        DataClock::REAL_TIME
    }
}

impl DataClock {
    /// Data time is wall time.
    pub const REAL_TIME: DataClock = DataClock {
        data_start_ms: 0,
        wall_start_ms: 0,
        speed: 1.0,
    };

    /// The data time at wall time `wall_ms`.
    pub fn data_ms(&self, wall_ms: i64) -> i64 {
        self.data_start_ms + ((wall_ms - self.wall_start_ms) as f64 * self.speed).round() as i64
    }

    /// The data time now.
    pub fn now_ms(&self) -> i64 {
        self.data_ms(now_ms())
    }

    /// The wall duration of `data_ms` milliseconds of data time.
    pub fn wall_duration(&self, data_ms: i64) -> std::time::Duration {
        std::time::Duration::from_secs_f64((data_ms.max(0) as f64 / 1000.0) / self.speed)
    }
}
