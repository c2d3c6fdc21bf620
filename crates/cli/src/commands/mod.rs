//! Subcommands of the `aquatwin` binary.

mod convert;
mod inspect;

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
    /// Summarise a network model (.inp): element counts, units, options.
    Inspect(inspect::Args),
    /// Read a network model and write it back as .inp (normalised, same units).
    Convert(convert::Args),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Convert(a) => convert::run(a),
    }
}

/// Reads and parses an `.inp` file; every input problem is listed in the error.
pub fn load_network(path: &Path) -> Result<network::Network> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    network::inp::parse_inp_bytes(&bytes, &path.display().to_string())
        .map_err(|e| anyhow::anyhow!("{} has {} error(s):\n{e}", path.display(), e.errors.len()))
}
