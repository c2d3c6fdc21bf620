//! Write throughput of a store: `bench_store sqlite PATH N` or
//! `bench_store influx URL N`. Writes N samples (200 sensors, one-second
//! ticks) through a BufferedStore in batches of 10 000; prints samples/s.

use std::time::Instant;
use telemetry::store::buffer::BufferedStore;
use telemetry::store::influx::{InfluxConfig, InfluxStore};
use telemetry::store::sqlite::SqliteStore;
use telemetry::store::Store;
use telemetry::Sample;

fn run<S: Store>(store: S, buf: &std::path::Path, n: usize) {
    let name = store.describe();
    let mut bs = BufferedStore::open(store, buf).unwrap();
    let tags: Vec<String> = (0..200)
        .map(|i| format!("dev{:03}_s{}", i / 10, i % 10))
        .collect();
    let t0 = Instant::now();
    let mut done = 0;
    let mut tick = 0i64;
    let mut batch = Vec::with_capacity(10_000);
    while done < n {
        batch.clear();
        while batch.len() < 10_000 {
            for t in &tags {
                batch.push(Sample::good(
                    t,
                    1_700_000_000_000 + tick * 1000,
                    tick as f64 * 0.01,
                ));
            }
            tick += 1;
        }
        bs.write(&batch).unwrap();
        done += batch.len();
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "{name}: {done} samples in {s:.2} s = {:.0} samples/s",
        done as f64 / s
    );
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n: usize = a.get(3).and_then(|x| x.parse().ok()).unwrap_or(1_000_000);
    let buf = std::env::temp_dir().join(format!("bench-buffer-{}", std::process::id()));
    match a.get(1).map(String::as_str) {
        Some("sqlite") => run(
            SqliteStore::open(std::path::Path::new(&a[2])).unwrap(),
            &buf,
            n,
        ),
        Some("influx") => run(
            InfluxStore::new(InfluxConfig::new(&a[2], "aquatwin_bench")).unwrap(),
            &buf,
            n,
        ),
        _ => eprintln!("usage: bench_store sqlite PATH N | influx URL N"),
    }
}
