//! Times a full extended-period simulation in-process (parse excluded):
//! prepare + every step, repeated; prints the best time.
//! Usage: cargo run --release -p hydraulics --example eps -- NET.inp [repeats]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let bytes = std::fs::read(path).expect("read");
    let net = network::inp::parse_inp_bytes(&bytes, path).expect("parse");
    let mut best = f64::MAX;
    let (mut steps, mut iters) = (0, 0);
    for _ in 0..reps {
        let n2 = net.clone();
        let t = std::time::Instant::now();
        let mut sim = hydraulics::Simulation::from_network(n2).expect("prepare");
        if std::env::var_os("EPS_PREP").is_some() {
            eprintln!("prepare {:.3} ms", t.elapsed().as_secs_f64() * 1e3);
        }
        steps = 0;
        iters = 0;
        loop {
            let r = sim.run().expect("run");
            steps += 1;
            iters += r.iterations;
            if sim.next() == 0 {
                break;
            }
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("{{\"file\":\"{path}\",\"ms\":{best:.3},\"steps\":{steps},\"iterations\":{iters}}}");
}
