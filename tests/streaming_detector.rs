//! The streaming detector against its batch replay, on an L-Town scenario
//! with one large abrupt leak: readings pushed one time step at a time in
//! SI give the batch detector's alarms; a checkpoint taken mid-way
//! (serialized to JSON, as a service saves it) and resumed gives exactly
//! what an uninterrupted detector gives; a step pushed twice is refused.

use battledim::scenario::{generate, ScenarioConfig};
use conformance::*;
use detection::detect::{
    detect, Clock, Column, DetectConfig, Detector, DetectorEvent, DetectorState, ScadaData,
    Training,
};
use detection::sensors::{SensorKind, SensorSet};

/// Factor from detection's units (m³/h flows, L/h demands, m) to SI.
fn to_si(kind: SensorKind) -> f64 {
    match kind {
        SensorKind::Flow => 1.0 / 3600.0,
        SensorKind::Demand => 1.0 / 3.6e6,
        SensorKind::Pressure | SensorKind::TankLevel => 1.0,
    }
}

#[test]
fn streaming_equals_batch_and_resumes_exactly() {
    streaming_against_batch(&[]);
}

/// The same without the meters on L-Town's reservoir links: no water
/// balance, the detector falls back to the pressures, streams as its batch
/// replay does and resumes exactly (the sensitivity runs included).
#[test]
fn without_a_balance_streaming_equals_batch_and_resumes_exactly() {
    streaming_against_batch(&["p227", "p235"]);
}

/// The streaming detector against the batch replay, with the SCADA columns
/// `without` left out of the data.
/// A training learnt apart, as the twin's `train` learns it (from the
/// training period's rows plus the storage term's look-ahead rows after
/// it), is what a detector learns from the first rows of its data.
#[test]
fn a_training_learnt_apart_equals_self_training() {
    let (model, sensors, data) = ltown_scenario(&[]);
    let learn_rows = 7 * 288;
    let cfg = DetectConfig::default();
    let clock = Clock::of_data(&model, &data);
    let usable = vec![true; sensors.sensors.len()];
    let mut d = Detector::self_training(
        &model,
        &sensors,
        &cfg,
        &usable,
        clock,
        data.start_step,
        learn_rows,
    )
    .unwrap();
    for r in 0..learn_rows + 3 {
        let readings: Vec<Option<f64>> = sensors
            .sensors
            .iter()
            .map(|s| {
                data.column(s.kind, &s.column)
                    .map(|c| c.values[r] * to_si(c.kind))
            })
            .collect();
        d.push(clock.unix_ms(data.start_step + r as i64), &readings)
            .unwrap();
    }
    let apart_data = ScadaData {
        rows: learn_rows + 3,
        columns: data
            .columns
            .iter()
            .map(|c| Column {
                kind: c.kind,
                name: c.name.clone(),
                values: c.values[..learn_rows + 3].to_vec(),
            })
            .collect(),
        ..data.clone()
    };
    let apart =
        Training::learn_restricted(&model, &sensors, &apart_data, learn_rows, &cfg, None).unwrap();
    let json = |t: &Training| {
        let mut v = serde_json::to_value(t).unwrap();
        v.as_object_mut().unwrap().remove("description");
        v
    };
    let (diff, at) = largest_difference(
        &json(&apart),
        &json(d.training().expect("trained")),
        "",
        0.0,
    );
    assert!(diff <= 1e-4, "trainings differ by {diff:e} at {at}");
}

/// The largest difference between two JSON values' numbers, relative to
/// the largest magnitude among the numbers of the same array (1 where
/// their shapes differ), and where.
fn largest_difference(
    a: &serde_json::Value,
    b: &serde_json::Value,
    at: &str,
    scale: f64,
) -> (f64, String) {
    use serde_json::Value::{Array, Number, Object};
    let most = |m: (f64, String), d: (f64, String)| if d.0 > m.0 { d } else { m };
    match (a, b) {
        (Number(x), Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let s = x.abs().max(y.abs()).max(scale).max(1e-300);
            ((x - y).abs() / s, at.to_string())
        }
        (Array(x), Array(y)) if x.len() == y.len() => {
            let scale = x
                .iter()
                .filter_map(|v| v.as_f64())
                .fold(0.0_f64, |m, v| m.max(v.abs()));
            x.iter()
                .zip(y)
                .enumerate()
                .map(|(i, (x, y))| largest_difference(x, y, &format!("{at}[{i}]"), scale))
                .fold((0.0, String::new()), most)
        }
        (Object(x), Object(y)) if x.len() == y.len() => x
            .iter()
            .map(|(k, v)| match y.get(k) {
                Some(w) => largest_difference(v, w, &format!("{at}.{k}"), 0.0),
                None => (1.0, format!("{at}.{k}")),
            })
            .fold((0.0, String::new()), most),
        _ if a == b => (0.0, String::new()),
        _ => (1.0, at.to_string()),
    }
}

/// L-Town, 10 days, one abrupt leak of 6–8 L/s (seed 7), without the
/// columns named.
fn ltown_scenario(without: &[&str]) -> (network::Network, SensorSet, ScadaData) {
    let text = std::fs::read_to_string(networks_dir().join("L-TOWN.inp")).unwrap();
    let model = network::inp::parse_inp(&text, "L-TOWN.inp").unwrap();
    let sensors = battledim::ltown::sensor_set();
    let sc = generate(
        &model,
        &sensors,
        &ScenarioConfig {
            days: 10,
            leaks: 1,
            seed: 7,
            leak_lps: (6.0, 8.0),
            incipient_share: 0.0,
            ..ScenarioConfig::default()
        },
    )
    .unwrap();
    // The scenario counts BattLeDIM's steps (from 2019-01-01), the
    // detector steps from the Unix epoch.
    let start_step = sc.start_step + battledim::time::EPOCH_2019_S / 300;
    let data = ScadaData {
        start_step,
        step_s: 300,
        utc_offset_s: 0,
        rows: sc.rows,
        columns: sc
            .series
            .iter()
            .filter(|s| !without.contains(&s.column.as_str()))
            .map(|s| Column {
                kind: s.kind,
                name: s.column.clone(),
                values: s.values.clone(),
            })
            .collect(),
    };
    (model, sensors, data)
}

fn streaming_against_batch(without: &[&str]) {
    let (model, sensors, data) = ltown_scenario(without);
    let cfg = DetectConfig::default();
    let start_step = data.start_step;
    let batch = detect(&model, &sensors, &data, None, &cfg).unwrap();
    assert!(
        batch.alarms.iter().any(|a| a.reported),
        "the batch detector finds the leak"
    );

    assert_eq!(
        batch.balance,
        if without.is_empty() {
            detection::detect::Balance::Metered
        } else {
            detection::detect::Balance::Pressures
        }
    );
    // Column of each sensor of the set, readings in SI.
    let cols: Vec<Option<&Column>> = sensors
        .sensors
        .iter()
        .map(|s| data.column(s.kind, &s.column))
        .collect();
    let readings = |r: usize| -> Vec<Option<f64>> {
        cols.iter()
            .map(|c| c.map(|c| c.values[r] * to_si(c.kind)))
            .collect()
    };
    let learn_rows = 7 * 288;
    let usable: Vec<bool> = cols.iter().map(Option::is_some).collect();
    let clock = Clock::of_data(&model, &data);
    let unix_ms_of_step = |k: i64| clock.unix_ms(k);
    let new = || {
        Detector::self_training(
            &model, &sensors, &cfg, &usable, clock, start_step, learn_rows,
        )
        .unwrap()
    };
    let mut whole = new();
    let mut first = new();
    let cut = data.rows / 2 + 17;
    let mut events_whole = Vec::new();
    let mut events_split = Vec::new();
    for r in 0..data.rows {
        let t = unix_ms_of_step(start_step + r as i64);
        events_whole.extend(whole.push(t, &readings(r)).unwrap());
        if r < cut {
            events_split.extend(first.push(t, &readings(r)).unwrap());
        }
    }
    events_whole.extend(whole.finish().unwrap());
    // Checkpoint, as JSON, and resume.
    let json = serde_json::to_string(&first.state()).unwrap();
    drop(first);
    let state: DetectorState = serde_json::from_str(&json).unwrap();
    // A checkpoint without the step and model time 0 (written before they
    // came from the data, steps counted from 2019) is refused.
    let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
    old.as_object_mut().unwrap().remove("clock");
    let e = serde_json::from_value::<DetectorState>(old).unwrap_err();
    assert!(e.to_string().contains("missing field `clock`"), "{e}");
    // L-Town's model solves every step and stays in the sensors' ranges:
    // nothing of the last day was left uncompared (a live twin would show
    // degraded otherwise), and the batch report lists no such rows.
    assert_eq!(whole.model_not_compared_recently(24.0), (0, 288));
    assert!(!batch
        .issues
        .iter()
        .any(|i| i.problem.contains("not compared")));
    let mut resumed = Detector::resume(&model, &sensors, state).unwrap();
    let t_dup = unix_ms_of_step(start_step + cut as i64 - 1);
    assert!(
        resumed.push(t_dup, &readings(cut - 1)).is_err(),
        "a step already processed is refused"
    );
    for r in cut..data.rows {
        let t = unix_ms_of_step(start_step + r as i64);
        events_split.extend(resumed.push(t, &readings(r)).unwrap());
    }
    events_split.extend(resumed.finish().unwrap());

    let j = |x: &dyn Fn() -> String| x();
    assert_eq!(
        j(&|| serde_json::to_string(whole.alarms()).unwrap()),
        j(&|| serde_json::to_string(resumed.alarms()).unwrap()),
        "checkpoint + resume = uninterrupted"
    );
    assert_eq!(
        serde_json::to_string(&events_whole).unwrap(),
        serde_json::to_string(&events_split).unwrap()
    );
    // SI in, the same alarms as the batch replay (pipes and times; sizes
    // to rounding).
    let key = |a: &detection::detect::Alarm| (a.reported, a.pipe.clone(), a.time.clone());
    assert_eq!(
        whole.alarms().iter().map(key).collect::<Vec<_>>(),
        batch.alarms.iter().map(key).collect::<Vec<_>>()
    );
    for (a, b) in whole.alarms().iter().zip(&batch.alarms) {
        assert!(
            (a.estimated_size_lps - b.estimated_size_lps).abs()
                < 1e-6 * b.estimated_size_lps.abs().max(1.0)
        );
    }
    // Every alarm came with its event, raised before it was localized.
    let raised = events_whole
        .iter()
        .filter(|e| matches!(e, DetectorEvent::AlarmRaised { .. }))
        .count();
    let localized = events_whole
        .iter()
        .filter(|e| matches!(e, DetectorEvent::Alarm { .. }))
        .count();
    assert_eq!(localized, whole.alarms().len());
    assert!(raised >= 1);
    // An operator closes the alert as repaired: once, and only a known leak.
    let reported = whole.alarms().iter().position(|a| a.reported).unwrap();
    assert!(whole.leak_repaired(reported));
    assert!(!whole.leak_repaired(reported), "already repaired");
    assert!(!whole.leak_repaired(999), "no such alarm");
}

/// A detector keeps only its recent history (`history_days`): over 17 days
/// its checkpoint holds at most the kept days, and a detector resumed from
/// a checkpoint taken after rows were dropped reports the same alarms as
/// the uninterrupted one (its model is re-simulated from the kept rows, so
/// values may differ by the solver's tolerance, not its decisions).
#[test]
fn history_is_bounded_and_resume_after_trimming_keeps_the_alarms() {
    let text = std::fs::read_to_string(networks_dir().join("L-TOWN.inp")).unwrap();
    let model = network::inp::parse_inp(&text, "L-TOWN.inp").unwrap();
    let sensors = battledim::ltown::sensor_set();
    let sc = generate(
        &model,
        &sensors,
        &ScenarioConfig {
            days: 17,
            leaks: 2,
            seed: 31,
            leak_lps: (5.0, 8.0),
            incipient_share: 0.0,
            leak_free_days: 9.0,
            ..ScenarioConfig::default()
        },
    )
    .unwrap();
    let cfg = DetectConfig {
        history_days: 9.0,
        ..DetectConfig::default()
    };
    let cols: Vec<(SensorKind, &Vec<f64>)> = sensors
        .sensors
        .iter()
        .map(|s| {
            let x = sc
                .series
                .iter()
                .find(|x| x.kind == s.kind && x.column == s.column)
                .unwrap();
            (x.kind, &x.values)
        })
        .collect();
    let readings = |r: usize| -> Vec<Option<f64>> {
        cols.iter().map(|(k, v)| Some(v[r] * to_si(*k))).collect()
    };
    let usable = vec![true; sensors.sensors.len()];
    let start_step = sc.start_step + battledim::time::EPOCH_2019_S / 300;
    let clock = Clock {
        step_s: 300,
        model_origin_s: battledim::time::EPOCH_2019_S,
    };
    let unix_ms_of_step = |k: i64| clock.unix_ms(k);
    let new = || {
        Detector::self_training(&model, &sensors, &cfg, &usable, clock, start_step, 7 * 288)
            .unwrap()
    };
    let (mut whole, mut first) = (new(), new());
    let cut = 14 * 288 + 5;
    let mut largest = 0;
    for r in 0..sc.rows {
        let t = unix_ms_of_step(start_step + r as i64);
        whole.push(t, &readings(r)).unwrap();
        if r < cut {
            first.push(t, &readings(r)).unwrap();
        }
        largest = largest.max(whole.rows());
    }
    whole.finish().unwrap();
    // At most the kept days (pending + reference + 3 days of margin, as
    // the setting's floor says) plus the day being filled.
    let floor_days = (cfg.pending_h + cfg.ref_window_h) / 24.0 + 3.0;
    let bound = ((cfg.history_days.max(floor_days) + 1.0) * 288.0) as usize + 3;
    assert!(largest <= bound, "{largest} rows kept, bound {bound}");
    let state: DetectorState =
        serde_json::from_str(&serde_json::to_string(&first.state()).unwrap()).unwrap();
    assert!(
        state.start_step > start_step,
        "rows were dropped before the checkpoint"
    );
    let mut resumed = Detector::resume(&model, &sensors, state).unwrap();
    for r in cut..sc.rows {
        let t = unix_ms_of_step(start_step + r as i64);
        resumed.push(t, &readings(r)).unwrap();
    }
    resumed.finish().unwrap();
    let key = |a: &detection::detect::Alarm| (a.reported, a.pipe.clone(), a.time.clone());
    assert!(whole.alarms().iter().any(|a| a.reported));
    assert_eq!(
        whole.alarms().iter().map(key).collect::<Vec<_>>(),
        resumed.alarms().iter().map(key).collect::<Vec<_>>()
    );
}
