//! What the `aquatwin` integration tests share: where the repository and
//! the networks are, running the binary, a free loopback port, a plain
//! HTTP/1.1 GET.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The benchmark networks: `AQUATWIN_NETWORKS`, else `../shared/networks`,
/// else `network-models/benchmark`.
pub fn networks_dir() -> PathBuf {
    if let Ok(d) = std::env::var("AQUATWIN_NETWORKS") {
        return d.into();
    }
    let shared = root().join("../shared/networks");
    if shared.is_dir() {
        shared
    } else {
        root().join("network-models/benchmark")
    }
}

/// The binary under test.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_aquatwin")
}

/// Runs `aquatwin ARGS` (without a token in the environment).
pub fn aquatwin(args: &[&str]) -> Output {
    Command::new(exe())
        .args(args)
        .env_remove("AQUATWIN_TOKEN")
        .output()
        .expect("run aquatwin")
}

/// Runs `aquatwin ARGS`, which must succeed; its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = aquatwin(args);
    assert!(
        out.status.success(),
        "aquatwin {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` from `host:port` over plain HTTP/1.1: the body of a 200
/// answer (chunked bodies joined), `None` otherwise or when nobody answers.
pub fn http_get(host_port: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(host_port).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].strip_prefix("\r\n").unwrap_or(&tail[n..]);
        }
        Some(out)
    } else {
        Some(body.to_string())
    }
}

/// A 10-day L-Town scenario with one abrupt 6–8 L/s burst (seed 7), its
/// SCADA files in `out`.
pub fn ltown_burst_scenario(out: &Path) {
    let s = |p: &Path| p.display().to_string();
    ok(&[
        "scenario",
        "--network",
        &s(&networks_dir().join("L-TOWN.inp")),
        "--sensors",
        &s(&root().join("sensors/ltown-battledim.toml")),
        "--days",
        "10",
        "--leaks",
        "1",
        "--seed",
        "7",
        "--min-leak-lps",
        "6",
        "--max-leak-lps",
        "8",
        "--incipient-share",
        "0",
        "--out",
        &s(out),
    ]);
}

/// Writes `dir/twin.toml`: the sensor map `sensors` on the network `net`,
/// a SQLite store `store.sqlite`, the twin's state in `state`, and `more`
/// lines after those (more sections, or more `[twin]` keys when they do not
/// start with a section). Returns its path.
pub fn sqlite_twin_config(dir: &Path, sensors: &Path, net: &Path, more: &str) -> String {
    let config = dir.join("twin.toml");
    std::fs::write(
        &config,
        format!(
            "sensors = {:?}\nnetwork = {:?}\n[store]\nbackend = \"sqlite\"\npath = \"store.sqlite\"\n\
             [twin]\nstate_dir = \"state\"\n{more}",
            sensors.display().to_string(),
            net.display().to_string()
        ),
    )
    .unwrap();
    config.display().to_string()
}

/// Imports the SCADA files of `dir` (`SCADA_Pressures.csv`, `…Flows`,
/// `…Levels`, `…Demands`, those present) into the twin of `config`, then
/// trains it on their first week (2019-01-01 to 2019-01-08).
pub fn import_and_train_first_week(dir: &Path, config: &str) {
    for kind in ["Pressures", "Flows", "Levels", "Demands"] {
        let f = dir.join(format!("SCADA_{kind}.csv"));
        if f.exists() {
            ok(&["import-scada", &f.display().to_string(), "--config", config]);
        }
    }
    ok(&[
        "train",
        "--config",
        config,
        "--from",
        "2019-01-01 00:00",
        "--to",
        "2019-01-08 00:00",
    ]);
}
