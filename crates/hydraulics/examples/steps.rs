//! Prints every hydraulic step of a network: time, iterations, relative
//! error, warnings. A debugging aid next to the EPANET oracle.
//! Usage: cargo run --release -p hydraulics --example steps -- NET.inp [max_steps]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let max: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    let bytes = std::fs::read(path).expect("read");
    let net = network::inp::parse_inp_bytes(&bytes, path).expect("parse");
    let mut sim = hydraulics::Simulation::from_network(net).expect("prepare");
    for _ in 0..max {
        match sim.run() {
            Ok(r) => println!(
                "t={} iter={} relerr={:.3e} warn={:?}",
                r.time_s,
                r.iterations,
                r.relative_error,
                r.warnings.iter().map(|w| w.code()).collect::<Vec<_>>()
            ),
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
