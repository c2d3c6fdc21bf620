//! Model pressures where no sensor measures them: an extended-period
//! simulation of the model (the `hydraulics` crate, EPANET 2.3's method)
//! with its own patterns over the report's window, sampled on the report's
//! step grid. Used for the night-day factor and the UARL's average
//! pressure of zones without pressure sensors, and for the pressure at a
//! located leak.
//!
//! Model time 0 is the model's start clock time on the window's first
//! local day, as the live twin and `detect` align their models
//! (`detection::time::model_origin_s`): a daily pattern is read at the
//! window's local hours, a weekly or yearly one from the window's first
//! day on.

use hydraulics::Simulation;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot prepare the model for simulation: {0}")]
    Prepare(String),
    #[error("the model's simulation failed at {time_s} s: {reason}")]
    Run { time_s: u64, reason: String },
}

/// Pressures (m) of `nodes` at the grid `from_ms + k·step_ms`, k < n, from
/// a simulation of `net` with its patterns (NaN at a step the simulation
/// did not report). `progress` is called with the simulated share (0–1).
pub fn pressures(
    net: &network::Network,
    from_ms: i64,
    utc_offset_s: i64,
    step_ms: i64,
    n: usize,
    nodes: &[usize],
    mut progress: impl FnMut(f64),
) -> Result<Vec<Vec<f64>>, ModelError> {
    let mut net = net.clone();
    let step_s = (step_ms / 1000).max(1) as u64;
    let duration = step_s * n.saturating_sub(1) as u64;
    let t = &mut net.times;
    t.duration = duration;
    t.hydraulic_step = t.hydraulic_step.clamp(1, step_s);
    t.report_step = step_s;
    t.report_start = 0;
    let from_s = from_ms.div_euclid(1000);
    let origin = detection::time::model_origin_s(from_s, utc_offset_s, t.start_clocktime);
    t.pattern_start += (from_s - origin).max(0) as u64;
    let mut sim = Simulation::from_network(net).map_err(|e| ModelError::Prepare(e.to_string()))?;
    let mut out = vec![vec![f64::NAN; n]; nodes.len()];
    loop {
        let rep = sim.run().map_err(|e| ModelError::Run {
            time_s: sim.time_s(),
            reason: e.to_string(),
        })?;
        let ts = rep.time_s;
        if ts % step_s == 0 {
            let k = (ts / step_s) as usize;
            if k < n {
                for (j, &i) in nodes.iter().enumerate() {
                    out[j][k] = sim.pressure_m(i);
                }
            }
        }
        progress(ts as f64 / duration.max(1) as f64);
        if sim.next() == 0 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reservoir feeding one junction whose demand follows a two-value
    /// daily pattern (hours 0–12: ×1, 12–24: ×3): the junction's pressure is
    /// higher in the first half of each day, and the grid is filled.
    #[test]
    fn follows_the_models_pattern() {
        let inp = "[JUNCTIONS]\n J1 10 5 P\n[RESERVOIRS]\n R 50\n[PIPES]\n P1 R J1 1000 150 100\n\
                   [PATTERNS]\n P 1 3\n[TIMES]\n DURATION 0\n HYDRAULIC TIMESTEP 1:00\n PATTERN TIMESTEP 12:00\n\
                   [OPTIONS]\n UNITS LPS\n[END]\n";
        let net = network::inp::parse_inp(inp, "t.inp").unwrap();
        let j = net.node_index("J1").unwrap();
        let from = 1_546_387_200_000; // 2019-01-02 00:00 UTC, a midnight
        let p = pressures(&net, from, 0, 3_600_000, 48, &[j], |_| {}).unwrap();
        assert!(p[0].iter().all(|x| x.is_finite()));
        assert!(p[0][0] > p[0][12], "night (×1) above day (×3)");
        assert!((p[0][0] - p[0][24]).abs() < 1e-9, "the pattern repeats");
        assert!(p[0][0] < 40.0 + 1e-9, "below the static head");
    }
}
