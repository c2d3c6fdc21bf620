//! `aquatwin ingest` killed with SIGKILL and restarted, polling
//! `aquatwin field-sim`: afterwards every tick of every sensor is in the
//! store exactly once — the ticks polled before the kill (as read: each tick
//! is journaled to disk as soon as it is read), the ticks while aquatwin was
//! down (recorded as comms lost, detail 1), the ticks after.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::networks_dir;

#[test]
fn ingest_sigkilled_and_restarted_loses_and_duplicates_nothing() {
    let exe = env!("CARGO_BIN_EXE_aquatwin");
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sigkill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let map = format!(
        r#"
[[device]]
name = "rtu"
host = "127.0.0.1"
port = {port}
poll_interval_s = 0.2
timeout_ms = 150
[[sensor]]
tag = "P11"
kind = "pressure"
node = "11"
unit = "psi"
interval_s = 1
range = [0, 500]
modbus = {{ device = "rtu", table = "input", address = 0, type = "f32" }}
[[sensor]]
tag = "Q10"
kind = "flow"
link = "10"
unit = "gpm"
interval_s = 1
range = [0, 5000]
modbus = {{ device = "rtu", table = "holding", address = 0, type = "i32", scale = 0.1 }}
"#
    );
    std::fs::write(dir.join("map.toml"), map).unwrap();
    std::fs::write(
        dir.join("twin.toml"),
        "sensors = \"map.toml\"\n[store]\nbackend = \"sqlite\"\npath = \"db.sqlite\"\n[ingest]\nbatch_ms = 200\n",
    )
    .unwrap();
    let net = networks_dir().join("Net1.inp");
    let mut sim = Command::new(exe)
        .args(["field-sim", "--sensors"])
        .arg(dir.join("map.toml"))
        .arg("--network")
        .arg(&net)
        .args(["--update", "0.1", "--duration", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready"), "field-sim: {line}");

    let ingest = |extra: &[&str]| {
        Command::new(exe)
            .args(["ingest", "--config"])
            .arg(dir.join("twin.toml"))
            .args(extra)
            .env("AQUATWIN_LOG", "warn")
            .spawn()
            .unwrap()
    };
    let mut first = ingest(&[]);
    std::thread::sleep(Duration::from_millis(2500));
    let kill_ms = telemetry::time::now_ms();
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let st = ingest(&["--duration", "2.5"]).wait().unwrap();
    assert!(st.success());
    let _ = sim.kill();
    let _ = sim.wait();

    for tag in ["P11", "Q10"] {
        let out = Command::new(exe)
            .args(["export", "--config"])
            .arg(dir.join("twin.toml"))
            .args([
                "--sensor",
                tag,
                "--from",
                "2000-01-01",
                "--to",
                "2200-01-01",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let rows: Vec<(i64, String)> = text
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    telemetry::time::parse_timestamp(f[0]).unwrap(),
                    f[2].to_string(),
                )
            })
            .collect();
        assert!(rows.len() >= 20, "{tag}: {} rows", rows.len());
        for w in rows.windows(2) {
            assert_eq!(
                w[1].0 - w[0].0,
                200,
                "{tag}: tick lost or duplicated at {}",
                w[0].0
            );
        }
        // Every tick read before the kill is kept as read: only a tick
        // polled in the last moments (its read under way) may be marked.
        let mislabelled: Vec<i64> = rows
            .iter()
            .filter(|r| r.1 == "comms_lost" && r.0 < kill_ms - 150)
            .map(|r| r.0)
            .collect();
        let first_lost = rows.iter().find(|r| r.1 == "comms_lost").map(|r| r.0);
        assert!(
            mislabelled.is_empty(),
            "{tag}: ticks read before the kill at {kill_ms} stored as comms_lost: {mislabelled:?}"
        );
        let lost = rows.iter().filter(|r| r.1 == "comms_lost").count();
        let good = rows.iter().filter(|r| r.1 == "good").count();
        assert!(
            lost >= 4,
            "{tag}: the {lost} ticks while aquatwin was down are recorded"
        );
        assert_eq!(
            good + lost,
            rows.len(),
            "{tag}: only good and comms_lost expected"
        );
        eprintln!(
            "{tag}: {} ticks, {good} good, {lost} recorded as aquatwin-down (first {} ms after the kill)",
            rows.len(),
            first_lost.map_or(0, |t| t - kill_ms)
        );
    }
}

/// `[ingest] fail_exit_s`: with the SQLite store write-locked by a second
/// process (Python's sqlite3, `BEGIN EXCLUSIVE`), `aquatwin ingest` exits
/// with code 3, its health file says so, and the samples stay buffered.
#[test]
fn ingest_exits_3_after_fail_exit_s_of_store_failure() {
    let exe = env!("CARGO_BIN_EXE_aquatwin");
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fail-exit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // No device listens on the port: every tick is stored as comms lost,
    // which is enough to exercise the store.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("map.toml"),
        format!(
            "[[device]]\nname = \"rtu\"\nhost = \"127.0.0.1\"\nport = {port}\npoll_interval_s = 0.2\ntimeout_ms = 100\n\
             [[sensor]]\ntag = \"P\"\nkind = \"pressure\"\nnode = \"a\"\nunit = \"m\"\ninterval_s = 1\nrange = [0, 100]\n\
             modbus = {{ device = \"rtu\", table = \"input\", address = 0, type = \"f32\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("twin.toml"),
        "sensors = \"map.toml\"\n[store]\nbackend = \"sqlite\"\npath = \"db.sqlite\"\nbusy_timeout_s = 0.3\n\
         [ingest]\nbatch_ms = 200\nfail_exit_s = 1.5\nhealth_file = \"health.json\"\n",
    )
    .unwrap();
    // Create the store, then lock it.
    let st = Command::new(exe)
        .args(["ingest", "--duration", "0.5", "--config"])
        .arg(dir.join("twin.toml"))
        .env("AQUATWIN_LOG", "warn")
        .status()
        .unwrap();
    assert!(st.success());
    let python = std::env::var_os("AQUATWIN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    let mut locker = Command::new(python)
        .arg("-c")
        .arg("import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\nsys.stdin.readline()\n")
        .arg(dir.join("db.sqlite"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(locker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let out = Command::new(exe)
        .args(["ingest", "--duration", "60", "--config"])
        .arg(dir.join("twin.toml"))
        .env("AQUATWIN_LOG", "warn")
        .output()
        .unwrap();
    let _ = locker.kill();
    let _ = locker.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("database is locked"), "{err}");
    assert!(
        err.contains("WARN"),
        "the failure is logged at warn level: {err}"
    );
    let health = std::fs::read_to_string(dir.join("health.json")).unwrap();
    assert!(
        health.contains("\"last_error\":\"sqlite: database is locked\""),
        "{health}"
    );
    let buffered = telemetry::store::buffer::DiskBuffer::read_all(&dir.join("db.buffer")).unwrap();
    assert!(!buffered.is_empty(), "the samples stay in the buffer");
}
