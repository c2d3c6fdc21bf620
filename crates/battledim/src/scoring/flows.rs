//! Leak flows: a CSV with a `Timestamp` column then one column per leaking
//! pipe, one row per 5-minute step, values in m³/h (the layout of
//! `2019_leak_flows_m3h.csv`). Rows must be consecutive steps. The caller
//! reads the file and hands the rows to a [`LeakFlowsBuilder`].

use super::{Collector, InputErrors};
use crate::time::{format_step, step_of_unix_ms, STEPS_PER_HOUR};

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

impl LeakFlows {
    /// Leak flows from columns already in memory, the first row at
    /// `start_step`.
    pub fn new(start_step: i64, pipes: Vec<String>, flows: Vec<Vec<f64>>) -> LeakFlows {
        LeakFlows {
            start_step,
            pipes,
            flows,
        }
    }
}

/// Builds [`LeakFlows`] from the rows of a leak-flows CSV that the caller
/// reads (this crate reads no files: the CLI and the conformance tests use
/// telemetry's SCADA reader), checking what the scorer relies on: one
/// column per pipe, rows on consecutive 5-minute steps, a flow in every
/// cell. Every problem is collected, located by file and line.
pub struct LeakFlowsBuilder {
    errs: Collector,
    header_line: usize,
    pipes: Vec<String>,
    flows: Vec<Vec<f64>>,
    start_step: Option<i64>,
    previous: Option<i64>,
}

impl LeakFlowsBuilder {
    /// `pipes`: the header's columns after `Timestamp`, on `header_line`.
    pub fn new(file: &str, header_line: usize, pipes: Vec<String>) -> LeakFlowsBuilder {
        let mut errs = Collector::new(file);
        for (i, p) in pipes.iter().enumerate() {
            if p.is_empty() {
                errs.push(header_line, format!("column {} has no pipe ID", i + 2));
            } else if pipes[..i].contains(p) {
                errs.push(header_line, format!("pipe {p} has two columns"));
            }
        }
        LeakFlowsBuilder {
            errs,
            header_line,
            flows: vec![Vec::new(); pipes.len()],
            pipes,
            start_step: None,
            previous: None,
        }
    }

    /// One row: its line, its instant (epoch milliseconds, UTC) and one
    /// flow per pipe in m³/h (`None` = empty cell).
    pub fn push_row(&mut self, line: usize, unix_ms: i64, flows: &[Option<f64>]) {
        match step_of_unix_ms(unix_ms) {
            Some(step) => {
                self.start_step.get_or_insert(step);
                if self.previous.is_some_and(|p| step != p + 1) {
                    self.errs.push(
                        line,
                        format!(
                            "timestamp {} is not the next 5-minute step after the previous row",
                            format_step(step)
                        ),
                    );
                }
                self.previous = Some(step);
            }
            None => {
                self.errs.push(
                    line,
                    "timestamp not on the 5-minute grid (minutes must be a multiple of 5, seconds 00)",
                );
                self.previous = self.previous.map(|p| p + 1);
            }
        }
        if flows.len() != self.pipes.len() {
            self.errs.push(
                line,
                format!("expected {} flows, found {}", self.pipes.len(), flows.len()),
            );
        }
        for (c, col) in self.flows.iter_mut().enumerate() {
            match flows.get(c).copied().flatten() {
                Some(q) => col.push(q),
                None => {
                    self.errs
                        .push(line, format!("flow for {} is missing", self.pipes[c]));
                    col.push(0.0);
                }
            }
        }
    }

    /// A row the caller could not read (`message` says why): an error, and
    /// one step of zero flows so that later rows keep their places.
    pub fn push_error(&mut self, line: usize, message: impl Into<String>) {
        self.errs.push(line, message);
        self.previous = self.previous.map(|p| p + 1);
        for col in &mut self.flows {
            col.push(0.0);
        }
    }

    pub fn finish(mut self) -> Result<LeakFlows, InputErrors> {
        if self.start_step.is_none() {
            self.errs.push(self.header_line, "no data rows");
        }
        self.errs.finish(LeakFlows {
            start_step: self.start_step.unwrap_or(0),
            pipes: self.pipes,
            flows: self.flows,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::time::EPOCH_2019_S;

    /// Epoch milliseconds of a step.
    pub(crate) fn ms(step: i64) -> i64 {
        (EPOCH_2019_S + step * crate::time::STEP_S as i64) * 1000
    }

    /// Leak flows from a test table: `(step, flows)` rows under `pipes`.
    pub(crate) fn flows(pipes: &[&str], rows: &[(i64, &[f64])]) -> LeakFlows {
        let mut b =
            LeakFlowsBuilder::new("f.csv", 1, pipes.iter().map(|p| p.to_string()).collect());
        for (i, (step, q)) in rows.iter().enumerate() {
            let q: Vec<Option<f64>> = q.iter().map(|&x| Some(x)).collect();
            b.push_row(i + 2, ms(*step), &q);
        }
        b.finish().unwrap()
    }

    #[test]
    fn volumes_sum_steps_over_twelve() {
        let f = flows(
            &["p1", "p2"],
            &[(0, &[0.0, 1.2]), (1, &[6.0, 1.2]), (2, &[6.0, 0.0])],
        );
        assert_eq!(f.len(), 3);
        assert_eq!(f.column("p2"), Some(1));
        assert!((f.volume_from(0, 0) - 1.0).abs() < 1e-12);
        assert!((f.volume_from(0, 2) - 0.5).abs() < 1e-12);
        assert!((f.volume_from(1, -5) - 0.2).abs() < 1e-12);
        assert_eq!(f.volume_from(0, 99), 0.0);
    }

    #[test]
    fn errors_are_located() {
        let mut b = LeakFlowsBuilder::new("f.csv", 1, vec!["p1".into()]);
        b.push_row(2, ms(0), &[Some(1.0)]);
        b.push_row(3, ms(2), &[Some(1.0)]);
        b.push_error(4, "field 'p1': 'x' is not a number");
        b.push_row(5, ms(4), &[None]);
        b.push_row(6, ms(5) + 60_000, &[Some(1.0)]);
        let e = b.finish().unwrap_err();
        let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6], "{e}");
        assert_eq!(
            e.errors[0].to_string(),
            "f.csv:3: timestamp 2019-01-01 00:10 is not the next 5-minute step after the previous row"
        );
        assert!(LeakFlowsBuilder::new("f.csv", 1, vec!["p1".into()])
            .finish()
            .is_err());
        let dup = LeakFlowsBuilder::new("f.csv", 1, vec!["p1".into(), "p1".into()]);
        assert!(dup.finish().is_err());
    }
}
