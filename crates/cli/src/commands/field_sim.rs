//! `aquatwin field-sim`: Modbus TCP servers on loopback serving the
//! registers of a sensor map, filled from a truth source.

use super::telemetry_common::{init_logging, load_sensor_map, runtime, shutdown_signal};
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;
use std::sync::Arc;
use telemetry::field_sim::{FieldSim, Noisy, ScadaReplay, Synthetic, TruthSource};

#[derive(clap::Args)]
pub struct Args {
    /// Network model (.inp); the sensor map is validated against it.
    #[arg(long)]
    network: PathBuf,
    /// Sensor map (TOML) with a Modbus layout.
    #[arg(long)]
    sensors: PathBuf,
    /// Replay this SCADA export (file or directory of .csv) as the truth.
    /// Without it, smooth synthetic signals inside each sensor's range.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Replay speed (data seconds per wall-clock second).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Relative Gaussian noise on every value (e.g. 0.01 = 1 %).
    #[arg(long)]
    noise: Option<f64>,
    /// Leak PIPE:L/s@TIME (needs the live hydraulic simulation).
    #[arg(long)]
    leak: Vec<String>,
    /// Address to listen on (loopback only by default).
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Serve every device on this port instead of the map's ports (their unit ids must differ).
    #[arg(long)]
    port: Option<u16>,
    /// Register refresh period, seconds.
    #[arg(long, default_value_t = 1.0)]
    update: f64,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
}

pub fn run(a: Args) -> Result<()> {
    init_logging();
    if !a.leak.is_empty() {
        bail!(
            "--leak needs the live hydraulic simulation as the truth source; this build serves a replayed SCADA file \
             or synthetic signals only (leaks already in a replayed file are served as recorded)"
        );
    }
    let mut map = load_sensor_map(&a.sensors, Some(&a.network))?;
    if let Some(p) = a.port {
        let mut seen = std::collections::HashSet::new();
        for d in &mut map.devices {
            if !seen.insert(d.unit_id) {
                bail!(
                    "--port {p}: devices share unit id {}; they cannot share one port",
                    d.unit_id
                );
            }
            d.port = p;
        }
    }
    let map = Arc::new(map);
    let truth: Box<dyn TruthSource> = match &a.replay {
        Some(p) => Box::new(ScadaReplay::load(&map, p, a.speed).map_err(|e| anyhow!(e))?),
        None => Box::new(Synthetic::new(&map)),
    };
    let truth: Box<dyn TruthSource> = match a.noise {
        Some(s) if s > 0.0 => Box::new(Noisy::new(truth, s, 0x5eed)),
        _ => truth,
    };
    let rt = runtime()?;
    rt.block_on(async move {
        let sim = FieldSim::start(
            map.clone(),
            truth,
            a.bind,
            std::time::Duration::from_secs_f64(a.update.max(0.01)),
        )
        .await
        .map_err(|e| anyhow!("cannot listen: {e}"))?;
        for addr in &sim.addrs {
            tracing::info!("field-sim serving Modbus TCP on {addr}");
        }
        // Tell a parent process we are ready.
        println!(
            "ready {}",
            sim.addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        match a.duration {
            Some(d) => tokio::select! {
                _ = shutdown_signal() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs_f64(d)) => {}
            },
            None => shutdown_signal().await,
        }
        let stats = sim.stats.clone();
        sim.stop().await;
        tracing::info!(
            "field-sim stopped: {} reads (fc 3: {}, fc 4: {}), {} other requests refused",
            stats.count(3) + stats.count(4),
            stats.count(3),
            stats.count(4),
            stats.non_read()
        );
        Ok(())
    })
}
