//! Measurements from exported files instead of the store (`--input`), as
//! CSV or Parquet (by the file's extension). Two layouts:
//!
//! - **long**: columns `timestamp`, `tag` (or `sensor`), `value`, and
//!   optionally `quality` (only `good` rows count; a missing column means
//!   every row is good); one row per sample, any number of sensors;
//! - **one sensor**, as `aquatwin export` writes it: `timestamp`,
//!   `TAG_m3/s` or `TAG_m` (the tag and its SI unit in the column name),
//!   and optionally `quality`.
//!
//! Values are SI (m³/s for flows and demands, m for pressures and levels),
//! as the store and `aquatwin export` hold them. `timestamp` is
//! `YYYY-MM-DD HH:MM[:SS[.mmm]]` UTC, RFC 3339, or (Parquet) a timestamp
//! or integer epoch milliseconds. Rows of tags that the report does not
//! use are skipped and counted in the log; a tag that the sensor map does
//! not know, a unit that does not fit the sensor, or an unreadable field
//! is an error naming the file, the line (CSV) or row (Parquet), and the
//! field.

use anyhow::{anyhow, bail, Context, Result};
use polars::prelude::{CsvReadOptions, DataFrame, DataType, ParquetReader, SerReader, TimeUnit};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use telemetry::quality::{Quality, Sample};
use telemetry::{Kind, SensorMap};

/// A row's place in its file, for errors: CSV lines count the header.
fn place(name: &str, csv: bool, r: usize) -> String {
    if csv {
        format!("{name}:{}", r + 2)
    } else {
        format!("{name}: row {}", r + 1)
    }
}

fn read_frame(path: &Path) -> Result<(DataFrame, bool)> {
    let name = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0)) // text: parsed below, with locations
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .map(|df| (df, true))
            .with_context(|| format!("cannot read {name} as CSV")),
        "parquet" => {
            let f = std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?;
            ParquetReader::new(f)
                .finish()
                .map(|df| (df, false))
                .with_context(|| format!("cannot read {name} as Parquet"))
        }
        _ => bail!("{name}: --input takes .csv or .parquet files, got '.{ext}'"),
    }
}

/// A column as optional strings (any type: numbers and times as text).
fn texts(df: &DataFrame, col: &str) -> Result<Vec<Option<String>>> {
    let c = df.column(col)?;
    let c = match c.dtype() {
        DataType::Datetime(_, _) => c
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?
            .cast(&DataType::Int64)?
            .cast(&DataType::String)?,
        DataType::String => c.clone(),
        _ => c.cast(&DataType::String)?,
    };
    let ca = c.str()?;
    Ok((0..ca.len())
        .map(|i| ca.get(i).map(str::to_string))
        .collect())
}

fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        if let Ok(ms) = s.parse::<i64>() {
            return Ok(ms);
        }
    }
    telemetry::time::parse_timestamp(s).map_err(|e| e.to_string())
}

/// Reads the files' samples of the tags in `wanted`, by tag, sorted by time.
pub fn read(
    paths: &[PathBuf],
    map: &SensorMap,
    wanted: &HashSet<String>,
) -> Result<HashMap<String, Vec<Sample>>> {
    let mut out: HashMap<String, Vec<Sample>> = HashMap::new();
    for path in paths {
        let name = path.display().to_string();
        let (df, csv) = read_frame(path)?;
        let cols: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let has = |c: &str| cols.iter().any(|x| x == c);
        let header = if csv {
            format!("{name}:1")
        } else {
            name.clone()
        };
        if !has("timestamp") {
            bail!(
                "{header}: no column 'timestamp' (columns: {})",
                cols.join(", ")
            );
        }
        // The layout: long (a tag column) or one sensor (TAG_unit).
        let tag_col = ["tag", "sensor"].into_iter().find(|c| has(c));
        let single = if tag_col.is_some() {
            None
        } else {
            let vals: Vec<&String> = cols
                .iter()
                .filter(|c| *c != "timestamp" && *c != "quality")
                .collect();
            let [v] = vals[..] else {
                bail!(
                    "{header}: expected the long layout (timestamp, tag, value[, quality]) or one \
                     sensor as `aquatwin export` writes it (timestamp, TAG_m3/s or TAG_m[, quality]); \
                     got columns {}",
                    cols.join(", ")
                );
            };
            let (tag, unit) = if let Some(t) = v.strip_suffix("_m3/s") {
                (t, Kind::Flow)
            } else if let Some(t) = v.strip_suffix("_m") {
                (t, Kind::Pressure)
            } else {
                bail!("{header}: column '{v}': expected TAG_m3/s or TAG_m (the SI unit)");
            };
            let Some(i) = map.sensor_index(tag) else {
                bail!("{header}: column '{v}': no sensor '{tag}' in the sensor map");
            };
            let kind = map.sensors[i].kind;
            let flow_like = matches!(kind, Kind::Flow | Kind::Demand);
            if flow_like != (unit == Kind::Flow) {
                bail!(
                    "{header}: column '{v}': sensor '{tag}' is a {kind:?} sensor, \
                     its SI unit is {}",
                    if flow_like { "m3/s" } else { "m" }
                );
            }
            Some((tag.to_string(), v.clone()))
        };
        let value_col = match &single {
            Some((_, v)) => v.as_str(),
            None if has("value") => "value",
            None => bail!("{header}: no column 'value'"),
        };
        let times = texts(&df, "timestamp")?;
        let values = texts(&df, value_col)?;
        let tags = match tag_col {
            Some(c) => Some(texts(&df, c)?),
            None => None,
        };
        let quality = if has("quality") {
            Some(texts(&df, "quality")?)
        } else {
            None
        };
        let mut skipped = 0usize;
        let mut unknown: HashSet<String> = HashSet::new();
        for r in 0..df.height() {
            let at = || place(&name, csv, r);
            let tag = match (&single, &tags) {
                (Some((t, _)), _) => t.clone(),
                (None, Some(t)) => match &t[r] {
                    Some(s) if !s.trim().is_empty() => s.trim().to_string(),
                    _ => bail!("{}: field '{}': empty", at(), tag_col.unwrap_or("tag")),
                },
                (None, None) => unreachable!("a layout was chosen"),
            };
            if !wanted.contains(&tag) {
                if map.sensor_index(&tag).is_none() && !tag.contains('@') {
                    unknown.insert(tag);
                }
                skipped += 1;
                continue;
            }
            let ts = match &times[r] {
                Some(s) => {
                    parse_time(s).map_err(|e| anyhow!("{}: field 'timestamp': {e}", at()))?
                }
                None => bail!("{}: field 'timestamp': empty", at()),
            };
            let q = match quality.as_ref().and_then(|q| q[r].as_deref()) {
                None => Quality::Good,
                Some(s) => Quality::ALL
                    .into_iter()
                    .find(|q| q.name() == s.trim())
                    .ok_or_else(|| {
                        anyhow!(
                            "{}: field 'quality': unknown quality '{s}' (expected one of {})",
                            at(),
                            Quality::ALL.map(Quality::name).join(", ")
                        )
                    })?,
            };
            let value = match values[r].as_deref().map(str::trim) {
                None | Some("") => None,
                Some(s) => match s.parse::<f64>() {
                    Ok(v) if v.is_finite() => Some(v),
                    _ => bail!(
                        "{}: field '{value_col}': expected a number, got '{s}'",
                        at()
                    ),
                },
            };
            out.entry(tag.clone()).or_default().push(Sample {
                sensor: tag,
                ts_ms: ts,
                value,
                quality: q,
                detail: 0,
            });
        }
        if !unknown.is_empty() {
            let mut u: Vec<String> = unknown.into_iter().collect();
            u.sort();
            bail!(
                "{name}: tag(s) not in the sensor map: {}",
                u.into_iter().take(10).collect::<Vec<_>>().join(", ")
            );
        }
        if skipped > 0 {
            tracing::info!("{name}: {skipped} row(s) of sensors the report does not use, skipped");
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|s| s.ts_ms);
    }
    Ok(out)
}
