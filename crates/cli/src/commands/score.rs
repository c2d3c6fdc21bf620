//! `aquatwin score`: the official BattLeDIM 2020 score of a results file
//! (`pipeID, YYYY-MM-DD HH:MM` lines) against labelled leaks and their flows.
//!
//! This module only reads the files; the rules live in
//! `battledim::scoring`.

use anyhow::{Context, Result};
use battledim::scoring::{
    parse_leak_labels, parse_results, LeakFlows, LeakFlowsBuilder, ScoreParams, Scorer,
};
use network::graph::DistanceRule;
use std::path::{Path, PathBuf};
use telemetry::scada::ScadaReader;

#[derive(clap::Args)]
pub struct Args {
    /// The network model (.inp) the pipe IDs refer to.
    #[arg(long)]
    network: PathBuf,
    /// Leak labels in the BattLeDIM `leakages_info.yalm` layout.
    #[arg(long)]
    leaks: PathBuf,
    /// Leak flows, m³/h per 5-minute step (`Timestamp,<pipe>,...`).
    #[arg(long)]
    flows: PathBuf,
    /// The results file to score.
    results: PathBuf,
    /// Print one JSON object (score_eur, true_positives, false_positives,
    /// per-detection details) instead of the text report.
    #[arg(long)]
    json: bool,
    /// How distance is measured: `pipes` (the official BattLeDIM rule:
    /// along pipes only) or `network` (also through valves and pumps that
    /// are not initially closed, which count 0 m: they have no length in
    /// EPANET). Use `network` for networks whose valves split the pipes.
    #[arg(long, value_enum, default_value_t = Distance::Pipes)]
    distance: Distance,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Distance {
    Pipes,
    Network,
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        anyhow::anyhow!("{}:{line}: not UTF-8 text", path.display())
    })
}

/// Leak flows (`Timestamp,<pipe>,…`, UTC) through telemetry's CSV reader;
/// every bad row is listed.
fn read_leak_flows(path: &Path) -> Result<LeakFlows> {
    let mut rd = ScadaReader::open(path)?;
    let mut b = LeakFlowsBuilder::new(rd.file(), 1, rd.columns().to_vec());
    rd.for_each_row(|r| match r {
        Ok(row) => b.push_row(row.line, row.ts_ms, &row.values),
        Err(e) => b.push_error(e.line, e.what()),
    });
    Ok(b.finish()?)
}

pub fn run(a: Args) -> Result<()> {
    let net = super::load_network(&a.network)?;
    let name = |p: &Path| p.display().to_string();
    let labels =
        parse_leak_labels(&read_text(&a.leaks)?, &name(&a.leaks)).map_err(anyhow::Error::new)?;
    let flows = read_leak_flows(&a.flows)?;
    let results =
        parse_results(&read_text(&a.results)?, &name(&a.results)).map_err(anyhow::Error::new)?;
    let params = ScoreParams {
        distance: match a.distance {
            Distance::Pipes => DistanceRule::PipesOnly,
            Distance::Network => DistanceRule::Network,
        },
        ..ScoreParams::default()
    };
    let scorer =
        Scorer::new(&net, labels, &name(&a.leaks), flows, params).map_err(anyhow::Error::new)?;
    let report = scorer.score(&results).map_err(anyhow::Error::new)?;
    let team = a
        .results
        .file_stem()
        .map_or_else(|| name(&a.results), |s| s.to_string_lossy().into_owned());
    if a.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            team: &'a str,
            #[serde(flatten)]
            report: &'a battledim::scoring::ScoreReport,
        }
        emit(
            &(serde_json::to_string_pretty(&Out {
                team: &team,
                report: &report,
            })? + "\n"),
        )
    } else {
        emit(&report.render_text(&team))
    }
}

/// Writes to stdout; a reader that stops early (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}
