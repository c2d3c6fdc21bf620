//! Localization (step 5 of the method): the observed signature (change of
//! the detrended residuals over a window against the reference before it),
//! candidate leaks simulated at every junction (warm-started clones, in
//! parallel), their non-negative fits, alone or jointly with the leaks
//! already found, the candidate weights and the pipe minimising the
//! expected distance to the leak. No I/O.

use super::boundary::{apply_bc, read_channels, snapshots, Frame, Setup, Snapshots};
use super::normal::{detrended, Normal, Reference};
use super::{CandidateNode, CandidatePipe, DetectConfig, DetectError};
use crate::signature;
use network::graph::NetworkDistance;
use network::{LinkKind, Network};

/// How many sensors an alarm names as its evidence.
const EVIDENCE_SENSORS: usize = 6;

pub(super) struct Localization {
    /// Top candidate nodes: (node, normalized weight, distances from it).
    pub(super) weights: Vec<(usize, f64)>,
    pub(super) dists: Vec<Vec<f64>>,
    pub(super) half_lengths: Vec<f64>,
    pub(super) pipe_ends: Vec<(usize, usize)>,
    pub(super) pipe: usize,
    pub(super) confidence: f64,
    /// The weight farther than `radius_m` from `pipe`, localized on its own:
    /// (pipe, weight within `radius_m` of it as a share of the whole).
    pub(super) second: Option<(usize, f64)>,
    pub(super) pipes: Vec<CandidatePipe>,
    pub(super) nodes: Vec<CandidateNode>,
    /// Joint fits only: misfit with the known leaks alone over misfit with
    /// the best new candidate added (large = a new leak, not growth).
    pub(super) new_leak_evidence: Option<f64>,
    /// How much of its flow a leak at the best candidate moves the balance
    /// statistic by (1 with a water balance; without one see
    /// `statistic_share`): the leak's flow is the statistic's size over it.
    pub(super) size_share: f64,
    /// The sensors that carried the signature most: (residual channel,
    /// change of the detrended residual over the window against the
    /// reference, in the channel's units; the same standardized), largest
    /// standardized first.
    pub(super) evidence: Vec<(usize, f64, f64)>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn localize(
    setup: &Setup,
    model: &Network,
    graph: &NetworkDistance,
    normal: &Normal,
    f: &Frame,
    start: usize,
    end: usize,
    size_m3s: f64,
    known: &[usize],
    ref_before: Option<usize>,
    cfg: &DetectConfig,
    kept: &mut Snapshots,
) -> Result<(Localization, Option<Localization>), DetectError> {
    let per_h = f.per_hour();
    let ref_len = (cfg.ref_window_h * per_h as f64) as usize;
    let nch = setup.residual.len();
    // Observed signature, standardized.
    let mean_over = |a: usize, b: usize, c: usize| -> f64 {
        if b <= a {
            return 0.0;
        }
        (a..b).map(|r| detrended(normal, f, c, r)).sum::<f64>() / (b - a) as f64
    };
    let len = end + 1 - start;
    let day = 24 * per_h;
    // Windows shorter than a day are compared with the same clock times on
    // the days before (as many as fit in the reference window), so that what
    // the model gets wrong at that time of day cancels.
    // `ref_before`: a reference of `ref_window_h` ending at that row instead
    // (the change since before an earlier start, for a leak still growing).
    let reference = if ref_before.is_some() {
        Reference::Before(ref_len)
    } else if cfg.ref_same_time && len < day {
        Reference::SameTime {
            day,
            days: (ref_len / day).max(1),
        }
    } else {
        Reference::Before(ref_len)
    };
    let windows = reference.windows(ref_before.unwrap_or(start), len);
    // A channel the live checks exclude carries no weight (an infinite
    // noise scale zeroes its standardized values).
    let sig_sd: Vec<f64> = (0..nch)
        .map(|c| {
            if setup.masked.get(c).copied().unwrap_or(false) {
                f64::INFINITY
            } else if cfg.signature_noise {
                normal.signature_sd(c, len, reference, per_h)
            } else {
                normal.res_sigma[c]
            }
        })
        .collect();
    let obs: Vec<f64> = (0..nch)
        .map(|c| {
            let w = mean_over(start, end + 1, c);
            let base = if windows.is_empty() {
                0.0
            } else {
                windows
                    .iter()
                    .map(|&(a, b)| mean_over(a, b, c))
                    .sum::<f64>()
                    / windows.len() as f64
            };
            (w - base) / sig_sd[c]
        })
        .collect();
    // Sample rows, evenly across the window; a row whose model state no
    // sensor could read (`Frame::model_held`) gives way to the nearest
    // row of the window that is readable.
    let k = cfg.loc_samples.max(1);
    let readable = |r: usize| !f.model_held.get(r).copied().unwrap_or(false);
    let mut samples: Vec<usize> = (0..k)
        .map(|i| start + ((end - start) as f64 * (i as f64 + 0.5) / k as f64) as usize)
        .map(|r| {
            (0..=end - start)
                .flat_map(|d| [r.checked_sub(d), r.checked_add(d)])
                .flatten()
                .find(|&x| x >= start && x <= end && readable(x))
                .unwrap_or(r)
        })
        .collect();
    samples.sort_unstable();
    samples.dedup();
    // Per sample (`per_sample`): the change over the sample's share of the
    // window against the same clock times on days before the reference
    // point (the start, or `ref_before`), so that the signature keeps how
    // the leak's effect varies over the day.
    // The sensors that carry the window's change most (masked ones carry
    // none).
    let evidence = {
        let mut e: Vec<(usize, f64, f64)> = obs
            .iter()
            .enumerate()
            .filter(|(_, z)| z.is_finite() && **z != 0.0)
            .map(|(c, &z)| (c, z, z * sig_sd[c]))
            .collect();
        e.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        e.truncate(EVIDENCE_SENSORS);
        e.into_iter().map(|(c, z, x)| (c, x, z)).collect::<Vec<_>>()
    };
    let obs = if cfg.per_sample {
        let bins = sample_bins(
            start,
            len,
            samples.len(),
            ref_before.unwrap_or(start),
            day,
            (ref_len / day).max(1),
        );
        let mut v = Vec::with_capacity(bins.len() * nch);
        for ((a, b), refs) in bins {
            for (c, sd) in sig_sd.iter().enumerate() {
                let base = if refs.is_empty() {
                    0.0
                } else {
                    refs.iter().map(|&(x, y)| mean_over(x, y, c)).sum::<f64>() / refs.len() as f64
                };
                v.push((mean_over(a, b, c) - base) / sd);
            }
        }
        v
    } else {
        obs
    };
    let snaps = snapshots(setup, f, &samples, kept)?;
    let junctions: Vec<usize> = (0..setup.net.nodes.len())
        .filter(|&i| setup.net.nodes[i].is_junction())
        .collect();
    let dim = if cfg.per_sample {
        nch * samples.len()
    } else {
        nch
    };
    let mut sig = vec![vec![0.0; dim]; junctions.len()];
    for (si, (snap, &r)) in snaps.iter().zip(&samples).enumerate() {
        let mut base = vec![0.0; nch];
        read_channels(snap, setup, &mut base);
        let dm = f.model_nonamr(r);
        // The model consumes what was measured, leak included: a candidate
        // moves the size from the demands to its node. Without a balance
        // (`pressure_balance`) the model consumes its own, and a candidate
        // adds the size.
        let m2 = if setup.pressure_balance {
            f.m[r]
        } else if dm > 1e-9 {
            (f.m[r] - size_m3s / dm).max(0.0)
        } else {
            f.m[r]
        };
        // Candidate leaks eight at a time in SIMD lanes (same results as
        // separate runs): one step each, from the snapshot. The last value
        // of each result is the emitter's flow, m³/s.
        let mut res = hydraulics::lanes::run_batch_lanes(
            snap,
            &junctions,
            |sim, &j| {
                let p = sim.pressure_m(j).max(1.0);
                sim.set_emitter(j, size_m3s / p.sqrt());
                apply_bc(sim, setup, f, r, m2);
                vec![0.0; nch + 1]
            },
            |sim, &j, out, step| {
                if step.is_ok() {
                    read_channels(sim, setup, &mut out[..nch]);
                    for (o, b) in out.iter_mut().zip(&base) {
                        *o -= b;
                    }
                    out[nch] = sim.emitter_flow_lps(j) / 1000.0;
                }
                false
            },
            |_, _, out| out,
        );
        // The emitter draws less than the size taken off the demands when
        // the leak lowers its own node's pressure: the candidate moves the
        // size (`mass_consistent`), by the effect of taking the shortfall
        // off the demands (one more run), then scaled to the size.
        if cfg.mass_consistent && !setup.pressure_balance && size_m3s > 0.0 {
            let mut sim = snap.clone();
            apply_bc(&mut sim, setup, f, r, m2);
            let mut per_unit = vec![0.0; nch];
            if sim.run().is_ok() {
                read_channels(&sim, setup, &mut per_unit);
                for (o, b) in per_unit.iter_mut().zip(&base) {
                    *o = (*o - b) / size_m3s;
                }
                for d in res.iter_mut() {
                    let q = d[nch];
                    move_the_size(&mut d[..nch], q, size_m3s, &per_unit);
                }
            }
        }
        for (s, d) in sig.iter_mut().zip(res) {
            for c in 0..nch {
                if cfg.per_sample {
                    s[si * nch + c] = d[c];
                } else {
                    s[c] += d[c] / samples.len() as f64;
                }
            }
        }
    }
    // Fit each candidate: the observed signature as a non-negative
    // combination of the candidate's own and, when `cfg.joint_known` is set,
    // the signatures of the leaks already found (which may still be growing
    // inside the window and would otherwise bend the new leak's signature
    // towards theirs).
    let standardized = |s: &Vec<f64>| -> Vec<f64> {
        s.iter()
            .zip(sig_sd.iter().cycle())
            .map(|(x, sd)| x / sd)
            .collect()
    };
    let known_sigs: Vec<Vec<f64>> = if cfg.joint_known {
        known
            .iter()
            .filter_map(|&n| junctions.iter().position(|&j| j == n))
            .map(|p| standardized(&sig[p]))
            .collect()
    } else {
        Vec::new()
    };
    // The size the candidates were simulated at is what the balance
    // statistic measured. Without a water balance that statistic is the
    // consumption the pressures imply, which a leak at one place moves by
    // more or less than its flow: a candidate's amplitude is then counted
    // against what it would move the statistic by (`statistic_share`), so
    // that the amplitude prior asks the candidate to explain the statistic.
    let share: Vec<f64> = if setup.pressure_balance && size_m3s > 0.0 {
        candidate_shares(normal, f, &samples, &sig, cfg.per_sample, size_m3s)
    } else {
        vec![1.0; sig.len()]
    };
    let fit = |with_known: &[Vec<f64>]| -> Vec<(usize, f64, f64)> {
        junctions
            .iter()
            .zip(&sig)
            .zip(&share)
            .map(|((&j, s), &k)| {
                let g = standardized(s);
                let mut cols: Vec<&[f64]> = vec![&g];
                cols.extend(with_known.iter().map(Vec::as_slice));
                let (coef, sse) = signature::fit(&cols, &obs);
                (j, sse, coef[0] * k)
            })
            .collect()
    };
    // The misfit variance the likelihood uses is pooled: the best fit's
    // (dim − 1 degrees of freedom) with the signature's own noise in
    // training (the spread of the same window's change without a leak; one
    // degree of freedom per training day beyond the first). With few
    // sensors the best fit alone is a poor estimate and, when it fits well
    // by chance, makes the weights overconfident.
    let prior = if cfg.pooled_noise {
        let v: Vec<f64> = (0..nch)
            .filter(|&c| sig_sd[c].is_finite())
            .map(|c| {
                let s = normal.signature_sd(c, len, reference, per_h) / sig_sd[c];
                s * s
            })
            .collect();
        let days = normal.train_rows() / (24 * per_h);
        if v.is_empty() || days < 2 {
            None
        } else {
            Some((v.iter().sum::<f64>() / v.len() as f64, (days - 1) as f64))
        }
    } else {
        None
    };
    // One channel cannot tell candidates apart: any candidate that moves
    // it fits exactly with its own amplitude (no degree of freedom is left
    // for the noise), so the weights stay flat.
    let dim = if nch < 2 { 0 } else { dim };
    let posterior = |fits, dim| posterior(fits, dim, prior, model, graph, cfg);
    let share_of = |loc: &Localization| {
        loc.weights
            .first()
            .and_then(|&(n, _)| junctions.iter().position(|&j| j == n))
            .map_or(1.0, |p| share[p])
    };
    let mut single = posterior(fit(&[]), dim);
    single.evidence = evidence.clone();
    single.size_share = share_of(&single);
    let joint = if known_sigs.is_empty() {
        None
    } else {
        let fits = fit(&known_sigs);
        let best = fits.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
        // Misfit with the known leaks alone (their growth, no new leak).
        let cols: Vec<&[f64]> = known_sigs.iter().map(Vec::as_slice).collect();
        let (_, known_only) = signature::fit(&cols, &obs);
        let mut loc = posterior(fits, dim);
        loc.evidence = evidence;
        loc.size_share = share_of(&loc);
        loc.new_leak_evidence = Some(known_only / best.max(1e-12));
        Some(loc)
    };
    Ok((single, joint))
}

/// [`statistic_share`] of every candidate (`sig`: each one's change of the
/// channels, per sample row when `per_sample`), with the channels'
/// sensitivity to consumption averaged over the sample rows.
fn candidate_shares(
    normal: &Normal,
    f: &Frame,
    samples: &[usize],
    sig: &[Vec<f64>],
    per_sample: bool,
    size_m3s: f64,
) -> Vec<f64> {
    let rows = samples.len().max(1) as f64;
    let nch = f.sens.len();
    let sens: Vec<f64> = f
        .sens
        .iter()
        .map(|s| {
            samples
                .iter()
                .map(|&r| s.get(r).copied().unwrap_or(0.0))
                .sum::<f64>()
                / rows
        })
        .collect();
    sig.iter()
        .map(|d| {
            let change: Vec<f64> = (0..nch)
                .map(|c| match per_sample {
                    true => (0..samples.len()).map(|si| d[si * nch + c]).sum::<f64>() / rows,
                    false => d[c],
                })
                .collect();
            statistic_share(&normal.pressure_weights, &sens, &change, size_m3s)
        })
        .collect()
}

/// How much of its size a candidate leak moves the consumption the
/// pressures imply (`normal::pressure_excess`): its change of the channels
/// `d` projected, with the channels' `weights`, on their sensitivity to
/// consumption `sens`, over `size` (m³/s). 1 where a leak lowers the
/// pressures as the same flow of more consumption would; kept within
/// [0.05, 20].
fn statistic_share(weights: &[f64], sens: &[f64], d: &[f64], size: f64) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for ((&w, &s), &x) in weights.iter().zip(sens).zip(d) {
        if w > 0.0 && s != 0.0 && x.is_finite() {
            num += w * s * x;
            den += w * s * s;
        }
    }
    if den > 0.0 && size > 0.0 {
        (num / den / size).clamp(0.05, 20.0)
    } else {
        1.0
    }
}

/// A candidate's change `d` when its emitter drew `q` (m³/s) while `size`
/// was taken off the demands, made the change of moving `size` from the
/// demands to the node: the effect of the shortfall on the demands
/// (`per_unit`: the change per m³/s taken off them) is taken away, and the
/// rest, a move of `q`, scaled to `size` (linear in the flows moved).
fn move_the_size(d: &mut [f64], q: f64, size: f64, per_unit: &[f64]) {
    if q <= 1e-9 {
        return;
    }
    for (x, u) in d.iter_mut().zip(per_unit) {
        *x = (*x - (size - q) * u) * size / q;
    }
}

/// The candidate weights from the fits `(node, misfit, amplitude)` and the
/// pipe minimizing the expected distance to the leak under them (and the
/// second mode, see [`Localization::second`]). `dim` 0: the signature
/// cannot tell candidates apart, every weight is the same. `prior`: the signature's
/// noise variance per dimension from training and its degrees of freedom,
/// pooled with the best fit's misfit.
fn posterior(
    mut fits: Vec<(usize, f64, f64)>,
    dim: usize,
    prior: Option<(f64, f64)>,
    model: &Network,
    graph: &NetworkDistance,
    cfg: &DetectConfig,
) -> Localization {
    // Noise scale from the best fit alone (before any amplitude prior).
    let best_sse = fits.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
    let dof = (dim.max(2) - 1) as f64;
    let var = match prior {
        Some((v0, n0)) => (n0 * v0 + best_sse) / (n0 + dof),
        None => best_sse / dof,
    };
    let temp = var.max(1e-6) * cfg.temperature_scale;
    // Negative log-likelihood: misfit, plus (with `amp_sigma`) a log-normal
    // prior on the fitted amplitude around 1 — the candidates were
    // simulated at the size the water balance measured, so a candidate
    // that needs a much smaller or larger leak to fit is less likely.
    let nll = |sse: f64, a: f64| -> f64 {
        if dim == 0 {
            return 0.0;
        }
        let mut v = sse / (2.0 * temp);
        if cfg.amp_sigma > 0.0 {
            let la = a.max(1e-6).ln();
            v += la * la / (2.0 * cfg.amp_sigma * cfg.amp_sigma);
        }
        v
    };
    fits.sort_by(|x, y| nll(x.1, x.2).total_cmp(&nll(y.1, y.2)));
    let best = nll(fits[0].1, fits[0].2);
    let mut top: Vec<(usize, f64, f64, f64)> = fits
        .iter()
        .map(|&(j, sse, a)| (j, (-(nll(sse, a) - best)).exp(), sse, a))
        .collect();
    // The share of all candidates' weight the top nodes hold: a confidence
    // is weight within `radius_m` of all of it, so that where the signature
    // cannot tell candidates apart (no usable sensor, or readings no leak
    // changes) the top slice of a near-tie does not pass for certainty.
    // (The best candidate weighs 1, so the whole is at least 1.)
    let w_all: f64 = top.iter().map(|t| t.1).sum();
    top.truncate(cfg.top_nodes.max(1));
    let wsum: f64 = top.iter().map(|t| t.1).sum();
    let cover = wsum / w_all;
    let dists: Vec<Vec<f64>> = top.iter().map(|t| graph.node_distances(&[t.0])).collect();
    // Candidate pipes: every pipe touching a node within reach of the top nodes.
    let mut cands: Vec<usize> = Vec::new();
    for (k, l) in model.links.iter().enumerate() {
        if let LinkKind::Pipe(_) = l.kind {
            if dists
                .iter()
                .take(10)
                .any(|d| d[l.from].min(d[l.to]) < cfg.radius_m)
            {
                cands.push(k);
            }
        }
    }
    // Distance (m) from pipe k to each top node (1e5 where unreachable).
    let reach = |k: usize| -> Vec<f64> {
        let l = &model.links[k];
        let half = half_length(model, k);
        dists
            .iter()
            .map(|d| pipe_to_node(d, l.from, l.to, half))
            .collect()
    };
    // Expected distance and weight within `radius_m` of pipe k, over the top
    // nodes `use_node` keeps (unnormalized).
    let score = |x: &[f64], use_node: &dyn Fn(usize) -> bool| -> (f64, f64) {
        let (mut ed, mut within) = (0.0, 0.0);
        for (i, (t, &x)) in top.iter().zip(x).enumerate() {
            if use_node(i) {
                ed += t.1 * x;
                if x <= cfg.radius_m {
                    within += t.1;
                }
            }
        }
        (ed, within)
    };
    let mut scored: Vec<CandidatePipe> = Vec::new();
    let mut best_pipe = (usize::MAX, f64::INFINITY, 0.0);
    for &k in &cands {
        let (ed, within) = score(&reach(k), &|_| true);
        let (ed, within) = (ed / wsum, within / wsum);
        if ed < best_pipe.1 {
            best_pipe = (k, ed, within);
        }
        scored.push(CandidatePipe {
            pipe: model.links[k].id.clone(),
            expected_distance_m: ed,
            mass_within_300m: within * cover,
        });
    }
    // Second mode: the top nodes farther than `radius_m` from the chosen pipe,
    // by the same rule (least expected distance under their weights).
    let second = if best_pipe.0 == usize::MAX {
        None
    } else {
        let far: Vec<bool> = reach(best_pipe.0)
            .iter()
            .map(|&x| x > cfg.radius_m)
            .collect();
        let far_mass: f64 = top.iter().zip(&far).filter(|x| *x.1).map(|x| x.0 .1).sum();
        cands
            .iter()
            .filter(|_| far_mass > 0.0)
            .map(|&k| (k, score(&reach(k), &|i| far[i])))
            .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
            .map(|(k, (_, within))| (k, within / wsum * cover))
    };
    scored.sort_by(|a, b| a.expected_distance_m.total_cmp(&b.expected_distance_m));
    scored.truncate(10);
    if best_pipe.0 == usize::MAX {
        // No pipe near the best nodes: take any pipe at the best node.
        let j = top[0].0;
        best_pipe.0 = model
            .links
            .iter()
            .position(|l| l.kind_is_pipe() && (l.from == j || l.to == j))
            .unwrap_or(0);
    }
    let nodes = top
        .iter()
        .take(15)
        .map(|t| CandidateNode {
            node: model.nodes[t.0].id.clone(),
            weight: t.1 / wsum,
            misfit: t.2,
            amplitude: t.3,
        })
        .collect();
    Localization {
        weights: top.iter().map(|t| (t.0, t.1 / wsum)).collect(),
        dists,
        half_lengths: (0..model.links.len())
            .map(|k| half_length(model, k))
            .collect(),
        pipe_ends: model.links.iter().map(|l| (l.from, l.to)).collect(),
        pipe: best_pipe.0,
        confidence: best_pipe.2 * cover,
        second,
        pipes: scored,
        nodes,
        new_leak_evidence: None,
        size_share: 1.0,
        evidence: Vec::new(),
    }
}

/// A share `[a, b)` of a window and its reference windows.
type SampleBin = ((usize, usize), Vec<(usize, usize)>);

/// The `n` equal shares `[a, b)` of the window of `len` rows at `start`,
/// each with its reference windows: the same clock times on `days` days,
/// the latest ending at or before row `r0` (those before row 0 left out).
fn sample_bins(
    start: usize,
    len: usize,
    n: usize,
    r0: usize,
    day: usize,
    days: usize,
) -> Vec<SampleBin> {
    (0..n)
        .map(|i| {
            let a = start + len * i / n;
            let b = (start + len * (i + 1) / n).max(a + 1);
            let d_min = b.saturating_sub(r0).div_ceil(day).max(1);
            let refs = (d_min..d_min + days)
                .filter(|d| a >= d * day)
                .map(|d| (a - d * day, b - d * day))
                .collect();
            ((a, b), refs)
        })
        .collect()
}

/// Distance (m) from the midpoint of a pipe with ends `a`, `b` and half
/// length `half` to the node whose distances to every node are `d`
/// (1e5 where unreachable, so that expected distances stay finite).
fn pipe_to_node(d: &[f64], a: usize, b: usize, half: f64) -> f64 {
    let x = d[a].min(d[b]) + half;
    if x.is_finite() {
        x
    } else {
        1e5
    }
}

/// Half the length of link `k` (0 for pumps and valves).
fn half_length(model: &Network, k: usize) -> f64 {
    match &model.links[k].kind {
        LinkKind::Pipe(p) => p.length / 2.0,
        _ => 0.0,
    }
}

impl Localization {
    /// The pump whose station holds the chosen pipe: a pipe of at most
    /// `station_m` within `station_m` of one of the pump's ends (the
    /// station's own pipework; `station_m` ≤ 0: none). A pump's end on a
    /// main is not a station: a leak on the main is reported.
    pub(super) fn at_pump(
        &self,
        model: &Network,
        graph: &NetworkDistance,
        station_m: f64,
    ) -> Option<usize> {
        let l = model.links.get(self.pipe)?;
        match &l.kind {
            LinkKind::Pipe(p) if station_m > 0.0 && p.length <= station_m => {}
            _ => return None,
        }
        let d = graph.node_distances(&[l.from, l.to]);
        model.links.iter().position(|l| {
            matches!(l.kind, LinkKind::Pump(..)) && d[l.from].min(d[l.to]) <= station_m
        })
    }

    /// Expected distance (m) from pipe `k` to the leak under the weights.
    pub(super) fn expected_distance(&self, k: usize) -> f64 {
        let (a, b) = self.pipe_ends[k];
        self.weights
            .iter()
            .zip(&self.dists)
            .map(|(&(_, w), d)| w * pipe_to_node(d, a, b, self.half_lengths[k]))
            .sum()
    }
}

trait IsPipe {
    fn kind_is_pipe(&self) -> bool;
}
impl IsPipe for network::Link {
    fn kind_is_pipe(&self) -> bool {
        matches!(self.kind, LinkKind::Pipe(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_counts_by_what_it_moves_the_pressure_statistic() {
        let w = [1.0, 4.0, 0.0];
        let sens = [-300.0, -100.0, 5.0];
        let size = 0.004;
        // Lowers the pressures as the same flow of consumption would: 1.
        let same: Vec<f64> = sens.iter().map(|s| s * size).collect();
        assert!((statistic_share(&w, &sens, &same, size) - 1.0).abs() < 1e-12);
        // Twice as much (a leak near the sensors): 2.
        let near: Vec<f64> = same.iter().map(|x| 2.0 * x).collect();
        assert!((statistic_share(&w, &sens, &near, size) - 2.0).abs() < 1e-12);
        // Moves nothing the statistic uses: the floor; no weights: 1.
        assert_eq!(statistic_share(&w, &sens, &[0.0, 0.0, 7.0], size), 0.05);
        assert_eq!(statistic_share(&[0.0; 3], &sens, &same, size), 1.0);
    }

    #[test]
    fn sample_bins_compare_with_the_same_clock_time_before_the_start() {
        // A 2-day window from row 1000 in 4 shares, days of 288 rows.
        let bins = sample_bins(1000, 576, 4, 1000, 288, 1);
        assert_eq!(bins[0], ((1000, 1144), vec![(712, 856)]));
        // The third share (day 2 of the window) goes back two days, so that
        // its reference ends before the start.
        assert_eq!(bins[2], ((1288, 1432), vec![(712, 856)]));
        assert_eq!(bins[3], ((1432, 1576), vec![(856, 1000)]));
        // A reference point earlier than the start (a pending leak).
        let bins = sample_bins(1000, 144, 1, 700, 288, 2);
        assert_eq!(bins[0], ((1000, 1144), vec![(424, 568), (136, 280)]));
        // Days before row 0 are left out.
        assert!(sample_bins(100, 144, 1, 100, 288, 1)[0].1.is_empty());
    }

    /// A leak next to a pressure-reducing valve gives the same signature on
    /// either side of it, and pipe distances cannot cross the valve: the
    /// weight splits in two, and the second mode is the other side.
    #[test]
    fn two_modes_across_a_valve() {
        let net = network::inp::parse_inp(
            "[JUNCTIONS]\n J1 10 1\n J2 10 1\n J3 10 1\n J4 10 1\n\
             [RESERVOIRS]\n R1 80\n\
             [PIPES]\n P1 R1 J1 100 200 120\n P2 J1 J2 400 200 120\n P3 J3 J4 400 200 120\n\
             [VALVES]\n V1 J2 J3 200 PRV 40 0\n[END]\n",
            "valve.inp",
        )
        .unwrap();
        let graph = NetworkDistance::pipes_only(&net);
        let idx = |id: &str| net.node_index(id).unwrap();
        let fits = vec![
            (idx("J1"), 50.0, 1.0),
            (idx("J2"), 1.0, 1.0),
            (idx("J3"), 1.0, 1.0),
            (idx("J4"), 50.0, 1.0),
        ];
        let loc = posterior(fits, 10, None, &net, &graph, &DetectConfig::default());
        let pipe = |k: usize| net.links[k].id.as_str();
        assert_eq!(pipe(loc.pipe), "P2");
        assert!((loc.confidence - 0.5).abs() < 1e-9, "{}", loc.confidence);
        let (p2, c2) = loc.second.expect("a second mode");
        assert_eq!(pipe(p2), "P3");
        assert!((c2 - 0.5).abs() < 1e-9, "{c2}");
    }

    /// A place in a pump station's pipework (a pipe of a few metres at the
    /// pump) is told apart from one on a main, also a main leaving the
    /// pump (`station_m`).
    #[test]
    fn a_candidate_moves_the_measured_size() {
        // Linear effects: `a` per m³/s drawn at the node, `b` per m³/s
        // taken off the demands. The emitter drew 1.6 of the 2.0 taken off.
        let a = [-0.5, -0.1, 0.3];
        let b = [0.05, 0.02, -0.2];
        let (q, size) = (1.6, 2.0);
        let mut d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| q * x + size * y).collect();
        move_the_size(&mut d, q, size, &b);
        for ((x, y), z) in a.iter().zip(&b).zip(&d) {
            assert!((size * (x + y) - z).abs() < 1e-12, "{d:?}");
        }
        // No flow drawn (a failed step): left as it is.
        let mut zero = vec![0.0; 3];
        move_the_size(&mut zero, 0.0, size, &b);
        assert_eq!(zero, [0.0; 3]);
    }

    #[test]
    fn a_place_at_a_pump_station() {
        let net = |station_pipe: &str| {
            network::inp::parse_inp(
                &format!(
                    "[JUNCTIONS]\n J1 10 1\n J2 10 1\n J3 10 1\n\
                     [RESERVOIRS]\n R1 20\n\
                     [PIPES]\n P2 J1 J2 {station_pipe} 200 120\n P3 J2 J3 400 200 120\n\
                     [PUMPS]\n PU1 R1 J1 HEAD C1\n[CURVES]\n C1 10 50\n[END]\n"
                ),
                "station.inp",
            )
            .unwrap()
        };
        let cfg = DetectConfig::default();
        let place = |net: &Network, best: &str| {
            let graph = NetworkDistance::new(net);
            let fits: Vec<(usize, f64, f64)> = ["J1", "J2", "J3"]
                .iter()
                .map(|&j| {
                    let misfit = if j == best { 0.5 } else { 50.0 };
                    (net.node_index(j).unwrap(), misfit, 1.0)
                })
                .collect();
            let loc = posterior(fits, 10, None, net, &graph, &cfg);
            let id = |m: f64| loc.at_pump(net, &graph, m).map(|k| net.links[k].id.clone());
            (net.links[loc.pipe].id.clone(), id(10.0), id(0.0))
        };
        // A 5 m pipe at the pump: the station.
        let station = net("5");
        assert_eq!(
            place(&station, "J2"),
            ("P2".into(), Some("PU1".into()), None)
        );
        assert_eq!(place(&station, "J3"), ("P3".into(), None, None));
        // The pump's end on a 400 m main: the main.
        let main = net("400");
        assert_eq!(place(&main, "J1"), ("P2".into(), None, None));
    }

    /// A main of 12 junctions 400 m apart.
    fn main_of_twelve() -> Network {
        let mut inp = String::from("[JUNCTIONS]\n");
        for i in 1..=12 {
            inp += &format!(" J{i} 10 1\n");
        }
        inp += "[RESERVOIRS]\n R1 80\n[PIPES]\n P1 R1 J1 100 200 120\n";
        for i in 2..=12 {
            inp += &format!(" P{i} J{} J{i} 400 200 120\n", i - 1);
        }
        inp += "[END]\n";
        network::inp::parse_inp(&inp, "main.inp").unwrap()
    }

    /// Where the signature cannot tell the candidates apart, the few it
    /// keeps (`top_nodes`) do not make a confident place: the confidence is
    /// the weight within the radius of all candidates.
    #[test]
    fn a_near_tie_is_not_a_confident_place() {
        let net = main_of_twelve();
        let graph = NetworkDistance::pipes_only(&net);
        let cfg = DetectConfig {
            top_nodes: 3,
            ..DetectConfig::default()
        };
        // Misfits equal but for rounding (one channel's worth of noise).
        let fits: Vec<(usize, f64, f64)> = (1..=12)
            .map(|i| {
                (
                    net.node_index(&format!("J{i}")).unwrap(),
                    1.0 + 1e-9 * i as f64,
                    1.0,
                )
            })
            .collect();
        let loc = posterior(fits.clone(), 10, None, &net, &graph, &cfg);
        // Three of twelve equal weights at most within 300 m of any pipe.
        assert!(loc.confidence <= 3.0 / 12.0 + 1e-6, "{}", loc.confidence);
        // With one channel (dim 0) every candidate weighs the same, even
        // where one fits by numerical accident.
        let mut fits = fits;
        fits[5].1 = 1e-26;
        let loc = posterior(fits.clone(), 0, None, &net, &graph, &cfg);
        assert!(loc.confidence <= 3.0 / 12.0 + 1e-6, "{}", loc.confidence);
        // A real signature (misfits far apart) still places the leak.
        for (i, f) in fits.iter_mut().enumerate() {
            f.1 = if i == 5 { 0.5 } else { 50.0 };
        }
        let loc = posterior(fits, 10, None, &net, &graph, &cfg);
        assert!(loc.confidence > 0.99, "{}", loc.confidence);
        let l = &net.links[loc.pipe];
        let at = net.node_index("J6").unwrap();
        assert!(l.from == at || l.to == at, "{}", l.id);
    }
}
