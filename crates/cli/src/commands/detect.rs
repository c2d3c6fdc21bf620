//! `aquatwin detect`: leak detection and localization on SCADA exports.
//! Reads the model, the sensor map and the SCADA CSVs (BattLeDIM layout);
//! the detector itself is `detection::detect`.

use crate::figures::Fixed;
use anyhow::{bail, Context, Result};
use detection::detect::{detect, Column, DetectConfig, ScadaData};
use detection::sensors::{scada_file, Sensor, SensorKind, SensorSet};
use detection::time::{model_step_s, sampling_interval_ms, step_of_unix_ms};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use telemetry::scada::{Row, ScadaReader};
use telemetry::time::TimeZone;
use telemetry::units::Unit;
use telemetry::SensorMap;

#[derive(clap::Args)]
#[command(
    after_help = "What a utility must provide: the model (.inp); a sensor map \
(--sensors, TOML: kind, element, unit, range, SCADA column; README \"Sensor maps\") with \
for the water balance a flow meter on every link of every reservoir (one unmetered link \
beside meters carrying at least half the supply is estimated from the model, with a note) \
and for every tank a level sensor or a flow meter on each of its links (without them, \
detection falls back to the consumption the pressure sensors imply, weaker, with a note \
naming what is missing; --set pressure_fallback=false makes that an error), and pressure or \
flow sensors to compare with the model \
(placing leaks within 300 m took about a pressure sensor per km of pipe or closer: README \"How many pressure sensors\"); readings in any unit \
the map declares (converted to SI; an unknown unit is an error), timestamps in the map's \
time zone, sampled at a regular interval (the model step follows it: 1, 5, 10, 15, 30 or 60 \
minutes…; or --set step_s=SECONDS); a leak-free training period (--train, or the first \
--train-days of the data). Data come from SCADA exports (--scada DIR) or from the twin's \
store (--config twin.toml --from T0 --to T1, as `ingest` and `import-scada` fill it)."
)]
pub struct Args {
    /// The (unperturbed) model, .inp (default with --config: its `network`).
    #[arg(long)]
    network: Option<PathBuf>,
    /// Read the data from the twin's store instead of SCADA exports: the
    /// configuration (twin.toml: store, sensor map, model).
    #[arg(long, requires_all = ["from", "to"], conflicts_with = "scada")]
    config: Option<PathBuf>,
    /// With --config: start of the data (inclusive; `YYYY-MM-DD HH:MM` UTC,
    /// RFC 3339 or epoch ms; on the model step's grid).
    #[arg(long, requires = "config")]
    from: Option<String>,
    /// With --config: end of the data (exclusive).
    #[arg(long, requires = "config")]
    to: Option<String>,
    /// Sensor map (.toml); without it, the BattLeDIM L-Town sensors.
    #[arg(long)]
    sensors: Option<PathBuf>,
    /// Zone of the SCADA timestamps (IANA name, e.g. Europe/Paris);
    /// default: the sensor map's `time_zone`, else UTC.
    #[arg(long, value_name = "ZONE")]
    time_zone: Option<String>,
    /// Directory with SCADA_Pressures.csv, SCADA_Flows.csv, SCADA_Levels.csv,
    /// SCADA_Demands.csv (or BattLeDIM's 2019_SCADA_*.csv).
    #[arg(long, required_unless_present = "config")]
    scada: Option<PathBuf>,
    /// Leak-free training data (same layout); default: the first week of --scada.
    #[arg(long)]
    train: Option<PathBuf>,
    /// Detections, BattLeDIM lines `pipeID, YYYY-MM-DD HH:MM`.
    #[arg(long)]
    out: PathBuf,
    /// JSON report: sensor issues and one entry per alarm.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Operator alerts, as BattLeDIM lines like --out: the reported leaks
    /// and the new leaks whose place is uncertain (at their best-guess
    /// pipe), what the live twin alerts operators on; score them with
    /// `aquatwin score` like the detections.
    #[arg(long, value_name = "FILE")]
    alerts: Option<PathBuf>,
    /// CUSUM threshold (standard deviations of the hourly water-balance excess).
    #[arg(long, default_value_t = DetectConfig::default().cusum_h)]
    threshold: f64,
    /// Training days at the start of --scada when no --train is given.
    #[arg(long, default_value_t = DetectConfig::default().train_days)]
    train_days: f64,
    /// Localization window after the estimated leak start, hours.
    #[arg(long, default_value_t = 24.0)]
    window_h: f64,
    /// Any other detector setting, as NAME=VALUE (repeatable); the names
    /// and defaults are the `config` object of the JSON report.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Calibrate the model on the leak-free training period first
    /// (roughness by diameter class, demand by pattern, pressure-sensor
    /// offsets; `aquatwin calibrate`'s defaults), then train and detect on
    /// the calibrated model with the offsets subtracted from the readings.
    /// A failed calibration is an error; a poor one is said, on the
    /// terminal and in the report's `calibration`.
    #[arg(long)]
    calibrate: bool,
    /// With --calibrate: the parameter groups (GROUPS.toml, as
    /// `aquatwin calibrate --groups`) instead of the defaults.
    #[arg(long, value_name = "GROUPS.toml", requires = "calibrate")]
    calibration_groups: Option<PathBuf>,
}

/// Applies `NAME=VALUE` settings to the detector configuration through its
/// serde form, so every field can be set and a typo is an error.
fn apply_settings(cfg: DetectConfig, settings: &[String]) -> Result<DetectConfig> {
    let mut v = serde_json::to_value(&cfg)?;
    let obj = v
        .as_object_mut()
        .expect("DetectConfig serializes to an object");
    for s in settings {
        let Some((name, value)) = s.split_once('=') else {
            anyhow::bail!("--set {s}: expected NAME=VALUE");
        };
        let name = name.trim();
        let Some(old) = obj.get(name) else {
            let mut names: Vec<&String> = obj.keys().collect();
            names.sort();
            anyhow::bail!(
                "--set {s}: unknown setting '{name}'; known settings: {}",
                names
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let new: serde_json::Value = match old {
            serde_json::Value::Bool(_) => serde_json::Value::Bool(
                value
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--set {s}: expected true or false"))?,
            ),
            serde_json::Value::Number(_) => {
                let value = value.trim();
                if let Ok(n) = value.parse::<u64>() {
                    serde_json::json!(n)
                } else {
                    let x: f64 = value
                        .parse()
                        .map_err(|_| anyhow::anyhow!("--set {s}: expected a number"))?;
                    serde_json::json!(x)
                }
            }
            serde_json::Value::String(_) => serde_json::Value::String(value.trim().to_string()),
            _ => anyhow::bail!("--set {s}: '{name}' cannot be set from the command line"),
        };
        obj.insert(name.to_string(), new);
    }
    serde_json::from_value(v).map_err(|e| anyhow::anyhow!("--set: {e}"))
}

/// The sensors detection uses and the zone of their SCADA timestamps: the
/// sensor map (`.toml`, read by telemetry's parser, checked against the
/// network), or the built-in BattLeDIM L-Town set in UTC.
pub struct Sensors {
    pub set: SensorSet,
    pub time_zone: TimeZone,
    /// Per sensor of `set`: the factor from the map's unit to detection's
    /// unit ([`detection::sensors::unit`]), `None` when they are the same.
    pub scale: Vec<Option<f64>>,
}

pub fn load_sensors(path: Option<&Path>, net: &network::Network) -> Result<Sensors> {
    let sensors = match path {
        None => {
            eprintln!("no --sensors given: using the BattLeDIM L-Town sensor set");
            let set = battledim::ltown::sensor_set();
            Sensors {
                scale: vec![None; set.sensors.len()],
                set,
                time_zone: TimeZone::UTC,
            }
        }
        Some(p) => {
            let map = super::telemetry_common::load_sensor_map(p, None)?;
            map.validate_against(net).map_err(|e| {
                anyhow::anyhow!(
                    "sensor map does not fit the network ({} problem(s)):\n{e}",
                    e.0.len()
                )
            })?;
            from_map(&map)?
        }
    };
    let errs = sensors.set.check(net);
    if !errs.is_empty() && path.is_none() {
        bail!(
            "this network is not L-Town: without --sensors, the BattLeDIM L-Town sensor set is \
             used, and {} of its sensors name elements this network lacks. Give the \
             utility's sensor map with --sensors MAP.toml (README, \"Sensor maps\")",
            errs.len()
        );
    }
    if !errs.is_empty() {
        bail!(
            "the sensor map does not match the network:\n  {}",
            errs.join("\n  ")
        );
    }
    Ok(sensors)
}

/// Detection's view of a telemetry sensor map: kind, SCADA column, element,
/// range, and the unit conversion to detection's units.
fn from_map(map: &SensorMap) -> Result<Sensors> {
    let mut set = SensorSet::default();
    let mut scale = Vec::new();
    for s in &map.sensors {
        let want = detection::sensors::unit(s.kind);
        let (range, factor) = if s.unit.name == want {
            (s.range, None)
        } else {
            let to = Unit::parse(want).expect("detection's units are telemetry units");
            let f = s.unit.factor / to.factor;
            ((s.range.0 * f, s.range.1 * f), Some(f))
        };
        set.sensors.push(Sensor {
            kind: s.kind,
            column: s.scada_column.clone(),
            element: s.element.id().to_string(),
            range: Some(range),
        });
        scale.push(factor);
    }
    Ok(Sensors {
        set,
        time_zone: map.time_zone.clone(),
        scale,
    })
}

/// The local clock's offset from UTC (s) in `tz` at the instant `ms`.
pub fn utc_offset_s(tz: &TimeZone, ms: i64) -> i64 {
    jiff::Timestamp::from_millisecond(ms).map_or(0, |t| i64::from(tz.to_offset(t).seconds()))
}

/// The stored samples of the map's sensors over `[from, to)`, on the
/// model step (`configured_step_s`, or the stored sampling interval; mean
/// of each step's good samples), in detection's units.
#[allow(clippy::too_many_arguments)]
pub fn read_store(
    store: &mut dyn telemetry::store::Store,
    set: &SensorSet,
    tags: &[String],
    from: i64,
    to: i64,
    configured_step_s: u64,
    tz: &TimeZone,
) -> Result<ScadaData> {
    if to <= from {
        bail!("--to must be after --from");
    }
    let step_s = twin::live::data_step_s(store, tags, from, to, configured_step_s)?;
    let Some(start_step) = step_of_unix_ms(from, step_s) else {
        bail!(
            "--from: {} is not on the model's {step_s}-second grid",
            telemetry::time::format_timestamp(from)
        );
    };
    if step_of_unix_ms(to, step_s).is_none() {
        bail!(
            "--to: {} is not on the model's {step_s}-second grid",
            telemetry::time::format_timestamp(to)
        );
    }
    let steps = twin::live::read_steps(store, tags, from, to, step_s as i64 * 1000)
        .map_err(|e| anyhow::anyhow!(e))?;
    let rows = steps.first().map_or(0, Vec::len);
    if steps.iter().all(|v| v.iter().all(Option::is_none)) {
        bail!(
            "the store holds no good sample of these sensors from {} to {}",
            telemetry::time::format_timestamp(from),
            telemetry::time::format_timestamp(to)
        );
    }
    Ok(ScadaData {
        start_step,
        step_s,
        utc_offset_s: utc_offset_s(tz, from),
        rows,
        columns: set
            .sensors
            .iter()
            .zip(&steps)
            .map(|(s, v)| Column {
                kind: s.kind,
                name: s.column.clone(),
                values: {
                    let mut values: Vec<f64> = v
                        .iter()
                        .map(|x| x.map_or(f64::NAN, |x| x * detection::detect::unit_scale(s.kind)))
                        .collect();
                    telemetry::resample::fill_sparse(&mut values);
                    values
                },
            })
            .collect(),
    })
}

/// Finds `SCADA_<X>.csv` (or `<prefix>_SCADA_<X>.csv`) in `dir`.
fn find_file(dir: &Path, kind: SensorKind) -> Option<PathBuf> {
    let want = scada_file(kind);
    let p = dir.join(want);
    if p.exists() {
        return Some(p);
    }
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(want))
        })
}

/// Reads the SCADA files of `dir` (telemetry's reader, timestamps in the
/// map's zone) into rows of the model step: `configured_step_s` when not
/// 0, else the data's sampling interval (the smallest of the files'; see
/// [`detection::time::model_step_s`]). Readings within a step are
/// averaged, readings sparser than the step interpolated. A cell that is
/// not a number is read as missing, with one warning per column.
pub fn read_scada(dir: &Path, sensors: &Sensors, configured_step_s: u64) -> Result<ScadaData> {
    // One file per sensor kind: its column names and its rows (timestamp,
    // values in detection's units).
    type KindFile = (SensorKind, Vec<String>, Vec<(i64, Vec<f64>)>);
    let mut per_file: Vec<KindFile> = Vec::new();
    for kind in SensorKind::ALL {
        if sensors.set.of_kind(kind).next().is_none() {
            continue;
        }
        let Some(path) = find_file(dir, kind) else {
            eprintln!(
                "warning: {} not found in {}: its sensors are excluded",
                scada_file(kind),
                dir.display()
            );
            continue;
        };
        let name = path.display().to_string();
        let file = std::fs::File::open(&path).with_context(|| format!("cannot read {name}"))?;
        let mut rd = ScadaReader::new(std::io::BufReader::new(file), &name)?
            .with_time_zone(sensors.time_zone.clone());
        let cols = rd.columns().to_vec();
        // Unit conversion per column, from the sensor of this kind it feeds.
        let scale: Vec<Option<f64>> = cols
            .iter()
            .map(|c| {
                sensors
                    .set
                    .sensors
                    .iter()
                    .zip(&sensors.scale)
                    .find(|(s, _)| s.kind == kind && &s.column == c)
                    .and_then(|(_, f)| *f)
            })
            .collect();
        let mut rows = Vec::new();
        // Per column: cells that are not numbers (read as missing), and
        // where the first one is.
        let mut unreadable: BTreeMap<usize, (usize, String, usize)> = BTreeMap::new();
        let mut row = Row {
            line: 0,
            ts_ms: 0,
            values: Vec::new(),
        };
        let mut garbage = |line: usize, c: usize, text: &str| {
            unreadable
                .entry(c)
                .or_insert_with(|| (line, text.to_string(), 0))
                .2 += 1;
        };
        while rd.read_row_lenient(&mut row, &mut garbage)? {
            let vals: Vec<f64> = row
                .values
                .iter()
                .zip(&scale)
                .map(|(v, f)| match (v, f) {
                    (Some(v), None) => *v,
                    (Some(v), Some(f)) => v * f,
                    (None, _) => f64::NAN,
                })
                .collect();
            rows.push((row.ts_ms, vals));
        }
        for (c, (line, text, n)) in &unreadable {
            eprintln!(
                "warning: {name}:{line}: field '{}': '{text}' is not a number ({n} such value{} in this column, read as missing)",
                cols.get(*c).map_or("?", String::as_str),
                if *n == 1 { "" } else { "s" }
            );
        }
        per_file.push((kind, cols, rows));
    }
    // The model step: the finest file's sampling interval, or as set.
    let interval = per_file
        .iter()
        .filter_map(|f| sampling_interval_ms(&f.2.iter().map(|r| r.0).collect::<Vec<_>>()))
        .min();
    let step_s = model_step_s(interval, configured_step_s)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let step_ms = step_s as i64 * 1000;
    // Readings between grid times (e.g. every minute on a 5-minute step)
    // are averaged into their step, [t, t + step).
    type StepFile = (SensorKind, Vec<String>, BTreeMap<i64, Vec<f64>>);
    let per_file: Vec<StepFile> = per_file
        .into_iter()
        .map(|(kind, cols, rows)| {
            let mut sums: BTreeMap<i64, (Vec<f64>, Vec<u32>)> = BTreeMap::new();
            for (ts, vals) in rows {
                let step = ts.div_euclid(step_ms);
                let (s, n) = sums
                    .entry(step)
                    .or_insert_with(|| (vec![0.0; vals.len()], vec![0; vals.len()]));
                for ((s, n), v) in s.iter_mut().zip(n.iter_mut()).zip(&vals) {
                    if v.is_finite() {
                        *s += v;
                        *n += 1;
                    }
                }
            }
            let means = sums
                .into_iter()
                .map(|(step, (s, n))| {
                    let m = s
                        .iter()
                        .zip(&n)
                        .map(|(&s, &n)| if n > 0 { s / n as f64 } else { f64::NAN })
                        .collect();
                    (step, m)
                })
                .collect();
            (kind, cols, means)
        })
        .collect();
    let first_ms = per_file
        .iter()
        .filter_map(|f| f.2.keys().next())
        .min()
        .map(|&k| k * step_ms);
    let first = per_file
        .iter()
        .filter_map(|f| f.2.keys().next())
        .min()
        .copied();
    let last = per_file
        .iter()
        .filter_map(|f| f.2.keys().last())
        .max()
        .copied();
    let (Some(first), Some(last)) = (first, last) else {
        bail!("no SCADA rows found in {}", dir.display());
    };
    let rows = (last - first + 1) as usize;
    let mut columns = Vec::new();
    for (kind, names, data) in per_file {
        for (c, name) in names.iter().enumerate() {
            let mut values = vec![f64::NAN; rows];
            for (&step, v) in &data {
                values[(step - first) as usize] = v[c];
            }
            // Readings sparser than the grid (e.g. every 15 minutes):
            // interpolated between consecutive readings.
            telemetry::resample::fill_sparse(&mut values);
            columns.push(Column {
                kind,
                name: name.clone(),
                values,
            });
        }
    }
    Ok(ScadaData {
        start_step: first,
        step_s,
        utc_offset_s: utc_offset_s(&sensors.time_zone, first_ms.unwrap_or(0)),
        rows,
        columns,
    })
}

pub fn run(a: Args) -> Result<()> {
    let t0 = std::time::Instant::now();
    let cfg = DetectConfig {
        cusum_h: a.threshold,
        train_days: a.train_days,
        loc_window_h: a.window_h,
        ..DetectConfig::default()
    };
    let cfg = apply_settings(cfg, &a.set)?;
    let (net, sensors, data) = match (&a.config, &a.scada) {
        (Some(config), _) => {
            let twin = super::twin_common::load(config)?;
            let net = match &a.network {
                Some(p) => super::load_network(p)?,
                None => twin.model,
            };
            let mut store = twin.cfg.store.open().map_err(|e| anyhow::anyhow!(e))?;
            let from = super::twin_common::parse_time("--from", a.from.as_deref().unwrap_or(""))?;
            let to = super::twin_common::parse_time("--to", a.to.as_deref().unwrap_or(""))?;
            let data = read_store(
                store.as_mut(),
                &twin.set,
                &twin.tags,
                from,
                to,
                cfg.step_s,
                &twin.time_zone,
            )?;
            let sensors = Sensors {
                scale: vec![None; twin.set.sensors.len()],
                set: twin.set,
                time_zone: twin.time_zone,
            };
            (net, sensors, data)
        }
        (None, Some(dir)) => {
            let Some(p) = &a.network else {
                bail!("--network is needed with --scada");
            };
            let net = super::load_network(p)?;
            let mut sensors = load_sensors(a.sensors.as_deref(), &net)?;
            if let Some(z) = &a.time_zone {
                sensors.time_zone = telemetry::time::zone(z).context("--time-zone")?;
            }
            let data = read_scada(dir, &sensors, cfg.step_s)?;
            (net, sensors, data)
        }
        (None, None) => bail!("give --scada DIR or --config twin.toml --from T0 --to T1"),
    };
    // The training data run on the data's step.
    let train = a
        .train
        .as_deref()
        .map(|d| read_scada(d, &sensors, data.step_s))
        .transpose()?;
    let (net, data, train, calibration) = if a.calibrate {
        // The leak-free training period: --train, else the first
        // --train-days of the data (as the detector takes it).
        let (source, rows) = match &train {
            Some(t) => (t, t.rows),
            None => (
                &data,
                (cfg.train_days * 24.0) as usize * detection::time::steps_per_hour(data.step_s),
            ),
        };
        let c = super::calibrate::calibrate_for_detector(
            &net,
            &sensors.set,
            source,
            rows,
            a.calibration_groups.as_deref(),
        )?;
        eprintln!("{}", c.summary.line());
        if c.summary.fit_quality != "good" {
            eprintln!(
                "warning: the calibration's fit is {}: detection runs on {}",
                c.summary.fit_quality,
                if c.summary.used {
                    "the calibrated model all the same (it fits better than the nominal one)"
                } else {
                    "the nominal model"
                }
            );
        }
        let (mut data, mut train) = (data, train);
        super::calibrate::apply_offsets(&mut data, &sensors.set, &c.offsets);
        if let Some(t) = &mut train {
            super::calibrate::apply_offsets(t, &sensors.set, &c.offsets);
        }
        (c.network, data, train, Some(c.summary))
    } else {
        (net, data, train, None)
    };
    let report = detect(&net, &sensors.set, &data, train.as_ref(), &cfg)?;
    for i in &report.issues {
        eprintln!(
            "sensor {} ({:?}): {}{}",
            i.column,
            i.kind,
            i.problem,
            if i.excluded { " — excluded" } else { "" }
        );
    }
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    std::fs::write(&a.out, report.battledim_lines())
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    if let Some(p) = &a.alerts {
        std::fs::write(p, report.alert_lines())
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = &a.report {
        let mut json = serde_json::to_value(&report)?;
        if let (Some(c), Some(obj)) = (&calibration, json.as_object_mut()) {
            obj.insert("calibration".into(), serde_json::to_value(c)?);
        }
        std::fs::write(p, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    for al in &report.alarms {
        let pipe = match (&al.also_pipe, &al.at_pump) {
            (Some(p2), _) => format!("{} or {p2}", al.pipe),
            (None, Some(pump)) => format!(
                "{} (pump {pump}'s station: check the pump and its meter)",
                al.pipe
            ),
            (None, None) => al.pipe.clone(),
        };
        eprintln!(
            "{} {} at {} (alarm {}, start ~{}, ~{} L/s, confidence {})",
            if al.reported {
                "LEAK"
            } else if al.unlocated {
                "LEAK, place uncertain (candidate area in the report), best guess"
            } else if al.growth_of.is_some() {
                "growth"
            } else {
                "unconfirmed"
            },
            pipe,
            al.time,
            al.alarm_time,
            al.estimated_start,
            Fixed(al.estimated_size_lps, 2),
            Fixed(al.confidence, 2)
        );
    }
    eprintln!(
        "{} rows of {} s, {} sensors used{}, {} leak(s) reported, {} more with an uncertain place{} in {:.1} s",
        report.rows,
        report.step_s,
        report.sensors_used,
        match report.pressure_sensor_spacing_km {
            Some(km) => format!(" (a pressure sensor per {km:.2} km of pipe)"),
            None => " (no pressure sensor compared)".to_string(),
        },
        report.alarms.iter().filter(|a| a.reported).count(),
        report.alarms.iter().filter(|a| a.unlocated).count(),
        match &calibration {
            Some(c) if c.used => format!(" on the calibrated model ({} fit)", c.fit_quality),
            Some(_) => " on the nominal model (calibration not better)".to_string(),
            None => String::new(),
        },
        t0.elapsed().as_secs_f64()
    );
    if !report.balance_detectable.is_empty() {
        eprintln!(
            "{}: {}",
            report.balance.label(),
            detection::detect::describe_balance(
                report.balance_sigma_lps,
                &report.balance_detectable
            )
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> Result<DetectConfig> {
        let v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        apply_settings(DetectConfig::default(), &v)
    }

    #[test]
    fn settings_reach_every_kind_of_field() {
        let c = set(&[
            "cusum_h=8",
            "loc_samples=4",
            "joint_known=false",
            "early_min_h = 2.5",
        ])
        .unwrap();
        assert_eq!(c.cusum_h, 8.0);
        assert_eq!(c.loc_samples, 4);
        assert!(!c.joint_known);
        assert_eq!(c.early_min_h, 2.5);
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let e = set(&["cusum=8"]).unwrap_err().to_string();
        assert!(
            e.contains("unknown setting 'cusum'") && e.contains("cusum_h"),
            "{e}"
        );
        let e = set(&["cusum_h"]).unwrap_err().to_string();
        assert!(e.contains("expected NAME=VALUE"), "{e}");
        let e = set(&["cusum_h=high"]).unwrap_err().to_string();
        assert!(e.contains("expected a number"), "{e}");
        let e = set(&["joint_known=yes"]).unwrap_err().to_string();
        assert!(e.contains("expected true or false"), "{e}");
        let e = set(&["loc_samples=2.5"]).unwrap_err().to_string();
        assert!(e.contains("--set"), "{e}");
    }
}
