//! `--format parquet` of `simulate` and `export`, read back by a real
//! Parquet reader (pyarrow in the project venv, `scripts/setup-python`, or
//! the Python named by `AQUATWIN_PYTHON`): same columns, types, row counts
//! and values as the CSV the same command writes.

mod support;

use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{networks_dir, root};
use telemetry::store::sqlite::SqliteStore;
use telemetry::store::Store;
use telemetry::time::format_timestamp;
use telemetry::{Quality, Sample};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn aquatwin(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_aquatwin"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "aquatwin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The file as pyarrow reads it: `schema` ([name, arrow type, nullable]),
/// `rows`, `row_groups`, and `columns` (timestamps as epoch milliseconds,
/// doubles as Python's round-trip text, parsed exactly by [`double`]).
fn pyarrow_read(file: &Path) -> Json {
    let python = std::env::var("AQUATWIN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".venv/bin/python"));
    let script = r#"
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
t = f.read()
cols = {}
for name, col in zip(t.column_names, t.columns):
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.int64())
    vals = col.to_pylist()
    if pa.types.is_floating(col.type):  # as text: shortest round-trip repr
        vals = [None if x is None else repr(x) for x in vals]
    cols[name] = vals
print(json.dumps({
    "schema": [[x.name, str(x.type), x.nullable] for x in f.schema_arrow],
    "rows": t.num_rows, "row_groups": f.num_row_groups, "columns": cols}))
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("run Python with pyarrow (scripts/setup-python)");
    assert!(
        out.status.success(),
        "pyarrow cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn double(v: &Json) -> f64 {
    v.as_str().expect("a double").parse().unwrap()
}

fn csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Every cell of the Parquet table against the CSV one. `tol` bounds the
/// difference of doubles (the CSV may round them).
fn assert_same_table(pq: &Json, csv_text: &str, types: &[&str], tol: f64, what: &str) {
    let (header, rows) = csv(csv_text);
    let schema: Vec<(String, String)> = pq["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f[0].as_str().unwrap().to_string(),
                f[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&String> = schema.iter().map(|f| &f.0).collect();
    assert_eq!(names, header.iter().collect::<Vec<_>>(), "{what}: columns");
    let got_types: Vec<&str> = schema.iter().map(|f| f.1.as_str()).collect();
    assert_eq!(got_types, types, "{what}: types");
    assert_eq!(
        pq["rows"].as_u64().unwrap() as usize,
        rows.len(),
        "{what}: rows"
    );
    assert!(!rows.is_empty(), "{what}: empty");
    for (c, (name, ty)) in schema.iter().enumerate() {
        let col = pq["columns"][name].as_array().unwrap();
        for (r, row) in rows.iter().enumerate() {
            let (cell, v) = (&row[c], &col[r]);
            let at = format!("{what}: row {r} column {name}: csv '{cell}', parquet {v}");
            match ty.as_str() {
                "string" => assert_eq!(v.as_str(), Some(cell.as_str()), "{at}"),
                "int64" => assert_eq!(v.as_i64(), Some(cell.parse().unwrap()), "{at}"),
                t if t.starts_with("timestamp") => {
                    assert_eq!(format_timestamp(v.as_i64().unwrap()), *cell, "{at}")
                }
                "double" if cell.is_empty() => assert!(v.is_null(), "{at}"),
                "double" => {
                    let (a, b) = (double(v), cell.parse::<f64>().unwrap());
                    assert!((a - b).abs() <= tol, "{at}");
                }
                _ => panic!("{at}: unexpected type"),
            }
        }
    }
}

#[test]
fn simulate_parquet_matches_csv_on_net1() {
    let net = networks_dir().join("Net1.inp");
    let net = net.to_str().unwrap();
    let dir = scratch("simulate-parquet");
    let (csv_dir, pq_dir) = (dir.join("csv"), dir.join("parquet"));
    aquatwin(&["simulate", net, "--out", csv_dir.to_str().unwrap()]);
    aquatwin(&[
        "simulate",
        net,
        "--out",
        pq_dir.to_str().unwrap(),
        "--format",
        "parquet",
    ]);
    assert!(!pq_dir.join("nodes.csv").exists() && !pq_dir.join("links.csv").exists());

    let nodes = pyarrow_read(&pq_dir.join("nodes.parquet"));
    let nodes_csv = std::fs::read_to_string(csv_dir.join("nodes.csv")).unwrap();
    // Net1: 11 nodes × 25 hourly reports; the CSV rounds node values to 1e-6.
    assert_eq!(nodes["rows"], 275);
    assert_eq!(nodes["row_groups"], 1);
    assert_same_table(
        &nodes,
        &nodes_csv,
        &["int64", "string", "double", "double", "double"],
        5.000_001e-7,
        "nodes",
    );
    let links = pyarrow_read(&pq_dir.join("links.parquet"));
    let links_csv = std::fs::read_to_string(csv_dir.join("links.csv")).unwrap();
    assert_eq!(links["rows"], 13 * 25);
    // Link values are written in full in both: equal exactly.
    assert_same_table(
        &links,
        &links_csv,
        &["int64", "string", "double", "double", "double", "string"],
        0.0,
        "links",
    );
    let status = links["columns"]["status"].as_array().unwrap();
    assert!(status.iter().any(|s| s == "OPEN") && status.iter().any(|s| s == "CLOSED"));
}

#[test]
fn export_parquet_matches_csv_on_a_small_store() {
    let dir = scratch("export-parquet");
    std::fs::write(
        dir.join("map.toml"),
        r#"
[[device]]
name = "rtu"
host = "127.0.0.1"
port = 5020
[[sensor]]
tag = "P11"
kind = "pressure"
node = "11"
unit = "psi"
interval_s = 60
range = [0, 500]
modbus = { device = "rtu", table = "input", address = 0, type = "f32" }
[[sensor]]
tag = "Q10"
kind = "flow"
link = "10"
unit = "gpm"
interval_s = 60
range = [0, 5000]
modbus = { device = "rtu", table = "holding", address = 2, type = "f32" }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("twin.toml"),
        "sensors = \"map.toml\"\n[store]\nbackend = \"sqlite\"\npath = \"db.sqlite\"\n",
    )
    .unwrap();
    // 2024-03-01 00:00 UTC, one sample a minute for an hour, with gaps and
    // every kind of quality; another sensor's samples must not leak in.
    let t0 = 1_709_251_200_000i64;
    let mut samples = Vec::new();
    for k in 0..60i64 {
        let ts = t0 + k * 60_000 + if k == 7 { 123 } else { 0 };
        let q = Quality::ALL[(k as usize / 5) % Quality::ALL.len()];
        let s = match q {
            Quality::Good | Quality::OutOfRange | Quality::Stale => Sample {
                quality: q,
                ..Sample::good("P11", ts, 30.0 + (k as f64) * 0.1 + 1.0 / 3.0)
            },
            _ => Sample::missing("P11", ts, q, 0),
        };
        samples.push(s);
        samples.push(Sample::good("Q10", ts, 0.05));
    }
    let mut store = SqliteStore::open(&dir.join("db.sqlite")).unwrap();
    store.write(&samples).unwrap();
    drop(store);

    let config = dir.join("twin.toml");
    let export = |extra: &[&str]| -> (String, Json) {
        let mut args = vec![
            "export",
            "--config",
            config.to_str().unwrap(),
            "--sensor",
            "P11",
        ];
        args.extend(["--from", "2024-03-01 00:10", "--to", "2024-03-01 00:55"]);
        args.extend(extra);
        let csv = String::from_utf8(aquatwin(&args).stdout).unwrap();
        let file = dir.join("out.parquet");
        let mut args = args.clone();
        args.extend(["--format", "parquet", "--output", file.to_str().unwrap()]);
        aquatwin(&args);
        (csv, pyarrow_read(&file))
    };

    let (csv_text, pq) = export(&[]);
    assert_eq!(pq["rows"], 45);
    assert_eq!(
        pq["schema"],
        serde_json::json!([
            ["timestamp", "timestamp[ms, tz=UTC]", false],
            ["P11_m", "double", true],
            ["quality", "string", false]
        ])
    );
    assert_same_table(
        &pq,
        &csv_text,
        &["timestamp[ms, tz=UTC]", "double", "string"],
        0.0,
        "export",
    );
    let values = pq["columns"]["P11_m"].as_array().unwrap();
    assert!(values.iter().any(|v| v.is_null()) && values.iter().any(|v| v.is_string()));
    assert_eq!(pq["columns"]["timestamp"][0], t0 + 10 * 60_000);

    // Resampled: no quality column, empty steps are nulls.
    let (csv_text, pq) = export(&["--step", "300"]);
    assert_eq!(pq["rows"], 9);
    assert_same_table(
        &pq,
        &csv_text,
        &["timestamp[ms, tz=UTC]", "double"],
        0.0,
        "export --step",
    );
    assert!(pq["columns"]["P11_m"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v.is_null()));

    // Parquet also streams to standard output (not a terminal here).
    let mut args = vec![
        "export",
        "--config",
        config.to_str().unwrap(),
        "--sensor",
        "P11",
    ];
    args.extend([
        "--from",
        "2024-03-01",
        "--to",
        "2024-03-02",
        "--format",
        "parquet",
    ]);
    let out = aquatwin(&args).stdout;
    assert_eq!(
        (&out[..4], &out[out.len() - 4..]),
        (&b"PAR1"[..], &b"PAR1"[..])
    );
}
