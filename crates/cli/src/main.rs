//! `aquatwin`: the command-line entry to the digital twin.
//!
//! Each subcommand lives in its own module; this file only parses the
//! command line and maps failures to a message on stderr and exit code 1.

mod commands;
mod figures;

use clap::Parser;

fn main() {
    let cli = commands::Cli::parse();
    if let Err(e) = commands::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
