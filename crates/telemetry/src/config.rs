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
//! # busy_timeout_s = 10             # sqlite: wait this long for another process's lock
//! # url = "http://127.0.0.1:8086"   # influxdb (v1 API: 1.x, 2.x compat, 3.x)
//! # database = "aquatwin"
//! # token = "…"                     # 2.x/3.x
//!
//! [buffer]
//! dir = "../data/buffer"            # default: <store path>.buffer or ./aquatwin-buffer
//!
//! [ingest]
//! batch_ms = 1000                   # how long samples gather before a write
//! # max_memory_samples = 1000000    # bound of samples held in memory when the disk buffer fails
//! # fail_exit_s = 600               # exit (code 3) after the store failed this long
//! # health_file = "../data/health.json"  # status, written on every change and every 5 s
//!
//! [twin]                            # the live service (crate `twin`)
//! # state_dir = "../data/twin-state"  # alerts.sqlite; default: twin-state next to the buffer dir
//! # token_file = "/etc/aquatwin/token"  # bearer token (first line); AQUATWIN_TOKEN wins
//! # calibrate = true                # `train` calibrates the model on the training period first
//!
//! # [twin.webhook]                  # alert events POSTed as signed JSON (crate `twin`)
//! # url = "http://127.0.0.1:9000/aquatwin"  # http:// only (TLS: a local reverse proxy)
//! # secret_file = "/etc/aquatwin/webhook-secret"  # HMAC key (first line); AQUATWIN_WEBHOOK_SECRET wins
//! # timeout_s = 10                  # per attempt
//! # max_backoff_s = 300             # retries back off exponentially up to this
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
    #[serde(default)]
    twin: RawTwin,
    /// `[reporting]` and `[[zones]]` belong to the efficiency report
    /// (crate `reporting`, which reads them); accepted and ignored here.
    #[serde(default, rename = "reporting")]
    _reporting: Option<toml::Value>,
    #[serde(default, rename = "zones")]
    _zones: Option<toml::Value>,
    clock: Option<RawClock>,
}

/// `[clock]`: an accelerated data clock shared by the processes of a
/// simulated field (demos, tests).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClock {
    speed: f64,
    /// Data time at `wall_start_ms` (`YYYY-MM-DD HH:MM` UTC, RFC 3339, epoch ms).
    data_start: String,
    wall_start_ms: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTwin {
    state_dir: Option<String>,
    #[serde(default)]
    calibrate: bool,
    token_file: Option<String>,
    webhook: Option<RawWebhook>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: String,
    secret_file: Option<String>,
    timeout_s: Option<f64>,
    max_backoff_s: Option<f64>,
}

/// `[twin.webhook]`: where alert events are POSTed. The secret itself is not
/// here: it comes from `AQUATWIN_WEBHOOK_SECRET` or `secret_file` when the
/// deliverer starts, and is never logged.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// An `http://host:port/path` URL.
    pub url: String,
    pub secret_file: Option<PathBuf>,
    /// Per attempt (connect, send, answer).
    pub timeout: std::time::Duration,
    /// Retries wait 0.5 s, 1 s, 2 s, … up to this.
    pub max_backoff: std::time::Duration,
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
    busy_timeout_s: Option<f64>,
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
    /// Samples kept in memory when the disk buffer cannot take them (disk
    /// full, I/O error); beyond it the oldest are dropped, each drop logged.
    #[serde(default = "default_max_memory_samples")]
    pub max_memory_samples: usize,
    /// Exit (code 3) once the store has failed for this long; absent: never.
    pub fail_exit_s: Option<f64>,
    /// Where to write the ingest's health (JSON); relative to the config file.
    pub health_file: Option<PathBuf>,
    /// A drop folder of SCADA exports (`.csv`) that `aquatwin run` imports
    /// as they arrive, then moves to `done/` (or `failed/`, with the
    /// reason); relative to the config file.
    #[serde(default)]
    pub drop_dir: Option<PathBuf>,
}
fn default_max_memory_samples() -> usize {
    1_000_000
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
            max_memory_samples: default_max_memory_samples(),
            fail_exit_s: None,
            health_file: None,
            drop_dir: None,
        }
    }
}

/// Which store, resolved.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    Sqlite {
        path: PathBuf,
        busy_timeout: std::time::Duration,
    },
    Influx(InfluxConfig),
}

impl StoreConfig {
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            StoreConfig::Sqlite { path, busy_timeout } => {
                Box::new(SqliteStore::open_with(path, *busy_timeout)?)
            }
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
    /// The live service's state (`alerts.sqlite`): `[twin] state_dir`, by
    /// default `twin-state` in the buffer directory's parent.
    pub state_dir: PathBuf,
    /// `[twin] token_file`: where the API's bearer token is (the
    /// `AQUATWIN_TOKEN` environment variable wins).
    pub token_file: Option<PathBuf>,
    /// `[twin] calibrate`: `train` calibrates the model on the training
    /// period first (default false).
    pub calibrate: bool,
    /// `[twin.webhook]`, if alert events are to be POSTed somewhere.
    pub webhook: Option<WebhookSettings>,
    /// `[clock]`: the data clock samples are stamped with (real time when
    /// absent).
    pub clock: crate::time::DataClock,
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
            Backend::Sqlite => StoreConfig::Sqlite {
                path: rel(&need(&raw.store.path, "path")?),
                busy_timeout: match raw.store.busy_timeout_s {
                    Some(t) if !(t.is_finite() && t >= 0.0) => {
                        return Err(format!(
                            "{name}: [store] busy_timeout_s must be a number of seconds ≥ 0"
                        ))
                    }
                    Some(t) => std::time::Duration::from_secs_f64(t),
                    None => crate::store::sqlite::DEFAULT_BUSY_TIMEOUT,
                },
            },
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
            (None, StoreConfig::Sqlite { path, .. }) => path.with_extension("buffer"),
            (None, StoreConfig::Influx(_)) => rel("aquatwin-buffer"),
        };
        if let Some(t) = raw.ingest.fail_exit_s {
            if !(t.is_finite() && t > 0.0) {
                return Err(format!(
                    "{name}: [ingest] fail_exit_s must be a number of seconds > 0"
                ));
            }
        }
        if raw.ingest.max_memory_samples == 0 {
            return Err(format!("{name}: [ingest] max_memory_samples must be > 0"));
        }
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
        let state_dir = match &raw.twin.state_dir {
            Some(d) => rel(d),
            None => buffer_dir
                .parent()
                .map_or_else(|| rel("twin-state"), |p| p.join("twin-state")),
        };
        let seconds = |v: Option<f64>, key: &str, default: f64| match v {
            None => Ok(std::time::Duration::from_secs_f64(default)),
            Some(t) if t.is_finite() && t > 0.0 && t < 1e9 => {
                Ok(std::time::Duration::from_secs_f64(t))
            }
            Some(_) => Err(format!(
                "{name}: [twin.webhook] {key} must be a number of seconds > 0"
            )),
        };
        let webhook = match &raw.twin.webhook {
            None => None,
            Some(w) => {
                let rest = w.url.strip_prefix("http://").ok_or_else(|| {
                    format!(
                        "{name}: [twin.webhook] url {:?} must start with http:// \
                         (for https, put a local reverse proxy in front)",
                        w.url
                    )
                })?;
                if rest.is_empty() || rest.starts_with('/') {
                    return Err(format!(
                        "{name}: [twin.webhook] url {:?} has no host",
                        w.url
                    ));
                }
                Some(WebhookSettings {
                    url: w.url.clone(),
                    secret_file: w.secret_file.as_deref().map(rel),
                    timeout: seconds(w.timeout_s, "timeout_s", 10.0)?,
                    max_backoff: seconds(w.max_backoff_s, "max_backoff_s", 300.0)?,
                })
            }
        };
        let clock = match &raw.clock {
            None => crate::time::DataClock::REAL_TIME,
            Some(c) => {
                if !(c.speed.is_finite() && c.speed > 0.0) {
                    return Err(format!("{name}: [clock] speed must be a number > 0"));
                }
                let data_start = crate::time::parse_timestamp(&c.data_start)
                    .map_err(|e| format!("{name}: [clock] data_start {:?}: {e}", c.data_start))?;
                crate::time::DataClock {
                    data_start_ms: data_start,
                    wall_start_ms: c.wall_start_ms,
                    speed: c.speed,
                }
            }
        };
        Ok(TwinConfig {
            clock,
            file: file.to_path_buf(),
            webhook,
            state_dir,
            token_file: raw.twin.token_file.as_deref().map(rel),
            calibrate: raw.twin.calibrate,
            sensors: rel(&raw.sensors),
            network,
            store,
            buffer_dir,
            ingest: IngestConfig {
                health_file: raw.ingest.health_file.as_ref().map(|h| base.join(h)),
                drop_dir: raw.ingest.drop_dir.as_ref().map(|h| base.join(h)),
                ..raw.ingest
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twin_webhook_section() {
        let f = Path::new("/etc/aquatwin/twin.toml");
        let head = "sensors = \"m.toml\"\n[store]\nbackend = \"sqlite\"\npath = \"db\"\n";
        let c = TwinConfig::parse(head, f).unwrap();
        assert_eq!(c.webhook, None);
        let c = TwinConfig::parse(
            &format!(
                "{head}[twin.webhook]\nurl = \"http://127.0.0.1:9000/hook\"\n\
                 secret_file = \"hook.secret\"\ntimeout_s = 2.5\n"
            ),
            f,
        )
        .unwrap();
        let w = c.webhook.unwrap();
        assert_eq!(w.url, "http://127.0.0.1:9000/hook");
        assert_eq!(
            w.secret_file.as_deref(),
            Some(Path::new("/etc/aquatwin/hook.secret"))
        );
        assert_eq!(w.timeout, std::time::Duration::from_millis(2500));
        assert_eq!(w.max_backoff, std::time::Duration::from_secs(300));
        for (bad, says) in [
            ("url = \"https://x/hook\"", "must start with http://"),
            ("url = \"http:///hook\"", "has no host"),
            ("url = \"http://x\"\ntimeout_s = 0", "timeout_s must be"),
            ("url = \"http://x\"\nretries = 3", "unknown field"),
        ] {
            let e = TwinConfig::parse(&format!("{head}[twin.webhook]\n{bad}\n"), f).unwrap_err();
            assert!(
                e.contains(says) && e.starts_with("/etc/aquatwin/twin.toml"),
                "{e}"
            );
        }
    }

    #[test]
    fn ingest_and_store_fault_keys() {
        let f = Path::new("/etc/aquatwin/twin.toml");
        let c = TwinConfig::parse(
            "sensors = \"m.toml\"\n[store]\nbackend = \"sqlite\"\npath = \"db.sqlite\"\nbusy_timeout_s = 2.5\n\
             [ingest]\nfail_exit_s = 600\nhealth_file = \"health.json\"\nmax_memory_samples = 5000\n",
            f,
        )
        .unwrap();
        match &c.store {
            StoreConfig::Sqlite { busy_timeout, .. } => {
                assert_eq!(*busy_timeout, std::time::Duration::from_millis(2500))
            }
            _ => panic!("sqlite expected"),
        }
        assert_eq!(c.ingest.fail_exit_s, Some(600.0));
        assert_eq!(c.ingest.max_memory_samples, 5000);
        assert_eq!(
            c.ingest.health_file.as_deref(),
            Some(Path::new("/etc/aquatwin/health.json"))
        );
        let d = TwinConfig::parse(
            "sensors = \"m.toml\"\n[store]\nbackend = \"sqlite\"\npath = \"db.sqlite\"\n",
            f,
        )
        .unwrap();
        assert_eq!(d.ingest.fail_exit_s, None);
        assert_eq!(d.buffer_dir, Path::new("/etc/aquatwin/db.buffer"));
        assert_eq!(d.state_dir, Path::new("/etc/aquatwin/twin-state"));
        assert!(d.token_file.is_none());
        assert!(!d.calibrate);
        let t = TwinConfig::parse(
            "sensors = \"m.toml\"\n[store]\nbackend = \"sqlite\"\npath = \"db.sqlite\"\n\
             [buffer]\ndir = \"data/buf\"\n[twin]\ntoken_file = \"tok\"\ncalibrate = true\n",
            f,
        )
        .unwrap();
        assert!(t.calibrate);
        assert_eq!(t.state_dir, Path::new("/etc/aquatwin/data/twin-state"));
        assert_eq!(
            t.token_file.as_deref(),
            Some(Path::new("/etc/aquatwin/tok"))
        );
        let u = TwinConfig::parse(
            "sensors = \"m.toml\"\n[store]\nbackend = \"sqlite\"\npath = \"db.sqlite\"\n\
             [twin]\nstate_dir = \"/var/lib/aquatwin\"\n",
            f,
        )
        .unwrap();
        assert_eq!(u.state_dir, Path::new("/var/lib/aquatwin"));
        assert!(d.ingest.health_file.is_none());
        for bad in [
            "[store]\nbackend = \"sqlite\"\npath = \"x\"\nbusy_timeout_s = -1\n",
            "[store]\nbackend = \"sqlite\"\npath = \"x\"\n[ingest]\nfail_exit_s = 0\n",
            "[store]\nbackend = \"sqlite\"\npath = \"x\"\n[ingest]\nmax_memory_samples = 0\n",
        ] {
            let e = TwinConfig::parse(&format!("sensors = \"m.toml\"\n{bad}"), f).unwrap_err();
            assert!(e.starts_with("/etc/aquatwin/twin.toml"), "{e}");
        }
    }
}
