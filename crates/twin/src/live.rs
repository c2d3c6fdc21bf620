//! The live twin's loop: the stored measurements, step by step in data
//! time, through the streaming leak detector into the alert store, with a
//! checkpoint so that a restart (SIGKILL included) resumes where it
//! stopped.
//!
//! - [`train`] learns normal behaviour from a stored leak-free period and
//!   [`save_training`] keeps it in the state directory (`training.json`).
//! - [`LiveTwin::open`] starts from the training (monitoring from its end,
//!   with the training period as the detector's warm-up) or resumes from
//!   the checkpoint (`detector.json`).
//! - [`LiveTwin::process`] advances up to a data time: it reads the store
//!   a day at a time, resamples each sensor onto the model step (mean of
//!   the good samples of the step), pushes the steps and turns the
//!   detector's events into alerts; then it checkpoints. Alerts are
//!   upserted by leak key (`leak-N`, N the detector's alarm number, stable
//!   across restarts), so steps replayed after a crash update the same
//!   alerts instead of opening new ones.

use crate::alerts::{AlertError, AlertStore, Candidate, Evidence, LeakEvent, Upserted};
use detection::detect::{
    unit_scale, Alarm, Column, DetectConfig, DetectError, Detector, DetectorEvent, DetectorState,
    ScadaData, Training,
};
use detection::sensors::SensorSet;
use detection::time::{model_step_s, sampling_interval_ms, step_of_unix_ms};
use network::Network;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use telemetry::resample::{resample, Method};
use telemetry::store::{Store, StoreError};

/// The training's file name in the state directory.
pub const TRAINING_FILE: &str = "training.json";
/// The detector checkpoint's file name in the state directory.
pub const CHECKPOINT_FILE: &str = "detector.json";

/// Why the live loop cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "no training in {}: run `aquatwin train --config … --from T0 --to T1` on a leak-free \
         stored period first",
        .0.display()
    )]
    NoTraining(PathBuf),
    #[error("{}: made for other sensors than the sensor map's: {reason}", path.display())]
    Mismatch { path: PathBuf, reason: String },
    #[error("{what}: {ms} ms is not on the model's {step_s}-second step grid")]
    OffGrid {
        what: &'static str,
        ms: i64,
        step_s: u64,
    },
    /// No model step can be chosen from the stored data.
    #[error("model step: {0}")]
    Step(String),
    #[error("empty period: from {from_ms} ms to {to_ms} ms")]
    EmptyPeriod { from_ms: i64, to_ms: i64 },
    #[error("detector")]
    Detect(#[from] DetectError),
    #[error("store")]
    Store(#[from] StoreError),
    #[error("alerts")]
    Alerts(#[from] AlertError),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: unreadable (a training or checkpoint from an older version, e.g. before the \
         model step came from the data, is refused: run `aquatwin train` again)",
        path.display()
    )]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// A training kept in the state directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedTraining {
    /// The stored period learnt from (UTC epoch ms, `[from, to)`).
    pub from_ms: i64,
    pub to_ms: i64,
    /// The sensor tags, in the sensor map's order.
    pub tags: Vec<String>,
    pub config: DetectConfig,
    pub training: Training,
    /// The calibration the training was made on (`[twin] calibrate`):
    /// the live loop then runs on its model and subtracts its offsets.
    /// Absent in a training without calibration (and in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<TrainedCalibration>,
}

/// A calibrated model for the live loop, made by the caller (the CLI runs
/// `calibration` on the training period) and kept with the training.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainedCalibration {
    /// The calibrated model as `.inp` text (the project's writer).
    pub model_inp: String,
    /// Per sensor, in the sensor map's order: subtracted from its
    /// readings before the detector sees them (SI; 0 for none).
    pub offsets: Vec<f64>,
    /// What the calibration said (fit quality, verdict, parameters), as
    /// the caller reported it.
    pub summary: serde_json::Value,
}

impl TrainedCalibration {
    /// The calibrated model.
    pub fn model(&self, path: &Path) -> Result<Network, LiveError> {
        network::inp::parse_inp(&self.model_inp, &path.display().to_string()).map_err(|e| {
            LiveError::Mismatch {
                path: path.to_path_buf(),
                reason: format!("its calibrated model does not read: {e}; train again"),
            }
        })
    }
}

/// The good samples of each of `tags` over `[from_ms, to_ms)`, resampled
/// onto the model step of `step_ms` (mean of the step's good samples;
/// `None` = none), in SI as stored. One vector per tag.
pub fn read_steps(
    store: &mut dyn Store,
    tags: &[String],
    from_ms: i64,
    to_ms: i64,
    step_ms: i64,
) -> Result<Vec<Vec<Option<f64>>>, StoreError> {
    tags.iter()
        .map(|tag| {
            let samples = store.query(tag, from_ms, to_ms)?;
            Ok(resample(&samples, from_ms, to_ms, step_ms, Method::Mean)
                .into_iter()
                .map(|(_, v)| v)
                .collect())
        })
        .collect()
}

/// The offset of sensor `i` (0 without calibration).
fn offset(offsets: Option<&[f64]>, i: usize) -> f64 {
    offsets.and_then(|o| o.get(i)).copied().unwrap_or(0.0)
}

fn on_grid(what: &'static str, ms: i64, step_s: u64) -> Result<i64, LiveError> {
    step_of_unix_ms(ms, step_s).ok_or(LiveError::OffGrid { what, ms, step_s })
}

/// The model step (s) for the stored data of `tags` from `from_ms` on:
/// `configured_s` when not 0, else the sampling interval of the samples of
/// the first day (the smallest over the tags; see
/// [`detection::time::model_step_s`]).
pub fn data_step_s(
    store: &mut dyn Store,
    tags: &[String],
    from_ms: i64,
    to_ms: i64,
    configured_s: u64,
) -> Result<u64, LiveError> {
    if configured_s > 0 {
        return model_step_s(None, configured_s).map_err(LiveError::Step);
    }
    let to = to_ms.min(from_ms + 86_400_000);
    let mut interval: Option<i64> = None;
    for tag in tags {
        let times: Vec<i64> = store
            .query(tag, from_ms, to)?
            .iter()
            .filter(|s| s.value.is_some())
            .map(|s| s.ts_ms)
            .collect();
        if let Some(i) = sampling_interval_ms(&times) {
            interval = Some(interval.map_or(i, |j| j.min(i)));
        }
    }
    model_step_s(interval, 0).map_err(LiveError::Step)
}

/// Learns normal behaviour from the stored period `[from_ms, to_ms)`
/// (leak-free). The steps just after it, when stored, complete the water
/// balance of the last training steps, so that monitoring continues from
/// the training exactly as a detector trained on its own first days. The
/// model step is `cfg.step_s`, or the data's sampling interval
/// ([`data_step_s`]); `utc_offset_s` is the local clock's offset from UTC
/// (the sensor map's zone), to which the model's patterns are aligned.
#[allow(clippy::too_many_arguments)]
pub fn train(
    model: &Network,
    sensors: &SensorSet,
    tags: &[String],
    store: &mut dyn Store,
    from_ms: i64,
    to_ms: i64,
    utc_offset_s: i64,
    cfg: &DetectConfig,
) -> Result<SavedTraining, LiveError> {
    train_with(
        model,
        sensors,
        tags,
        store,
        from_ms,
        to_ms,
        utc_offset_s,
        cfg,
        None,
    )
}

/// [`train`], on a calibrated model when `calibration` is given: the
/// detector learns on its model with its offsets subtracted from the
/// readings, and the saved training keeps it for [`LiveTwin::open`].
#[allow(clippy::too_many_arguments)]
pub fn train_with(
    model: &Network,
    sensors: &SensorSet,
    tags: &[String],
    store: &mut dyn Store,
    from_ms: i64,
    to_ms: i64,
    utc_offset_s: i64,
    cfg: &DetectConfig,
    calibration: Option<TrainedCalibration>,
) -> Result<SavedTraining, LiveError> {
    let calibrated = calibration
        .as_ref()
        .map(|c| c.model(Path::new(TRAINING_FILE)))
        .transpose()?;
    let model = calibrated.as_ref().unwrap_or(model);
    let offsets = calibration.as_ref().map(|c| c.offsets.as_slice());
    if to_ms <= from_ms {
        return Err(LiveError::EmptyPeriod { from_ms, to_ms });
    }
    let step_s = data_step_s(store, tags, from_ms, to_ms, cfg.step_s)?;
    let step_ms = step_s as i64 * 1000;
    let start_step = on_grid("--from", from_ms, step_s)?;
    on_grid("--to", to_ms, step_s)?;
    let learn_rows = ((to_ms - from_ms) / step_ms) as usize;
    let look_ahead = 3 * step_ms;
    let steps = read_steps(store, tags, from_ms, to_ms + look_ahead, step_ms)?;
    // Only what was stored: the look-ahead rows that exist.
    let rows = (0..steps.first().map_or(0, Vec::len))
        .rev()
        .find(|&r| r < learn_rows || steps.iter().any(|v| v[r].is_some()))
        .map_or(0, |r| r + 1)
        .max(learn_rows);
    let data = ScadaData {
        start_step,
        step_s,
        utc_offset_s,
        rows,
        columns: sensors
            .sensors
            .iter()
            .zip(&steps)
            .enumerate()
            .map(|(i, (s, v))| Column {
                kind: s.kind,
                name: s.column.clone(),
                values: v[..rows]
                    .iter()
                    .map(|x| x.map_or(f64::NAN, |x| (x - offset(offsets, i)) * unit_scale(s.kind)))
                    .collect(),
            })
            .collect(),
    };
    let training = Training::learn_restricted(model, sensors, &data, learn_rows, cfg, None)?;
    Ok(SavedTraining {
        from_ms,
        to_ms,
        tags: tags.to_vec(),
        config: cfg.clone(),
        training,
        calibration,
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LiveError> {
    let io = |source| LiveError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, LiveError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| LiveError::Json {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LiveError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Saves a training in `dir` and removes any detector checkpoint (the
/// next run starts from this training).
pub fn save_training(dir: &Path, t: &SavedTraining) -> Result<(), LiveError> {
    let json = serde_json::to_vec(t).map_err(|source| LiveError::Json {
        path: dir.join(TRAINING_FILE),
        source,
    })?;
    write_atomic(&dir.join(TRAINING_FILE), &json)?;
    match std::fs::remove_file(dir.join(CHECKPOINT_FILE)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LiveError::Io {
            path: dir.join(CHECKPOINT_FILE),
            source,
        }),
    }
}

/// The training saved in `dir`, if any.
pub fn load_training(dir: &Path) -> Result<Option<SavedTraining>, LiveError> {
    read_json(&dir.join(TRAINING_FILE))
}

/// What one [`LiveTwin::process`] call did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Progress {
    /// Steps pushed to the detector.
    pub steps: usize,
    /// Alerts opened and updated.
    pub opened: usize,
    pub updated: usize,
    /// Sensors excluded or restored by the live checks.
    pub excluded: Vec<String>,
    pub restored: Vec<String>,
    /// Alarms raised (localization under way).
    pub raised: usize,
    /// Wall time of the steps without a localization (store read,
    /// resampling, model step, detector), and of those with one, ms.
    pub cycle: Timing,
    pub localization: Timing,
}

/// Count, mean and largest of a series of durations.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timing {
    pub count: u64,
    pub total_ms: f64,
    pub max_ms: f64,
}

impl Timing {
    fn add(&mut self, ms: f64) {
        self.count += 1;
        self.total_ms += ms;
        self.max_ms = self.max_ms.max(ms);
    }

    /// Mean duration, ms.
    pub fn mean_ms(&self) -> f64 {
        self.total_ms / self.count.max(1) as f64
    }

    /// Adds another timing's durations.
    pub fn merge(&mut self, o: &Timing) {
        self.count += o.count;
        self.total_ms += o.total_ms;
        self.max_ms = self.max_ms.max(o.max_ms);
    }
}

/// The live loop's state: detector, alert store, checkpoint.
pub struct LiveTwin {
    detector: Detector,
    tags: Vec<String>,
    /// The sensor set's names (SCADA columns), in the tags' order.
    columns: Vec<String>,
    alerts: AlertStore,
    dir: PathBuf,
    /// Next step whose modelled values go to the store.
    modelled_from: i64,
    /// The last step pushed and its readings (SI; `None` = no good sample).
    last_row: Option<(i64, Vec<Option<f64>>)>,
    /// Per sensor: the calibration's offset, subtracted from its readings
    /// (empty without calibration).
    offsets: Vec<f64>,
}

/// The store tag of the model's value at sensor `tag` (written by the live
/// loop beside the measurements: residual = `tag` − `tag@model`).
pub fn model_tag(tag: &str) -> String {
    format!("{tag}@model")
}

/// The store tag of the residual at sensor `tag`: the step's measured value
/// as the detector used it (held when missing) minus the model's.
pub fn residual_tag(tag: &str) -> String {
    format!("{tag}@residual")
}

/// The store tag of the number of open alerts (one sample per processed
/// day of data, at data time).
pub const OPEN_ALERTS_TAG: &str = "twin@open_alerts";

impl LiveTwin {
    /// Opens the twin of state directory `dir`: resumes from its
    /// checkpoint, or starts from its training (the training period is
    /// pushed again as warm-up, monitoring starts at its end).
    pub fn open(
        model: &Network,
        sensors: &SensorSet,
        tags: &[String],
        dir: &Path,
    ) -> Result<LiveTwin, LiveError> {
        let saved = load_training(dir)?.ok_or_else(|| LiveError::NoTraining(dir.to_path_buf()))?;
        if saved.tags != tags {
            return Err(LiveError::Mismatch {
                path: dir.join(TRAINING_FILE),
                reason: format!(
                    "trained on {} sensors ({}…), the map has {} ({}…); train again",
                    saved.tags.len(),
                    saved
                        .tags
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    tags.len(),
                    tags.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        // A calibrated training: its model replaces the configured one.
        let calibrated = saved
            .calibration
            .as_ref()
            .map(|c| c.model(&dir.join(TRAINING_FILE)))
            .transpose()?;
        if let Some(c) = &saved.calibration {
            tracing::info!(
                fit = %c.summary.get("fit_quality").and_then(|v| v.as_str()).unwrap_or("?"),
                "the training was calibrated: running on its calibrated model, sensor offsets subtracted"
            );
        }
        let model = calibrated.as_ref().unwrap_or(model);
        let offsets = saved
            .calibration
            .as_ref()
            .map_or(Vec::new(), |c| c.offsets.clone());
        let detector = match read_json::<DetectorState>(&dir.join(CHECKPOINT_FILE))? {
            Some(state) => Detector::resume(model, sensors, state)?,
            None => {
                let step_s = saved.training.clock.step_s;
                let start = on_grid("training start", saved.from_ms, step_s)?;
                let warm = ((saved.to_ms - saved.from_ms) / (step_s as i64 * 1000)) as usize;
                Detector::new(model, sensors, &saved.config, saved.training, start)?
                    .warm_up_rows(warm)
            }
        };
        Ok(LiveTwin {
            detector,
            tags: tags.to_vec(),
            columns: sensors.sensors.iter().map(|s| s.column.clone()).collect(),
            alerts: AlertStore::open(dir)?,
            dir: dir.to_path_buf(),
            modelled_from: 0,
            last_row: None,
            offsets,
        })
    }

    /// Data time of the next step to process (UTC epoch ms).
    pub fn next_ms(&self) -> i64 {
        self.ms(self.detector.next_step())
    }

    /// The model step, ms.
    pub fn step_ms(&self) -> i64 {
        self.detector.clock().step_s as i64 * 1000
    }

    /// Epoch ms of a detector step.
    fn ms(&self, step: i64) -> i64 {
        self.detector.clock().unix_ms(step)
    }

    /// The detector (status, alarms, sensors excluded).
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The last step processed and its readings per sensor (SI, as
    /// resampled from the store; `None` = no good sample in the step).
    pub fn last_readings(&self) -> Option<&(i64, Vec<Option<f64>>)> {
        self.last_row.as_ref()
    }

    /// The tags of the sensors the detector leaves out now (never usable,
    /// or excluded by the live checks).
    pub fn excluded(&self) -> Vec<&str> {
        (0..self.tags.len())
            .filter(|&i| self.detector.sensor_excluded(i))
            .map(|i| self.tags[i].as_str())
            .collect()
    }

    /// The store tags of the sensors, in the sensor map's order.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The alert store.
    pub fn alerts(&self) -> &AlertStore {
        &self.alerts
    }

    /// Processes every step before `upto_ms` (data time), reading the store
    /// a day at a time, and checkpoints after each day.
    pub fn process(&mut self, store: &mut dyn Store, upto_ms: i64) -> Result<Progress, LiveError> {
        let mut progress = Progress::default();
        const CHUNK_MS: i64 = 86_400_000;
        let step_ms = self.step_ms();
        self.apply_repairs()?;
        while self.next_ms() < upto_ms {
            let from = self.next_ms();
            let to = (from + CHUNK_MS).min(upto_ms);
            let to = from + ((to - from + step_ms - 1) / step_ms) * step_ms;
            let read_start = std::time::Instant::now();
            let steps = read_steps(store, &self.tags, from, to, step_ms)?;
            let n = steps.first().map_or(0, Vec::len);
            // The store read, shared by the chunk's steps.
            let read_ms = read_start.elapsed().as_secs_f64() * 1e3 / n.max(1) as f64;
            let mut row = vec![None; self.tags.len()];
            for r in 0..n {
                for (i, (x, v)) in row.iter_mut().zip(&steps).enumerate() {
                    *x = v[r].map(|v| v - offset(Some(&self.offsets), i));
                }
                let t = std::time::Instant::now();
                let locs = self.detector.localizations();
                let events = self.detector.push(from + r as i64 * step_ms, &row)?;
                let ms = read_ms + t.elapsed().as_secs_f64() * 1e3;
                if self.detector.localizations() > locs {
                    progress.localization.add(ms);
                } else {
                    progress.cycle.add(ms);
                }
                self.handle(events, &mut progress)?;
                progress.steps += 1;
            }
            if n > 0 {
                let last: Vec<Option<f64>> = steps.iter().map(|v| v[n - 1]).collect();
                self.last_row = Some((from + (n as i64 - 1) * step_ms, last));
            }
            self.write_model(store)?;
            self.checkpoint()?;
        }
        Ok(progress)
    }

    /// Alerts closed as repaired tell the detector that their leak is gone.
    fn apply_repairs(&mut self) -> Result<(), LiveError> {
        for a in self.alerts.list(Some(crate::alerts::AlertState::Closed))? {
            if a.resolution != Some(crate::alerts::Resolution::Repaired) {
                continue;
            }
            let Some(index) = a
                .leak_key
                .strip_prefix("leak-")
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            if self.detector.leak_repaired(index) {
                tracing::info!(alert = a.id, leak = %a.leak_key, "leak repaired: its size leaves the balance baseline");
            }
        }
        Ok(())
    }

    /// Writes the model's values at the sensors (`TAG@model`) of the rows
    /// simulated since the last call, and the open-alert count, into the
    /// store (idempotent: a replay after a restart rewrites the same keys).
    fn write_model(&mut self, store: &mut dyn Store) -> Result<(), LiveError> {
        let clock = self.detector.clock();
        let rows = self.detector.modelled(
            clock
                .step_of_unix_ms(self.modelled_from.max(0))
                .unwrap_or(i64::MIN / 2),
        );
        let mut samples = Vec::new();
        let mut last = None;
        for (step, vals) in rows {
            let ts = clock.unix_ms(step);
            if ts < self.modelled_from {
                continue;
            }
            for (si, model, measured) in vals {
                let tag = &self.tags[si];
                // The model as the sensor reads it (its offset added back):
                // `tag@model` compares with the stored `tag`.
                let off = offset(Some(&self.offsets), si);
                let (model, measured) = (model + off, measured + off);
                samples.push(telemetry::quality::Sample::good(&model_tag(tag), ts, model));
                samples.push(telemetry::quality::Sample::good(
                    &residual_tag(tag),
                    ts,
                    measured - model,
                ));
            }
            last = Some(ts);
        }
        if let Some(ts) = last {
            let open = self
                .alerts
                .list(Some(crate::alerts::AlertState::Open))?
                .len();
            samples.push(telemetry::quality::Sample::good(
                OPEN_ALERTS_TAG,
                ts,
                open as f64,
            ));
            store.write(&samples)?;
            self.modelled_from = ts + clock.step_s as i64 * 1000;
        }
        Ok(())
    }

    /// The data end here: concludes what waits for more rows (as the batch
    /// detector does at the end of its data). The checkpoint keeps the
    /// state before concluding, so a later run continues with more data.
    pub fn conclude(&mut self) -> Result<Progress, LiveError> {
        let mut progress = Progress::default();
        self.checkpoint()?;
        let events = self.detector.finish()?;
        self.handle(events, &mut progress)?;
        Ok(progress)
    }

    /// Writes the detector's state (atomically).
    pub fn checkpoint(&self) -> Result<(), LiveError> {
        let path = self.dir.join(CHECKPOINT_FILE);
        let json =
            serde_json::to_vec(&self.detector.state()).map_err(|source| LiveError::Json {
                path: path.clone(),
                source,
            })?;
        write_atomic(&path, &json)
    }

    fn handle(&mut self, events: Vec<DetectorEvent>, p: &mut Progress) -> Result<(), LiveError> {
        let clock = self.detector.clock();
        for e in events {
            match e {
                DetectorEvent::AlarmRaised { step, size_lps, .. } => {
                    p.raised += 1;
                    tracing::info!(
                        data_time_ms = clock.unix_ms(step),
                        size_lps,
                        statistic = self.detector.balance().label(),
                        "alarm raised: consumption above the expected; localizing"
                    );
                }
                DetectorEvent::Alarm { index, alarm } => {
                    let event = if alarm.reported || alarm.unlocated || alarm.growth_of.is_some() {
                        // One alert per leak, keyed by the alarm its chain
                        // starts from: a new leak (reported, or unlocated:
                        // the balance sees it but its place is uncertain, so
                        // the alert carries a low confidence and the
                        // candidate area), its growth, and the report that
                        // later places an unlocated leak all update it. The
                        // place is that of the chain's latest report; the
                        // size the chain's total. Until a report places the
                        // leak, the place is the unlocated root's best
                        // guess: the alert says so (`place_uncertain`), and
                        // the report that places it clears that.
                        if alarm.unlocated {
                            tracing::info!(
                                alarm = index,
                                pipe = %alarm.pipe,
                                confidence = alarm.confidence,
                                "new leak, place uncertain: alert with its candidate area"
                            );
                        }
                        if let Some(pump) = &alarm.at_pump {
                            tracing::warn!(
                                alarm = index,
                                pump = %pump,
                                "the change points at a pump station: check the pump and its flow meter before searching for a leak there"
                            );
                        }
                        let root = self.detector.leak_root(index);
                        let alarms = self.detector.alarms();
                        let chain: Vec<usize> = (root..=index)
                            .filter(|&k| self.detector.leak_root(k) == root)
                            .collect();
                        let size: f64 = chain.iter().map(|&k| alarms[k].estimated_size_lps).sum();
                        let place = chain
                            .iter()
                            .rev()
                            .copied()
                            .find(|&k| alarms[k].reported)
                            .unwrap_or(root);
                        let mut ev = leak_event(
                            clock,
                            root,
                            &alarms[place],
                            size,
                            &self.tags,
                            &self.columns,
                        );
                        ev.evidence = evidence(&alarm, &self.tags, &self.columns);
                        ev.observed_ms = clock.unix_ms(alarm.step);
                        if let Ok(ms) = detection::time::parse_utc_ms(&alarms[root].estimated_start)
                        {
                            ev.estimated_start_ms = ms;
                        }
                        Some(ev)
                    } else {
                        tracing::info!(
                            alarm = index,
                            pipe = %alarm.pipe,
                            confidence = alarm.confidence,
                            "alarm held back: most likely a known leak growing, or part of a pending leak"
                        );
                        None
                    };
                    if let Some(ev) = event {
                        match self.alerts.upsert(&ev)? {
                            Upserted::Opened(a) => {
                                p.opened += 1;
                                tracing::warn!(
                                    alert = a.id,
                                    leak = %a.leak_key,
                                    pipe = %a.pipe,
                                    size_lps = a.size_lps,
                                    confidence = a.confidence,
                                    "leak alert opened"
                                );
                            }
                            Upserted::Updated(a) => {
                                p.updated += 1;
                                tracing::info!(alert = a.id, leak = %a.leak_key, size_lps = a.size_lps, "leak alert updated");
                            }
                            Upserted::AlreadyClosed(_) => {}
                        }
                    }
                }
                DetectorEvent::SensorExcluded { sensor, reason, .. } => {
                    tracing::warn!(%sensor, %reason, "sensor excluded");
                    p.excluded.push(sensor);
                }
                DetectorEvent::SensorRestored { sensor, .. } => {
                    tracing::info!(%sensor, "sensor restored");
                    p.restored.push(sensor);
                }
            }
        }
        Ok(())
    }
}

/// The stable key of the leak of alarm `index`.
pub fn leak_key(index: usize) -> String {
    format!("leak-{index}")
}

/// An alarm's evidence with the store's tags (residual change, SI).
fn evidence(a: &Alarm, tags: &[String], columns: &[String]) -> Vec<Evidence> {
    a.evidence
        .iter()
        .map(|e| Evidence {
            sensor: columns
                .iter()
                .position(|c| *c == e.sensor)
                .map_or_else(|| e.sensor.clone(), |i| tags[i].clone()),
            residual: e.change,
        })
        .collect()
}

/// The alert's event of leak `index` placed at alarm `a`: the chain's
/// latest report, or its unlocated root when none (`place_uncertain`).
fn leak_event(
    clock: detection::detect::Clock,
    index: usize,
    a: &Alarm,
    size_lps: f64,
    tags: &[String],
    columns: &[String],
) -> LeakEvent {
    let ms = |t: &str| detection::time::parse_utc_ms(t).unwrap_or_else(|_| clock.unix_ms(a.step));
    let total: f64 = a
        .candidate_pipes
        .iter()
        .map(|c| c.mass_within_300m)
        .sum::<f64>()
        .max(1e-12);
    LeakEvent {
        leak_key: leak_key(index),
        observed_ms: clock.unix_ms(a.step),
        estimated_start_ms: ms(&a.estimated_start),
        size_lps,
        confidence: a.confidence.clamp(0.0, 1.0),
        pipe: a.pipe.clone(),
        also_pipe: a.also_pipe.clone(),
        candidates: a
            .candidate_pipes
            .iter()
            .map(|c| Candidate {
                pipe: c.pipe.clone(),
                weight: c.mass_within_300m / total,
            })
            .collect(),
        evidence: evidence(a, tags, columns),
        place_uncertain: !a.reported,
        at_pump: a.at_pump.clone().filter(|_| !a.reported),
    }
}
