//! `aquatwin simulate`: an extended-period hydraulic simulation of a
//! model, written as CSV or Parquet in SI units at the model's report times.

use crate::figures::{unsigned_zero, Fixed};
use anyhow::{Context, Result};
use hydraulics::Simulation;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tabular::{Column, ColumnType, ParquetWriter, Value};

#[derive(clap::Args)]
#[command(
    after_help = "Parquet: --format parquet writes nodes.parquet and links.parquet with the \
same columns as the CSVs (time_s int64, node/link string, SI doubles, status string), \
uncompressed, for pandas.read_parquet(...) or polars.read_parquet(...); no arrow/polars \
needed to build aquatwin."
)]
pub struct Args {
    /// The EPANET .inp file.
    network: PathBuf,
    /// Output folder for nodes.csv and links.csv (nodes.parquet and links.parquet with --format parquet).
    #[arg(long)]
    out: PathBuf,
    /// Output format: csv, or parquet (same columns; for pandas/polars).
    #[arg(long, default_value = "csv", value_parser = ["csv", "parquet"])]
    format: String,
    /// Print {"parse_ms","solve_ms","steps","iterations"} as one JSON line to stderr.
    #[arg(long)]
    timing: bool,
}

const NODE_COLUMNS: [(&str, ColumnType); 5] = [
    ("time_s", ColumnType::Int64),
    ("node", ColumnType::Utf8),
    ("head_m", ColumnType::Double),
    ("pressure_m", ColumnType::Double),
    ("demand_lps", ColumnType::Double),
];
const LINK_COLUMNS: [(&str, ColumnType); 6] = [
    ("time_s", ColumnType::Int64),
    ("link", ColumnType::Utf8),
    ("flow_lps", ColumnType::Double),
    ("velocity_mps", ColumnType::Double),
    ("headloss_m", ColumnType::Double),
    ("status", ColumnType::Utf8),
];

/// The leakage column added to both tables when the model has EPANET 2.3
/// pipe leakage (`[LEAKAGE]`): a junction's pipe leakage (part of its
/// demand) and a pipe's own leakage (EN_LINK_LEAKAGE), L/s.
const LEAKAGE_COLUMN: (&str, ColumnType) = ("leakage_lps", ColumnType::Double);

fn columns(base: &[(&'static str, ColumnType)], leakage: bool) -> Vec<(&'static str, ColumnType)> {
    let mut v = base.to_vec();
    if leakage {
        v.push(LEAKAGE_COLUMN);
    }
    v
}

/// Where the results go: nodes.* and links.* in the output folder. Parquet
/// is written in row groups as the simulation runs, so memory stays bounded.
#[allow(clippy::large_enum_variant)] // one value per run
enum Tables {
    Csv {
        nodes: BufWriter<File>,
        links: BufWriter<File>,
    },
    Parquet {
        nodes: ParquetWriter<BufWriter<File>>,
        links: ParquetWriter<BufWriter<File>>,
    },
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    Ok(BufWriter::new(File::create(path).with_context(|| {
        format!("cannot write {}", path.display())
    })?))
}

impl Tables {
    fn create(dir: &Path, format: &str, leakage: bool) -> Result<Tables> {
        let (node_cols, link_cols) = (
            columns(&NODE_COLUMNS, leakage),
            columns(&LINK_COLUMNS, leakage),
        );
        if format == "parquet" {
            let table = |name: &str, cols: &[(&str, ColumnType)]| -> Result<_> {
                let path = dir.join(name);
                let cols = cols.iter().map(|&(n, t)| Column::new(n, t)).collect();
                ParquetWriter::new(create(&path)?, cols)
                    .with_context(|| format!("cannot write {}", path.display()))
            };
            return Ok(Tables::Parquet {
                nodes: table("nodes.parquet", &node_cols)?,
                links: table("links.parquet", &link_cols)?,
            });
        }
        let mut nodes = create(&dir.join("nodes.csv"))?;
        let mut links = create(&dir.join("links.csv"))?;
        let header =
            |cols: &[(&str, ColumnType)]| cols.iter().map(|c| c.0).collect::<Vec<_>>().join(",");
        writeln!(nodes, "{}", header(&node_cols))?;
        writeln!(links, "{}", header(&link_cols))?;
        Ok(Tables::Csv { nodes, links })
    }

    fn finish(self) -> Result<()> {
        match self {
            Tables::Csv {
                mut nodes,
                mut links,
            } => {
                nodes.flush()?;
                links.flush()?;
            }
            Tables::Parquet { nodes, links } => {
                nodes.finish()?;
                links.finish()?;
            }
        }
        Ok(())
    }
}

fn clock(t: u64) -> String {
    format!("{}:{:02}:{:02}", t / 3600, (t % 3600) / 60, t % 60)
}

pub fn run(a: Args) -> Result<()> {
    let t0 = Instant::now();
    let net = super::load_network(&a.network)?;
    let parse_ms = t0.elapsed().as_secs_f64() * 1e3;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let duration = net.times.duration;
    let t1 = Instant::now();
    let mut sim = Simulation::from_network(net)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.network.display()))?;
    let mut solve = t1.elapsed();
    let mut tables = Tables::create(&a.out, &a.format, sim.has_leakage())?;
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
            write_step(&sim, t, &mut tables)?;
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
    tables.finish()?;
    if a.timing {
        eprintln!(
            "{}",
            serde_json::json!({"parse_ms": parse_ms, "solve_ms": solve.as_secs_f64() * 1e3, "steps": steps, "iterations": iterations})
        );
    }
    Ok(())
}

fn write_step(sim: &Simulation, t: u64, tables: &mut Tables) -> Result<()> {
    let net = sim.network();
    let leakage = sim.has_leakage();
    match tables {
        Tables::Csv { nodes, links } => {
            for (i, n) in net.nodes.iter().enumerate() {
                write!(
                    nodes,
                    "{t},{},{},{},{}",
                    n.id,
                    Fixed(sim.head_m(i), 6),
                    Fixed(sim.pressure_m(i), 6),
                    Fixed(sim.demand_lps(i), 6)
                )?;
                if leakage {
                    write!(nodes, ",{}", Fixed(sim.leakage_flow_lps(i), 6))?;
                }
                writeln!(nodes)?;
            }
            for (k, l) in net.links.iter().enumerate() {
                write!(
                    links,
                    "{t},{},{},{},{},{}",
                    l.id,
                    unsigned_zero(sim.flow_lps(k)),
                    unsigned_zero(sim.velocity_mps(k)),
                    unsigned_zero(sim.headloss_m(k)),
                    sim.link_state(k).word()
                )?;
                if leakage {
                    write!(links, ",{}", unsigned_zero(sim.pipe_leakage_lps(k)))?;
                }
                writeln!(links)?;
            }
        }
        // Full f64 precision (the CSV rounds node values to 6 decimals).
        Tables::Parquet { nodes, links } => {
            let t = t as i64;
            for (i, n) in net.nodes.iter().enumerate() {
                let row = [
                    Value::Int(t),
                    Value::Str(&n.id),
                    Value::Double(sim.head_m(i)),
                    Value::Double(sim.pressure_m(i)),
                    Value::Double(sim.demand_lps(i)),
                    Value::Double(sim.leakage_flow_lps(i)),
                ];
                nodes.write_row(&row[..row.len() - usize::from(!leakage)])?;
            }
            for (k, l) in net.links.iter().enumerate() {
                let row = [
                    Value::Int(t),
                    Value::Str(&l.id),
                    Value::Double(sim.flow_lps(k)),
                    Value::Double(sim.velocity_mps(k)),
                    Value::Double(sim.headloss_m(k)),
                    Value::Str(sim.link_state(k).word()),
                    Value::Double(sim.pipe_leakage_lps(k)),
                ];
                links.write_row(&row[..row.len() - usize::from(!leakage)])?;
            }
        }
    }
    Ok(())
}
