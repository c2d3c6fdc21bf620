//! Learnt normal behaviour (step 3 of the method): on a leak-free training
//! period, the balance excess over the model's expected consumption (per
//! demand pattern, least squares) and its variance as a function of demand,
//! and per residual channel the trend of measured − simulated in demand and
//! operating state (pump on/off, the mix of demand groups);
//! then the hourly balance excess and the detrended residuals used by
//! detection and localization. Pure maths on a [`Frame`]; no I/O.

use super::boundary::Frame;

/// Least squares `y ≈ X β` (normal equations with a tiny ridge).
#[allow(clippy::needless_range_loop)] // row operations on a[r] and a[c] of one matrix
pub(super) fn lstsq(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let p = x.first().map_or(0, Vec::len);
    let mut a = vec![vec![0.0; p]; p];
    let mut b = vec![0.0; p];
    for (xi, &yi) in x.iter().zip(y) {
        for i in 0..p {
            b[i] += xi[i] * yi;
            for j in 0..p {
                a[i][j] += xi[i] * xi[j];
            }
        }
    }
    let tr: f64 = (0..p).map(|i| a[i][i]).sum::<f64>() / p.max(1) as f64;
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += 1e-9 * tr + 1e-300;
    }
    // Gaussian elimination with partial pivoting.
    for c in 0..p {
        let piv = (c..p)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, piv);
        b.swap(c, piv);
        if a[c][c].abs() < 1e-300 {
            continue;
        }
        for r in c + 1..p {
            let f = a[r][c] / a[c][c];
            for k in c..p {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut beta = vec![0.0; p];
    for c in (0..p).rev() {
        let s: f64 = (c + 1..p).map(|k| a[c][k] * beta[k]).sum();
        beta[c] = if a[c][c].abs() < 1e-300 {
            0.0
        } else {
            (b[c] - s) / a[c][c]
        };
    }
    beta
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The learnt normal behaviour.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Normal {
    /// Balance: consumption ≈ Σ β_g · group demand.
    pub(super) beta: Vec<f64>,
    /// Variance of the hourly excess ≈ v0 + v1 · (expected hourly demand)².
    pub(super) v0: f64,
    pub(super) v1: f64,
    /// Per residual channel: coefficients on [1, u, u²] and residual std.
    pub(super) res_coef: Vec<Vec<f64>>,
    pub(super) res_sigma: Vec<f64>,
    /// Per residual channel: prefix sums of the detrended training
    /// residuals (for the noise of window-mean differences).
    pub(super) train_cum: Vec<Vec<f64>>,
    /// Scale of u (mean expected demand in training).
    pub(super) u_scale: f64,
    /// Operating state in the residual trends: pump on/off (and on × u)
    /// and the demand groups' shares (`mix`: the groups that vary).
    pub(super) state: bool,
    pub(super) mix: Vec<usize>,
    /// Without a water balance (`Setup::pressure_balance`): per residual
    /// channel, its weight in the consumption the pressures imply (the
    /// inverse variance of a pressure channel's detrended residual, 0 for
    /// other channels); empty with a balance.
    #[serde(default)]
    pub(super) pressure_weights: Vec<f64>,
}

fn expected_demand(n: &Normal, f: &Frame, r: usize) -> f64 {
    f.d_expect.iter().zip(&n.beta).map(|(g, b)| g[r] * b).sum()
}

fn features(n: &Normal, f: &Frame, r: usize) -> Vec<f64> {
    let u = (expected_demand(n, f, r) + f.q_amr[r]) / n.u_scale;
    let mut x = vec![1.0, u, u * u];
    if n.state {
        // A pump's flow and the pressures near it depend on whether it
        // runs, and the day's mix of consumer types moves where the model's
        // demand errors sit: without these, the mean residual of a day
        // shifts with the pump's duty cycle and with weekday/weekend.
        for open in &f.pump_open {
            let o = if open[r] { 1.0 } else { 0.0 };
            x.push(o);
            x.push(o * u);
        }
        for &g in &n.mix {
            x.push(f.d_expect[g][r] * n.beta[g] / n.u_scale);
        }
    }
    x
}

/// Learns the normal behaviour on `rows` of `f`. `pressures` (with
/// `Setup::pressure_balance`: per residual channel, whether it is a
/// pressure) makes the balance the consumption the pressures imply: the
/// model's consumption is then the expected one (no measured consumption
/// to fit it to).
pub(super) fn learn(
    f: &Frame,
    rows: std::ops::Range<usize>,
    state: bool,
    pressures: Option<&[bool]>,
) -> Normal {
    let beta = match pressures {
        Some(_) => vec![1.0; f.d_expect.len()],
        None => {
            let x: Vec<Vec<f64>> = rows
                .clone()
                .map(|r| f.d_expect.iter().map(|g| g[r]).collect())
                .collect();
            let y: Vec<f64> = rows.clone().map(|r| f.d_meas[r] - f.q_amr[r]).collect();
            lstsq(&x, &y)
        }
    };
    let mut n = Normal {
        beta,
        v0: 0.0,
        v1: 0.0,
        res_coef: vec![],
        res_sigma: vec![],
        train_cum: vec![],
        u_scale: 1.0,
        state,
        mix: vec![],
        pressure_weights: vec![],
    };
    let mean_d = rows
        .clone()
        .map(|r| expected_demand(&n, f, r) + f.q_amr[r])
        .sum::<f64>()
        / rows.len().max(1) as f64;
    n.u_scale = mean_d.max(1e-9);
    // Mix features (with the state only): every demand group but the first
    // (u holds the sum) whose expected demand varies in training.
    n.mix = (1..f.d_expect.len())
        .filter(|_| state)
        .filter(|&g| {
            let v: Vec<f64> = rows.clone().map(|r| f.d_expect[g][r] * n.beta[g]).collect();
            let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
            let sd =
                (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt();
            sd > 1e-3 * n.u_scale
        })
        .collect();
    // Residual trends.
    let xf: Vec<Vec<f64>> = rows.clone().map(|r| features(&n, f, r)).collect();
    for c in 0..f.meas.len() {
        let y: Vec<f64> = rows.clone().map(|r| f.meas[c][r] - f.sim[c][r]).collect();
        let coef = lstsq(&xf, &y);
        let ss: f64 = xf
            .iter()
            .zip(&y)
            .map(|(x, y)| (y - dot(x, &coef)).powi(2))
            .sum();
        n.res_sigma
            .push((ss / (y.len().max(2) - 1) as f64).sqrt().max(0.005));
        let mut cum = Vec::with_capacity(y.len() + 1);
        let mut acc = 0.0;
        cum.push(0.0);
        for (x, y) in xf.iter().zip(&y) {
            acc += y - dot(x, &coef);
            cum.push(acc);
        }
        n.train_cum.push(cum);
        n.res_coef.push(coef);
    }
    if let Some(p) = pressures {
        n.pressure_weights = p
            .iter()
            .zip(&n.res_sigma)
            .map(|(&is_p, s)| if is_p { 1.0 / (s * s) } else { 0.0 })
            .collect();
    }
    // Hourly excess variance as a function of demand.
    let hours = hourly(f, &n, rows.clone(), &[]);
    let hx: Vec<Vec<f64>> = hours.iter().map(|h| vec![1.0, h.1 * h.1]).collect();
    let hy: Vec<f64> = hours.iter().map(|h| h.0 * h.0).collect();
    let v = lstsq(&hx, &hy);
    let mean_var = hy.iter().sum::<f64>() / hy.len().max(1) as f64;
    n.v0 = v[0].max(0.05 * mean_var).max(1e-12);
    n.v1 = v[1].max(0.0);
    n
}

impl Normal {
    /// Rows of the training data behind the signature noise.
    pub(super) fn train_rows(&self) -> usize {
        self.train_cum
            .first()
            .map_or(0, |c| c.len().saturating_sub(1))
    }

    /// Standard deviation, over the training period, of the difference
    /// between the mean detrended residual of channel `c` over a window of
    /// `len` rows and over its `reference` windows: the noise of the
    /// localization signature (model mismatch that does not repeat from one
    /// day to the next, sensor resolution). Falls back to the residual
    /// standard deviation when training is too short. Windows start every
    /// `stride` rows (an hour).
    pub(super) fn signature_sd(
        &self,
        c: usize,
        len: usize,
        reference: Reference,
        stride: usize,
    ) -> f64 {
        let cum = &self.train_cum[c];
        let n = cum.len().saturating_sub(1);
        let len = len.max(1);
        let mean = |a: usize, b: usize| (cum[b] - cum[a]) / (b - a) as f64;
        let mut vals = Vec::new();
        let mut t = 0;
        while t + len <= n {
            let windows = reference.windows(t, len);
            if reference.is_complete(&windows) {
                let r =
                    windows.iter().map(|&(a, b)| mean(a, b)).sum::<f64>() / windows.len() as f64;
                vals.push(mean(t, t + len) - r);
            }
            t += stride.max(1);
        }
        if vals.len() < 2 {
            return self.res_sigma[c];
        }
        let m2 = vals.iter().map(|v| v * v).sum::<f64>() / vals.len() as f64;
        m2.sqrt().max(0.003)
    }
}

/// Per hour of `rows`: (mean excess, mean expected demand), m³/s. The
/// excess is the measured consumption over the expected one, or without a
/// water balance the extra consumption the pressures imply
/// ([`pressure_excess`], without the channels `masked`: a live sensor
/// excluded, its last value held).
pub(super) fn hourly(
    f: &Frame,
    n: &Normal,
    rows: std::ops::Range<usize>,
    masked: &[bool],
) -> Vec<(f64, f64)> {
    let per = f.per_hour();
    let mut out = Vec::new();
    let mut r = rows.start;
    while r + per <= rows.end {
        let mut e = 0.0;
        let mut d = 0.0;
        for rr in r..r + per {
            let ex = expected_demand(n, f, rr);
            e += if n.pressure_weights.is_empty() {
                f.d_meas[rr] - f.q_amr[rr] - ex
            } else {
                pressure_excess(n, f, rr, masked)
            };
            d += ex + f.q_amr[rr];
        }
        out.push((e / per as f64, d / per as f64));
        r += per;
    }
    out
}

/// The extra consumption (m³/s) that best explains the detrended pressure
/// residuals of row `r` (weighted least squares on the pressures'
/// sensitivity to consumption, `Frame::sens`): a leak lowers the pressures
/// as more consumption would, more near it; what the model's consumption
/// is off by, and a leak, both show here.
pub(super) fn pressure_excess(n: &Normal, f: &Frame, r: usize, masked: &[bool]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (c, &w) in n.pressure_weights.iter().enumerate() {
        let s = f.sens[c].get(r).copied().unwrap_or(0.0);
        if w == 0.0 || s == 0.0 || masked.get(c).copied().unwrap_or(false) {
            continue;
        }
        let z = detrended(n, f, c, r);
        if z.is_finite() {
            num += w * s * z;
            den += w * s * s;
        }
    }
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// Detrended residual of channel `c` at row `r`.
pub(super) fn detrended(n: &Normal, f: &Frame, c: usize, r: usize) -> f64 {
    f.meas[c][r] - f.sim[c][r] - dot(&features(n, f, r), &n.res_coef[c])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_windows() {
        assert_eq!(Reference::Before(288).windows(1000, 36), vec![(712, 1000)]);
        assert_eq!(Reference::Before(288).windows(100, 36), vec![(0, 100)]);
        assert!(Reference::Before(288).windows(0, 36).is_empty());
        let same = Reference::SameTime { day: 288, days: 2 };
        assert_eq!(same.windows(700, 36), vec![(412, 448), (124, 160)]);
        // Only the days that fit after row 0.
        assert_eq!(same.windows(300, 36), vec![(12, 48)]);
        assert!(same.is_complete(&same.windows(700, 36)));
        assert!(!same.is_complete(&same.windows(300, 36)));
        assert!(!Reference::Before(288).is_complete(&[(0, 100)]));
    }

    /// A synthetic frame: two demand groups (a daily one and a weekly one,
    /// like residential and commercial), one pump running `on(r)`, and one
    /// channel whose residual is an offset while the pump runs.
    #[allow(clippy::approx_constant)] // the test signal's period, as first written
    fn frame(rows: usize, on: impl Fn(usize) -> bool) -> Frame {
        let g1: Vec<f64> = (0..rows)
            .map(|r| 0.03 + 0.01 * ((r % 288) as f64 / 288.0 * 6.283).sin())
            .collect();
        let g2: Vec<f64> = (0..rows)
            .map(|r| 0.01 + 0.005 * (((r / 288) % 7) as f64 / 7.0 * 6.283).cos())
            .collect();
        let pump: Vec<bool> = (0..rows).map(on).collect();
        let meas: Vec<f64> = (0..rows)
            .map(|r| 50.0 + if pump[r] { 0.4 } else { 0.0 })
            .collect();
        Frame {
            rows,
            start_step: 0,
            pattern_start: 0,
            d_meas: (0..rows).map(|r| g1[r] + g2[r]).collect(),
            q_amr: vec![0.0; rows],
            d_group: vec![g1.clone(), g2.clone()],
            d_expect: vec![g1, g2],
            amr_model: vec![],
            amr_meas: vec![],
            m: vec![1.0; rows],
            levels: vec![],
            pump_open: vec![pump],
            meas: vec![meas],
            sim: vec![vec![50.0; rows]],
            ..Frame::blank()
        }
    }

    #[test]
    fn the_pressures_tell_the_extra_consumption() {
        // Two pressure channels (one quieter, weighted more) and a flow
        // channel the statistic leaves out; 3 L/s more than the model
        // consumes lowers the pressures by their sensitivity times it.
        let rows = 4;
        let sens = [-400.0, -150.0, 9.0];
        let extra = 0.003;
        let f = Frame {
            rows,
            d_expect: vec![vec![0.02; rows]],
            q_amr: vec![0.0; rows],
            meas: sens.iter().map(|s| vec![50.0 + s * extra; rows]).collect(),
            sim: vec![vec![50.0; rows]; 3],
            sens: sens.iter().map(|&s| vec![s; rows]).collect(),
            ..Frame::blank()
        };
        let n = Normal {
            beta: vec![1.0],
            v0: 0.0,
            v1: 0.0,
            res_coef: vec![vec![0.0; 3]; 3],
            res_sigma: vec![0.1, 0.05, 1.0],
            train_cum: vec![],
            u_scale: 0.02,
            state: false,
            mix: vec![],
            pressure_weights: vec![100.0, 400.0, 0.0],
        };
        for r in 0..rows {
            assert!((pressure_excess(&n, &f, r, &[]) - extra).abs() < 1e-12);
        }
        // A row whose sensitivity is unknown (not solved) tells nothing.
        let mut g = f.clone();
        for v in &mut g.sens {
            v[1] = 0.0;
        }
        assert_eq!(pressure_excess(&n, &g, 1, &[]), 0.0);
        // A live sensor excluded holds its last value: masked, the others
        // still tell the extra consumption.
        let mut h = f.clone();
        h.meas[1] = vec![50.0; rows];
        assert!((pressure_excess(&n, &h, 2, &[]) - extra).abs() > 1e-4);
        assert!((pressure_excess(&n, &h, 2, &[false, true, false]) - extra).abs() < 1e-12);
    }

    #[test]
    fn operating_state_keeps_the_duty_cycle_out_of_the_residual() {
        // Training: the pump runs 40 % of every hour. Later: 70 %.
        let f = frame(14 * 288, |r| {
            let duty = if r < 7 * 288 { 5 } else { 8 };
            r % 12 < duty
        });
        let window = |n: &Normal| {
            (10 * 288..11 * 288)
                .map(|r| detrended(n, &f, 0, r))
                .sum::<f64>()
                / 288.0
        };
        let plain = learn(&f, 0..7 * 288, false, None);
        let state = learn(&f, 0..7 * 288, true, None);
        assert_eq!(state.mix, vec![1]);
        // Without the state the day's mean residual moves with the duty
        // cycle (0.4 m × 30 % more running time), like a leak would.
        assert!(window(&plain).abs() > 0.1, "{}", window(&plain));
        assert!(window(&state).abs() < 1e-3, "{}", window(&state));
    }

    #[test]
    fn least_squares_recovers_coefficients() {
        let x: Vec<Vec<f64>> = (0..50)
            .map(|i| vec![1.0, i as f64, (i * i) as f64 / 10.0])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 2.0 - 0.5 * r[1] + 0.25 * r[2]).collect();
        let b = lstsq(&x, &y);
        assert!(
            (b[0] - 2.0).abs() < 1e-4 && (b[1] + 0.5).abs() < 1e-5 && (b[2] - 0.25).abs() < 1e-6,
            "{b:?}"
        );
    }
}

/// What a localization window is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reference {
    /// The `n` rows just before the window.
    Before(usize),
    /// The same clock times on each of the `days` days before (`day` rows).
    SameTime { day: usize, days: usize },
}

impl Reference {
    /// The reference windows `[a, b)` of a window of `len` rows starting at
    /// row `start` (those that fit before row 0 are left out).
    pub(super) fn windows(self, start: usize, len: usize) -> Vec<(usize, usize)> {
        match self {
            Reference::Before(n) => {
                let a = start.saturating_sub(n);
                if start > a {
                    vec![(a, start)]
                } else {
                    vec![]
                }
            }
            Reference::SameTime { day, days } => (1..=days)
                .filter(|d| start >= d * day)
                .map(|d| (start - d * day, start - d * day + len))
                .collect(),
        }
    }

    /// All reference windows present, each at full length.
    fn is_complete(self, windows: &[(usize, usize)]) -> bool {
        match self {
            Reference::Before(n) => windows.len() == 1 && windows[0].1 - windows[0].0 == n.max(1),
            Reference::SameTime { days, .. } => windows.len() == days,
        }
    }
}
