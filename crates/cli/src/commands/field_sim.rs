//! `aquatwin field-sim`: Modbus TCP servers on loopback serving the
//! registers of a sensor map, filled from a truth source: the live
//! hydraulic simulation of the network (with leaks), a replayed SCADA
//! export, or synthetic signals.

use super::telemetry_common::{init_logging, load_sensor_map, runtime, shutdown_signal};
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;
use std::sync::Arc;
use telemetry::field_sim::{
    FieldSim, HydraulicTruth, Leak, Noisy, ScadaReplay, Synthetic, TruthSource,
};

/// Where the served values come from.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Truth {
    /// `replay` with --replay; else `hydraulic` if the model's duration is
    /// > 0 or a --leak is given; else `synthetic`.
    Auto,
    /// The live extended-period simulation of --network (a duration-0 model
    /// is solved once and held).
    Hydraulic,
    /// The SCADA export given by --replay.
    Replay,
    /// Smooth made-up signals inside each sensor's range (load tests).
    Synthetic,
}

#[derive(clap::Args)]
#[command(
    after_help = "Simulated time runs at --speed simulated seconds per wall-clock second from \
the moment field-sim starts (or --start-wall-ms). Simulated time 0 is midnight on the model's clock: a \
model whose START CLOCKTIME is not midnight starts at the midnight before, its patterns as its clock \
gives them, as `detect` and the twin align a model to data; start the field at a midnight of the \
twin's data clock. The hydraulic truth serves the last solved hydraulic step (EPANET's \
variable steps) and restarts at time 0 past the model's duration; leaks stay on. A leak is an \
emitter at the end node of the pipe nearer its midpoint (the start node on a tie), sized so it \
flows the given L/s at onset; afterwards its flow follows the node's pressure (q ∝ p^n, n the model's emitter exponent, 0.5 by default).

Example: aquatwin field-sim --network L-TOWN.inp --sensors sensors/ltown-battledim.toml \
--speed 60 --leak p351:25@2:00 --noise 0.002"
)]
pub struct Args {
    /// Network model (.inp); the sensor map is validated against it, and it is
    /// the model the hydraulic truth simulates.
    #[arg(long)]
    network: PathBuf,
    /// Sensor map (TOML) with a Modbus layout.
    #[arg(long)]
    sensors: PathBuf,
    /// Truth source.
    #[arg(long, value_enum, default_value_t = Truth::Auto)]
    truth: Truth,
    /// Replay this SCADA export (file or directory of .csv) as the truth.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Simulated (or replayed) seconds per wall-clock second, e.g. 60 = one
    /// simulated minute per second.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Wall-clock time (epoch ms) at which simulated time 0 is (hydraulic
    /// truth; default: now). With the twin's `[clock]` (data time =
    /// data_start + (wall − wall_start_ms) × speed) it puts the field on
    /// the same data clock as the ingest that polls it.
    #[arg(long, value_name = "EPOCH_MS")]
    start_wall_ms: Option<i64>,
    /// Relative Gaussian noise on every value (e.g. 0.01 = 1 %).
    #[arg(long)]
    noise: Option<f64>,
    /// Leak PIPE:L/s@TIME, repeatable (hydraulic truth only). TIME is
    /// simulated time since field-sim started: seconds (5400) or H:MM[:SS]
    /// (1:30, 36:00). E.g. --leak p351:25@2:00.
    #[arg(long, value_name = "PIPE:L/s@TIME")]
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
    let leaks = a
        .leak
        .iter()
        .map(|l| Leak::parse(l).map_err(|e| anyhow!("--leak: {e}")))
        .collect::<Result<Vec<_>>>()?;
    if !(a.speed.is_finite() && a.speed > 0.0) {
        bail!("--speed {}: must be > 0", a.speed);
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
    let net = super::load_network(&a.network)?;
    let truth = match a.truth {
        Truth::Auto if a.replay.is_some() => Truth::Replay,
        Truth::Auto if net.times.duration > 0 || !leaks.is_empty() => Truth::Hydraulic,
        Truth::Auto => Truth::Synthetic,
        t => t,
    };
    if truth != Truth::Hydraulic && !leaks.is_empty() {
        bail!(
            "--leak needs the hydraulic truth (leaks already in a replayed file are served as recorded)"
        );
    }
    if truth != Truth::Replay && a.replay.is_some() {
        bail!("--replay goes with --truth replay (or auto)");
    }
    let truth: Box<dyn TruthSource> = match truth {
        Truth::Replay => {
            let Some(p) = &a.replay else {
                bail!("--truth replay needs --replay FILE|DIR");
            };
            tracing::info!(
                "truth: SCADA replay of {} at speed {}",
                p.display(),
                a.speed
            );
            Box::new(ScadaReplay::load(&map, p, a.speed)?)
        }
        Truth::Hydraulic => {
            let dur = net.times.duration;
            let mut h = HydraulicTruth::new(net, &map, &leaks, a.speed)?;
            if let Some(ms) = a.start_wall_ms {
                h = h.with_start_wall(ms);
            }
            tracing::info!(
                "truth: hydraulic simulation of {} ({}), speed {}",
                a.network.display(),
                if dur > 0 {
                    format!("{:.1} h cycle", dur as f64 / 3600.0)
                } else {
                    "steady state".to_string()
                },
                a.speed
            );
            for (pipe, node) in h.leak_nodes() {
                tracing::info!("leak on pipe {pipe}: emitter at node {node}");
            }
            Box::new(h)
        }
        Truth::Synthetic | Truth::Auto => {
            tracing::info!("truth: synthetic signals");
            Box::new(Synthetic::new(&map))
        }
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
