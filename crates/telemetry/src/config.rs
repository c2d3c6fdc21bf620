//! The twin's configuration file (`twin.toml`): which sensor map, which
//! network, which store, where the on-disk buffer lives. Relative paths are
//! relative to the configuration file; a relative `network` that does not
//! exist there is also looked for in `$AQUATWIN_NETWORKS`.
//!
//! ```toml
//! sensors = "ltown-battledim.toml"
//! network = "L-TOWN.inp"            # optional: validates the sensor map
//!
//! [store]
//! backend = "sqlite"                # or "influxdb"
//! path = "../data/aquatwin.sqlite"  # sqlite
//! # url = "http://127.0.0.1:8086"   # influxdb (v1 API: 1.x, 2.x compat, 3.x)
//! # database = "aquatwin"
//! # token = "…"                     # 2.x/3.x
//!
//! [buffer]
//! dir = "../data/buffer"            # default: <store path>.buffer or ./aquatwin-buffer
//!
//! [ingest]
//! batch_ms = 1000                   # how long samples gather before a write
//! ```

use crate::store::influx::{InfluxConfig, InfluxStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    sensors: String,
    network: Option<String>,
    store: RawStore,
    #[serde(default)]
    buffer: RawBuffer,
    #[serde(default)]
    ingest: IngestConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    backend: Backend,
    path: Option<String>,
    url: Option<String>,
    database: Option<String>,
    measurement: Option<String>,
    retention_policy: Option<String>,
    token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    timeout_s: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuffer {
    dir: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Influxdb,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    #[serde(default = "default_batch_ms")]
    pub batch_ms: u64,
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
}
fn default_batch_ms() -> u64 {
    1000
}
fn default_max_batch() -> usize {
    100_000
}
impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            batch_ms: default_batch_ms(),
            max_batch: default_max_batch(),
        }
    }
}

/// Which store, resolved.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    Sqlite(PathBuf),
    Influx(InfluxConfig),
}

impl StoreConfig {
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            StoreConfig::Sqlite(p) => Box::new(SqliteStore::open(p)?),
            StoreConfig::Influx(c) => Box::new(InfluxStore::new(c.clone())?),
        })
    }
}

/// A loaded `twin.toml` with paths resolved.
#[derive(Debug, Clone)]
pub struct TwinConfig {
    pub file: PathBuf,
    pub sensors: PathBuf,
    pub network: Option<PathBuf>,
    pub store: StoreConfig,
    pub buffer_dir: PathBuf,
    pub ingest: IngestConfig,
}

/// Why a twin configuration cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Located problems in the file's text.
    #[error("{0}")]
    Invalid(String),
}

impl TwinConfig {
    /// Parses `text` as the contents of `file`. Errors are `file:line: reason`.
    pub fn parse(text: &str, file: &Path) -> Result<TwinConfig, String> {
        let name = file.display().to_string();
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| {
                    text.as_bytes()[..s.start.min(text.len())]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1
                })
                .unwrap_or(0);
            format!("{name}:{line}: {}", e.message())
        })?;
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let rel = |p: &str| base.join(p);
        let need = |v: &Option<String>, what: &str| {
            v.clone()
                .ok_or_else(|| format!("{name}: [store] backend needs `{what}`"))
        };
        let store = match raw.store.backend {
            Backend::Sqlite => StoreConfig::Sqlite(rel(&need(&raw.store.path, "path")?)),
            Backend::Influxdb => {
                let mut c = InfluxConfig::new(
                    &need(&raw.store.url, "url")?,
                    &need(&raw.store.database, "database")?,
                );
                if let Some(m) = &raw.store.measurement {
                    c.measurement = m.clone();
                }
                c.retention_policy = raw.store.retention_policy.clone();
                c.token = raw.store.token.clone();
                c.username = raw.store.username.clone();
                c.password = raw.store.password.clone();
                if let Some(t) = raw.store.timeout_s {
                    c.timeout = std::time::Duration::from_secs_f64(t.max(0.1));
                }
                StoreConfig::Influx(c)
            }
        };
        let buffer_dir = match (&raw.buffer.dir, &store) {
            (Some(d), _) => rel(d),
            (None, StoreConfig::Sqlite(p)) => p.with_extension("buffer"),
            (None, StoreConfig::Influx(_)) => rel("aquatwin-buffer"),
        };
        let network = raw.network.as_ref().map(|n| {
            let p = rel(n);
            if !p.exists() && Path::new(n).is_relative() {
                if let Some(dir) = std::env::var_os("AQUATWIN_NETWORKS") {
                    let alt = Path::new(&dir).join(n);
                    if alt.exists() {
                        return alt;
                    }
                }
            }
            p
        });
        Ok(TwinConfig {
            file: file.to_path_buf(),
            sensors: rel(&raw.sensors),
            network,
            store,
            buffer_dir,
            ingest: raw.ingest,
        })
    }

    pub fn load(file: &Path) -> Result<TwinConfig, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.display().to_string(),
            source,
        })?;
        TwinConfig::parse(&text, file).map_err(ConfigError::Invalid)
    }
}
