//! Sensor data checks (step 1 of the method): every column is checked for
//! missing readings, too many gaps, values out of range and stuck
//! pressures/levels; faulty sensors are excluded and listed, short gaps are
//! interpolated. Pure functions on the series handed over; no I/O.

use super::{DetectConfig, ScadaData, SensorIssue};
use crate::sensors::{Sensor, SensorKind, SensorSet};
use crate::time::hours_to_steps;
use network::Network;

/// Readings may sit on these values for long without the sensor being
/// stuck: a tank level at its tank's minimum or maximum (a drained or full
/// tank, whose link the model closes too).
pub fn resting_values(model: &Network, sensor: &Sensor) -> Vec<f64> {
    if sensor.kind != SensorKind::TankLevel {
        return Vec::new();
    }
    model
        .node_index(&sensor.element)
        .and_then(|i| model.nodes[i].tank())
        .map_or_else(Vec::new, |t| vec![t.min_level, t.max_level])
}

/// Whether `x` is one of the `resting` values (within the 0.01 m
/// resolution SCADA levels are commonly written with, and a little more).
pub fn at_rest(x: f64, resting: &[f64]) -> bool {
    resting.iter().any(|r| (x - r).abs() <= 0.02)
}

/// Checks one series (rows of `step_s` seconds) and repairs short gaps;
/// `Err` = exclude, with why. A pressure or level repeating one value for
/// `stuck_h` is stuck, unless that value is one of `resting` (see
/// [`resting_values`]).
pub fn check_series(
    kind: SensorKind,
    values: &[f64],
    range: Option<(f64, f64)>,
    resting: &[f64],
    step_s: u64,
    cfg: &DetectConfig,
) -> Result<(Vec<f64>, Vec<String>), String> {
    let n = values.len();
    let mut v = values.to_vec();
    let mut notes = Vec::new();
    let mut out_of_range = 0;
    if let Some((lo, hi)) = range {
        for x in &mut v {
            if x.is_finite() && (*x < lo || *x > hi) {
                *x = f64::NAN;
                out_of_range += 1;
            }
        }
    }
    if out_of_range as f64 > 0.05 * n as f64 {
        return Err(format!(
            "{out_of_range} of {n} readings out of range {:?}",
            range.unwrap()
        ));
    }
    if out_of_range > 0 {
        notes.push(format!("{out_of_range} readings out of range ignored"));
    }
    let missing = v.iter().filter(|x| !x.is_finite()).count();
    if missing == n {
        return Err("no readings".into());
    }
    if missing as f64 > cfg.max_missing_share * n as f64 {
        return Err(format!("{missing} of {n} readings missing"));
    }
    if matches!(kind, SensorKind::Pressure | SensorKind::TankLevel) {
        let mut run = 1;
        let mut longest = 1;
        for w in v.windows(2) {
            if w[0].is_finite() && w[0] == w[1] && !at_rest(w[0], resting) {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 1;
            }
        }
        let stuck = hours_to_steps(cfg.stuck_h, step_s).max(2);
        if longest >= stuck.min(n) && n > 1 {
            return Err(format!(
                "stuck: the same value for {longest} consecutive readings ({:.1} h)",
                longest as f64 * step_s as f64 / 3600.0
            ));
        }
    }
    if missing > 0 {
        notes.push(format!("{missing} missing readings interpolated"));
        fill_gaps(&mut v);
    }
    Ok((v, notes))
}

/// Linear interpolation inside gaps, nearest value at the ends.
fn fill_gaps(v: &mut [f64]) {
    let n = v.len();
    let mut last: Option<usize> = None;
    let mut i = 0;
    while i < n {
        if v[i].is_finite() {
            if let Some(l) = last {
                if i > l + 1 {
                    let (a, b) = (v[l], v[i]);
                    for (j, x) in v.iter_mut().enumerate().take(i).skip(l + 1) {
                        *x = a + (b - a) * (j - l) as f64 / (i - l) as f64;
                    }
                }
            } else {
                let x = v[i];
                v[..i].iter_mut().for_each(|y| *y = x);
            }
            last = Some(i);
        }
        i += 1;
    }
    if let Some(l) = last {
        let x = v[l];
        v[l + 1..].iter_mut().for_each(|y| *y = x);
    }
}

/// Checks the sensors of one data set: cleaned series per sensor (`None` =
/// unusable) and the issues found.
pub(super) fn check_all(
    model: &Network,
    sensors: &SensorSet,
    data: &ScadaData,
    cfg: &DetectConfig,
    label: &str,
) -> (Vec<Option<Vec<f64>>>, Vec<SensorIssue>) {
    let mut issues = Vec::new();
    let series = sensors
        .sensors
        .iter()
        .map(|s| {
            let issue = |problem: String, excluded| SensorIssue {
                kind: s.kind,
                column: s.column.clone(),
                problem: format!("{label}{problem}"),
                excluded,
            };
            let Some(col) = data.column(s.kind, &s.column) else {
                issues.push(issue(
                    format!(
                        "column '{}' missing from {}",
                        s.column,
                        crate::sensors::scada_file(s.kind)
                    ),
                    true,
                ));
                return None;
            };
            match check_series(
                s.kind,
                &col.values,
                s.range,
                &resting_values(model, s),
                data.step_s,
                cfg,
            ) {
                Ok((v, notes)) => {
                    for n in notes {
                        issues.push(issue(n, false));
                    }
                    Some(v)
                }
                Err(e) => {
                    issues.push(issue(e, true));
                    None
                }
            }
        })
        .collect();
    (series, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faulty_series_are_excluded_and_gaps_filled() {
        let cfg = DetectConfig::default();
        let ok: Vec<f64> = (0..600).map(|i| 40.0 + (i as f64 * 0.1).sin()).collect();
        let (v, notes) = check_series(
            SensorKind::Pressure,
            &ok,
            Some((0.0, 150.0)),
            &[],
            300,
            &cfg,
        )
        .unwrap();
        assert_eq!(v, ok);
        assert!(notes.is_empty());
        let mut gaps = ok.clone();
        gaps[10] = f64::NAN;
        gaps[11] = f64::NAN;
        let (v, notes) = check_series(SensorKind::Pressure, &gaps, None, &[], 300, &cfg).unwrap();
        assert!((v[10] - (ok[9] + (ok[12] - ok[9]) / 3.0)).abs() < 1e-12);
        assert!(notes[0].contains("2 missing"));
        let stuck = vec![42.0; 600];
        assert!(
            check_series(SensorKind::Pressure, &stuck, None, &[], 300, &cfg)
                .unwrap_err()
                .contains("stuck")
        );
        // A level may stay at its tank's maximum (full) or minimum (drained).
        let full = vec![9.75; 600];
        assert!(check_series(SensorKind::TankLevel, &full, None, &[0.5, 9.75], 300, &cfg).is_ok());
        assert!(check_series(SensorKind::TankLevel, &full, None, &[0.5, 9.0], 300, &cfg).is_err());
        // A flow may legitimately stay at 0 (pump off).
        assert!(check_series(SensorKind::Flow, &vec![0.0; 600], None, &[], 300, &cfg).is_ok());
        let mut wild = ok.clone();
        wild[..100].iter_mut().for_each(|x| *x = 900.0);
        assert!(check_series(
            SensorKind::Pressure,
            &wild,
            Some((0.0, 150.0)),
            &[],
            300,
            &cfg
        )
        .unwrap_err()
        .contains("out of range"));
        // Stuck is a duration (`stuck_h`, 24 h): 96 quarter-hours, 1 440 minutes.
        let mut day = ok.clone();
        day[100..196].iter_mut().for_each(|x| *x = 41.0);
        assert!(
            check_series(SensorKind::Pressure, &day, None, &[], 900, &cfg)
                .unwrap_err()
                .contains("(24.0 h)")
        );
        assert!(check_series(SensorKind::Pressure, &day, None, &[], 60, &cfg).is_ok());
        day[195] = 40.0; // 95 quarter-hours
        assert!(check_series(SensorKind::Pressure, &day, None, &[], 900, &cfg).is_ok());
        let mut holes = ok.clone();
        holes[..200].iter_mut().for_each(|x| *x = f64::NAN);
        assert!(
            check_series(SensorKind::Pressure, &holes, None, &[], 300, &cfg)
                .unwrap_err()
                .contains("missing")
        );
    }
}
