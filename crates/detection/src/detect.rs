//! The leak detector: the model run with measured boundary conditions,
//! residuals against the sensors, a persistence-holding statistic on the
//! water balance, and localization by simulated candidate leaks.
//!
//! 1. **Data checks.** Every sensor column is checked: missing, too many
//!    gaps, out of its range, stuck (a pressure or level repeating the same
//!    value for a day). Faulty sensors are excluded and listed; short gaps
//!    are interpolated.
//! 2. **Boundary conditions and demand calibration.** Tanks with a level
//!    sensor become fixed-head nodes at the measured level; pumps with a flow
//!    sensor follow the measured on/off state. Consumption is measured by
//!    the water balance (inflows from reservoirs minus tank storage change);
//!    AMR nodes get their metered demand; every other demand is scaled by one
//!    multiplier per step so that the model consumes what was measured.
//! 3. **Normal behaviour.** On a leak-free training period (the first week
//!    unless a separate one is given): the balance excess over the model's
//!    expected consumption (per demand pattern, least squares) and its
//!    variance as a function of demand; and, per pressure/flow sensor, the
//!    residual measured − simulated as a function of demand and operating
//!    state (pump on/off, the mix of demand groups; `state_features`).
//! 4. **Detection.** One-sided CUSUM on hourly standardized balance excess
//!    (k = 0.5, h = 10 by default: about one false alarm in years of
//!    Gaussian noise). A leak is water the model does not consume, so it
//!    shows in the balance wherever it is, including behind the tank.
//! 5. **Localization.** The signature is the change of the detrended
//!    residuals over a window after the estimated start against the day
//!    before (windows shorter than a day: against the same clock times on
//!    the days before). Candidate leaks of the estimated size at every
//!    junction are simulated at a few steps of the window (warm-started
//!    clones, in parallel) with the demand recalibration the detector itself
//!    does; each candidate's fit gives a likelihood, and the reported pipe
//!    minimises the expected distance to the leak under those weights
//!    (signatures are nearly collinear, so the most likely node alone is a
//!    poor bet). A candidate is fitted with a non-negative amplitude (with
//!    a log-normal prior around the size the balance measured, `amp_sigma`),
//!    and, once leaks have been found, jointly with their signatures (also
//!    non-negative: they may still be growing inside the window), see
//!    [`crate::signature`].
//! 6. **After an alarm** its estimated size joins the balance baseline and
//!    the CUSUM restarts; a later alarm whose own signature points within
//!    `growth_radius_m` of an earlier report is taken as that leak growing,
//!    not a new leak — unless the known leaks explain it
//!    `new_leak_evidence` times worse than with a new leak added. A new
//!    alarm that the known leaks explain less than `min_new_evidence` times
//!    worse is not reported (mostly a known leak growing, placed elsewhere).
//!    An alarm localized too diffusely (`min_confidence`) whose weight sits
//!    in two places, neither near a reported leak, is reported at both
//!    (`two_mode_confidence`): a leak beside a pressure-reducing valve
//!    looks the same from either side, and pipe distances do not cross
//!    valves.
//! 7. **Pending leaks.** An alarm neither reported nor the growth of a
//!    reported leak stays pending (`pending_h`); at later unreported alarms
//!    the whole pending leak is localized again (last window against the day
//!    before its start) and reported once concentrated
//!    (`pending_confidence`).
//!
//! The report time of a leak is the end of its localization window (so the
//! report uses no data from after the time it names).
//!
//! Where each step lives (submodules of `detect/`): `checks` (1),
//! `boundary` (2), `normal` (3), `cusum` (4: the statistic and the change
//! point), `localization` (5); this module holds the public types and the
//! driver [`detect`], which runs the alarm loop and handles alarms (4, 6).
//! None of them does I/O.

mod boundary;
mod checks;
mod cusum;
mod localization;
mod normal;

use crate::sensors::{SensorKind, SensorSet};
use crate::time::format_step;
use crate::time::STEPS_PER_HOUR;
use boundary::{run_model, Frame, Setup};
use checks::check_all;
pub use checks::check_series;
use cusum::{change_point, cusum_update};
use localization::localize;
use network::graph::NetworkDistance;
use network::Network;
use normal::{hourly, learn};
use serde::{Deserialize, Serialize};

/// SCADA readings aligned on 5-minute rows; `NaN` = missing.
#[derive(Debug, Clone)]
pub struct ScadaData {
    /// Step of row 0 (5-minute steps from 2019-01-01 00:00).
    pub start_step: i64,
    pub rows: usize,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub kind: SensorKind,
    pub name: String,
    pub values: Vec<f64>,
}

impl ScadaData {
    pub fn column(&self, kind: SensorKind, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.kind == kind && c.name == name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectConfig {
    /// Leak-free training days at the start of the data (when no separate
    /// training data is given).
    pub train_days: f64,
    /// CUSUM reference value and threshold, in standard deviations of the
    /// hourly balance excess.
    pub cusum_k: f64,
    pub cusum_h: f64,
    /// Localization window after the estimated start, hours.
    pub loc_window_h: f64,
    /// Reference window before the estimated start, hours.
    pub ref_window_h: f64,
    /// Steps of the window at which candidates are simulated.
    pub loc_samples: usize,
    /// Nodes kept for the expected-distance choice.
    pub top_nodes: usize,
    /// Scale of the likelihood temperature (larger = flatter weights, a
    /// more centroid-like choice).
    pub temperature_scale: f64,
    /// Standard deviation of the log-normal prior on a candidate's fitted
    /// amplitude around 1 (the balance-estimated size); 0 = no prior
    /// (free amplitude). Development seeds: 0.3 found 2 more big leaks
    /// within 72 h than no prior (39/48) with one false alarm fewer; 0.5
    /// one more; 0.2 lost true positives.
    pub amp_sigma: f64,
    /// Compare signatures per sample time (true: the change over each
    /// sample's share of the window against the same clock times on the
    /// days before) or averaged over the window. Off by default: on the
    /// development seeds 101–140 it placed detections better (93 % of
    /// detected leaks within 300 m, 7 false alarms in 1,120 days instead of
    /// 16) but the new-leak evidence ratios shrink towards 1 in the larger
    /// signature, so fewer leaks were reported within 72 h (85/97 big
    /// leaks; with `min_new_evidence` 1.15: 89/97 like the window mean, 15
    /// false alarms, a lower score).
    pub per_sample: bool,
    /// Standardize the signature by its own noise in training (the spread
    /// of window-mean differences) instead of the residual spread. Off by
    /// default: in development it found slightly more big leaks in time but
    /// gave more false alarms and a lower score.
    pub signature_noise: bool,
    /// A later alarm this close to an earlier one is the same leak growing.
    pub growth_radius_m: f64,
    /// Early report: as soon as a localization window of at least
    /// `early_min_h` hours after the estimated start puts this much candidate
    /// weight within 300 m of the reported pipe, report then instead of at
    /// the end of the full window (> 1 disables early reports).
    pub early_confidence: f64,
    pub early_min_h: f64,
    /// Hours between localization attempts before the full window.
    pub early_step_h: f64,
    /// An alarm whose localization puts less candidate weight than this
    /// within 300 m of its best pipe, even after the full window, is not
    /// reported (its water still joins the balance baseline): such reports
    /// were mostly false positives in development. Development seeds
    /// 101–140 (with the two-mode reports): 0.6 and 0.7 → 83/97 big leaks
    /// within 72 h, 0.50 false alarms per 4 weeks, 87.0 % of perfect;
    /// 0.8 → 83/97, 0.43, 87.1 %; 0.9 → 81/97, 0.38, 87.1 %.
    pub min_confidence: f64,
    /// An alarm below `min_confidence` whose weight splits into two places
    /// (the second localized on its own from the weight farther than 300 m
    /// from the first) is reported at both pipes when together they hold
    /// this share of the weight, each at least a third of that share, and
    /// neither near a reported leak (> 1 disables). Typical case: the two
    /// ends of a pressure-reducing valve, where a leak gives the same
    /// signature on either side. Development seeds 101–140 (with
    /// `new_leak_evidence` 10): one more big leak found within 72 h (a
    /// 6 L/s burst beside PRV-2, 50/50 across it), one more false alarm.
    pub two_mode_confidence: f64,
    /// Fit each candidate's signature together with those of the leaks
    /// already found (non-negative amplitudes), which may still be growing.
    pub joint_known: bool,
    /// For windows shorter than a day, compare with the same clock times on
    /// the days before instead of the whole day before.
    pub ref_same_time: bool,
    /// An alarm whose signature the known leaks explain this many times
    /// worse (misfit ratio) than with a new leak added is a new leak, even
    /// when the new signature alone points near a known one. Development
    /// seeds 101–140 (with the two-mode reports): 30 (before) missed a
    /// 7.6 L/s burst that started beside a known leak (evidence 16.5) and
    /// scored 84.5 % of perfect; 15 → 87.0 %, 0.50 false alarms per 4
    /// weeks; 10 → 86.9 %, 0.53; 5 → 87.0 %, 0.60.
    pub new_leak_evidence: f64,
    /// Predict the non-AMR consumption in the water balance from the AMR
    /// readings (the demand patterns' values fitted to the meters at every
    /// step) rather than from the model's patterns alone: what varies from
    /// the patterns is mostly common to the meters and the rest. Off by
    /// default: in development it cut the hourly balance noise about 3×
    /// (0.57 → 0.18 L/s) but the earlier, smaller alarms localized worse
    /// (more false alarms, lower score).
    pub amr_patterns: bool,
    /// Learn the residual trends with the operating state (pump on/off and
    /// on × demand, the demand groups' shares), not only the total demand:
    /// otherwise a day's mean residual moves with the pump's duty cycle and
    /// with weekday/weekend (−4 σ at some sensors from Sunday to Monday on
    /// leak-free seed 129). Leak-free windows (5 development seeds, 45
    /// days): mean misfit 0.080 → 0.067 of a 1 L/s candidate fit, largest
    /// apparent leak 0.45 → 0.28 L/s. Development seeds 101–140: 84/97 big
    /// leaks within 72 h (83), 16 false alarms (17), 88.5 % of perfect
    /// (87.1 %). Adding the tank level (and level × demand) cut leak-free
    /// noise further (0.043, 0.12 L/s) but lost leaks and added false
    /// alarms on seeds 101–120 (37/48, 0.60, 80.4 %), also with
    /// `temperature_scale` 2.
    pub state_features: bool,
    /// Pending leaks: an alarm not reported (localized too diffusely) and not
    /// the growth of a reported leak stays pending for this many hours after
    /// its estimated start (0 disables); at every later unreported alarm the
    /// pending leak is localized again from the change of the last
    /// `loc_window_h` against the day before the pending start (the whole
    /// leak, not only the growth that raised the alarm) and reported once
    /// that puts `pending_confidence` of the weight within 300 m of its pipe.
    pub pending_h: f64,
    pub pending_confidence: f64,
    /// Hours between re-localizations of a pending leak without an alarm
    /// (0: only at alarms; 6 in development found one more leak but gave
    /// three more false alarms).
    pub pending_step_h: f64,
    /// With leaks already found, a new alarm is reported only if the known
    /// leaks explain its signature at least this many times worse (misfit
    /// ratio) than with the new leak added; below, it is most often a known
    /// leak growing that the new signature alone placed elsewhere (it may
    /// still be reported later as a pending leak). 0 disables. 2 before the
    /// amplitude prior; with it, 1.5 gave more true positives and fewer
    /// false alarms on the development seeds (1.25: more false alarms).
    pub min_new_evidence: f64,
    /// Gaps longer than this share of the rows exclude a sensor.
    pub max_missing_share: f64,
    /// A pressure or level repeating one value this many steps is stuck.
    pub stuck_steps: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            train_days: 7.0,
            cusum_k: 0.5,
            cusum_h: 10.0,
            loc_window_h: 24.0,
            ref_window_h: 24.0,
            loc_samples: 8,
            top_nodes: 60,
            temperature_scale: 1.0,
            amp_sigma: 0.3,
            per_sample: false,
            signature_noise: false,
            growth_radius_m: 300.0,
            early_confidence: 0.97,
            early_min_h: 3.0,
            early_step_h: 6.0,
            min_confidence: 0.8,
            two_mode_confidence: 0.9,
            joint_known: true,
            ref_same_time: true,
            new_leak_evidence: 15.0,
            amr_patterns: false,
            state_features: true,
            pending_h: 120.0,
            pending_confidence: 0.7,
            pending_step_h: 0.0,
            min_new_evidence: 1.5,
            max_missing_share: 0.2,
            stuck_steps: 288,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SensorIssue {
    pub kind: SensorKind,
    pub column: String,
    pub problem: String,
    /// Excluded from the analysis (otherwise only repaired, e.g. short gaps).
    pub excluded: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidatePipe {
    pub pipe: String,
    /// Expected distance to the leak under the candidate weights, m.
    pub expected_distance_m: f64,
    /// Weight of candidate leak nodes within 300 m of this pipe.
    pub mass_within_300m: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateNode {
    pub node: String,
    pub weight: f64,
    /// Misfit of the standardized signature.
    pub misfit: f64,
    /// Fitted amplitude (1 = the estimated size).
    pub amplitude: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alarm {
    /// Reported (true), or not: taken as the growth of an earlier alarm
    /// (`growth_of`), or localized too diffusely (`min_confidence`).
    pub reported: bool,
    pub growth_of: Option<usize>,
    pub pipe: String,
    /// A second pipe reported with it (two-mode localization, see
    /// `two_mode_confidence`).
    pub also_pipe: Option<String>,
    /// Report time `YYYY-MM-DD HH:MM` (end of the localization window).
    pub time: String,
    pub step: i64,
    /// When the CUSUM crossed its threshold.
    pub alarm_time: String,
    pub estimated_start: String,
    pub estimated_size_lps: f64,
    /// Weight of candidate nodes within 300 m of the reported pipe.
    pub confidence: f64,
    pub candidate_pipes: Vec<CandidatePipe>,
    pub candidate_nodes: Vec<CandidateNode>,
    /// With leaks already found: how much better a new leak explains the
    /// signature than the growth of those alone (misfit ratio).
    pub new_leak_evidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DetectReport {
    pub config: DetectConfig,
    pub rows: usize,
    pub first_time: String,
    pub sensors_used: usize,
    pub issues: Vec<SensorIssue>,
    pub notes: Vec<String>,
    pub training: String,
    /// Standard deviation of the hourly balance excess in training, L/s (mean).
    pub balance_sigma_lps: f64,
    pub alarms: Vec<Alarm>,
}

impl DetectReport {
    /// `pipeID, YYYY-MM-DD HH:MM` lines of the reported alarms.
    pub fn battledim_lines(&self) -> String {
        self.alarms
            .iter()
            .filter(|a| a.reported)
            .flat_map(|a| {
                std::iter::once(&a.pipe)
                    .chain(&a.also_pipe)
                    .map(|p| format!("{p}, {}\n", a.time))
            })
            .collect()
    }
}

/// Why detection cannot run.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("the sensor map does not match the network:\n  {}", .0.join("\n  "))]
    Sensors(Vec<String>),
    /// The metering cannot close a water balance: what is missing.
    #[error(
        "the metering cannot support leak detection: the water balance needs a flow meter \
         on every link of a reservoir and a level sensor in every tank (missing, or excluded \
         by the data checks):\n  {}",
        .0.join("\n  ")
    )]
    Metering(Vec<String>),
    /// The model cannot be prepared for simulation.
    #[error("model: cannot prepare the network for simulation")]
    Prepare(#[from] hydraulics::PrepareError),
    /// A simulation of the model failed.
    #[error("model: simulation failed")]
    Model(#[from] hydraulics::SimError),
    #[error("data: {0}")]
    Data(String),
}

// ------------------------------------------------------------------ driver

/// Whether pipe `k` lies within `radius` m of a reported alarm's pipe.
fn near_reported(
    alarms: &[Alarm],
    model: &Network,
    graph: &NetworkDistance,
    k: usize,
    radius: f64,
) -> bool {
    alarms.iter().any(|a| {
        a.reported
            && model
                .link_index(&a.pipe)
                .is_some_and(|r| graph.link_distance(r, k).is_some_and(|d| d <= radius))
    })
}

/// A pending leak `(start row, balance offset before it, known leaks before
/// it)` localized again as a whole: the last `loc_window_h` up to row `end`
/// against the reference before its start, its size the mean excess of the
/// last 12 hours over the offset. Returns the localization (with its size,
/// m³/s, and new-leak evidence) when it is concentrated enough to report and
/// not near a reported leak.
#[allow(clippy::too_many_arguments)]
fn relocalize_pending(
    setup: &Setup,
    model: &Network,
    graph: &NetworkDistance,
    normal: &normal::Normal,
    frame: &Frame,
    hours: &[(f64, f64)],
    first_row: usize,
    end: usize,
    (p_start, p_offset, p_known): (usize, f64, usize),
    known: &[usize],
    alarms: &[Alarm],
    cfg: &DetectConfig,
) -> Result<Option<(localization::Localization, f64, Option<f64>)>, DetectError> {
    let per_h = STEPS_PER_HOUR;
    let win = (cfg.loc_window_h * per_h as f64) as usize;
    if end <= p_start + per_h {
        return Ok(None);
    }
    let w_start = (end + 1).saturating_sub(win).max(p_start);
    let he = ((end + 1 - first_row) / per_h).min(hours.len()).max(1);
    let hs = he.saturating_sub(12);
    let p_size =
        (hours[hs..he].iter().map(|x| x.0).sum::<f64>() / (he - hs) as f64 - p_offset).max(1e-4);
    let (single, joint) = localize(
        setup,
        model,
        graph,
        normal,
        frame,
        w_start,
        end,
        p_size,
        &known[..p_known.min(known.len())],
        Some(p_start),
        cfg,
    )?;
    let evidence = joint.as_ref().and_then(|j| j.new_leak_evidence);
    let cum = joint.unwrap_or(single);
    let ok = cum.confidence >= cfg.pending_confidence
        && !near_reported(alarms, model, graph, cum.pipe, cfg.growth_radius_m)
        && !evidence.is_some_and(|e| e < cfg.min_new_evidence);
    Ok(ok.then_some((cum, p_size, evidence)))
}

/// Runs the detector on `data` (and the leak-free `train` data, if given).
pub fn detect(
    model: &Network,
    sensors: &SensorSet,
    data: &ScadaData,
    train: Option<&ScadaData>,
    cfg: &DetectConfig,
) -> Result<DetectReport, DetectError> {
    let errs = sensors.check(model);
    if !errs.is_empty() {
        return Err(DetectError::Sensors(errs));
    }
    let per_h = STEPS_PER_HOUR;
    let (series, mut issues) = check_all(sensors, data, cfg, "");
    let mut usable: Vec<bool> = series.iter().map(Option::is_some).collect();
    let train_series = match train {
        Some(t) => {
            let (s, i) = check_all(sensors, t, cfg, "training data: ");
            issues.extend(i);
            for (u, x) in usable.iter_mut().zip(&s) {
                *u &= x.is_some();
            }
            Some(s)
        }
        None => None,
    };
    let mut notes: Vec<String> = Vec::new();
    let mut setup = Setup::new(model, sensors, &usable, &mut notes);
    setup.amr_patterns = cfg.amr_patterns;
    if !setup.metering_gaps.is_empty() {
        return Err(DetectError::Metering(setup.metering_gaps));
    }
    if setup.residual.is_empty() {
        return Err(DetectError::Data(
            "no usable pressure or flow sensor".into(),
        ));
    }
    let mut frame = Frame::new(&setup, &series, data);
    run_model(&setup, &mut frame, &[])?;
    let (normal, train_text, first_row) = match (train, &train_series) {
        (Some(t), Some(ts)) => {
            let mut tf = Frame::new(&setup, ts, t);
            run_model(&setup, &mut tf, &[])?;
            let n = learn(&tf, 0..tf.rows, cfg.state_features);
            (
                n,
                format!("{} rows from {}", t.rows, format_step(t.start_step)),
                0,
            )
        }
        _ => {
            let rows = ((cfg.train_days * 24.0) as usize * per_h).min(frame.rows);
            if rows < 2 * per_h * 24 {
                return Err(DetectError::Data(format!(
                    "{} rows: at least 2 days are needed for training",
                    frame.rows
                )));
            }
            (
                learn(&frame, 0..rows, cfg.state_features),
                format!(
                    "first {:.1} days of the data (assumed leak-free)",
                    cfg.train_days
                ),
                rows,
            )
        }
    };
    // Pipes only: the network distance regressed L-Town (BENCHMARKS.md).
    let model_graph = NetworkDistance::pipes_only(model);
    // Hourly CUSUM.
    let hours = hourly(&frame, &normal, first_row..frame.rows);
    let sigma = |d: f64| (normal.v0 + normal.v1 * d * d).sqrt();
    let mut alarms: Vec<Alarm> = Vec::new();
    let mut offset = 0.0; // m³/s of leaks already found
                          // Most likely node of each leak already found (reported or not).
    let mut known: Vec<usize> = Vec::new();
    let mut s = 0.0;
    let mut last_reset = 0usize;
    let mut h = 0usize;
    // Pending leak: (estimated start row, balance offset and number of known
    // leaks before it).
    let mut pending: Option<(usize, f64, usize)> = None;
    let pending_step = (cfg.pending_step_h.max(0.0)) as usize;
    let mut next_check = 0usize;
    // The pending leak `p` localized again up to row `end`.
    let relocalize = |end: usize, p: (usize, f64, usize), known: &[usize], alarms: &[Alarm]| {
        relocalize_pending(
            &setup,
            model,
            &model_graph,
            &normal,
            &frame,
            &hours,
            first_row,
            end,
            p,
            known,
            alarms,
            cfg,
        )
    };
    while h < hours.len() {
        // A pending leak is localized again every `pending_step_h` hours
        // (besides at every unreported alarm).
        if let (Some(p), true) = (pending, pending_step > 0 && h >= next_check) {
            let end = first_row + h * per_h - 1;
            next_check = h + pending_step;
            if end.saturating_sub(p.0) > (cfg.pending_h * per_h as f64) as usize {
                pending = None;
            } else if let Some((cum, p_size, evidence)) = relocalize(end, p, &known, &alarms)? {
                let step = frame.start_step + end as i64;
                alarms.push(Alarm {
                    reported: true,
                    growth_of: None,
                    pipe: model.links[cum.pipe].id.clone(),
                    also_pipe: None,
                    time: format_step(step),
                    step,
                    alarm_time: format_step(step),
                    estimated_start: format_step(frame.start_step + p.0 as i64),
                    estimated_size_lps: p_size * 1000.0,
                    confidence: cum.confidence,
                    candidate_pipes: cum.pipes,
                    candidate_nodes: cum.nodes,
                    new_leak_evidence: evidence,
                });
                if let Some(&(n, _)) = cum.weights.first() {
                    if !known.contains(&n) {
                        known.push(n);
                    }
                }
                pending = None;
            }
        }
        let (e, d) = hours[h];
        let z = (e - offset) / sigma(d);
        s = cusum_update(s, z, cfg.cusum_k);
        if s == 0.0 {
            last_reset = h + 1;
            h += 1;
            continue;
        }
        if s <= cfg.cusum_h {
            h += 1;
            continue;
        }
        // Alarm at the end of hour h. Start: the most likely change point
        // (step change of the mean excess) within three days before.
        let lo = last_reset.min(h).saturating_sub(48);
        let zs: Vec<f64> = (lo..=h)
            .map(|x| (hours[x].0 - offset) / sigma(hours[x].1))
            .collect();
        let start_h = lo + change_point(&zs);
        let start = first_row + start_h * per_h;
        let alarm_row = first_row + (h + 1) * per_h - 1;
        let win = (cfg.loc_window_h * per_h as f64) as usize;
        let full_end = alarm_row.max(start + win).min(frame.rows - 1);
        let early_min = (cfg.early_min_h * per_h as f64) as usize;
        let early_step = ((cfg.early_step_h * per_h as f64) as usize).max(1);
        let mut end = if cfg.early_confidence <= 1.0 {
            alarm_row.max(start + early_min).min(full_end)
        } else {
            full_end
        };
        let (size, loc) = loop {
            // Size: the mean excess over the last 12 hours of the window
            // (the current size of a growing leak).
            let size = {
                let he = ((end + 1 - first_row) / per_h)
                    .min(hours.len())
                    .max(start_h + 1);
                let hs = he.saturating_sub(12).max(start_h);
                hours[hs..he].iter().map(|x| x.0).sum::<f64>() / (he - hs) as f64 - offset
            }
            .max(1e-4);
            let loc = localize(
                &setup,
                model,
                &model_graph,
                &normal,
                &frame,
                start,
                end,
                size,
                &known,
                None,
                cfg,
            )?;
            let confidence = loc.1.as_ref().unwrap_or(&loc.0).confidence;
            if end >= full_end || confidence >= cfg.early_confidence {
                break (size, loc);
            }
            end = (end + early_step).min(full_end);
        };
        // The same leak growing: an earlier reported alarm close to this
        // one's pipe, or close under this alarm's candidate weights, all
        // from the fit of the new signature alone (the joint fit explains
        // the growth of known leaks away, and only locates new ones).
        let (single, joint) = loc;
        let new_leak_evidence = joint.as_ref().and_then(|j| j.new_leak_evidence);
        let loc = &single;
        let clearly_new = new_leak_evidence.is_some_and(|e| e >= cfg.new_leak_evidence);
        let growth_of = alarms.iter().position(|a| {
            !clearly_new
                && a.reported
                && model.link_index(&a.pipe).is_some_and(|k| {
                    model_graph
                        .link_distance(k, loc.pipe)
                        .is_some_and(|d| d <= cfg.growth_radius_m)
                        || loc.expected_distance(k) <= cfg.growth_radius_m
                })
        });
        let loc = match joint {
            Some(j) if growth_of.is_none() => j,
            _ => single,
        };
        let step = frame.start_step + end as i64;
        let weak_new = new_leak_evidence.is_some_and(|e| e < cfg.min_new_evidence);
        let mut reported = growth_of.is_none() && loc.confidence >= cfg.min_confidence && !weak_new;
        // Near a reported leak: one of two modes there is most likely that
        // leak growing, and the other a false alarm.
        let near = |k: usize| near_reported(&alarms, model, &model_graph, k, cfg.growth_radius_m);
        let two_mode = match loc.second {
            Some((p2, c2))
                if growth_of.is_none()
                    && !weak_new
                    && !reported
                    && loc.confidence.min(c2) >= cfg.two_mode_confidence / 3.0
                    && loc.confidence + c2 >= cfg.two_mode_confidence
                    && !near(loc.pipe)
                    && !near(p2) =>
            {
                reported = true;
                Some(model.links[p2].id.clone())
            }
            _ => None,
        };
        let mut loc = loc;
        if let Some((p_start, _, _)) = pending {
            if start.saturating_sub(p_start) > (cfg.pending_h * per_h as f64) as usize {
                pending = None;
            }
        }
        if reported {
            pending = None;
        } else {
            match pending {
                None if cfg.pending_h > 0.0 && growth_of.is_none() => {
                    pending = Some((start, offset, known.len()));
                    next_check = (end + 1 - first_row) / per_h + pending_step;
                }
                Some(p) => {
                    if let Some((cum, _, _)) = relocalize(end, p, &known, &alarms)? {
                        loc = cum;
                        reported = true;
                        pending = None;
                    }
                }
                _ => {}
            }
        }
        alarms.push(Alarm {
            reported,
            growth_of,
            pipe: model.links[loc.pipe].id.clone(),
            also_pipe: two_mode,
            time: format_step(step),
            step,
            alarm_time: format_step(frame.start_step + alarm_row as i64),
            estimated_start: format_step(frame.start_step + start as i64),
            estimated_size_lps: size * 1000.0,
            confidence: loc.confidence,
            candidate_pipes: loc.pipes,
            candidate_nodes: loc.nodes,
            new_leak_evidence,
        });
        if let Some(&(n, _)) = loc.weights.first() {
            if !known.contains(&n) {
                known.push(n);
            }
        }
        offset += size;
        s = 0.0;
        h = (end + 1 - first_row) / per_h;
        last_reset = h;
    }
    let balance_sigma_lps =
        hours.iter().map(|&(_, d)| sigma(d)).sum::<f64>() / hours.len().max(1) as f64 * 1000.0;
    Ok(DetectReport {
        config: cfg.clone(),
        rows: frame.rows,
        first_time: format_step(frame.start_step),
        sensors_used: usable.iter().filter(|&&u| u).count(),
        issues,
        notes,
        training: train_text,
        balance_sigma_lps,
        alarms,
    })
}
