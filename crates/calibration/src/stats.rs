//! Goodness of fit per sensor: RMSE and the share of readings within the
//! acceptance bands engineers use (pressure ±0.5 / ±0.75 / ±2 m, flow
//! ±5 / ±10 % of the measured flow). Every flow reading is counted against
//! both flow bands; the flow criterion commonly attributed to WRc (1989),
//! unverified, instead gives each reading one band, ±5 % where the flow
//! exceeds 10 % of the total demand and ±10 % otherwise.

use crate::data::{Data, ObsKind};
use serde::Serialize;

/// Pressure bands, m.
pub const PRESSURE_BANDS_M: [f64; 3] = [0.5, 0.75, 2.0];
/// Flow bands, relative to the measured flow.
pub const FLOW_BANDS: [f64; 2] = [0.05, 0.10];

/// Fit of one sensor over one period.
#[derive(Debug, Clone, Serialize)]
pub struct SensorFit {
    pub sensor: String,
    pub kind: ObsKind,
    /// Readings compared.
    pub n: usize,
    /// Root-mean-square of measured − modelled (m, or m³/s for flows).
    pub rmse: f64,
    /// Mean of measured − modelled.
    pub bias: f64,
    /// Share of readings within each band ([`PRESSURE_BANDS_M`] or [`FLOW_BANDS`]).
    pub within: Vec<f64>,
}

/// Fits of every observation of `data` against `modelled` (observation-major,
/// offsets already added).
pub fn sensor_fits(data: &Data, modelled: &[f64]) -> Vec<SensorFit> {
    data.observations
        .iter()
        .enumerate()
        .map(|(o, ob)| {
            let bands: &[f64] = match ob.kind {
                ObsKind::Pressure => &PRESSURE_BANDS_M,
                ObsKind::Flow => &FLOW_BANDS,
            };
            let mut n = 0;
            let (mut ss, mut sum) = (0.0, 0.0);
            let mut within = vec![0usize; bands.len()];
            for (r, &m) in ob.values.iter().enumerate() {
                let p = modelled[o * data.rows + r];
                if !m.is_finite() || !p.is_finite() {
                    continue;
                }
                let e = m - p;
                n += 1;
                ss += e * e;
                sum += e;
                for (w, &b) in within.iter_mut().zip(bands) {
                    let lim = match ob.kind {
                        ObsKind::Pressure => b,
                        ObsKind::Flow => b * m.abs(),
                    };
                    if e.abs() <= lim {
                        *w += 1;
                    }
                }
            }
            let nf = n.max(1) as f64;
            SensorFit {
                sensor: ob.name.clone(),
                kind: ob.kind,
                n,
                rmse: (ss / nf).sqrt(),
                bias: sum / nf,
                within: within.iter().map(|&w| w as f64 / nf).collect(),
            }
        })
        .collect()
}

/// Share of all readings of `kind` within each band (pooled over sensors).
pub fn pooled_within(fits: &[SensorFit], kind: ObsKind) -> Vec<f64> {
    let nb = match kind {
        ObsKind::Pressure => PRESSURE_BANDS_M.len(),
        ObsKind::Flow => FLOW_BANDS.len(),
    };
    let mut tot = 0.0;
    let mut w = vec![0.0; nb];
    for f in fits.iter().filter(|f| f.kind == kind) {
        tot += f.n as f64;
        for (a, b) in w.iter_mut().zip(&f.within) {
            *a += b * f.n as f64;
        }
    }
    w.iter()
        .map(|a| if tot > 0.0 { a / tot } else { 0.0 })
        .collect()
}

/// Root-mean-square over all pressure readings.
pub fn pooled_rmse(fits: &[SensorFit], kind: ObsKind) -> f64 {
    let (mut ss, mut n) = (0.0, 0usize);
    for f in fits.iter().filter(|f| f.kind == kind) {
        ss += f.rmse * f.rmse * f.n as f64;
        n += f.n;
    }
    if n == 0 {
        0.0
    } else {
        (ss / n as f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Observation;

    #[test]
    fn bands_rmse_and_missing_readings() {
        let data = Data {
            start_s: 0,
            step_s: 300,
            rows: 4,
            observations: vec![
                Observation {
                    name: "p".into(),
                    kind: ObsKind::Pressure,
                    element: 0,
                    values: vec![10.0, 10.0, 10.0, f64::NAN],
                    range: None,
                },
                Observation {
                    name: "q".into(),
                    kind: ObsKind::Flow,
                    element: 0,
                    values: vec![1.0, 1.0, 1.0, 1.0],
                    range: None,
                },
            ],
            tank_levels: vec![],
            pump_flows: vec![],
        };
        // Errors: pressure 0.4, 0.7, 3.0 m (4th missing); flow 4 %, 8 %, 20 %, 0 %.
        let model = [9.6, 9.3, 7.0, 0.0, 0.96, 0.92, 0.8, 1.0];
        let f = sensor_fits(&data, &model);
        assert_eq!(f[0].n, 3);
        let rmse = ((0.4f64.powi(2) + 0.7f64.powi(2) + 9.0) / 3.0).sqrt();
        assert!((f[0].rmse - rmse).abs() < 1e-12);
        assert_eq!(f[0].within, vec![1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]);
        assert_eq!(f[1].within, vec![0.5, 0.75]);
        assert_eq!(pooled_within(&f, ObsKind::Pressure), f[0].within);
    }
}
