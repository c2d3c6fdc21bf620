//! Parse-time benchmark of the `.inp` reader (used by `scripts/bench-parse`).
//!
//!     parse_bench [--repeat N] NET.inp [NET2.inp ...]
//!
//! Reads each file into memory once, then times `parse_inp_bytes` N times
//! (default 5) and prints one JSON line per file with the best time in ms.

use std::time::Instant;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut repeat = 5usize;
    if let Some(i) = args.iter().position(|a| a == "--repeat") {
        let n = args.get(i + 1).and_then(|v| v.parse().ok());
        let Some(n) = n else {
            eprintln!("error: --repeat needs a positive whole number");
            std::process::exit(2);
        };
        repeat = n;
        args.drain(i..i + 2);
    }
    if args.is_empty() || repeat == 0 {
        eprintln!("usage: parse_bench [--repeat N] NET.inp [NET2.inp ...]");
        std::process::exit(2);
    }
    for path in &args {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                std::process::exit(1);
            }
        };
        let mut best = f64::INFINITY;
        for _ in 0..repeat {
            let t0 = Instant::now();
            let r = network::inp::parse_inp_bytes(&bytes, path);
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            if let Err(e) = r {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
            best = best.min(ms);
        }
        let name = std::path::Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!(
            "{{\"file\": \"{name}\", \"bytes\": {}, \"parse_ms\": {best:.3}}}",
            bytes.len()
        );
    }
}
