//! `aquatwin export`: one sensor's samples over a time range, as CSV or
//! Parquet, optionally resampled to a hydraulic step.

use super::telemetry_common::load_config;
use anyhow::{anyhow, bail, Context, Result};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use tabular::{Column, ColumnType, ParquetWriter, Value};
use telemetry::resample::{resample, Method};
use telemetry::time::{format_timestamp, parse_timestamp};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Csv,
    Parquet,
}

#[derive(clap::Args)]
#[command(
    after_help = "Parquet: --format parquet writes the same table as the CSV (timestamp as \
a UTC millisecond timestamp, the value as a nullable double, quality as a string), \
uncompressed, for pandas.read_parquet(...) or polars.read_parquet(...); no arrow/polars \
needed to build aquatwin. Use --output FILE (or redirect standard output)."
)]
pub struct Args {
    #[arg(long)]
    config: PathBuf,
    /// Sensor tag.
    #[arg(long)]
    sensor: String,
    /// Start (inclusive), `YYYY-MM-DD[ HH:MM[:SS]]` UTC.
    #[arg(long)]
    from: String,
    /// End (exclusive).
    #[arg(long)]
    to: String,
    /// Output format: csv, or parquet (same columns; for pandas/polars).
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Resample to this step (seconds), e.g. the model's hydraulic step.
    #[arg(long)]
    step: Option<f64>,
    /// With --step: interpolate linearly (across gaps up to this many
    /// seconds) instead of averaging each step.
    #[arg(long)]
    interpolate_max_gap: Option<f64>,
    /// Output file (default: standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    if matches!(a.format, Format::Parquet) && a.output.is_none() && std::io::stdout().is_terminal()
    {
        bail!("--format parquet is binary: give --output FILE or redirect standard output");
    }
    let (cfg, map) = load_config(&a.config)?;
    let Some(si) = map.sensor_index(&a.sensor) else {
        bail!("no sensor '{}' in {}", a.sensor, cfg.sensors.display());
    };
    let sensor = &map.sensors[si];
    let from = parse_timestamp(&a.from).context("--from")?;
    let to = parse_timestamp(&a.to).context("--to")?;
    if to <= from {
        bail!("--to must be after --from");
    }
    let mut store = cfg.store.open().map_err(|e| anyhow!(e))?;
    let samples = store.query(&a.sensor, from, to).map_err(|e| anyhow!(e))?;
    let out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| anyhow!("cannot create {}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let unit = telemetry::units::Unit::parse(sensor.unit.name).unwrap();
    let si_unit = match unit.dimension {
        telemetry::units::Dimension::Flow => "m3/s",
        _ => "m",
    };
    let value_col = format!("{}_{si_unit}", a.sensor);
    match a.step {
        None => {
            let mut t = Table::new(out, a.format, &value_col, true)?;
            for s in &samples {
                t.row(s.ts_ms, s.value, Some(s.quality.name()))?;
            }
            t.finish()
        }
        Some(step) => {
            if step.is_nan() || step <= 0.0 {
                bail!("--step must be positive");
            }
            let step_ms = (step * 1000.0).round() as i64;
            let method = match a.interpolate_max_gap {
                Some(g) => Method::Linear {
                    max_gap_ms: (g * 1000.0) as i64,
                },
                None => Method::Mean,
            };
            let mut t = Table::new(out, a.format, &value_col, false)?;
            for (ts, v) in resample(&samples, from, to, step_ms, method) {
                t.row(ts, v, None)?;
            }
            t.finish()
        }
    }
}

/// The exported table: `timestamp`, the value column, then `quality`
/// (unless resampled), as CSV or Parquet.
enum Table {
    Csv(Box<dyn Write>),
    Parquet(ParquetWriter<Box<dyn Write>>),
}

impl Table {
    fn new(
        mut out: Box<dyn Write>,
        format: Format,
        value_col: &str,
        quality: bool,
    ) -> Result<Table> {
        Ok(match format {
            Format::Csv => {
                let q = if quality { ",quality" } else { "" };
                writeln!(out, "timestamp,{value_col}{q}")?;
                Table::Csv(out)
            }
            Format::Parquet => {
                let mut cols = vec![
                    Column::new("timestamp", ColumnType::TimestampMillis),
                    Column::new(value_col, ColumnType::NullableDouble),
                ];
                if quality {
                    cols.push(Column::new("quality", ColumnType::Utf8));
                }
                Table::Parquet(ParquetWriter::new(out, cols)?)
            }
        })
    }

    fn row(&mut self, ts_ms: i64, value: Option<f64>, quality: Option<&str>) -> Result<()> {
        match self {
            Table::Csv(out) => {
                let v = value.map(|v| v.to_string()).unwrap_or_default();
                match quality {
                    Some(q) => writeln!(out, "{},{v},{q}", format_timestamp(ts_ms))?,
                    None => writeln!(out, "{},{v}", format_timestamp(ts_ms))?,
                }
            }
            Table::Parquet(w) => match quality {
                Some(q) => w.write_row(&[Value::Int(ts_ms), value.into(), Value::Str(q)])?,
                None => w.write_row(&[Value::Int(ts_ms), value.into()])?,
            },
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Table::Csv(mut out) => out.flush()?,
            Table::Parquet(w) => {
                w.finish()?;
            }
        }
        Ok(())
    }
}
