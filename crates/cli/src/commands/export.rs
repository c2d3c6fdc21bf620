//! `aquatwin export`: one sensor's samples over a time range, as CSV,
//! optionally resampled to a hydraulic step.

use super::telemetry_common::load_config;
use anyhow::{anyhow, bail, Result};
use std::io::Write;
use std::path::PathBuf;
use telemetry::resample::{resample, Method};
use telemetry::time::{format_timestamp, parse_timestamp};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Csv,
    Parquet,
}

#[derive(clap::Args)]
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
    if let Format::Parquet = a.format {
        bail!(
            "--format parquet is not supported by this build: Parquet needs polars/arrow, which aquatwin keeps out of its core \
             crates to keep build times low; export --format csv instead"
        );
    }
    let (cfg, map) = load_config(&a.config)?;
    let Some(si) = map.sensor_index(&a.sensor) else {
        bail!("no sensor '{}' in {}", a.sensor, cfg.sensors.display());
    };
    let sensor = &map.sensors[si];
    let from = parse_timestamp(&a.from).map_err(|e| anyhow!("--from: {e}"))?;
    let to = parse_timestamp(&a.to).map_err(|e| anyhow!("--to: {e}"))?;
    if to <= from {
        bail!("--to must be after --from");
    }
    let mut store = cfg.store.open().map_err(|e| anyhow!(e))?;
    let samples = store.query(&a.sensor, from, to).map_err(|e| anyhow!(e))?;
    let mut out: Box<dyn Write> = match &a.output {
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
    match a.step {
        None => {
            writeln!(out, "timestamp,{}_{si_unit},quality", a.sensor)?;
            for s in &samples {
                let v = s.value.map(|v| format!("{v}")).unwrap_or_default();
                writeln!(out, "{},{v},{}", format_timestamp(s.ts_ms), s.quality)?;
            }
        }
        Some(step) => {
            if !(step > 0.0) {
                bail!("--step must be positive");
            }
            let step_ms = (step * 1000.0).round() as i64;
            let method = match a.interpolate_max_gap {
                Some(g) => Method::Linear {
                    max_gap_ms: (g * 1000.0) as i64,
                },
                None => Method::Mean,
            };
            writeln!(out, "timestamp,{}_{si_unit}", a.sensor)?;
            for (t, v) in resample(&samples, from, to, step_ms, method) {
                writeln!(
                    out,
                    "{},{}",
                    format_timestamp(t),
                    v.map(|v| v.to_string()).unwrap_or_default()
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
