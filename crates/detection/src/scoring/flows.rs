//! Leak flows: a CSV with a `Timestamp` column then one column per leaking
//! pipe, one row per 5-minute step, values in m³/h (the layout of
//! `2019_leak_flows_m3h.csv`). Rows must be consecutive steps.

use super::{content_lines, Collector, InputErrors};
use crate::time::{parse_timestamp, STEPS_PER_HOUR};

#[derive(Debug, Clone, PartialEq)]
pub struct LeakFlows {
    /// Step of the first row (5-minute steps from 2019-01-01 00:00).
    pub start_step: i64,
    /// Pipe IDs, in column order.
    pub pipes: Vec<String>,
    /// `flows[c][r]`: flow of column `c` at row `r`, m³/h.
    pub flows: Vec<Vec<f64>>,
}

impl LeakFlows {
    /// Number of steps (rows).
    pub fn len(&self) -> usize {
        self.flows.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn column(&self, pipe: &str) -> Option<usize> {
        self.pipes.iter().position(|p| p == pipe)
    }

    /// Volume (m³) leaked through column `c` from `step` (inclusive) to the
    /// end of the series. Steps before the first row count from the first row.
    /// A flow in m³/h held for one step leaks `q / 12` m³.
    pub fn volume_from(&self, c: usize, step: i64) -> f64 {
        let col = &self.flows[c];
        let first = (step - self.start_step).clamp(0, col.len() as i64) as usize;
        col[first..].iter().sum::<f64>() / STEPS_PER_HOUR as f64
    }
}

/// Parses a leak-flows CSV; `file` names it in error messages.
pub fn parse_leak_flows(text: &str, file: &str) -> Result<LeakFlows, InputErrors> {
    let mut errs = Collector::new(file);
    let mut lines = content_lines(text);
    let Some((hline, header)) = lines.next() else {
        errs.push(1, "empty file: expected a header `Timestamp,<pipe>,...`");
        return errs.finish(LeakFlows {
            start_step: 0,
            pipes: vec![],
            flows: vec![],
        });
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    if names.len() < 2 || !names[0].eq_ignore_ascii_case("timestamp") {
        errs.push(
            hline,
            "header must be `Timestamp` followed by one column per leaking pipe",
        );
        return errs.finish(LeakFlows {
            start_step: 0,
            pipes: vec![],
            flows: vec![],
        });
    }
    let pipes: Vec<String> = names[1..].iter().map(|s| s.to_string()).collect();
    for (i, p) in pipes.iter().enumerate() {
        if p.is_empty() {
            errs.push(hline, format!("column {} has no pipe ID", i + 2));
        } else if pipes[..i].contains(p) {
            errs.push(hline, format!("pipe {p} has two columns"));
        }
    }
    let mut flows = vec![Vec::new(); pipes.len()];
    let mut start_step = None;
    let mut previous: Option<i64> = None;
    for (line, l) in lines {
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != names.len() {
            errs.push(
                line,
                format!("expected {} fields, found {}", names.len(), f.len()),
            );
            continue;
        }
        match parse_timestamp(f[0]) {
            Ok(step) => {
                start_step.get_or_insert(step);
                if previous.is_some_and(|p| step != p + 1) {
                    errs.push(
                        line,
                        format!(
                            "timestamp {} is not the next 5-minute step after the previous row",
                            f[0]
                        ),
                    );
                }
                previous = Some(step);
            }
            Err(m) => {
                errs.push(line, m);
                previous = previous.map(|p| p + 1);
            }
        }
        for (c, v) in f[1..].iter().enumerate() {
            match v.parse::<f64>() {
                Ok(q) if q.is_finite() => flows[c].push(q),
                _ => {
                    errs.push(line, format!("flow {v:?} for {} is not a number", pipes[c]));
                    flows[c].push(0.0);
                }
            }
        }
    }
    if start_step.is_none() {
        errs.push(hline, "no data rows");
    }
    errs.finish(LeakFlows {
        start_step: start_step.unwrap_or(0),
        pipes,
        flows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "Timestamp,p1,p2\n\
                       2019-01-01 00:00:00,0.0,1.2\n\
                       2019-01-01 00:05:00,6.0,1.2\n\
                       2019-01-01 00:10:00,6.0,0.0\n";

    #[test]
    fn volumes_sum_steps_over_twelve() {
        let f = parse_leak_flows(CSV, "f.csv").unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f.column("p2"), Some(1));
        assert!((f.volume_from(0, 0) - 1.0).abs() < 1e-12);
        assert!((f.volume_from(0, 2) - 0.5).abs() < 1e-12);
        assert!((f.volume_from(1, -5) - 0.2).abs() < 1e-12);
        assert_eq!(f.volume_from(0, 99), 0.0);
    }

    #[test]
    fn errors_are_located() {
        let bad = "Timestamp,p1\n2019-01-01 00:00,1\n2019-01-01 00:10,1\n2019-01-01 00:15,x\n2019-01-01 00:20\n";
        let e = parse_leak_flows(bad, "f.csv").unwrap_err();
        let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5], "{e}");
        assert!(parse_leak_flows("", "f.csv").is_err());
        assert!(parse_leak_flows("time,p1\n", "f.csv").is_err());
        assert!(parse_leak_flows("Timestamp,p1,p1\n2019-01-01 00:00,1,1\n", "f.csv").is_err());
    }
}
