//! In-process timing of the hydraulic solver, for scripts/bench-hydraulics.
//!
//! Single runs: each network is parsed once; then, `--repeat` times, the
//! simulation is prepared (ordering, symbolic factorization: EPANET's
//! ENopenH) and the whole extended-period loop run (ENinitH, ENrunH/ENnextH
//! to the end). One JSON line per network with the best time:
//!   bench_solve [--repeat N] NET.inp [NET.inp ...]
//!   → {"file","nodes","parse_ms","best_ms","steps","iterations","halted"}
//!
//! Leak batch: `--batch` runs `--scenarios` single-leak scenarios on one
//! network, its duration cut to `--hours`: a base simulation is prepared
//! (with `--warm`, its first step is also solved once without a leak and
//! rewound to time 0, so that clones start from those flows); each scenario
//! clones it, puts an emitter at a random junction (coefficient chosen so the leak is 2–5 L/s
//! at that junction's base pressure) and runs the whole period. Scenarios
//! run with hydraulics::batch::run_batch on a rayon pool of `--threads`.
//!   bench_solve --batch NET.inp [--scenarios 1000] [--hours 24] [--seed 1]
//!               [--threads 2] [--warm] [--lanes] [--write-scenarios FILE] [--write-leaks FILE]
//!   → {"file","scenarios","threads","warm","wall_ms","cpu_ms","ms_per_scenario","steps","iterations",
//!      "leak_lps_min","leak_lps_mean","leak_lps_max","halted"}
//! FILE gets one "node_id coeff_si" line per scenario (coeff in m³/s per
//! m^exponent), so the same scenarios can be run in EPANET; `--write-leaks
//! FILE` gets "node_id leak_lps" (emitter flow after the first step).
//! Build with --release (or --profile ci).

use hydraulics::Simulation;
use std::time::Instant;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn parse(path: &str) -> (network::Network, f64) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let t0 = Instant::now();
    let net = network::inp::parse_inp_bytes(&bytes, path).unwrap_or_else(|e| panic!("{e}"));
    (net, t0.elapsed().as_secs_f64() * 1e3)
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// Runs the simulation to its end: (steps, Newton iterations, halted).
fn run_to_end(sim: &mut Simulation) -> (u64, u64, bool) {
    let (mut steps, mut iters, mut halted) = (0u64, 0u64, false);
    loop {
        match sim.run() {
            Ok(r) => {
                steps += 1;
                iters += r.iterations as u64;
                halted |= r.halted;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return (steps, iters, true);
            }
        }
        if sim.next() == 0 {
            return (steps, iters, halted);
        }
    }
}

fn single(args: &[String]) {
    let repeat: usize = arg(args, "--repeat", 5).max(1);
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if a == "--repeat" {
            skip = true;
            continue;
        }
        let (net, parse_ms) = parse(a);
        let nodes = net.nodes.len();
        let mut best = f64::INFINITY;
        let mut stats = (0, 0, false);
        for _ in 0..repeat {
            let net = net.clone();
            let t0 = Instant::now();
            let mut sim = Simulation::from_network(net).unwrap_or_else(|e| panic!("{a}: {e}"));
            stats = run_to_end(&mut sim);
            best = best.min(t0.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(&sim);
        }
        println!(
            "{{\"file\":\"{}\",\"nodes\":{nodes},\"parse_ms\":{parse_ms:.3},\"best_ms\":{best:.3},\"steps\":{},\"iterations\":{},\"halted\":{}}}",
            file_name(a),
            stats.0,
            stats.1,
            stats.2
        );
    }
}

/// CPU time of this process (all threads), ms, from /proc/self/stat
/// (utime + stime at 100 ticks/s, Linux); NaN elsewhere.
fn cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    match (
        f.get(11).and_then(|v| v.parse::<f64>().ok()),
        f.get(12).and_then(|v| v.parse::<f64>().ok()),
    ) {
        (Some(u), Some(s)) => (u + s) * 10.0,
        _ => f64::NAN,
    }
}

/// xorshift64*: reproducible scenarios without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Counts one step of a leak scenario into (steps, iterations, halted,
/// leak flow at the first step, L/s); returns whether to go on.
fn tally(
    sim: &Simulation,
    leak: usize,
    r: Result<hydraulics::StepReport, hydraulics::SimError>,
    acc: &mut (u64, u64, bool, f64),
) -> bool {
    match r {
        Ok(r) => {
            acc.0 += 1;
            acc.1 += r.iterations as u64;
            acc.2 |= r.halted;
        }
        Err(_) => {
            acc.2 = true;
            return false;
        }
    }
    if acc.0 == 1 {
        acc.3 = sim.emitter_flow_lps(leak);
    }
    true
}

fn batch(args: &[String]) {
    let path = &args[args.iter().position(|a| a == "--batch").unwrap() + 1];
    let n: usize = arg(args, "--scenarios", 1000);
    let hours: u64 = arg(args, "--hours", 24);
    let seed: u64 = arg(args, "--seed", 1);
    let threads: usize = arg(args, "--threads", 2);
    let warm = args.iter().any(|a| a == "--warm");
    let lanes = args.iter().any(|a| a == "--lanes");
    let write: Option<String> = args
        .iter()
        .position(|a| a == "--write-scenarios")
        .and_then(|i| args.get(i + 1).cloned());
    let write_leaks: Option<String> = args
        .iter()
        .position(|a| a == "--write-leaks")
        .and_then(|i| args.get(i + 1).cloned());

    let (mut net, _) = parse(path);
    net.times.duration = hours * 3600;
    let expo = net.options.emitter_exponent;
    let mut base = Simulation::from_network(net).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Base pressures at time 0, from a clone solved once without a leak.
    let mut first = base.clone();
    first.run().unwrap_or_else(|e| panic!("{path}: {e}"));
    let pressures: Vec<f64> = (0..first.node_count())
        .map(|i| first.pressure_m(i))
        .collect();
    if warm {
        // Warm start: the base keeps the leak-free flows of time 0, rewound to time 0.
        base = first;
        base.init(false);
    }

    let net = base.network();
    let candidates: Vec<usize> = (0..net.nodes.len())
        .filter(|&i| net.nodes[i].is_junction() && pressures[i] > 5.0)
        .collect();
    assert!(!candidates.is_empty(), "no junction with pressure > 5 m");
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let scenarios: Vec<(usize, f64)> = (0..n)
        .map(|_| {
            let i = candidates[(rng.next() % candidates.len() as u64) as usize];
            let q_lps = 2.0 + 3.0 * rng.unit();
            (i, q_lps / 1000.0 / pressures[i].powf(expo))
        })
        .collect();
    if let Some(f) = write {
        let text: String = scenarios
            .iter()
            .map(|&(i, c)| format!("{} {c:e}\n", net.nodes[i].id))
            .collect();
        std::fs::write(&f, text).unwrap_or_else(|e| panic!("{f}: {e}"));
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon pool");
    let c0 = cpu_ms();
    let t0 = Instant::now();
    let results: Vec<(u64, u64, bool, f64)> = pool.install(|| {
        if lanes {
            // Four scenarios per worker share each trial's assembly and
            // factorization (hydraulics::lanes); same results bit for bit.
            hydraulics::lanes::run_batch_lanes(
                &base,
                &scenarios,
                |sim, &(i, c)| {
                    sim.set_emitter(i, c);
                    (0u64, 0u64, false, f64::NAN)
                },
                |sim, &(i, _), acc, r| tally(sim, i, r, acc),
                |_, _, acc| acc,
            )
        } else {
            hydraulics::batch::run_batch(&base, &scenarios, |mut sim, &(i, c)| {
                sim.set_emitter(i, c);
                let mut acc = (0u64, 0u64, false, f64::NAN);
                loop {
                    let r = sim.run();
                    if !tally(&sim, i, r, &mut acc) || sim.next() == 0 {
                        break;
                    }
                }
                acc
            })
        }
    });
    let wall = t0.elapsed().as_secs_f64() * 1e3;
    let cpu = cpu_ms() - c0;
    let steps: u64 = results.iter().map(|r| r.0).sum();
    let iters: u64 = results.iter().map(|r| r.1).sum();
    let halted = results.iter().filter(|r| r.2).count();
    let leaks: Vec<f64> = results.iter().map(|r| r.3).collect();
    if let Some(f) = write_leaks {
        let net = base.network();
        let text: String = scenarios
            .iter()
            .zip(&leaks)
            .map(|(&(i, _), q)| format!("{} {q}\n", net.nodes[i].id))
            .collect();
        std::fs::write(&f, text).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    let (lmin, lmax) = leaks
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let lmean = leaks.iter().sum::<f64>() / leaks.len().max(1) as f64;
    println!(
        "{{\"file\":\"{}\",\"scenarios\":{n},\"threads\":{threads},\"warm\":{warm},\"lanes\":{lanes},\"hours\":{hours},\"wall_ms\":{wall:.1},\"cpu_ms\":{cpu:.0},\"ms_per_scenario\":{:.3},\"steps\":{steps},\"iterations\":{iters},\"leak_lps_min\":{lmin:.3},\"leak_lps_mean\":{lmean:.3},\"leak_lps_max\":{lmax:.3},\"halted\":{halted}}}",
        file_name(path),
        wall / n.max(1) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: bench_solve [--repeat N] NET.inp ... | bench_solve --batch NET.inp [--scenarios N] [--hours H] [--seed S] [--threads T] [--warm] [--write-scenarios FILE] [--write-leaks FILE]");
        std::process::exit(2);
    }
    if args.iter().any(|a| a == "--batch") {
        batch(&args);
    } else {
        single(&args);
    }
}
