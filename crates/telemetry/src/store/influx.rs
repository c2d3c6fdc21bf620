//! InfluxDB through its v1 HTTP API: line protocol on `/write`, InfluxQL on
//! `/query`. InfluxDB 1.x serves it natively, 2.x through its v1
//! compatibility endpoints (database = bucket mapping, `Token` auth) and 3.x
//! too. The HTTP client is a few dozen lines over `std::net::TcpStream`
//! (plain HTTP/1.1, `Connection: close`); see ARCHITECTURE.md, "Telemetry",
//! for why no HTTP crate is used. TLS is not spoken: put a local TLS
//! terminator in front of a remote InfluxDB.
//!
//! Layout: measurement `samples` (configurable), tag `sensor`, fields
//! `value` (float, absent for gaps), `quality` and `detail` (integers),
//! millisecond timestamps. InfluxDB keys points by series + time, so a
//! replayed point overwrites itself: writes are idempotent.

use super::{Store, StoreError};
use crate::quality::{Quality, Sample};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct InfluxConfig {
    /// `http://host:port`
    pub url: String,
    pub database: String,
    pub retention_policy: Option<String>,
    pub measurement: String,
    /// InfluxDB 2.x/3.x token (sent as `Authorization: Token …`).
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
    /// The kind of each sensor tag (`pressure`, `flow`, `tank_level`,
    /// `demand`), written as the tag `kind` so that dashboards can select by
    /// kind; a tag `TAG@SUFFIX` written by the twin (`@model`, `@residual`)
    /// gets `KIND_SUFFIX` (e.g. `pressure_residual`). Tags not listed get no
    /// `kind`.
    pub kinds: std::sync::Arc<std::collections::HashMap<String, String>>,
}

impl InfluxConfig {
    /// The `kind` tag of sensor tag `tag`, if known.
    pub fn kind_of(&self, tag: &str) -> Option<String> {
        if let Some(k) = self.kinds.get(tag) {
            return Some(k.clone());
        }
        let (base, suffix) = tag.rsplit_once('@')?;
        self.kinds.get(base).map(|k| format!("{k}_{suffix}"))
    }

    pub fn new(url: &str, database: &str) -> InfluxConfig {
        InfluxConfig {
            url: url.to_string(),
            database: database.to_string(),
            retention_policy: None,
            measurement: "samples".to_string(),
            token: None,
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
            kinds: Default::default(),
        }
    }
}

pub struct InfluxStore {
    cfg: InfluxConfig,
    host: String,
    port: u16,
    created: bool,
    line_buf: String,
}

/// An HTTP response: status and body.
struct Response {
    status: u16,
    body: Vec<u8>,
}

fn pct(s: &str) -> String {
    let mut o = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

fn escape_tag(s: &str, out: &mut String) {
    for c in s.chars() {
        if matches!(c, ',' | '=' | ' ' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl InfluxStore {
    /// Prepares a client; nothing is contacted until the first call.
    pub fn new(cfg: InfluxConfig) -> Result<InfluxStore, StoreError> {
        let rest = cfg.url.strip_prefix("http://").ok_or_else(|| {
            StoreError::Rejected(format!(
                "InfluxDB url '{}' must start with http:// (TLS is not supported; use a local TLS terminator)",
                cfg.url
            ))
        })?;
        let hostport = rest.trim_end_matches('/');
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse::<u16>().map_err(|_| {
                    StoreError::Rejected(format!("bad port in InfluxDB url '{}'", cfg.url))
                })?,
            ),
            None => (hostport.to_string(), 8086),
        };
        Ok(InfluxStore {
            cfg,
            host,
            port,
            created: false,
            line_buf: String::new(),
        })
    }

    fn auth_query(&self) -> String {
        let mut q = String::new();
        if let (Some(u), Some(p)) = (&self.cfg.username, &self.cfg.password) {
            let _ = write!(q, "&u={}&p={}", pct(u), pct(p));
        }
        q
    }

    fn request(&self, method: &str, path_query: &str, body: &[u8]) -> Result<Response, StoreError> {
        let unavailable = |what: &str, e: std::io::Error| {
            StoreError::Unavailable(format!("{what} {}:{}: {e}", self.host, self.port))
        };
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| unavailable("cannot resolve", e))?
            .next()
            .ok_or_else(|| StoreError::Unavailable(format!("no address for {}", self.host)))?;
        let mut s = TcpStream::connect_timeout(&addr, self.cfg.timeout.min(Duration::from_secs(3)))
            .map_err(|e| unavailable("cannot connect to", e))?;
        s.set_read_timeout(Some(self.cfg.timeout)).ok();
        s.set_write_timeout(Some(self.cfg.timeout)).ok();
        s.set_nodelay(true).ok();
        let mut head = format!(
            "{method} {path_query} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: aquatwin\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host,
            self.port,
            body.len()
        );
        if let Some(t) = &self.cfg.token {
            let _ = write!(head, "Authorization: Token {t}\r\n");
        }
        if !body.is_empty() {
            head.push_str("Content-Type: text/plain; charset=utf-8\r\n");
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())
            .map_err(|e| unavailable("cannot send to", e))?;
        s.write_all(body)
            .map_err(|e| unavailable("cannot send to", e))?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)
            .map_err(|e| unavailable("no answer from", e))?;
        parse_response(&raw).ok_or_else(|| {
            StoreError::Unavailable(format!(
                "malformed HTTP answer from {}:{}",
                self.host, self.port
            ))
        })
    }

    fn check(&self, r: Response) -> Result<Response, StoreError> {
        let msg = || String::from_utf8_lossy(&r.body).trim().to_string();
        match r.status {
            200..=299 => Ok(r),
            // Malformed points (partial write, field type conflict): retrying
            // cannot help.
            400 | 422 => Err(StoreError::Rejected(format!(
                "HTTP {}: {}",
                r.status,
                msg()
            ))),
            // 5xx, and also auth (401/403), missing database (404), rate
            // limits (429): an operator or the server can fix these, so the
            // batch waits in the buffer.
            _ => Err(StoreError::Unavailable(format!(
                "HTTP {}: {}",
                r.status,
                msg()
            ))),
        }
    }

    /// Whether the server answers `/ping`.
    pub fn ping(&self) -> bool {
        matches!(self.request("GET", "/ping", b""), Ok(r) if r.status == 204 || r.status == 200)
    }

    /// Runs one InfluxQL statement; returns the parsed JSON.
    pub fn influxql(&self, q: &str, post: bool) -> Result<serde_json::Value, StoreError> {
        let pq = format!(
            "/query?db={}&epoch=ms&q={}{}",
            pct(&self.cfg.database),
            pct(q),
            self.auth_query()
        );
        let r = self.check(self.request(if post { "POST" } else { "GET" }, &pq, b"")?)?;
        let v: serde_json::Value = serde_json::from_slice(&r.body)
            .map_err(|e| StoreError::Unavailable(format!("bad JSON from InfluxDB: {e}")))?;
        if let Some(err) = v.pointer("/results/0/error").and_then(|e| e.as_str()) {
            return Err(StoreError::Rejected(format!("InfluxQL error: {err}")));
        }
        if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
            return Err(StoreError::Rejected(format!("InfluxQL error: {err}")));
        }
        Ok(v)
    }

    /// `CREATE DATABASE` (idempotent on the server). Needed once on 1.x.
    pub fn ensure_database(&mut self) -> Result<(), StoreError> {
        if !self.created {
            self.influxql(
                &format!("CREATE DATABASE {}", quote_ident(&self.cfg.database)),
                true,
            )?;
            self.created = true;
        }
        Ok(())
    }

    fn select(&self, q: &str, sensor: &str) -> Result<Vec<Sample>, StoreError> {
        let v = match self.influxql(q, false) {
            // Nothing written yet: nothing to read.
            Err(StoreError::Rejected(m)) if m.contains("database not found") => {
                return Ok(Vec::new())
            }
            r => r?,
        };
        let mut out = Vec::new();
        let Some(series) = v.pointer("/results/0/series").and_then(|s| s.as_array()) else {
            return Ok(out);
        };
        for s in series {
            let cols: Vec<&str> = s["columns"]
                .as_array()
                .map(|c| c.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let ix = |n: &str| cols.iter().position(|c| *c == n);
            let (it, iv, iq, id) = (ix("time"), ix("value"), ix("quality"), ix("detail"));
            for row in s["values"].as_array().into_iter().flatten() {
                let get = |i: Option<usize>| i.and_then(|i| row.get(i));
                let Some(ts) = get(it).and_then(|t| t.as_i64()) else {
                    continue;
                };
                out.push(Sample {
                    sensor: sensor.to_string(),
                    ts_ms: ts,
                    value: get(iv).and_then(|x| x.as_f64()),
                    quality: get(iq)
                        .and_then(|x| x.as_u64())
                        .and_then(|q| Quality::from_code(q as u8))
                        .unwrap_or(Quality::BadValue),
                    detail: get(id).and_then(|x| x.as_u64()).unwrap_or(0) as u8,
                });
            }
        }
        Ok(out)
    }
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n")?;
            let size_str = std::str::from_utf8(&rest[..nl]).ok()?;
            let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
        body = out;
    }
    Some(Response { status, body })
}

impl Store for InfluxStore {
    fn describe(&self) -> String {
        format!("influxdb:{}/{}", self.cfg.url, self.cfg.database)
    }

    fn write(&mut self, samples: &[Sample]) -> Result<(), StoreError> {
        if samples.is_empty() {
            return Ok(());
        }
        self.ensure_database().map_err(|e| match e {
            StoreError::Rejected(m) => StoreError::Unavailable(m),
            e => e,
        })?;
        let mut path = format!("/write?db={}&precision=ms", pct(&self.cfg.database));
        if let Some(rp) = &self.cfg.retention_policy {
            let _ = write!(path, "&rp={}", pct(rp));
        }
        path.push_str(&self.auth_query());
        // Chunks of ≤ 5000 points, as InfluxDB recommends.
        let mut body = std::mem::take(&mut self.line_buf);
        let mut result = Ok(());
        for chunk in samples.chunks(5000) {
            body.clear();
            for s in chunk {
                body.push_str(&self.cfg.measurement);
                if let Some(kind) = self.cfg.kind_of(&s.sensor) {
                    body.push_str(",kind=");
                    escape_tag(&kind, &mut body);
                }
                body.push_str(",sensor=");
                escape_tag(&s.sensor, &mut body);
                body.push(' ');
                if let Some(v) = s.value {
                    let _ = write!(body, "value={v:?},");
                }
                let _ = writeln!(
                    body,
                    "quality={}i,detail={}i {}",
                    s.quality.code(),
                    s.detail,
                    s.ts_ms
                );
            }
            if let Err(e) = self
                .request("POST", &path, body.as_bytes())
                .and_then(|r| self.check(r))
            {
                if matches!(&e, StoreError::Unavailable(m) if m.starts_with("HTTP 404")) {
                    // The database was dropped: create it again on the retry.
                    self.created = false;
                }
                result = Err(e);
                break;
            }
        }
        self.line_buf = body;
        result
    }

    fn query(&mut self, sensor: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Sample>, StoreError> {
        // Paged by time so no server row limit truncates the answer.
        // InfluxDB times are i64 nanoseconds (years 1677–2262).
        const LIMIT_MS: i64 = 9_000_000_000_000;
        let to_ms = to_ms.clamp(-LIMIT_MS, LIMIT_MS);
        let mut out: Vec<Sample> = Vec::new();
        let mut from = from_ms.clamp(-LIMIT_MS, LIMIT_MS);
        loop {
            let q = format!(
                "SELECT value, quality, detail FROM {} WHERE sensor = {} AND time >= {}ms AND time < {}ms ORDER BY time LIMIT 10000",
                quote_ident(&self.cfg.measurement),
                quote_str(sensor),
                from,
                to_ms
            );
            let page = self.select(&q, sensor)?;
            let n = page.len();
            if let Some(last) = page.last() {
                from = last.ts_ms + 1;
            }
            out.extend(page);
            if n < 10000 {
                return Ok(out);
            }
        }
    }

    fn last_timestamp(&mut self, sensor: &str) -> Result<Option<i64>, StoreError> {
        let q = format!(
            "SELECT last(quality) FROM {} WHERE sensor = {}",
            quote_ident(&self.cfg.measurement),
            quote_str(sensor)
        );
        Ok(self.select(&q, sensor)?.last().map(|s| s.ts_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked() {
        let r = parse_response(b"HTTP/1.1 204 No Content\r\nX: y\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn escapes() {
        let mut s = String::new();
        escape_tag("a b,c=d", &mut s);
        assert_eq!(s, "a\\ b\\,c\\=d");
        assert_eq!(pct("a b&c"), "a%20b%26c");
        assert_eq!(quote_str("o'k"), "'o\\'k'");
    }

    #[test]
    fn unreachable_is_unavailable() {
        // Port 1 on loopback: nothing listens there.
        let mut st = InfluxStore::new(InfluxConfig::new("http://127.0.0.1:1", "x")).unwrap();
        assert!(matches!(
            st.write(&[Sample::good("a", 1, 1.0)]),
            Err(StoreError::Unavailable(_))
        ));
        assert!(InfluxStore::new(InfluxConfig::new("https://x", "x")).is_err());
    }
}
