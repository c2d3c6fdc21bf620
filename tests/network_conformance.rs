//! The network model against EPANET 2.3: every benchmark network parses
//! (or is rejected exactly where EPANET rejects it), counts agree with
//! EPANET's, and read → write → read gives an identical model.

use conformance::*;

#[test]
fn every_network_parses_and_round_trips() {
    for path in network_files() {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.display().to_string();
        let parsed = network::inp::parse_inp_bytes(&bytes, &name);
        if is_invalid_network(&path) {
            let err = parsed.expect_err("EPANET rejects this network");
            assert!(
                err.errors.iter().all(|e| e.line > 0),
                "errors are located: {err}"
            );
            continue;
        }
        let net = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = network::inp::write_inp(&net);
        let again = network::inp::parse_inp(&text, &format!("{name} (written)"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            net == again,
            "{name}: read → write → read changed the model"
        );
    }
}

/// The fields `aquatwin inspect --json` prints, as the library computes them.
fn inspect_fields(net: &network::Network) -> serde_json::Value {
    let c = net.counts();
    serde_json::json!({
        "junctions": c.junctions, "reservoirs": c.reservoirs, "tanks": c.tanks,
        "pipes": c.pipes, "pumps": c.pumps, "valves": c.valves,
        "patterns": c.patterns, "curves": c.curves, "controls": c.controls, "rules": c.rules,
        "flow_units": net.options.flow_units.keyword(),
        "headloss": net.options.headloss.keyword(),
        "demand_model": match net.options.demand_model {
            network::DemandModel::Dda => "DDA",
            network::DemandModel::Pda => "PDA",
        },
        "duration_s": net.times.duration,
        "hydraulic_step_s": net.times.effective_hydraulic_step(),
    })
}

#[test]
fn counts_and_options_match_epanet_on_every_network() {
    let files = network_files();
    let valid: Vec<_> = files.iter().filter(|p| !is_invalid_network(p)).collect();
    assert!(!valid.is_empty(), "no benchmark networks found");
    let args: Vec<&str> = std::iter::once("counts")
        .chain(valid.iter().map(|p| p.to_str().unwrap()))
        .collect();
    let out = oracle(&args);
    let answers: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("oracle prints JSON lines"))
        .collect();
    assert_eq!(
        answers.len(),
        valid.len(),
        "one oracle answer per network:\n{out}"
    );
    let mut mismatches = Vec::new();
    for (path, epanet) in valid.iter().zip(&answers) {
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(epanet["file"], *name, "oracle answers in order");
        assert_eq!(epanet["ok"], true, "EPANET opens {name}: {epanet}");
        let bytes = std::fs::read(path).unwrap();
        let net = network::inp::parse_inp_bytes(&bytes, &name).unwrap_or_else(|e| panic!("{e}"));
        let ours = inspect_fields(&net);
        for (key, value) in ours.as_object().unwrap() {
            if epanet[key] != *value {
                mismatches.push(format!(
                    "{name}: {key}: aquatwin {value}, EPANET {}",
                    epanet[key]
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "counts differ from EPANET 2.3:\n{}",
        mismatches.join("\n")
    );
}
