//! Efficiency reporting for aquatwin: the IWA standard water balance,
//! non-revenue water, minimum night flow with the FAVAD night-day factor,
//! UARL and ILI, the live twin's leak events, and the validity of the data
//! behind them, per zone and for the whole system, per day, week or month.
//!
//! It reads the store that telemetry fills (or exported files,
//! [`input`]), the model (simulated by `hydraulics` where no sensor gives
//! a zone's pressures, [`model`]), the twin's alert store (read only,
//! [`events`]) and the twin's configuration, and writes tables (CSV or
//! Parquet, through polars), SVG charts (plotters) and a self-contained
//! `report.html`. It is built into its own executable, `aquatwin-report`
//! (run by `aquatwin report`), so that polars never enters the core build.
//! It must not write to the store, the alert store, a field device or the
//! model; the formulas in [`formulas`] and the rows of [`compute`] and
//! [`events`] do no I/O.
//!
//! ```
//! use reporting::formulas::{uarl_l_per_day, ili};
//! // 10 km of mains, 1 000 connections, no private pipe, 50 m average pressure.
//! let uarl = uarl_l_per_day(10.0, 1000.0, 0.0, 50.0);
//! assert_eq!(uarl, (18.0 * 10.0 + 0.8 * 1000.0) * 50.0);
//! assert_eq!(ili(2.0 * uarl, uarl), 2.0);
//! ```

pub mod compute;
pub mod config;
pub mod events;
pub mod formulas;
pub mod input;
pub mod model;
pub mod output;
pub mod zones;

use anyhow::{anyhow, bail, Context, Result};
use compute::{BillingRow, Extra, Grid, LocatedLeak, Period, TankAreas};
use config::ReportConfig;
use polars::prelude::{CsvReadOptions, SerReader};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use telemetry::config::TwinConfig;
use telemetry::resample::{resample, Method};
use telemetry::SensorMap;

/// What `aquatwin-report` was asked to do.
pub struct Request {
    pub config: PathBuf,
    pub from: i64,
    pub to: i64,
    pub period: Period,
    pub out: PathBuf,
    pub billing: Option<PathBuf>,
    pub format: output::Format,
    pub step_s: u32,
    /// Exported measurements (CSV/Parquet, see [`input`]) instead of the store.
    pub input: Vec<PathBuf>,
}

/// The twin configuration, its sensor map, the model and the report part.
pub struct Loaded {
    pub twin: TwinConfig,
    pub map: SensorMap,
    pub net: network::Network,
    pub report: ReportConfig,
}

pub fn load(config: &Path) -> Result<Loaded> {
    let twin = TwinConfig::load(config)?;
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let report = ReportConfig::parse(&text, config).map_err(|e| anyhow!(e))?;
    let map_text = std::fs::read_to_string(&twin.sensors)
        .with_context(|| format!("cannot read {}", twin.sensors.display()))?;
    let map = SensorMap::parse(&map_text, &twin.sensors.display().to_string())
        .map_err(|e| anyhow!("sensor map refused ({} problem(s)):\n{e}", e.0.len()))?;
    let Some(net_path) = &twin.network else {
        bail!(
            "{}: the report needs the model: give `network = \"….inp\"`",
            config.display()
        );
    };
    let bytes =
        std::fs::read(net_path).with_context(|| format!("cannot read {}", net_path.display()))?;
    let net =
        network::inp::parse_inp_bytes(&bytes, &net_path.display().to_string()).map_err(|e| {
            anyhow!(
                "{} has {} error(s):\n{e}",
                net_path.display(),
                e.errors.len()
            )
        })?;
    map.validate_against(&net)
        .map_err(|e| anyhow!("sensor map does not fit the network:\n{e}"))?;
    Ok(Loaded {
        twin,
        map,
        net,
        report,
    })
}

/// Reads a billing CSV: `zone` or `node`, `period_start`, `period_end`
/// (`YYYY-MM-DD[ HH:MM[:SS]]` UTC or RFC 3339; end exclusive),
/// `billed_metered_m3`, optional `billed_unmetered_m3`. Node rows are
/// added to the zone holding the node. Errors name file, line and field.
pub fn read_billing(
    path: &Path,
    zones: &[zones::Zone],
    net: &network::Network,
) -> Result<Vec<BillingRow>> {
    let name = path.display().to_string();
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0)) // every column as text: parsed below, with locations
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .with_context(|| format!("cannot read billing file {name}"))?;
    let col = |c: &str| -> Option<Vec<Option<String>>> {
        df.column(c).ok().and_then(|s| {
            s.str().ok().map(|ca| {
                (0..ca.len())
                    .map(|i| ca.get(i).map(str::to_string))
                    .collect()
            })
        })
    };
    let need = |c: &str| {
        col(c).ok_or_else(|| {
            anyhow!(
                "{name}:1: no column '{c}' (expected zone or node, period_start, period_end, \
                 billed_metered_m3[, billed_unmetered_m3])"
            )
        })
    };
    let (keys, by_node) = match (col("zone"), col("node")) {
        (Some(z), _) => (z, false),
        (None, Some(n)) => (n, true),
        (None, None) => bail!("{name}:1: no column 'zone' or 'node'"),
    };
    let starts = need("period_start")?;
    let ends = need("period_end")?;
    let metered = need("billed_metered_m3")?;
    let unmetered = col("billed_unmetered_m3");
    let mut node_zone: HashMap<usize, &str> = HashMap::new();
    for z in zones {
        for &i in &z.nodes {
            node_zone.insert(i, &z.name);
        }
    }
    let mut rows = Vec::new();
    let mut outside = 0usize;
    for r in 0..df.height() {
        let line = r + 2;
        let field = |v: &Option<String>, f: &str| -> Result<String> {
            v.clone()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| anyhow!("{name}:{line}: field '{f}': empty"))
        };
        let time = |v: &Option<String>, f: &str| -> Result<i64> {
            let s = field(v, f)?;
            telemetry::time::parse_timestamp(s.trim())
                .map_err(|e| anyhow!("{name}:{line}: field '{f}': {e}"))
        };
        let num = |v: &Option<String>, f: &str| -> Result<f64> {
            let s = field(v, f)?;
            match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
                _ => bail!("{name}:{line}: field '{f}': expected a volume in m³ ≥ 0, got '{s}'"),
            }
        };
        let key = field(&keys[r], if by_node { "node" } else { "zone" })?;
        let start = time(&starts[r], "period_start")?;
        let end = time(&ends[r], "period_end")?;
        if end <= start {
            bail!("{name}:{line}: period_end must be after period_start");
        }
        let m = num(&metered[r], "billed_metered_m3")?;
        let u = match &unmetered {
            Some(c) if c[r].as_deref().is_some_and(|s| !s.trim().is_empty()) => {
                num(&c[r], "billed_unmetered_m3")?
            }
            _ => 0.0,
        };
        let zone = if by_node {
            let i = net.node_index(key.trim()).ok_or_else(|| {
                anyhow!("{name}:{line}: field 'node': no node '{key}' in the model")
            })?;
            match node_zone.get(&i) {
                Some(z) => z.to_string(),
                None => {
                    outside += 1;
                    continue;
                }
            }
        } else {
            if !zones.iter().any(|z| z.name == key.trim()) {
                bail!("{name}:{line}: field 'zone': no zone '{key}' in the configuration");
            }
            key.trim().to_string()
        };
        rows.push(BillingRow {
            zone,
            start,
            end,
            metered_m3: m,
            unmetered_m3: u,
        });
    }
    if outside > 0 {
        tracing::warn!(
            "{name}: {outside} row(s) name nodes outside every zone (not billed to any zone)"
        );
    }
    Ok(rows)
}

/// Tank cross-sections of the storage tags (cylindrical tanks only).
fn tank_areas(l: &Loaded, zones: &[zones::Zone]) -> Result<TankAreas> {
    let mut a = TankAreas::new();
    for z in zones {
        for tag in &z.storage {
            let s = &l.map.sensors[l.map.sensor_index(tag).expect("resolved")];
            let i = l.net.node_index(s.element.id()).expect("resolved");
            let t = l.net.nodes[i].tank().expect("resolved");
            if t.volume_curve.is_some() {
                bail!(
                    "zone '{}': tank {} has a volume curve; only cylindrical tanks are supported",
                    z.name,
                    l.net.nodes[i].id
                );
            }
            a.insert(
                tag.clone(),
                std::f64::consts::PI * t.diameter * t.diameter / 4.0,
            );
        }
    }
    Ok(a)
}

/// The live twin's alerts from `[twin] state_dir`'s `alerts.sqlite`, read
/// only; None when there is no alert store (the twin never ran).
pub fn read_alerts(state_dir: &Path) -> Result<Option<Vec<events::AlertIn>>> {
    let file = state_dir.join(twin::alerts::FILE_NAME);
    if !file.is_file() {
        return Ok(None);
    }
    let store = twin::AlertStore::open_read_only(state_dir)
        .with_context(|| format!("cannot read the alerts in {}", file.display()))?;
    let alerts = store
        .list(None)
        .with_context(|| format!("cannot read the alerts in {}", file.display()))?;
    Ok(Some(
        alerts
            .into_iter()
            .map(|a| events::AlertIn {
                id: a.id,
                leak_key: a.leak_key,
                state: a.state.as_str().to_string(),
                resolution: a.resolution.map(|r| r.as_str().to_string()),
                raised_ms: a.raised_ms,
                estimated_start_ms: a.estimated_start_ms,
                size_lps: a.size_lps,
                pipe: a.pipe,
                closed_ms: a.closed_ms,
            })
            .collect(),
    ))
}

/// The zone holding a pipe (its start node's zone, else its end node's);
/// "" outside every zone or for an unknown pipe.
fn zone_of_pipe(net: &network::Network, zones: &[zones::Zone], pipe: &str) -> String {
    let Some(l) = net.link_index(pipe) else {
        return String::new();
    };
    let (a, b) = (net.links[l].from, net.links[l].to);
    for end in [a, b] {
        if let Some(z) = zones.iter().find(|z| z.nodes.contains(&end)) {
            return z.name.clone();
        }
    }
    String::new()
}

/// Model pressures for the zones without pressure sensors, and the
/// located leaks with the pressure at each (measured at the pipe's
/// junction ends when each has a pressure sensor, else modelled). One
/// simulation of the model over the window serves them all, and runs only
/// when something needs it.
fn extra_pressures(
    l: &Loaded,
    zones: &[zones::Zone],
    g: &Grid,
    events: &[events::LeakEventRow],
) -> Result<Extra> {
    let mut pressure_tag: HashMap<usize, &str> = HashMap::new();
    for s in &l.map.sensors {
        if s.kind == telemetry::Kind::Pressure {
            if let Some(i) = l.net.node_index(s.element.id()) {
                pressure_tag.insert(i, &s.tag);
            }
        }
    }
    let mut want: Vec<usize> = Vec::new();
    let mut zone_nodes: Vec<(String, Vec<usize>)> = Vec::new();
    for z in zones.iter().filter(|z| z.pressure.is_empty()) {
        let junctions: Vec<usize> = z
            .nodes
            .iter()
            .copied()
            .filter(|&i| l.net.nodes[i].is_junction())
            .collect();
        let demand: Vec<usize> = junctions
            .iter()
            .copied()
            .filter(|&i| {
                l.net.nodes[i]
                    .junction()
                    .is_some_and(|j| j.demands.iter().any(|d| d.base > 0.0))
            })
            .collect();
        let nodes = if demand.is_empty() { junctions } else { demand };
        if nodes.is_empty() {
            continue;
        }
        want.extend(&nodes);
        zone_nodes.push((z.name.clone(), nodes));
    }
    // Located leaks: (alert id, zone, start, end, flow, junction ends, measured?).
    let mut leaks = Vec::new();
    let located = |e: &&events::LeakEventRow| match l.report.params.located_leaks {
        config::LocatedLeaks::Repaired => e.repaired_ms.is_some(),
        config::LocatedLeaks::All => e.volume_lost_m3.is_finite(),
        config::LocatedLeaks::None => false,
    };
    for e in events.iter().filter(located) {
        let Some(k) = l.net.link_index(&e.pipe) else {
            continue;
        };
        let ends: Vec<usize> = [l.net.links[k].from, l.net.links[k].to]
            .into_iter()
            .filter(|&i| l.net.nodes[i].is_junction())
            .collect();
        if ends.is_empty() || e.zone.is_empty() {
            continue;
        }
        let measured = ends.iter().all(|i| {
            pressure_tag
                .get(i)
                .is_some_and(|t| g.series.contains_key(*t))
        });
        if !measured {
            want.extend(&ends);
        }
        leaks.push((e, ends, measured));
    }
    want.sort_unstable();
    want.dedup();
    let mut modelled: HashMap<usize, Vec<f64>> = HashMap::new();
    if !want.is_empty() {
        let t0 = std::time::Instant::now();
        let pb = progress(100, "simulating the model");
        let utc_offset_s = jiff::Timestamp::from_millisecond(g.from)
            .map_or(0, |t| i64::from(l.map.time_zone.to_offset(t).seconds()));
        let p = model::pressures(
            &l.net,
            g.from,
            utc_offset_s,
            g.step_ms,
            g.n,
            &want,
            |share| pb.set_position((share * 100.0) as u64),
        )
        .with_context(|| "model pressures (zones without pressure sensors, located leaks)")?;
        pb.finish_and_clear();
        tracing::info!(
            "model pressures at {} node(s) over {} steps in {:.1} s",
            want.len(),
            g.n,
            t0.elapsed().as_secs_f64()
        );
        modelled = want.into_iter().zip(p).collect();
    }
    let mean_of = |series: &[&[f64]]| -> Vec<f64> {
        (0..g.n)
            .map(|t| {
                let v: Vec<f64> = series
                    .iter()
                    .filter_map(|s| s.get(t).copied())
                    .filter(|x| x.is_finite())
                    .collect();
                if v.is_empty() {
                    f64::NAN
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            })
            .collect()
    };
    let mut extra = Extra::default();
    for (name, nodes) in zone_nodes {
        let s: Vec<&[f64]> = nodes.iter().map(|i| modelled[i].as_slice()).collect();
        extra.model_azp.insert(name, mean_of(&s));
    }
    for (e, ends, measured) in leaks {
        let s: Vec<&[f64]> = ends
            .iter()
            .map(|i| {
                if measured {
                    g.series[pressure_tag[i]].as_slice()
                } else {
                    modelled[i].as_slice()
                }
            })
            .collect();
        extra.leaks.push(LocatedLeak {
            alert_id: e.alert_id,
            zone: e.zone.clone(),
            start_ms: e.estimated_start_ms.min(e.raised_ms),
            end_ms: e.repaired_ms.unwrap_or(i64::MAX),
            flow_m3s: e.estimated_flow_lps / 1000.0,
            pressure: mean_of(&s),
            pressure_source: if measured { "sensors" } else { "model" },
        });
    }
    Ok(extra)
}

/// A progress bar on standard error when it is a terminal (hidden
/// otherwise, e.g. under cron or a systemd timer, where the logs say it).
fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg:24} [{bar:40}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Runs the report; returns the files written.
pub fn run(req: &Request) -> Result<Vec<PathBuf>> {
    if req.to <= req.from {
        bail!("--to must be after --from");
    }
    let step_ms = i64::from(req.step_s) * 1000;
    if step_ms <= 0 || (req.to - req.from) % step_ms != 0 {
        bail!(
            "--from … --to must be a whole number of --step-s {}",
            req.step_s
        );
    }
    let l = load(&req.config)?;
    let specs = if l.report.zones.is_empty() {
        let z = zones::detect(&l.net, &l.map, &[]).map_err(|e| anyhow!(e))?;
        tracing::info!(
            "no [[zones]] in {}: {} zone(s) detected from metered and closed links",
            req.config.display(),
            z.len()
        );
        z
    } else {
        l.report.zones.clone()
    };
    let conns = l.report.params.connections.unwrap_or_else(|| {
        let n = l
            .net
            .nodes
            .iter()
            .filter(|n| {
                n.junction()
                    .is_some_and(|j| j.demands.iter().any(|d| d.base > 0.0))
            })
            .count() as f64;
        tracing::warn!("[reporting] connections not given: taking one per demand node ({n})");
        n
    });
    let zones = zones::resolve(&specs, &l.net, &l.map, conns).map_err(|e| anyhow!(e))?;
    for z in &zones {
        if z.inlets.is_empty() {
            tracing::warn!(
                "zone '{}' has no inlet meter: its input is only what the outlets and storage say",
                z.name
            );
        }
    }
    let areas = tank_areas(&l, &zones)?;
    let billing = match &req.billing {
        Some(p) => read_billing(p, &zones, &l.net)?,
        None => Vec::new(),
    };
    // Load every tag once, resampled to the step (mean of good samples).
    let mut tags: Vec<&String> = zones
        .iter()
        .flat_map(|z| {
            z.inlets
                .iter()
                .chain(&z.outlets)
                .chain(&z.storage)
                .chain(&z.pressure)
                .chain(&z.amr)
        })
        .collect();
    tags.sort();
    tags.dedup();
    let n = ((req.to - req.from) / step_ms) as usize;
    let mut series = HashMap::new();
    let t0 = std::time::Instant::now();
    // The measurements: exported files, or the store.
    let (mut from_files, mut store, source) = if req.input.is_empty() {
        let store = l.twin.store.open().map_err(|e| anyhow!(e))?;
        let d = store.describe();
        (HashMap::new(), Some(store), d)
    } else {
        let wanted: std::collections::HashSet<String> =
            tags.iter().map(|t| t.to_string()).collect();
        let m = input::read(&req.input, &l.map, &wanted)?;
        let d = req
            .input
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        (m, None, d)
    };
    let pb = progress(tags.len() as u64, "reading sensors");
    for tag in tags {
        pb.inc(1);
        let samples = match store.as_mut() {
            Some(store) => store
                .query(tag, req.from, req.to + step_ms)
                .map_err(|e| anyhow!(e))
                .with_context(|| format!("cannot read sensor '{tag}' from {}", store.describe()))?,
            None => from_files.remove(tag.as_str()).unwrap_or_else(|| {
                tracing::warn!("no samples of sensor '{tag}' in the --input files");
                Vec::new()
            }),
        };
        let v: Vec<f64> = resample(&samples, req.from, req.to + step_ms, step_ms, Method::Mean)
            .into_iter()
            .map(|(_, v)| v.unwrap_or(f64::NAN))
            .collect();
        drop(samples);
        series.insert(tag.clone(), v);
    }
    pb.finish_and_clear();
    tracing::info!(
        "read {} sensor(s), {} steps each, from {} in {:.1} s",
        series.len(),
        n,
        source,
        t0.elapsed().as_secs_f64()
    );
    let grid = Grid {
        from: req.from,
        step_ms,
        n,
        series,
    };
    let alerts_file = l.twin.state_dir.join(twin::alerts::FILE_NAME);
    let mut leak_events = Vec::new();
    let events_source = match read_alerts(&l.twin.state_dir)? {
        Some(alerts) => {
            leak_events = events::leak_events(&alerts, req.from, req.to, |p| {
                zone_of_pipe(&l.net, &zones, p)
            });
            tracing::info!(
                "{} leak event(s) over the period from {} ({} alert(s) in the store)",
                leak_events.len(),
                alerts_file.display(),
                alerts.len()
            );
            alerts_file.display().to_string()
        }
        None => {
            tracing::info!(
                "no alert store at {}: no leak events",
                alerts_file.display()
            );
            format!("none (no alert store at {})", alerts_file.display())
        }
    };
    let extra = extra_pressures(&l, &zones, &grid, &leak_events)?;
    let mut fig = compute::figures(
        &grid,
        &zones,
        &areas,
        &l.report.params,
        &billing,
        req.period,
        &extra,
    );
    fig.events = leak_events;
    let pressure_sources = zones
        .iter()
        .map(|z| {
            let src = if !z.pressure.is_empty() {
                format!("{} pressure sensor(s)", z.pressure.len())
            } else if extra.model_azp.contains_key(&z.name) {
                "the model (extended-period simulation with its patterns)".to_string()
            } else {
                "none".to_string()
            };
            format!("{}: {src}", z.name)
        })
        .collect::<Vec<_>>()
        .join("; ");
    std::fs::create_dir_all(&req.out)
        .with_context(|| format!("cannot create {}", req.out.display()))?;
    let mut written = Vec::new();
    let mut tables = output::tables(&fig)?;
    let ext = match req.format {
        output::Format::Csv => "csv",
        output::Format::Parquet => "parquet",
    };
    for (name, df) in tables.iter_mut() {
        let bytes = output::encode(name, df, req.format)?;
        let p = req.out.join(format!("{name}.{ext}"));
        output::write_atomic(&p, &bytes)?;
        written.push(p);
    }
    let charts = output::charts(&fig)?;
    for (name, svg) in &charts {
        let p = req.out.join(format!("{name}.svg"));
        output::write_atomic(&p, svg.as_bytes())?;
        written.push(p);
    }
    let meta = vec![
        (
            "configuration".to_string(),
            req.config.display().to_string(),
        ),
        ("measurements".to_string(), source.clone()),
        ("from".to_string(), output::iso(req.from)),
        ("to".to_string(), output::iso(req.to)),
        (
            "period".to_string(),
            format!("{:?}", req.period).to_lowercase(),
        ),
        (
            "zones".to_string(),
            zones
                .iter()
                .map(|z| z.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("FAVAD N1".to_string(), l.report.params.n1.to_string()),
        ("leak events".to_string(), events_source),
        ("zone pressures".to_string(), pressure_sources),
        (
            "located leaks".to_string(),
            if extra.leaks.is_empty() {
                format!(
                    "none ({:?}): all night leakage gets its zone's night-day factor",
                    l.report.params.located_leaks
                )
                .to_lowercase()
            } else {
                extra
                    .leaks
                    .iter()
                    .map(|k| format!("alert {} ({} pressure)", k.alert_id, k.pressure_source))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
    ];
    let html = output::html("aquatwin efficiency report", &meta, &charts, &tables);
    let p = req.out.join("report.html");
    output::write_atomic(&p, html.as_bytes())?;
    written.push(p);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INP: &str = "[JUNCTIONS]\n J1 10 1\n J2 10 1\n[RESERVOIRS]\n R 50\n[PIPES]\n P1 R J1 100 200 100\n P2 J1 J2 100 200 100\n[END]\n";

    fn zone(net: &network::Network) -> Vec<zones::Zone> {
        vec![zones::Zone {
            name: "Z".into(),
            inlets: vec![],
            outlets: vec![],
            storage: vec![],
            nodes: vec![net.node_index("J1").unwrap(), net.node_index("J2").unwrap()],
            connections: 2.0,
            mains_km: 0.15,
            pressure: vec![],
            amr: vec![],
        }]
    }

    fn billing(text: &str) -> Result<Vec<BillingRow>> {
        let net = network::inp::parse_inp_bytes(INP.as_bytes(), "t.inp").unwrap();
        // One folder per call (tests run in parallel), removed afterwards.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("aquatwin-billing-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("billing.csv");
        std::fs::write(&p, text).unwrap();
        let r = read_billing(&p, &zone(&net), &net);
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    #[test]
    fn billing_rows_by_zone_and_by_node() {
        let z = billing("zone,period_start,period_end,billed_metered_m3,billed_unmetered_m3\nZ,2019-01-01,2019-02-01,100,5\n").unwrap();
        assert_eq!((z[0].metered_m3, z[0].unmetered_m3), (100.0, 5.0));
        let n = billing("node,period_start,period_end,billed_metered_m3\nJ1,2019-01-01,2019-02-01,7\nJ2,2019-01-01,2019-02-01,3\n").unwrap();
        assert_eq!(n.len(), 2);
        assert!(n.iter().all(|r| r.zone == "Z"));
    }

    #[test]
    fn bad_billing_is_located() {
        let e = billing("zone,period_start,period_end,billed_metered_m3\nZ,2019-01-01,2019-02-01,12\nZ,2019-02-01,2019-03-01,lots\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(".csv:3: field 'billed_metered_m3'"), "{e}");
        let e =
            billing("zone,period_start,period_end,billed_metered_m3\nQ,2019-01-01,2019-02-01,1\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains(":2: field 'zone': no zone 'Q'"), "{e}");
        let e =
            billing("zone,period_start,period_end,billed_metered_m3\nZ,2019-02-01,2019-01-01,1\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains(":2: period_end must be after"), "{e}");
        let e = billing("zone,start,period_end,billed_metered_m3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":1: no column 'period_start'"), "{e}");
    }
}
