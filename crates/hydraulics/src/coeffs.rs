//! Head-loss coefficients of links, emitters and pressure-driven demands,
//! and assembly of the linearized system (EPANET's `hydcoeffs.c` logic):
//! for each link, P = 1 / (head-loss gradient) and Y = head loss / gradient.

use crate::prepared::{
    interp, stat, Incidence, LinkType, Opts, Prepared, PumpType, CBIG, CSMALL, MISSING, TINY,
};
use crate::solver::State;
use crate::sparse::NONE;
use network::HeadlossFormula;

// Constants of EPANET's Darcy-Weisbach friction factor.
// Written with EPANET's own digits (more than an f64 holds; the compiler
// rounds them to the same doubles EPANET's C compiler does).
#[allow(clippy::excessive_precision)]
const A1: f64 = 3.14159265358979323850e+03; // 1000*PI
#[allow(clippy::excessive_precision)]
const A2: f64 = 1.57079632679489661930e+03; // 500*PI
#[allow(clippy::excessive_precision)]
const A8: f64 = 4.61841319859066668690e+00; // 5.74*(PI/4)^.9
#[allow(clippy::excessive_precision)]
const A9: f64 = -8.68588963806503655300e-01; // -2/ln(10)
#[allow(clippy::excessive_precision)]
const AB: f64 = 3.28895476345399058690e-03; // 5.74/(4000^.9)
#[allow(clippy::excessive_precision)]
const AC: f64 = -5.14214965799093883760e-03; // AA*AB

/// `x^y` for x ≥ 0 as exp2(y·log2 x): within a few ulps of `powf` and
/// about twice as fast, which matters in the per-link loops.
#[inline(always)]
pub fn fpow(x: f64, y: f64) -> f64 {
    (y * x.log2()).exp2()
}

#[inline]
fn sgn(x: f64) -> f64 {
    if x < 0.0 {
        -1.0
    } else {
        1.0
    }
}

fn add_lower_barrier(dq: f64, hloss: &mut f64, hgrad: &mut f64) {
    let a = 1.0e9 * dq;
    let b = (a * a + 1.0e-6).sqrt();
    *hloss += (a - b) / 2.0;
    *hgrad += (1.0e9 / 2.0) * (1.0 - a / b);
}

fn add_upper_barrier(dq: f64, hloss: &mut f64, hgrad: &mut f64) {
    let a = 1.0e9 * dq;
    let b = (a * a + 1.0e-6).sqrt();
    *hloss += (a + b) / 2.0;
    *hgrad += (1.0e9 / 2.0) * (1.0 + a / b);
}

/// Computes P and Y of every link: pipes in one tight loop per head-loss
/// formula, then pumps and valves.
pub fn headloss_coeffs(pr: &Prepared, s: &mut State) {
    pipe_coeffs(pr, s);
    other_coeffs(pr, s);
}

/// P and Y of pipes computed for one state's pipe flows, statuses and
/// resistances, kept to be copied into another state with the same bits
/// in them: the scenarios of a batch start their first trial from their
/// common base's flows, so one computation serves them all.
#[derive(Default)]
pub(crate) struct SharedPipeCoeffs {
    flow: Vec<f64>,
    status: Vec<u8>,
    r: Vec<f64>,
    p: Vec<f64>,
    y: Vec<f64>,
}

/// Whether `a` and `b` hold the same bits (in blocks, so that the
/// comparison vectorizes).
fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.chunks(64).zip(b.chunks(64)).all(|(x, y)| {
            x.iter()
                .zip(y)
                .fold(0u64, |d, (u, v)| d | (u.to_bits() ^ v.to_bits()))
                == 0
        })
}

/// [`headloss_coeffs`], taking the pipes' P and Y from `shared` when they
/// were computed there for the same pipe flows, statuses and resistances
/// (the same bits as computing them), else computing them and keeping
/// them there.
pub(crate) fn headloss_coeffs_shared(pr: &Prepared, s: &mut State, shared: &mut SharedPipeCoeffs) {
    let nl = pr.nlinks;
    let same = same_bits(&shared.flow, &s.flow[..nl])
        && shared.status == s.status[..nl]
        && same_bits(&shared.r, &s.r[..nl]);
    if same {
        for &k in &pr.pipes {
            s.p[k] = shared.p[k];
            s.y[k] = shared.y[k];
        }
    } else {
        pipe_coeffs(pr, s);
        let keep = |dst: &mut Vec<f64>, src: &[f64]| {
            dst.clear();
            dst.extend_from_slice(&src[..nl]);
        };
        keep(&mut shared.flow, &s.flow);
        keep(&mut shared.r, &s.r);
        keep(&mut shared.p, &s.p);
        keep(&mut shared.y, &s.y);
        shared.status.clear();
        shared.status.extend_from_slice(&s.status[..nl]);
    }
    other_coeffs(pr, s);
}

/// P and Y of every pipe: one tight loop per head-loss formula. They
/// depend on the pipes' flows, statuses and resistances only.
fn pipe_coeffs(pr: &Prepared, s: &mut State) {
    let o = &pr.opts;
    let (hexp, rqtol) = (o.hexp, o.rqtol);
    let State {
        flow,
        status,
        p,
        y,
        r,
        pw,
        dw_cubic,
        ..
    } = s;
    match o.formula {
        HeadlossFormula::DarcyWeisbach => {
            // The libm calls of the turbulent friction factor first, pass by
            // pass (log2 and exp2 of w^−0.9, then ln), so they run back to
            // back instead of each heading a chain of divisions.
            let npipes = pr.pipes.len();
            assert!(pw.len() >= 2 * npipes && flow.len() >= pr.nlinks);
            let (y1s, lns) = pw.split_at_mut(npipes);
            let turbulent = |q: f64, sv: f64| q > A2 * sv && q / sv >= A1;
            for (j, &k) in pr.pipes.iter().enumerate() {
                let q = flow[k].abs();
                let sv = pr.dw_s[j];
                if status[k] > stat::CLOSED && turbulent(q, sv) {
                    y1s[j] = (q / sv).log2();
                }
            }
            for (j, &k) in pr.pipes.iter().enumerate() {
                let q = flow[k].abs();
                let sv = pr.dw_s[j];
                if status[k] > stat::CLOSED && turbulent(q, sv) {
                    y1s[j] = A8 * (-0.9 * y1s[j]).exp2(); // A8 · fpow(w, −0.9)
                    lns[j] = (pr.dw_e37[j] + y1s[j]).ln();
                }
            }
            for (j, &k) in pr.pipes.iter().enumerate() {
                let q_signed = flow[k];
                if status[k] <= stat::CLOSED {
                    p[k] = 1.0 / CBIG;
                    y[k] = q_signed;
                    continue;
                }
                let q = q_signed.abs();
                let rk = r[k];
                let ml = pr.km[k];
                let sv = pr.dw_s[j];
                let (hloss, hgrad);
                if q <= A2 * sv {
                    let rl = 16.0 * std::f64::consts::PI * sv * rk;
                    hloss = q_signed * (rl + ml * q);
                    hgrad = rl + 2.0 * ml * q;
                } else {
                    let (f, dfdq) = if q / sv >= A1 {
                        friction_factor_turbulent(q, pr.dw_e37[j], y1s[j], lns[j])
                    } else {
                        let x = &mut dw_cubic[j];
                        if x[0].is_nan() {
                            *x = dunlop_cubic(pr.dw_e37[j]);
                        }
                        friction_factor_transition(q, sv, x)
                    };
                    let r1 = f * rk + ml;
                    hloss = r1 * q * q_signed;
                    hgrad = (2.0 * r1 * q) + (dfdq * rk * q * q);
                }
                let pk = 1.0 / hgrad;
                p[k] = pk;
                y[k] = hloss * pk;
            }
        }
        _ => {
            // x^(n−1) of every pipe first: the libm calls then run back to
            // back, independent of each other, instead of each heading a
            // chain of divisions.
            let e = hexp - 1.0;
            let npipes = pr.pipes.len();
            let pw = &mut pw[..npipes];
            assert!(flow.len() >= pr.nlinks);
            let n = npipes;
            let contiguous = n > 0 && pr.pipes[n - 1] == n - 1;
            for (w, &k) in pw.iter_mut().zip(&pr.pipes) {
                debug_assert!(k < pr.nlinks);
                // SAFETY: pipe indices are < nlinks == flow.len() (asserted).
                *w = unsafe { flow.get_unchecked(k) }.abs().log2();
            }
            for w in pw.iter_mut() {
                *w = (e * *w).exp2(); // = fpow(q, hexp − 1)
            }
            if contiguous {
                // Pipes are links 0..n (the usual case): one branch-free
                // pass over contiguous slices, which vectorizes.
                hw_pipes(
                    hexp,
                    rqtol,
                    &flow[..n],
                    &status[..n],
                    &r[..n],
                    &pr.km[..n],
                    pw,
                    &mut p[..n],
                    &mut y[..n],
                );
            } else {
                for (&w, &k) in pw.iter().zip(&pr.pipes) {
                    let (pk, yk) = hw_pipe(hexp, rqtol, flow[k], status[k], r[k], pr.km[k], w);
                    p[k] = pk;
                    y[k] = yk;
                }
            }
        }
    }
}

/// P and Y of pumps and valves.
fn other_coeffs(pr: &Prepared, s: &mut State) {
    for &k in &pr.others {
        match pr.ltype[k] {
            LinkType::Pump => pump_coeff(pr, s, k),
            LinkType::Pbv => pbv_coeff(pr, s, k),
            LinkType::Tcv => {
                let km = if s.setting[k] != MISSING {
                    let d = pr.diam[k];
                    0.02517 * s.setting[k] / (d * d) / (d * d)
                } else {
                    pr.km[k]
                };
                valve_coeff_km(pr, s, k, km);
            }
            LinkType::Pcv => {
                let km = if s.setting[k] != MISSING {
                    pcv_loss_coeff(pr, k, s.setting[k])
                } else {
                    pr.km[k]
                };
                valve_coeff_km(pr, s, k, km);
            }
            LinkType::Gpv => gpv_coeff(pr, s, k),
            LinkType::Fcv | LinkType::Prv | LinkType::Psv => {
                if s.setting[k] == MISSING {
                    valve_coeff_km(pr, s, k, pr.km[k]);
                } else {
                    s.p[k] = 0.0;
                }
            }
            // `others` holds no pipes (see Prepared::others).
            LinkType::Pipe | LinkType::CvPipe => {}
        }
    }
}

/// P and Y of one Hazen-Williams pipe from `w` = |q|^(hexp − 1), without
/// branches (selects instead), so that a loop of them vectorizes; the
/// same operations on the same values as EPANET's `hwcoeff`.
#[inline(always)]
fn hw_pipe(
    hexp: f64,
    rqtol: f64,
    q_signed: f64,
    status: u8,
    r: f64,
    ml: f64,
    w: f64,
) -> (f64, f64) {
    let q = q_signed.abs();
    let g = hexp * r * w;
    let small = g < rqtol;
    let hgrad = if small { rqtol / hexp } else { g };
    let hq = hgrad * q;
    let hloss = if small { hq } else { hq / hexp };
    let minor = ml > 0.0;
    let hloss = if minor { hloss + ml * q * q } else { hloss };
    let hgrad = if minor { hgrad + 2.0 * ml * q } else { hgrad };
    let hloss = if q_signed < 0.0 { -hloss } else { hloss };
    let pk = 1.0 / hgrad;
    let yk = hloss * pk;
    if status <= stat::CLOSED {
        (1.0 / CBIG, q_signed)
    } else {
        (pk, yk)
    }
}

/// [`hw_pipe`] over pipes that are links 0..n (all slices of length n).
#[allow(clippy::too_many_arguments)]
fn hw_pipes(
    hexp: f64,
    rqtol: f64,
    flow: &[f64],
    status: &[u8],
    r: &[f64],
    km: &[f64],
    w: &[f64],
    p: &mut [f64],
    y: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked above).
        unsafe { hw_pipes_avx2(hexp, rqtol, flow, status, r, km, w, p, y) };
        return;
    }
    hw_pipes_generic(hexp, rqtol, flow, status, r, km, w, p, y);
}

/// The loop of [`hw_pipes`] compiled for AVX2: 4-wide vectors of the same
/// IEEE operations (no FMA contraction: Rust never fuses), so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn hw_pipes_avx2(
    hexp: f64,
    rqtol: f64,
    flow: &[f64],
    status: &[u8],
    r: &[f64],
    km: &[f64],
    w: &[f64],
    p: &mut [f64],
    y: &mut [f64],
) {
    hw_pipes_generic(hexp, rqtol, flow, status, r, km, w, p, y);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn hw_pipes_generic(
    hexp: f64,
    rqtol: f64,
    flow: &[f64],
    status: &[u8],
    r: &[f64],
    km: &[f64],
    w: &[f64],
    p: &mut [f64],
    y: &mut [f64],
) {
    let n = flow.len();
    let (status, r, km, w, p, y) = (
        &status[..n],
        &r[..n],
        &km[..n],
        &w[..n],
        &mut p[..n],
        &mut y[..n],
    );
    for j in 0..n {
        let (pk, yk) = hw_pipe(hexp, rqtol, flow[j], status[j], r[j], km[j], w[j]);
        p[j] = pk;
        y[j] = yk;
    }
}

/// The turbulent branch of [`friction_factor_e37`] with its libm values
/// given: `y1 = A8 · (q/s)^−0.9` and `ln_y2 = ln(e37 + y1)`.
#[inline(always)]
fn friction_factor_turbulent(q: f64, e37: f64, y1: f64, ln_y2: f64) -> (f64, f64) {
    let y2 = e37 + y1;
    let inv_y3 = 1.0 / (A9 * ln_y2);
    let f = inv_y3 * inv_y3;
    let dfdq = 1.8 * f * y1 * A9 * inv_y3 / (y2 * q);
    (f, dfdq)
}

/// Coefficients of the transition-zone (Dunlop) cubic of a pipe: they
/// depend only on its relative roughness, so they are computed once per
/// pipe (`State::dw_cubic`); the same expressions as EPANET's `frictionFactor`.
pub fn dunlop_cubic(e37: f64) -> [f64; 4] {
    let y2 = e37 + AB;
    let y3 = A9 * y2.ln();
    let fa = 1.0 / (y3 * y3);
    let fb = (2.0 + AC / (y2 * y3)) * fa;
    let x1 = 7.0 * fa - fb;
    let x2 = 0.128 - 17.0 * fa + 2.5 * fb;
    let x3 = -0.128 + 13.0 * fa - (fb + fb);
    let x4 = 0.032 - 3.0 * fa + 0.5 * fb;
    [x1, x2, x3, x4]
}

/// The transition branch of [`friction_factor_e37`] with the pipe's cubic.
#[inline(always)]
fn friction_factor_transition(q: f64, s: f64, x: &[f64; 4]) -> (f64, f64) {
    let w = q / s;
    let [x1, x2, x3, x4] = *x;
    let r = w / A2;
    let f = x1 + r * (x2 + r * (x3 + r * x4));
    let dfdq = (x2 + r * (2.0 * x3 + r * 3.0 * x4)) / s / A2;
    (f, dfdq)
}

/// EPANET's Darcy-Weisbach friction factor and its derivative with respect
/// to flow, for flows above the laminar zone (reference form; the solver
/// uses its two branches with precomputed libm values).
#[cfg(test)]
fn friction_factor_e37(q: f64, e37: f64, s: f64) -> (f64, f64) {
    let w = q / s;
    if w >= A1 {
        let y1 = A8 * fpow(w, -0.9);
        friction_factor_turbulent(q, e37, y1, (e37 + y1).ln())
    } else {
        friction_factor_transition(q, s, &dunlop_cubic(e37))
    }
}

/// Intercept and slope of the curve segment around flow `q` (internal
/// units; the curve is in file units).
fn curve_coeff(pr: &Prepared, c: usize, q: f64) -> (f64, f64) {
    let qf = q * pr.ucf.flow;
    let pts = &pr.curves[c];
    let npts = pts.len();
    if npts < 2 {
        let h = pts.first().map(|p| p.1).unwrap_or(0.0);
        return (h / pr.ucf.head, 0.0);
    }
    let mut k2 = 0;
    while k2 < npts && pts[k2].0 < qf {
        k2 += 1;
    }
    if k2 == 0 {
        k2 += 1;
    } else if k2 == npts {
        k2 -= 1;
    }
    let k1 = k2 - 1;
    let r = (pts[k2].1 - pts[k1].1) / (pts[k2].0 - pts[k1].0);
    let h0 = pts[k1].1 - r * pts[k1].0;
    (h0 / pr.ucf.head, r * pr.ucf.flow / pr.ucf.head)
}

fn pump_coeff(pr: &Prepared, s: &mut State, k: usize) {
    let setting = s.setting[k];
    let flow = s.flow[k];
    if s.status[k] <= stat::CLOSED || setting == 0.0 {
        s.p[k] = 1.0 / CBIG;
        s.y[k] = flow;
        return;
    }
    let q = flow.abs();
    let pi = pr.link_pump[k];
    let pump = &pr.pumps[pi];
    let (hloss, hgrad);
    match pump.ptype {
        PumpType::NoCurve => {
            s.p[k] = 1.0 / CSMALL;
            s.y[k] = flow;
            return;
        }
        PumpType::Custom => {
            let (h0, r) = curve_coeff(pr, pump.curve.unwrap_or(0), q / setting);
            let ph0 = -h0;
            let pr_ = -r;
            hgrad = pr_ * setting;
            hloss = ph0 * setting * setting + hgrad * flow;
        }
        _ => {
            let h0 = setting * setting * pump.h0;
            let mut n = pump.n;
            if (n - 1.0).abs() < TINY {
                n = 1.0;
            }
            let r = pump.r * setting.powf(2.0 - n);
            if pump.ptype == PumpType::ConstHp {
                let g = -r / q / q;
                if g > CBIG {
                    s.p[k] = 1.0 / CBIG;
                    s.y[k] = flow;
                    return;
                } else if g < CSMALL {
                    s.p[k] = 1.0 / CSMALL;
                    s.y[k] = flow;
                    return;
                }
                hgrad = g;
                hloss = r / flow;
            } else if n != 1.0 {
                let g = n * r * fpow(q, n - 1.0);
                if g < pr.opts.rqtol {
                    hgrad = pr.opts.rqtol;
                    hloss = h0 + hgrad * flow;
                } else {
                    hgrad = g;
                    hloss = h0 + hgrad * flow / n;
                }
            } else {
                hgrad = r;
                hloss = h0 + hgrad * flow;
            }
        }
    }
    s.p[k] = 1.0 / hgrad;
    s.y[k] = hloss / hgrad;
}

fn gpv_coeff(pr: &Prepared, s: &mut State, k: usize) {
    if s.status[k] == stat::CLOSED {
        valve_coeff_km(pr, s, k, pr.km[k]);
        return;
    }
    let Some(c) = pr.valve_curve[k] else {
        valve_coeff_km(pr, s, k, pr.km[k]);
        return;
    };
    let q = s.flow[k].abs().max(TINY);
    let (h0, r) = curve_coeff(pr, c, q);
    let r = r.max(TINY);
    s.p[k] = 1.0 / r;
    s.y[k] = (h0 / r + q) * sgn(s.flow[k]);
}

fn pbv_coeff(pr: &Prepared, s: &mut State, k: usize) {
    let set = s.setting[k];
    if set == MISSING || set == 0.0 || pr.km[k] * s.flow[k] * s.flow[k] > set {
        valve_coeff_km(pr, s, k, pr.km[k]);
    } else {
        s.p[k] = CBIG;
        s.y[k] = set * CBIG;
    }
}

/// A positional control valve's loss coefficient at `setting` percent open.
fn pcv_loss_coeff(pr: &Prepared, k: usize, sv: f64) -> f64 {
    let kmo = pr.km[k];
    if sv >= 100.0 {
        return kmo;
    }
    if sv <= 0.0 {
        return CBIG;
    }
    let mut kvr = match pr.valve_curve[k] {
        None => sv,
        Some(c) => {
            let pts = &pr.curves[c];
            let npts = pts.len();
            if npts == 0 {
                sv
            } else if sv < pts[0].0 {
                sv / pts[0].0 * pts[0].1
            } else if sv > pts[npts - 1].0 {
                let k2 = npts - 1;
                (sv - pts[k2].0) / (1.0 - pts[k2].0) * (1.0 - pts[k2].1) + pts[k2].1
            } else {
                let mut k2 = 0;
                while k2 < npts && pts[k2].0 < sv {
                    k2 += 1;
                }
                if k2 == 0 {
                    k2 += 1;
                } else if k2 == npts {
                    k2 -= 1;
                }
                let k1 = k2 - 1;
                let slope = (pts[k2].1 - pts[k1].1) / (pts[k2].0 - pts[k1].0);
                pts[k1].1 + slope * (sv - pts[k1].0)
            }
        }
    };
    kvr /= 100.0;
    // Not `clamp`: min then max, as EPANET writes it (the two differ on NaN).
    #[allow(clippy::manual_clamp)]
    let kvr = kvr.min(1.0).max(CSMALL);
    (kmo / (kvr * kvr)).min(CBIG)
}

/// An open, closed or throttled valve with minor loss coefficient `km`.
fn valve_coeff_km(pr: &Prepared, s: &mut State, k: usize, km: f64) {
    let flow = s.flow[k];
    if s.status[k] <= stat::CLOSED {
        s.p[k] = 1.0 / CBIG;
        s.y[k] = flow;
        return;
    }
    if km > 0.0 {
        let q = flow.abs();
        let mut hgrad = 2.0 * km * q;
        let hloss;
        if hgrad < pr.opts.rqtol {
            hgrad = pr.opts.rqtol / 2.0;
            hloss = flow * hgrad;
        } else {
            hloss = flow * hgrad / 2.0;
        }
        s.p[k] = 1.0 / hgrad;
        s.y[k] = hloss / hgrad;
    } else {
        s.p[k] = 1.0 / CSMALL;
        s.y[k] = flow;
    }
}

/// Emitter head loss and gradient at junction `i`.
pub fn emitter_headloss(pr: &Prepared, s: &State, i: usize) -> (f64, f64) {
    emitter_hl(&pr.opts, s.ke[i], s.emitter_flow[i])
}

/// Emitter head loss and gradient for coefficient `ke` and flow `q`.
#[inline]
pub fn emitter_hl(o: &Opts, ke: f64, q: f64) -> (f64, f64) {
    let ke = ke.max(CSMALL);
    let mut hgrad = o.qexp * ke * fpow(q.abs(), o.qexp - 1.0);
    let mut hloss;
    if hgrad < o.rqtol {
        hgrad = o.rqtol / o.qexp;
        hloss = hgrad * q;
    } else {
        hloss = hgrad * q / o.qexp;
    }
    if !o.emit_backflow {
        add_lower_barrier(q, &mut hloss, &mut hgrad);
    }
    (hloss, hgrad)
}

/// Head loss and gradient of a junction's leakage flow `q` in the inverted
/// leakage equation H = c·q^(1/n) (n = 0.5 fixed area, 1.5 variable area),
/// with EPANET's barrier against negative leakage (`eval_leak_headloss`).
#[inline]
pub fn leak_headloss(q: f64, c: f64, n: f64) -> (f64, f64) {
    let n = 1.0 / n;
    let mut hgrad = n * c * q.abs().powf(n - 1.0);
    let mut hloss = hgrad * q / n;
    add_lower_barrier(q, &mut hloss, &mut hgrad);
    (hloss, hgrad)
}

/// Head loss and gradient for delivering a pressure-dependent demand.
pub fn demand_headloss(s: &State, i: usize, dp: f64, n: f64) -> (f64, f64) {
    demand_hl(s.demand_flow[i], s.full_demand[i], dp, n)
}

/// Head loss and gradient of a pressure-dependent demand `d` of `dfull`.
#[inline]
pub fn demand_hl(d: f64, dfull: f64, dp: f64, n: f64) -> (f64, f64) {
    let r = d.abs() / dfull;
    let mut hgrad = n * dp * r.powf(n - 1.0) / dfull;
    let mut hloss = hgrad * d / n;
    add_lower_barrier(d, &mut hloss, &mut hgrad);
    add_upper_barrier(d - dfull, &mut hloss, &mut hgrad);
    (hloss, hgrad)
}

/// Assembles the linearized system into the factor and right-hand side.
pub fn matrix_coeffs(pr: &Prepared, s: &mut State) {
    let nj = pr.njuncs;
    let mut factor = s.factor.take().expect("factor present outside assembly");
    factor.clear();
    {
        let (diag, off) = factor.values_mut();
        let State {
            p,
            y,
            flow,
            head,
            f,
            xflow,
            ke,
            emitter_flow,
            demand_flow,
            full_demand,
            leak_qfa,
            leak_qva,
            ..
        } = &mut *s;
        // Off-diagonal entries of links between two junctions.
        for &(k, slot) in &pr.jj_links {
            off[slot as usize] -= p[k as usize];
        }
        // One pass per junction, in EPANET's order of summation: its links
        // in link order (Aii += P; F += ±Y, or P·H of a fixed-head
        // neighbour; Xflow ∓= Q), then its emitter, its pressure-driven
        // demand and its flow balance.
        let nl = pr.nlinks;
        assert!(p.len() >= nl && y.len() >= nl && flow.len() >= nl);
        assert!(head.len() >= pr.nnodes && pr.inc_ptr.len() == nj + 1);
        assert!(f.len() >= nj && xflow.len() >= nj && ke.len() >= nj && pr.el.len() >= nj);
        assert!(emitter_flow.len() >= nj && demand_flow.len() >= nj && full_demand.len() >= nj);
        for i in 0..nj {
            let (mut d, mut fy, mut xf) = (0.0, 0.0, 0.0);
            let (a, b) = (pr.inc_ptr[i] as usize, pr.inc_ptr[i + 1] as usize);
            for e in &pr.inc[a..b] {
                let k = (e.link_neg & !Incidence::NEG) as usize;
                debug_assert!(k < nl);
                // SAFETY: link indices in `inc` are < nlinks (built in
                // Prepared::new), and p, y, flow hold nlinks values (asserted).
                let pk = unsafe { *p.get_unchecked(k) };
                if pk == 0.0 {
                    continue;
                }
                // ±1 · x exactly: flip the sign bit for the end node.
                let neg = ((e.link_neg & Incidence::NEG) as u64) << 32;
                let (qk, yk) = unsafe { (*flow.get_unchecked(k), *y.get_unchecked(k)) };
                xf -= f64::from_bits(qk.to_bits() ^ neg);
                d += pk;
                fy += f64::from_bits(yk.to_bits() ^ neg);
                if e.other & Incidence::FIXED != 0 {
                    fy += pk * head[(e.other & !Incidence::FIXED) as usize];
                }
            }
            let mut fi = fy;
            junction_extras(
                pr,
                i,
                ke,
                emitter_flow,
                demand_flow,
                full_demand,
                leak_qfa,
                leak_qva,
                &mut d,
                &mut fi,
                &mut xf,
            );
            xf -= demand_flow[i];
            fi += xf;
            diag[pr.diag_slot[i] as usize] += d;
            f[i] = fi;
            xflow[i] = xf;
        }
        // Regulating valves.
        let mut f = std::mem::take(&mut s.f);
        let mut xflow = std::mem::take(&mut s.xflow);
        regulating_valves(
            pr,
            s,
            &mut ScalarSystem {
                diag,
                off,
                f: &mut f,
                xflow: &mut xflow,
            },
        );
        s.f = f;
        s.xflow = xflow;
    }
    s.factor = Some(factor);
}

/// Adds an open/closed regulating valve's coefficients to the system.
/// Where the assembly of one system goes: the factor's diagonal and
/// strictly lower values (by slot), the right-hand side and the junction
/// flow imbalances. Implemented for a scalar factor and for one lane of a
/// lane-interleaved system (`crate::lanes`).
pub(crate) trait System {
    fn diag(&mut self, slot: usize) -> &mut f64;
    fn off(&mut self, slot: usize) -> &mut f64;
    fn f(&mut self, i: usize) -> &mut f64;
    fn xflow(&mut self, i: usize) -> &mut f64;
}

/// A scalar system: the factor's value arrays plus `State::f` and `State::xflow`.
pub(crate) struct ScalarSystem<'a> {
    pub diag: &'a mut [f64],
    pub off: &'a mut [f64],
    pub f: &'a mut [f64],
    pub xflow: &'a mut [f64],
}

impl System for ScalarSystem<'_> {
    #[inline]
    fn diag(&mut self, slot: usize) -> &mut f64 {
        &mut self.diag[slot]
    }
    #[inline]
    fn off(&mut self, slot: usize) -> &mut f64 {
        &mut self.off[slot]
    }
    #[inline]
    fn f(&mut self, i: usize) -> &mut f64 {
        &mut self.f[i]
    }
    #[inline]
    fn xflow(&mut self, i: usize) -> &mut f64 {
        &mut self.xflow[i]
    }
}

/// A junction's emitter, pressure-driven demand and pipe leakage terms,
/// added after its links (EPANET's order of summation).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn junction_extras(
    pr: &Prepared,
    i: usize,
    ke: &[f64],
    emitter_flow: &[f64],
    demand_flow: &[f64],
    full_demand: &[f64],
    leak_qfa: &[f64],
    leak_qva: &[f64],
    d: &mut f64,
    fi: &mut f64,
    xf: &mut f64,
) {
    let o = &pr.opts;
    if ke[i] != 0.0 {
        let (hloss, hgrad) = emitter_hl(o, ke[i], emitter_flow[i]);
        *d += 1.0 / hgrad;
        *fi += (hloss + pr.el[i]) / hgrad;
        *xf -= emitter_flow[i];
    }
    // Negated test on purpose (a NaN demand is processed, as before).
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    if o.pda && !(full_demand[i] <= 0.0) {
        let (dp, pn) = (o.preq - o.pmin, 1.0 / o.pexp);
        let (hloss, hgrad) = demand_hl(demand_flow[i], full_demand[i], dp, pn);
        if hgrad > 0.0 {
            *d += 1.0 / hgrad;
            *fi += (hloss + pr.el[i] + o.pmin) / hgrad;
        }
    }
    if pr.has_leakage {
        let (cfa, cva) = (pr.leak_cfa[i], pr.leak_cva[i]);
        if cfa != 0.0 || cva != 0.0 {
            let (qfa, qva) = (leak_qfa[i], leak_qva[i]);
            if cfa != 0.0 {
                let (hloss, hgrad) = leak_headloss(qfa, cfa, 0.5);
                if hgrad > 0.0 {
                    *d += 1.0 / hgrad;
                    *fi += (hloss + pr.el[i]) / hgrad;
                }
            }
            if cva != 0.0 {
                let (hloss, hgrad) = leak_headloss(qva, cva, 1.5);
                if hgrad > 0.0 {
                    *d += 1.0 / hgrad;
                    *fi += (hloss + pr.el[i]) / hgrad;
                }
            }
            *xf -= qfa + qva;
        }
    }
}

/// Whether [`junction_extras`] adds anything for junction `i`.
#[inline]
pub(crate) fn has_junction_extras(pr: &Prepared, s: &State, i: usize) -> bool {
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    let pda = pr.opts.pda && !(s.full_demand[i] <= 0.0);
    s.ke[i] != 0.0 || pda || (pr.has_leakage && (pr.leak_cfa[i] != 0.0 || pr.leak_cva[i] != 0.0))
}

/// The regulating valves' terms (PRV, PSV, FCV with a setting), after
/// the junctions' (EPANET's `valvecoeffs` order).
pub(crate) fn regulating_valves(pr: &Prepared, s: &mut State, m: &mut impl System) {
    let nj = pr.njuncs;
    for &k in &pr.valves {
        if s.setting[k] == MISSING {
            continue;
        }
        let (n1, n2) = (pr.n1[k], pr.n2[k]);
        match pr.ltype[k] {
            LinkType::Prv => {
                if s.status[k] == stat::ACTIVE {
                    let hset = pr.el[n2] + s.setting[k];
                    s.p[k] = 0.0;
                    let x2 = *m.xflow(n2);
                    s.y[k] = s.flow[k] + x2;
                    if n2 < nj {
                        *m.f(n2) += hset * CBIG;
                        *m.diag(pr.diag_slot[n2] as usize) += CBIG;
                    }
                    if x2 < 0.0 && n1 < nj {
                        *m.f(n1) += x2;
                    }
                    continue;
                }
                valve_coeff_km(pr, s, k, pr.km[k]);
                add_open_valve(pr, s, m, k);
            }
            LinkType::Psv => {
                if s.status[k] == stat::ACTIVE {
                    let hset = pr.el[n1] + s.setting[k];
                    s.p[k] = 0.0;
                    let x1 = *m.xflow(n1);
                    s.y[k] = s.flow[k] - x1;
                    if n1 < nj {
                        *m.f(n1) += hset * CBIG;
                        *m.diag(pr.diag_slot[n1] as usize) += CBIG;
                    }
                    if x1 > 0.0 && n2 < nj {
                        *m.f(n2) += x1;
                    }
                    let slot = pr.link_slot[k];
                    if slot != NONE {
                        *m.off(slot as usize) -= 1.0 / CBIG;
                    }
                    if n2 < nj {
                        *m.diag(pr.diag_slot[n2] as usize) += 1.0 / CBIG;
                    }
                    continue;
                }
                valve_coeff_km(pr, s, k, pr.km[k]);
                add_open_valve(pr, s, m, k);
            }
            LinkType::Fcv => {
                if s.status[k] == stat::ACTIVE {
                    let q = s.setting[k];
                    *m.xflow(n1) -= q;
                    *m.xflow(n2) += q;
                    s.y[k] = s.flow[k] - q;
                    if n1 < nj {
                        *m.f(n1) -= q;
                    }
                    if n2 < nj {
                        *m.f(n2) += q;
                    }
                    s.p[k] = 1.0 / CBIG;
                    let p = s.p[k];
                    let slot = pr.link_slot[k];
                    if slot != NONE {
                        *m.off(slot as usize) -= p;
                    }
                    if n1 < nj {
                        *m.diag(pr.diag_slot[n1] as usize) += p;
                    }
                    if n2 < nj {
                        *m.diag(pr.diag_slot[n2] as usize) += p;
                    }
                } else {
                    valve_coeff_km(pr, s, k, pr.km[k]);
                    add_open_valve(pr, s, m, k);
                }
            }
            _ => {}
        }
    }
}

fn add_open_valve(pr: &Prepared, s: &mut State, m: &mut impl System, k: usize) {
    let nj = pr.njuncs;
    let (n1, n2) = (pr.n1[k], pr.n2[k]);
    let p = s.p[k];
    let slot = pr.link_slot[k];
    if slot != NONE {
        *m.off(slot as usize) -= p;
    }
    let dy = s.y[k] - s.flow[k];
    if n1 < nj {
        *m.diag(pr.diag_slot[n1] as usize) += p;
        *m.f(n1) += dy;
    }
    if n2 < nj {
        *m.diag(pr.diag_slot[n2] as usize) += p;
        *m.f(n2) -= dy;
    }
}

/// Tank volume at head `h` (internal units).
pub fn tank_volume(pr: &Prepared, t: usize, h: f64) -> f64 {
    let tk = &pr.tanks[t];
    match tk.vcurve {
        None => tk.vmin + (h - tk.hmin) * tk.a,
        Some(c) => {
            let y = (h - pr.el[tk.node]) * pr.ucf.head;
            interp(&pr.curves[c], y) / pr.ucf.volume
        }
    }
}

/// Tank head at volume `v` (internal units).
pub fn tank_grade(pr: &Prepared, t: usize, v: f64) -> f64 {
    let tk = &pr.tanks[t];
    match tk.vcurve {
        None => tk.hmin + (v - tk.vmin) / tk.a,
        Some(c) => {
            let y = crate::prepared::interp_inverse(&pr.curves[c], v * pr.ucf.volume);
            pr.el[tk.node] + y / pr.ucf.head
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fpow_is_within_a_few_ulps_of_powf() {
        for i in 1..10_000 {
            let x = i as f64 * 1.37e-3;
            for y in [0.852, -0.9, 0.9, 1.0, 0.5] {
                let (a, b) = (x.powf(y), fpow(x, y));
                assert!(((a - b) / a).abs() < 4.0e-15, "{x}^{y}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn friction_factor_is_continuous_and_its_derivative_is_right() {
        let (e37, s) = (0.001 / 3.7, 1.1e-5 * 0.5);
        // Transition (Dunlop) and turbulent (Swamee-Jain) meet at Re = 4000.
        let q = A1 * s;
        let (below, _) = friction_factor_e37(q * (1.0 - 1e-9), e37, s);
        let (above, _) = friction_factor_e37(q, e37, s);
        assert!(((below - above) / above).abs() < 1e-6);
        // dfdq matches a central difference on both branches.
        for q in [0.6 * A1 * s, 3.0 * A1 * s, 50.0 * A1 * s] {
            let h = q * 1e-6;
            let (f1, _) = friction_factor_e37(q - h, e37, s);
            let (f2, _) = friction_factor_e37(q + h, e37, s);
            let (_, d) = friction_factor_e37(q, e37, s);
            assert!(
                ((f2 - f1) / (2.0 * h) - d).abs() <= 1e-5 * d.abs(),
                "q = {q}"
            );
        }
    }
}
