//! Unit tests of the `.inp` reader, on small networks built around the
//! lines under test.

use super::*;
use crate::control::*;
use crate::link::*;
use crate::node::*;

/// A small network around the lines under test: J1, J2, R1, pipe P1 R1→J1, P2 J1→J2.
fn net_with(extra: &str) -> Result<Network, InpErrors> {
    let base = "[JUNCTIONS]\nJ1 10 1\nJ2 10 2\n[RESERVOIRS]\nR1 100\n[PIPES]\nP1 R1 J1 1000 12 100\nP2 J1 J2 1000 12 100\n";
    parse_inp(&format!("{base}{extra}"), "t.inp")
}

fn ok(extra: &str) -> Network {
    net_with(extra).unwrap_or_else(|e| panic!("{e}"))
}

fn node<'n>(net: &'n Network, id: &str) -> &'n Node {
    &net.nodes[net.node_index(id).unwrap()]
}

fn link<'n>(net: &'n Network, id: &str) -> &'n Link {
    &net.links[net.link_index(id).unwrap()]
}

const GPM: f64 = 0.003785411784 / 60.0;

#[test]
fn demands_section_replaces_the_junction_demand() {
    let net = ok("[PATTERNS]\nPA 1 2\n[DEMANDS]\nJ1 5 PA ;fire\nJ1 7\n");
    let d = &node(&net, "J1").junction().unwrap().demands;
    assert_eq!(
        d.len(),
        2,
        "the [JUNCTIONS] demand is replaced, not added to"
    );
    assert_eq!(d[0].base, 5.0 * GPM);
    assert_eq!(d[0].pattern, Some(0));
    assert_eq!(d[0].category.as_deref(), Some("fire"));
    assert_eq!(d[1].base, 7.0 * GPM);
    // J2 has no [DEMANDS] line: its own demand stays.
    assert_eq!(
        node(&net, "J2").junction().unwrap().demands[0].base,
        2.0 * GPM
    );
    let e = net_with("[DEMANDS]\nR1 5\n").unwrap_err();
    assert!(e.to_string().contains("only junctions have demands"), "{e}");
}

#[test]
fn status_on_pumps_valves_gpv_and_check_valves() {
    let extra = "[JUNCTIONS]\nJ3 0\nJ4 0\nJ5 0\n[CURVES]\nC1 100 50\nHL 0 0\nHL 10 5\n\
        [PUMPS]\nPU R1 J3 HEAD C1\n[VALVES]\nV1 J3 J4 12 PRV 50\nG1 J4 J5 12 GPV HL\n\
        [PIPES]\nCV1 J5 J2 10 12 100 0 CV\n";
    let net = ok(&format!("{extra}[STATUS]\nPU 0.8\nV1 CLOSED\nG1 OPEN\n"));
    let pu = link(&net, "PU");
    assert_eq!(pu.pump().unwrap().speed, 0.8);
    assert_eq!(pu.initial_status, LinkStatus::Open);
    assert_eq!(link(&net, "V1").initial_status, LinkStatus::Closed);
    assert_eq!(link(&net, "G1").initial_status, LinkStatus::Open);
    let net = ok(&format!("{extra}[STATUS]\nPU CLOSED\nV1 30\n"));
    assert_eq!(link(&net, "PU").initial_status, LinkStatus::Closed);
    assert_eq!(link(&net, "PU").pump().unwrap().speed, 0.0);
    let v1 = link(&net, "V1");
    assert_eq!(v1.initial_status, LinkStatus::Active);
    assert_eq!(
        v1.valve().unwrap().setting,
        Units {
            flow: FlowUnits::Gpm,
            pressure: PressureUnits::Psi,
            specific_gravity: 1.0
        }
        .to_si(Quantity::Pressure, 30.0)
    );
    let e = net_with(&format!("{extra}[STATUS]\nG1 5\nCV1 OPEN\n")).unwrap_err();
    assert_eq!(e.errors.len(), 2, "{e}");
    assert!(
        e.errors[0]
            .message
            .contains("GPV \"G1\" takes OPEN or CLOSED"),
        "{e}"
    );
    assert!(e.errors[1].message.contains("check valve \"CV1\""), "{e}");
}

#[test]
fn reservoir_or_tank_by_field_count() {
    let net = ok("[PATTERNS]\nHP 1\n[TANKS]\nT1 50 3 1 5 20\nT2 50 HP\nT0 50 3 1 5 0\n[PIPES]\nP3 T1 J2 1 12 100\nP4 T2 J2 1 12 100\nP5 T0 J2 1 12 100\n");
    assert!(node(&net, "T1").tank().is_some());
    // Three fields under [TANKS] make a reservoir (with a head pattern), as in EPANET.
    assert!(matches!(&node(&net, "T2").kind, NodeKind::Reservoir(r) if r.head_pattern == Some(0)));
    // A zero diameter makes a reservoir too.
    assert!(matches!(node(&net, "T0").kind, NodeKind::Reservoir(_)));
    let e = net_with("[TANKS]\nT1 50 3 1\n").unwrap_err();
    assert_eq!(e.errors[0].field.as_deref(), Some("Diameter"), "{e}");
}

#[test]
fn time_formats_in_times_section() {
    let net = ok("[TIMES]\nDuration 1:30\nHydraulic Timestep 0:05:00\nPattern Timestep 2 hours\nReport Timestep 90 MIN\nReport Start 3600 SEC\nStart ClockTime 1:30 PM\nQuality Timestep 0.5\n");
    let t = &net.times;
    assert_eq!(t.duration, 5400);
    assert_eq!(t.hydraulic_step, 300);
    assert_eq!(t.pattern_step, 7200);
    assert_eq!(t.report_step, 5400);
    assert_eq!(t.report_start, 3600);
    assert_eq!(t.start_clocktime, 13 * 3600 + 1800);
    assert_eq!(t.quality_step, Some(1800));
    let net = ok("[TIMES]\nDURATION 2 DAYS\nSTART CLOCKTIME 12 AM\n");
    assert_eq!((net.times.duration, net.times.start_clocktime), (172800, 0));
    let e = net_with("[TIMES]\nDURATION 1:7x\n").unwrap_err();
    assert_eq!(e.errors[0].field.as_deref(), Some("DURATION"));
}

#[test]
fn units_us_and_si() {
    let net = ok("[OPTIONS]\nUNITS GPM\n");
    assert_eq!(node(&net, "J1").elevation, 10.0 * 0.3048);
    let p1 = link(&net, "P1").pipe().unwrap();
    assert_eq!(p1.length, 1000.0 * 0.3048);
    assert_eq!(p1.diameter, 12.0 * 0.0254);
    assert_eq!(node(&net, "J1").junction().unwrap().demands[0].base, GPM);
    let net = ok("[OPTIONS]\nUNITS LPS\n");
    assert_eq!(node(&net, "J1").elevation, 10.0);
    let p1 = link(&net, "P1").pipe().unwrap();
    assert_eq!(p1.length, 1000.0);
    assert_eq!(p1.diameter, 0.012);
    assert_eq!(node(&net, "J1").junction().unwrap().demands[0].base, 0.001);
    let net = ok("[OPTIONS]\nunits cms\nHeadloss D-W\n");
    assert_eq!(net.options.flow_units, FlowUnits::Cms);
    assert_eq!(node(&net, "J2").junction().unwrap().demands[0].base, 2.0);
}

#[test]
fn rules_with_and_or_else_priority() {
    let net = ok("[RULES]\nRULE R1\nIF NODE J1 PRESSURE < 20\nAND LINK P1 FLOW > 5\nOR SYSTEM CLOCKTIME >= 6 AM\n\
        THEN PIPE P2 STATUS = CLOSED\nAND PIPE P1 STATUS = OPEN\nELSE PIPE P2 STATUS = OPEN\nPRIORITY 3\n\nRULE R2\nIF SYSTEM TIME > 2:00\nTHEN LINK P2 STATUS IS CLOSED\n");
    assert_eq!(net.rules.len(), 2);
    let r = &net.rules[0];
    let conj: Vec<Conjunction> = r.premises.iter().map(|p| p.conjunction).collect();
    assert_eq!(
        conj,
        vec![Conjunction::If, Conjunction::And, Conjunction::Or]
    );
    assert_eq!(r.then_actions.len(), 2);
    assert_eq!(r.else_actions.len(), 1);
    assert_eq!(r.priority, Some(3.0));
    assert_eq!(r.premises[2].value, RuleValue::Number(6.0 * 3600.0));
    assert_eq!(net.rules[1].premises[0].value, RuleValue::Number(7200.0));
    let e = net_with("[RULES]\nRULE X\nIF NODE J1 PRESSURE < 20\nELSE PIPE P2 STATUS = OPEN\n")
        .unwrap_err();
    assert!(e.errors[0].message.contains("ELSE must follow"), "{e}");
    let e = net_with(
        "[RULES]\nRULE X\nIF NODE J1 PRESSURE < 20\nTHEN PIPE P2 STATUS = OPEN\nPRIORITY high\n",
    )
    .unwrap_err();
    assert_eq!(e.errors[0].field.as_deref(), Some("PRIORITY"), "{e}");
}

#[test]
fn latin1_crlf_and_quoted_ids() {
    let text = b"[JUNCTIONS]\r\nJ\xe9 10 1\r\n\"J 2\" 10 1 ;quoted\r\n[RESERVOIRS]\r\nR1 100\r\n[PIPES]\r\nP1 R1 J\xe9 1000 12 100\r\nP2 J\xe9 \"J 2\" 1000 12 100\r\n[END]\r\n";
    let net = parse_inp_bytes(text, "t.inp").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        net.node_index("J\u{e9}").is_some(),
        "latin-1 byte 0xE9 is é"
    );
    let j2 = node(&net, "J 2");
    assert_eq!(j2.comment.as_deref(), Some("quoted"));
    assert_eq!(net.links[1].to, net.node_index("J 2").unwrap());
    // The same file in UTF-8 gives the same model.
    let utf8 = String::from_utf8_lossy(text).replace('\u{fffd}', "\u{e9}");
    assert!(parse_inp_bytes(utf8.as_bytes(), "t.inp").unwrap() == net);
}

#[test]
fn section_headers_by_prefix() {
    let net = ok("[COORD]\nJ1 1 2\n[vertices]\nP1 3 4\n[Options]\nUnits LPS\n");
    assert_eq!(node(&net, "J1").coordinates, Some((1.0, 2.0)));
    assert_eq!(link(&net, "P1").vertices, vec![(3.0, 4.0)]);
    assert_eq!(net.options.flow_units, FlowUnits::Lps);
}

#[test]
fn numbers_are_finite_and_within_range() {
    for ok in ["0", "-0", "1.5", "-2e3", "1e30", "1e-30", ".5", "5."] {
        assert!(parse_number(ok).is_some(), "{ok}");
    }
    for bad in [
        "", "x", "1,5", "nan", "inf", "-inf", "1e31", "1e-31", "1e-320", "1e999", "0x10",
    ] {
        assert_eq!(parse_number(bad), None, "{bad}");
    }
}

#[test]
fn valve_connections_as_epanet_reads_them() {
    // A PRV/PSV/FCV may not touch a tank or reservoir (EPANET error 219)...
    let e = net_with("[VALVES]\nV1 R1 J2 12 PRV 50\n").unwrap_err();
    assert_eq!(e.errors[0].field.as_deref(), Some("Node1"), "{e}");
    // ...but valves sharing nodes are accepted when read from a file, as
    // EPANET 2.3 accepts (and solves) them; its error 220 is API-only.
    ok("[JUNCTIONS]\nJ3 0\nJ4 0\n[VALVES]\nV2 J2 J3 12 PRV 50\nV3 J4 J3 12 PRV 50\n[PIPES]\nP9 J1 J4 1 12 100\n");
}

#[test]
fn a_file_without_nodes_is_no_network() {
    for text in [
        "",
        "\n; a comment\n[END]\n",
        "[TITLE]\nx\n[OPTIONS]\nUNITS LPS\n",
    ] {
        let e = parse_inp(text, "t.inp").unwrap_err();
        assert_eq!(e.errors.len(), 1, "{e}");
        assert!(e.to_string().contains("EPANET error 223"), "{e}");
    }
}

#[test]
fn errors_are_listed_up_to_the_limit() {
    let bad: String = (0..MAX_ERRORS + 10).map(|i| format!("J{i} x\n")).collect();
    let e = parse_inp(&format!("[JUNCTIONS]\n{bad}"), "t.inp").unwrap_err();
    assert_eq!(e.errors.len(), MAX_ERRORS);
    assert!(e.truncated);
    assert!(e
        .to_string()
        .ends_with("(more errors not shown; the first 50 are listed)"));
}

#[test]
fn a_broken_element_does_not_cascade_into_undefined_references() {
    let e = parse_inp("[JUNCTIONS]\nJ1 x\n[RESERVOIRS]\nR1 100\n[PIPES]\nP1 R1 J1 0 12 100\n[STATUS]\nP1 CLOSED\n", "t.inp").unwrap_err();
    let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
    assert_eq!(
        lines,
        vec![2, 6],
        "one error per bad line, none for references to them:\n{e}"
    );
}
