//! `scripts/sensor-map-draft` at a pipe length per pressure sensor
//! (`8km`): the pipe length it reads from the `.inp` (in the model's
//! units) agrees with `aquatwin inspect`'s, it places about that length
//! over the spacing pressure sensors, and a bad spacing is a clear error
//! with a non-zero exit.

use conformance::*;
use std::process::Command;

/// The number before `unit` in the line of `text` containing `key`.
fn number_before(text: &str, key: &str, unit: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.contains(key))
        .unwrap_or_else(|| panic!("no line with {key:?} in:\n{text}"));
    let head = &line[..line.find(unit).expect("unit")];
    head.rsplit([' ', '('])
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number before {unit:?} in {line:?}"))
}

/// The standard output of `cmd`, which must succeed.
fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("start the command");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_draft_map_at_a_spacing_reads_the_models_pipe_length() {
    for name in ["Net3.inp", "L-TOWN.inp"] {
        let net = networks_dir().join(name);
        let inspect = stdout_of(Command::new(aquatwin_bin()).arg("inspect").arg(&net));
        let pipe_km = number_before(&inspect, "pipes", " km");

        let map = stdout_of(
            Command::new(root().join("scripts/sensor-map-draft"))
                .arg(&net)
                .arg("8km"),
        );
        let header: String = map.lines().take(4).collect::<Vec<_>>().join("\n");
        let draft_km = number_before(&header, "of pipe", " km of pipe");
        assert!(
            (draft_km - pipe_km).abs() < 0.05 + 1e-3 * pipe_km,
            "{name}: the draft reads {draft_km} km of pipe, inspect {pipe_km} km"
        );
        let pressures = map.matches("kind = \"pressure\"").count() as f64;
        let want = (pipe_km / 8.0).round().max(1.0);
        assert!(
            (pressures - want).abs() <= 1.0,
            "{name}: {pressures} pressure sensors for {pipe_km} km at 8 km each"
        );
        let spacing = number_before(&header, "of its", " km of its");
        assert!((spacing - pipe_km / pressures).abs() < 0.01, "{header}");
    }
    for bad in ["0km", "-1km", "x", "0", "1.5"] {
        let out = Command::new(root().join("scripts/sensor-map-draft"))
            .arg(networks_dir().join("Net3.inp"))
            .arg(bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("a share of the junctions") && err.contains(bad),
            "{bad}: {err}"
        );
    }
}
