//! Shared set-up of the telemetry commands: configuration, sensor map,
//! logging, the tokio runtime.

use anyhow::{anyhow, Context, Result};
use std::path::Path;
use telemetry::config::TwinConfig;
use telemetry::SensorMap;

/// Loads a sensor map; validates it against `network` when given.
pub fn load_sensor_map(path: &Path, network: Option<&Path>) -> Result<SensorMap> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let map = SensorMap::parse(&text, &path.display().to_string())
        .map_err(|e| anyhow!("sensor map refused ({} problem(s)):\n{e}", e.0.len()))?;
    if let Some(net) = network {
        let net = super::load_network(net)?;
        map.validate_against(&net).map_err(|e| {
            anyhow!(
                "sensor map does not fit the network ({} problem(s)):\n{e}",
                e.0.len()
            )
        })?;
    }
    Ok(map)
}

pub fn load_config(path: &Path) -> Result<(TwinConfig, SensorMap)> {
    let mut cfg = TwinConfig::load(path)?;
    let map = load_sensor_map(&cfg.sensors, cfg.network.as_deref())?;
    // InfluxDB points carry each sensor's kind (dashboards select by it).
    if let telemetry::config::StoreConfig::Influx(c) = &mut cfg.store {
        c.kinds = std::sync::Arc::new(
            map.sensors
                .iter()
                .map(|s| (s.tag.clone(), s.kind.name().to_string()))
                .collect(),
        );
    }
    Ok((cfg, map))
}

/// Logs to stderr (`telemetry::logging`).
pub fn init_logging() {
    telemetry::logging::init_stderr();
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
    tracing::info!("stopping");
}
