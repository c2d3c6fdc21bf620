//! The on-disk buffer that keeps samples while a store is unreachable, and
//! [`BufferedStore`], which puts it in front of any [`Store`].
//!
//! The buffer is a directory of append-only segment files
//! (`seg-0000000000000001.log`, …). Each record is one batch:
//! `[payload length u32 LE][CRC-32 of payload u32 LE][payload]`, flushed to
//! disk (`fdatasync`) before `append` returns. On open, every segment is
//! scanned and a torn tail (a record cut by a crash, or failing its CRC) is
//! cut off, so a SIGKILL mid-write loses nothing that was acknowledged.
//!
//! Replay goes oldest record first; a segment is deleted once every record
//! in it reached the store. A crash between "the store took the record" and
//! "the segment is deleted" replays that record again, which the stores
//! absorb because their writes are idempotent per (sensor, ts): at-least-once
//! delivery + idempotent store = every sample exactly once, in order.
//! While the buffer holds anything, new batches queue behind it, so order is
//! kept across an outage.

use super::{Store, StoreError};
use crate::quality::{Quality, Sample};
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const SEGMENT_BYTES: u64 = 8 << 20;

fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in data {
        c = t[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

fn encode(samples: &[Sample], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    for s in samples {
        let tag = s.sensor.as_bytes();
        out.extend_from_slice(&(tag.len() as u16).to_le_bytes());
        out.extend_from_slice(tag);
        out.extend_from_slice(&s.ts_ms.to_le_bytes());
        out.push(s.value.is_some() as u8);
        out.extend_from_slice(&s.value.unwrap_or(0.0).to_le_bytes());
        out.push(s.quality.code());
        out.push(s.detail);
    }
    let len = (out.len() - 8) as u32;
    let crc = crc32(&out[8..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
}

fn decode(p: &[u8]) -> Option<Vec<Sample>> {
    let mut i = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = p.get(i..i + n)?;
        i += n;
        Some(s)
    };
    let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    let mut out = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let tl = u16::from_le_bytes(take(2)?.try_into().ok()?) as usize;
        let sensor = String::from_utf8(take(tl)?.to_vec()).ok()?;
        let ts_ms = i64::from_le_bytes(take(8)?.try_into().ok()?);
        let has = take(1)?[0] != 0;
        let v = f64::from_le_bytes(take(8)?.try_into().ok()?);
        let quality = Quality::from_code(take(1)?[0])?;
        let detail = take(1)?[0];
        out.push(Sample {
            sensor,
            ts_ms,
            value: has.then_some(v),
            quality,
            detail,
        });
    }
    Some(out)
}

/// Batches read by [`DiskBuffer::peek_many`].
pub struct Peeked {
    pub samples: Vec<Sample>,
    /// (size on disk, samples) of each batch, oldest first.
    pub records: Vec<(u64, usize)>,
}

struct Segment {
    seq: u64,
    path: PathBuf,
    /// Bytes of valid records.
    len: u64,
}

/// Append-only, crash-safe queue of sample batches on disk.
pub struct DiskBuffer {
    dir: PathBuf,
    segments: VecDeque<Segment>,
    writer: Option<File>,
    /// Read position in the oldest segment.
    read_off: u64,
    pending_samples: u64,
    scratch: Vec<u8>,
    sync: bool,
}

fn io(what: &str, p: &Path, e: std::io::Error) -> StoreError {
    StoreError::Local(format!("buffer: cannot {what} {}: {e}", p.display()))
}

impl DiskBuffer {
    /// Opens (creating) the buffer directory and recovers what it holds.
    pub fn open(dir: &Path) -> Result<DiskBuffer, StoreError> {
        fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        let mut segs: Vec<(u64, PathBuf)> = fs::read_dir(dir)
            .map_err(|e| io("list", dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let seq = name
                    .strip_prefix("seg-")?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()?;
                Some((seq, e.path()))
            })
            .collect();
        segs.sort();
        let mut b = DiskBuffer {
            dir: dir.to_path_buf(),
            segments: VecDeque::new(),
            writer: None,
            read_off: 0,
            pending_samples: 0,
            scratch: Vec::new(),
            sync: true,
        };
        for (seq, path) in segs {
            let (len, n) = b.scan(&path)?;
            if len == 0 {
                fs::remove_file(&path).map_err(|e| io("remove", &path, e))?;
                continue;
            }
            b.pending_samples += n;
            b.segments.push_back(Segment { seq, path, len });
        }
        Ok(b)
    }

    /// Turns `fdatasync` per append off (benchmarks of the store alone).
    pub fn set_sync(&mut self, sync: bool) {
        self.sync = sync;
    }

    /// Validates a segment; truncates a torn or corrupt tail. Returns the
    /// valid length and the number of samples.
    fn scan(&self, path: &Path) -> Result<(u64, u64), StoreError> {
        let data = fs::read(path).map_err(|e| io("read", path, e))?;
        let mut off = 0usize;
        let mut n = 0u64;
        while off + 8 <= data.len() {
            let len = u32::from_le_bytes(data[off..off + 4].try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(data[off + 4..off + 8].try_into().unwrap());
            let Some(payload) = data.get(off + 8..off + 8 + len) else {
                break;
            };
            if crc32(payload) != crc {
                break;
            }
            let Some(s) = decode(payload) else { break };
            n += s.len() as u64;
            off += 8 + len;
        }
        if off < data.len() {
            tracing::warn!(
                "buffer: cut a torn tail of {} bytes from {}",
                data.len() - off,
                path.display()
            );
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| io("open", path, e))?;
            f.set_len(off as u64).map_err(|e| io("truncate", path, e))?;
            f.sync_all().map_err(|e| io("sync", path, e))?;
        }
        Ok((off as u64, n))
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
    /// Samples waiting for the store.
    pub fn pending(&self) -> u64 {
        self.pending_samples
    }

    /// Appends one batch durably.
    pub fn append(&mut self, samples: &[Sample]) -> Result<(), StoreError> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        encode(samples, &mut scratch);
        let need_new = match self.segments.back() {
            None => true,
            Some(s) => self.writer.is_none() || s.len >= SEGMENT_BYTES,
        };
        if need_new {
            let seq = self.segments.back().map(|s| s.seq + 1).unwrap_or(1);
            let path = self.dir.join(format!("seg-{seq:016}.log"));
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io("create", &path, e))?;
            if let Ok(d) = File::open(&self.dir) {
                let _ = d.sync_all();
            }
            self.writer = Some(f);
            self.segments.push_back(Segment { seq, path, len: 0 });
        }
        let seg = self.segments.back_mut().unwrap();
        let w = self.writer.as_mut().unwrap();
        w.write_all(&scratch)
            .map_err(|e| io("write", &seg.path, e))?;
        if self.sync {
            w.sync_data().map_err(|e| io("sync", &seg.path, e))?;
        }
        seg.len += scratch.len() as u64;
        self.pending_samples += samples.len() as u64;
        self.scratch = scratch;
        Ok(())
    }

    /// The oldest batch not yet delivered, with its size on disk.
    pub fn peek(&mut self) -> Result<Option<(Vec<Sample>, u64)>, StoreError> {
        loop {
            let Some(seg) = self.segments.front() else {
                return Ok(None);
            };
            if self.read_off >= seg.len {
                // Fully delivered: remove it (and stop appending to it).
                let path = seg.path.clone();
                if self.segments.len() == 1 {
                    self.writer = None;
                }
                fs::remove_file(&path).map_err(|e| io("remove", &path, e))?;
                self.segments.pop_front();
                self.read_off = 0;
                continue;
            }
            let mut f = File::open(&seg.path).map_err(|e| io("open", &seg.path, e))?;
            f.seek(SeekFrom::Start(self.read_off))
                .map_err(|e| io("seek", &seg.path, e))?;
            return read_record(&mut f, &seg.path).map(Some);
        }
    }

    /// The oldest batches not yet delivered, joined up to about
    /// `max_samples` (at least one batch; from the oldest segment only),
    /// with each batch's (size on disk, samples) for [`pop`](Self::pop).
    pub fn peek_many(&mut self, max_samples: usize) -> Result<Option<Peeked>, StoreError> {
        let Some((mut samples, bytes)) = self.peek()? else {
            return Ok(None);
        };
        let mut records = vec![(bytes, samples.len())];
        let seg = self.segments.front().expect("peek found a segment");
        let mut off = self.read_off + bytes;
        if off < seg.len && samples.len() < max_samples {
            let mut f = File::open(&seg.path).map_err(|e| io("open", &seg.path, e))?;
            f.seek(SeekFrom::Start(off))
                .map_err(|e| io("seek", &seg.path, e))?;
            let mut rd = std::io::BufReader::new(f);
            while off < seg.len && samples.len() < max_samples {
                let (batch, bytes) = read_record(&mut rd, &seg.path)?;
                records.push((bytes, batch.len()));
                samples.extend(batch);
                off += bytes;
            }
        }
        Ok(Some(Peeked { samples, records }))
    }

    /// Marks the batch returned by [`peek`](Self::peek) as delivered.
    pub fn pop(&mut self, record_bytes: u64, samples: usize) -> Result<(), StoreError> {
        self.read_off += record_bytes;
        self.pending_samples = self.pending_samples.saturating_sub(samples as u64);
        // Delete the segment right away when done, so a restart won't replay it.
        if let Some(seg) = self.segments.front() {
            if self.read_off >= seg.len {
                let path = seg.path.clone();
                if self.segments.len() == 1 {
                    self.writer = None;
                }
                fs::remove_file(&path).map_err(|e| io("remove", &path, e))?;
                self.segments.pop_front();
                self.read_off = 0;
            }
        }
        Ok(())
    }

    /// The latest buffered timestamp per sensor, read record by record
    /// (memory stays small whatever the buffer holds).
    pub fn latest_per_sensor(
        dir: &Path,
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let b = DiskBuffer::open(dir)?;
        let mut last = std::collections::HashMap::new();
        for seg in &b.segments {
            let f = File::open(&seg.path).map_err(|e| io("open", &seg.path, e))?;
            let mut rd = std::io::BufReader::new(f);
            let mut off = 0u64;
            while off < seg.len {
                let mut head = [0u8; 8];
                rd.read_exact(&mut head)
                    .map_err(|e| io("read", &seg.path, e))?;
                let len = u32::from_le_bytes(head[..4].try_into().unwrap()) as usize;
                let mut payload = vec![0u8; len];
                rd.read_exact(&mut payload)
                    .map_err(|e| io("read", &seg.path, e))?;
                for s in decode(&payload).unwrap_or_default() {
                    let e = last.entry(s.sensor).or_insert(i64::MIN);
                    *e = (*e).max(s.ts_ms);
                }
                off += 8 + len as u64;
            }
        }
        Ok(last)
    }

    /// Every buffered sample, oldest first (for inspection and tests).
    /// Like [`open`](Self::open), it cuts a torn tail, so it must not be
    /// called while a running ingest has the directory open.
    pub fn read_all(dir: &Path) -> Result<Vec<Sample>, StoreError> {
        let mut b = DiskBuffer::open(dir)?;
        let mut out = Vec::new();
        let segs: Vec<PathBuf> = b.segments.iter().map(|s| s.path.clone()).collect();
        for p in segs {
            let data = fs::read(&p).map_err(|e| io("read", &p, e))?;
            let mut off = 0;
            while off + 8 <= data.len() {
                let len = u32::from_le_bytes(data[off..off + 4].try_into().unwrap()) as usize;
                out.extend(decode(&data[off + 8..off + 8 + len]).unwrap_or_default());
                off += 8 + len;
            }
        }
        b.writer = None;
        Ok(out)
    }
}

/// Appends a batch the store refused to `path` (one JSON sample a line), so
/// no sample disappears without a record.
pub fn write_dead_letter(path: &Path, batch: &[Sample]) -> Result<(), StoreError> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io("open", path, e))?;
    let mut text = String::new();
    for s in batch {
        text.push_str(&serde_json::to_string(s).unwrap_or_default());
        text.push('\n');
    }
    f.write_all(text.as_bytes())
        .map_err(|e| io("write", path, e))?;
    f.sync_data().map_err(|e| io("sync", path, e))
}

/// The buffer directory's own record of the latest timestamp per sensor
/// that reached the store (`state.json`), so the ticks aquatwin was not
/// running are recorded after a restart even when the store is down then.
/// It is saved (write, fsync, rename) after the store took a batch and
/// before the batch leaves the buffer, so it never lags the store for
/// samples that went through this buffer.
#[derive(Debug, Default)]
pub struct StateFile {
    path: PathBuf,
    pub last_ms: std::collections::HashMap<String, i64>,
    dirty: bool,
}

impl StateFile {
    /// Reads `dir/state.json`; a missing file is an empty state, an
    /// unreadable one is logged and ignored (the store is asked instead).
    pub fn open(dir: &Path) -> StateFile {
        let path = dir.join("state.json");
        let last_ms = match fs::read_to_string(&path) {
            Ok(t) => match serde_json::from_str::<serde_json::Value>(&t) {
                Ok(v) => v
                    .get("last_stored_ms")
                    .and_then(|m| m.as_object())
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                            .collect()
                    })
                    .unwrap_or_default(),
                Err(e) => {
                    tracing::warn!("ignoring {}: {e}", path.display());
                    Default::default()
                }
            },
            Err(_) => Default::default(),
        };
        StateFile {
            path,
            last_ms,
            dirty: false,
        }
    }

    /// Takes the latest timestamps of a batch the store took.
    pub fn note(&mut self, samples: &[Sample]) {
        let mut prev: Option<(&str, i64)> = None;
        for s in samples {
            if prev.is_some_and(|(t, ts)| t == s.sensor && ts >= s.ts_ms) {
                continue;
            }
            let e = self.last_ms.entry(s.sensor.clone()).or_insert(i64::MIN);
            if s.ts_ms > *e {
                *e = s.ts_ms;
                self.dirty = true;
            }
            prev = Some((&s.sensor, *e));
        }
    }

    /// Saves the state if it changed: temporary file, fsync, rename.
    pub fn save(&mut self) -> Result<(), StoreError> {
        if !self.dirty {
            return Ok(());
        }
        let mut m: Vec<(&String, &i64)> = self.last_ms.iter().collect();
        m.sort();
        let obj: serde_json::Map<String, serde_json::Value> = m
            .into_iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(*v)))
            .collect();
        let text = serde_json::json!({ "last_stored_ms": obj }).to_string();
        let tmp = self.path.with_extension("json.tmp");
        let mut f = File::create(&tmp).map_err(|e| io("create", &tmp, e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| io("write", &tmp, e))?;
        f.sync_data().map_err(|e| io("sync", &tmp, e))?;
        fs::rename(&tmp, &self.path).map_err(|e| io("rename", &tmp, e))?;
        self.dirty = false;
        Ok(())
    }
}

/// What happened to a batch handed to [`BufferedStore::write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// In the store (and so is everything buffered before it).
    Stored,
    /// On disk in the buffer, waiting for the store.
    Buffered,
}

/// A store with an on-disk buffer in front: nothing is lost while the store
/// is down, nothing duplicated when it comes back.
pub struct BufferedStore<S> {
    pub store: S,
    buffer: DiskBuffer,
    dead_letter: PathBuf,
    /// Samples delivered from the buffer since start.
    pub replayed: u64,
}

impl<S: Store> BufferedStore<S> {
    pub fn open(store: S, buffer_dir: &Path) -> Result<BufferedStore<S>, StoreError> {
        let buffer = DiskBuffer::open(buffer_dir)?;
        if !buffer.is_empty() {
            tracing::info!(
                "buffer {} holds {} samples from before; they go to {} first",
                buffer_dir.display(),
                buffer.pending(),
                store.describe()
            );
        }
        Ok(BufferedStore {
            store,
            buffer,
            dead_letter: buffer_dir.join("rejected.jsonl"),
            replayed: 0,
        })
    }

    pub fn buffer(&mut self) -> &mut DiskBuffer {
        &mut self.buffer
    }
    pub fn pending(&self) -> u64 {
        self.buffer.pending()
    }

    /// Stores a batch, or buffers it if the store is unreachable.
    pub fn write(&mut self, samples: &[Sample]) -> Result<Outcome, StoreError> {
        if self.buffer.is_empty() {
            match self.store.write(samples) {
                Ok(()) => return Ok(Outcome::Stored),
                Err(e) if e.is_transient() => {
                    self.buffer.append(samples)?;
                    tracing::warn!(
                        "{} failed ({e}); {} samples kept in the on-disk buffer",
                        self.store.describe(),
                        self.buffer.pending()
                    );
                    return Ok(Outcome::Buffered);
                }
                Err(e) => return Err(e),
            }
        }
        self.buffer.append(samples)?;
        Ok(if self.drain()? {
            Outcome::Stored
        } else {
            Outcome::Buffered
        })
    }

    /// Replays buffered batches in order; `Ok(true)` when the buffer is empty.
    pub fn drain(&mut self) -> Result<bool, StoreError> {
        while let Some((batch, bytes)) = self.buffer.peek()? {
            match self.store.write(&batch) {
                Ok(()) => {}
                Err(e) if e.is_transient() => return Ok(false),
                Err(e) => {
                    // Never block the queue on a batch the store refuses; keep it aside.
                    tracing::error!(
                        "{} refused {} buffered samples ({e}); kept in {}",
                        self.store.describe(),
                        batch.len(),
                        self.dead_letter.display()
                    );
                    write_dead_letter(&self.dead_letter, &batch)?;
                }
            }
            self.replayed += batch.len() as u64;
            self.buffer.pop(bytes, batch.len())?;
        }
        Ok(true)
    }
}

/// One record (8-byte header: length, CRC; then the payload) read from
/// `rd` at its position: its samples and its size on disk. The records read
/// here were checked when the segment was opened.
fn read_record(rd: &mut impl Read, path: &Path) -> Result<(Vec<Sample>, u64), StoreError> {
    let mut head = [0u8; 8];
    rd.read_exact(&mut head).map_err(|e| io("read", path, e))?;
    let len = u32::from_le_bytes(head[..4].try_into().unwrap()) as usize;
    let mut payload = vec![0u8; len];
    rd.read_exact(&mut payload)
        .map_err(|e| io("read", path, e))?;
    let samples = decode(&payload).ok_or_else(|| {
        StoreError::Local(format!("buffer: corrupt record in {}", path.display()))
    })?;
    Ok((samples, 8 + len as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("aquatwin-buf-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn batch(k: i64) -> Vec<Sample> {
        (0..10)
            .map(|i| Sample::good(&format!("s{i}"), k * 1000, (k * 10 + i) as f64))
            .collect()
    }

    #[test]
    fn survives_reopen_and_cuts_torn_tail() {
        let d = tmp("torn");
        let mut b = DiskBuffer::open(&d).unwrap();
        b.append(&batch(1)).unwrap();
        b.append(&batch(2)).unwrap();
        drop(b);
        // A crash in the middle of a third append.
        let seg = d.join("seg-0000000000000001.log");
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let mut b = DiskBuffer::open(&d).unwrap();
        assert_eq!(b.pending(), 20);
        b.append(&batch(3)).unwrap();
        let all = DiskBuffer::read_all(&d).unwrap();
        assert_eq!(all.len(), 30);
        assert_eq!(all[25].ts_ms, 3000);
        let _ = fs::remove_dir_all(&d);
    }

    /// A store that is down until told otherwise.
    struct Flaky {
        inner: SqliteStore,
        up: bool,
    }
    impl Store for Flaky {
        fn describe(&self) -> String {
            "flaky".into()
        }
        fn write(&mut self, s: &[Sample]) -> Result<(), StoreError> {
            if self.up {
                self.inner.write(s)
            } else {
                Err(StoreError::Unavailable("down".into()))
            }
        }
        fn query(&mut self, s: &str, a: i64, b: i64) -> Result<Vec<Sample>, StoreError> {
            self.inner.query(s, a, b)
        }
        fn last_timestamp(&mut self, s: &str) -> Result<Option<i64>, StoreError> {
            self.inner.last_timestamp(s)
        }
    }

    #[test]
    fn outage_then_replay_in_order_exactly_once() {
        let d = tmp("replay");
        let inner = SqliteStore::open(&d.join("db.sqlite")).unwrap();
        let mut bs = BufferedStore::open(Flaky { inner, up: true }, &d.join("buf")).unwrap();
        assert_eq!(bs.write(&batch(0)).unwrap(), Outcome::Stored);
        bs.store.up = false;
        for k in 1..50 {
            assert_eq!(bs.write(&batch(k)).unwrap(), Outcome::Buffered);
        }
        assert_eq!(bs.pending(), 490);
        // aquatwin restarts with the store still down: the buffer is kept.
        let BufferedStore { store, .. } = bs;
        let mut bs = BufferedStore::open(store, &d.join("buf")).unwrap();
        assert_eq!(bs.pending(), 490);
        bs.store.up = true;
        assert_eq!(bs.write(&batch(50)).unwrap(), Outcome::Stored);
        assert_eq!(bs.pending(), 0);
        assert_eq!(bs.store.inner.count().unwrap(), 510);
        let q = bs.store.query("s3", 0, i64::MAX).unwrap();
        assert_eq!(q.len(), 51);
        assert!(q.windows(2).all(|w| w[0].ts_ms + 1000 == w[1].ts_ms));
        assert!(DiskBuffer::read_all(&d.join("buf")).unwrap().is_empty());
        let _ = fs::remove_dir_all(&d);
    }
}
