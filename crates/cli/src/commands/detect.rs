//! `aquatwin detect`: leak detection and localization on SCADA exports.
//! Reads the model, the sensor map and the SCADA CSVs (BattLeDIM layout);
//! the detector itself is `detection::detect`.

use crate::figures::Fixed;
use anyhow::{bail, Context, Result};
use detection::detect::{detect, Column, DetectConfig, ScadaData};
use detection::scoring::time::parse_timestamp;
use detection::sensors::{Sensor, SensorKind, SensorSet};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The (unperturbed) model, .inp.
    #[arg(long)]
    network: PathBuf,
    /// Sensor map (.toml); without it, the BattLeDIM L-Town sensors.
    #[arg(long)]
    sensors: Option<PathBuf>,
    /// Directory with SCADA_Pressures.csv, SCADA_Flows.csv, SCADA_Levels.csv,
    /// SCADA_Demands.csv (or BattLeDIM's 2019_SCADA_*.csv).
    #[arg(long)]
    scada: PathBuf,
    /// Leak-free training data (same layout); default: the first week of --scada.
    #[arg(long)]
    train: Option<PathBuf>,
    /// Detections, BattLeDIM lines `pipeID, YYYY-MM-DD HH:MM`.
    #[arg(long)]
    out: PathBuf,
    /// JSON report: sensor issues and one entry per alarm.
    #[arg(long)]
    report: Option<PathBuf>,
    /// CUSUM threshold (standard deviations of the hourly water-balance excess).
    #[arg(long, default_value_t = 10.0)]
    threshold: f64,
    /// Training days at the start of --scada when no --train is given.
    #[arg(long, default_value_t = 7.0)]
    train_days: f64,
    /// Localization window after the estimated leak start, hours.
    #[arg(long, default_value_t = 24.0)]
    window_h: f64,
    /// Any other detector setting, as NAME=VALUE (repeatable); the names
    /// and defaults are the `config` object of the JSON report.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
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
            _ => anyhow::bail!("--set {s}: '{name}' cannot be set from the command line"),
        };
        obj.insert(name.to_string(), new);
    }
    serde_json::from_value(v).map_err(|e| anyhow::anyhow!("--set: {e}"))
}

/// The sensor map from a `.toml` (the telemetry layout: `[[sensor]]` with
/// `kind`, `node` or `link`, `range`, `scada = { file, column }`), or the
/// built-in BattLeDIM L-Town set. Checked against the network.
pub fn load_sensors(path: Option<&Path>, net: &network::Network) -> Result<SensorSet> {
    let set = match path {
        None => {
            eprintln!("no --sensors given: using the BattLeDIM L-Town sensor set");
            SensorSet::battledim_ltown()
        }
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            parse_sensor_map(&text).with_context(|| format!("in {}", p.display()))?
        }
    };
    let errs = set.check(net);
    if !errs.is_empty() {
        bail!(
            "the sensor map does not match the network:\n  {}",
            errs.join("\n  ")
        );
    }
    Ok(set)
}

fn parse_sensor_map(text: &str) -> Result<SensorSet> {
    let v: toml::Table = toml::from_str(text).context("not a valid TOML sensor map")?;
    let Some(list) = v.get("sensor").and_then(|s| s.as_array()) else {
        bail!("no [[sensor]] entries");
    };
    let mut out = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let get = |k: &str| s.get(k).and_then(|x| x.as_str());
        let tag = get("tag").unwrap_or("?");
        let kind = match get("kind") {
            Some("pressure") => SensorKind::Pressure,
            Some("flow") => SensorKind::Flow,
            Some("tank_level") | Some("level") => SensorKind::Level,
            Some("demand") => SensorKind::Demand,
            Some(k) => {
                eprintln!(
                    "sensor {} ('{tag}'): kind '{k}' is not used by leak detection",
                    i + 1
                );
                continue;
            }
            None => bail!("sensor {} ('{tag}') has no kind", i + 1),
        };
        let element = match kind {
            SensorKind::Flow => get("link"),
            _ => get("node"),
        }
        .with_context(|| format!("sensor {} ('{tag}') names no node/link", i + 1))?;
        let column = s
            .get("scada")
            .and_then(|x| x.get("column"))
            .and_then(|x| x.as_str())
            .unwrap_or(tag);
        let num = |x: &toml::Value| x.as_float().or_else(|| x.as_integer().map(|i| i as f64));
        let range = s
            .get("range")
            .and_then(|r| r.as_array())
            .and_then(|r| Some((num(r.first()?)?, num(r.get(1)?)?)));
        out.push(Sensor {
            kind,
            column: column.to_string(),
            element: element.to_string(),
            range,
        });
    }
    Ok(SensorSet { sensors: out })
}

/// Finds `SCADA_<X>.csv` (or `<prefix>_SCADA_<X>.csv`) in `dir`.
fn find_file(dir: &Path, kind: SensorKind) -> Option<PathBuf> {
    let want = kind.file();
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

/// One SCADA cell: its value, `NaN` for a gap (empty, NaN, ±inf), `None`
/// for garbage (not a number). `;`-separated files use a decimal comma.
fn parse_cell(raw: &str, sep: char) -> Option<f64> {
    let raw = raw.trim().trim_matches('"');
    let x = if sep == ';' {
        raw.replacen(',', ".", 1)
    } else {
        raw.to_string()
    };
    match x.parse::<f64>() {
        Ok(v) if v.is_finite() => Some(v),
        Ok(_) => Some(f64::NAN),
        _ if raw.is_empty() => Some(f64::NAN),
        _ => None,
    }
}

/// Reads the SCADA files of `dir` into rows aligned on the 5-minute grid.
pub fn read_scada(dir: &Path, sensors: &SensorSet) -> Result<ScadaData> {
    // One file per sensor kind: its column names and its rows by step.
    type KindFile = (SensorKind, Vec<String>, BTreeMap<i64, Vec<f64>>);
    let mut per_file: Vec<KindFile> = Vec::new();
    for kind in SensorKind::ALL {
        if sensors.of_kind(kind).next().is_none() {
            continue;
        }
        let Some(path) = find_file(dir, kind) else {
            eprintln!(
                "warning: {} not found in {}: its sensors are excluded",
                kind.file(),
                dir.display()
            );
            continue;
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut lines = text.lines().enumerate();
        let (_, header) = lines
            .next()
            .with_context(|| format!("{}: empty file", path.display()))?;
        let header = header.trim_start_matches('\u{feff}').trim_end();
        let sep = if header.contains(';') { ';' } else { ',' };
        let cols: Vec<String> = header
            .split(sep)
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect();
        if !cols
            .first()
            .is_some_and(|c| c.eq_ignore_ascii_case("timestamp"))
        {
            bail!("{}:1: first column must be Timestamp", path.display());
        }
        let mut rows = BTreeMap::new();
        // Per column: cells that are not numbers (read as missing), and
        // where the first one is.
        let mut unreadable: BTreeMap<usize, (usize, String, usize)> = BTreeMap::new();
        for (ln, line) in lines {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            let mut f = line.split(sep);
            let ts = f.next().unwrap_or("").trim().trim_matches('"');
            let step = parse_timestamp(ts)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), ln + 1))?;
            let vals: Vec<f64> = f
                .enumerate()
                .map(|(c, raw)| match parse_cell(raw, sep) {
                    Some(v) => v,
                    None => {
                        let raw = raw.trim().trim_matches('"');
                        unreadable
                            .entry(c)
                            .or_insert_with(|| (ln + 1, raw.to_string(), 0))
                            .2 += 1;
                        f64::NAN
                    }
                })
                .collect();
            if vals.len() != cols.len() - 1 {
                bail!(
                    "{}:{}: {} values, the header has {} columns",
                    path.display(),
                    ln + 1,
                    vals.len(),
                    cols.len() - 1
                );
            }
            rows.insert(step, vals);
        }
        for (c, (line, text, n)) in &unreadable {
            eprintln!(
                "warning: {}:{line}: field '{}': '{text}' is not a number ({n} such value{} in this column, read as missing)",
                path.display(),
                cols.get(c + 1).map_or("?", String::as_str),
                if *n == 1 { "" } else { "s" }
            );
        }
        per_file.push((kind, cols[1..].to_vec(), rows));
    }
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
            columns.push(Column {
                kind,
                name: name.clone(),
                values,
            });
        }
    }
    Ok(ScadaData {
        start_step: first,
        rows,
        columns,
    })
}

pub fn run(a: Args) -> Result<()> {
    let t0 = std::time::Instant::now();
    let net = super::load_network(&a.network)?;
    let sensors = load_sensors(a.sensors.as_deref(), &net)?;
    let data = read_scada(&a.scada, &sensors)?;
    let train = a
        .train
        .as_deref()
        .map(|d| read_scada(d, &sensors))
        .transpose()?;
    let cfg = DetectConfig {
        cusum_h: a.threshold,
        train_days: a.train_days,
        loc_window_h: a.window_h,
        ..DetectConfig::default()
    };
    let cfg = apply_settings(cfg, &a.set)?;
    let report = detect(&net, &sensors, &data, train.as_ref(), &cfg)?;
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
    if let Some(p) = &a.report {
        std::fs::write(p, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    for al in &report.alarms {
        let pipe = match &al.also_pipe {
            Some(p2) => format!("{} or {p2}", al.pipe),
            None => al.pipe.clone(),
        };
        eprintln!(
            "{} {} at {} (alarm {}, start ~{}, ~{} L/s, confidence {})",
            if al.reported {
                "LEAK"
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
        "{} rows, {} sensors used, {} leak(s) reported in {:.1} s",
        report.rows,
        report.sensors_used,
        report.alarms.iter().filter(|a| a.reported).count(),
        t0.elapsed().as_secs_f64()
    );
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
    fn cells_are_values_gaps_or_garbage() {
        assert_eq!(parse_cell(" 28,89", ';'), Some(28.89));
        assert_eq!(parse_cell("\"1.5\"", ','), Some(1.5));
        assert!(parse_cell("", ';').unwrap().is_nan());
        assert!(parse_cell("NaN", ',').unwrap().is_nan());
        assert!(parse_cell("inf", ',').unwrap().is_nan());
        assert_eq!(parse_cell("abc", ';'), None);
        assert_eq!(
            parse_cell("1.5", ';'),
            Some(1.5),
            "a decimal point is read too"
        );
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
