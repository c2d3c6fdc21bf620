//! Shared set-up of the live-twin commands (`train`, `run`): the model, the
//! sensor map as detection's sensor set with the store's tags, times.

use super::detect::load_sensors;
use anyhow::{anyhow, Context, Result};
use detection::sensors::SensorSet;
use std::path::Path;
use telemetry::config::TwinConfig;

/// What `train` and `run` work on.
pub struct Twin {
    pub cfg: TwinConfig,
    pub model: network::Network,
    pub set: SensorSet,
    /// The store's tag of each sensor of `set`, in order.
    pub tags: Vec<String>,
    /// The sensor map's time zone (the model's patterns follow its clock).
    pub time_zone: telemetry::time::TimeZone,
}

pub fn load(config: &Path) -> Result<Twin> {
    let (cfg, map) = super::telemetry_common::load_config(config)?;
    let net_path = cfg.network.clone().ok_or_else(|| {
        anyhow!(
            "{}: the live twin needs the model: add `network = \"NET.inp\"`",
            cfg.file.display()
        )
    })?;
    let model = super::load_network(&net_path)?;
    let sensors = load_sensors(Some(&cfg.sensors), &model)?;
    let tags = map.sensors.iter().map(|s| s.tag.clone()).collect();
    Ok(Twin {
        cfg,
        model,
        set: sensors.set,
        tags,
        time_zone: sensors.time_zone,
    })
}

/// A time argument: `YYYY-MM-DD[ HH:MM[:SS]]` UTC, RFC 3339 with an
/// offset, or epoch milliseconds.
pub fn parse_time(what: &str, text: &str) -> Result<i64> {
    telemetry::time::parse_timestamp(text).with_context(|| format!("{what} {text:?}"))
}
