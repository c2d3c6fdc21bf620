//! Subcommands of the `aquatwin` binary.

mod alerts;
mod calibrate;
mod convert;
mod detect;
mod export;
mod field_sim;
mod import_scada;
mod ingest;
mod inspect;
mod report;
mod run;
mod scenario;
mod score;
mod simulate;
mod telemetry_common;
mod train;
mod twin_common;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::Path;

/// aquatwin: a digital twin of a drinking-water distribution network.
#[derive(Parser)]
#[command(name = "aquatwin", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll the Modbus devices of the sensor map into the store (until Ctrl-C/SIGTERM).
    Ingest(ingest::Args),
    /// Import SCADA exports (BattLeDIM layout, .csv) into the store.
    ImportScada(import_scada::Args),
    /// Export one sensor's samples over a time range (CSV or Parquet), optionally resampled.
    Export(export::Args),
    /// Serve a simulated field over Modbus TCP on loopback (live hydraulic simulation with leaks, replayed SCADA, or synthetic).
    FieldSim(field_sim::Args),
    /// Summarise a network model (.inp): element counts, units, options.
    Inspect(inspect::Args),
    /// Read a network model and write it back as .inp (normalised, same units).
    Convert(convert::Args),
    /// Run an extended-period hydraulic simulation; write node and link results (SI, CSV or Parquet).
    Simulate(simulate::Args),
    /// Score a BattLeDIM results file against labelled leaks (official 2020 rules).
    Score(score::Args),
    /// Generate a leak scenario: perturbed truth network, leaks, SCADA CSVs and labels.
    Scenario(scenario::Args),
    /// Detect and localize leaks in SCADA data with the model (BattLeDIM results file).
    Detect(detect::Args),
    /// List the live twin's operator alerts (table, or JSON for scripts).
    Alerts(alerts::Args),
    /// Learn normal behaviour from a stored leak-free period (for `run`).
    Train(train::Args),
    /// The live twin: ingest, model and leak detection step by step, alerts and the HTTP API.
    Run(run::Args),
    /// Calibrate the model to SCADA data: roughness, demands, sensor offsets, uncertain statuses.
    Calibrate(calibrate::Args),
    /// Efficiency report: water balance, night flow, UARL/ILI (runs the sibling `aquatwin-report`).
    Report(report::Args),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Ingest(a) => ingest::run(a),
        Command::ImportScada(a) => import_scada::run(a),
        Command::Export(a) => export::run(a),
        Command::FieldSim(a) => field_sim::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Score(a) => score::run(a),
        Command::Scenario(a) => scenario::run(a),
        Command::Detect(a) => detect::run(a),
        Command::Alerts(a) => alerts::run(a),
        Command::Train(a) => train::run(a),
        Command::Run(a) => run::run(a),
        Command::Calibrate(a) => calibrate::run(a),
        Command::Report(a) => report::run(a),
    }
}

/// Reads and parses an `.inp` file; every input problem is listed in the error.
pub fn load_network(path: &Path) -> Result<network::Network> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    network::inp::parse_inp_bytes(&bytes, &path.display().to_string())
        .map_err(|e| anyhow::anyhow!("{} has {} error(s):\n{e}", path.display(), e.errors.len()))
}
