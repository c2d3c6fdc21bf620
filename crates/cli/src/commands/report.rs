//! `aquatwin report`: the efficiency report (water balance, night flow,
//! UARL/ILI). The work is done by the sibling executable `aquatwin-report`
//! (crate `reporting`, built on polars), found next to this executable and
//! run with the same arguments; its exit code becomes ours. Keeping polars
//! in its own binary keeps it out of `cargo build -p cli`.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::PathBuf;

/// The executable that does the work.
pub const REPORT_EXE: &str = "aquatwin-report";

#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Arguments for `aquatwin-report` (`aquatwin report --help` lists them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

/// Where `aquatwin-report` should be: beside the running executable.
fn sibling() -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find the running executable")?;
    let dir = me
        .parent()
        .context("the running executable has no directory")?;
    Ok(dir.join(format!("{REPORT_EXE}{}", std::env::consts::EXE_SUFFIX)))
}

pub fn run(a: Args) -> Result<()> {
    let exe = sibling()?;
    if !exe.is_file() {
        bail!(
            "`aquatwin report` needs the executable {} next to aquatwin, and it is not there; \
             build it with `cargo build --release -p reporting` (same profile as aquatwin) \
             or install it beside aquatwin",
            exe.display()
        );
    }
    let status = std::process::Command::new(&exe)
        .args(&a.args)
        .status()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    match status.code() {
        Some(0) => Ok(()),
        // The report printed its own error; pass its exit code on.
        Some(c) => std::process::exit(c),
        None => bail!("{} was killed by a signal", exe.display()),
    }
}
