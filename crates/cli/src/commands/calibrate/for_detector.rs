//! Calibration before detection (`detect --calibrate`, the twin's `train`
//! with `--calibrate` or `[twin] calibrate = true`): the model fitted on
//! the leak-free training period with the default groups (roughness by
//! diameter class, demand by pattern, pressure offsets) or a `GROUPS.toml`,
//! then handed to the detector with the sensors' offsets, which are
//! subtracted from their readings.

use super::{groups, period_fit, period_of, to_data, verdict};
use anyhow::{Context, Result};
use calibration::{ObsKind, Options, Values};
use detection::detect::ScadaData;
use detection::sensors::{SensorKind, SensorSet};
use network::Network;
use serde::Serialize;

/// What the detector gets from a calibration, and what it says.
pub struct ForDetector {
    /// The model the detector runs on: the calibrated one, or the nominal
    /// one when calibration did not improve the fit (`used` false).
    pub network: Network,
    /// Per sensor of the set (its order): the offset to subtract from its
    /// readings, in detection's units (m for pressures), 0 for none.
    pub offsets: Vec<f64>,
    pub summary: Summary,
}

/// The calibration as `detect`'s report and the twin's training record it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Summary {
    /// Whether the detector runs on the calibrated model and offsets.
    pub used: bool,
    /// good, acceptable or poor (the acceptance bands on the training
    /// period), or "not better" when the fit did not improve.
    pub fit_quality: String,
    pub verdict: String,
    /// The period calibrated on.
    pub period: String,
    pub rows: usize,
    pub pressure_rmse_before_m: f64,
    pub pressure_rmse_after_m: f64,
    /// Shares of pressure readings within ±0.5 / ±0.75 / ±2 m after.
    pub pressure_within_after: Vec<f64>,
    /// (name, before, after, sd, identifiable) of every parameter.
    pub parameters: Vec<(String, f64, f64, f64, bool)>,
    pub simulations: usize,
    pub seconds: f64,
    pub notes: Vec<String>,
}

impl Summary {
    /// One line for the terminal.
    pub fn line(&self) -> String {
        format!(
            "calibration on {} ({} rows, {} simulations, {:.1} s): {}{}",
            self.period,
            self.rows,
            self.simulations,
            self.seconds,
            self.verdict,
            if self.used {
                ""
            } else {
                " The detector runs on the NOMINAL model: the calibration did not lower the pressure RMSE."
            }
        )
    }
}

/// Calibrates `net` on the first `rows` rows of `data` (detection's
/// units), the leak-free training period, with the groups of `groups`
/// (`GROUPS.toml`, as `aquatwin calibrate --groups`; `None`: the
/// defaults). Fails when the calibration cannot be done (no pressure or
/// flow reading, a failed simulation, a bad groups file); a poor fit is not
/// an error: the summary says so.
pub fn calibrate_for_detector(
    net: &Network,
    set: &SensorSet,
    data: &ScadaData,
    rows: usize,
    groups: Option<&std::path::Path>,
) -> Result<ForDetector> {
    let t0 = std::time::Instant::now();
    let mut notes = Vec::new();
    let rows = rows.min(data.rows);
    let label = format!(
        "{} to {}",
        detection::time::format_step(data.start_step, data.step_s),
        detection::time::format_step(data.start_step + rows as i64, data.step_s)
    );
    let period = period_of(net, data, set, rows, label.clone(), &mut |m, excluded| {
        notes.push(if excluded {
            format!("{m}: not calibrated on")
        } else {
            m
        })
    });
    let cal_data = to_data(net, &period, &mut notes)?;
    let (set_p, bound) = groups::load(groups, net)?;
    let opts = Options {
        offset_bound: bound.unwrap_or(Options::default().offset_bound),
        ..Options::default()
    };
    let cal = calibration::calibrate(net, &set_p, &cal_data, &opts)
        .context("calibration of the model on the training period failed")?;
    notes.extend(cal.notes.iter().cloned());
    let before = calibration::predict(net, &set_p, &cal_data, &Values::default(), &opts)?;
    let after = calibration::predict(net, &set_p, &cal_data, &cal.values, &opts)?;
    let fit = period_fit(label.clone(), &cal_data, &before, &after);
    let (quality, text) = verdict(&cal, &fit, None, opts.identifiable_sd);
    let used = fit.pressure_rmse_after < fit.pressure_rmse_before
        || (fit.pressure_rmse_before.is_nan() && cal.cost_after < cal.cost_before);
    let mut offsets = vec![0.0; set.sensors.len()];
    if used {
        for (o, off) in cal_data.observations.iter().zip(&cal.values.offsets) {
            let kind = match o.kind {
                ObsKind::Pressure => SensorKind::Pressure,
                ObsKind::Flow => SensorKind::Flow,
            };
            if let Some(i) = set
                .sensors
                .iter()
                .position(|s| s.column == o.name && s.kind == kind)
            {
                offsets[i] = *off;
            }
        }
    }
    Ok(ForDetector {
        network: if used {
            cal.network(net, &set_p)
        } else {
            net.clone()
        },
        offsets,
        summary: Summary {
            used,
            fit_quality: if used {
                quality.to_string()
            } else {
                "not better".into()
            },
            verdict: text,
            period: label,
            rows,
            pressure_rmse_before_m: fit.pressure_rmse_before,
            pressure_rmse_after_m: fit.pressure_rmse_after,
            pressure_within_after: fit.pressure_within_after.clone(),
            parameters: cal
                .parameters
                .iter()
                .map(|e| (e.name.clone(), e.before, e.after, e.sd, e.identifiable))
                .collect(),
            simulations: cal.simulations,
            seconds: t0.elapsed().as_secs_f64(),
            notes,
        },
    })
}

/// Subtracts each sensor's offset from its column of `data` (matched by
/// kind and column name).
pub fn apply_offsets(data: &mut ScadaData, set: &SensorSet, offsets: &[f64]) {
    for (s, &off) in set.sensors.iter().zip(offsets) {
        if off == 0.0 {
            continue;
        }
        if let Some(c) = data
            .columns
            .iter_mut()
            .find(|c| c.kind == s.kind && c.name == s.column)
        {
            for v in &mut c.values {
                *v -= off;
            }
        }
    }
}
