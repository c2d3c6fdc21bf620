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
//!    the water balance: inflows from reservoirs minus tank storage change,
//!    the storage change being a tank's metered net inflow where every link
//!    of it has a flow meter, else the change of its measured level. An
//!    unmetered reservoir link beside metered ones is estimated from the
//!    model's split of the supply (a note says so; refused when the meters
//!    carry less than half of it). AMR nodes get their metered demand; every
//!    other demand is scaled by one multiplier per step so that the model
//!    consumes what was measured. A level resting at its tank's minimum or
//!    maximum (drained, full) is not taken for a stuck sensor. Without a
//!    water balance (`pressure_fallback`) the model consumes its own
//!    demands, each step runs once more with a little more of them (the
//!    pressures' sensitivity to consumption), and the extra consumption
//!    that best explains the detrended pressure residuals stands in for
//!    the balance excess in steps 3–7 ([`Balance::Pressures`]).
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
//!    (`pending_confidence`). An unreported alarm that is new water loss
//!    (not the growth of a reported leak) is `unlocated`: the water
//!    balance is evidence of a leak even where the signature cannot place
//!    it, so a service alerts operators with its candidate area; the
//!    report that later places its pending leak names it (`locates`).
//!
//! The report time of a leak is the end of its localization window (so the
//! report uses no data from after the time it names).
//!
//! **Streaming.** The method runs one time step at a time: [`Detector`]
//! takes the readings of a step ([`Detector::push`], epoch milliseconds,
//! SI, one value per sensor of the set) and returns [`DetectorEvent`]s
//! (alarm raised, alarm localized — a new leak, the growth of a known one,
//! or held back —, sensor excluded or restored). Its whole state
//! serializes ([`Detector::state`], [`Detector::resume`]: a resumed
//! detector continues bit for bit as if never stopped). Learnt normal
//! behaviour is a [`Training`], kept apart so a service trains once. The
//! batch [`detect`] cleans a data set with hindsight and replays it through
//! the detector. Live data get causal checks instead: a sensor without a
//! usable reading for `stale_h` hours (or stuck) is excluded, its last
//! good value held, and its channel carries no weight in localization until
//! it reports again.
//!
//! Where each step lives (submodules of `detect/`): `checks` (1),
//! `boundary` (2: the frame grows row by row, the model advances with it),
//! `normal` (3), `cusum` (4: the statistic and the change point),
//! `localization` (5), `stream` (the [`Detector`]: alarm loop as a state
//! machine, alarms handled, 4–7); this module holds the public types and
//! the batch driver [`detect`]. None of them does I/O.

mod boundary;
mod checks;
mod cusum;
mod localization;
mod normal;
mod stream;

use crate::sensors::{SensorKind, SensorSet};
use crate::time::{format_step, hours_to_steps};
use checks::check_all;
pub use checks::{at_rest, check_series, resting_values};
use network::graph::DistanceRule;
use network::Network;
use serde::{Deserialize, Serialize};
pub use stream::{unit_scale, Clock, Detector, DetectorEvent, DetectorState, Training};

/// SCADA readings aligned on rows of the model step; `NaN` = missing.
#[derive(Debug, Clone)]
pub struct ScadaData {
    /// Step of row 0: steps of `step_s` seconds since the Unix epoch (UTC).
    pub start_step: i64,
    /// Seconds per row, the model step: it divides an hour (see
    /// [`crate::time::model_step_s`]).
    pub step_s: u64,
    /// The data's local clock minus UTC, seconds (the time zone the sensor
    /// map declares, at the start of the data): the model's patterns are
    /// aligned to local clock time ([`crate::time::model_origin_s`]).
    pub utc_offset_s: i64,
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

/// The detector's settings. Missing keys take their defaults when read
/// (a saved training or checkpoint from an older version still loads).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectConfig {
    /// Leak-free training days at the start of the data (when no separate
    /// training data is given). Default 7. At least 2 days are needed.
    pub train_days: f64,
    /// The model step, seconds; 0 (the default): the data's sampling
    /// interval when it is a whole number of minutes dividing an hour (1, 5,
    /// 10, 15, 30, 60 min…). Otherwise it must divide an hour; readings are
    /// averaged into it, or interpolated onto it when sparser. Read by the
    /// callers that resample the data (`aquatwin detect`, the twin);
    /// the detector runs on the step of its data and training.
    pub step_s: u64,
    /// CUSUM reference value and threshold, in standard deviations of the
    /// hourly balance excess. A threshold of 8 instead of 10 (`--set
    /// cusum_h=8`), same scenarios, leaks ≥ 3 L/s (L-Town) or ≥ 5 % of the
    /// inflow (MICROPOLIS_v1) reported within 72 h, leak by leak: L-Town's
    /// ten evaluation sets 8 found more and 2 fewer (241 → 247 of 278),
    /// false alarms 0.55 → 0.60 per 4 weeks, 85.1 → 84.1 % of perfect (new
    /// seeds 2001–2012: 23/26 both); MICROPOLIS_v1's fourteen evaluation
    /// sets 7 more and 6 fewer (202 → 203 of 254), 0.23 → 0.36, 82.2 →
    /// 81.2 % (new seeds 4501–4512: 12 → 14 of 18). Not the default: the
    /// gain is within the sets' noise and false alarms rise. BENCHMARKS.md
    /// has the runs.
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
    /// Pool the best candidate's misfit (dim − 1 degrees of freedom) with
    /// the signature's own noise in training (the spread of the same
    /// window's change without a leak; a degree of freedom per training day
    /// beyond the first) for the likelihood's variance, instead of the best
    /// misfit alone, which with few sensors is a poor estimate and, when it
    /// fits well by chance, makes the candidate weights overconfident. Off
    /// by default. Development seeds (2101–2106 elsewhere, 101–112 on
    /// L-Town), off → on: Net3 with 4 pressure sensors 6 → 7 of 12 big
    /// leaks reported within 72 h, false alarms 2.00 → 1.33 per 4 weeks,
    /// 14.2 → 27.6 % of perfect; MICROPOLIS_v1 (63 sensors) 6/8 both,
    /// 0.33 → 0.50, 89.2 → 87.3 %; L-Town 26 → 24 of 28, 0.50 both, 84.1 →
    /// 85.0 %. Worth trying on a sparse sensor set. (A floor at the
    /// training noise instead of pooling cost L-Town 4 big leaks and 8.6
    /// points of score.)
    pub pooled_noise: bool,
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
    /// The localization radius, m (default 300, BattLeDIM's rule for a
    /// correct location): an alarm's confidence is the candidate weight
    /// within this distance of its pipe; a later alarm this close to a
    /// reported leak is that leak growing; the second mode of a two-mode
    /// localization is the weight farther than this; candidate pipes are
    /// those within it of the best candidate nodes.
    #[serde(alias = "growth_radius_m")]
    pub radius_m: f64,
    /// Early report: as soon as a localization window of at least
    /// `early_min_h` hours after the estimated start puts this much candidate
    /// weight within `radius_m` of the reported pipe, report then instead of at
    /// the end of the full window (> 1 disables early reports).
    pub early_confidence: f64,
    pub early_min_h: f64,
    /// Hours between localization attempts before the full window.
    pub early_step_h: f64,
    /// An alarm whose localization puts less candidate weight than this
    /// within `radius_m` of its best pipe, even after the full window, is not
    /// reported (its water still joins the balance baseline): such reports
    /// were mostly false positives in development. Development seeds
    /// 101–140 (with the two-mode reports): 0.6 and 0.7 → 83/97 big leaks
    /// within 72 h, 0.50 false alarms per 4 weeks, 87.0 % of perfect;
    /// 0.8 → 83/97, 0.43, 87.1 %; 0.9 → 81/97, 0.38, 87.1 %.
    pub min_confidence: f64,
    /// An alarm below `min_confidence` whose weight splits into two places
    /// (the second localized on its own from the weight farther than `radius_m`
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
    /// A candidate leak moves exactly the size the water balance measured
    /// from the demands to its node: its emitter, which draws less where it
    /// lowers its own node's pressure, is corrected by the effect of the
    /// shortfall on the demands (one more model run per sample row). Without
    /// it a candidate on a weak pipe took the whole size off the demands but
    /// drew up to a tenth less (Richmond, an exact model: first detections
    /// placed within 300 m 56 → 72 %). Measured on seeds not used to develop
    /// it (big leaks reported, false alarms per 4 weeks, % of perfect):
    /// MICROPOLIS_v1 3601–3712 30/38 both, 0.25 → 0.17, 85.9 → 89.8 %;
    /// Net3 3601–3612 13 → 14 of 31, 1.75 both, 9.1 → 14.4 %; L-Town
    /// 1001–1012 27/28 both, 0.42 → 0.33, 88.9 → 89.2 %, 1401–1512 45/51
    /// both, 0.46 both, 85.0 → 84.9 %; Net6 3413–3418 unchanged but the
    /// score (58.8 → 58.4 %); Richmond 5 % 3601–3712 23/57 both,
    /// 0.62 → 0.75, 45.6 → 43.3 %. Not the default: on the end-to-end
    /// L-Town burst (`tests/leak_detection.rs`, seed 7) the burst's rest,
    /// 1.3 L/s four hours later, was placed 418 m from it and reported as a
    /// second leak (a false alarm) instead of its growth.
    pub mass_consistent: bool,
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
    /// A lower `new_leak_evidence` for an alarm whose joint fit places the
    /// new leak farther than `far_new_m` along the network from every
    /// reported leak (0 disables): a second leak starting hours after a
    /// first one far away has a window that still holds the first's onset,
    /// so its own signature points at the first and its evidence stays
    /// low, while a known leak growing is seldom placed that far from
    /// itself by the joint fit. Off by default: at 3 (with `far_new_m` 600
    /// and `far_new_max_h` 6), over 13 L-Town sets of 12 evaluation seeds
    /// (1001–2112, 2901) it found 2 more big leaks within 72 h (314 → 316
    /// of 360) for 3 more false alarms (90 → 93 in 156 scenarios); over
    /// the 13 MICROPOLIS_v1 sets not chosen for it (2301–4601) none more
    /// (184 of 232) for 2 more false alarms (40 → 42), and on the 4 sets
    /// chosen for their bursts lost to growth (2401, 2801, 3401, 4401) 2
    /// more (51 → 53 of 69), false alarms unchanged (9); scores moved −6.9
    /// to +7.6 points a set.
    /// Without the abrupt condition it gained nothing more and added more
    /// false alarms (L-Town 1001–1012: 5 → 8).
    pub far_new_evidence: f64,
    /// The distance, m, beyond which `far_new_evidence` applies.
    pub far_new_m: f64,
    /// `far_new_evidence` applies only to an abrupt alarm: raised at most
    /// this many hours after its estimated start (a burst). The growth of
    /// an incipient known leak that the joint fit places far away raises
    /// its alarm a day or so after the estimated start.
    pub far_new_max_h: f64,
    /// Hours after an alarm's size was measured (the last 12 hours of its
    /// localization window) at which that size, the water it added to the
    /// balance baseline, is measured again over the whole time since (0
    /// disables): a 12-hour mean is off by about half the hourly noise,
    /// and a baseline set too high hides the next leak's first hours. The
    /// new measure waits for a quiet CUSUM (nothing accumulating), and is
    /// given up when another alarm concludes first, the leak is repaired,
    /// or no quiet hour comes within as many hours again. Default 24: with
    /// it (twentieth session, same scenarios, main's detector without it),
    /// 14 L-Town sets of 12 seeds (1001–2201, 2901) reported 338 instead
    /// of 335 of 384 big leaks within 72 h, 90 instead of 92 false
    /// alarms, 86.0 instead of 85.3 % of perfect; 14 MICROPOLIS_v1 sets
    /// (2301–4701 without the four chosen for their bursts) 202 instead of
    /// 197 of 247, 53 instead of 42 false alarms (0.32 instead of 0.25 per
    /// 4 weeks), 82.9 % of perfect both. Big leaks without a balance alarm
    /// within 72 h there: 19 → 13. On the two sets new to both runs
    /// (L-Town 2201, MICROPOLIS 4701) it did slightly worse: 21 → 20 of
    /// 24 and 13 of 15 both, false alarms 2 → 3 and 2 → 4. With the four
    /// MICROPOLIS_v1 sets chosen earlier for bursts lost to growth, all
    /// eighteen: 248 → 255 of 316 (80.7 %), false alarms 51 → 63 in 216
    /// scenarios (0.29 per 4 weeks). BENCHMARKS.md has the runs.
    pub offset_refine_h: f64,
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
    /// that puts `pending_confidence` of the weight within `radius_m` of its pipe.
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
    /// A pump with a flow meter is on when its measured flow exceeds this,
    /// m³/h (default 0.1: above a meter's reading at rest; raise it for a
    /// meter that reads more than that with the pump off).
    pub pump_on_m3h: f64,
    /// Gaps longer than this share of the rows exclude a sensor (default 0.2).
    pub max_missing_share: f64,
    /// A pressure or level repeating one value for this many hours is
    /// stuck and excluded (default 24 h; converted to steps with the model
    /// step, at least 2 readings).
    pub stuck_h: f64,
    /// Live data: a sensor without a usable reading for this many hours is
    /// excluded (its last good value held) until it reports again (default
    /// 1 h, at least one step).
    pub stale_h: f64,
    /// How distances are measured in localization and between alarms:
    /// `network` (through pipes and open valves and pumps, at 0 m for a
    /// valve or pump: a leak beside a valve is near the pipes on both
    /// sides) or `pipes_only` (BattLeDIM 2020's rule, valves and pumps not
    /// crossed: what the official BattLeDIM scorer measures, so an entry
    /// scored by it should choose its pipe by the same rule).
    pub distance: DistanceRule,
    /// Days of readings a detector keeps (older rows are dropped once
    /// nothing refers to them any more: a leak's reference windows, a
    /// pending leak, the change-point search). Bounds memory and checkpoint
    /// size for a service that runs for years. At least
    /// `pending_h` + `ref_window_h` + 3 days is used whatever is set.
    pub history_days: f64,
    /// Pump stations, m: an alarm whose chosen pipe is station pipework
    /// (at most this long and within this distance of a pump's end) is not
    /// reported as a leak there (0 disables). Such a place is what a
    /// change of the pump's flow alone, which the pressures do not follow,
    /// looks like: the pump or its meter departing from the model more
    /// often than a leak in a few metres of station pipe. The alarm stays
    /// an alert whose place is uncertain (`unlocated`, `at_pump`); a main
    /// leaving a pump is not station pipework. Default 10 m. Found on
    /// evaluation sets already run (reports whose best node was at a pump:
    /// 28 false, 3 true positives over Richmond, Net3, L-Town and
    /// MICROPOLIS_v1); measured on new seeds, 0 → 10 m (big leaks reported
    /// within 72 h; false alarms per 4 weeks; % of perfect): Richmond 5 %
    /// 3401–3412 14 → 13 of 23, 1.42 → 0.75, 34.7 → 45.4 %; 3501–3512 14 →
    /// 11 of 26, 0.92 → 0.83, 30.0 → 29.6 % (a leak near pump 1A's
    /// station held, still an operator alert with an uncertain place); Net3
    /// 3401–3412 9 → 8 of 24, 1.42 → 1.17, 13.6 → 13.7 %; 3501–3512 6 → 5
    /// of 27, 2.08 → 1.67, 10.1 → 10.2 %. A trade: fewer false alarms,
    /// about one confident report fewer per 12 scenarios where pumps are
    /// metered in small stations.
    pub station_m: f64,
    /// Where the metering cannot close a water balance (a reservoir link
    /// without a meter beyond what can be estimated, a tank without a
    /// level or metered links), detect from the pressures instead: the
    /// extra consumption the pressure sensors imply against the model's
    /// (at least two pressure sensors, and consumption outside the AMR
    /// meters; a note says so, and the report's `balance` is
    /// `pressures`). Off: such metering is an error naming what is
    /// missing.
    pub pressure_fallback: bool,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            train_days: 7.0,
            step_s: 0,
            cusum_k: 0.5,
            cusum_h: 10.0,
            loc_window_h: 24.0,
            ref_window_h: 24.0,
            loc_samples: 8,
            top_nodes: 60,
            temperature_scale: 1.0,
            pooled_noise: false,
            amp_sigma: 0.3,
            per_sample: false,
            signature_noise: false,
            radius_m: 300.0,
            early_confidence: 0.97,
            early_min_h: 3.0,
            early_step_h: 6.0,
            min_confidence: 0.8,
            two_mode_confidence: 0.9,
            joint_known: true,
            mass_consistent: false,
            ref_same_time: true,
            new_leak_evidence: 15.0,
            far_new_evidence: 0.0,
            far_new_m: 600.0,
            far_new_max_h: 6.0,
            offset_refine_h: 24.0,
            amr_patterns: false,
            state_features: true,
            pending_h: 120.0,
            pending_confidence: 0.7,
            pending_step_h: 0.0,
            min_new_evidence: 1.5,
            pump_on_m3h: 0.1,
            max_missing_share: 0.2,
            stuck_h: 24.0,
            stale_h: 1.0,
            history_days: 10.0,
            station_m: 10.0,
            pressure_fallback: true,
            distance: DistanceRule::Network,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SensorIssue {
    pub kind: SensorKind,
    pub column: String,
    pub problem: String,
    /// Excluded from the analysis (otherwise only repaired, e.g. short gaps).
    pub excluded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidatePipe {
    pub pipe: String,
    /// Expected distance to the leak under the candidate weights, m.
    pub expected_distance_m: f64,
    /// Weight of candidate leak nodes within `radius_m` of this pipe (the
    /// name keeps the default radius, 300 m).
    pub mass_within_300m: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateNode {
    pub node: String,
    pub weight: f64,
    /// Misfit of the standardized signature.
    pub misfit: f64,
    /// Fitted amplitude (1 = the estimated size).
    pub amplitude: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alarm {
    /// Reported (true), or not: taken as the growth of an earlier alarm
    /// (`growth_of`), or localized too diffusely (`min_confidence`).
    pub reported: bool,
    /// The earlier alarm whose leak this one is the growth of: a reported
    /// leak near this alarm's place, or the pending leak whose place is
    /// still uncertain when this alarm does not place it either.
    pub growth_of: Option<usize>,
    pub pipe: String,
    /// A second pipe reported with it (two-mode localization, see
    /// `two_mode_confidence`).
    pub also_pipe: Option<String>,
    /// Report time `YYYY-MM-DD HH:MM` (end of the localization window).
    pub time: String,
    /// The same as a step of the detector's grid (steps of its `step_s`
    /// seconds since the Unix epoch).
    pub step: i64,
    /// When the CUSUM crossed its threshold.
    pub alarm_time: String,
    pub estimated_start: String,
    pub estimated_size_lps: f64,
    /// Weight of candidate nodes within `radius_m` of the reported pipe.
    pub confidence: f64,
    pub candidate_pipes: Vec<CandidatePipe>,
    pub candidate_nodes: Vec<CandidateNode>,
    /// With leaks already found: how much better a new leak explains the
    /// signature than the growth of those alone (misfit ratio).
    pub new_leak_evidence: Option<f64>,
    /// With leaks already found: the pipe where the fit together with them
    /// places a new leak (whether or not the alarm was taken as new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_leak_pipe: Option<String>,
    /// The sensors that carried the leak's signature most, largest first.
    #[serde(default)]
    pub evidence: Vec<SensorEvidence>,
    /// Not reported, yet new water loss: the water balance sees it and its
    /// signature does not point at a known leak, but it cannot be placed
    /// (localized too diffusely, `min_confidence`, explained nearly as
    /// well by the known leaks growing, `min_new_evidence`, or placed at a
    /// pump's station, `station_m`). Operators
    /// still get it, as a leak whose place is uncertain (`pipe` the best
    /// guess, `candidate_pipes` the area). A later report of the same
    /// (pending) leak names this alarm in `locates`.
    #[serde(default)]
    pub unlocated: bool,
    /// A report that places the pending leak of an earlier unlocated alarm
    /// (its index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locates: Option<usize>,
    /// The pump whose station the localization points at (`station_m`):
    /// not reported as a leak there; check the pump and its meter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_pump: Option<String>,
}

/// A sensor's share of an alarm's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SensorEvidence {
    pub kind: SensorKind,
    /// The sensor's SCADA column (its name in the sensor set).
    pub sensor: String,
    /// Change of its detrended residual (measured − model) over the
    /// localization window against the reference before it, SI (m, m³/s).
    pub change: f64,
    /// The same in standard deviations of the residual's noise.
    pub sigmas: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DetectReport {
    pub config: DetectConfig,
    /// The model step the data ran on, seconds.
    pub step_s: u64,
    pub rows: usize,
    pub first_time: String,
    pub sensors_used: usize,
    /// Kilometres of pipe per pressure sensor compared with the model
    /// (`None` without one): the density that sets how finely leaks can
    /// be placed (README, *How many pressure sensors*).
    pub pressure_sensor_spacing_km: Option<f64>,
    pub issues: Vec<SensorIssue>,
    pub notes: Vec<String>,
    pub training: String,
    /// What the balance statistic is: the metered water balance, or
    /// without one the consumption the pressures imply
    /// (`pressure_fallback`).
    #[serde(default)]
    pub balance: Balance,
    /// Standard deviation of the hourly balance excess in training, L/s (mean).
    pub balance_sigma_lps: f64,
    /// What that noise allows: the smallest abrupt leak the water balance
    /// raises an alarm on within 6, 24 and 72 hours on average (the
    /// CUSUM's average run length at `cusum_k`, `cusum_h`). A report with a
    /// place takes longer (the localization window, at least
    /// `early_min_h`); a leak that grows slowly is found when it reaches
    /// that size.
    pub balance_detectable: Vec<DetectableLeak>,
    pub alarms: Vec<Alarm>,
}

/// What the detector's balance statistic is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// The water balance: metered supply minus storage, against the
    /// expected consumption.
    #[default]
    Metered,
    /// No water balance: the extra consumption the pressure sensors imply
    /// against the model's (`DetectConfig::pressure_fallback`).
    Pressures,
}

impl Balance {
    /// The pressures' statistic when `pressures`, else the balance.
    pub(super) fn of(pressures: bool) -> Balance {
        if pressures {
            Balance::Pressures
        } else {
            Balance::Metered
        }
    }

    /// In words, for the line that gives its noise.
    pub fn label(self) -> &'static str {
        match self {
            Balance::Metered => "water balance",
            Balance::Pressures => "no water balance, the consumption the pressures imply",
        }
    }
}

/// The smallest abrupt leak the water balance alarms on within `within_h`
/// hours on average, L/s.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectableLeak {
    pub within_h: f64,
    pub leak_lps: f64,
}

/// [`DetectableLeak`]s for a balance whose hourly excess has standard
/// deviation `sigma_lps`, with the CUSUM settings of `cfg`.
pub fn balance_detectable(sigma_lps: f64, cfg: &DetectConfig) -> Vec<DetectableLeak> {
    if !sigma_lps.is_finite() {
        return Vec::new();
    }
    [6.0, 24.0, 72.0]
        .iter()
        .map(|&h| DetectableLeak {
            within_h: h,
            leak_lps: sigma_lps * cusum::detectable_shift(h, cfg.cusum_k, cfg.cusum_h),
        })
        .collect()
}

/// For people: the balance's hourly noise and the [`DetectableLeak`]s,
/// `hourly noise 0.90 L/s; it alarms on an abrupt leak of 2.08 L/s within
/// 6 h, … on average`.
pub fn describe_balance(sigma_lps: f64, leaks: &[DetectableLeak]) -> String {
    let sizes: Vec<String> = leaks
        .iter()
        .map(|l| format!("{} L/s within {} h", lps(l.leak_lps), l.within_h))
        .collect();
    format!(
        "hourly noise {} L/s; it alarms on an abrupt leak of {} on average",
        lps(sigma_lps),
        sizes.join(", ")
    )
}

/// Two decimals, or at least two significant digits for a flow under
/// 0.1 L/s (a balance without noise is not "0.00 L/s").
fn lps(x: f64) -> String {
    let decimals = if x > 0.0 && x.is_finite() {
        (1 - x.log10().floor() as i32).clamp(2, 8) as usize
    } else {
        2
    };
    format!("{x:.decimals$}")
}

impl DetectReport {
    /// `pipeID, YYYY-MM-DD HH:MM` lines of the reported alarms.
    pub fn battledim_lines(&self) -> String {
        Self::lines(self.alarms.iter().filter(|a| a.reported))
    }

    /// The same lines for every alarm that opens or places an operator
    /// alert: the reported ones and the new leaks whose place is uncertain
    /// (`unlocated`, at their best-guess pipe), so that what operators
    /// receive can be scored like the reports.
    pub fn alert_lines(&self) -> String {
        Self::lines(self.alarms.iter().filter(|a| a.reported || a.unlocated))
    }

    fn lines<'a>(alarms: impl Iterator<Item = &'a Alarm>) -> String {
        alarms
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

/// Runs the detector on `data` (and the leak-free `train` data, if given):
/// the data are cleaned with hindsight (short gaps interpolated, sensors
/// faulty over the period excluded, see [`check_series`]), then replayed
/// row by row through the streaming [`Detector`]. Without `train`, the
/// detector learns from the first `train_days` of `data`.
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
    let (series, mut issues) = check_all(model, sensors, data, cfg, "");
    let usable: Vec<bool> = series.iter().map(Option::is_some).collect();
    let mut detector = match train {
        Some(t) => {
            let training =
                Training::learn_restricted(model, sensors, t, t.rows, cfg, Some(&usable))?;
            issues.extend(training.issues.iter().cloned());
            if t.step_s != data.step_s {
                return Err(DetectError::Data(format!(
                    "the training data run on a {} s step, the data on {} s",
                    t.step_s, data.step_s
                )));
            }
            Detector::new(model, sensors, cfg, training, data.start_step)?
        }
        None => {
            let rows = hours_to_steps((cfg.train_days * 24.0).trunc(), data.step_s).min(data.rows);
            let clock = Clock::of_data(model, data);
            Detector::self_training(model, sensors, cfg, &usable, clock, data.start_step, rows)
                .map_err(|e| match e {
                    DetectError::Data(_) => DetectError::Data(format!(
                        "{} rows: at least 2 days are needed for training",
                        data.rows
                    )),
                    e => e,
                })?
        }
    };
    let mut row = vec![f64::NAN; series.len()];
    for r in 0..data.rows {
        for (x, s) in row.iter_mut().zip(&series) {
            *x = s.as_ref().map_or(f64::NAN, |v| v[r]);
        }
        detector.push_clean(&row)?;
    }
    detector.finish()?;
    for (si, held) in detector.model_out_of_range() {
        let s = &sensors.sensors[si];
        issues.push(SensorIssue {
            kind: s.kind,
            column: s.column.clone(),
            problem: format!(
                "the model's value was not compared at {held} rows (a step the model did not \
                 solve, or a value outside the sensor's range: a state no sensor could read, \
                 e.g. a zone cut off by a stopped pump): its residual was held at the previous \
                 row's there"
            ),
            excluded: false,
        });
    }
    let (rows, training, balance_sigma_lps) = detector.summary();
    Ok(DetectReport {
        config: cfg.clone(),
        step_s: data.step_s,
        rows,
        first_time: format_step(data.start_step, data.step_s),
        sensors_used: detector.sensors_used(),
        pressure_sensor_spacing_km: detector.pressure_sensor_spacing_km(),
        issues,
        notes: detector.notes().to_vec(),
        training,
        balance: detector.balance(),
        balance_sigma_lps,
        balance_detectable: balance_detectable(balance_sigma_lps, cfg),
        alarms: detector.alarms().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_balance_without_noise_is_not_printed_as_zero() {
        let leak = |leak_lps| DetectableLeak {
            within_h: 6.0,
            leak_lps,
        };
        let quiet = describe_balance(0.001, &[leak(0.0023)]);
        assert!(quiet.starts_with("hourly noise 0.0010 L/s"), "{quiet}");
        assert!(quiet.contains("0.0023 L/s within 6 h"), "{quiet}");
        let usual = describe_balance(0.9, &[leak(2.08)]);
        assert!(usual.starts_with("hourly noise 0.90 L/s"), "{usual}");
        assert!(usual.contains("2.08 L/s within 6 h"), "{usual}");
    }
}
