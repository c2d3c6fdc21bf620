//! The pipelines that fill the store: SCADA file import and live Modbus
//! ingestion. Import writes through a [`BufferedStore`]; ingestion journals
//! every tick to the on-disk buffer first and feeds the store from it. A
//! failing store (unreachable, locked, full…) delays samples but never
//! drops them.

use crate::modbus::poller::{poll_device, PollOptions, PollStats, DETAIL_NOT_RUNNING};
use crate::quality::{Grader, Quality, Sample};
use crate::scada::{Row, ScadaError, ScadaReader};
use crate::sensor_map::SensorMap;
use crate::store::buffer::{write_dead_letter, BufferedStore, DiskBuffer, StateFile};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why SCADA files cannot be listed ([`scada_files`]) or imported
/// ([`import_scada`]). The messages name the file (and the line, for a bad
/// row); the I/O, SCADA-reader or store error below is the
/// [`source`](std::error::Error::source), so `{:#}` (anyhow) prints
/// `cannot open f.csv: No such file or directory (os error 2)`.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The directory cannot be listed.
    #[error("cannot read {}", .path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The directory holds no `*.csv` file.
    #[error("{}: no .csv files", .0.display())]
    NoCsvFiles(PathBuf),
    /// A SCADA file cannot be opened.
    #[error("cannot open {file}")]
    Open {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A bad header or row (file and line in the message).
    #[error(transparent)]
    Scada(#[from] ScadaError),
    /// The store (and its on-disk buffer) cannot take the samples.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The SCADA files under `path`: the file itself, or every `*.csv` in the
/// directory, sorted by name.
pub fn scada_files(path: &Path) -> Result<Vec<PathBuf>, ImportError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|source| ImportError::ReadDir {
        path: path.to_path_buf(),
        source,
    })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(ImportError::NoCsvFiles(path.to_path_buf()));
    }
    Ok(v)
}

/// For each column of a SCADA file's header, the sensor it feeds (if any):
/// the sensor whose `scada.column` matches and whose `scada.file` (if set)
/// is part of the file name.
pub fn columns_for_file(map: &SensorMap, file: &Path, columns: &[String]) -> Vec<Option<usize>> {
    let fname = file
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut by_col: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in map.sensors.iter().enumerate() {
        by_col.entry(s.scada_column.as_str()).or_default().push(i);
    }
    columns
        .iter()
        .map(|c| {
            let cands = by_col.get(c.as_str())?;
            // A sensor naming this file wins over one that takes any file.
            cands
                .iter()
                .copied()
                .find(|&i| {
                    map.sensors[i]
                        .scada_file
                        .as_ref()
                        .is_some_and(|f| fname.contains(f.as_str()))
                })
                .or_else(|| {
                    cands
                        .iter()
                        .copied()
                        .find(|&i| map.sensors[i].scada_file.is_none())
                })
        })
        .collect()
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub files: usize,
    pub rows: u64,
    pub samples: u64,
    pub good: u64,
    /// Samples left in the on-disk buffer (store unreachable).
    pub buffered: u64,
    pub bad_rows: Vec<ScadaError>,
    /// (file, column) pairs no sensor takes.
    pub unmapped: Vec<(String, String)>,
}

/// Imports SCADA files into the store. With `skip_bad_rows`, bad rows are
/// listed in the report and skipped; otherwise the first one stops the
/// import (rows before it are stored; re-running is harmless since writes
/// are idempotent).
pub fn import_scada<S: Store>(
    map: &SensorMap,
    files: &[PathBuf],
    store: &mut BufferedStore<S>,
    skip_bad_rows: bool,
    batch: usize,
) -> Result<ImportReport, ImportError> {
    let mut rep = ImportReport::default();
    let mut graders: Vec<Grader> = map
        .sensors
        .iter()
        .map(|s| {
            Grader::new(
                s.min_si,
                s.max_si,
                s.stale_after_s.map(|x| (x * 1000.0) as i64),
            )
        })
        .collect();
    let mut pending: Vec<Sample> = Vec::with_capacity(batch + 1024);
    let flush =
        |pending: &mut Vec<Sample>, store: &mut BufferedStore<S>| -> Result<(), ImportError> {
            if !pending.is_empty() {
                store.write(pending)?;
                pending.clear();
            }
            Ok(())
        };
    for f in files {
        let name = f.display().to_string();
        let file = std::fs::File::open(f).map_err(|source| ImportError::Open {
            file: name.clone(),
            source,
        })?;
        let mut rd = ScadaReader::new(BufReader::with_capacity(1 << 16, file), &name)?
            .with_time_zone(map.time_zone.clone());
        let cols = columns_for_file(map, f, rd.columns());
        for (c, s) in rd.columns().iter().zip(&cols) {
            if s.is_none() {
                rep.unmapped.push((name.clone(), c.clone()));
            }
        }
        rep.files += 1;
        let mut row = Row {
            line: 0,
            ts_ms: 0,
            values: vec![],
        };
        loop {
            match rd.read_row(&mut row) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) if skip_bad_rows => {
                    rep.bad_rows.push(e);
                    continue;
                }
                Err(e) => {
                    flush(&mut pending, store)?;
                    return Err(e.into());
                }
            }
            rep.rows += 1;
            for (c, s) in cols.iter().enumerate() {
                let Some(i) = *s else { continue };
                let sensor = &map.sensors[i];
                let sample = match row.values[c] {
                    Some(v) => graders[i].grade(&sensor.tag, row.ts_ms, sensor.unit.to_si(v)),
                    None => Sample::missing(&sensor.tag, row.ts_ms, Quality::CommsLost, 0),
                };
                rep.good += sample.quality.is_usable() as u64;
                pending.push(sample);
            }
            if pending.len() >= batch {
                rep.samples += pending.len() as u64;
                flush(&mut pending, store)?;
            }
        }
    }
    rep.samples += pending.len() as u64;
    flush(&mut pending, store)?;
    rep.buffered = store.pending();
    Ok(rep)
}

/// Latest timestamp per sensor already recorded: the buffer directory's
/// state file, what the buffer holds, and the store when it answers. The
/// modbus sensors whose latest time is unknown because the store does not
/// answer are returned too: their gap is recorded once the store is back.
fn last_recorded<S: Store>(
    map: &SensorMap,
    store: &mut S,
    journal: &DiskBuffer,
    state: &StateFile,
    buffer_dir: &Path,
) -> (HashMap<String, i64>, Vec<usize>) {
    let mut last: HashMap<String, i64> = state.last_ms.clone();
    if !journal.is_empty() {
        match DiskBuffer::latest_per_sensor(buffer_dir) {
            Ok(m) => {
                for (k, t) in m {
                    let e = last.entry(k).or_insert(t);
                    *e = (*e).max(t);
                }
            }
            Err(e) => tracing::warn!("cannot read the buffer's latest samples: {e}"),
        }
    }
    let mut unknown = Vec::new();
    let mut store_down = false;
    for (i, s) in map.sensors.iter().enumerate() {
        if s.modbus.is_none() {
            continue;
        }
        if !store_down {
            match store.last_timestamp(&s.tag) {
                Ok(Some(t)) => {
                    let e = last.entry(s.tag.clone()).or_insert(t);
                    *e = (*e).max(t);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(
                        "cannot read the last samples from {} ({e}); the restart gap is taken from {} and completed when the store is back",
                        store.describe(),
                        buffer_dir.join("state.json").display()
                    );
                    store_down = true;
                }
            }
        }
        if store_down && !last.contains_key(&s.tag) {
            unknown.push(i);
        }
    }
    (last, unknown)
}

/// Totals of an ingestion run.
#[derive(Debug, Default, Clone)]
pub struct IngestReport {
    /// Samples delivered to the store during this run.
    pub samples: u64,
    pub good: u64,
    pub ticks: u64,
    pub left_in_buffer: u64,
    /// Most samples the on-disk buffer held at once (waiting for the store).
    pub max_buffered: u64,
    /// Samples dropped because neither the disk buffer nor memory could keep
    /// them (each drop is logged at error level).
    pub dropped: u64,
    /// Set when the run ended because the store failed longer than
    /// `fail_exit_s`.
    pub store_failure: Option<String>,
}

/// Settings of [`run_ingest`] (the `[ingest]` section of `twin.toml`).
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// How often the buffer is fed to the store.
    pub batch_ms: u64,
    /// Most samples per store write.
    pub max_batch: usize,
    /// Samples kept in memory while the disk buffer fails.
    pub max_memory_samples: usize,
    /// Stop (with [`IngestReport::store_failure`] set) once the store has
    /// failed for this long.
    pub fail_exit: Option<Duration>,
    /// Health output (JSON), rewritten on every change and every 5 s.
    pub health_file: Option<PathBuf>,
    /// Longest wait between two tries of a failing store.
    pub max_retry: Duration,
    /// The clock samples are stamped with (`[clock]`; real time by default).
    pub clock: crate::time::DataClock,
    /// Samples stored so far, shared with the caller (a service's status).
    pub stored: Option<Arc<std::sync::atomic::AtomicU64>>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            batch_ms: 1000,
            max_batch: 100_000,
            max_memory_samples: 1_000_000,
            fail_exit: None,
            health_file: None,
            max_retry: Duration::from_secs(5),
            clock: crate::time::DataClock::REAL_TIME,
            stored: None,
        }
    }
}

impl IngestOptions {
    pub fn from_config(c: &crate::config::IngestConfig) -> IngestOptions {
        IngestOptions {
            batch_ms: c.batch_ms,
            max_batch: c.max_batch,
            max_memory_samples: c.max_memory_samples,
            fail_exit: c.fail_exit_s.map(Duration::from_secs_f64),
            health_file: c.health_file.clone(),
            ..IngestOptions::default()
        }
    }
}

/// What the store side is doing, shared by the threads and written to the
/// health file.
#[derive(Debug, Default)]
struct Health {
    store: String,
    failing_since_ms: Option<i64>,
    last_error: Option<String>,
    buffered: u64,
    max_buffered: u64,
    delivered: u64,
    /// Refused by the store as malformed; kept in `rejected.jsonl`.
    rejected: u64,
    journaled: u64,
    memory: u64,
    dropped: u64,
    journal_error: Option<String>,
    stopped: bool,
}

impl Health {
    fn to_json(&self) -> String {
        let status = if self.stopped {
            "stopped"
        } else if self.journal_error.is_some() {
            "buffer_failing"
        } else if self.failing_since_ms.is_some() {
            "store_failing"
        } else {
            "ok"
        };
        serde_json::json!({
            "status": status,
            "store": self.store,
            "failing_since": self.failing_since_ms.map(crate::time::format_timestamp),
            "last_error": self.last_error,
            "buffer_error": self.journal_error,
            "buffered_samples": self.buffered,
            "samples_in_memory": self.memory,
            "stored_samples": self.delivered,
            "rejected_samples": self.rejected,
            "dropped_samples": self.dropped,
            "updated": crate::time::format_timestamp(crate::time::now_ms()),
        })
        .to_string()
    }
}

fn write_health(path: &Option<PathBuf>, h: &Mutex<Health>) {
    let Some(p) = path else { return };
    let text = h.lock().unwrap().to_json();
    let tmp = p.with_extension("tmp");
    let res = std::fs::write(&tmp, text + "\n").and_then(|_| std::fs::rename(&tmp, p));
    if let Err(e) = res {
        tracing::warn!("cannot write the health file {}: {e}", p.display());
    }
}

/// The journal: every tick's samples go to the on-disk buffer as soon as
/// they arrive (grouped: one fdatasync per group), so a crash loses at most
/// the samples of the last few milliseconds. When the disk fails, samples
/// wait in memory up to `max_memory`; beyond it the oldest are dropped and
/// every drop is logged.
fn journal_loop(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<Sample>>,
    journal: Arc<Mutex<DiskBuffer>>,
    health: Arc<Mutex<Health>>,
    first_seen: Arc<Mutex<HashMap<String, i64>>>,
    max_group: usize,
    max_memory: usize,
) {
    let mut waiting: std::collections::VecDeque<Vec<Sample>> = Default::default();
    let mut failing = false;
    let mut closed = false;
    while !closed {
        match rx.blocking_recv() {
            Some(b) => waiting.push_back(b),
            None => closed = true,
        }
        while let Ok(b) = rx.try_recv() {
            waiting.push_back(b);
        }
        let mut in_memory: usize = waiting.iter().map(Vec::len).sum();
        {
            let mut fs = first_seen.lock().unwrap();
            for b in &waiting {
                for s in b {
                    fs.entry(s.sensor.clone()).or_insert(s.ts_ms);
                }
            }
        }
        // Append in groups of at most `max_group` samples, one sync each.
        while !waiting.is_empty() {
            let mut group: Vec<Sample> = Vec::new();
            let mut taken = 0;
            for b in waiting.iter() {
                if !group.is_empty() && group.len() + b.len() > max_group {
                    break;
                }
                group.extend_from_slice(b);
                taken += 1;
            }
            let res = {
                let mut j = journal.lock().unwrap();
                j.append(&group).map(|_| j.pending())
            };
            match res {
                Ok(pending) => {
                    waiting.drain(..taken);
                    in_memory -= group.len();
                    let mut h = health.lock().unwrap();
                    h.journaled += group.len() as u64;
                    h.buffered = pending;
                    h.max_buffered = h.max_buffered.max(pending);
                    h.memory = in_memory as u64;
                    if failing {
                        failing = false;
                        h.journal_error = None;
                        tracing::warn!(
                            "on-disk buffer writable again; {pending} samples buffered, none in memory"
                        );
                    }
                }
                Err(e) => {
                    if !failing {
                        failing = true;
                        tracing::error!(
                            "cannot write the on-disk buffer ({e}); {in_memory} samples held in memory (at most {max_memory})"
                        );
                    }
                    while in_memory > max_memory {
                        let Some(b) = waiting.pop_front() else { break };
                        in_memory -= b.len();
                        let from = b.iter().map(|s| s.ts_ms).min().unwrap_or(0);
                        let to = b.iter().map(|s| s.ts_ms).max().unwrap_or(0);
                        tracing::error!(
                            "DROPPED {} samples ({} to {}): neither the on-disk buffer ({e}) nor memory (bound {max_memory}) can keep them",
                            b.len(),
                            crate::time::format_timestamp(from),
                            crate::time::format_timestamp(to)
                        );
                        health.lock().unwrap().dropped += b.len() as u64;
                    }
                    let mut h = health.lock().unwrap();
                    h.journal_error = Some(e.to_string());
                    h.memory = in_memory as u64;
                    if closed {
                        tracing::error!(
                            "DROPPED {in_memory} samples at stop: the on-disk buffer cannot keep them ({e})"
                        );
                        h.dropped += in_memory as u64;
                    }
                    break;
                }
            }
        }
    }
}

/// Records, for sensors whose last stored time was unknown at start (the
/// store was down), the ticks between it and this run's first tick as
/// comms lost (aquatwin not running). Returns the sensors still unknown.
fn fill_unknown_gaps<S: Store>(
    map: &SensorMap,
    store: &mut S,
    unknown: Vec<usize>,
    first_seen: &Mutex<HashMap<String, i64>>,
    max_fill: u64,
) -> Result<Vec<usize>, StoreError> {
    let mut still = Vec::new();
    let mut fill = Vec::new();
    for i in unknown {
        let s = &map.sensors[i];
        let Some(first) = first_seen.lock().unwrap().get(&s.tag).copied() else {
            still.push(i);
            continue;
        };
        let Some(p) = &s.modbus else { continue };
        let interval = map.devices[p.device].poll_interval_ms as i64;
        if let Some(last) = store.last_timestamp(&s.tag)? {
            if last.rem_euclid(interval) == 0 && last < first - interval {
                let from = (last + interval).max(first - interval * max_fill as i64);
                let mut t = from;
                while t < first {
                    fill.push(Sample::missing(
                        &s.tag,
                        t,
                        Quality::CommsLost,
                        DETAIL_NOT_RUNNING,
                    ));
                    t += interval;
                }
                tracing::warn!(
                    "{}: recorded {} ticks from {} as comms lost (aquatwin was not running)",
                    s.tag,
                    (first - from) / interval,
                    crate::time::format_timestamp(from)
                );
            }
        }
    }
    store.write(&fill)?;
    Ok(still)
}

/// The feeder: moves the buffer's batches into the store, oldest first;
/// a batch leaves the buffer only once the store took it. A failing store
/// (whatever the error) is retried with back-off; each change of state is
/// logged at warn level with the number of samples buffered.
#[allow(clippy::too_many_arguments)]
fn feeder_loop<S: Store>(
    map: Arc<SensorMap>,
    mut store: S,
    journal: Arc<Mutex<DiskBuffer>>,
    mut state: StateFile,
    mut unknown: Vec<usize>,
    first_seen: Arc<Mutex<HashMap<String, i64>>>,
    health: Arc<Mutex<Health>>,
    opts: IngestOptions,
    dead_letter: PathBuf,
    wake: std::sync::mpsc::Receiver<()>,
    fail_stop: impl Fn(String),
) {
    let describe = store.describe();
    let tick = Duration::from_millis(opts.batch_ms.max(1));
    let mut retry = tick;
    let mut failing_since: Option<Instant> = None;
    let mut last_err = String::new();
    let mut last_health: Option<Instant> = None;
    let mut last_log = Instant::now();
    let mut stopping = false;
    let mut gave_up = false;
    // Buffered samples left after the store came back, until delivered.
    let mut catching_up = false;
    loop {
        let wait = if failing_since.is_some() { retry } else { tick };
        match wake.recv_timeout(wait) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => stopping = true,
        }
        let mut err: Option<StoreError> = None;
        // First contact with a store that was down at start: record the
        // gap before this run, before this run's samples reach the store.
        if !unknown.is_empty() {
            match fill_unknown_gaps(
                &map,
                &mut store,
                unknown.clone(),
                &first_seen,
                crate::modbus::poller::PollOptions::default().max_fill,
            ) {
                Ok(still) => unknown = still,
                Err(e) if e.is_transient() => err = Some(e),
                Err(e) => {
                    tracing::warn!(
                        "{describe}: cannot read the last samples ({e}); the gap before this run is not recorded"
                    );
                    unknown.clear();
                }
            }
        }
        // Deliver what the buffer holds.
        while err.is_none() {
            let peeked = journal.lock().unwrap().peek_many(opts.max_batch.max(1));
            let p = match peeked {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            };
            let mut rejected = false;
            let res = match store.write(&p.samples) {
                Ok(()) => {
                    state.note(&p.samples);
                    state.save()
                }
                Err(e) if e.is_transient() => Err(e),
                Err(e) => {
                    tracing::error!(
                        "{describe} refused {} samples ({e}); kept in {}",
                        p.samples.len(),
                        dead_letter.display()
                    );
                    rejected = true;
                    write_dead_letter(&dead_letter, &p.samples)
                }
            };
            if let Err(e) = res {
                err = Some(e);
                break;
            }
            let mut j = journal.lock().unwrap();
            let mut popped = Ok(());
            for &(bytes, n) in &p.records {
                popped = popped.and_then(|_| j.pop(bytes, n));
            }
            let pending = j.pending();
            drop(j);
            let mut h = health.lock().unwrap();
            if rejected {
                h.rejected += p.samples.len() as u64;
            } else {
                h.delivered += p.samples.len() as u64;
                if let Some(c) = &opts.stored {
                    c.fetch_add(p.samples.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            }
            h.buffered = pending;
            if let Err(e) = popped {
                err = Some(e);
                break;
            }
        }
        let pending = journal.lock().unwrap().pending();
        let mut changed = false;
        match err {
            Some(e) => {
                let msg = e.to_string();
                match failing_since {
                    None => {
                        failing_since = Some(Instant::now());
                        retry = tick;
                        tracing::warn!(
                            "{describe} failed: {msg}; {pending} samples kept in the on-disk buffer, retrying"
                        );
                        changed = true;
                    }
                    Some(_) if msg != last_err => {
                        tracing::warn!(
                            "{describe} still failing, now: {msg}; {pending} samples in the on-disk buffer"
                        );
                        changed = true;
                    }
                    Some(_) => {}
                }
                last_err = msg;
                retry = (retry * 2).min(opts.max_retry.max(tick));
                let mut h = health.lock().unwrap();
                if h.failing_since_ms.is_none() {
                    h.failing_since_ms = Some(crate::time::now_ms());
                }
                h.last_error = Some(last_err.clone());
            }
            None => {
                if let Some(t0) = failing_since.take() {
                    tracing::warn!(
                        "{describe} is back after {:.1} s; {pending} samples left in the on-disk buffer",
                        t0.elapsed().as_secs_f64()
                    );
                    last_err.clear();
                    catching_up = pending > 0;
                    let mut h = health.lock().unwrap();
                    h.failing_since_ms = None;
                    h.last_error = None;
                    changed = true;
                }
            }
        }
        if catching_up && failing_since.is_none() && pending == 0 {
            catching_up = false;
            tracing::warn!("{describe}: the on-disk buffer is delivered; 0 samples waiting");
            changed = true;
        }
        {
            let mut h = health.lock().unwrap();
            h.buffered = pending;
            h.max_buffered = h.max_buffered.max(pending);
        }
        if let (Some(limit), Some(t0)) = (opts.fail_exit, failing_since) {
            if t0.elapsed() >= limit && !gave_up {
                gave_up = true;
                let msg = format!(
                    "{describe} failed for {:.0} s ({last_err}); {pending} samples kept in the on-disk buffer",
                    t0.elapsed().as_secs_f64()
                );
                tracing::error!("{msg}; stopping (fail_exit_s)");
                fail_stop(msg);
            }
        }
        if last_log.elapsed() >= Duration::from_secs(10) {
            last_log = Instant::now();
            let h = health.lock().unwrap();
            tracing::info!(
                "{} samples stored, {} waiting in the on-disk buffer",
                h.delivered,
                h.buffered
            );
        }
        if changed || stopping || last_health.is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
        {
            last_health = Some(Instant::now());
            health.lock().unwrap().stopped = stopping;
            write_health(&opts.health_file, &health);
        }
        if stopping {
            if pending > 0 {
                tracing::warn!(
                    "stopping with {pending} samples in the on-disk buffer; they go to {describe} at the next start"
                );
            }
            if !unknown.is_empty() {
                tracing::warn!(
                    "{} sensors: the gap before this run is not recorded (the store never answered)",
                    unknown.len()
                );
            }
            return;
        }
    }
}

/// Polls every device of `map` and keeps the samples until `stop` resolves:
/// pollers → journal thread (on-disk buffer, fdatasync per group) → feeder
/// thread (store, retried with back-off while it fails). Runs the pollers
/// on the current tokio runtime.
pub async fn run_ingest<S: Store + 'static>(
    map: Arc<SensorMap>,
    mut store: S,
    buffer_dir: &Path,
    opts: IngestOptions,
    stop: impl std::future::Future<Output = ()>,
) -> Result<IngestReport, String> {
    let options_clock = opts.clock;
    let journal = DiskBuffer::open(buffer_dir).map_err(|e| e.to_string())?;
    if !journal.is_empty() {
        tracing::info!(
            "buffer {} holds {} samples from before; they go to {} first",
            buffer_dir.display(),
            journal.pending(),
            store.describe()
        );
    }
    let state = StateFile::open(buffer_dir);
    let (last, unknown) = last_recorded(&map, &mut store, &journal, &state, buffer_dir);
    let health = Arc::new(Mutex::new(Health {
        store: store.describe(),
        buffered: journal.pending(),
        ..Health::default()
    }));
    let journal = Arc::new(Mutex::new(journal));
    let first_seen: Arc<Mutex<HashMap<String, i64>>> = Default::default();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Vec<Sample>>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let stats = Arc::new(PollStats::default());
    tracing::info!(
        "ingesting {} sensors from {} devices into {}",
        map.sensors.iter().filter(|s| s.modbus.is_some()).count(),
        map.devices.len(),
        store.describe()
    );

    let journal_thread = {
        let (j, h, f) = (journal.clone(), health.clone(), first_seen.clone());
        let (g, m) = (opts.max_batch.max(1), opts.max_memory_samples.max(1));
        std::thread::Builder::new()
            .name("ingest-journal".into())
            .spawn(move || journal_loop(rx, j, h, f, g, m))
            .map_err(|e| format!("cannot start the journal thread: {e}"))?
    };
    let failure: Arc<Mutex<Option<String>>> = Default::default();
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<()>();
    let feeder_thread = {
        let (m, j, f, h) = (
            map.clone(),
            journal.clone(),
            first_seen.clone(),
            health.clone(),
        );
        let (o, dl) = (opts.clone(), buffer_dir.join("rejected.jsonl"));
        let (fail, st) = (failure.clone(), stop_tx.clone());
        std::thread::Builder::new()
            .name("ingest-feeder".into())
            .spawn(move || {
                feeder_loop(m, store, j, state, unknown, f, h, o, dl, wake_rx, |msg| {
                    *fail.lock().unwrap() = Some(msg);
                    let _ = st.send(true);
                })
            })
            .map_err(|e| format!("cannot start the feeder thread: {e}"))?
    };

    let mut tasks = Vec::new();
    for d in 0..map.devices.len() {
        let resume = map
            .sensors
            .iter()
            .filter(|s| s.modbus.as_ref().is_some_and(|p| p.device == d))
            .filter_map(|s| last.get(&s.tag).copied())
            .max();
        let opts = PollOptions {
            resume_after_ms: resume,
            clock: options_clock,
            ..PollOptions::default()
        };
        tasks.push(tokio::spawn(poll_device(
            map.clone(),
            d,
            tx.clone(),
            stop_rx.clone(),
            stats.clone(),
            opts,
        )));
    }
    drop(tx);

    // Stop signal (or the feeder giving up) → pollers end → channel closes
    // → the journal thread appends the rest → the feeder's last delivery.
    let mut stopped = stop_rx.clone();
    tokio::select! {
        _ = stop => {}
        _ = stopped.wait_for(|s| *s) => {}
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let joined = tokio::task::spawn_blocking(move || {
        let j = journal_thread.join().is_ok();
        let _ = wake_tx.send(());
        let f = feeder_thread.join().is_ok();
        j && f
    })
    .await
    .unwrap_or(false);
    if !joined {
        return Err("an ingest thread panicked".to_string());
    }
    let left = journal.lock().unwrap().pending();
    let h = health.lock().unwrap();
    let store_failure = failure.lock().unwrap().take();
    Ok(IngestReport {
        samples: h.delivered,
        good: stats.good.load(Relaxed),
        ticks: stats.ticks.load(Relaxed),
        left_in_buffer: left,
        max_buffered: h.max_buffered,
        dropped: h.dropped,
        store_failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// The listing errors name the path and keep the I/O error as their
    /// source (which the CLI prints after the message, as before).
    #[test]
    fn scada_files_errors_keep_their_cause() {
        let d = std::env::temp_dir().join(format!("aquatwin-scada-files-{}", std::process::id()));
        let missing = d.join("missing");
        let e = scada_files(&missing).unwrap_err();
        assert!(matches!(e, ImportError::ReadDir { .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("cannot read {}", missing.display()));
        let io = e
            .source()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .unwrap();
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("notes.txt"), "x").unwrap();
        let e = scada_files(&d).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: no .csv files", d.display()));
        assert!(e.source().is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn tick(k: i64) -> Vec<Sample> {
        (0..10)
            .map(|i| Sample::good(&format!("s{i}"), k * 1000, k as f64))
            .collect()
    }

    /// The disk buffer fails (its directory vanished): samples wait in
    /// memory up to the bound, the oldest beyond it are dropped and counted;
    /// once the disk works again the rest is written, in order.
    #[test]
    fn journal_memory_is_bounded_and_drops_are_counted() {
        let d = std::env::temp_dir().join(format!("aquatwin-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let journal = Arc::new(Mutex::new(DiskBuffer::open(&d).unwrap()));
        std::fs::remove_dir_all(&d).unwrap();
        let health: Arc<Mutex<Health>> = Default::default();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (j, h) = (journal.clone(), health.clone());
        let t = std::thread::spawn(move || journal_loop(rx, j, h, Default::default(), 1000, 35));
        let wait_for = |cond: &dyn Fn(&Health) -> bool| {
            let t0 = Instant::now();
            while !cond(&health.lock().unwrap()) {
                assert!(t0.elapsed() < Duration::from_secs(30));
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        for k in 0..3 {
            tx.send(tick(k)).unwrap();
            wait_for(&|h| h.memory == 10 * (k as u64 + 1));
        }
        // Bound 35: the fourth tick pushes the oldest out.
        tx.send(tick(3)).unwrap();
        wait_for(&|h| h.dropped == 10);
        assert_eq!(health.lock().unwrap().memory, 30);
        assert!(health.lock().unwrap().journal_error.is_some());
        std::fs::create_dir_all(&d).unwrap();
        tx.send(tick(4)).unwrap();
        wait_for(&|h| h.journaled == 40);
        drop(tx);
        t.join().unwrap();
        let h = health.lock().unwrap();
        assert_eq!((h.memory, h.dropped, h.buffered), (0, 10, 40));
        assert!(h.journal_error.is_none());
        let all = DiskBuffer::read_all(&d).unwrap();
        let ticks: Vec<i64> = all.iter().step_by(10).map(|s| s.ts_ms / 1000).collect();
        assert_eq!(ticks, [1, 2, 3, 4]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
