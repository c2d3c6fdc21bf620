//! `aquatwin convert`: read a model and write it back as `.inp`.

use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The EPANET .inp file to read.
    network: PathBuf,
    /// Where to write the .inp file.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let net = super::load_network(&a.network)?;
    let text = network::inp::write_inp(&net);
    std::fs::write(&a.out, text).with_context(|| format!("cannot write {}", a.out.display()))?;
    Ok(())
}
