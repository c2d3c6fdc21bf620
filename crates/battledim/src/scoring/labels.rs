//! Leak labels in the BattLeDIM `leakages_info.yalm` layout: one leak per
//! line, `linkID, startTime, endTime, leakDiameter (m), leakType, peakTime`,
//! `#` comments. A YAML-style `leakages:` header and `- ` item markers are
//! tolerated.

use super::time::{format_step, parse_timestamp};
use super::{content_lines, Collector, InputErrors};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakType {
    Abrupt,
    Incipient,
}

/// One labelled leak. Times are 5-minute steps from 2019-01-01 00:00.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeakLabel {
    pub pipe: String,
    pub start: i64,
    pub end: i64,
    pub diameter_m: f64,
    pub kind: LeakType,
    pub peak: i64,
    /// Line in the labels file.
    pub line: usize,
}

impl LeakLabel {
    /// Whether the leak is running at `step` (start and end included).
    pub fn is_running(&self, step: i64) -> bool {
        self.start <= step && step <= self.end
    }

    pub fn start_text(&self) -> String {
        format_step(self.start)
    }
}

/// Parses a labels file; `file` names it in error messages.
pub fn parse_leak_labels(text: &str, file: &str) -> Result<Vec<LeakLabel>, InputErrors> {
    let mut errs = Collector::new(file);
    let mut leaks = Vec::new();
    for (line, l) in content_lines(text) {
        if l.eq_ignore_ascii_case("leakages:") {
            continue;
        }
        let l = l.strip_prefix("- ").unwrap_or(l);
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != 6 {
            errs.push(line, format!(
                "expected 6 comma-separated fields (linkID, startTime, endTime, leakDiameter, leakType, peakTime), found {}",
                f.len()
            ));
            continue;
        }
        if f[0].is_empty() {
            errs.push(line, "empty link ID");
            continue;
        }
        let (start, end, peak) = match (
            parse_timestamp(f[1]),
            parse_timestamp(f[2]),
            parse_timestamp(f[5]),
        ) {
            (Ok(s), Ok(e), Ok(p)) => (s, e, p),
            (s, e, p) => {
                for (what, r) in [("startTime", s), ("endTime", e), ("peakTime", p)] {
                    if let Err(m) = r {
                        errs.push(line, format!("{what}: {m}"));
                    }
                }
                continue;
            }
        };
        if end < start {
            errs.push(
                line,
                format!("endTime {} is before startTime {}", f[2], f[1]),
            );
            continue;
        }
        let diameter_m = match f[3].parse::<f64>() {
            Ok(d) if d.is_finite() && d >= 0.0 => d,
            _ => {
                errs.push(
                    line,
                    format!("leakDiameter {:?} is not a non-negative number", f[3]),
                );
                continue;
            }
        };
        let kind = match f[4].to_ascii_lowercase().as_str() {
            "abrupt" => LeakType::Abrupt,
            "incipient" => LeakType::Incipient,
            other => {
                errs.push(
                    line,
                    format!("leakType {other:?} is neither abrupt nor incipient"),
                );
                continue;
            }
        };
        leaks.push(LeakLabel {
            pipe: f[0].to_string(),
            start,
            end,
            diameter_m,
            kind,
            peak,
            line,
        });
    }
    errs.finish(leaks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_battledim_layout() {
        let text = "# linkID, startTime, endTime, leakDiameter (m), leakType, peakTime\n\
                    p257, 2018-01-08 13:30, 2019-12-31 23:55, 0.011843, incipient, 2018-01-25 08:30\n\
                    \n\
                    p523, 2019-01-15 23:00, 2019-02-01 09:50, 0.020246, abrupt, 2019-01-15 23:00\n";
        let l = parse_leak_labels(text, "x.yalm").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].pipe, "p523");
        assert_eq!(l[1].line, 4);
        assert_eq!(l[1].kind, LeakType::Abrupt);
        assert_eq!(l[1].start_text(), "2019-01-15 23:00");
        assert!(l[1].is_running(l[1].start) && l[1].is_running(l[1].end));
        assert!(!l[1].is_running(l[1].end + 1) && !l[1].is_running(l[1].start - 1));
        assert!(l[0].start < 0);
    }

    #[test]
    fn yaml_style_items_are_accepted() {
        let text =
            "leakages:\n- p1, 2019-01-01 00:00, 2019-01-02 00:00, 0.01, abrupt, 2019-01-01 00:00\n";
        assert_eq!(parse_leak_labels(text, "x").unwrap()[0].pipe, "p1");
    }

    #[test]
    fn errors_are_located() {
        let text = "p1, 2019-01-01 00:00, 2019-01-02 00:00, 0.01, abrupt, 2019-01-01 00:00\n\
                    p2, 2019-01-01 00:00\n\
                    p3, 2019-01-01 00:00, 2018-01-02 00:00, 0.01, abrupt, 2019-01-01 00:00\n\
                    p4, 2019-01-01 00:00, 2019-01-02 00:00, big, burst, 2019-01-01 00:00\n";
        let e = parse_leak_labels(text, "labels.yalm").unwrap_err();
        let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(
            e.to_string().starts_with("labels.yalm:2: expected 6"),
            "{e}"
        );
    }
}
