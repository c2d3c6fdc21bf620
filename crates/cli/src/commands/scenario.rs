//! `aquatwin scenario`: synthetic truth data for leak detection (perturbed
//! network, leaks at pipe midpoints, BattLeDIM-layout SCADA files, labels
//! and leak flows). The generator lives in `battledim::scenario`.

use crate::figures::Fixed;
use anyhow::{bail, Context, Result};
use battledim::scenario::{generate, ScenarioConfig};
use detection::sensors::SensorKind;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The model (.inp); the truth network is a perturbed copy of it.
    #[arg(long)]
    network: PathBuf,
    /// Sensor map (.toml); without it, the BattLeDIM L-Town sensors.
    #[arg(long)]
    sensors: Option<PathBuf>,
    #[arg(long, default_value_t = 28)]
    days: u32,
    #[arg(long, default_value_t = 3)]
    leaks: usize,
    /// Model uncertainty: roughness, base demands and pattern values ± this share.
    #[arg(long, default_value_t = 0.10)]
    uncertainty: f64,
    /// The consumers' noise alone: every demand-pattern value, fresh at
    /// every 5-minute step, × 1 ± this share (default: --uncertainty's).
    /// With `--uncertainty 0 --demand-noise 0.1` the model is exact and
    /// only the demands are noisy; with `--demand-noise 0` the reverse.
    #[arg(long)]
    demand_noise: Option<f64>,
    /// Model drift: the field differs from the model by group too, as an
    /// aged model does: each pipe group's roughness (by the diameter classes
    /// `calibrate` groups by default) and each demand group's base demands
    /// (by pattern) × one factor in 1 ± this share, on top of
    /// --uncertainty (default 0: none). The factors drawn are in
    /// scenario.json (`drift_factors`).
    #[arg(long, default_value_t = 0.0)]
    model_drift: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Smallest and largest leak peak flow, L/s.
    #[arg(long, default_value_t = 1.5)]
    min_leak_lps: f64,
    #[arg(long, default_value_t = 8.0)]
    max_leak_lps: f64,
    /// Smallest and largest leak peak flow as shares of the mean system
    /// inflow (e.g. `0.03,0.12`), instead of --min/--max-leak-lps. The
    /// inflow is the truth network's total junction demand averaged over
    /// its first day (written to scenario.json as `mean_inflow_lps`).
    #[arg(long, value_delimiter = ',', value_name = "MIN,MAX")]
    leak_inflow_share: Option<Vec<f64>>,
    /// Leak-free days at the start.
    #[arg(long, default_value_t = 7.0)]
    leak_free_days: f64,
    /// Share of incipient (growing) leaks.
    #[arg(long, default_value_t = 0.5)]
    incipient_share: f64,
    /// Gaussian noise on pressure and level readings, m.
    #[arg(long, default_value_t = 0.0)]
    pressure_noise: f64,
    /// Relative Gaussian noise on flow and demand readings.
    #[arg(long, default_value_t = 0.0)]
    flow_noise: f64,
    /// Do not round readings to 0.01.
    #[arg(long)]
    no_round: bool,
    /// Customer-meter under-registration of the billing file (`billing/billing.csv`):
    /// billed = true consumption × (1 − this).
    #[arg(long, default_value_t = 0.0)]
    meter_under_registration: f64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
}

/// Column prefix of the hidden per-junction consumption series the billing
/// file is made from (never written to the SCADA files).
const BILL_PREFIX: &str = "__billing__";

/// Adds a demand series for every junction with a base demand, so that the
/// truth's customer consumption is recorded beside the sensors.
fn add_billing_series(net: &network::Network, sensors: &mut detection::sensors::SensorSet) {
    for n in &net.nodes {
        if n.junction()
            .is_some_and(|j| j.demands.iter().any(|d| d.base > 0.0))
        {
            sensors.sensors.push(detection::sensors::Sensor {
                kind: SensorKind::Demand,
                column: format!("{BILL_PREFIX}{}", n.id),
                element: n.id.clone(),
                range: None,
            });
        }
    }
}

/// `billing/billing.csv`: per junction and calendar month (UTC) of the scenario,
/// the true customer consumption (the hidden demand series, L/h at each
/// 5-minute step, held for the step) times (1 − under-registration).
fn billing_csv(sc: &mut battledim::scenario::Scenario, under: f64) -> String {
    use battledim::time::{format_step, STEP_S};
    let hidden: Vec<battledim::scenario::Series> = {
        let (h, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut sc.series)
            .into_iter()
            .partition(|s| s.column.starts_with(BILL_PREFIX));
        sc.series = keep;
        h
    };
    // `YYYY-MM-DD HH:MM` (UTC) of each row; months are its first 7 characters.
    let stamp = |r: usize| format_step(sc.start_step + r as i64);
    let next_month = |ym: &str| -> String {
        let (y, m): (i32, u32) = (ym[..4].parse().unwrap_or(0), ym[5..7].parse().unwrap_or(1));
        if m == 12 {
            format!("{:04}-01-01 00:00", y + 1)
        } else {
            format!("{y:04}-{:02}-01 00:00", m + 1)
        }
    };
    let end_all = stamp(sc.rows);
    // Month segments: (first row, row after the last, start, end).
    let mut months: Vec<(usize, usize, String, String)> = Vec::new();
    let mut r = 0;
    while r < sc.rows {
        let start = stamp(r);
        let end = next_month(&start[..7]).min(end_all.clone());
        // Rows are 5-minute steps: jump to the first row at or after `end`.
        let mut e = r + 1;
        let step_days = 288;
        while e < sc.rows && stamp(e) < end {
            e = (e + step_days).min(sc.rows);
        }
        while e > r + 1 && stamp(e - 1) >= end {
            e -= 1;
        }
        months.push((r, e, start, end));
        r = e;
    }
    let mut out =
        String::from("node,period_start,period_end,billed_metered_m3,billed_unmetered_m3\n");
    for s in &hidden {
        let node = &s.column[BILL_PREFIX.len()..];
        for (a, b, start, end) in &months {
            // L/h held over one step.
            let m3: f64 = s.values[*a..*b].iter().sum::<f64>() / 1000.0 / 3600.0 * STEP_S as f64;
            out.push_str(&format!(
                "{node},{start},{end},{:.6},0\n",
                m3 * (1.0 - under)
            ));
        }
    }
    out
}

pub fn run(a: Args) -> Result<()> {
    let net = super::load_network(&a.network)?;
    let sensors = super::detect::load_sensors(a.sensors.as_deref(), &net)?;
    if sensors.time_zone != telemetry::time::TimeZone::UTC {
        bail!(
            "the sensor map declares time_zone = \"{}\": scenario writes its SCADA files in UTC \
             (give it a map without time_zone)",
            telemetry::time::zone_name(&sensors.time_zone)
        );
    }
    let mut sensors = sensors.set;
    anyhow::ensure!(
        (0.0..1.0).contains(&a.meter_under_registration),
        "--meter-under-registration must be in [0, 1)"
    );
    add_billing_series(&net, &mut sensors);
    let cfg = ScenarioConfig {
        days: a.days,
        leaks: a.leaks,
        uncertainty: a.uncertainty,
        demand_noise: a.demand_noise,
        seed: a.seed,
        leak_lps: (a.min_leak_lps, a.max_leak_lps),
        leak_inflow_share: match a.leak_inflow_share.as_deref() {
            None => None,
            Some(&[lo, hi]) => Some((lo, hi)),
            Some(v) => bail!("--leak-inflow-share: expected MIN,MAX (two shares), got {v:?}"),
        },
        leak_free_days: a.leak_free_days,
        incipient_share: a.incipient_share,
        pressure_noise_m: a.pressure_noise,
        flow_noise_rel: a.flow_noise,
        round: (!a.no_round).then_some(0.01),
        drift: (a.model_drift > 0.0).then(|| drift_groups(&net, a.model_drift)),
        ..ScenarioConfig::default()
    };
    anyhow::ensure!(
        (0.0..1.0).contains(&a.model_drift),
        "--model-drift {}: expected a share in [0, 1)",
        a.model_drift
    );
    if let Some(d) = a.demand_noise {
        anyhow::ensure!(
            (0.0..1.0).contains(&d),
            "--demand-noise {d}: expected a share in [0, 1)"
        );
    }
    anyhow::ensure!(a.days >= 2, "--days must be at least 2");
    if let Some((lo, hi)) = cfg.leak_inflow_share {
        anyhow::ensure!(
            lo > 0.0 && lo <= hi && hi < 1.0,
            "--leak-inflow-share {lo},{hi}: expected 0 < MIN ≤ MAX < 1"
        );
    }
    anyhow::ensure!(
        cfg.leak_free_days + cfg.end_margin_days < a.days as f64 || a.leaks == 0,
        "--days {} leaves no time for leaks after {} leak-free days",
        a.days,
        cfg.leak_free_days
    );
    let mut sc = generate(&net, &sensors, &cfg)?;
    let billing = billing_csv(&mut sc, a.meter_under_registration);
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let write = |name: &str, text: String| -> Result<()> {
        let p = a.out.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))
    };
    for kind in SensorKind::ALL {
        if sc.series.iter().any(|s| s.kind == kind) {
            write(detection::sensors::scada_file(kind), sc.scada_csv(kind))?;
        }
    }
    write("leakages_info.yalm", sc.labels_yalm())?;
    write("leak_flows_m3h.csv", sc.leak_flows_csv())?;
    write("perfect_detections.txt", sc.perfect_results())?;
    write("scenario.json", serde_json::to_string_pretty(&sc)? + "\n")?;
    // In a subdirectory: `import-scada DIR` reads every .csv of DIR as SCADA.
    let billing_dir = a.out.join("billing");
    std::fs::create_dir_all(&billing_dir)
        .with_context(|| format!("cannot create {}", billing_dir.display()))?;
    write("billing/billing.csv", billing)?;
    // The truth as a simulated field serves it: a year long, so that a
    // field started at the scenario's end continues it instead of starting
    // the model's cycle again.
    let mut truth = sc.truth.clone();
    truth.times.duration = truth.times.duration.max(365 * 86_400);
    write("truth.inp", network::inp::write_inp(&truth))?;
    for n in &sc.notes {
        eprintln!("note: {n}");
    }
    for l in &sc.leaks {
        eprintln!(
            "leak {}: {:?} from {} peak {} d={} m, max {} L/s",
            l.pipe,
            l.shape,
            battledim::time::format_step(l.start_step),
            battledim::time::format_step(l.peak_step),
            Fixed(l.diameter_m, 4),
            Fixed(l.max_flow_lps, 2)
        );
    }
    eprintln!(
        "mean system inflow {} L/s; wrote {} rows to {}",
        Fixed(sc.mean_inflow_lps, 2),
        sc.rows,
        a.out.display()
    );
    Ok(())
}

/// The groups of `--model-drift`: those `calibrate` fits by default
/// (roughness by diameter class, base demands by pattern).
fn drift_groups(net: &network::Network, share: f64) -> battledim::scenario::ModelDrift {
    use calibration::{demand_groups_by_pattern, roughness_groups, RoughnessGrouping};
    let limits = super::calibrate::groups::DEFAULT_LIMITS_MM
        .iter()
        .map(|mm| mm / 1000.0)
        .collect();
    battledim::scenario::ModelDrift {
        share,
        pipe_groups: roughness_groups(net, &RoughnessGrouping::Diameter(limits))
            .into_iter()
            .map(|g| (g.name, g.pipes))
            .collect(),
        demand_groups: demand_groups_by_pattern(net)
            .into_iter()
            .map(|g| (g.name, g.demands))
            .collect(),
    }
}
