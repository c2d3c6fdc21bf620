//! The official BattLeDIM 2020 scoring, reproduced exactly.
//!
//! Inputs are parsed from text or rows (no file I/O here): the leak labels
//! ([`labels`], the `leakages_info.yalm` layout), each leak's flow per
//! 5-minute step ([`flows`], rows read by the caller's CSV reader), and a team's results file ([`results`],
//! `pipeID, YYYY-MM-DD HH:MM` lines). Distance is the `network` crate's
//! [`NetworkDistance`](network::graph::NetworkDistance): officially along
//! pipes only ([`DistanceRule::PipesOnly`](network::graph::DistanceRule),
//! pumps and valves never crossed, pipe status ignored; its node distances
//! agree with the organisers' `L-TOWN_node_distances_m.csv` to rounding, and
//! midpoint-to-midpoint pipe distances reproduce the 246.117 m the official
//! report charges for detecting p653's leak at p632); [`ScoreParams`] may
//! choose the distance along the network instead, for other networks.
//! [`score`] applies the rules:
//!
//! * time is counted in 5-minute steps from 2019-01-01 00:00; detections
//!   before that instant are dropped; the rest are taken in time order
//!   (ties keep file order);
//! * a detection matches a leak that is running (labelled start ≤ t ≤
//!   labelled end) and lies within 300 m of the detected pipe;
//! * among the matched leaks not yet found, the nearest is a true positive
//!   worth 0.8 €/m³ × V − (x/300)·500 €, where V is the leak's volume from
//!   one step before the detection to the end of the flow series (m³/h
//!   summed over steps, divided by 12) and x the distance;
//! * a detection whose matched leaks were all found already scores 0;
//! * a detection matching nothing is a false positive, −500 €.
//!
//! The totals and per-detection values agree with the organisers'
//! reports for the three submissions published with the 2019 data.

pub mod flows;
pub mod labels;
pub mod results;
pub mod score;
/// The step grid and its timestamps ([`crate::time`]).
pub use crate::time;

pub use flows::{LeakFlows, LeakFlowsBuilder};
pub use labels::{parse_leak_labels, LeakLabel, LeakType};
pub use results::{parse_results, Detection, Results};
pub use score::{official_number, DetectionScore, Outcome, ScoreParams, ScoreReport, Scorer};

use std::fmt;

/// A problem in an input file, located by file name and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// How many problems one read lists before it stops.
pub const MAX_ERRORS: usize = 50;

/// Every problem found while reading one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputErrors {
    pub errors: Vec<InputError>,
    /// True when more problems were found than are listed.
    pub truncated: bool,
}

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.truncated {
            write!(
                f,
                "\n(more errors not shown; the first {MAX_ERRORS} are listed)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for InputErrors {}

/// Collects located errors for one file.
pub(crate) struct Collector {
    file: String,
    errors: Vec<InputError>,
    truncated: bool,
}

impl Collector {
    pub(crate) fn new(file: &str) -> Collector {
        Collector {
            file: file.to_string(),
            errors: Vec::new(),
            truncated: false,
        }
    }

    pub(crate) fn push(&mut self, line: usize, message: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(InputError {
                file: self.file.clone(),
                line,
                message: message.into(),
            });
        } else {
            self.truncated = true;
        }
    }

    pub(crate) fn finish<T>(self, value: T) -> Result<T, InputErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(InputErrors {
                errors: self.errors,
                truncated: self.truncated,
            })
        }
    }
}

/// Lines of a text with their 1-based numbers, comments (`#`) and blank
/// lines removed, each trimmed (a byte-order mark on line 1 is dropped).
pub(crate) fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = if i == 0 {
            l.trim_start_matches('\u{feff}')
        } else {
            l
        };
        let l = l.trim();
        (!l.is_empty() && !l.starts_with('#')).then_some((i + 1, l))
    })
}
