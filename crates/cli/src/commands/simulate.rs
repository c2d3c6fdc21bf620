//! `aquatwin simulate`: an extended-period hydraulic simulation of a
//! model, written as CSV in SI units at the model's report times.

use anyhow::{bail, Context, Result};
use hydraulics::Simulation;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The EPANET .inp file.
    network: PathBuf,
    /// Output folder for nodes.csv and links.csv.
    #[arg(long)]
    out: PathBuf,
    /// Output format.
    #[arg(long, default_value = "csv", value_parser = ["csv", "parquet"])]
    format: String,
    /// Print {"parse_ms","solve_ms","steps","iterations"} as one JSON line to stderr.
    #[arg(long)]
    timing: bool,
}

fn clock(t: u64) -> String {
    format!("{}:{:02}:{:02}", t / 3600, (t % 3600) / 60, t % 60)
}

pub fn run(a: Args) -> Result<()> {
    if a.format == "parquet" {
        bail!("--format parquet is written by the reporting build (aquatwin-report); the core binary writes csv");
    }
    let t0 = Instant::now();
    let net = super::load_network(&a.network)?;
    let parse_ms = t0.elapsed().as_secs_f64() * 1e3;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let nodes_path = a.out.join("nodes.csv");
    let links_path = a.out.join("links.csv");
    let mut nodes = BufWriter::new(
        std::fs::File::create(&nodes_path)
            .with_context(|| format!("cannot write {}", nodes_path.display()))?,
    );
    let mut links = BufWriter::new(
        std::fs::File::create(&links_path)
            .with_context(|| format!("cannot write {}", links_path.display()))?,
    );
    writeln!(nodes, "time_s,node,head_m,pressure_m,demand_lps")?;
    writeln!(links, "time_s,link,flow_lps,velocity_mps,headloss_m,status")?;

    let duration = net.times.duration;
    let t1 = Instant::now();
    let mut sim = Simulation::from_network(net)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.network.display()))?;
    let mut solve = t1.elapsed();
    let progress = std::io::stderr().is_terminal() && duration > 0;
    let mut steps = 0u64;
    let mut iterations = 0u64;
    let mut last_pct = u64::MAX;
    loop {
        let ts = Instant::now();
        let rep = sim
            .run()
            .map_err(|e| anyhow::anyhow!("{}: {e}", a.network.display()))?;
        solve += ts.elapsed();
        steps += 1;
        iterations += rep.iterations as u64;
        for w in &rep.warnings {
            eprintln!("WARNING at {} hrs: {}", clock(rep.time_s), w.message());
        }
        if !rep.warnings.is_empty() {
            let cut = sim.disconnected_nodes();
            if !cut.is_empty() {
                let net = sim.network();
                let names: Vec<&str> = cut
                    .iter()
                    .take(10)
                    .map(|&i| net.nodes[i].id.as_str())
                    .collect();
                let more = if cut.len() > 10 {
                    format!(" and {} more", cut.len() - 10)
                } else {
                    String::new()
                };
                eprintln!(
                    "WARNING at {} hrs: {} node(s) disconnected: {}{more}",
                    clock(rep.time_s),
                    cut.len(),
                    names.join(", ")
                );
            }
        }
        if rep.halted {
            eprintln!(
                "WARNING at {} hrs: simulation halted (UNBALANCED STOP)",
                clock(rep.time_s)
            );
        }
        let t = sim.time_s();
        if sim.is_report_time(t) {
            write_step(&sim, t, &mut nodes, &mut links)?;
        }
        if progress {
            let pct = (t * 100) / duration.max(1);
            if pct != last_pct {
                last_pct = pct;
                eprint!(
                    "\r[{:<50}] {pct:3}%  t = {}",
                    "#".repeat((pct / 2) as usize),
                    clock(t)
                );
            }
        }
        let ts = Instant::now();
        let dt = sim.next();
        solve += ts.elapsed();
        if dt == 0 {
            break;
        }
    }
    if progress {
        eprintln!();
    }
    nodes.flush()?;
    links.flush()?;
    if a.timing {
        eprintln!(
            "{}",
            serde_json::json!({"parse_ms": parse_ms, "solve_ms": solve.as_secs_f64() * 1e3, "steps": steps, "iterations": iterations})
        );
    }
    Ok(())
}

fn write_step(
    sim: &Simulation,
    t: u64,
    nodes: &mut impl Write,
    links: &mut impl Write,
) -> Result<()> {
    let net = sim.network();
    for (i, n) in net.nodes.iter().enumerate() {
        writeln!(
            nodes,
            "{t},{},{:.6},{:.6},{:.6}",
            n.id,
            sim.head_m(i),
            sim.pressure_m(i),
            sim.demand_lps(i)
        )?;
    }
    for (k, l) in net.links.iter().enumerate() {
        writeln!(
            links,
            "{t},{},{},{},{},{}",
            l.id,
            sim.flow_lps(k),
            sim.velocity_mps(k),
            sim.headloss_m(k),
            sim.link_state(k).word()
        )?;
    }
    Ok(())
}
