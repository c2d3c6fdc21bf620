//! Files from our Parquet writer read back by a real Parquet reader
//! (pyarrow, from the project venv: `scripts/setup-python`; or the Python
//! named by `AQUATWIN_PYTHON`): schema, row groups, statistics and every
//! value, bit for bit.

use std::path::{Path, PathBuf};
use std::process::Command;
use tabular::{Column, ColumnType, ParquetWriter, Value};

fn python() -> PathBuf {
    std::env::var("AQUATWIN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"))
}

fn pyarrow(script: &str, file: &Path) -> String {
    let out = Command::new(python())
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("run Python with pyarrow (scripts/setup-python)");
    assert!(
        out.status.success(),
        "pyarrow failed on {}:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).unwrap();
    dir.join(format!("{name}-{}.parquet", std::process::id()))
}

/// Prints the schema, the layout, then every row with doubles as their bits.
const DUMP: &str = r#"
import json, struct, sys
import pyarrow as pa, pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
print(";".join(f"{x.name}:{x.type}:{x.nullable}" for x in f.schema_arrow))
print(f.num_row_groups, f.metadata.num_rows, f.metadata.created_by)
for g in range(f.num_row_groups):
    rg = f.metadata.row_group(g)
    st = [rg.column(c).statistics for c in range(rg.num_columns)]
    print(rg.num_rows, " ".join(
        f"{s.null_count}/{s.min if s.has_min_max else '-'}/{s.max if s.has_min_max else '-'}"
        for s in st))
t = f.read()
t = t.set_column(0, "ts", t.column("ts").cast(pa.int64()))
bits = lambda x: "None" if x is None else str(struct.unpack("<q", struct.pack("<d", x))[0])
for r in t.to_pylist():
    print(r["ts"], r["i"], bits(r["d"]), bits(r["v"]), json.dumps(r["s"], ensure_ascii=False))
"#;

#[test]
fn pyarrow_reads_every_column_type_across_row_groups() {
    let strings = ["good", "", "héllo, wörld", "a \"quoted\" 💧", "timeout"];
    let doubles = [0.1, -0.0, 1e300, -2.5e-310, f64::NAN, 3.0];
    let path = scratch("all-types");
    let mut w = ParquetWriter::new(
        std::fs::File::create(&path).unwrap(),
        vec![
            Column::new("ts", ColumnType::TimestampMillis),
            Column::new("i", ColumnType::Int64),
            Column::new("d", ColumnType::Double),
            Column::new("v", ColumnType::NullableDouble),
            Column::new("s", ColumnType::Utf8),
        ],
    )
    .unwrap()
    .with_row_group_size(8);
    let mut expect = Vec::new();
    for k in 0..21i64 {
        let ts = 1_500_000_000_000 + 300_000 * k;
        let i = if k % 2 == 0 { -k } else { i64::MAX - k };
        let d = doubles[k as usize % doubles.len()];
        // Nulls: none in group 0 but row 5, all of group 1 from row 9, mixed after.
        let v = match k {
            5 => None,
            0..=8 => Some(k as f64 * 0.25),
            9..=15 => None,
            _ if k % 3 == 0 => None,
            _ => Some(-(k as f64)),
        };
        let s = strings[k as usize % strings.len()];
        w.write_row(&[
            Value::Int(ts),
            Value::Int(i),
            Value::Double(d),
            v.into(),
            Value::Str(s),
        ])
        .unwrap();
        let bits =
            |x: Option<f64>| x.map_or("None".to_string(), |x| (x.to_bits() as i64).to_string());
        expect.push(format!("{ts} {i} {} {} {s:?}", bits(Some(d)), bits(v)));
    }
    w.finish().unwrap();

    let got = pyarrow(DUMP, &path);
    let mut lines = got.lines();
    assert_eq!(
        lines.next().unwrap(),
        "ts:timestamp[ms, tz=UTC]:False;i:int64:False;d:double:False;v:double:True;s:string:False"
    );
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "3 21 aquatwin-tabular version {}",
            env!("CARGO_PKG_VERSION")
        )
    );
    // Row groups of 8, 8, 5 rows with their statistics (NaN left out of d's).
    let g0 = lines.next().unwrap();
    assert!(
        g0.starts_with("8 0/2017-07-14 02:40:00+00:00/2017-07-14 03:15:00+00:00 0/-6/"),
        "{g0}"
    );
    assert!(
        g0.contains(" 0/-2.5e-310/1e+300 1/-0.0/1.75 0//timeout"),
        "{g0}"
    );
    let g1 = lines.next().unwrap();
    assert!(g1.starts_with("8 ") && g1.contains(" 7/2.0/2.0 "), "{g1}");
    let g2 = lines.next().unwrap();
    assert!(g2.starts_with("5 "), "{g2}");
    assert!(g2.contains(" 1/-20.0/-16.0 "), "{g2}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows, expect);
}

#[test]
fn pyarrow_reads_a_large_table_in_bounded_row_groups() {
    let path = scratch("large");
    let mut w = ParquetWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&path).unwrap()),
        vec![
            Column::new("time_s", ColumnType::Int64),
            Column::new("node", ColumnType::Utf8),
            Column::new("head_m", ColumnType::Double),
        ],
    )
    .unwrap();
    let n = 150_000i64;
    for k in 0..n {
        let name = format!("n{}", k % 785);
        w.write_row(&[
            Value::Int(k / 785 * 300),
            Value::Str(&name),
            Value::Double(k as f64 * 0.5),
        ])
        .unwrap();
    }
    w.finish().unwrap();
    let got = pyarrow(
        r#"
import sys, pyarrow.parquet as pq, pyarrow.compute as pc
f = pq.ParquetFile(sys.argv[1]); t = f.read()
print(f.num_row_groups, t.num_rows, pc.sum(t["time_s"]).as_py(), pc.sum(t["head_m"]).as_py(),
      pc.count_distinct(t["node"]).as_py(), t["node"][149999].as_py())
"#,
        &path,
    );
    let time_sum: i64 = (0..n).map(|k| k / 785 * 300).sum();
    let head_sum = (n * (n - 1) / 2) as f64 * 0.5;
    assert_eq!(
        got.trim(),
        format!("3 150000 {time_sum} {head_sum:?} 785 n{}", 149_999 % 785)
    );
}
