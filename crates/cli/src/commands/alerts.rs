//! `aquatwin alerts --config twin.toml [--json] [--state …]`: the operator
//! alerts of the live twin's state directory (`[twin] state_dir`), for
//! people (a table) and scripts (`--json`, the API's field names).

use anyhow::{Context, Result};
use std::path::PathBuf;
use telemetry::config::TwinConfig;
use telemetry::time::format_timestamp;
use twin::alerts::{Alert, AlertState, AlertStore, FILE_NAME};

#[derive(Clone, Copy, clap::ValueEnum)]
enum StateArg {
    Open,
    Acknowledged,
    Closed,
    All,
}

#[derive(clap::Args)]
pub struct Args {
    /// The twin's configuration (twin.toml).
    #[arg(long)]
    config: PathBuf,
    /// Print a JSON array of alerts (fields as in the HTTP API) instead of a table.
    #[arg(long)]
    json: bool,
    /// Which alerts: in one lifecycle state, or all.
    #[arg(long, value_enum, default_value = "all")]
    state: StateArg,
}

pub fn run(a: Args) -> Result<()> {
    let cfg = TwinConfig::load(&a.config)?;
    let filter = match a.state {
        StateArg::Open => Some(AlertState::Open),
        StateArg::Acknowledged => Some(AlertState::Acknowledged),
        StateArg::Closed => Some(AlertState::Closed),
        StateArg::All => None,
    };
    let file = cfg.state_dir.join(FILE_NAME);
    // No store yet (the service never ran): no alerts; do not create one.
    let alerts = if file.exists() {
        AlertStore::open(&cfg.state_dir)
            .and_then(|store| store.list(filter))
            .with_context(|| format!("cannot read the alerts in {}", file.display()))?
    } else {
        eprintln!("no alert store yet at {}", file.display());
        Vec::new()
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&alerts)?);
    } else {
        print!("{}", table(&alerts));
    }
    Ok(())
}

fn table(alerts: &[Alert]) -> String {
    let mut rows = vec![[
        "id",
        "state",
        "raised (UTC)",
        "size L/s",
        "conf",
        "place",
        "pipe",
        "also",
        "resolution",
        "leak",
    ]
    .map(String::from)];
    for a in alerts {
        rows.push([
            a.id.to_string(),
            a.state.as_str().to_owned(),
            format_timestamp(a.raised_ms),
            format!("{:.2}", a.size_lps),
            format!("{:.2}", a.confidence),
            // Uncertain: `pipe` is a best guess, search the candidate area;
            // at a pump's station: check the pump and its meter.
            match (&a.at_pump, a.place_uncertain) {
                (Some(p), true) => format!("uncertain, pump {p}'s station"),
                (_, true) => "uncertain".to_owned(),
                _ => "located".to_owned(),
            },
            a.pipe.clone(),
            a.also_pipe.clone().unwrap_or_else(|| "-".into()),
            a.resolution.map_or("-", |r| r.as_str()).to_owned(),
            a.leak_key.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if alerts.is_empty() {
        out.push_str("(no alerts)\n");
    }
    out
}
