//! SCADA import in the BattLeDIM layout with the shipped L-TOWN sensor map:
//! a month of 5-minute data for all 119 sensors, streamed into SQLite.

mod common;

use common::*;
use std::io::Write;
use telemetry::ingest::{import_scada, scada_files};
use telemetry::store::buffer::BufferedStore;
use telemetry::store::sqlite::SqliteStore;
use telemetry::store::Store;
use telemetry::{Kind, Quality, SensorMap};

fn ltown_map() -> SensorMap {
    let p = root().join("sensors/ltown-battledim.toml");
    SensorMap::parse(
        &std::fs::read_to_string(&p).unwrap(),
        &p.display().to_string(),
    )
    .unwrap()
}

#[test]
fn ltown_map_matches_the_battledim_sensor_set() {
    let m = ltown_map();
    let count = |k: Kind| m.sensors.iter().filter(|s| s.kind == k).count();
    assert_eq!(
        (
            count(Kind::Pressure),
            count(Kind::Flow),
            count(Kind::TankLevel),
            count(Kind::Demand)
        ),
        (33, 3, 1, 82)
    );
    let nets = std::env::var("AQUATWIN_NETWORKS")
        .map(std::path::PathBuf::from)
        .unwrap_or(root().join("../shared/networks"));
    let inp = nets.join("L-TOWN.inp");
    if let Ok(bytes) = std::fs::read(&inp) {
        let net = network::inp::parse_inp_bytes(&bytes, "L-TOWN.inp").unwrap();
        m.validate_against(&net).unwrap();
        // A map naming a node the network lacks is refused with its line.
        let text = std::fs::read_to_string(root().join("sensors/ltown-battledim.toml"))
            .unwrap()
            .replacen("node = \"n769\"", "node = \"n9999\"", 1);
        let bad = SensorMap::parse(&text, "x.toml")
            .unwrap()
            .validate_against(&net)
            .unwrap_err();
        assert!(bad.to_string().contains("unknown node 'n9999'"), "{bad}");
        assert!(bad.to_string().starts_with("x.toml:"), "{bad}");
    }
}

#[test]
fn month_of_battledim_scada_streams_in_with_located_errors() {
    let dir = scratch("scada");
    let map = ltown_map();
    let data = dir.join("scada");
    std::fs::create_dir_all(&data).unwrap();
    let rows = 31 * 288;
    let groups = [
        ("Pressures", Kind::Pressure),
        ("Flows", Kind::Flow),
        ("Levels", Kind::TankLevel),
        ("Demands", Kind::Demand),
    ];
    for (name, kind) in groups {
        let cols: Vec<&str> = map
            .sensors
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.scada_column.as_str())
            .collect();
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(data.join(format!("2018_SCADA_{name}.csv"))).unwrap(),
        );
        writeln!(f, "Timestamp;{}", cols.join(";")).unwrap();
        for r in 0..rows {
            let (d, m) = (r / 288, r % 288);
            write!(f, "2018-01-{:02} {:02}:{:02}", d + 1, m / 12, m % 12 * 5).unwrap();
            for c in 0..cols.len() {
                write!(f, ";{},{}", 5 + c % 7, r % 100).unwrap();
            }
            writeln!(f).unwrap();
        }
    }
    // One bad row in the flows file (line 3 = second data row).
    let flows = data.join("2018_SCADA_Flows.csv");
    let text = std::fs::read_to_string(&flows).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[2] = "2018-01-01 00:05;1,0;oops;2,0".into();
    std::fs::write(&flows, lines.join("\n") + "\n").unwrap();

    let files = scada_files(&data).unwrap();
    let store = SqliteStore::open(&dir.join("db.sqlite")).unwrap();
    let mut bs = BufferedStore::open(store, &dir.join("buffer")).unwrap();
    let err = import_scada(&map, &files, &mut bs, false, 50_000).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("2018_SCADA_Flows.csv:3: field 'p227': 'oops' is not a number"),
        "{err}"
    );
    let t0 = std::time::Instant::now();
    let rep = import_scada(&map, &files, &mut bs, true, 50_000).unwrap();
    eprintln!(
        "{} samples in {:.1} s",
        rep.samples,
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(rep.bad_rows.len(), 1);
    assert!(rep.unmapped.is_empty());
    assert_eq!(rep.samples, (rows as u64 - 1) * 3 + rows as u64 * 116);
    let n1 = bs.store.query("n1", 0, i64::MAX).unwrap();
    assert_eq!(n1.len(), rows);
    assert!((n1[1].value.unwrap() - 5.1).abs() < 1e-9, "decimal comma");
    let amr = bs.store.query("amr_n1", 0, i64::MAX).unwrap();
    assert!(
        (amr[0].value.unwrap() - 5.0 / 3.6e6).abs() < 1e-15,
        "L/h → m³/s"
    );
    assert!(amr.iter().all(|s| s.quality == Quality::Good));
}
