//! Real peers for the integration tests: a pymodbus server, an InfluxDB
//! server (Debian's `influxd`), scratch directories under target/.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A fresh directory under target/.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("telemetry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("AQUATWIN_PYTHON") {
        return p.into();
    }
    let p = root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "no Python venv at {} (run scripts/setup-python, or set AQUATWIN_PYTHON)",
        p.display()
    );
    p
}

/// pymodbus serving the registers of tests/peers/pymodbus_server.py.
pub struct PyModbus {
    child: Child,
    pub port: u16,
    pub fc_log: PathBuf,
}

impl PyModbus {
    pub fn start(dir: &Path) -> PyModbus {
        let port = free_port();
        let fc_log = dir.join("function-codes.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pymodbus_server.py");
        let mut child = Command::new(python())
            .arg(&script)
            .arg(port.to_string())
            .arg(&fc_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start pymodbus server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "pymodbus server did not start");
        PyModbus {
            child,
            port,
            fc_log,
        }
    }

    /// Function codes received so far.
    pub fn function_codes(&self) -> Vec<u8> {
        std::fs::read_to_string(&self.fc_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

impl Drop for PyModbus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// InfluxDB 1.x (Debian `influxdb`) on loopback with its data under target/.
pub struct Influx {
    child: Option<Child>,
    conf: PathBuf,
    pub port: u16,
    log: PathBuf,
}

impl Influx {
    pub fn start(dir: &Path) -> Influx {
        let influxd = ["/usr/bin/influxd", "/usr/sbin/influxd"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("influxd not found: install Debian's `influxdb` (scripts/test does, from scripts/apt-packages)");
        let out = Command::new(&influxd)
            .arg("config")
            .output()
            .expect("influxd config");
        let port = free_port();
        let rpc = free_port();
        let data = dir.join("influxdb");
        std::fs::create_dir_all(&data).unwrap();
        let mut conf = String::from_utf8_lossy(&out.stdout)
            .replace("/var/lib/influxdb", &data.display().to_string())
            .replace(
                "bind-address = \":8086\"",
                &format!("bind-address = \"127.0.0.1:{port}\""),
            )
            .replace(
                "bind-address = \"127.0.0.1:8088\"",
                &format!("bind-address = \"127.0.0.1:{rpc}\""),
            )
            .replace("reporting-disabled = false", "reporting-disabled = true")
            .replace("query-log-enabled = true", "query-log-enabled = false")
            .replace("log-enabled = true", "log-enabled = false");
        if !conf.contains("reporting-disabled") {
            conf = format!("reporting-disabled = true\n{conf}");
        }
        let conf_path = dir.join("influxdb.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut i = Influx {
            child: None,
            conf: conf_path,
            port,
            log: dir.join("influxd.log"),
        };
        i.spawn(&influxd);
        i
    }

    fn spawn(&mut self, influxd: &Path) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(influxd)
            .arg("-config")
            .arg(&self.conf)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start influxd");
        self.child = Some(child);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if ping(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "influxd did not answer /ping within 30 s; see {}",
            self.log.display()
        );
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn(Path::new("/usr/bin/influxd"));
    }
}

impl Drop for Influx {
    fn drop(&mut self) {
        self.kill();
    }
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf.starts_with(b"HTTP/1.1 204")
}

/// Checks that, per sensor, samples sit on every tick of the grid from the
/// first to the last, exactly once. Returns the number of ticks.
pub fn assert_complete_grid(samples: &[telemetry::Sample], interval_ms: i64) -> usize {
    assert!(!samples.is_empty());
    for w in samples.windows(2) {
        assert_eq!(
            w[1].ts_ms - w[0].ts_ms,
            interval_ms,
            "sensor {}: a tick lost or duplicated between {} and {}",
            w[0].sensor,
            w[0].ts_ms,
            w[1].ts_ms
        );
    }
    samples.len()
}

/// Per sensor: (expected, stored, lost, duplicated) ticks on the grid of
/// `interval_ms` from `from_ms` to `to_ms` (both on the grid, inclusive),
/// counted from what the store returned.
pub fn grid_counts(
    samples: &[telemetry::Sample],
    interval_ms: i64,
    from_ms: i64,
    to_ms: i64,
) -> (usize, usize, usize, usize) {
    let expected = ((to_ms - from_ms) / interval_ms + 1) as usize;
    let in_range: Vec<i64> = samples
        .iter()
        .map(|s| s.ts_ms)
        .filter(|t| (from_ms..=to_ms).contains(t))
        .collect();
    let mut distinct = in_range.clone();
    distinct.sort();
    distinct.dedup();
    let off_grid = distinct
        .iter()
        .filter(|t| (*t - from_ms) % interval_ms != 0)
        .count();
    let on_grid = distinct.len() - off_grid;
    (
        expected,
        in_range.len(),
        expected - on_grid,
        in_range.len() - distinct.len() + off_grid,
    )
}

/// Waits for `cond`, polling every 50 ms, at most `secs` seconds.
pub fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A second process (Python's sqlite3) holding the SQLite write lock
/// (`BEGIN EXCLUSIVE`) on `db` until [`SqliteLocker::release`] or drop.
pub struct SqliteLocker {
    child: Child,
}

impl SqliteLocker {
    /// Returns once the lock is held.
    pub fn lock(db: &Path) -> SqliteLocker {
        let code = "import sqlite3, sys\n\
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n\
c.execute('BEGIN EXCLUSIVE')\n\
print('locked', flush=True)\n\
sys.stdin.readline()\n\
c.execute('COMMIT')\n\
print('released', flush=True)\n";
        let mut child = Command::new(python())
            .arg("-c")
            .arg(code)
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot start python");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "locked", "the locker did not get the lock");
        child.stdout = Some(out.into_inner());
        SqliteLocker { child }
    }

    pub fn release(mut self) {
        use std::io::Write;
        let _ = self.child.stdin.as_mut().unwrap().write_all(b"\n");
        let _ = self.child.stdin.as_mut().unwrap().flush();
        let st = self.child.wait().unwrap();
        assert!(st.success(), "the locker failed");
    }
}

impl Drop for SqliteLocker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sensor map of one device `name` at 127.0.0.1:`port`, polled every
/// 0.2 s: pressure `p` (holding register 0) and tank level `lvl` (input
/// register 0), two tables so two requests per tick.
pub fn two_sensor_map(name: &str, port: u16) -> String {
    format!(
        r#"
[[device]]
name = "{name}"
host = "127.0.0.1"
port = {port}
poll_interval_s = 0.2
timeout_ms = 150

[[sensor]]
tag = "p"
kind = "pressure"
node = "a"
unit = "m"
interval_s = 1
range = [0, 100]
modbus = {{ device = "{name}", table = "holding", address = 0, type = "f32" }}

[[sensor]]
tag = "lvl"
kind = "tank_level"
node = "t"
unit = "m"
interval_s = 1
range = [0, 10]
modbus = {{ device = "{name}", table = "input", address = 0, type = "f32" }}
"#
    )
}
