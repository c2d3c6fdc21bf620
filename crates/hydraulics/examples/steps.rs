//! Prints every hydraulic step of a network: time, iterations, relative
//! error, warnings. A debugging aid next to the EPANET oracle.
//! Usage: cargo run --release -p hydraulics --example steps -- NET.inp [max_steps] [ID ...]
//! Each ID (a node or a link) adds its head (m) or flow (L/s) and state per step.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let max: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    let bytes = std::fs::read(path).expect("read");
    let net = network::inp::parse_inp_bytes(&bytes, path).expect("parse");
    let watch: Vec<(bool, usize, String)> = args
        .iter()
        .skip(3)
        .map(|id| match net.node_index(id) {
            Some(i) => (true, i, id.clone()),
            None => (
                false,
                net.link_index(id).expect("a node or link ID"),
                id.clone(),
            ),
        })
        .collect();
    let mut sim = hydraulics::Simulation::from_network(net).expect("prepare");
    for _ in 0..max {
        match sim.run() {
            Ok(r) => {
                println!(
                    "t={} iter={} relerr={:.3e} warn={:?}",
                    r.time_s,
                    r.iterations,
                    r.relative_error,
                    r.warnings.iter().map(|w| w.code()).collect::<Vec<_>>()
                );
                for (is_node, i, id) in &watch {
                    if *is_node {
                        println!(
                            "  node {id} head {:.9} m demand {:.9} L/s",
                            sim.head_m(*i),
                            sim.demand_lps(*i)
                        );
                    } else {
                        println!(
                            "  link {id} flow {:.9} L/s {:?}",
                            sim.flow_lps(*i),
                            sim.link_state(*i)
                        );
                    }
                }
            }
            Err(e) => {
                println!("error {e}");
                break;
            }
        }
        if sim.next() == 0 {
            break;
        }
    }
}
