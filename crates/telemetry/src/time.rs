//! Timestamps: milliseconds since the Unix epoch, UTC. SCADA exports carry
//! naive local timestamps (`2019-01-01 00:05:00`); aquatwin reads them as UTC
//! (BattLeDIM's files are in one fixed zone without DST).

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses `YYYY-MM-DD[ T]HH:MM[:SS[.fff]][Z]` or `YYYY-MM-DD` (UTC), or a
/// bare integer of epoch milliseconds.
pub fn parse_timestamp(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let err = || format!("'{s}' is not a timestamp (expected YYYY-MM-DD HH:MM[:SS])");
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() > 8 {
        return s.parse::<i64>().map_err(|_| err());
    }
    let s2 = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = match s2.find([' ', 'T']) {
        Some(i) => (&s2[..i], s2[i + 1..].trim()),
        None => (s2, ""),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next().and_then(|v| v.parse().ok()).ok_or_else(err)?;
    let m: u32 = dp.next().and_then(|v| v.parse().ok()).ok_or_else(err)?;
    let d: u32 = dp.next().and_then(|v| v.parse().ok()).ok_or_else(err)?;
    if dp.next().is_some() || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(err());
    }
    let (mut hh, mut mm, mut ms) = (0i64, 0i64, 0i64);
    if !time.is_empty() {
        let mut tp = time.split(':');
        hh = tp.next().and_then(|v| v.parse().ok()).ok_or_else(err)?;
        mm = tp.next().and_then(|v| v.parse().ok()).ok_or_else(err)?;
        if let Some(sec) = tp.next() {
            let secs: f64 = sec.parse().map_err(|_| err())?;
            if !(0.0..61.0).contains(&secs) {
                return Err(err());
            }
            ms = (secs * 1000.0).round() as i64;
        }
        if tp.next().is_some() || !(0..24).contains(&hh) || !(0..60).contains(&mm) {
            return Err(err());
        }
    }
    Ok((days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60) * 1000 + ms)
}

/// Formats as `YYYY-MM-DD HH:MM:SS` (UTC), with `.fff` when not whole seconds.
pub fn format_timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let base = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if frac == 0 {
        base
    } else {
        format!("{base}.{frac:03}")
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
        assert!(parse_timestamp("2019-02-29 00:00").is_err());
        assert!(parse_timestamp("2019-01-01 24:00").is_err());
        assert!(parse_timestamp("yesterday").is_err());
        assert_eq!(parse_timestamp("1546301100000").unwrap(), 1_546_301_100_000);
    }
}
