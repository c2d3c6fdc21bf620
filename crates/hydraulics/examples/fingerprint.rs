//! A hash of every result bit of a whole simulation, to check that a speed
//! change leaves the results bit-identical: per step the iteration count,
//! and every node's head and demand and every link's flow and state.
//!   fingerprint NET.inp [NET.inp ...]  →  "NAME HASH steps S iters I" per network
//! Run it before and after a change (e.g. from a `git worktree` of the old
//! commit) and diff the outputs.

fn main() {
    for path in std::env::args().skip(1) {
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
