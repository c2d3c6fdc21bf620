//! `aquatwin inspect`: what a network model contains.

use crate::figures::Fixed;
use anyhow::Result;
use network::{DemandModel, Network};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The EPANET .inp file.
    network: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let net = super::load_network(&a.network)?;
    let s = summary(&net);
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        print_table(&a.network, &net, &s);
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Summary {
    junctions: usize,
    reservoirs: usize,
    tanks: usize,
    pipes: usize,
    pumps: usize,
    valves: usize,
    patterns: usize,
    curves: usize,
    controls: usize,
    rules: usize,
    flow_units: &'static str,
    headloss: &'static str,
    demand_model: &'static str,
    duration_s: u64,
    hydraulic_step_s: u64,
    report_step_s: u64,
    pipe_length_km: f64,
    total_base_demand_lps: f64,
    components: usize,
}

fn summary(net: &Network) -> Summary {
    let c = net.counts();
    let pipe_length_km = net.pipe_length_m() / 1000.0;
    let total_base_demand_lps = net
        .nodes
        .iter()
        .filter_map(|n| n.junction())
        .flat_map(|j| j.demands.iter())
        .map(|d| d.base * 1000.0)
        .sum::<f64>();
    Summary {
        junctions: c.junctions,
        reservoirs: c.reservoirs,
        tanks: c.tanks,
        pipes: c.pipes,
        pumps: c.pumps,
        valves: c.valves,
        patterns: c.patterns,
        curves: c.curves,
        controls: c.controls,
        rules: c.rules,
        flow_units: net.options.flow_units.keyword(),
        headloss: net.options.headloss.keyword(),
        demand_model: match net.options.demand_model {
            DemandModel::Dda => "DDA",
            DemandModel::Pda => "PDA",
        },
        duration_s: net.times.duration,
        hydraulic_step_s: net.times.effective_hydraulic_step(),
        report_step_s: net.times.effective_report_step(),
        pipe_length_km,
        total_base_demand_lps,
        components: network::graph::component_count(net),
    }
}

fn print_table(path: &std::path::Path, net: &Network, s: &Summary) {
    println!("{}", path.display());
    if let Some(t) = net.title.first() {
        println!("  title           {t}");
    }
    println!("  junctions       {}", s.junctions);
    println!("  reservoirs      {}", s.reservoirs);
    println!("  tanks           {}", s.tanks);
    println!(
        "  pipes           {} ({} km)",
        s.pipes,
        Fixed(s.pipe_length_km, 2)
    );
    println!("  pumps           {}", s.pumps);
    println!("  valves          {}", s.valves);
    println!("  patterns        {}", s.patterns);
    println!("  curves          {}", s.curves);
    println!("  controls        {}", s.controls);
    println!("  rules           {}", s.rules);
    println!(
        "  flow units      {} (results are reported in SI: m, L/s)",
        s.flow_units
    );
    println!("  headloss        {}", s.headloss);
    println!("  demand model    {}", s.demand_model);
    println!(
        "  base demand     {} L/s",
        Fixed(s.total_base_demand_lps, 3)
    );
    println!(
        "  duration        {} s, hydraulic step {} s, report step {} s",
        s.duration_s, s.hydraulic_step_s, s.report_step_s
    );
    println!("  components      {}", s.components);
}
