//! `aquatwin run --config twin.toml [--listen ADDR:PORT] [--until TIME|end]`:
//! the live twin. One process: it polls the sensor map's Modbus devices
//! into the store (unless `--no-ingest`), follows the stored data step by
//! step in data time through the streaming leak detector, keeps the
//! operator alerts and serves the HTTP API. It first catches up from its
//! checkpoint to the newest data as fast as it can, then follows new data.

use super::telemetry_common::{init_logging, runtime, shutdown_signal};
use super::twin_common::{load, parse_time};
use anyhow::{anyhow, bail, Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use telemetry::store::Store;
use telemetry::time::format_timestamp;
use twin::alerts::AlertStore;
use twin::api::{bind_address_allowed, Token};
use twin::live::LiveTwin;

#[derive(clap::Args)]
pub struct Args {
    /// The twin's configuration (twin.toml: model, sensor map, store, state directory).
    #[arg(long)]
    config: PathBuf,
    /// Address of the HTTP API (a non-loopback address needs a token:
    /// AQUATWIN_TOKEN or `[twin] token_file`).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Process up to TIME (exclusive; `YYYY-MM-DD HH:MM` UTC, RFC 3339, or
    /// epoch ms) or to the end of the stored data (`end`: what waits for
    /// more data is concluded, as `aquatwin detect` does), then exit.
    #[arg(long, value_name = "TIME|end")]
    until: Option<String>,
    /// Do not poll the Modbus devices (another `aquatwin ingest` or an
    /// import fills the store).
    #[arg(long)]
    no_ingest: bool,
    /// Do not serve the HTTP API.
    #[arg(long)]
    no_serve: bool,
    /// On exit, write figures of this run as JSON: steps, wall time, the
    /// cycle time of steps without and with a localization (benchmarks).
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,
}

enum Until {
    Forever,
    Time(i64),
    End,
}

pub fn run(a: Args) -> Result<()> {
    init_logging();
    let twin = load(&a.config)?;
    let until = match a.until.as_deref() {
        None => Until::Forever,
        Some("end") => Until::End,
        Some(t) => Until::Time(parse_time("--until", t)?),
    };
    let token = Token::from_environment(twin.cfg.token_file.as_deref())?;
    if !a.no_serve {
        bind_address_allowed(a.listen, token.as_ref().map(Token::expose))?;
    }
    let mut live = LiveTwin::open(&twin.model, &twin.set, &twin.tags, &twin.cfg.state_dir)?;
    let mut store = twin.cfg.store.open().map_err(|e| anyhow!(e))?;
    tracing::info!(
        state = %twin.cfg.state_dir.display(),
        store = %store.describe(),
        next = %format_timestamp(live.next_ms()),
        "live twin starting"
    );
    let rt = runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    let _guard = rt.enter();
    // The live status the page and /api/status show.
    let map = super::telemetry_common::load_sensor_map(&twin.cfg.sensors, None)?;
    let status = twin::status::TwinStatus::from_sensor_map(&map).into_handle();
    // The HTTP API and the page, on the same process.
    if !a.no_serve {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(a.listen))
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        let store_cfg = twin.cfg.store.clone();
        let service = twin::api::Service::new(
            Arc::new(Mutex::new(
                AlertStore::open(&twin.cfg.state_dir).context("alert store")?,
            )),
            token,
        )
        .with_network(Arc::new(twin.model.clone()))
        .with_status(status.clone())
        .with_store(Arc::new(move || store_cfg.open()));
        rt.spawn(async move {
            if let Err(e) = service.serve(listener).await {
                tracing::error!("HTTP API stopped: {e}");
            }
        });
    }
    // Alert events to the webhook, when one is configured.
    let _webhook = twin::webhook::Webhook::spawn_configured(&twin.cfg)?;
    // Ingest from the field, unless told not to.
    let polling = !a.no_ingest && map.sensors.iter().any(|s| s.modbus.is_some());
    let (ingest_stop_tx, ingest_stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Samples stored by the ingest and the drop folder: the page's count.
    let ingested = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ingest = if polling {
        let istore = twin.cfg.store.open().map_err(|e| anyhow!(e))?;
        let buffer = twin.cfg.buffer_dir.clone();
        let opts = telemetry::ingest::IngestOptions {
            clock: twin.cfg.clock,
            stored: Some(ingested.clone()),
            ..telemetry::ingest::IngestOptions::from_config(&twin.cfg.ingest)
        };
        let map = Arc::new(map);
        Some(rt.spawn(async move {
            telemetry::ingest::run_ingest(map, istore, &buffer, opts, async move {
                let _ = ingest_stop_rx.await;
            })
            .await
        }))
    } else {
        None
    };
    {
        let stop = stop.clone();
        rt.spawn(async move {
            shutdown_signal().await;
            stop.store(true, Ordering::SeqCst);
        });
    }
    let drops = match twin.cfg.ingest.drop_dir.clone() {
        Some(dir) => Some(Drops {
            dir,
            map: super::telemetry_common::load_sensor_map(&twin.cfg.sensors, None)?,
            cfg: twin.cfg.clone(),
            ingested: ingested.clone(),
        }),
        None => None,
    };
    let wall = Instant::now();
    let mut totals = Totals {
        ingested: ingested.clone(),
        ..Totals::default()
    };
    let result = follow(
        &mut live,
        store.as_mut(),
        &until,
        &stop,
        &mut totals,
        &status,
        drops.as_ref(),
    );
    if let Some(path) = &a.stats {
        let step_ms = live.step_ms();
        let secs = wall.elapsed().as_secs_f64();
        let json = serde_json::json!({
            "steps": totals.steps,
            "wall_s": secs,
            "processing_s": totals.processing_s,
            "data_days": totals.steps as f64 * step_ms as f64 / 86_400_000.0,
            "days_per_s": totals.steps as f64 * step_ms as f64 / 86_400_000.0 / totals.processing_s.max(1e-9),
            "cycle_mean_ms": totals.cycle.mean_ms(),
            "cycle_max_ms": totals.cycle.max_ms,
            "cycle_steps": totals.cycle.count,
            "localization_steps": totals.localization.count,
            "localization_mean_ms": totals.localization.mean_ms(),
            "localization_max_ms": totals.localization.max_ms,
            "alerts_opened": totals.opened,
            "alerts_updated": totals.updated,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let _ = ingest_stop_tx.send(());
    if let Some(h) = ingest {
        match rt.block_on(h) {
            Ok(Ok(r)) => tracing::info!(samples = r.samples, "ingest stopped"),
            Ok(Err(e)) => tracing::error!("ingest: {e}"),
            Err(e) => tracing::error!("ingest task: {e}"),
        }
    }
    result
}

/// The page's live status after a processing call: model time, cycle
/// time, the sensors' latest readings and states, degraded mode.
fn update_status(
    status: &twin::status::StatusHandle,
    live: &LiveTwin,
    p: &twin::live::Progress,
    catching_up: bool,
    ingested: u64,
) {
    let Ok(mut s) = status.write() else {
        return;
    };
    let cycle = if p.cycle.count > 0 {
        p.cycle.mean_ms()
    } else {
        p.localization.mean_ms()
    };
    s.record_cycle(live.next_ms(), cycle, catching_up);
    s.samples_ingested = ingested;
    if let Some((ts, values)) = live.last_readings() {
        for (tag, v) in live.tags().iter().zip(values) {
            s.observe(tag, *ts, *v, v.is_some());
        }
    }
    s.set_excluded(&live.excluded());
    // A sensor without a sample for an hour of data time is stale.
    s.mark_stale(live.next_ms(), 3_600_000);
    let mut reasons = Vec::new();
    let (held, steps) = live.detector().model_not_compared_recently(24.0);
    if held > 0 {
        reasons.push(format!(
            "model not compared with the readings at {held} of the last {steps} steps (a step it \
             did not solve, or values outside the sensors' ranges)"
        ));
    }
    s.refresh_degraded(reasons);
}

/// The drop folder of SCADA exports (`[ingest] drop_dir`).
struct Drops {
    dir: PathBuf,
    map: telemetry::SensorMap,
    cfg: telemetry::config::TwinConfig,
    /// Samples imported, added to the page's count.
    ingested: Arc<std::sync::atomic::AtomicU64>,
}

impl Drops {
    /// Imports every `.csv` in the folder that has not changed for two
    /// seconds (a file still being copied waits), then moves it to `done/`,
    /// or to `failed/` beside a `.error.txt` saying why. Bad rows are
    /// skipped and listed in `done/NAME.bad-rows.txt`.
    fn import_new(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
            .filter(|p| {
                std::fs::metadata(p)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= Duration::from_secs(2))
            })
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            let result = self.import(&f);
            let (sub, note) = match &result {
                Ok((rep, bad)) => {
                    tracing::info!(file = %f.display(), rows = rep.rows, samples = rep.samples, good = rep.good, "drop folder: imported");
                    self.ingested.fetch_add(rep.samples, Ordering::Relaxed);
                    ("done", bad.clone())
                }
                Err(e) => {
                    tracing::error!(file = %f.display(), "drop folder: not imported: {e:#}");
                    ("failed", Some(format!("{e:#}\n")))
                }
            };
            let dest = self.dir.join(sub);
            let moved =
                std::fs::create_dir_all(&dest).and_then(|_| std::fs::rename(&f, dest.join(&name)));
            if let Err(e) = moved {
                tracing::error!(file = %f.display(), "drop folder: cannot move it to {sub}/: {e}");
                continue;
            }
            if let Some(text) = note {
                let suffix = if sub == "done" {
                    "bad-rows.txt"
                } else {
                    "error.txt"
                };
                let mut p = dest.join(&name).into_os_string();
                p.push(format!(".{suffix}"));
                let _ = std::fs::write(PathBuf::from(p), text);
            }
        }
    }

    fn import(
        &self,
        f: &std::path::Path,
    ) -> Result<(telemetry::ingest::ImportReport, Option<String>)> {
        let store = self.cfg.store.open().map_err(|e| anyhow!(e))?;
        let mut bs =
            telemetry::store::buffer::BufferedStore::open(store, &self.cfg.buffer_dir.join("drop"))
                .map_err(|e| anyhow!(e))?;
        let rep =
            telemetry::ingest::import_scada(&self.map, &[f.to_path_buf()], &mut bs, true, 50_000)?;
        let bad = (!rep.bad_rows.is_empty()).then(|| {
            rep.bad_rows
                .iter()
                .map(|e| format!("{e}\n"))
                .collect::<String>()
        });
        Ok((rep, bad))
    }
}

/// Newest stored data time over all sensors, if any.
fn newest(store: &mut dyn Store, tags: &[String]) -> Result<Option<i64>> {
    let mut best: Option<i64> = None;
    for t in tags {
        if let Some(ts) = store.last_timestamp(t).map_err(|e| anyhow!(e))? {
            best = Some(best.map_or(ts, |b: i64| b.max(ts)));
        }
    }
    Ok(best)
}

/// What a run did, over all its processing calls.
#[derive(Default)]
struct Totals {
    steps: usize,
    processing_s: f64,
    opened: usize,
    updated: usize,
    cycle: twin::live::Timing,
    localization: twin::live::Timing,
    /// Samples stored by the ingest and the drop folder.
    ingested: Arc<std::sync::atomic::AtomicU64>,
}

impl Totals {
    fn add(&mut self, p: &twin::live::Progress, secs: f64) {
        self.steps += p.steps;
        self.processing_s += secs;
        self.opened += p.opened;
        self.updated += p.updated;
        self.cycle.merge(&p.cycle);
        self.localization.merge(&p.localization);
    }
}

fn follow(
    live: &mut LiveTwin,
    store: &mut dyn Store,
    until: &Until,
    stop: &AtomicBool,
    totals: &mut Totals,
    status: &twin::status::StatusHandle,
    drops: Option<&Drops>,
) -> Result<()> {
    let tags: Vec<String> = live.tags().to_vec();
    let mut last_log = Instant::now();
    let mut catching_up = true;
    loop {
        if stop.load(Ordering::SeqCst) {
            live.checkpoint()?;
            tracing::info!(next = %format_timestamp(live.next_ms()), "stopped; checkpoint saved");
            return Ok(());
        }
        if let Some(d) = drops {
            d.import_new();
        }
        let newest = match newest(store, &tags) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("store unavailable, degraded: {e:#}");
                if let Ok(mut s) = status.write() {
                    s.refresh_degraded(vec![format!("store unavailable: {e:#}")]);
                }
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        // A step is complete once data after it are stored.
        let step_ms = live.step_ms();
        let upto = match (until, newest) {
            (Until::End, Some(n)) => n + 1,
            (Until::Time(t), Some(n)) => (*t).min(n - step_ms + 1),
            (Until::Forever, Some(n)) => n - step_ms + 1,
            (_, None) => i64::MIN,
        };
        let before = live.next_ms();
        if upto > before {
            let t0 = Instant::now();
            // A day of data at a time, so that Ctrl-C is heard.
            let chunk = upto.min(before + 86_400_000);
            let p = live.process(store, chunk)?;
            let dt = t0.elapsed().as_secs_f64();
            totals.add(&p, dt);
            update_status(
                status,
                live,
                &p,
                upto > chunk,
                totals.ingested.load(Ordering::Relaxed),
            );
            if p.opened + p.updated > 0 || last_log.elapsed() > Duration::from_secs(5) {
                tracing::info!(
                    model_time = %format_timestamp(live.next_ms()),
                    steps = p.steps,
                    days_per_s = p.steps as f64 * step_ms as f64 / 86_400_000.0 / dt.max(1e-9),
                    alerts_opened = p.opened,
                    alerts_updated = p.updated,
                    "processed"
                );
                last_log = Instant::now();
            }
            continue;
        }
        match until {
            Until::End => {
                if newest.is_none() {
                    bail!("the store holds no data for this sensor map");
                }
                let t0 = Instant::now();
                let p = live.conclude()?;
                totals.add(&p, t0.elapsed().as_secs_f64());
                tracing::info!(
                    model_time = %format_timestamp(live.next_ms()),
                    alerts_opened = p.opened,
                    alerts_updated = p.updated,
                    "end of the stored data"
                );
                return Ok(());
            }
            Until::Time(t) if live.next_ms() >= *t => {
                live.checkpoint()?;
                return Ok(());
            }
            _ => {}
        }
        if catching_up {
            tracing::info!(model_time = %format_timestamp(live.next_ms()), "caught up; following new data");
            catching_up = false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
