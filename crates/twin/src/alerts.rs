//! Durable, deduplicated operator alerts in SQLite (`alerts.sqlite`, WAL).
//!
//! One alert per leak: the detector names each leak with a stable key
//! (`leak_key`); [`AlertStore::upsert`] opens an alert for a new key and
//! updates the same alert when the leak grows or is re-localized.
//! Lifecycle: `open` → `acknowledged` → `closed` (an open alert may also be
//! closed directly); a closed alert carries a [`Resolution`]. All times are
//! UTC milliseconds since the Unix epoch.
//!
//! Every change of an alert (opened, materially updated, acknowledged,
//! closed) also appends an [`AlertEvent`] to the `events` table **in the same
//! transaction**: the durable outbox the webhook deliverer reads in order
//! ([`AlertStore::events_after`]), with its position kept in the
//! `deliveries` table. Each event is also logged (tracing, target
//! `aquatwin::alerts`).

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

/// The store's file name inside the state directory.
pub const FILE_NAME: &str = "alerts.sqlite";

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Acknowledged,
    Closed,
}

impl AlertState {
    pub const ALL: [AlertState; 3] = [Self::Open, Self::Acknowledged, Self::Closed];

    /// The stable name used in JSON, SQLite and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Closed => "closed",
        }
    }

    /// Parses `open`, `acknowledged` or `closed`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// Why an alert was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Repaired,
    FalseAlarm,
    Duplicate,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [Self::Repaired, Self::FalseAlarm, Self::Duplicate];

    /// The stable name used in JSON and SQLite.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Repaired => "repaired",
            Self::FalseAlarm => "false_alarm",
            Self::Duplicate => "duplicate",
        }
    }

    /// Parses `repaired`, `false_alarm` or `duplicate`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A pipe of the candidate area and its posterior weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub pipe: String,
    pub weight: f64,
}

/// A sensor that supports the alert and its residual (measured − modelled,
/// in the sensor's SI unit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub sensor: String,
    pub residual: f64,
}

/// What the detector reports about one leak at one time: the input of
/// [`AlertStore::upsert`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakEvent {
    /// The detector's stable name for this leak (the deduplication key).
    pub leak_key: String,
    /// When the detector reported this (UTC epoch ms).
    pub observed_ms: i64,
    pub estimated_start_ms: i64,
    /// Estimated size in L/s.
    pub size_lps: f64,
    /// In [0, 1].
    pub confidence: f64,
    /// The chosen pipe.
    pub pipe: String,
    /// The second pipe of a two-mode report.
    pub also_pipe: Option<String>,
    pub candidates: Vec<Candidate>,
    pub evidence: Vec<Evidence>,
    /// The place is uncertain: no report has placed this leak yet, so
    /// `pipe` is only the best guess and the leak is to be searched for in
    /// the candidate area (the water balance sees it, the signature cannot
    /// place it). A later report that places it sets this back to false.
    #[serde(default)]
    pub place_uncertain: bool,
    /// The pump whose station pipework the signature points at: no leak is
    /// reported there (a change in the pump's own flow that the pressures
    /// do not follow fits a leak in a metre of station pipe), so the alert
    /// asks to check the pump and its meter. Only with `place_uncertain`.
    #[serde(default)]
    pub at_pump: Option<String>,
}

/// An operator alert. Field names are stable (documented in the README).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub leak_key: String,
    pub state: AlertState,
    /// When the alert was opened.
    pub raised_ms: i64,
    /// When the detector last updated it (equals `raised_ms` until then).
    pub updated_ms: i64,
    pub estimated_start_ms: i64,
    pub size_lps: f64,
    pub confidence: f64,
    pub pipe: String,
    pub also_pipe: Option<String>,
    pub candidates: Vec<Candidate>,
    pub evidence: Vec<Evidence>,
    /// `pipe` is only a best guess: search the candidate area (see
    /// [`LeakEvent::place_uncertain`]). Absent in the JSON of events
    /// journalled before schema version 3: false.
    #[serde(default)]
    pub place_uncertain: bool,
    /// The pump whose station the signature points at (see
    /// [`LeakEvent::at_pump`]). Absent before schema version 4: none.
    #[serde(default)]
    pub at_pump: Option<String>,
    pub resolution: Option<Resolution>,
    /// The operator's note (from acknowledging or closing; closing with a
    /// note replaces it).
    pub note: Option<String>,
    pub acknowledged_ms: Option<i64>,
    pub closed_ms: Option<i64>,
}

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Updated,
    Acknowledged,
    Closed,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        Self::Opened,
        Self::Updated,
        Self::Acknowledged,
        Self::Closed,
    ];

    /// The stable name used in JSON, SQLite and the webhook's headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Updated => "updated",
            Self::Acknowledged => "acknowledged",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One alert change, as journalled in the outbox: the webhook's JSON body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Increasing with every event of this store (the delivery order).
    pub event_id: i64,
    pub event: EventKind,
    /// When the change was made (UTC epoch ms): the detector's observation
    /// time for opened/updated, the operator's action time otherwise.
    pub at_ms: i64,
    /// The alert as it was right after the change.
    pub alert: Alert,
}

/// What [`AlertStore::upsert`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Upserted {
    /// A new leak: a new alert.
    Opened(Alert),
    /// A known leak grew or was re-localized: its alert, updated.
    Updated(Alert),
    /// The leak's alert is closed; it is left as it is (a new leak needs a
    /// new key).
    AlreadyClosed(Alert),
}

impl Upserted {
    pub fn alert(&self) -> &Alert {
        match self {
            Self::Opened(a) | Self::Updated(a) | Self::AlreadyClosed(a) => a,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("no alert with id {0}")]
    NotFound(i64),
    #[error("alert {0} is closed")]
    Closed(i64),
    #[error("alert {0} is already acknowledged")]
    AlreadyAcknowledged(i64),
    #[error("invalid alert data: {0}")]
    Invalid(String),
    #[error("cannot create the state directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("alert store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("alert store holds unreadable data: {0}")]
    Corrupt(String),
}

/// The alerts of one state directory.
pub struct AlertStore {
    conn: Connection,
    /// The select list of an alert row: [`COLUMNS`], or [`COLUMNS_V2`] for
    /// an older store opened read-only.
    columns: &'static str,
}

/// Version 1: the alerts table. Version 2: the events outbox and the
/// deliveries cursors. Version 3: `alerts.place_uncertain`. Version 4:
/// `alerts.at_pump`.
const SCHEMA_VERSION: i64 = 4;

/// The columns every schema version has, in select-list order.
macro_rules! alert_columns {
    () => {
        "id, leak_key, state, raised_ms, updated_ms, estimated_start_ms, size_lps, confidence, \
         pipe, also_pipe, candidates, evidence, resolution, note, acknowledged_ms, closed_ms"
    };
}

const COLUMNS: &str = concat!(alert_columns!(), ", place_uncertain, at_pump");

/// The same from a version 3 store (no `at_pump` column: no alert of that
/// version named a pump).
const COLUMNS_V3: &str = concat!(alert_columns!(), ", place_uncertain, NULL AS at_pump");

/// The same from a version 1 or 2 store (no `place_uncertain` column: no
/// alert of those versions had an uncertain place flagged).
const COLUMNS_V2: &str = concat!(alert_columns!(), ", 0 AS place_uncertain, NULL AS at_pump");

/// What version 1 created (the alerts table) and what version 2 added (the
/// outbox and the delivery cursors), as those versions wrote them; the
/// columns of versions 3 and 4 are added to them by [`AlertStore::open`]. Frozen: a later
/// change of the schema is a new version, not an edit here.
const SCHEMA_V1: &str = "CREATE TABLE IF NOT EXISTS alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        leak_key TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'closed')),
        raised_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        estimated_start_ms INTEGER NOT NULL,
        size_lps REAL NOT NULL,
        confidence REAL NOT NULL,
        pipe TEXT NOT NULL,
        also_pipe TEXT,
        candidates TEXT NOT NULL,
        evidence TEXT NOT NULL,
        resolution TEXT,
        note TEXT,
        acknowledged_ms INTEGER,
        closed_ms INTEGER
    );";
const SCHEMA_V2: &str = "CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        kind TEXT NOT NULL CHECK (kind IN ('opened', 'updated', 'acknowledged', 'closed')),
        at_ms INTEGER NOT NULL,
        alert TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS deliveries (
        name TEXT PRIMARY KEY,
        delivered_event_id INTEGER NOT NULL
    );";

impl AlertStore {
    /// Opens (creating if needed) `dir/alerts.sqlite`, creating `dir` too.
    /// A store of an older schema version is migrated in place, in one
    /// transaction, keeping every alert and event.
    pub fn open(dir: &Path) -> Result<Self, AlertError> {
        std::fs::create_dir_all(dir).map_err(|source| AlertError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut conn = Connection::open(dir.join(FILE_NAME))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Immediate: the write lock is taken before the version is read,
        // so two processes opening an old store do not both migrate it.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(AlertError::Corrupt(format!(
                "schema version {version} is newer than this program's {SCHEMA_VERSION}"
            )));
        }
        // A new store goes through the same steps as an old one.
        tx.execute_batch(SCHEMA_V1)?;
        tx.execute_batch(SCHEMA_V2)?;
        // Version 3: the column, which a new store and versions 1 and 2
        // lack (their alerts were all placed as far as they knew: 0).
        add_column(&tx, "place_uncertain", "INTEGER NOT NULL DEFAULT 0")?;
        // Version 4: the pump an alert points at (none before).
        add_column(&tx, "at_pump", "TEXT")?;
        if version != SCHEMA_VERSION {
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        tx.commit()?;
        Ok(Self {
            conn,
            columns: COLUMNS,
        })
    }

    /// Opens an existing `dir/alerts.sqlite` for reading only (reports):
    /// creates nothing and changes nothing (an older schema version is
    /// read as it is, not migrated); a store written by a newer schema, or
    /// one without the alerts table, is an error.
    pub fn open_read_only(dir: &Path) -> Result<Self, AlertError> {
        use rusqlite::OpenFlags;
        let conn = Connection::open_with_flags(
            dir.join(FILE_NAME),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version == 0 || version > SCHEMA_VERSION {
            return Err(AlertError::Corrupt(format!(
                "schema version {version}, this program reads 1 to {SCHEMA_VERSION}"
            )));
        }
        let columns = match version {
            ..=2 => COLUMNS_V2,
            3 => COLUMNS_V3,
            _ => COLUMNS,
        };
        Ok(Self { conn, columns })
    }

    /// Opens an alert for a new leak, or updates the alert of a known one
    /// (size, confidence, pipes, candidates, evidence, estimated start and
    /// `updated_ms`). A closed alert is not reopened.
    pub fn upsert(&mut self, event: &LeakEvent) -> Result<Upserted, AlertError> {
        validate(event)?;
        let candidates = serde_json::to_string(&event.candidates)
            .map_err(|e| AlertError::Invalid(e.to_string()))?;
        let evidence = serde_json::to_string(&event.evidence)
            .map_err(|e| AlertError::Invalid(e.to_string()))?;
        let columns = self.columns;
        let tx = self.conn.transaction()?;
        let sql = format!("SELECT {columns} FROM alerts WHERE leak_key = ?1");
        let existing = tx
            .query_row(&sql, [&event.leak_key], RawAlert::from_row)
            .optional()?
            .map(RawAlert::into_alert)
            .transpose()?;
        let (id, kind) = match existing {
            Some(old) if old.state == AlertState::Closed => {
                drop(tx);
                return Ok(Upserted::AlreadyClosed(old));
            }
            Some(old) => {
                tx.execute(
                    "UPDATE alerts SET updated_ms = ?2, estimated_start_ms = ?3, size_lps = ?4,
                        confidence = ?5, pipe = ?6, also_pipe = ?7, candidates = ?8, evidence = ?9,
                        place_uncertain = ?10, at_pump = ?11
                     WHERE id = ?1",
                    params![
                        old.id,
                        event.observed_ms,
                        event.estimated_start_ms,
                        event.size_lps,
                        event.confidence,
                        event.pipe,
                        event.also_pipe,
                        candidates,
                        evidence,
                        event.place_uncertain,
                        event.at_pump
                    ],
                )?;
                let material = old.estimated_start_ms != event.estimated_start_ms
                    || old.size_lps != event.size_lps
                    || old.confidence != event.confidence
                    || old.pipe != event.pipe
                    || old.also_pipe != event.also_pipe
                    || old.candidates != event.candidates
                    || old.evidence != event.evidence
                    || old.place_uncertain != event.place_uncertain
                    || old.at_pump != event.at_pump;
                (old.id, material.then_some(EventKind::Updated))
            }
            None => {
                tx.execute(
                    "INSERT INTO alerts (leak_key, state, raised_ms, updated_ms, estimated_start_ms,
                        size_lps, confidence, pipe, also_pipe, candidates, evidence, place_uncertain,
                        at_pump)
                     VALUES (?1, 'open', ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![
                        event.leak_key,
                        event.observed_ms,
                        event.estimated_start_ms,
                        event.size_lps,
                        event.confidence,
                        event.pipe,
                        event.also_pipe,
                        candidates,
                        evidence,
                        event.place_uncertain,
                        event.at_pump
                    ],
                )?;
                (tx.last_insert_rowid(), Some(EventKind::Opened))
            }
        };
        let alert = get_on(&tx, columns, id)?;
        let journalled = match kind {
            Some(kind) => Some(journal(&tx, kind, event.observed_ms, &alert)?),
            None => None,
        };
        tx.commit()?;
        if let Some(e) = &journalled {
            log_event(e);
        }
        Ok(if kind == Some(EventKind::Opened) {
            Upserted::Opened(alert)
        } else {
            Upserted::Updated(alert)
        })
    }

    /// The alert with this id.
    pub fn get(&self, id: i64) -> Result<Alert, AlertError> {
        get_on(&self.conn, self.columns, id)
    }

    /// Up to `limit` journalled events after `after_event_id`, in order.
    pub fn events_after(
        &self,
        after_event_id: i64,
        limit: usize,
    ) -> Result<Vec<AlertEvent>, AlertError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, at_ms, alert FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![after_event_id, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (event_id, kind, at_ms, alert) = row?;
            let corrupt = |what: &str| AlertError::Corrupt(format!("event {event_id}: {what}"));
            Ok(AlertEvent {
                event_id,
                event: EventKind::parse(&kind).ok_or_else(|| corrupt("unknown kind"))?,
                at_ms,
                alert: serde_json::from_str(&alert).map_err(|_| corrupt("bad alert"))?,
            })
        })
        .collect()
    }

    /// The newest journalled event's id (0: none yet).
    pub fn last_event_id(&self) -> Result<i64, AlertError> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?)
    }

    /// The last event delivered to the named consumer (0: none yet).
    pub fn delivered(&self, consumer: &str) -> Result<i64, AlertError> {
        Ok(self
            .conn
            .query_row(
                "SELECT delivered_event_id FROM deliveries WHERE name = ?1",
                [consumer],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Records that the named consumer has everything up to `event_id`.
    pub fn set_delivered(&mut self, consumer: &str, event_id: i64) -> Result<(), AlertError> {
        self.conn.execute(
            "INSERT INTO deliveries (name, delivered_event_id) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET delivered_event_id = MAX(delivered_event_id, ?2)",
            params![consumer, event_id],
        )?;
        Ok(())
    }

    /// Alerts in this state (all alerts for `None`), newest first.
    pub fn list(&self, state: Option<AlertState>) -> Result<Vec<Alert>, AlertError> {
        let sql = format!(
            "SELECT {} FROM alerts WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC",
            self.columns
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([state.map(AlertState::as_str)], RawAlert::from_row)?;
        rows.map(|raw| raw?.into_alert()).collect()
    }

    /// How many alerts are in each state (every state listed, zeros too).
    pub fn counts(&self) -> Result<Vec<(AlertState, u64)>, AlertError> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM alerts GROUP BY state")?;
        let found = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AlertState::ALL
            .into_iter()
            .map(|state| {
                let n = found
                    .iter()
                    .find(|(s, _)| s == state.as_str())
                    .map_or(0, |(_, n)| *n);
                (state, u64::try_from(n).unwrap_or(0))
            })
            .collect())
    }

    /// Open → acknowledged, with the operator's note.
    pub fn acknowledge(
        &mut self,
        id: i64,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Alert, AlertError> {
        let columns = self.columns;
        let tx = self.conn.transaction()?;
        let changed = tx.execute(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_ms = ?2,
                note = COALESCE(?3, note)
             WHERE id = ?1 AND state = 'open'",
            params![id, at_ms, note],
        )?;
        let alert = get_on(&tx, columns, id)?;
        if changed != 1 {
            return Err(if alert.state == AlertState::Closed {
                AlertError::Closed(id)
            } else {
                AlertError::AlreadyAcknowledged(id)
            });
        }
        let event = journal(&tx, EventKind::Acknowledged, at_ms, &alert)?;
        tx.commit()?;
        log_event(&event);
        Ok(alert)
    }

    /// Open or acknowledged → closed, with a resolution and the operator's
    /// note (a given note replaces the acknowledgement's).
    pub fn close(
        &mut self,
        id: i64,
        resolution: Resolution,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Alert, AlertError> {
        // One guarded statement: the check and the change are atomic; the
        // event is journalled in the same transaction.
        let columns = self.columns;
        let tx = self.conn.transaction()?;
        let changed = tx.execute(
            "UPDATE alerts SET state = 'closed', closed_ms = ?2, resolution = ?3,
                note = COALESCE(?4, note)
             WHERE id = ?1 AND state != 'closed'",
            params![id, at_ms, resolution.as_str(), note],
        )?;
        let alert = get_on(&tx, columns, id)?;
        if changed != 1 {
            return Err(AlertError::Closed(id));
        }
        let event = journal(&tx, EventKind::Closed, at_ms, &alert)?;
        tx.commit()?;
        log_event(&event);
        Ok(alert)
    }
}

fn get_on(conn: &Connection, columns: &str, id: i64) -> Result<Alert, AlertError> {
    let sql = format!("SELECT {columns} FROM alerts WHERE id = ?1");
    let raw = conn.query_row(&sql, [id], RawAlert::from_row).optional()?;
    raw.ok_or(AlertError::NotFound(id))?.into_alert()
}

/// Appends an event to the outbox (inside the caller's transaction).
fn journal(
    conn: &Connection,
    kind: EventKind,
    at_ms: i64,
    alert: &Alert,
) -> Result<AlertEvent, AlertError> {
    let json = serde_json::to_string(alert).map_err(|e| AlertError::Invalid(e.to_string()))?;
    conn.execute(
        "INSERT INTO events (alert_id, kind, at_ms, alert) VALUES (?1, ?2, ?3, ?4)",
        params![alert.id, kind.as_str(), at_ms, json],
    )?;
    Ok(AlertEvent {
        event_id: conn.last_insert_rowid(),
        event: kind,
        at_ms,
        alert: alert.clone(),
    })
}

/// Adds column `name` of type `decl` to the alerts table unless it has it
/// (a migration step, idempotent).
fn add_column(conn: &Connection, name: &str, decl: &str) -> Result<(), AlertError> {
    let has: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('alerts') WHERE name = ?1",
        [name],
        |r| r.get(0),
    )?;
    if !has {
        conn.execute_batch(&format!("ALTER TABLE alerts ADD COLUMN {name} {decl};"))?;
    }
    Ok(())
}

/// One structured log line per alert event (for syslog/journald users).
fn log_event(e: &AlertEvent) {
    let a = &e.alert;
    tracing::info!(
        target: "aquatwin::alerts",
        event = e.event.as_str(),
        event_id = e.event_id,
        alert_id = a.id,
        state = a.state.as_str(),
        pipe = %a.pipe,
        size_lps = a.size_lps,
        confidence = a.confidence,
        place_uncertain = a.place_uncertain,
        at_pump = a.at_pump.as_deref(),
        estimated_start_ms = a.estimated_start_ms,
        resolution = a.resolution.map(Resolution::as_str),
        "alert {}",
        e.event.as_str()
    );
}

fn validate(event: &LeakEvent) -> Result<(), AlertError> {
    let bad = |what: &str| {
        Err(AlertError::Invalid(format!(
            "{what} (leak {:?})",
            event.leak_key
        )))
    };
    if event.leak_key.trim().is_empty() {
        return Err(AlertError::Invalid("empty leak key".into()));
    }
    if event.pipe.trim().is_empty() {
        return bad("empty pipe");
    }
    match &event.at_pump {
        Some(p) if p.trim().is_empty() => return bad("empty pump name"),
        Some(_) if !event.place_uncertain => {
            return bad("a pump's station is named only for an alert whose place is uncertain")
        }
        _ => {}
    }
    if !event.size_lps.is_finite() || event.size_lps < 0.0 {
        return bad("size must be a finite number ≥ 0 L/s");
    }
    if !(0.0..=1.0).contains(&event.confidence) {
        return bad("confidence must be in [0, 1]");
    }
    if event.candidates.iter().any(|c| !c.weight.is_finite()) {
        return bad("candidate weights must be finite");
    }
    if event.evidence.iter().any(|e| !e.residual.is_finite()) {
        return bad("residuals must be finite");
    }
    Ok(())
}

/// A row as stored, before its text columns are parsed.
struct RawAlert {
    id: i64,
    leak_key: String,
    state: String,
    raised_ms: i64,
    updated_ms: i64,
    estimated_start_ms: i64,
    size_lps: f64,
    confidence: f64,
    pipe: String,
    also_pipe: Option<String>,
    candidates: String,
    evidence: String,
    resolution: Option<String>,
    note: Option<String>,
    acknowledged_ms: Option<i64>,
    closed_ms: Option<i64>,
    place_uncertain: bool,
    at_pump: Option<String>,
}

impl RawAlert {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            leak_key: r.get(1)?,
            state: r.get(2)?,
            raised_ms: r.get(3)?,
            updated_ms: r.get(4)?,
            estimated_start_ms: r.get(5)?,
            size_lps: r.get(6)?,
            confidence: r.get(7)?,
            pipe: r.get(8)?,
            also_pipe: r.get(9)?,
            candidates: r.get(10)?,
            evidence: r.get(11)?,
            resolution: r.get(12)?,
            note: r.get(13)?,
            acknowledged_ms: r.get(14)?,
            closed_ms: r.get(15)?,
            place_uncertain: r.get(16)?,
            at_pump: r.get(17)?,
        })
    }

    fn into_alert(self) -> Result<Alert, AlertError> {
        let corrupt = |what: &str| AlertError::Corrupt(format!("alert {}: {what}", self.id));
        let state = AlertState::parse(&self.state).ok_or_else(|| corrupt("unknown state"))?;
        let resolution = match &self.resolution {
            None => None,
            Some(r) => Some(Resolution::parse(r).ok_or_else(|| corrupt("unknown resolution"))?),
        };
        let candidates =
            serde_json::from_str(&self.candidates).map_err(|_| corrupt("bad candidates"))?;
        let evidence = serde_json::from_str(&self.evidence).map_err(|_| corrupt("bad evidence"))?;
        Ok(Alert {
            id: self.id,
            leak_key: self.leak_key,
            state,
            raised_ms: self.raised_ms,
            updated_ms: self.updated_ms,
            estimated_start_ms: self.estimated_start_ms,
            size_lps: self.size_lps,
            confidence: self.confidence,
            pipe: self.pipe,
            also_pipe: self.also_pipe,
            candidates,
            evidence,
            place_uncertain: self.place_uncertain,
            at_pump: self.at_pump,
            resolution,
            note: self.note,
            acknowledged_ms: self.acknowledged_ms,
            closed_ms: self.closed_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn event(key: &str, at: i64, size: f64, pipe: &str) -> LeakEvent {
        LeakEvent {
            leak_key: key.into(),
            observed_ms: at,
            estimated_start_ms: at - 3_600_000,
            size_lps: size,
            confidence: 0.8,
            pipe: pipe.into(),
            also_pipe: None,
            candidates: vec![
                Candidate {
                    pipe: pipe.into(),
                    weight: 0.7,
                },
                Candidate {
                    pipe: "p2".into(),
                    weight: 0.3,
                },
            ],
            evidence: vec![Evidence {
                sensor: "n54".into(),
                residual: -0.42,
            }],
            place_uncertain: false,
            at_pump: None,
        }
    }

    #[test]
    fn opens_then_updates_the_same_alert() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AlertStore::open(dir.path()).unwrap();
        let first = store.upsert(&event("leak-1", 1_000, 2.0, "p1")).unwrap();
        let Upserted::Opened(a) = first else {
            panic!("{first:?}")
        };
        assert_eq!(
            (a.id, a.state, a.raised_ms, a.updated_ms),
            (1, AlertState::Open, 1_000, 1_000)
        );

        // Growth and re-localization: same alert, new size, pipe, updated_ms.
        let mut grown = event("leak-1", 5_000, 3.5, "p9");
        grown.also_pipe = Some("p2".into());
        let Upserted::Updated(b) = store.upsert(&grown).unwrap() else {
            panic!()
        };
        assert_eq!((b.id, b.raised_ms, b.updated_ms), (a.id, 1_000, 5_000));
        assert_eq!((b.size_lps, b.pipe.as_str()), (3.5, "p9"));
        assert_eq!(b.also_pipe.as_deref(), Some("p2"));
        assert_eq!(store.list(None).unwrap().len(), 1);

        let Upserted::Opened(c) = store.upsert(&event("leak-2", 6_000, 1.0, "p3")).unwrap() else {
            panic!()
        };
        assert_eq!(c.id, 2);
        let ids: Vec<i64> = store.list(None).unwrap().iter().map(|a| a.id).collect();
        assert_eq!(ids, [2, 1]);
    }

    #[test]
    fn lifecycle_rules() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AlertStore::open(dir.path()).unwrap();
        let id = store.upsert(&event("k", 1, 1.0, "p")).unwrap().alert().id;
        assert!(matches!(
            store.acknowledge(99, None, 2),
            Err(AlertError::NotFound(99))
        ));
        let a = store.acknowledge(id, Some("crew sent"), 10).unwrap();
        assert_eq!(a.state, AlertState::Acknowledged);
        assert_eq!(
            (a.acknowledged_ms, a.note.as_deref()),
            (Some(10), Some("crew sent"))
        );
        assert!(matches!(
            store.acknowledge(id, None, 11),
            Err(AlertError::AlreadyAcknowledged(_))
        ));

        let c = store.close(id, Resolution::Repaired, None, 20).unwrap();
        assert_eq!(
            (c.state, c.resolution),
            (AlertState::Closed, Some(Resolution::Repaired))
        );
        assert_eq!(
            (c.closed_ms, c.note.as_deref()),
            (Some(20), Some("crew sent"))
        );
        assert!(matches!(
            store.close(id, Resolution::Duplicate, None, 21),
            Err(AlertError::Closed(_))
        ));
        assert!(matches!(
            store.acknowledge(id, None, 22),
            Err(AlertError::Closed(_))
        ));

        // The detector reporting a closed leak again does not reopen it.
        let again = store.upsert(&event("k", 30, 9.0, "p")).unwrap();
        assert!(matches!(&again, Upserted::AlreadyClosed(a) if a.size_lps == 1.0));

        // An open alert may be closed directly; a close note replaces nothing absent.
        let id2 = store.upsert(&event("k2", 1, 1.0, "p")).unwrap().alert().id;
        let c2 = store
            .close(id2, Resolution::FalseAlarm, Some("pump test"), 5)
            .unwrap();
        assert_eq!(
            (c2.acknowledged_ms, c2.note.as_deref()),
            (None, Some("pump test"))
        );

        assert_eq!(store.list(Some(AlertState::Closed)).unwrap().len(), 2);
        assert!(store.list(Some(AlertState::Open)).unwrap().is_empty());
        let counts = store.counts().unwrap();
        assert_eq!(
            counts,
            [
                (AlertState::Open, 0),
                (AlertState::Acknowledged, 0),
                (AlertState::Closed, 2)
            ]
        );
    }

    #[test]
    fn every_change_is_journalled_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AlertStore::open(dir.path()).unwrap();
        let id = store.upsert(&event("k", 1, 1.0, "p")).unwrap().alert().id;
        // The same report again changes nothing material: no event.
        let same = LeakEvent {
            estimated_start_ms: 1 - 3_600_000,
            ..event("k", 2, 1.0, "p")
        };
        store.upsert(&same).unwrap();
        store.upsert(&event("k", 3, 2.0, "p")).unwrap();
        store.acknowledge(id, Some("n"), 4).unwrap();
        assert!(store.acknowledge(id, None, 5).is_err());
        store.close(id, Resolution::Repaired, None, 6).unwrap();
        assert!(store.close(id, Resolution::Repaired, None, 7).is_err());
        store.upsert(&event("k", 8, 5.0, "p")).unwrap(); // closed: no event
        let events = store.events_after(0, 100).unwrap();
        let got: Vec<(i64, EventKind, i64)> = events
            .iter()
            .map(|e| (e.event_id, e.event, e.at_ms))
            .collect();
        assert_eq!(
            got,
            [
                (1, EventKind::Opened, 1),
                (2, EventKind::Updated, 3),
                (3, EventKind::Acknowledged, 4),
                (4, EventKind::Closed, 6)
            ]
        );
        assert_eq!(events[1].alert.size_lps, 2.0);
        assert_eq!(events[3].alert.state, AlertState::Closed);
        assert_eq!(store.events_after(2, 1).unwrap()[0].event_id, 3);
        assert_eq!(store.delivered("webhook").unwrap(), 0);
        assert_eq!(store.last_event_id().unwrap(), 4);
        store.set_delivered("webhook", 3).unwrap();
        store.set_delivered("webhook", 2).unwrap(); // never goes back
        assert_eq!(store.delivered("webhook").unwrap(), 3);
        let v = serde_json::to_value(&events[0]).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["alert", "at_ms", "event", "event_id"]);
        assert_eq!(v["event"], "opened");
    }

    #[test]
    fn rejects_invalid_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AlertStore::open(dir.path()).unwrap();
        for bad in [
            event("", 1, 1.0, "p"),
            event("k", 1, f64::NAN, "p"),
            event("k", 1, 1.0, ""),
            LeakEvent {
                confidence: 1.5,
                ..event("k", 1, 1.0, "p")
            },
        ] {
            assert!(
                matches!(store.upsert(&bad), Err(AlertError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(store.list(None).unwrap().is_empty());
    }

    #[test]
    fn survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("nested/state");
        let id = {
            let mut store = AlertStore::open(&state_dir).unwrap();
            let id = store.upsert(&event("k", 1, 2.5, "p")).unwrap().alert().id;
            store.acknowledge(id, Some("note"), 7).unwrap();
            id
        };
        assert!(state_dir.join(FILE_NAME).is_file());
        let mut store = AlertStore::open(&state_dir).unwrap();
        let a = store.get(id).unwrap();
        assert_eq!(
            (a.state, a.size_lps, a.note.as_deref()),
            (AlertState::Acknowledged, 2.5, Some("note"))
        );
        assert_eq!(a.candidates.len(), 2);
        assert_eq!(a.evidence[0].sensor, "n54");
        // Dedup holds across restarts.
        assert!(matches!(
            store.upsert(&event("k", 9, 3.0, "p")).unwrap(),
            Upserted::Updated(_)
        ));
        assert_eq!(store.list(None).unwrap().len(), 1);
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn json_field_names_are_stable() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AlertStore::open(dir.path()).unwrap();
        let a = store
            .upsert(&event("k", 1, 1.0, "p"))
            .unwrap()
            .alert()
            .clone();
        let json = serde_json::to_value(&a).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = [
            "id",
            "leak_key",
            "state",
            "raised_ms",
            "updated_ms",
            "estimated_start_ms",
            "size_lps",
            "confidence",
            "pipe",
            "also_pipe",
            "candidates",
            "evidence",
            "place_uncertain",
            "at_pump",
            "resolution",
            "note",
            "acknowledged_ms",
            "closed_ms",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["state"], "open");
        assert_eq!(json["place_uncertain"], false);
        assert_eq!(json["at_pump"], serde_json::Value::Null);
        assert_eq!(json["candidates"][0]["weight"], 0.7);
        assert_eq!(json["evidence"][0]["residual"], -0.42);
        assert_eq!(
            serde_json::to_value(Resolution::FalseAlarm).unwrap(),
            "false_alarm"
        );
    }
    #[test]
    fn place_uncertain_is_kept_and_clearing_it_is_an_update() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AlertStore::open(dir.path()).unwrap();
        let guess = LeakEvent {
            place_uncertain: true,
            at_pump: None,
            confidence: 0.3,
            ..event("k", 1, 1.0, "p")
        };
        let a = store.upsert(&guess).unwrap().alert().clone();
        assert!(a.place_uncertain);
        assert!(store.get(a.id).unwrap().place_uncertain);
        // The same report again: nothing material, no event.
        store
            .upsert(&LeakEvent {
                observed_ms: 2,
                ..guess.clone()
            })
            .unwrap();
        // A report places it: only the flag changes, and that is material.
        let placed = LeakEvent {
            observed_ms: 3,
            place_uncertain: false,
            at_pump: None,
            ..guess.clone()
        };
        let Upserted::Updated(b) = store.upsert(&placed).unwrap() else {
            panic!()
        };
        assert!(!b.place_uncertain);
        let events = store.events_after(0, 10).unwrap();
        let got: Vec<(EventKind, bool)> = events
            .iter()
            .map(|e| (e.event, e.alert.place_uncertain))
            .collect();
        assert_eq!(
            got,
            [(EventKind::Opened, true), (EventKind::Updated, false)]
        );
    }

    #[test]
    fn a_pump_station_is_named_only_while_the_place_is_uncertain() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AlertStore::open(dir.path()).unwrap();
        let at_pump = LeakEvent {
            place_uncertain: true,
            at_pump: Some("PU2".into()),
            ..event("k", 1, 1.0, "p")
        };
        let a = store.upsert(&at_pump).unwrap().alert().clone();
        assert_eq!(a.at_pump.as_deref(), Some("PU2"));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["at_pump"], "PU2");
        // A report places it elsewhere: the pump goes, an update.
        let placed = LeakEvent {
            observed_ms: 2,
            place_uncertain: false,
            at_pump: None,
            ..at_pump.clone()
        };
        let Upserted::Updated(b) = store.upsert(&placed).unwrap() else {
            panic!()
        };
        assert_eq!(b.at_pump, None);
        assert_eq!(store.events_after(0, 10).unwrap().len(), 2);
        // A placed leak at a pump, or a pump without a name: refused.
        for bad in [
            LeakEvent {
                place_uncertain: false,
                ..at_pump.clone()
            },
            LeakEvent {
                at_pump: Some(" ".into()),
                ..at_pump.clone()
            },
        ] {
            let err = store.upsert(&bad).unwrap_err().to_string();
            assert!(err.contains("pump"), "{err}");
        }
    }

    /// A store file as version `version` (1, 2 or 3) wrote it: WAL, two
    /// alerts (one acknowledged), and from version 2 their events (alert
    /// JSON without `place_uncertain` or `at_pump`) and a delivery cursor;
    /// version 3 has the `place_uncertain` column.
    fn old_store(dir: &Path, version: i64) {
        let conn = Connection::open(dir.join(FILE_NAME)).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        if version >= 2 {
            conn.execute_batch(SCHEMA_V2).unwrap();
        }
        if version >= 3 {
            conn.execute_batch(
                "ALTER TABLE alerts ADD COLUMN place_uncertain INTEGER NOT NULL DEFAULT 0;",
            )
            .unwrap();
        }
        conn.pragma_update(None, "user_version", version).unwrap();
        let cands = r#"[{"pipe":"p1","weight":0.7},{"pipe":"p2","weight":0.3}]"#;
        let evid = r#"[{"sensor":"n54","residual":-0.42}]"#;
        conn.execute(
            "INSERT INTO alerts (leak_key, state, raised_ms, updated_ms, estimated_start_ms,
                size_lps, confidence, pipe, also_pipe, candidates, evidence)
             VALUES ('leak-1', 'open', 1000, 5000, -3599000, 3.5, 0.8, 'p1', 'p2', ?1, ?2)",
            params![cands, evid],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO alerts (leak_key, state, raised_ms, updated_ms, estimated_start_ms,
                size_lps, confidence, pipe, candidates, evidence, note, acknowledged_ms)
             VALUES ('leak-2', 'acknowledged', 6000, 6000, 0, 1.0, 0.9, 'p3', ?1, ?2, 'crew', 7000)",
            params![cands, evid],
        )
        .unwrap();
        if version >= 2 {
            let json = |id: i64, state: &str| {
                format!(
                    r#"{{"id":{id},"leak_key":"leak-{id}","state":"{state}","raised_ms":1000,
                    "updated_ms":1000,"estimated_start_ms":0,"size_lps":2.0,"confidence":0.8,
                    "pipe":"p1","also_pipe":null,"candidates":{cands},"evidence":{evid},
                    "resolution":null,"note":null,"acknowledged_ms":null,"closed_ms":null}}"#
                )
            };
            for (alert_id, kind, at, state) in [
                (1, "opened", 1000, "open"),
                (1, "updated", 5000, "open"),
                (2, "opened", 6000, "open"),
                (2, "acknowledged", 7000, "acknowledged"),
            ] {
                conn.execute(
                    "INSERT INTO events (alert_id, kind, at_ms, alert) VALUES (?1, ?2, ?3, ?4)",
                    params![alert_id, kind, at, json(alert_id, state)],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO deliveries (name, delivered_event_id) VALUES ('webhook', 3)",
                [],
            )
            .unwrap();
        }
    }

    fn user_version(dir: &Path) -> i64 {
        Connection::open(dir.join(FILE_NAME))
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    fn has_column(dir: &Path, name: &str) -> bool {
        Connection::open(dir.join(FILE_NAME))
            .unwrap()
            .query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('alerts') WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap()
    }

    fn check_old_alerts(store: &AlertStore) {
        let list = store.list(None).unwrap();
        assert_eq!(list.len(), 2);
        let (b, a) = (&list[0], &list[1]);
        assert_eq!(
            (
                a.id,
                a.leak_key.as_str(),
                a.state,
                a.raised_ms,
                a.updated_ms
            ),
            (1, "leak-1", AlertState::Open, 1000, 5000)
        );
        assert_eq!(
            (a.size_lps, a.pipe.as_str(), a.also_pipe.as_deref()),
            (3.5, "p1", Some("p2"))
        );
        assert_eq!(a.candidates.len(), 2);
        assert_eq!(a.evidence[0].sensor, "n54");
        assert_eq!(
            (b.state, b.note.as_deref(), b.acknowledged_ms),
            (AlertState::Acknowledged, Some("crew"), Some(7000))
        );
        assert!(list
            .iter()
            .all(|a| !a.place_uncertain && a.at_pump.is_none()));
    }

    #[test]
    fn old_stores_are_read_as_they_are_and_migrated_in_place() {
        for version in [1, 2, 3] {
            let dir = tempfile::tempdir().unwrap();
            old_store(dir.path(), version);
            let file = dir.path().join(FILE_NAME);
            let before = std::fs::read(&file).unwrap();

            // Read-only: everything readable, nothing changed.
            {
                let store = AlertStore::open_read_only(dir.path()).unwrap();
                check_old_alerts(&store);
                assert!(!store.get(1).unwrap().place_uncertain);
                if version >= 2 {
                    let events = store.events_after(0, 10).unwrap();
                    assert_eq!(events.len(), 4);
                    assert!(events.iter().all(|e| !e.alert.place_uncertain));
                    assert_eq!(store.delivered("webhook").unwrap(), 3);
                }
            }
            assert_eq!(std::fs::read(&file).unwrap(), before, "v{version}");
            assert_eq!(user_version(dir.path()), version);
            assert_eq!(has_column(dir.path(), "place_uncertain"), version == 3);
            assert!(!has_column(dir.path(), "at_pump"));

            // Read-write: migrated, every alert, event and cursor kept.
            {
                let mut store = AlertStore::open(dir.path()).unwrap();
                check_old_alerts(&store);
                let old_events = if version >= 2 { 4 } else { 0 };
                assert_eq!(store.last_event_id().unwrap(), old_events);
                assert_eq!(
                    store.delivered("webhook").unwrap(),
                    if version >= 2 { 3 } else { 0 }
                );
                // The new columns work.
                let guess = LeakEvent {
                    place_uncertain: true,
                    at_pump: Some("PU1".into()),
                    ..event("leak-1", 9000, 4.0, "p1")
                };
                let Upserted::Updated(a) = store.upsert(&guess).unwrap() else {
                    panic!()
                };
                assert!(a.place_uncertain);
                assert_eq!(a.at_pump.as_deref(), Some("PU1"));
                let events = store.events_after(0, 10).unwrap();
                assert_eq!(events.len(), old_events as usize + 1);
                assert!(events.last().unwrap().alert.place_uncertain);
            }
            assert_eq!(user_version(dir.path()), SCHEMA_VERSION);
            assert!(has_column(dir.path(), "place_uncertain"));
            assert!(has_column(dir.path(), "at_pump"));
            // Reopening a migrated store changes nothing more.
            let store = AlertStore::open(dir.path()).unwrap();
            assert!(store.get(1).unwrap().place_uncertain);
            assert!(!store.get(2).unwrap().place_uncertain);
            assert_eq!(store.get(1).unwrap().at_pump.as_deref(), Some("PU1"));
            assert_eq!(store.get(2).unwrap().at_pump, None);
            let read_only = AlertStore::open_read_only(dir.path()).unwrap();
            assert!(read_only.get(1).unwrap().place_uncertain);
            assert_eq!(read_only.get(1).unwrap().at_pump.as_deref(), Some("PU1"));
        }
    }

    #[test]
    fn a_newer_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        AlertStore::open(dir.path()).unwrap();
        Connection::open(dir.path().join(FILE_NAME))
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            AlertStore::open(dir.path()),
            Err(AlertError::Corrupt(_))
        ));
        assert!(matches!(
            AlertStore::open_read_only(dir.path()),
            Err(AlertError::Corrupt(_))
        ));
        assert_eq!(user_version(dir.path()), SCHEMA_VERSION + 1);
    }
}
