//! The embedded default store: one SQLite file in WAL mode, nothing to start.
//!
//! Each batch is one transaction (`synchronous=FULL`: a committed batch
//! survives a crash of aquatwin and of the machine). Samples live in a
//! `WITHOUT ROWID` table keyed by (sensor id, ts), so a replayed sample
//! replaces itself instead of duplicating.

use super::{Store, StoreError};
use crate::quality::{Quality, Sample};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    ids: HashMap<String, i64>,
}

fn local(e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(e)
}

/// How long a write waits for another process's lock (a backup, a `sqlite3`
/// shell, a report) before it fails and the batch goes to the buffer.
pub const DEFAULT_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens the store; a write waits up to `busy_timeout` for a lock held
    /// by another process before failing (the failure is transient: the
    /// batch is buffered and retried).
    pub fn open_with(
        path: &Path,
        busy_timeout: std::time::Duration,
    ) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Local(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(local)?;
        conn.busy_timeout(busy_timeout).map_err(local)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS sensors(id INTEGER PRIMARY KEY, tag TEXT NOT NULL UNIQUE);
             CREATE TABLE IF NOT EXISTS samples(
                 sensor INTEGER NOT NULL REFERENCES sensors(id),
                 ts INTEGER NOT NULL,
                 value REAL,
                 quality INTEGER NOT NULL,
                 detail INTEGER NOT NULL DEFAULT 0,
                 PRIMARY KEY(sensor, ts)) WITHOUT ROWID;",
        )
        .map_err(local)?;
        let mut ids = HashMap::new();
        {
            let mut st = conn.prepare("SELECT id, tag FROM sensors").map_err(local)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .map_err(local)?;
            for r in rows {
                let (id, tag) = r.map_err(local)?;
                ids.insert(tag, id);
            }
        }
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            ids,
        })
    }

    fn sensor_id(&self, tag: &str) -> Option<i64> {
        self.ids.get(tag).copied()
    }

    /// Number of stored samples (all sensors).
    pub fn count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM samples", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(local)
    }
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn write(&mut self, samples: &[Sample]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(local)?;
        {
            let mut new_sensor = tx
                .prepare_cached("INSERT INTO sensors(tag) VALUES (?1)")
                .map_err(local)?;
            let mut ins = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO samples(sensor, ts, value, quality, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(local)?;
            let mut last: Option<(&str, i64)> = None;
            for s in samples {
                let id = match last {
                    Some((t, id)) if t == s.sensor => id,
                    _ => {
                        let id = match self.ids.get(&s.sensor) {
                            Some(&id) => id,
                            None => {
                                new_sensor.execute([&s.sensor]).map_err(local)?;
                                let id = tx.last_insert_rowid();
                                self.ids.insert(s.sensor.clone(), id);
                                id
                            }
                        };
                        last = Some((&s.sensor, id));
                        id
                    }
                };
                ins.execute(params![id, s.ts_ms, s.value, s.quality.code(), s.detail])
                    .map_err(local)?;
            }
        }
        match tx.commit() {
            Ok(()) => Ok(()),
            Err(e) => {
                // The ids cached during a failed transaction may not exist.
                self.ids.clear();
                let mut st = self
                    .conn
                    .prepare("SELECT id, tag FROM sensors")
                    .map_err(local)?;
                let rows: Vec<(i64, String)> = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(local)?
                    .filter_map(Result::ok)
                    .collect();
                drop(st);
                self.ids.extend(rows.into_iter().map(|(i, t)| (t, i)));
                Err(local(e))
            }
        }
    }

    fn query(&mut self, sensor: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Sample>, StoreError> {
        let Some(id) = self.sensor_id(sensor) else {
            return Ok(Vec::new());
        };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT ts, value, quality, detail FROM samples WHERE sensor=?1 AND ts>=?2 AND ts<?3 ORDER BY ts",
            )
            .map_err(local)?;
        let rows = st
            .query_map(params![id, from_ms, to_ms], |r| {
                Ok(Sample {
                    sensor: sensor.to_string(),
                    ts_ms: r.get(0)?,
                    value: r.get(1)?,
                    quality: Quality::from_code(r.get::<_, u8>(2)?).unwrap_or(Quality::BadValue),
                    detail: r.get(3)?,
                })
            })
            .map_err(local)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(local)
    }

    fn last_timestamp(&mut self, sensor: &str) -> Result<Option<i64>, StoreError> {
        let Some(id) = self.sensor_id(sensor) else {
            return Ok(None);
        };
        self.conn
            .query_row("SELECT max(ts) FROM samples WHERE sensor=?1", [id], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()
            .map(|o| o.flatten())
            .map_err(local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_query_idempotent() {
        let dir = std::env::temp_dir().join(format!("aquatwin-sqlite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut st = SqliteStore::open(&dir.join("t.sqlite")).unwrap();
        let batch = vec![
            Sample::good("a", 1000, 1.0),
            Sample::good("a", 2000, 2.0),
            Sample::missing("b", 1000, Quality::Timeout, 0),
        ];
        st.write(&batch).unwrap();
        st.write(&batch).unwrap();
        assert_eq!(st.count().unwrap(), 3);
        let q = st.query("a", 0, 3000).unwrap();
        assert_eq!(q, batch[..2].to_vec());
        assert_eq!(st.query("b", 0, 3000).unwrap()[0].quality, Quality::Timeout);
        assert_eq!(st.last_timestamp("a").unwrap(), Some(2000));
        assert_eq!(st.last_timestamp("zz").unwrap(), None);
        drop(st);
        let mut st = SqliteStore::open(&dir.join("t.sqlite")).unwrap();
        assert_eq!(st.query("a", 1500, 3000).unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
