//! The hydraulic truth source of the simulated field, in process, on L-TOWN
//! with the shipped BattLeDIM sensor map: readings per sensor kind, the
//! held EPANET step, the wrap at the model's duration, leaks.

use std::path::{Path, PathBuf};
use telemetry::field_sim::{HydraulicTruth, Leak, TruthSource};
use telemetry::SensorMap;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ltown() -> (network::Network, SensorMap) {
    let dir = std::env::var("AQUATWIN_NETWORKS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let shared = root().join("../shared/networks");
            if shared.is_dir() {
                shared
            } else {
                root().join("network-models/benchmark")
            }
        });
    let inp = dir.join("L-TOWN.inp");
    let bytes = std::fs::read(&inp).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run network-models/fetch-networks or set AQUATWIN_NETWORKS)",
            inp.display()
        )
    });
    let net = network::inp::parse_inp_bytes(&bytes, "L-TOWN.inp").unwrap();
    let text = std::fs::read_to_string(root().join("sensors/ltown-battledim.toml")).unwrap();
    let map = SensorMap::parse(&text, "ltown-battledim.toml").unwrap();
    map.validate_against(&net).unwrap();
    (net, map)
}

const MIN: i64 = 60_000;

fn at(src: &mut HydraulicTruth, t_ms: i64, n: usize) -> Vec<Option<f64>> {
    let mut v = vec![None; n];
    src.values_at(t_ms, &mut v);
    v
}

#[test]
fn hydraulic_truth_reads_every_sensor_kind_in_si_and_holds_the_step() {
    let (net, map) = ltown();
    let n = map.sensors.len();
    let dur = net.times.duration as i64;
    assert_eq!(dur, 168 * 3600, "L-TOWN runs a week");
    let mut src = HydraulicTruth::new(net, &map, &[], 1.0)
        .unwrap()
        .with_start_wall(0);
    let v0 = at(&mut src, 0, n);
    assert!(v0.iter().all(|v| v.is_some()), "every sensor has a value");
    let ix = |t: &str| map.sensor_index(t).unwrap();
    // Pressure heads in m, PUMP_1 flow in m³/s (not L/s, not m³/h), T1 level in m.
    let p = v0[ix("n410")].unwrap();
    assert!((10.0..80.0).contains(&p), "n410 pressure {p} m");
    let q = v0[ix("PUMP_1")].unwrap();
    assert!(q.abs() < 1.0, "PUMP_1 flow {q} is m³/s");
    let lvl = v0[ix("T1")].unwrap();
    assert!((0.0..10.0).contains(&lvl), "T1 level {lvl} m");
    // AMR demands are customer demands, m³/s, ≥ 0 and small.
    for s in map
        .sensors
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == telemetry::Kind::Demand)
    {
        let d = v0[s.0].unwrap();
        assert!((0.0..0.05).contains(&d), "{} demand {d}", s.1.tag);
    }
    // L-TOWN steps every 5 min: 21 and 24 min serve the 20-min state, 25 the next.
    let a = at(&mut src, 21 * MIN, n);
    assert_eq!(src.model_time_s(), 1200);
    let b = at(&mut src, 24 * MIN + 59_000, n);
    assert_eq!(a, b, "the solved step holds until the next");
    let c = at(&mut src, 25 * MIN, n);
    assert_eq!(src.model_time_s(), 1500);
    assert_ne!(b, c);
    // Past the duration the model restarts: week + 20 min serves the 20-min state again.
    let w = at(&mut src, (dur / 60 + 20) * MIN, n);
    assert_eq!(src.model_time_s(), 1200);
    for (i, (x, y)) in w.iter().zip(&a).enumerate() {
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(
            (x - y).abs() <= 1e-6 * y.abs().max(1.0),
            "{}: {x} after the wrap, {y} in the first cycle",
            map.sensors[i].tag
        );
    }
}

#[test]
fn hydraulic_truth_leak_lowers_pressure_nearby_from_its_start_time() {
    let (net, map) = ltown();
    let n = map.sensors.len();
    let i = map.sensor_index("n410").unwrap();
    let leak = Leak::parse("p351:25@1:00").unwrap();
    let mut leaky = HydraulicTruth::new(net.clone(), &map, &[leak], 1.0)
        .unwrap()
        .with_start_wall(0);
    assert_eq!(
        leaky.leak_nodes(),
        vec![("p351".to_string(), "n410".to_string())]
    );
    let mut base = HydraulicTruth::new(net, &map, &[], 1.0)
        .unwrap()
        .with_start_wall(0);
    for m in [0, 30, 59] {
        assert_eq!(
            at(&mut leaky, m * MIN, n),
            at(&mut base, m * MIN, n),
            "no leak before 1:00 ({m} min)"
        );
    }
    let node = leaky.simulation().network().node_index("n410").unwrap();
    for m in [60, 90, 180, 24 * 60] {
        let (l, b) = (
            at(&mut leaky, m * MIN, n)[i].unwrap(),
            at(&mut base, m * MIN, n)[i].unwrap(),
        );
        assert!(
            l < b - 5.0,
            "{m} min: n410 {l:.2} m with the leak, {b:.2} m without"
        );
        let q = leaky.simulation().emitter_flow_lps(node);
        if m == 60 {
            assert!(
                (q - 25.0).abs() < 0.3,
                "the leak flows 25 L/s at onset, not {q}"
            );
        } else {
            assert!(
                (15.0..35.0).contains(&q),
                "{m} min: leak flow {q} L/s follows the pressure"
            );
        }
    }
    // Still on in the second cycle.
    let t = (168 * 60 + 30) * MIN;
    let (l, b) = (
        at(&mut leaky, t, n)[i].unwrap(),
        at(&mut base, t, n)[i].unwrap(),
    );
    assert!(l < b - 5.0, "after the wrap: {l:.2} vs {b:.2}");
}

#[test]
fn hydraulic_truth_steady_state_model_is_held() {
    let (mut net, map) = ltown();
    net.times.duration = 0;
    let n = map.sensors.len();
    let i = map.sensor_index("n410").unwrap();
    let mut src = HydraulicTruth::new(net, &map, &[Leak::parse("p351:25@600").unwrap()], 1.0)
        .unwrap()
        .with_start_wall(0);
    let a = at(&mut src, 0, n);
    assert_eq!(a, at(&mut src, 9 * MIN, n), "steady state holds");
    let b = at(&mut src, 10 * MIN, n);
    assert!(
        b[i].unwrap() < a[i].unwrap() - 5.0,
        "the leak at 600 s: {:?} → {:?}",
        a[i],
        b[i]
    );
    assert_eq!(src.model_time_s(), 0);
}

#[test]
fn hydraulic_truth_amr_meter_does_not_see_a_leak_at_its_node() {
    let (net, map) = ltown();
    let n = map.sensors.len();
    let (p, amr) = (
        map.sensor_index("n1").unwrap(),
        map.sensor_index("amr_n1").unwrap(),
    );
    let mut src = HydraulicTruth::new(net, &map, &[Leak::parse("p253:5@0:10").unwrap()], 1.0)
        .unwrap()
        .with_start_wall(0);
    assert_eq!(src.leak_nodes()[0].1, "n1");
    let a = at(&mut src, 9 * MIN, n);
    let b = at(&mut src, 10 * MIN, n);
    assert!(
        b[p].unwrap() < a[p].unwrap() - 0.5,
        "n1 pressure {:?} → {:?}",
        a[p],
        b[p]
    );
    // The meter reads the node's outflow minus its emitter (leak) flow.
    let node = src.simulation().network().node_index("n1").unwrap();
    let sim = src.simulation();
    let customer = (sim.demand_lps(node) - sim.emitter_flow_lps(node)) / 1000.0;
    assert!((b[amr].unwrap() - customer).abs() < 1e-12);
    assert!(sim.emitter_flow_lps(node) > 4.9, "the leak flows");
    assert!(
        b[amr].unwrap() < 0.004,
        "AMR n1 reads {} m³/s, not the 5 L/s leak",
        b[amr].unwrap()
    );
}

/// Simulated time 0 is midnight on the model's clock: a model whose clock
/// starts at 7:00 with its patterns at 7:00 then (Richmond_standard's
/// times) serves at time 0 what its clock gives at midnight — here L-TOWN
/// moved so, which must serve what L-TOWN (clock from midnight) does.
#[test]
fn hydraulic_truth_starts_at_midnight_on_the_models_clock() {
    let (net, map) = ltown();
    let n = map.sensors.len();
    let mut moved = net.clone();
    moved.times.start_clocktime = 7 * 3600;
    moved.times.pattern_start = 7 * 3600;
    let mut plain = HydraulicTruth::new(net, &map, &[], 1.0)
        .unwrap()
        .with_start_wall(0);
    let mut src = HydraulicTruth::new(moved, &map, &[], 1.0)
        .unwrap()
        .with_start_wall(0);
    // (Started at the model's 7:00 instead, the pressures differ at once.)
    for t in [0, 90 * MIN, 7 * 60 * MIN] {
        assert_eq!(
            at(&mut src, t, n),
            at(&mut plain, t, n),
            "at {} min",
            t / MIN
        );
    }
}
