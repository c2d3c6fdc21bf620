//! A hash of every result bit of a whole simulation, to check that a speed
//! change leaves the results bit-identical: per step the iteration count,
//! and every node's head and demand and every link's flow and state.
//!   fingerprint NET.inp [NET.inp ...]  →  "NAME HASH steps S iters I" per network
//! Run it before and after a change (e.g. from a `git worktree` of the old
//! commit) and diff the outputs.
//!
//! With `--leaks N` (first argument) each network instead runs N leak
//! scenarios through `hydraulics::batch::run_batch` (an emitter at every
//! (junctions/N)-th junction, coefficient 0.001 m³/s/m^n, whole duration)
//! and one hash covers every step of every scenario, in scenario order:
//! it checks the batch path (clones, reuse, shared per-step data).
//!   fingerprint --leaks 50 [--lanes] NET.inp ...  →  "NAME leaks N HASH steps S iters I"
//! (`--lanes`: the same scenarios through `hydraulics::lanes::run_batch_lanes`,
//! which must give the same hash.)

/// FNV-1a over 64-bit words.
struct Fnv(u64);
impl Fnv {
    fn mix(&mut self, x: u64) {
        self.0 ^= x;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}

/// Hashes every step of `sim` to its end into `h`: (steps, iterations).
fn run_hashed(sim: &mut hydraulics::Simulation, h: &mut Fnv) -> (u64, u64) {
    let (mut steps, mut iters) = (0u64, 0u64);
    loop {
        let r = sim.run();
        if !hash_step(sim, r, h, &mut steps, &mut iters) || sim.next() == 0 {
            break;
        }
    }
    (steps, iters)
}

/// Hashes one solved step (iterations, every head, demand, flow and
/// state); returns whether to go on.
fn hash_step(
    sim: &mut hydraulics::Simulation,
    r: Result<hydraulics::StepReport, hydraulics::SimError>,
    h: &mut Fnv,
    steps: &mut u64,
    iters: &mut u64,
) -> bool {
    match r {
        Ok(r) => {
            *steps += 1;
            *iters += r.iterations as u64;
            h.mix(r.iterations as u64);
        }
        Err(_) => {
            h.mix(u64::MAX);
            return false;
        }
    }
    for i in 0..sim.node_count() {
        h.mix(sim.head_m(i).to_bits());
        h.mix(sim.demand_lps(i).to_bits());
    }
    for k in 0..sim.link_count() {
        h.mix(sim.flow_lps(k).to_bits());
        h.mix(sim.link_state(k) as u64);
    }
    true
}

fn leaks(n: usize, paths: &[String], lanes: bool) {
    for path in paths {
        let name = std::path::Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.clone());
        let Ok(net) = std::fs::read(path)
            .map_err(|_| ())
            .and_then(|b| network::inp::parse_inp_bytes(&b, path).map_err(|_| ()))
        else {
            println!("{name}: cannot read or parse");
            continue;
        };
        let Ok(base) = hydraulics::Simulation::from_network(net) else {
            println!("{name}: prepare error");
            continue;
        };
        let juncs: Vec<usize> = (0..base.node_count())
            .filter(|&i| base.network().nodes[i].is_junction())
            .collect();
        if juncs.is_empty() {
            continue;
        }
        let stride = (juncs.len() / n.max(1)).max(1);
        let scen: Vec<usize> = juncs.iter().step_by(stride).take(n).copied().collect();
        let res: Vec<(u64, u64, u64)> = if lanes {
            hydraulics::lanes::run_batch_lanes(
                &base,
                &scen,
                |sim, &i| {
                    sim.set_emitter(i, 0.001);
                    (Fnv(0xcbf2_9ce4_8422_2325), 0u64, 0u64)
                },
                |sim, _, acc, r| hash_step(sim, r, &mut acc.0, &mut acc.1, &mut acc.2),
                |_, _, acc| (acc.0 .0, acc.1, acc.2),
            )
        } else {
            hydraulics::batch::run_batch(&base, &scen, |mut sim, &i| {
                sim.set_emitter(i, 0.001);
                let mut h = Fnv(0xcbf2_9ce4_8422_2325);
                let (s, it) = run_hashed(&mut sim, &mut h);
                (h.0, s, it)
            })
        };
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        for r in &res {
            h.mix(r.0);
        }
        let steps: u64 = res.iter().map(|r| r.1).sum();
        let iters: u64 = res.iter().map(|r| r.2).sum();
        println!(
            "{name} leaks {} {:016x} steps {steps} iters {iters}",
            scen.len(),
            h.0
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--leaks") {
        let n = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(50);
        let lanes = args.get(2).map(String::as_str) == Some("--lanes");
        leaks(n, &args[if lanes { 3 } else { 2 }..], lanes);
        return;
    }
    for path in args {
        let name = std::path::Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.clone());
        let Ok(bytes) = std::fs::read(&path) else {
            println!("{name}: cannot read");
            continue;
        };
        let Ok(net) = network::inp::parse_inp_bytes(&bytes, &path) else {
            println!("{name}: parse error");
            continue;
        };
        let mut sim = match hydraulics::Simulation::from_network(net) {
            Ok(s) => s,
            Err(e) => {
                println!("{name}: prepare error {e}");
                continue;
            }
        };
        // FNV-1a over 64-bit words.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |x: u64| {
            h ^= x;
            h = h.wrapping_mul(0x0100_0000_01b3);
        };
        let (mut steps, mut iters) = (0u64, 0u64);
        loop {
            match sim.run() {
                Ok(r) => {
                    steps += 1;
                    iters += r.iterations as u64;
                    mix(r.iterations as u64);
                }
                Err(e) => {
                    println!("{name}: error {e}");
                    break;
                }
            }
            for i in 0..sim.node_count() {
                mix(sim.head_m(i).to_bits());
                mix(sim.demand_lps(i).to_bits());
            }
            for k in 0..sim.link_count() {
                mix(sim.flow_lps(k).to_bits());
                mix(sim.link_state(k) as u64);
            }
            if sim.next() == 0 {
                break;
            }
        }
        println!("{name} {h:016x} steps {steps} iters {iters}");
    }
}
