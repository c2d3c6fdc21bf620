//! EPANET's time formats: decimal hours, `h:mm[:ss]`, a number with a unit
//! (SEC, MIN, HOURS, DAYS) or a clock time with AM/PM.

/// Seconds for a time written as `value` with an optional `unit` token.
/// Returns `None` for anything EPANET would reject.
pub fn parse_time(value: &str, unit: Option<&str>) -> Option<u64> {
    let hours = hours(value, unit.unwrap_or(""))?;
    if !(hours >= 0.0 && hours < (i64::MAX as f64) / 7200.0) {
        return None;
    }
    Some((3600.0 * hours + 0.5) as u64)
}

/// A `[TIMES]`-style value: the last token, or the last two (value + unit).
pub fn parse_time_tokens(toks: &[&str]) -> Option<u64> {
    let n = toks.len();
    if n == 0 {
        return None;
    }
    if let Some(t) = parse_time(toks[n - 1], None) {
        return Some(t);
    }
    if n >= 2 {
        return parse_time(toks[n - 2], Some(toks[n - 1]));
    }
    None
}

fn hours(value: &str, unit: &str) -> Option<f64> {
    // EPANET splits on ':' with strtok (empty fields vanish) and reads at
    // most four fields, each of which must be a number; only the first
    // three count (h:mm:ss), a fourth is read and ignored, later ones are
    // not read at all.
    let parts: Vec<&str> = value.split(':').filter(|p| !p.is_empty()).take(4).collect();
    if parts.is_empty() {
        return None;
    }
    let mut y = 0.0;
    let scale = [1.0, 60.0, 3600.0];
    for (i, p) in parts.iter().enumerate() {
        let v: f64 = crate::inp::parse_number(p)?;
        if parts.len() > 1 && v < 0.0 {
            return None;
        }
        if i < 3 {
            y += v / scale[i];
        }
    }
    let u = unit.to_ascii_uppercase();
    if u.is_empty() {
        return Some(y);
    }
    if parts.len() == 1 {
        if u.starts_with("SEC") {
            return Some(y / 3600.0);
        }
        if u.starts_with("MIN") {
            return Some(y / 60.0);
        }
        if u.starts_with("HOU") {
            return Some(y);
        }
        if u.starts_with("DAY") {
            return Some(y * 24.0);
        }
    }
    if u == "AM" {
        if y >= 13.0 {
            return None;
        }
        return Some(if y >= 12.0 { y - 12.0 } else { y });
    }
    if u == "PM" {
        if y >= 13.0 {
            return None;
        }
        return Some(if y < 12.0 { y + 12.0 } else { y });
    }
    None
}

/// Writes seconds as `h:mm:ss`.
pub fn format_time(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, (secs % 3600) / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(parse_time("24", None), Some(86400));
        assert_eq!(parse_time("1:30", None), Some(5400));
        assert_eq!(parse_time("0:05:30", None), Some(330));
        assert_eq!(parse_time("5", Some("min")), Some(300));
        assert_eq!(parse_time("2", Some("DAYS")), Some(172800));
        assert_eq!(parse_time("12", Some("AM")), Some(0));
        assert_eq!(parse_time("1:50", Some("pm")), Some(13 * 3600 + 50 * 60));
        assert_eq!(parse_time("x", None), None);
        // As EPANET's strtok-based reader: a fourth field is read, not used;
        // empty fields vanish (wntr's bad_times.inp has "0:00:00:00").
        assert_eq!(parse_time("0:00:00:00", None), Some(0));
        assert_eq!(parse_time("1:00:30:99", None), Some(3630));
        assert_eq!(parse_time("1:00:30:x", None), None);
        assert_eq!(parse_time("1::30", None), Some(5400));
        assert_eq!(parse_time("-1", None), None);
        assert_eq!(parse_time_tokens(&["DURATION", "24", "HOURS"]), Some(86400));
        assert_eq!(format_time(5400), "1:30:00");
    }
}
