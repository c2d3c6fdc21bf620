//! `aquatwin-report` (also run as `aquatwin report`): the efficiency report.

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use reporting::compute::Period;
use reporting::output::Format;
use std::path::PathBuf;

/// Efficiency report: IWA water balance, non-revenue water, minimum night
/// flow, UARL/ILI and data validity, per zone and for the whole system.
#[derive(Parser)]
#[command(name = "aquatwin report", version)]
struct Args {
    /// The twin configuration (store, sensor map, network, [reporting], [[zones]]).
    #[arg(long)]
    config: PathBuf,
    /// Start (inclusive), `YYYY-MM-DD[ HH:MM[:SS]]` UTC.
    #[arg(long, required_unless_present = "detect_zones")]
    from: Option<String>,
    /// End (exclusive).
    #[arg(long, required_unless_present = "detect_zones")]
    to: Option<String>,
    #[arg(long, value_enum, default_value = "month")]
    period: Period,
    /// Output directory (tables, charts, report.html; overwritten).
    #[arg(long, required_unless_present = "detect_zones")]
    out: Option<PathBuf>,
    /// Billing CSV: zone or node, period_start, period_end, billed_metered_m3[, billed_unmetered_m3].
    #[arg(long)]
    billing: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Measurements from exported files instead of the store (repeatable):
    /// CSV or Parquet, long (timestamp, tag, value[, quality]) or one sensor
    /// as `aquatwin export` writes it (timestamp, TAG_m3/s or TAG_m[, quality]); SI values.
    #[arg(long)]
    input: Vec<PathBuf>,
    /// Grid step of the analysis, seconds.
    #[arg(long, default_value_t = 300)]
    step_s: u32,
    /// Print the zones detected from the model and the sensor map
    /// (metered and closed links cut the network) as `[[zones]]` TOML, and stop.
    #[arg(long)]
    detect_zones: bool,
    /// With --detect-zones: also cut at these links (comma-separated), e.g. PRVs.
    #[arg(long, value_delimiter = ',')]
    cut: Vec<String>,
}

/// Logs to stderr (`telemetry::logging`).
fn init_logging() {
    telemetry::logging::init_stderr();
}

fn run(a: Args) -> Result<()> {
    if a.detect_zones {
        let l = reporting::load(&a.config)?;
        let z = reporting::zones::detect(&l.net, &l.map, &a.cut).map_err(|e| anyhow!(e))?;
        let header = format!(
            "# Zones detected by `aquatwin report --detect-zones` from {} and {}\n\
             # (cut at metered links, closed links{}).\n",
            l.twin
                .network
                .as_deref()
                .unwrap_or(std::path::Path::new("?"))
                .display(),
            l.twin.sensors.display(),
            if a.cut.is_empty() {
                String::new()
            } else {
                format!(" and {}", a.cut.join(", "))
            }
        );
        print!("{}", reporting::zones::to_toml(&z, &header));
        return Ok(());
    }
    let time = |s: &Option<String>, what: &str| -> Result<i64> {
        telemetry::time::parse_timestamp(s.as_deref().unwrap_or_default())
            .map_err(|e| anyhow!(e))
            .with_context(|| what.to_string())
    };
    let req = reporting::Request {
        config: a.config,
        from: time(&a.from, "--from")?,
        to: time(&a.to, "--to")?,
        period: a.period,
        out: a.out.expect("required"),
        billing: a.billing,
        format: a.format,
        step_s: a.step_s,
        input: a.input,
    };
    let t0 = std::time::Instant::now();
    let files = reporting::run(&req)?;
    tracing::info!(
        "report written to {} ({} files) in {:.1} s",
        req.out.display(),
        files.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() {
    init_logging();
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
