//! `aquatwin import-scada DIR --config twin.toml`: stream SCADA exports
//! (BattLeDIM layout) into the configured store.

use super::telemetry_common::{init_logging, load_config};
use anyhow::{anyhow, Context, Result};
use std::path::PathBuf;
use telemetry::store::buffer::BufferedStore;

#[derive(clap::Args)]
pub struct Args {
    /// A SCADA export (.csv) or a directory of them.
    path: PathBuf,
    /// The twin's configuration (twin.toml).
    #[arg(long)]
    config: PathBuf,
    /// List bad rows and go on, instead of stopping at the first.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Zone of the exports' timestamps (IANA name, e.g. Europe/Paris);
    /// default: the sensor map's `time_zone`, else UTC.
    #[arg(long, value_name = "ZONE")]
    time_zone: Option<String>,
}

pub fn run(a: Args) -> Result<()> {
    init_logging();
    let (cfg, mut map) = load_config(&a.config)?;
    if let Some(z) = &a.time_zone {
        map.time_zone = telemetry::time::zone(z).context("--time-zone")?;
    }
    let files = telemetry::ingest::scada_files(&a.path)?;
    let store = cfg.store.open().map_err(|e| anyhow!(e))?;
    let mut bs = BufferedStore::open(store, &cfg.buffer_dir).map_err(|e| anyhow!(e))?;
    let t0 = std::time::Instant::now();
    let rep = telemetry::ingest::import_scada(&map, &files, &mut bs, a.skip_bad_rows, 50_000)
        .context("import stopped")?;
    let secs = t0.elapsed().as_secs_f64();
    for (f, c) in &rep.unmapped {
        eprintln!("warning: {f}: column '{c}' is not in the sensor map; ignored");
    }
    for e in rep.bad_rows.iter().take(50) {
        eprintln!("bad row: {e}");
    }
    if rep.bad_rows.len() > 50 {
        eprintln!("… and {} more bad rows", rep.bad_rows.len() - 50);
    }
    println!(
        "imported {} files, {} rows, {} samples ({} good) in {:.1} s ({:.0} samples/s) into {}{}",
        rep.files,
        rep.rows,
        rep.samples,
        rep.good,
        secs,
        rep.samples as f64 / secs.max(1e-9),
        bs.store.describe(),
        if rep.buffered > 0 {
            format!(
                "; {} samples wait in the on-disk buffer {} (store unreachable)",
                rep.buffered,
                cfg.buffer_dir.display()
            )
        } else {
            String::new()
        }
    );
    if !rep.bad_rows.is_empty() {
        println!("{} bad rows skipped", rep.bad_rows.len());
    }
    Ok(())
}
