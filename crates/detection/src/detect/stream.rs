//! The streaming detector: one time step of readings at a time in, events
//! out, its whole state serializable. Batch detection ([`super::detect`]) is
//! a replay of a data set through it.
//!
//! Rows are processed as soon as they can be: a row is derived (water
//! balance, demand multiplier) once the storage term has its look-ahead of
//! `boundary::storage_half_window` rows, simulated at once, and an hour of the
//! balance excess enters the CUSUM when its last row is derived. An alarm
//! waits for the rows of its localization window (early reports as soon as
//! the candidates concentrate). [`Detector::finish`] ends the data: the
//! last rows are derived with a shortened storage term and a localization
//! still waiting uses the rows there are.

use super::boundary::{Frame, LiveModel, Setup, Snapshots};
use super::checks::{at_rest, check_all, resting_values};
use super::cusum::{change_point, cusum_update};
use super::localization::{localize, Localization};
use super::normal::{hourly, learn, Normal};
use super::{Alarm, DetectConfig, DetectError, ScadaData, SensorIssue};
use crate::sensors::{SensorKind, SensorSet};
use crate::time::{
    format_step, hours_to_steps, model_origin_s, step_of_unix_ms, steps_per_hour, unix_ms_of_step,
};
use network::graph::NetworkDistance;
use network::Network;
use serde::{Deserialize, Serialize};

/// The detector's time: its step and the model's time 0. Steps count
/// `step_s` seconds from the Unix epoch; the model's patterns are aligned
/// so that its time 0 is `model_origin_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Seconds per step (divides an hour).
    pub step_s: u64,
    /// Unix seconds of the model's time 0: its `START CLOCKTIME` on the
    /// local day the (training) data start ([`model_origin_s`]).
    pub model_origin_s: i64,
}

impl Clock {
    /// The clock of a data set: its step, and the model's time 0 on its
    /// first local day.
    pub fn of_data(model: &Network, data: &ScadaData) -> Clock {
        Clock {
            step_s: data.step_s,
            model_origin_s: model_origin_s(
                data.start_step * data.step_s as i64,
                data.utc_offset_s,
                model.times.start_clocktime,
            ),
        }
    }

    /// Steps in one hour.
    pub fn per_hour(&self) -> usize {
        steps_per_hour(self.step_s)
    }

    /// Epoch milliseconds of a step.
    pub fn unix_ms(&self, step: i64) -> i64 {
        unix_ms_of_step(step, self.step_s)
    }

    /// The step of an instant (epoch ms), if on the grid.
    pub fn step_of_unix_ms(&self, ms: i64) -> Option<i64> {
        step_of_unix_ms(ms, self.step_s)
    }

    /// `YYYY-MM-DD HH:MM` (UTC) of a step.
    pub fn format(&self, step: i64) -> String {
        format_step(step, self.step_s)
    }
}

/// Normal behaviour learnt on a leak-free period: which sensors are usable
/// and the learnt model of the balance and residuals. Serializable, so a
/// service trains once and keeps it (a training saved before the step was
/// a setting has no `clock` and is refused: train again).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Training {
    /// The step and model time 0 it was learnt on; a detector using it
    /// runs on the same.
    pub clock: Clock,
    /// Per sensor of the set: usable (passed the data checks).
    pub usable: Vec<bool>,
    /// Per sensor: its mean reading in training (detection's units), the
    /// value held when a live sensor has not reported yet.
    pub typical: Vec<Option<f64>>,
    /// What the training period was, in words.
    pub description: String,
    /// What the data checks found in the training data.
    pub issues: Vec<SensorIssue>,
    normal: Normal,
}

impl Training {
    /// What the balance statistic learnt here is made of.
    pub fn balance(&self) -> super::Balance {
        super::Balance::of(!self.normal.pressure_weights.is_empty())
    }

    /// Standard deviation of the hourly water-balance excess at the
    /// training's mean demand, L/s: what
    /// [`balance_detectable`](super::balance_detectable) turns into the
    /// leak sizes the balance alarms on.
    pub fn balance_sigma_lps(&self) -> f64 {
        let n = &self.normal;
        (n.v0 + n.v1 * n.u_scale * n.u_scale).sqrt() * 1000.0
    }

    /// Learns from a leak-free data set (every row of it).
    pub fn learn(
        model: &Network,
        sensors: &SensorSet,
        data: &ScadaData,
        cfg: &DetectConfig,
    ) -> Result<Training, DetectError> {
        Training::learn_restricted(model, sensors, data, data.rows, cfg, None)
    }

    /// Learns from the first `learn_rows` rows of `data`; the rows after
    /// them (up to the storage term's look-ahead) complete the water
    /// balance of the last training rows, exactly as a detector learning
    /// from its own first rows does ([`Detector::self_training`]). Only the
    /// sensors `restrict` allows are used (those usable in the data to be
    /// monitored), when given.
    pub fn learn_restricted(
        model: &Network,
        sensors: &SensorSet,
        data: &ScadaData,
        learn_rows: usize,
        cfg: &DetectConfig,
        restrict: Option<&[bool]>,
    ) -> Result<Training, DetectError> {
        let learn_rows = learn_rows.min(data.rows);
        let errs = sensors.check(model);
        if !errs.is_empty() {
            return Err(DetectError::Sensors(errs));
        }
        let clock = Clock::of_data(model, data);
        if learn_rows < hours_to_steps(48.0, clock.step_s) {
            return Err(DetectError::Data(format!(
                "{learn_rows} rows of training data: at least 2 days are needed"
            )));
        }
        let (mut series, issues) = check_all(model, sensors, data, cfg, "training data: ");
        if let Some(r) = restrict {
            for (s, &ok) in series.iter_mut().zip(r) {
                if !ok {
                    *s = None;
                }
            }
        }
        let usable: Vec<bool> = series.iter().map(Option::is_some).collect();
        let setup = checked_setup(model, sensors, &usable, cfg, &mut Vec::new())?;
        let mut frame = Frame::new(&setup, &series, data, clock);
        LiveModel::new(&setup, &frame)?.advance(&setup, &mut frame)?;
        // The rows after `learn_rows` are only the storage term's
        // look-ahead (as a self-training detector learns).
        let normal = learn(
            &frame,
            0..learn_rows.min(frame.rows),
            cfg.state_features,
            setup.pressure_channels().as_deref(),
        );
        Ok(Training {
            clock,
            typical: typical(&series, learn_rows),
            usable,
            description: format!(
                "{} rows of {} s from {}",
                learn_rows,
                clock.step_s,
                clock.format(data.start_step)
            ),
            issues,
            normal,
        })
    }
}

/// Each series' mean over its first `rows` readings.
fn typical(series: &[Option<Vec<f64>>], rows: usize) -> Vec<Option<f64>> {
    series
        .iter()
        .map(|s| match s.as_deref().map(|v| &v[..rows.min(v.len())]) {
            Some(v) if !v.is_empty() => Some(v.iter().sum::<f64>() / v.len() as f64),
            _ => None,
        })
        .collect()
}

/// The detector's model set-up, refused when nothing is compared with the
/// model, or when the metering cannot close a water balance and the
/// pressures cannot stand in for it (`pressure_fallback` off, or fewer
/// than two pressure sensors).
fn checked_setup(
    model: &Network,
    sensors: &SensorSet,
    usable: &[bool],
    cfg: &DetectConfig,
    notes: &mut Vec<String>,
) -> Result<Setup, DetectError> {
    let mut setup = Setup::new(model, sensors, usable, notes);
    setup.amr_patterns = cfg.amr_patterns;
    setup.pump_on_m3h = cfg.pump_on_m3h;
    if !setup.metering_gaps.is_empty() {
        let pressures = setup
            .residual
            .iter()
            .filter(|r| r.1 == SensorKind::Pressure)
            .count();
        // The fallback measures consumption the model spreads over its
        // demands; with none outside the AMR meters there is nothing to
        // probe the pressures with.
        let unmetered_demand = setup.groups.iter().any(|g| g.1 > 0.0);
        if !cfg.pressure_fallback || pressures < 2 || !unmetered_demand {
            return Err(DetectError::Metering(setup.metering_gaps));
        }
        notes.push(format!(
            "no water balance ({}): detection falls back to the pressures — the extra \
             consumption that the {pressures} pressure sensors imply, against the model's \
             (weaker than a balance: a leak far from the sensors moves them little)",
            setup.metering_gaps.join("; ")
        ));
        setup.pressure_balance = true;
    }
    if setup.residual.is_empty() {
        return Err(DetectError::Data(
            "no usable pressure or flow sensor".into(),
        ));
    }
    if setup.residual.len() < 2 {
        notes.push(format!(
            "only one sensor ({}) is compared with the model: the water balance can detect a \
             leak but nothing can place it (its alerts' place is uncertain)",
            sensors.sensors[setup.residual[0].0].column
        ));
    }
    Ok(setup)
}

/// What the detector reports as it goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DetectorEvent {
    /// The balance statistic crossed its threshold at `step`: a leak of
    /// about `size_lps` since `estimated_start_step` is suspected; its
    /// localization follows once the window's rows are in.
    AlarmRaised {
        step: i64,
        estimated_start_step: i64,
        size_lps: f64,
    },
    /// An alarm localized: a new leak (`alarm.reported`), the growth of
    /// leak `alarm.growth_of`, or held back (too diffuse; it may be
    /// reported later as a pending leak). `index` numbers the detector's
    /// alarms from 0 and is stable: a leak's key.
    Alarm { index: usize, alarm: Box<Alarm> },
    /// A live sensor stopped reporting usable values (missing, out of
    /// range, stuck); its last good value is held and, for a pressure or
    /// flow compared with the model, it no longer counts in localization.
    SensorExcluded {
        sensor: String,
        step: i64,
        reason: String,
    },
    /// The sensor reports usable values again.
    SensorRestored { sensor: String, step: i64 },
}

/// One simulated row at the sensors compared with the model: its step and,
/// per sensor, (index in the set, modelled value, measured value), SI.
pub type ModelledRow = (i64, Vec<(usize, f64, f64)>);

/// A localization under way: the alarm and the end of its next window.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Localizing {
    start_h: usize,
    start: usize,
    alarm_row: usize,
    /// End of the full window (not clamped to the data).
    full_end: usize,
    /// End of the next attempt.
    end: usize,
}

/// A pending leak: estimated start row, balance offset and number of
/// known leaks before it.
type Pending = (usize, f64, usize);

/// The alarm loop's state (hours counted from the first detection row).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AlarmState {
    h: usize,
    s: f64,
    last_reset: usize,
    /// m³/s of leaks already found.
    offset: f64,
    /// Most likely node of each leak already found (reported or not).
    known: Vec<usize>,
    pending: Option<Pending>,
    next_check: usize,
    alarms: Vec<Alarm>,
    localizing: Option<Localizing>,
    /// Sum and count of the modelled standard deviation of every hour's
    /// balance excess so far (m³/s): the report's mean.
    sigma_sum: f64,
    sigma_hours: u64,
    /// Alarms whose leak was repaired (their size left the baseline).
    #[serde(default)]
    repaired: Vec<usize>,
    /// The unlocated alarm that opened the pending leak, if any.
    #[serde(default)]
    pending_alarm: Option<usize>,
    /// What each alarm added to the balance baseline (`offset`), in the
    /// statistic's m³/s: its size when it concluded, nothing when it
    /// placed a pending leak whose water was already there.
    #[serde(default)]
    added: Vec<f64>,
    /// The next measure again of an alarm's size (`offset_refine_h`).
    #[serde(default)]
    refine: Option<Refine>,
}

/// An alarm whose size is to be measured again: over the hours from
/// `from_h` (where its first measure began) once `due_h` is reached.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Refine {
    alarm: usize,
    from_h: usize,
    due_h: usize,
}

impl AlarmState {
    /// The alarm a leak's growth chain starts from (see
    /// [`Detector::leak_root`]).
    fn leak_root(&self, mut index: usize) -> usize {
        while let Some(j) = self
            .alarms
            .get(index)
            .and_then(|a| a.growth_of.or(a.locates))
        {
            if j == index {
                break;
            }
            index = j;
        }
        index
    }

    /// What alarm `k` added to the baseline. A checkpoint from before
    /// this was kept has only the alarms' sizes (an alarm that placed a
    /// pending leak counts nothing: the pending leak's alarm counted it).
    fn added_by(&self, k: usize) -> f64 {
        match (self.added.get(k), &self.alarms[k]) {
            (Some(&x), _) => x,
            (None, a) if a.locates.is_some() => 0.0,
            (None, a) => a.estimated_size_lps / 1000.0,
        }
    }

    /// The alarms of the leak whose growth chain starts at `root`, not
    /// repaired.
    fn leak_chain(&self, root: usize) -> Vec<usize> {
        (0..self.alarms.len())
            .filter(|&k| self.leak_root(k) == root && !self.repaired.contains(&k))
            .collect()
    }

    /// The baseline without the leak of alarm `index`: the water of every
    /// other leak known and not repaired. A pending leak's size is the
    /// excess over it, whatever other leaks grew or were repaired since it
    /// opened.
    fn baseline_without(&self, index: usize) -> f64 {
        let own: f64 = self
            .leak_chain(self.leak_root(index))
            .iter()
            .map(|&k| self.added_by(k))
            .sum();
        (self.offset - own).max(0.0)
    }

    /// `added` for every alarm (a checkpoint from before it was kept has
    /// none).
    fn fill_added(&mut self) {
        while self.added.len() < self.alarms.len() {
            self.added.push(self.added_by(self.added.len()));
        }
    }

    /// Records an alarm that added `added` to the baseline.
    fn push(&mut self, alarm: Alarm, added: f64) {
        self.fill_added();
        self.alarms.push(alarm);
        self.added.push(added);
    }

    /// Alarm `index`'s size measured again as the mean of `hours`' excess
    /// over the baseline without it: the baseline takes the new size.
    fn remeasure(&mut self, index: usize, hours: &[(f64, f64)]) {
        if hours.is_empty() {
            return;
        }
        self.fill_added();
        let base = self.offset - self.added[index];
        let size = (mean_excess(hours) - base).max(0.0);
        self.added[index] = size;
        self.offset = base + size;
    }

    /// The leak of alarm `index` was repaired: what its chain added leaves
    /// the baseline. False when already repaired or unknown.
    fn repair(&mut self, index: usize) -> bool {
        if index >= self.alarms.len() || self.repaired.contains(&index) {
            return false;
        }
        let chain = self.leak_chain(self.leak_root(index));
        let size: f64 = chain.iter().map(|&k| self.added_by(k)).sum();
        self.offset = (self.offset - size).max(0.0);
        self.repaired.extend(chain);
        true
    }
}

/// Per live sensor: the causal data checks of a stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LiveSensor {
    last_good: Option<f64>,
    /// Steps since the last usable reading.
    stale: usize,
    /// Consecutive identical readings (pressures and levels).
    same: usize,
    excluded: bool,
}

/// The serializable state of a [`Detector`]: with the model and sensor
/// set it was made with, [`Detector::resume`] rebuilds the detector
/// exactly (the model is re-run over the kept rows).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectorState {
    pub config: DetectConfig,
    /// The detector's step and model time 0 (a checkpoint written before
    /// the step was a setting has none and is refused: start again from
    /// the training).
    pub clock: Clock,
    /// Training, once learnt (self-training detectors learn from their
    /// first `learn_rows` rows).
    pub training: Option<Training>,
    learn_rows: usize,
    /// Step of row 0 (rows older than the history kept are dropped), in
    /// steps of `clock.step_s` from the Unix epoch.
    pub start_step: i64,
    /// Step of the first row ever pushed.
    pub origin_step: i64,
    /// Rows before this one are warm-up (training), not monitored.
    pub first_row: usize,
    /// Cleaned readings per sensor (empty for sensors not used).
    raw: Vec<Vec<f64>>,
    alarm: AlarmState,
    live: Vec<LiveSensor>,
    issues: Vec<SensorIssue>,
}

/// The streaming leak detector (see the module documentation of
/// [`crate::detect`] for the method).
pub struct Detector {
    model: Network,
    sensors: SensorSet,
    cfg: DetectConfig,
    clock: Clock,
    setup: Setup,
    graph: NetworkDistance,
    frame: Frame,
    live_model: LiveModel,
    normal: Option<Normal>,
    training: Option<Training>,
    learn_rows: usize,
    first_row: usize,
    /// Hourly (excess, expected demand) from `first_row`, m³/s.
    hours: Vec<(f64, f64)>,
    st: AlarmState,
    live: Vec<LiveSensor>,
    issues: Vec<SensorIssue>,
    notes: Vec<String>,
    usable: Vec<bool>,
    finished: bool,
    /// Step of the first row ever pushed.
    origin_step: i64,
    /// Localizations run by this instance (not part of the state).
    localizations: u64,
    /// Model states of earlier localizations' runs (not part of the state).
    snapshots: Snapshots,
}

impl Detector {
    /// A detector with learnt normal behaviour, monitoring from its first
    /// row, which is step `start_step`.
    pub fn new(
        model: &Network,
        sensors: &SensorSet,
        cfg: &DetectConfig,
        training: Training,
        start_step: i64,
    ) -> Result<Detector, DetectError> {
        let usable = training.usable.clone();
        let mut d = Detector::build(model, sensors, cfg, &usable, training.clock, start_step)?;
        d.normal = Some(training.normal.clone());
        d.training = Some(training);
        Ok(d)
    }

    /// The first `rows` rows pushed are warm-up: simulated and kept as the
    /// reference before later leaks, not monitored (e.g. the training
    /// period itself, so that the detector continues from it exactly as a
    /// self-training one does).
    pub fn warm_up_rows(mut self, rows: usize) -> Detector {
        self.first_row = rows;
        self
    }

    /// A detector that learns from its first `learn_rows` rows (assumed
    /// leak-free) and monitors the rows after them; `usable` says which
    /// sensors to use; `clock` is the step of the rows and the model's time 0
    /// ([`Clock::of_data`]).
    pub fn self_training(
        model: &Network,
        sensors: &SensorSet,
        cfg: &DetectConfig,
        usable: &[bool],
        clock: Clock,
        start_step: i64,
        learn_rows: usize,
    ) -> Result<Detector, DetectError> {
        if learn_rows < hours_to_steps(48.0, clock.step_s) {
            return Err(DetectError::Data(format!(
                "{learn_rows} rows: at least 2 days are needed for training"
            )));
        }
        let mut d = Detector::build(model, sensors, cfg, usable, clock, start_step)?;
        d.learn_rows = learn_rows;
        d.first_row = learn_rows;
        Ok(d)
    }

    fn build(
        model: &Network,
        sensors: &SensorSet,
        cfg: &DetectConfig,
        usable: &[bool],
        clock: Clock,
        start_step: i64,
    ) -> Result<Detector, DetectError> {
        if clock.step_s == 0 || 3600 % clock.step_s != 0 {
            return Err(DetectError::Data(format!(
                "a model step of {} s: it must divide an hour",
                clock.step_s
            )));
        }
        let errs = sensors.check(model);
        if !errs.is_empty() {
            return Err(DetectError::Sensors(errs));
        }
        if usable.len() != sensors.sensors.len() {
            return Err(DetectError::Data(format!(
                "training covers {} sensors, the sensor set has {}",
                usable.len(),
                sensors.sensors.len()
            )));
        }
        let mut notes = Vec::new();
        let setup = checked_setup(model, sensors, usable, cfg, &mut notes)?;
        let frame = Frame::empty(&setup, start_step, clock, sensors.sensors.len());
        let live_model = LiveModel::new(&setup, &frame)?;
        Ok(Detector {
            model: model.clone(),
            sensors: sensors.clone(),
            cfg: cfg.clone(),
            clock,
            graph: NetworkDistance::with_rule(model, cfg.distance),
            frame,
            live_model,
            normal: None,
            training: None,
            learn_rows: 0,
            first_row: 0,
            hours: Vec::new(),
            st: AlarmState::default(),
            live: sensors
                .sensors
                .iter()
                .map(|_| LiveSensor {
                    last_good: None,
                    stale: 0,
                    same: 0,
                    excluded: false,
                })
                .collect(),
            issues: Vec::new(),
            notes,
            usable: usable.to_vec(),
            setup,
            finished: false,
            origin_step: start_step,
            localizations: 0,
            snapshots: Snapshots::default(),
        })
    }

    /// The state to checkpoint.
    pub fn state(&self) -> DetectorState {
        DetectorState {
            config: self.cfg.clone(),
            clock: self.clock,
            training: self.training.clone(),
            learn_rows: self.learn_rows,
            start_step: self.frame.start_step,
            origin_step: self.origin_step,
            first_row: self.first_row,
            raw: (0..self.sensors.sensors.len())
                .map(|si| {
                    if self.usable[si] {
                        (0..self.frame.raw_rows())
                            .map(|r| self.frame.raw(si, r))
                            .collect()
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
            alarm: self.st.clone(),
            live: self.live.clone(),
            issues: self.issues.clone(),
        }
    }

    /// The detector a checkpointed `state` describes, with the model and
    /// sensor set it was made with; continues exactly where it stopped.
    pub fn resume(
        model: &Network,
        sensors: &SensorSet,
        state: DetectorState,
    ) -> Result<Detector, DetectError> {
        let usable: Vec<bool> = match &state.training {
            Some(t) => t.usable.clone(),
            None => state.raw.iter().map(|v| !v.is_empty()).collect(),
        };
        let mut d = Detector::build(
            model,
            sensors,
            &state.config,
            &usable,
            state.clock,
            state.start_step,
        )?;
        d.learn_rows = state.learn_rows;
        d.first_row = state.first_row;
        d.origin_step = state.origin_step;
        if let Some(t) = state.training {
            d.normal = Some(t.normal.clone());
            d.training = Some(t);
        }
        let rows = state.raw.iter().map(Vec::len).max().unwrap_or(0);
        let mut row = vec![f64::NAN; sensors.sensors.len()];
        for r in 0..rows {
            for (x, v) in row.iter_mut().zip(&state.raw) {
                *x = v.get(r).copied().unwrap_or(f64::NAN);
            }
            d.frame.push_raw(&row);
        }
        d.frame.derive(&d.setup, false);
        d.live_model.advance(&d.setup, &mut d.frame)?;
        if d.normal.is_none() && d.frame.rows >= d.learn_rows && d.learn_rows > 0 {
            d.learn_now();
        }
        d.extend_hours();
        d.st = state.alarm;
        d.live = state.live;
        d.issues = state.issues;
        Ok(d)
    }

    /// The training in use (`None` while a self-training detector is still
    /// in its training rows).
    pub fn training(&self) -> Option<&Training> {
        self.training.as_ref()
    }

    /// The detector's step and model time 0.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The step the next pushed row must have.
    pub fn next_step(&self) -> i64 {
        self.frame.start_step + self.frame.raw_rows() as i64
    }

    /// Alarms so far (localized ones; see [`DetectorEvent::Alarm`]).
    pub fn alarms(&self) -> &[Alarm] {
        &self.st.alarms
    }

    /// Notes on what the model set-up changed (controls replaced by
    /// measured states).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Sensor problems found so far (training and live).
    pub fn issues(&self) -> &[SensorIssue] {
        &self.issues
    }

    /// Localizations run since this detector was made or resumed (each
    /// simulates a candidate leak at every junction: the costly step).
    pub fn localizations(&self) -> u64 {
        self.localizations
    }

    /// The model's values (SI: m, m³/s) at the sensors compared with it,
    /// for the simulated rows from step `from_step` on: per step, (sensor
    /// index in the set, modelled value, measured value as used). Rows are
    /// simulated a few steps after they are pushed (the water balance's
    /// look-ahead).
    pub fn modelled(&self, from_step: i64) -> Vec<ModelledRow> {
        let first = (from_step - self.frame.start_step).max(0) as usize;
        let rows = self.frame.sim.first().map_or(0, Vec::len);
        (first..rows)
            .map(|r| {
                let vals = self
                    .setup
                    .residual
                    .iter()
                    .enumerate()
                    .map(|(c, &(si, kind, _))| {
                        let k = unit_scale(kind);
                        (si, self.frame.sim[c][r] / k, self.frame.meas[c][r] / k)
                    })
                    .collect();
                (self.frame.start_step + r as i64, vals)
            })
            .collect()
    }

    /// Rows derived and simulated.
    pub fn rows(&self) -> usize {
        self.frame.rows
    }

    /// Whether sensor `si` of the set is currently excluded by the live
    /// checks (or was never usable).
    pub fn sensor_excluded(&self, si: usize) -> bool {
        !self.usable[si] || self.live[si].excluded
    }

    /// Pushes the readings of one time step at `time_ms` (epoch ms, on the
    /// detector's step grid), in SI (m, m³/s), one per sensor of the set in
    /// its order (`None` or NaN = missing). Steps skipped since the last
    /// push count as missing readings; a step at or before the last one is
    /// an error (no step is processed twice).
    pub fn push(
        &mut self,
        time_ms: i64,
        readings: &[Option<f64>],
    ) -> Result<Vec<DetectorEvent>, DetectError> {
        let step = self.clock.step_of_unix_ms(time_ms).ok_or_else(|| {
            DetectError::Data(format!(
                "time {time_ms} ms is not on the detector's {}-second grid",
                self.clock.step_s
            ))
        })?;
        if readings.len() != self.sensors.sensors.len() {
            return Err(DetectError::Data(format!(
                "{} readings for {} sensors",
                readings.len(),
                self.sensors.sensors.len()
            )));
        }
        let next = self.next_step();
        if step < next {
            return Err(DetectError::Data(format!(
                "step {} ({}) already processed; the next is {}",
                step,
                self.clock.format(step),
                self.clock.format(next)
            )));
        }
        let mut events = Vec::new();
        let missing = vec![None; readings.len()];
        for s in next..step {
            events.extend(self.push_live(s, &missing)?);
        }
        events.extend(self.push_live(step, readings)?);
        Ok(events)
    }

    /// The live data checks of one row, then the row.
    fn push_live(
        &mut self,
        step: i64,
        readings: &[Option<f64>],
    ) -> Result<Vec<DetectorEvent>, DetectError> {
        let mut events = Vec::new();
        let mut row = vec![f64::NAN; readings.len()];
        let stale_limit = hours_to_steps(self.cfg.stale_h, self.clock.step_s).max(1);
        let stuck_limit = hours_to_steps(self.cfg.stuck_h, self.clock.step_s).max(2);
        let clock = self.clock;
        for (si, s) in self.sensors.sensors.iter().enumerate() {
            if !self.usable[si] {
                continue;
            }
            let scale = unit_scale(s.kind);
            let x = readings[si]
                .filter(|x| x.is_finite())
                .map(|x| x * scale)
                .filter(|x| s.range.is_none_or(|(lo, hi)| *x >= lo && *x <= hi));
            let l = &mut self.live[si];
            let held = |l: &LiveSensor| {
                l.last_good
                    .or_else(|| self.training.as_ref().and_then(|t| t.typical[si]))
                    .unwrap_or(f64::NAN)
            };
            let mut reason = None;
            match x {
                Some(x) => {
                    let stuck_kind = matches!(s.kind, SensorKind::Pressure | SensorKind::TankLevel);
                    if stuck_kind
                        && Some(x) == l.last_good
                        && !at_rest(x, &resting_values(&self.model, s))
                    {
                        l.same += 1;
                    } else {
                        l.same = 1;
                    }
                    l.stale = 0;
                    l.last_good = Some(x);
                    if stuck_kind && l.same >= stuck_limit {
                        reason = Some(format!("stuck: the same value for {} readings", l.same));
                    }
                    row[si] = x;
                }
                None => {
                    l.stale += 1;
                    if l.stale >= stale_limit {
                        reason = Some(format!("no usable reading for {} steps", l.stale));
                    }
                    row[si] = held(l);
                }
            }
            let l = &mut self.live[si];
            match (reason, l.excluded) {
                (Some(reason), false) => {
                    l.excluded = true;
                    self.issues.push(SensorIssue {
                        kind: s.kind,
                        column: s.column.clone(),
                        problem: format!("{}: {reason}", clock.format(step)),
                        excluded: true,
                    });
                    events.push(DetectorEvent::SensorExcluded {
                        sensor: s.column.clone(),
                        step,
                        reason,
                    });
                }
                (None, true) => {
                    l.excluded = false;
                    events.push(DetectorEvent::SensorRestored {
                        sensor: s.column.clone(),
                        step,
                    });
                }
                _ => {}
            }
        }
        if row
            .iter()
            .zip(&self.usable)
            .any(|(x, &u)| u && !x.is_finite())
        {
            return Err(DetectError::Data(format!(
                "{}: a sensor has reported nothing yet and there is no training value to hold",
                clock.format(step)
            )));
        }
        self.setup.masked = self
            .setup
            .residual
            .iter()
            .map(|&(si, _, _)| self.live[si].excluded)
            .collect();
        events.extend(self.push_clean(&row)?);
        Ok(events)
    }

    /// Pushes one row of cleaned readings (detection's units, per sensor;
    /// unused sensors ignored) and runs whatever it makes possible.
    pub(super) fn push_clean(&mut self, row: &[f64]) -> Result<Vec<DetectorEvent>, DetectError> {
        self.frame.push_raw(row);
        self.process(false)
    }

    /// The data ends: derives the last rows and finishes what waits for
    /// rows (a localization uses the rows there are).
    pub fn finish(&mut self) -> Result<Vec<DetectorEvent>, DetectError> {
        self.finished = true;
        self.process(true)
    }

    fn learn_now(&mut self) {
        let normal = learn(
            &self.frame,
            0..self.learn_rows,
            self.cfg.state_features,
            self.setup.pressure_channels().as_deref(),
        );
        let series: Vec<Option<Vec<f64>>> = (0..self.sensors.sensors.len())
            .map(|si| {
                self.usable[si].then(|| {
                    (0..self.learn_rows)
                        .map(|r| self.frame.raw(si, r))
                        .collect()
                })
            })
            .collect();
        self.training = Some(Training {
            clock: self.clock,
            usable: self.usable.clone(),
            typical: typical(&series, self.learn_rows),
            description: format!(
                "first {:.1} days of the data (assumed leak-free)",
                self.learn_rows as f64 / (24 * self.clock.per_hour()) as f64
            ),
            issues: Vec::new(),
            normal: normal.clone(),
        });
        self.normal = Some(normal);
    }

    fn extend_hours(&mut self) {
        let Some(normal) = &self.normal else {
            return;
        };
        let per = self.clock.per_hour();
        let done = self.first_row + self.hours.len() * per;
        if self.frame.rows >= done + per {
            let more = hourly(
                &self.frame,
                normal,
                done..self.frame.rows,
                &self.setup.masked,
            );
            for &(_, d) in &more {
                self.st.sigma_sum += (normal.v0 + normal.v1 * d * d).sqrt();
                self.st.sigma_hours += 1;
            }
            self.hours.extend(more);
        }
    }

    fn process(&mut self, complete: bool) -> Result<Vec<DetectorEvent>, DetectError> {
        let derived = self.frame.derive(&self.setup, complete);
        if derived > 0 {
            self.live_model.advance(&self.setup, &mut self.frame)?;
        }
        if self.normal.is_none() {
            if self.learn_rows == 0 || self.frame.rows < self.learn_rows {
                return Ok(Vec::new());
            }
            self.learn_now();
        }
        self.extend_hours();
        let events = self.run_alarms(complete)?;
        if !complete {
            self.trim();
        }
        Ok(events)
    }

    /// Drops the rows older than the history kept (`history_days`) that
    /// nothing refers to any more, a day or more at a time. Row numbers in
    /// the state move with them.
    fn trim(&mut self) {
        let per_h = self.clock.per_hour();
        let day = 24 * per_h;
        let cfg = &self.cfg;
        let keep_h = (cfg.history_days * 24.0)
            .max(cfg.pending_h + cfg.ref_window_h + 72.0)
            .max(0.0);
        let keep = (keep_h as usize) * per_h;
        if self.normal.is_none() || self.frame.rows < keep + day {
            return;
        }
        let ref_len = (cfg.ref_window_h * per_h as f64) as usize;
        let back = ref_len.max(day);
        // The first row still needed.
        let mut need = self.frame.rows - keep;
        if let Some(l) = &self.st.localizing {
            need = need.min(l.start.saturating_sub(back));
        }
        if let Some(p) = &self.st.pending {
            need = need.min(p.0.saturating_sub(back));
        }
        let mut lo_h = self.st.last_reset.min(self.st.h).saturating_sub(48);
        if let Some(r) = &self.st.refine {
            lo_h = lo_h.min(r.from_h);
        }
        need = need.min(self.first_row + lo_h * per_h);
        // Whole hours past the first monitored row keep the hours aligned.
        let d = if need <= self.first_row {
            need
        } else {
            self.first_row + (need - self.first_row) / per_h * per_h
        };
        if d < day {
            return;
        }
        let dropped_h = d.saturating_sub(self.first_row) / per_h;
        self.frame.rebase(&self.setup, d);
        self.live_model.rebased(d);
        self.first_row = self.first_row.saturating_sub(d);
        if dropped_h > 0 {
            self.hours.drain(..dropped_h.min(self.hours.len()));
            self.st.h -= dropped_h;
            self.st.last_reset -= dropped_h;
            self.st.next_check = self.st.next_check.saturating_sub(dropped_h);
            if let Some(r) = &mut self.st.refine {
                r.from_h -= dropped_h;
                r.due_h = r.due_h.saturating_sub(dropped_h);
            }
        }
        if let Some(l) = &mut self.st.localizing {
            l.start -= d;
            l.alarm_row -= d;
            l.full_end -= d;
            l.end -= d;
            l.start_h -= dropped_h;
        }
        if let Some(p) = &mut self.st.pending {
            p.0 -= d;
        }
    }

    /// The pending leak `p` localized again as a whole up to row `end`.
    fn relocalize(
        &mut self,
        normal: &Normal,
        end: usize,
        p: Pending,
    ) -> Result<Option<(Localization, f64, Option<f64>)>, DetectError> {
        self.localizations += 1;
        // The pending leak's size is the excess over the other leaks'
        // water, as it is now (a checkpoint without the pending alarm:
        // over the baseline as it stood when the leak opened).
        let p = match self.st.pending_alarm {
            Some(k) if k < self.st.alarms.len() => (p.0, self.st.baseline_without(k), p.2),
            _ => p,
        };
        relocalize_pending(
            &self.setup,
            &self.model,
            &self.graph,
            normal,
            &self.frame,
            &self.hours,
            self.first_row,
            end,
            p,
            &self.st.known,
            &self.st.alarms,
            &self.cfg,
            &mut self.snapshots,
        )
    }

    /// Runs the alarm loop as far as the derived rows allow.
    fn run_alarms(&mut self, complete: bool) -> Result<Vec<DetectorEvent>, DetectError> {
        let waiting = match &self.st.localizing {
            Some(loc) => loc.end >= self.frame.rows && !complete,
            None => self.st.h >= self.hours.len(),
        };
        if waiting {
            return Ok(Vec::new());
        }
        let normal = self.normal.take().expect("learnt");
        let out = self.alarm_loop(&normal, complete);
        self.normal = Some(normal);
        out
    }

    fn alarm_loop(
        &mut self,
        normal: &Normal,
        complete: bool,
    ) -> Result<Vec<DetectorEvent>, DetectError> {
        let per_h = self.clock.per_hour();
        let cfg = self.cfg.clone();
        let sigma = |d: f64| (normal.v0 + normal.v1 * d * d).sqrt();
        let first_row = self.first_row;
        let start_step = self.frame.start_step;
        let pending_step = (cfg.pending_step_h.max(0.0)) as usize;
        let mut events = Vec::new();
        loop {
            if self.frame.rows == 0 {
                break;
            }
            let last_row = self.frame.rows - 1;
            if let Some(loc) = self.st.localizing.clone() {
                // An alarm waits for the rows of its window.
                let end = if loc.end <= last_row {
                    loc.end
                } else if complete {
                    last_row.max(loc.alarm_row)
                } else {
                    break;
                };
                let full_end = if complete {
                    loc.full_end.min(last_row)
                } else {
                    loc.full_end
                };
                let hours = &self.hours;
                let size = (mean_excess(
                    &hours[size_window((end + 1 - first_row) / per_h, hours.len(), loc.start_h)],
                ) - self.st.offset)
                    .max(1e-4);
                self.localizations += 1;
                let result = localize(
                    &self.setup,
                    &self.model,
                    &self.graph,
                    normal,
                    &self.frame,
                    loc.start,
                    end,
                    size,
                    &self.st.known,
                    None,
                    &cfg,
                    &mut self.snapshots,
                )?;
                let confidence = result.1.as_ref().unwrap_or(&result.0).confidence;
                if end >= full_end || confidence >= cfg.early_confidence {
                    self.st.localizing = None;
                    events.extend(self.conclude(normal, &loc, end, size, result)?);
                } else {
                    self.st.localizing = Some(Localizing {
                        end: (end + ((cfg.early_step_h * per_h as f64) as usize).max(1))
                            .min(loc.full_end),
                        ..loc
                    });
                }
                continue;
            }
            let h = self.st.h;
            if h >= self.hours.len() {
                break;
            }
            // A pending leak is localized again every `pending_step_h`
            // hours (besides at every unreported alarm).
            if let (Some(p), true) = (self.st.pending, pending_step > 0 && h >= self.st.next_check)
            {
                let end = first_row + h * per_h - 1;
                self.st.next_check = h + pending_step;
                if end.saturating_sub(p.0) > (cfg.pending_h * per_h as f64) as usize {
                    self.st.pending = None;
                    self.st.pending_alarm = None;
                } else if let Some((cum, p_size, evidence)) = self.relocalize(normal, end, p)? {
                    let step = start_step + end as i64;
                    let evidence_of = self.evidence(&cum);
                    let alarm = Alarm {
                        reported: true,
                        growth_of: None,
                        pipe: self.model.links[cum.pipe].id.clone(),
                        also_pipe: None,
                        time: self.clock.format(step),
                        step,
                        alarm_time: self.clock.format(step),
                        estimated_start: self.clock.format(start_step + p.0 as i64),
                        estimated_size_lps: p_size * 1000.0 / cum.size_share,
                        confidence: cum.confidence,
                        candidate_pipes: cum.pipes,
                        candidate_nodes: cum.nodes,
                        new_leak_evidence: evidence,
                        new_leak_pipe: evidence.map(|_| self.model.links[cum.pipe].id.clone()),
                        evidence: evidence_of,
                        unlocated: false,
                        locates: self.st.pending_alarm,
                        at_pump: None,
                    };
                    if let Some(&(n, _)) = cum.weights.first() {
                        if !self.st.known.contains(&n) {
                            self.st.known.push(n);
                        }
                    }
                    self.st.pending = None;
                    self.st.pending_alarm = None;
                    // Its water joined the baseline with the alarm that
                    // opened it.
                    events.push(self.record(alarm, 0.0));
                }
            }
            if let Some(r) = self.st.refine {
                if h >= r.due_h {
                    let give_up = r.due_h + (r.due_h - r.from_h);
                    if self.st.repaired.contains(&r.alarm)
                        || r.alarm >= self.st.alarms.len()
                        || h >= give_up
                    {
                        self.st.refine = None;
                    } else if self.st.s == 0.0 {
                        self.st.refine = None;
                        self.st.remeasure(r.alarm, &self.hours[r.from_h..h]);
                    }
                }
            }
            let (e, d) = self.hours[h];
            let z = (e - self.st.offset) / sigma(d);
            self.st.s = cusum_update(self.st.s, z, cfg.cusum_k);
            if self.st.s == 0.0 {
                self.st.last_reset = h + 1;
                self.st.h = h + 1;
                continue;
            }
            if self.st.s <= cfg.cusum_h {
                self.st.h = h + 1;
                continue;
            }
            // Alarm at the end of hour h. Start: the most likely change
            // point (step change of the mean excess) within three days
            // before.
            let lo = self.st.last_reset.min(h).saturating_sub(48);
            let zs: Vec<f64> = (lo..=h)
                .map(|x| (self.hours[x].0 - self.st.offset) / sigma(self.hours[x].1))
                .collect();
            let start_h = lo + change_point(&zs);
            let start = first_row + start_h * per_h;
            let alarm_row = first_row + (h + 1) * per_h - 1;
            let win = (cfg.loc_window_h * per_h as f64) as usize;
            let full_end = alarm_row.max(start + win);
            let early_min = (cfg.early_min_h * per_h as f64) as usize;
            let end = if cfg.early_confidence <= 1.0 {
                alarm_row.max(start + early_min).min(full_end)
            } else {
                full_end
            };
            let size_now = mean_excess(&self.hours[size_window(h + 1, self.hours.len(), start_h)])
                - self.st.offset;
            events.push(DetectorEvent::AlarmRaised {
                step: start_step + alarm_row as i64,
                estimated_start_step: start_step + start as i64,
                size_lps: size_now.max(0.0) * 1000.0,
            });
            self.st.localizing = Some(Localizing {
                start_h,
                start,
                alarm_row,
                full_end,
                end,
            });
        }
        Ok(events)
    }

    /// A localization's evidence, by sensor, in SI.
    fn evidence(&self, loc: &Localization) -> Vec<super::SensorEvidence> {
        loc.evidence
            .iter()
            .map(|&(c, change, z)| {
                let (si, kind, _) = self.setup.residual[c];
                super::SensorEvidence {
                    kind,
                    sensor: self.sensors.sensors[si].column.clone(),
                    change: change / unit_scale(kind),
                    sigmas: z,
                }
            })
            .collect()
    }

    /// The alarm a leak's growth chain starts from: alarm `index` itself,
    /// or the earlier alarm whose leak it is the growth of, or the unlocated
    /// alarm it places (`locates`): the leak's alert is that alarm's.
    pub fn leak_root(&self, index: usize) -> usize {
        self.st.leak_root(index)
    }

    /// The leak of alarm `index` was repaired (an operator closed its
    /// alert): what it and its growth added to the balance baseline leaves
    /// it, so that the water it no longer loses is not taken for a
    /// change. Returns false when it was already repaired or is unknown.
    pub fn leak_repaired(&mut self, index: usize) -> bool {
        self.st.repair(index)
    }

    /// Records an alarm and returns its event.
    fn record(&mut self, alarm: Alarm, added: f64) -> DetectorEvent {
        self.st.push(alarm.clone(), added);
        DetectorEvent::Alarm {
            index: self.st.alarms.len() - 1,
            alarm: Box::new(alarm),
        }
    }

    /// An alarm's localization is final: growth of a known leak, a new
    /// leak, or held back; the CUSUM restarts after its window.
    fn conclude(
        &mut self,
        normal: &Normal,
        lz: &Localizing,
        end: usize,
        size: f64,
        (single, joint): (Localization, Option<Localization>),
    ) -> Result<Vec<DetectorEvent>, DetectError> {
        let cfg = self.cfg.clone();
        let per_h = self.clock.per_hour();
        let start_step = self.frame.start_step;
        let model = &self.model;
        let graph = &self.graph;
        // The same leak growing: an earlier reported alarm close to this
        // one's pipe, or close under this alarm's candidate weights, all
        // from the fit of the new signature alone (the joint fit explains
        // the growth of known leaks away, and only locates new ones).
        let new_leak_evidence = joint.as_ref().and_then(|j| j.new_leak_evidence);
        let new_leak_pipe = joint.as_ref().map(|j| self.model.links[j.pipe].id.clone());
        let loc = &single;
        // An abrupt alarm that the joint fit places far from every reported
        // leak needs less evidence to be new (`far_new_evidence`).
        let far_new = |e: f64| {
            cfg.far_new_evidence > 0.0
                && e >= cfg.far_new_evidence
                && (lz.alarm_row.saturating_sub(lz.start) as f64)
                    <= cfg.far_new_max_h * per_h as f64
                && joint.as_ref().is_some_and(|j| {
                    !near_reported(&self.st.alarms, model, graph, j.pipe, cfg.far_new_m)
                })
        };
        let clearly_new =
            new_leak_evidence.is_some_and(|e| e >= cfg.new_leak_evidence || far_new(e));
        let mut growth_of = self.st.alarms.iter().position(|a| {
            !clearly_new
                && a.reported
                && model.link_index(&a.pipe).is_some_and(|k| {
                    graph
                        .link_distance(k, loc.pipe)
                        .is_some_and(|d| d <= cfg.radius_m)
                        || loc.expected_distance(k) <= cfg.radius_m
                })
        });
        let loc = match joint {
            Some(j) if growth_of.is_none() => j,
            _ => single,
        };
        let step = start_step + end as i64;
        let weak_new = new_leak_evidence.is_some_and(|e| e < cfg.min_new_evidence);
        let at_pump = loc.at_pump(model, graph, cfg.station_m);
        let mut reported = growth_of.is_none()
            && loc.confidence >= cfg.min_confidence
            && !weak_new
            && at_pump.is_none();
        // Near a reported leak: one of two modes there is most likely that
        // leak growing, and the other a false alarm.
        let alarms = &self.st.alarms;
        let near = |k: usize| near_reported(alarms, model, graph, k, cfg.radius_m);
        let two_mode = match loc.second {
            Some((p2, c2))
                if growth_of.is_none()
                    && !weak_new
                    && !reported
                    && at_pump.is_none()
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
        if let Some((p_start, _, _)) = self.st.pending {
            if lz.start.saturating_sub(p_start) > (cfg.pending_h * per_h as f64) as usize {
                self.st.pending = None;
                self.st.pending_alarm = None;
            }
        }
        // New water loss the balance sees but the signature cannot place (a
        // diffuse localization, or one the known leaks' growth might explain
        // as well) is still news for operators: an alert with its candidate
        // area, whose place a later report of the pending leak gives
        // (`locates`).
        let mut unlocated = false;
        let mut locates = None;
        if reported {
            self.st.pending = None;
            self.st.pending_alarm = None;
        } else {
            let pending_step = (cfg.pending_step_h.max(0.0)) as usize;
            match self.st.pending {
                None if cfg.pending_h > 0.0 && growth_of.is_none() => {
                    self.st.pending = Some((lz.start, self.st.offset, self.st.known.len()));
                    self.st.next_check = (end + 1 - self.first_row) / per_h + pending_step;
                    unlocated = true;
                    self.st.pending_alarm = Some(self.st.alarms.len());
                }
                None if growth_of.is_none() => unlocated = true,
                Some(p) => {
                    if let Some((cum, _, _)) = self.relocalize(normal, end, p)? {
                        loc = cum;
                        reported = true;
                        self.st.pending = None;
                        locates = self.st.pending_alarm.take();
                    } else if growth_of.is_none() {
                        // More water lost while a leak whose place is
                        // uncertain is pending, and still no place: as far
                        // as anyone can tell, that leak grew. Its alert
                        // shows the size (operators hear of the loss), and
                        // its repair takes this alarm's size too.
                        growth_of = self.st.pending_alarm;
                    }
                }
                _ => {}
            }
        }
        let evidence = self.evidence(&loc);
        let alarm = Alarm {
            reported,
            growth_of,
            pipe: self.model.links[loc.pipe].id.clone(),
            also_pipe: two_mode,
            time: self.clock.format(step),
            step,
            alarm_time: self.clock.format(start_step + lz.alarm_row as i64),
            estimated_start: self.clock.format(start_step + lz.start as i64),
            estimated_size_lps: size * 1000.0 / loc.size_share,
            confidence: loc.confidence,
            candidate_pipes: loc.pipes,
            candidate_nodes: loc.nodes,
            new_leak_evidence,
            new_leak_pipe,
            evidence,
            unlocated,
            locates,
            at_pump: at_pump.map(|k| self.model.links[k].id.clone()),
        };
        if let Some(&(n, _)) = loc.weights.first() {
            if !self.st.known.contains(&n) {
                self.st.known.push(n);
            }
        }
        self.st.offset += size;
        self.st.s = 0.0;
        self.st.h = (end + 1 - self.first_row) / per_h;
        self.st.last_reset = self.st.h;
        // Where the size was measured.
        let window = size_window(self.st.h, self.hours.len(), lz.start_h);
        self.st.refine = (cfg.offset_refine_h > 0.0).then(|| Refine {
            alarm: self.st.alarms.len(),
            from_h: window.start,
            due_h: window.end + cfg.offset_refine_h as usize,
        });
        Ok(vec![self.record(alarm, size)])
    }

    /// The batch report's summary figures: (rows, training text, mean
    /// standard deviation of the hourly balance excess, L/s).
    pub(super) fn summary(&self) -> (usize, String, f64) {
        let sigma_lps = if self.normal.is_some() {
            self.st.sigma_sum / self.st.sigma_hours.max(1) as f64 * 1000.0
        } else {
            f64::NAN
        };
        (
            (self.frame.start_step + self.frame.rows as i64 - self.origin_step) as usize,
            self.training
                .as_ref()
                .map_or_else(String::new, |t| t.description.clone()),
            sigma_lps,
        )
    }

    /// (sensor index, rows) of the sensors whose model value fell outside
    /// their valid range at some rows of this run, where their residual was
    /// held (the frame's `push_sim`).
    pub fn model_out_of_range(&self) -> Vec<(usize, usize)> {
        self.setup
            .residual
            .iter()
            .zip(&self.frame.held_rows)
            .filter(|(_, &n)| n > 0)
            .map(|(&(si, _, _), &n)| (si, n))
            .collect()
    }

    /// Of the last `hours` of model steps: how many were not compared with
    /// the readings (the model did not solve the step, or gave a value
    /// outside a sensor's range), and how many there were. A live service
    /// shows the twin as degraded while the first is not 0.
    pub fn model_not_compared_recently(&self, hours: f64) -> (usize, usize) {
        let rows = self.frame.model_held.len();
        let window = hours_to_steps(hours, self.clock.step_s).min(rows);
        let held = self.frame.model_held[rows - window..]
            .iter()
            .filter(|&&h| h)
            .count();
        (held, window)
    }

    /// Sensors used (usable in training).
    pub fn sensors_used(&self) -> usize {
        self.usable.iter().filter(|&&u| u).count()
    }

    /// What the balance statistic is made of (see [`super::Balance`]).
    pub fn balance(&self) -> super::Balance {
        super::Balance::of(self.setup.pressure_balance)
    }

    /// Kilometres of pipe per pressure sensor compared with the model (the
    /// model's whole pipe length over the usable pressure sensors), or
    /// `None` without one. How finely the pressures can place a leak
    /// depends on it (README, *How many pressure sensors*).
    pub fn pressure_sensor_spacing_km(&self) -> Option<f64> {
        let n = self
            .setup
            .residual
            .iter()
            .filter(|r| r.1 == SensorKind::Pressure && self.usable[r.0])
            .count();
        (n > 0).then(|| self.model.pipe_length_m() / 1000.0 / n as f64)
    }

    /// Whether [`Detector::finish`] was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

/// Factor from SI to detection's unit of a sensor kind
/// ([`crate::sensors::unit`]: m³/h flows, L/h demands, m).
pub fn unit_scale(kind: SensorKind) -> f64 {
    match kind {
        SensorKind::Flow => 3600.0,
        SensorKind::Demand => 3.6e6,
        SensorKind::Pressure | SensorKind::TankLevel => 1.0,
    }
}

/// The hours over which a leak's size is measured when they end before
/// hour `end_h` (at most `n_hours`, at least one hour past the leak's
/// estimated start hour `start_h`): the last 12 hours, none before
/// `start_h`.
fn size_window(end_h: usize, n_hours: usize, start_h: usize) -> std::ops::Range<usize> {
    let he = end_h.min(n_hours).max(start_h + 1);
    he.saturating_sub(12).max(start_h)..he
}

/// Mean balance excess of `hours`, m³/s.
fn mean_excess(hours: &[(f64, f64)]) -> f64 {
    hours.iter().map(|x| x.0).sum::<f64>() / hours.len() as f64
}

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
    normal: &Normal,
    frame: &Frame,
    hours: &[(f64, f64)],
    first_row: usize,
    end: usize,
    (p_start, p_offset, p_known): Pending,
    known: &[usize],
    alarms: &[Alarm],
    cfg: &DetectConfig,
    kept: &mut Snapshots,
) -> Result<Option<(Localization, f64, Option<f64>)>, DetectError> {
    let per_h = frame.per_hour();
    let win = (cfg.loc_window_h * per_h as f64) as usize;
    if end <= p_start + per_h {
        return Ok(None);
    }
    let w_start = (end + 1).saturating_sub(win).max(p_start);
    let p_size = (mean_excess(&hours[size_window((end + 1 - first_row) / per_h, hours.len(), 0)])
        - p_offset)
        .max(1e-4);
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
        kept,
    )?;
    let evidence = joint.as_ref().and_then(|j| j.new_leak_evidence);
    let cum = joint.unwrap_or(single);
    let ok = cum.confidence >= cfg.pending_confidence
        && cum.at_pump(model, graph, cfg.station_m).is_none()
        && !near_reported(alarms, model, graph, cum.pipe, cfg.radius_m)
        && !evidence.is_some_and(|e| e < cfg.min_new_evidence);
    Ok(ok.then_some((cum, p_size, evidence)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_and_epoch_ms_agree() {
        let c = Clock {
            step_s: 900,
            model_origin_s: 0,
        };
        assert_eq!(c.step_of_unix_ms(c.unix_ms(12_345)), Some(12_345));
        assert_eq!(c.unix_ms(4), 3_600_000);
        assert_eq!(c.per_hour(), 4);
    }

    fn alarm(size_lps: f64, growth_of: Option<usize>, locates: Option<usize>) -> Alarm {
        Alarm {
            reported: locates.is_some() || growth_of.is_none(),
            growth_of,
            pipe: "P".into(),
            also_pipe: None,
            time: String::new(),
            step: 0,
            alarm_time: String::new(),
            estimated_start: String::new(),
            estimated_size_lps: size_lps,
            confidence: 1.0,
            candidate_pipes: vec![],
            candidate_nodes: vec![],
            new_leak_evidence: None,
            new_leak_pipe: None,
            evidence: vec![],
            unlocated: growth_of.is_none() && locates.is_none(),
            locates,
            at_pump: None,
        }
    }

    /// The alarm state after `alarms`, each with what it added to the
    /// baseline (L/s).
    fn state_of<const N: usize>(alarms: [(Alarm, f64); N]) -> AlarmState {
        let mut st = AlarmState::default();
        for (a, added) in alarms {
            st.offset += added / 1000.0;
            st.push(a, added / 1000.0);
        }
        st
    }

    /// A leak opened unplaced (2 L/s into the baseline), placed later (its
    /// report gives the 2.5 L/s lost by then, adding nothing: the 0.5 L/s
    /// of growth came with a growth alarm) and repaired: the baseline drops
    /// by what the leak added, 2.5 L/s, not by the sizes its reports give
    /// (5 L/s), and another leak's 1 L/s stays.
    #[test]
    fn a_repair_takes_out_what_the_leak_added() {
        let mut st = state_of([
            (alarm(2.0, None, None), 2.0),
            (alarm(1.0, None, None), 1.0),
            (alarm(0.5, Some(0), None), 0.5),
            (alarm(2.5, None, Some(0)), 0.0),
        ]);
        assert_eq!(st.leak_root(3), 0);
        assert!(st.repair(3));
        assert!((st.offset - 0.001).abs() < 1e-12, "{}", st.offset);
        assert!(!st.repair(0), "already repaired");
        assert!(!st.repair(9), "no such alarm");
    }

    /// An alarm measured at 2 L/s is measured again at 1.5 L/s over more
    /// hours: the baseline drops by 0.5 L/s, the other leak's 1 L/s stays,
    /// and a repair then takes out the 1.5 L/s.
    #[test]
    fn a_size_measured_again_moves_the_baseline() {
        let mut st = state_of([(alarm(1.0, None, None), 1.0), (alarm(2.0, None, None), 2.0)]);
        st.remeasure(1, &[(0.0024, 0.0), (0.0026, 0.0)]);
        assert!((st.offset - 0.0025).abs() < 1e-12, "{}", st.offset);
        assert!(st.repair(1));
        assert!((st.offset - 0.001).abs() < 1e-12, "{}", st.offset);
    }

    /// A leak whose place is uncertain (alarm 2) stays pending while a
    /// known leak (alarm 0) grows (alarm 3), another is repaired (alarm 1),
    /// and the pending leak itself grows (alarm 4): its size is measured
    /// over the water of the leaks still there, its own excluded.
    #[test]
    fn a_pending_leak_is_sized_over_the_other_leaks_water() {
        let mut st = state_of([
            (alarm(3.0, None, None), 3.0),
            (alarm(2.0, None, None), 2.0),
            (alarm(1.0, None, None), 1.0),
            (alarm(0.7, Some(0), None), 0.7),
            (alarm(0.4, Some(2), None), 0.4),
        ]);
        assert!(st.repair(1));
        assert!((st.baseline_without(2) - 0.0037).abs() < 1e-12);
        assert!((st.baseline_without(4) - 0.0037).abs() < 1e-12);
        assert!((st.baseline_without(0) - 0.0014).abs() < 1e-12);
    }
}
