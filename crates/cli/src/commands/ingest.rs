//! `aquatwin ingest`: poll the Modbus devices of the sensor map and keep
//! every sample in the configured store, until Ctrl-C or SIGTERM. Exits 3
//! when the store failed for longer than `[ingest] fail_exit_s`.

use super::telemetry_common::{init_logging, load_config, runtime, shutdown_signal};
use anyhow::{anyhow, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// Exit code when the store failed for longer than `[ingest] fail_exit_s`.
pub const EXIT_STORE_FAILED: i32 = 3;

#[derive(clap::Args)]
pub struct Args {
    /// The twin's configuration (twin.toml).
    #[arg(long)]
    config: PathBuf,
    /// Stop by itself after this many seconds (tests, benchmarks).
    #[arg(long)]
    duration: Option<f64>,
}

pub fn run(a: Args) -> Result<()> {
    init_logging();
    let (cfg, map) = load_config(&a.config)?;
    if !map.sensors.iter().any(|s| s.modbus.is_some()) {
        return Err(anyhow!(
            "{}: no sensor has a `modbus` source; nothing to poll",
            cfg.sensors.display()
        ));
    }
    let store = cfg.store.open().map_err(|e| anyhow!(e))?;
    let rt = runtime()?;
    let duration = a.duration;
    let report = rt.block_on(async move {
        let stop = async move {
            match duration {
                Some(d) => tokio::select! {
                    _ = shutdown_signal() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs_f64(d)) => {}
                },
                None => shutdown_signal().await,
            }
        };
        telemetry::ingest::run_ingest(
            Arc::new(map),
            store,
            &cfg.buffer_dir,
            telemetry::ingest::IngestOptions {
                clock: cfg.clock,
                ..telemetry::ingest::IngestOptions::from_config(&cfg.ingest)
            },
            stop,
        )
        .await
    });
    let r = report.map_err(|e| anyhow!(e))?;
    tracing::info!(
        "stopped: {} ticks, {} samples stored ({} good polled), {} left in the on-disk buffer",
        r.ticks,
        r.samples,
        r.good,
        r.left_in_buffer
    );
    if r.dropped > 0 {
        tracing::error!("{} samples were dropped (see the errors above)", r.dropped);
    }
    if let Some(msg) = r.store_failure {
        // A supervisor restarts the twin or alerts; the samples stay buffered.
        eprintln!("error: {msg}");
        std::process::exit(EXIT_STORE_FAILED);
    }
    Ok(())
}
