//! BattLeDIM's time grid: instants are whole 5-minute steps counted from
//! 2019-01-01 00:00 UTC (step 0); earlier instants are negative steps. The
//! competition's files (the scenario generator's output, results, labels,
//! leak flows) and its official scorer count in [`STEP_S`]. The detector
//! does not: its step comes from the data (`detection::time`).
//!
//! Timestamps are written `YYYY-MM-DD HH:MM` (optionally `:SS`, which must
//! be `00`) and are UTC: files in a local zone are converted by the caller
//! (telemetry's SCADA reader). Calendar arithmetic is `jiff`'s.

use jiff::tz::Offset;
use jiff::Timestamp;

/// Seconds in one time step.
pub const STEP_S: u64 = 300;

/// Steps in one hour.
pub const STEPS_PER_HOUR: usize = (3600 / STEP_S) as usize;

/// 2019-01-01 00:00 UTC (step 0), seconds since the Unix epoch.
pub const EPOCH_2019_S: i64 = 1_546_300_800;

/// Parses `YYYY-MM-DD HH:MM[:SS]` (UTC) into a step index; the instant must
/// lie on the 5-minute grid.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let t = detection::time::parse_utc(text)?;
    let bad = |why: &str| format!("bad timestamp {:?}: {why}", text.trim());
    if t.subsec_nanosecond() != 0 {
        return Err(bad("not on the 5-minute grid (seconds must be 00)"));
    }
    step_of_unix_seconds(t.as_second()).ok_or_else(|| {
        bad("not on the 5-minute grid (minutes must be a multiple of 5, seconds 00)")
    })
}

/// The step of an instant (seconds since the Unix epoch), if on the grid.
pub fn step_of_unix_seconds(secs: i64) -> Option<i64> {
    let since = secs - EPOCH_2019_S;
    (since.rem_euclid(STEP_S as i64) == 0).then(|| since.div_euclid(STEP_S as i64))
}

/// The step of an instant in epoch milliseconds (telemetry's timestamps),
/// if on the grid.
pub fn step_of_unix_ms(ms: i64) -> Option<i64> {
    (ms.rem_euclid(1000) == 0)
        .then(|| step_of_unix_seconds(ms.div_euclid(1000)))
        .flatten()
}

/// Formats a step index as `YYYY-MM-DD HH:MM` (UTC).
pub fn format_step(step: i64) -> String {
    let secs = EPOCH_2019_S + step * STEP_S as i64;
    match Timestamp::from_second(secs) {
        Ok(t) => Offset::UTC
            .to_datetime(t)
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => format!("step {step}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_and_round_trip() {
        assert_eq!(parse_timestamp("2019-01-01 00:00"), Ok(0));
        assert_eq!(parse_timestamp("2019-01-01 00:05"), Ok(1));
        assert_eq!(parse_timestamp("2019-01-01 00:05:00"), Ok(1));
        assert_eq!(parse_timestamp("2018-12-31 23:55"), Ok(-1));
        assert_eq!(parse_timestamp("2019-12-31 23:55"), Ok(365 * 288 - 1));
        for s in [
            "2018-01-08 13:30",
            "2019-03-03 13:10",
            "2020-02-29 12:00",
            "2019-12-31 23:55",
        ] {
            assert_eq!(format_step(parse_timestamp(s).unwrap()), s);
        }
    }

    #[test]
    fn steps_of_unix_instants() {
        assert_eq!(step_of_unix_ms(1_546_300_800_000), Some(0));
        assert_eq!(step_of_unix_ms(1_546_301_100_000), Some(1));
        assert_eq!(step_of_unix_ms(1_546_300_500_000), Some(-1));
        assert_eq!(step_of_unix_ms(1_546_301_000_000), None);
        assert_eq!(step_of_unix_ms(1_546_301_100_001), None);
        assert_eq!(STEPS_PER_HOUR, 12);
    }

    #[test]
    fn rejects_bad_timestamps() {
        for s in [
            "2019-02-29 00:00",
            "2019-13-01 00:00",
            "2019-01-01 24:00",
            "2019-01-01 00:03",
            "2019-01-01 00:05:30",
            "2019-1-01 00:00",
            "yesterday",
            "2019-01-01",
            "2019-01-01 00:00+01:00",
            "2019-01-01 00:00:00.5",
        ] {
            assert!(parse_timestamp(s).is_err(), "{s} accepted");
        }
    }
}
