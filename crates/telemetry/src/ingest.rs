//! The pipelines that fill the store: SCADA file import and live Modbus
//! ingestion. Both write through a [`BufferedStore`], so an unreachable
//! store delays samples but never drops them.

use crate::modbus::poller::{poll_device, PollOptions, PollStats};
use crate::quality::{Grader, Quality, Sample};
use crate::scada::{Row, ScadaError, ScadaReader};
use crate::sensor_map::SensorMap;
use crate::store::buffer::{BufferedStore, DiskBuffer};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The SCADA files under `path`: the file itself, or every `*.csv` in the
/// directory, sorted by name.
pub fn scada_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(format!("{}: no .csv files", path.display()));
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
) -> Result<ImportReport, String> {
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
    let flush = |pending: &mut Vec<Sample>, store: &mut BufferedStore<S>| -> Result<(), String> {
        if !pending.is_empty() {
            store.write(pending).map_err(|e| e.to_string())?;
            pending.clear();
        }
        Ok(())
    };
    for f in files {
        let name = f.display().to_string();
        let file = std::fs::File::open(f).map_err(|e| format!("cannot open {name}: {e}"))?;
        let mut rd = ScadaReader::new(BufReader::with_capacity(1 << 16, file), &name)
            .map_err(|e| e.to_string())?
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
                    return Err(e.to_string());
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

/// Latest timestamp per sensor already recorded (buffer, else store), to
/// resume the tick grid after a restart.
fn last_recorded<S: Store>(
    map: &SensorMap,
    bs: &mut BufferedStore<S>,
    buffer_dir: &Path,
) -> HashMap<String, i64> {
    let mut last: HashMap<String, i64> = HashMap::new();
    if bs.pending() > 0 {
        if let Ok(all) = DiskBuffer::read_all(buffer_dir) {
            for s in all {
                let e = last.entry(s.sensor).or_insert(i64::MIN);
                *e = (*e).max(s.ts_ms);
            }
        }
        return last;
    }
    for s in &map.sensors {
        if s.modbus.is_none() {
            continue;
        }
        match bs.store.last_timestamp(&s.tag) {
            Ok(Some(t)) => {
                last.insert(s.tag.clone(), t);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(
                    "cannot read the last samples from {} ({e}); no restart gap recorded",
                    bs.store.describe()
                );
                break;
            }
        }
    }
    last
}

/// Totals of an ingestion run.
#[derive(Debug, Default, Clone)]
pub struct IngestReport {
    pub samples: u64,
    pub good: u64,
    pub ticks: u64,
    pub left_in_buffer: u64,
}

/// Polls every device of `map` and writes the samples through a buffered
/// store until `stop` resolves. Runs on the current tokio runtime; store
/// writes go to a blocking thread, in order.
pub async fn run_ingest<S: Store + 'static>(
    map: Arc<SensorMap>,
    store: S,
    buffer_dir: &Path,
    batch_ms: u64,
    max_batch: usize,
    stop: impl std::future::Future<Output = ()>,
) -> Result<IngestReport, String> {
    let mut bs = BufferedStore::open(store, buffer_dir).map_err(|e| e.to_string())?;
    let last = last_recorded(&map, &mut bs, buffer_dir);
    let bs = Arc::new(Mutex::new(bs));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<Sample>>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stats = Arc::new(PollStats::default());
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
    tracing::info!(
        "ingesting {} sensors from {} devices into {}",
        map.sensors.iter().filter(|s| s.modbus.is_some()).count(),
        map.devices.len(),
        bs.lock().unwrap().store.describe()
    );

    // Stop signal → poller tasks end → channel closes → writer drains.
    let stopper = async {
        stop.await;
        let _ = stop_tx.send(true);
    };
    let writer = async {
        let mut batch: Vec<Sample> = Vec::new();
        let mut last_flush = Instant::now();
        let mut last_log = Instant::now();
        let mut written = 0u64;
        let mut closed = false;
        while !closed {
            let wait = Duration::from_millis(batch_ms).saturating_sub(last_flush.elapsed());
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(v)) => batch.extend(v),
                Ok(None) => closed = true,
                Err(_) => {}
            }
            if closed
                || batch.len() >= max_batch
                || last_flush.elapsed() >= Duration::from_millis(batch_ms)
            {
                last_flush = Instant::now();
                let b = std::mem::take(&mut batch);
                let n = b.len() as u64;
                let bs2 = bs.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let mut g = bs2.lock().unwrap();
                    if b.is_empty() {
                        g.drain().map(|_| ())
                    } else {
                        g.write(&b).map(|_| ())
                    }
                })
                .await
                .map_err(|e| e.to_string())?;
                match res {
                    Ok(()) => written += n,
                    Err(StoreError::Rejected(e)) => {
                        tracing::error!("store refused {n} samples: {e}")
                    }
                    Err(e) => return Err(format!("cannot keep samples: {e}")),
                }
            }
            if last_log.elapsed() >= Duration::from_secs(10) {
                last_log = Instant::now();
                tracing::info!(
                    "{} samples handed to the store, {} good; {} waiting in the on-disk buffer",
                    written,
                    stats.good.load(Relaxed),
                    bs.lock().unwrap().pending()
                );
            }
        }
        Ok::<u64, String>(written)
    };
    let (_, written) = tokio::join!(stopper, writer);
    let written = written?;
    for t in tasks {
        let _ = t.await;
    }
    let left = bs.lock().unwrap().pending();
    Ok(IngestReport {
        samples: written,
        good: stats.good.load(Relaxed),
        ticks: stats.ticks.load(Relaxed),
        left_in_buffer: left,
    })
}
