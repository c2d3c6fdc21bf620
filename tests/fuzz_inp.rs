//! Mutational fuzzing of the `.inp` reader and writer, seeded by the
//! benchmark networks and the malformed examples. For every mutated input:
//! the reader must not panic; when it accepts a model, writing that model
//! and reading it back must succeed and give the same model.
//!
//! A short run (`AQUATWIN_FUZZ_EXECS`, default 3000) is part of the test
//! suite; `scripts/fuzz-inp N` runs N executions with a random seed.
//! Environment: `AQUATWIN_FUZZ_EXECS`, `AQUATWIN_FUZZ_SEED`,
//! `AQUATWIN_FUZZ_THREADS`. Failing inputs are saved to `target/fuzz-failures/`.

use conformance::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const EXTREMES: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "0.1",
    "1e308",
    "-1e308",
    "1.8e308",
    "1e-320",
    "5e-324",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "infinity",
    "1e400",
    "99999999999999999999999",
    "2147483648",
    "-2147483649",
    "18446744073709551616",
    "4294967296",
    "1e15",
    "0x10",
    "1,5",
    "+",
    "-",
    ".",
    "e5",
    "1e",
    "24:00",
    "1:60:60",
    "::",
    "12 AM",
    "13",
    "PM",
    "\"\"",
    "*",
    "",
];

const KEYWORDS: &[&str] = &[
    "OPEN",
    "CLOSED",
    "CV",
    "ACTIVE",
    "PRV",
    "PSV",
    "PBV",
    "FCV",
    "TCV",
    "GPV",
    "PCV",
    "HEAD",
    "POWER",
    "SPEED",
    "PATTERN",
    "IF",
    "AND",
    "OR",
    "THEN",
    "ELSE",
    "PRIORITY",
    "RULE",
    "NODE",
    "LINK",
    "TANK",
    "PUMP",
    "PIPE",
    "VALVE",
    "SYSTEM",
    "LEVEL",
    "PRESSURE",
    "STATUS",
    "SETTING",
    "TIME",
    "CLOCKTIME",
    "ABOVE",
    "BELOW",
    "AT",
    "TRACE",
    "AGE",
    "CHEMICAL",
    "PDA",
    "DDA",
    "UNITS",
    "GPM",
    "LPS",
    "CMS",
    "CFS",
    "MGD",
    "SI",
    "H-W",
    "D-W",
    "C-M",
    "DURATION",
    "HYDRAULIC",
    "TIMESTEP",
    "REPORT",
    "START",
    "CLOCKTIME",
    "GLOBAL",
    "EFFIC",
    "PRICE",
    "DEMAND",
    "CHARGE",
    "BULK",
    "WALL",
    "ORDER",
    "MIXED",
    "2COMP",
    "FIFO",
    "LIFO",
    "CONCEN",
    "MASS",
    "SETPOINT",
    "FLOWPACED",
    "YES",
    "NO",
    "DISABLED",
    "MINIMUM",
    "REQUIRED",
    "EXPONENT",
    "MODEL",
    "TRIALS",
    "ACCURACY",
    "UNBALANCED",
    "CONTINUE",
    "STOP",
    "SECONDS",
    "MIN",
    "HOURS",
    "DAYS",
    "AM",
    "PM",
];

const HEADERS: &[&str] = &[
    "[TITLE]",
    "[JUNCTIONS]",
    "[RESERVOIRS]",
    "[TANKS]",
    "[PIPES]",
    "[PUMPS]",
    "[VALVES]",
    "[DEMANDS]",
    "[EMITTERS]",
    "[LEAKAGE]",
    "[STATUS]",
    "[PATTERNS]",
    "[CURVES]",
    "[CONTROLS]",
    "[RULES]",
    "[ENERGY]",
    "[QUALITY]",
    "[SOURCES]",
    "[REACTIONS]",
    "[MIXING]",
    "[OPTIONS]",
    "[TIMES]",
    "[REPORT]",
    "[COORD]",
    "[VERTICES]",
    "[LABELS]",
    "[TAGS]",
    "[BACKDROP]",
    "[END]",
    "[FOO]",
    "[",
    "[]",
];

/// Seed inputs. Files over 64 KiB are reduced to their first lines per
/// section so that each execution stays fast while every section is kept.
fn seeds() -> Vec<Vec<u8>> {
    let mut files = network_files();
    files.extend(
        std::fs::read_dir(root().join("tests/malformed"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    let mut out = Vec::new();
    for f in files {
        let b = std::fs::read(&f).unwrap();
        if b.len() <= 64 * 1024 {
            out.push(b);
            continue;
        }
        let mut reduced = Vec::new();
        let mut in_section = 0usize;
        for line in b.split(|&c| c == b'\n') {
            if line.first() == Some(&b'[') {
                in_section = 0;
            }
            if in_section < 40 {
                reduced.extend_from_slice(line);
                reduced.push(b'\n');
            }
            in_section += 1;
        }
        out.push(reduced);
    }
    out
}

fn lines(b: &[u8]) -> Vec<Vec<u8>> {
    b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect()
}

fn join(v: &[Vec<u8>]) -> Vec<u8> {
    v.join(&b'\n')
}

/// Token (start, end) positions of a line, split on blanks.
fn token_spans(l: &[u8]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < l.len() {
        while i < l.len() && (l[i] == b' ' || l[i] == b'\t') {
            i += 1;
        }
        let s = i;
        while i < l.len() && l[i] != b' ' && l[i] != b'\t' {
            i += 1;
        }
        if i > s {
            v.push((s, i));
        }
    }
    v
}

fn replace_token(rng: &mut Rng, ls: &mut [Vec<u8>], with: &[u8]) {
    if ls.is_empty() {
        return;
    }
    let li = rng.below(ls.len());
    let spans = token_spans(&ls[li]);
    if spans.is_empty() {
        return;
    }
    let (s, e) = *rng.pick(&spans);
    ls[li].splice(s..e, with.iter().copied());
}

fn mutate(rng: &mut Rng, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(14) {
            0 => {
                // Flip bits of a byte.
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
            1 => {
                // Insert an interesting byte.
                let bytes = [
                    0u8, b'\r', b'\n', b'"', b';', b'[', b']', b' ', b'\t', 0xA0, 0xFF, 0xC3, b':',
                ];
                let i = rng.below(b.len() + 1);
                b.insert(i, *rng.pick(&bytes));
            }
            2 => {
                // Delete a byte range.
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    let n = 1 + rng.below(16.min(b.len() - i));
                    b.drain(i..i + n);
                }
            }
            3 | 4 => {
                let mut ls = lines(&b);
                let n = ls.len();
                match rng.below(4) {
                    0 if n > 1 => {
                        ls.remove(rng.below(n));
                    }
                    1 => {
                        let l = ls[rng.below(n)].clone();
                        ls.insert(rng.below(n + 1), l);
                    }
                    2 => {
                        let (i, j) = (rng.below(n), rng.below(n));
                        ls.swap(i, j);
                    }
                    _ => {
                        // Truncate a line.
                        let i = rng.below(n);
                        let k = rng.below(ls[i].len() + 1);
                        ls[i].truncate(k);
                    }
                }
                b = join(&ls);
            }
            5 | 6 => {
                let mut ls = lines(&b);
                let with = rng.pick(EXTREMES).as_bytes().to_vec();
                replace_token(rng, &mut ls, &with);
                b = join(&ls);
            }
            7 => {
                let mut ls = lines(&b);
                let with = rng.pick(KEYWORDS).as_bytes().to_vec();
                replace_token(rng, &mut ls, &with);
                b = join(&ls);
            }
            8 => {
                // Swap two tokens within a line.
                let mut ls = lines(&b);
                let li = rng.below(ls.len());
                let spans = token_spans(&ls[li]);
                if spans.len() >= 2 {
                    let (a, c) = (rng.below(spans.len()), rng.below(spans.len()));
                    let mut toks: Vec<Vec<u8>> =
                        spans.iter().map(|&(s, e)| ls[li][s..e].to_vec()).collect();
                    toks.swap(a, c);
                    ls[li] = toks.join(&b' ');
                }
                b = join(&ls);
            }
            9 => {
                // Insert a section header.
                let mut ls = lines(&b);
                let i = rng.below(ls.len() + 1);
                ls.insert(i, rng.pick(HEADERS).as_bytes().to_vec());
                b = join(&ls);
            }
            10 => {
                // Splice a line from another seed.
                let other = lines(&seeds[rng.below(seeds.len())]);
                let l = rng.pick(&other).clone();
                let mut ls = lines(&b);
                let i = rng.below(ls.len() + 1);
                ls.insert(i, l);
                b = join(&ls);
            }
            11 => {
                // An ID at and beyond the 31-character limit, or a quoted one.
                let mut ls = lines(&b);
                let ids: [&[u8]; 4] = [
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
                    b"\"a b\"",
                    "\u{e9}t\u{e9}".as_bytes(),
                ];
                let with = rng.pick(&ids).to_vec();
                replace_token(rng, &mut ls, &with);
                b = join(&ls);
            }
            12 => {
                // Copy a token of one line over a token of another.
                let mut ls = lines(&b);
                let li = rng.below(ls.len());
                let spans = token_spans(&ls[li]);
                if !spans.is_empty() {
                    let (s, e) = *rng.pick(&spans);
                    let tok = ls[li][s..e].to_vec();
                    replace_token(rng, &mut ls, &tok);
                }
                b = join(&ls);
            }
            _ => {
                // Truncate the file.
                let k = rng.below(b.len() + 1);
                b.truncate(k);
            }
        }
    }
    b
}

static ACCEPTED: AtomicUsize = AtomicUsize::new(0);

/// Every model the reader accepts must also be simulated without a panic:
/// preparing it, or a step, may fail with an error, never a panic. Trials
/// and duration are capped so a mutated `TRIALS 2e9` cannot stall the run.
fn simulate_a_little(mut net: network::Network) -> Option<String> {
    net.options.trials = net.options.trials.min(50);
    net.options.max_check = net.options.max_check.min(50);
    net.times.duration = net.times.duration.min(6 * 3600);
    let Ok(mut sim) = hydraulics::Simulation::from_network(net) else {
        return None;
    };
    for _ in 0..4 {
        if sim.run().is_err() || sim.next() == 0 {
            break;
        }
    }
    None
}

/// One execution: `None` when all is well, else what went wrong.
fn check(input: &[u8]) -> Option<String> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let Ok(net) = network::inp::parse_inp_bytes(input, "fuzz.inp") else {
            return None;
        };
        ACCEPTED.fetch_add(1, Ordering::Relaxed);
        let text = network::inp::write_inp(&net);
        match network::inp::parse_inp(&text, "written.inp") {
            Err(e) => Some(format!(
                "the writer produced a file the reader rejects:\n{e}"
            )),
            Ok(again) if again != net => Some("read → write → read changed the model".to_string()),
            Ok(_) => simulate_a_little(net),
        }
    }));
    match r {
        Ok(v) => v,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Some(format!("panic: {msg}"))
        }
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn fuzz_reader_and_writer() {
    let execs = env_num("AQUATWIN_FUZZ_EXECS", 3000) as usize;
    let seed = env_num("AQUATWIN_FUZZ_SEED", 0x5EED);
    let threads = env_num("AQUATWIN_FUZZ_THREADS", 1).max(1) as usize;
    let seeds = seeds();
    // The seeds themselves first (every valid one must round-trip).
    for (i, s) in seeds.iter().enumerate() {
        assert_eq!(check(s), None, "seed {i}");
    }
    std::panic::set_hook(Box::new(|_| {})); // panics are caught and reported below
    let done = AtomicUsize::new(0);
    let failures: Mutex<Vec<(String, Vec<u8>)>> = Mutex::new(Vec::new());
    let start = std::time::Instant::now();
    std::thread::scope(|sc| {
        for t in 0..threads {
            let (seeds, done, failures) = (&seeds, &done, &failures);
            sc.spawn(move || {
                let mut rng = Rng(seed ^ (t as u64).wrapping_mul(0xA24B_AED4_963E_E407));
                // A small corpus: accepted mutants are mutated further.
                let mut corpus: Vec<Vec<u8>> = seeds.clone();
                while done.fetch_add(1, Ordering::Relaxed) < execs {
                    let base = rng.below(corpus.len());
                    let input = mutate(&mut rng, &corpus[base], seeds);
                    match check(&input) {
                        Some(why) => {
                            let mut f = failures.lock().unwrap();
                            if f.len() < 20 {
                                f.push((why, input));
                            }
                        }
                        None => {
                            if corpus.len() < 4000 && rng.below(8) == 0 {
                                corpus.push(input);
                            }
                        }
                    }
                }
            });
        }
    });
    let _ = std::panic::take_hook();
    let ran = execs;
    eprintln!(
        "fuzz: {ran} executions ({} accepted and round-tripped), seed {seed:#x}, {threads} thread(s), {:.1} s",
        ACCEPTED.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    let failures = failures.into_inner().unwrap();
    if !failures.is_empty() {
        let dir = root().join("target/fuzz-failures");
        std::fs::create_dir_all(&dir).unwrap();
        let mut report = String::new();
        for (i, (why, input)) in failures.iter().enumerate() {
            let p = dir.join(format!("failure-{i}.inp"));
            std::fs::write(&p, input).unwrap();
            report.push_str(&format!("{}: {why}\n", p.display()));
        }
        panic!("{} failing input(s):\n{report}", failures.len());
    }
}
