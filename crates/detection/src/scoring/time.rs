//! BattLeDIM time: instants are whole 5-minute steps counted from
//! 2019-01-01 00:00 (step 0). Earlier instants are negative steps.
//!
//! Timestamps are written `YYYY-MM-DD HH:MM` (optionally `:SS`, which must
//! be `00`). Calendar arithmetic is proleptic Gregorian, no time zones.

/// Seconds in one BattLeDIM time step.
pub const STEP_SECONDS: i64 = 300;

/// Days from 1970-01-01 to 2019-01-01.
const EPOCH_2019_DAYS: i64 = 17_897;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn number(s: &str, digits: usize, what: &str) -> Result<i64, String> {
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} must be {digits} digits, found {s:?}"));
    }
    Ok(s.parse().expect("ASCII digits"))
}

/// Parses `YYYY-MM-DD HH:MM[:SS]` into a step index; the instant must lie on
/// the 5-minute grid.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let s = text.trim();
    let bad = || format!("bad timestamp {s:?}: expected YYYY-MM-DD HH:MM");
    let (date, time) = s.split_once([' ', 'T']).ok_or_else(bad)?;
    let dp: Vec<&str> = date.split('-').collect();
    let tp: Vec<&str> = time.trim().split(':').collect();
    if dp.len() != 3 || !(tp.len() == 2 || tp.len() == 3) {
        return Err(bad());
    }
    let ctx = |e: String| format!("bad timestamp {s:?}: {e}");
    let y = number(dp[0], 4, "year").map_err(ctx)?;
    let mo = number(dp[1], 2, "month").map_err(ctx)?;
    let d = number(dp[2], 2, "day").map_err(ctx)?;
    let h = number(tp[0], 2, "hour").map_err(ctx)?;
    let mi = number(tp[1], 2, "minute").map_err(ctx)?;
    let sec = if tp.len() == 3 {
        number(tp[2], 2, "second").map_err(ctx)?
    } else {
        0
    };
    if !(1..=12).contains(&mo) {
        return Err(ctx(format!("month {mo} is not 01–12")));
    }
    if d < 1 || d > days_in_month(y, mo) {
        return Err(ctx(format!("day {d} does not exist in {y}-{mo:02}")));
    }
    if h > 23 || mi > 59 || sec > 59 {
        return Err(ctx("time of day out of range".into()));
    }
    let secs = (days_from_civil(y, mo, d) - EPOCH_2019_DAYS) * 86_400 + h * 3600 + mi * 60 + sec;
    if secs.rem_euclid(STEP_SECONDS) != 0 {
        return Err(ctx(
            "not on the 5-minute grid (minutes must be a multiple of 5, seconds 00)".into(),
        ));
    }
    Ok(secs.div_euclid(STEP_SECONDS))
}

/// Formats a step index as `YYYY-MM-DD HH:MM`.
pub fn format_step(step: i64) -> String {
    let secs = step * STEP_SECONDS;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days + EPOCH_2019_DAYS);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        sod / 3600,
        (sod % 3600) / 60
    )
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
        ] {
            assert!(parse_timestamp(s).is_err(), "{s} accepted");
        }
    }
}
