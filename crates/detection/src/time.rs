//! Time in detection. Instants are UTC: epoch milliseconds at the edges,
//! and inside the detector whole model steps of `step_s` seconds counted
//! from the Unix epoch (step `k` is the instant `k · step_s` s). The step is
//! a run-time value chosen from the data ([`model_step_s`]): it divides an
//! hour, so that every duration the settings give in hours or days is a
//! whole number of steps ([`steps_per_hour`], [`hours_to_steps`]).
//!
//! The model's demand patterns are aligned to local clock time: its time 0
//! is its `START CLOCKTIME` on the first day of the training data, in the
//! zone the sensor map declares ([`model_origin_s`]). Time zones themselves
//! stay at the edges: the caller hands over the zone's UTC offset.
//! Calendar arithmetic is `jiff`'s.
//!
//! ```
//! use detection::time::{format_step, model_step_s, step_of_unix_ms, steps_per_hour};
//! // Quarter-hour data run on a 15-minute step: 4 steps an hour.
//! let step_s = model_step_s(Some(900_000), 0).unwrap();
//! assert_eq!((step_s, steps_per_hour(step_s)), (900, 4));
//! let k = step_of_unix_ms(1_672_531_200_000, step_s).unwrap(); // 2023-01-01 00:00 UTC
//! assert_eq!(format_step(k + 5, step_s), "2023-01-01 01:15");
//! ```

use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::Timestamp;

/// Model steps (minutes) chosen from the data's sampling interval: whole
/// minutes dividing an hour.
pub const DATA_STEPS_MIN: [u64; 12] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60];

/// The model step (seconds): `configured_s` when not 0 (it must divide an
/// hour), else the data's sampling interval `interval_ms` when it is a
/// whole number of minutes dividing an hour ([`DATA_STEPS_MIN`]); data
/// sampled more often than once a minute (devices polled every few
/// seconds) run on a 1-minute step.
pub fn model_step_s(interval_ms: Option<i64>, configured_s: u64) -> Result<u64, String> {
    if configured_s > 0 {
        return if 3600 % configured_s == 0 {
            Ok(configured_s)
        } else {
            Err(format!(
                "step_s = {configured_s}: the model step must divide an hour (e.g. 60, 300, 900, 3600 s)"
            ))
        };
    }
    let Some(ms) = interval_ms else {
        return Err("the data have fewer than two readings: no sampling interval".into());
    };
    if ms > 0 && ms < 60_000 {
        Ok(60)
    } else if ms % 60_000 == 0 && DATA_STEPS_MIN.contains(&((ms / 60_000) as u64)) {
        Ok((ms / 1000) as u64)
    } else {
        Err(format!(
            "the data are sampled every {} s, not a whole number of minutes dividing an hour \
             ({} min): set the model step with step_s (readings are averaged into it, or \
             interpolated onto it when sparser)",
            ms as f64 / 1000.0,
            DATA_STEPS_MIN.map(|m| m.to_string()).join(", ")
        ))
    }
}

/// The sampling interval of a series of timestamps (epoch ms, in order):
/// the most frequent positive difference between consecutive ones (the
/// smallest when tied); `None` with fewer than two distinct timestamps.
pub fn sampling_interval_ms(times: &[i64]) -> Option<i64> {
    let mut diffs: Vec<i64> = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .collect();
    diffs.sort_unstable();
    let mut best: Option<(usize, i64)> = None;
    let mut i = 0;
    while i < diffs.len() {
        let j = i + diffs[i..].iter().take_while(|&&d| d == diffs[i]).count();
        if best.is_none_or(|(n, _)| j - i > n) {
            best = Some((j - i, diffs[i]));
        }
        i = j;
    }
    best.map(|(_, d)| d)
}

/// Steps in one hour (`step_s` divides an hour).
pub fn steps_per_hour(step_s: u64) -> usize {
    (3600 / step_s.max(1)).max(1) as usize
}

/// A duration in hours as a whole number of steps (rounded down).
pub fn hours_to_steps(hours: f64, step_s: u64) -> usize {
    (hours.max(0.0) * steps_per_hour(step_s) as f64) as usize
}

/// The step of an instant in epoch milliseconds, if on the grid.
pub fn step_of_unix_ms(ms: i64, step_s: u64) -> Option<i64> {
    let step_ms = step_s as i64 * 1000;
    (step_ms > 0 && ms.rem_euclid(step_ms) == 0).then(|| ms.div_euclid(step_ms))
}

/// Epoch milliseconds of a step.
pub fn unix_ms_of_step(step: i64, step_s: u64) -> i64 {
    step * step_s as i64 * 1000
}

/// Formats an instant (epoch ms) as `YYYY-MM-DD HH:MM` (UTC).
pub fn format_ms(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => Offset::UTC
            .to_datetime(t)
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

/// Formats a step as `YYYY-MM-DD HH:MM` (UTC).
pub fn format_step(step: i64, step_s: u64) -> String {
    format_ms(unix_ms_of_step(step, step_s))
}

/// Parses `YYYY-MM-DD HH:MM[:SS]` (UTC, no offset) into epoch ms.
pub fn parse_utc_ms(text: &str) -> Result<i64, String> {
    parse_utc(text).map(|t| t.as_millisecond())
}

/// Parses `YYYY-MM-DD HH:MM[:SS[.fff]]` (UTC, no offset: a time of day is
/// required) into an instant, at full precision.
pub fn parse_utc(text: &str) -> Result<Timestamp, String> {
    let s = text.trim();
    let bad = |why: &dyn std::fmt::Display| format!("bad timestamp {s:?}: {why}");
    if !s.contains([' ', 'T']) {
        return Err(bad(&"expected YYYY-MM-DD HH:MM"));
    }
    if s.parse::<Timestamp>().is_ok() {
        return Err(bad(&"expected YYYY-MM-DD HH:MM without a UTC offset"));
    }
    let dt: DateTime = s.parse().map_err(|e| bad(&e))?;
    Offset::UTC.to_timestamp(dt).map_err(|e| bad(&e))
}

/// The model's time 0 (Unix seconds): its start clock time
/// (`start_clocktime_s`, seconds after midnight) on the local day of the
/// instant `first_s` (Unix seconds), local time being UTC + `utc_offset_s`.
/// Pattern time at an instant `t` is then `t − origin + PATTERN START`.
pub fn model_origin_s(first_s: i64, utc_offset_s: i64, start_clocktime_s: u64) -> i64 {
    let local = first_s + utc_offset_s;
    local - local.rem_euclid(86_400) + start_clocktime_s as i64 - utc_offset_s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_from_the_data() {
        assert_eq!(model_step_s(Some(300_000), 0), Ok(300));
        assert_eq!(model_step_s(Some(60_000), 0), Ok(60));
        assert_eq!(model_step_s(Some(900_000), 0), Ok(900));
        assert_eq!(model_step_s(Some(3_600_000), 0), Ok(3600));
        assert_eq!(model_step_s(Some(60_000), 300), Ok(300));
        assert_eq!(model_step_s(Some(1_000), 0), Ok(60));
        for bad in [
            Some(90_000),
            Some(7_200_000),
            Some(420_000),
            Some(0),
            Some(-5),
            None,
        ] {
            assert!(model_step_s(bad, 0).is_err(), "{bad:?}");
        }
        assert!(model_step_s(Some(60_000), 7).is_err());
        assert_eq!(sampling_interval_ms(&[0, 60, 120, 300, 360]), Some(60));
        assert_eq!(sampling_interval_ms(&[0, 900, 1800, 2000]), Some(900));
        assert_eq!(sampling_interval_ms(&[5, 5]), None);
        assert_eq!((steps_per_hour(300), steps_per_hour(60)), (12, 60));
        assert_eq!(hours_to_steps(24.0, 900), 96);
    }

    #[test]
    fn grid_and_formats() {
        // 2023-01-01 00:00 UTC = 1 672 531 200 s.
        let k = step_of_unix_ms(1_672_531_200_000, 300).unwrap();
        assert_eq!(k, 1_672_531_200 / 300);
        assert_eq!(format_step(k + 1, 300), "2023-01-01 00:05");
        assert_eq!(step_of_unix_ms(1_672_531_260_000, 300), None);
        assert_eq!(
            step_of_unix_ms(1_672_531_260_000, 60),
            Some(1_672_531_260 / 60)
        );
        assert_eq!(unix_ms_of_step(k, 300), 1_672_531_200_000);
        assert_eq!(parse_utc_ms("2023-01-01 00:05"), Ok(1_672_531_500_000));
        for s in ["2023-01-01", "2023-01-01 00:00+01:00", "yesterday"] {
            assert!(parse_utc_ms(s).is_err(), "{s}");
        }
    }

    #[test]
    fn model_time_zero_is_local_start_clocktime() {
        let day = 1_672_531_200; // 2023-01-01 00:00 UTC
        assert_eq!(model_origin_s(day + 3600, 0, 0), day);
        // Tokyo (UTC+9): local midnight of 2023-01-01 is 2022-12-31 15:00 UTC.
        assert_eq!(model_origin_s(day - 9 * 3600, 9 * 3600, 0), day - 9 * 3600);
        assert_eq!(model_origin_s(day + 3600, 9 * 3600, 0), day - 9 * 3600);
        // Start clock time 6 am.
        assert_eq!(model_origin_s(day, 0, 6 * 3600), day + 6 * 3600);
    }
}
