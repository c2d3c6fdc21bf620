//! Edits of a network model used by scenarios and the detector: splitting
//! a pipe at its midpoint (where a leak is placed), turning a tank
//! whose level is measured into a fixed-head node, and setting the model's
//! times to the step grid.
//!
//! Node order must stay junctions-first and link order pipes-first (as
//! EPANET orders them), so insertions shift the indices held by links,
//! controls and rules.

use network::{
    Control, ControlCondition, Demand, Junction, Link, LinkIdx, LinkKind, Network, Node, NodeIdx,
    NodeKind, Reservoir, Rule, RuleObject,
};

/// Inserts `node` as the last junction; returns its index. Every node index
/// at or after the insertion point moves up by one.
pub fn insert_junction(net: &mut Network, node: Node) -> NodeIdx {
    let at = net.nodes.iter().take_while(|n| n.is_junction()).count();
    net.nodes.insert(at, node);
    let shift = |i: &mut NodeIdx| {
        if *i >= at {
            *i += 1;
        }
    };
    for l in &mut net.links {
        shift(&mut l.from);
        shift(&mut l.to);
    }
    for c in &mut net.controls {
        if let ControlCondition::NodeAbove(i, _) | ControlCondition::NodeBelow(i, _) =
            &mut c.condition
        {
            shift(i);
        }
    }
    for r in &mut net.rules {
        for p in &mut r.premises {
            if let RuleObject::Node(i) = &mut p.object {
                shift(i);
            }
        }
    }
    net.reindex();
    at
}

/// Inserts `link` as the last pipe; returns its index (later links move up).
pub fn insert_pipe(net: &mut Network, link: Link) -> LinkIdx {
    let at = net
        .links
        .iter()
        .take_while(|l| l.kind.is_pipe_kind())
        .count();
    net.links.insert(at, link);
    let shift = |k: &mut LinkIdx| {
        if *k >= at {
            *k += 1;
        }
    };
    for c in &mut net.controls {
        shift(&mut c.link);
    }
    for r in &mut net.rules {
        for p in &mut r.premises {
            if let RuleObject::Link(k) = &mut p.object {
                shift(k);
            }
        }
        for a in r.then_actions.iter_mut().chain(r.else_actions.iter_mut()) {
            shift(&mut a.link);
        }
    }
    net.reindex();
    at
}

trait PipeKind {
    fn is_pipe_kind(&self) -> bool;
}
impl PipeKind for LinkKind {
    fn is_pipe_kind(&self) -> bool {
        matches!(self, LinkKind::Pipe(_))
    }
}

/// A fresh ID from `base`, suffixed until unused by `taken`.
fn fresh_id(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|id| !taken(id))
        .expect("some suffix is free")
}

/// Splits pipe `pipe` (by ID) at its midpoint: a new demand-free junction
/// (ID `<pipe>_mid`, mean elevation and map position of the ends) and two
/// halves; the first half keeps the pipe's ID, the second is `<pipe>_b`.
/// Returns the new junction's index, or `None` if `pipe` is not a pipe.
pub fn split_pipe_midpoint(net: &mut Network, pipe: &str) -> Option<NodeIdx> {
    let k = net.link_index(pipe)?;
    let LinkKind::Pipe(p) = &net.links[k].kind else {
        return None;
    };
    let p = p.clone();
    let (a, b) = (net.links[k].from, net.links[k].to);
    let (na, nb) = (&net.nodes[a], &net.nodes[b]);
    let coordinates = match (na.coordinates, nb.coordinates) {
        (Some((x1, y1)), Some((x2, y2))) => Some(((x1 + x2) / 2.0, (y1 + y2) / 2.0)),
        _ => None,
    };
    let mid = Node {
        id: fresh_id(&format!("{pipe}_mid"), |id| net.node_index(id).is_some()),
        elevation: (na.elevation + nb.elevation) / 2.0,
        kind: NodeKind::Junction(Junction {
            demands: vec![Demand {
                base: 0.0,
                pattern: None,
                category: None,
            }],
            emitter_coefficient: 0.0,
        }),
        initial_quality: 0.0,
        source: None,
        comment: Some("leak point (pipe midpoint)".into()),
        tag: None,
        coordinates,
    };
    let m = insert_junction(net, mid);
    // Indices of the pipe's end nodes may have moved.
    let (a, b) = (net.links[k].from, net.links[k].to);
    let _ = a;
    let half = p.length / 2.0;
    if let LinkKind::Pipe(p1) = &mut net.links[k].kind {
        p1.length = half;
    }
    net.links[k].to = m;
    net.links[k].vertices.clear();
    let second = Link {
        id: fresh_id(&format!("{pipe}_b"), |id| net.link_index(id).is_some()),
        from: m,
        to: b,
        kind: LinkKind::Pipe(network::Pipe {
            length: half,
            check_valve: false,
            ..p
        }),
        initial_status: net.links[k].initial_status,
        comment: None,
        tag: None,
        vertices: Vec::new(),
    };
    insert_pipe(net, second);
    Some(m)
}

/// Turns tank `i` into a reservoir at its bottom elevation, so a simulation
/// can impose the measured level each step with `set_reservoir_head`
/// (head = elevation + level). The controls and rules conditioned on the
/// tank can no longer act on a fixed head: they are removed and returned,
/// described ([`Removed`]), so that the caller says so. `None` if `i` is no
/// tank.
pub fn tank_to_fixed_head(net: &mut Network, i: NodeIdx) -> Option<Removed> {
    net.nodes[i].tank()?;
    net.nodes[i].kind = NodeKind::Reservoir(Reservoir { head_pattern: None });
    Some(remove(
        net,
        |c| matches!(c.condition, ControlCondition::NodeAbove(n, _) | ControlCondition::NodeBelow(n, _) if n == i),
        |r| r.premises.iter().any(|p| p.object == RuleObject::Node(i)),
    ))
}

/// Removes the controls and rules that act on link `k` (its status is then
/// imposed from measurements), and returns them described.
pub fn drop_controls_on_link(net: &mut Network, k: LinkIdx) -> Removed {
    remove(
        net,
        |c| c.link == k,
        |r| {
            r.then_actions
                .iter()
                .chain(r.else_actions.iter())
                .any(|a| a.link == k)
        },
    )
}

/// Controls and rules taken out of a model, described for the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Removed {
    /// Each removed simple control: the ID of the link it set.
    pub controls_on: Vec<String>,
    /// Each removed rule's ID.
    pub rules: Vec<String>,
}

impl Removed {
    pub fn is_empty(&self) -> bool {
        self.controls_on.is_empty() && self.rules.is_empty()
    }
}

impl std::fmt::Display for Removed {
    /// "2 control(s) (on link(s) P1) and rule(s) R1, R4".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.controls_on.is_empty() {
            let mut links: Vec<&str> = Vec::new();
            for id in &self.controls_on {
                if !links.contains(&id.as_str()) {
                    links.push(id);
                }
            }
            parts.push(format!(
                "{} control(s) (on link(s) {})",
                self.controls_on.len(),
                links.join(", ")
            ));
        }
        if !self.rules.is_empty() {
            parts.push(format!("rule(s) {}", self.rules.join(", ")));
        }
        f.write_str(&parts.join(" and "))
    }
}

fn remove(
    net: &mut Network,
    control: impl Fn(&Control) -> bool,
    rule: impl Fn(&Rule) -> bool,
) -> Removed {
    let mut out = Removed::default();
    let links = &net.links;
    net.controls.retain(|c| {
        let drop = control(c);
        if drop {
            out.controls_on.push(links[c.link].id.clone());
        }
        !drop
    });
    net.rules.retain(|r| {
        let drop = rule(r);
        if drop {
            out.rules.push(r.id.clone());
        }
        !drop
    });
    out
}

/// Sets steps of `step_s` seconds, the duration of `rows` rows, report
/// every step, the start at midnight ([`Network::start_at_midnight`]).
pub fn set_times(net: &mut Network, rows: usize, step_s: u64) {
    net.start_at_midnight();
    let t = &mut net.times;
    t.duration = (rows.max(1) as u64 - 1) * step_s;
    t.hydraulic_step = step_s;
    t.report_step = step_s;
    t.report_start = 0;
    if t.pattern_step == 0 {
        t.pattern_step = step_s;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A reservoir feeding a loop of four junctions; a tank on the side.
    pub(crate) const SMALL_INP: &str = "[TITLE]
small test network
[JUNCTIONS]
 J1 10 1.0
 J2 12 2.0
 J3 11 1.5
 J4 9 1.0
[RESERVOIRS]
 R1 60
[TANKS]
 T1 40 5 0 10 10 0
[PIPES]
 P1 R1 J1 200 200 120
 P2 J1 J2 300 150 110
 P3 J2 J3 250 150 110
 P4 J3 J4 300 150 110
 P5 J4 J1 250 150 110
 P6 J3 T1 100 150 120
[CONTROLS]
 LINK P6 CLOSED IF NODE T1 ABOVE 9
[PATTERNS]
 1 0.8 1.2
[OPTIONS]
 Units LPS
 Headloss H-W
[TIMES]
 Duration 4:00
 Hydraulic Timestep 0:05
 Pattern Timestep 1:00
 Report Timestep 0:05
[COORDINATES]
 J1 0 0
 J2 100 0
[END]
";

    pub(crate) fn small() -> Network {
        network::inp::parse_inp(SMALL_INP, "small.inp").expect("valid test network")
    }

    /// Synthetic data start at midnight; `detect` puts a model's patterns
    /// at the model's clock time (`model_origin_s`). A model whose clock
    /// starts at 7:00 with PATTERN START 7:00 (Richmond) has its patterns'
    /// hour 0 at midnight; one starting at 8:00 with PATTERN START 0 has
    /// hour 16 there. `set_times` must give the same as the detector.
    #[test]
    fn the_model_starts_at_midnight_with_the_patterns_its_clock_gives() {
        let mut net = small();
        net.patterns[0].multipliers = (0..24).map(f64::from).collect();
        for (clock_h, pattern_start_h, at_midnight_h) in
            [(0, 0, 0), (7, 7, 0), (8, 0, 16), (0, 5, 5), (23, 0, 1)]
        {
            let mut n = net.clone();
            n.times.start_clocktime = clock_h * 3600;
            n.times.pattern_start = pattern_start_h * 3600;
            // The detector: data from midnight of 2019-01-01 (UTC).
            let midnight = 1_546_300_800;
            let origin = crate::time::model_origin_s(midnight, 0, n.times.start_clocktime);
            assert_eq!(n.pattern_time_s(midnight - origin), at_midnight_h * 3600);
            set_times(&mut n, 12, 300);
            assert_eq!(n.times.start_clocktime, 0);
            assert_eq!(
                n.pattern_time_s(0),
                at_midnight_h * 3600,
                "clock {clock_h} h"
            );
        }
    }

    #[test]
    fn split_keeps_topology_and_hydraulics() {
        let mut net = small();
        let before = hydraulics::Simulation::from_network(net.clone()).unwrap();
        let mut b = before.clone();
        b.run().unwrap();
        let m = split_pipe_midpoint(&mut net, "P2").unwrap();
        assert_eq!(net.nodes[m].id, "P2_mid");
        assert!(net.nodes[..=m].iter().all(|n| n.is_junction()));
        let k1 = net.link_index("P2").unwrap();
        let k2 = net.link_index("P2_b").unwrap();
        assert_eq!(net.links[k1].to, m);
        assert_eq!(net.links[k2].from, m);
        assert_eq!(net.nodes[net.links[k2].to].id, "J2");
        assert_eq!(net.nodes[m].coordinates, Some((50.0, 0.0)));
        // The tank control still refers to T1 and P6.
        let c = &net.controls[0];
        assert_eq!(net.links[c.link].id, "P6");
        match c.condition {
            ControlCondition::NodeAbove(i, _) => assert_eq!(net.nodes[i].id, "T1"),
            _ => panic!(),
        }
        let mut a = hydraulics::Simulation::from_network(net.clone()).unwrap();
        a.run().unwrap();
        for id in ["J1", "J2", "J3", "J4"] {
            let (i0, i1) = (
                b.network().node_index(id).unwrap(),
                net.node_index(id).unwrap(),
            );
            assert!((b.head_m(i0) - a.head_m(i1)).abs() < 1e-3, "{id}");
        }
        assert!((a.flow_lps(k1) - a.flow_lps(k2)).abs() < 1e-6);
        // A leak at the midpoint comes out of the network.
        a.set_emitter(m, 0.75 * 1e-4 * (2.0f64 * 9.81).sqrt());
        a.run().unwrap();
        let q = a.emitter_flow_lps(m);
        let p = a.pressure_m(m);
        assert!((q / 1000.0 - 0.75 * 1e-4 * (2.0 * 9.81 * p).sqrt()).abs() < 1e-6);
        assert!((a.flow_lps(k1) - a.flow_lps(k2) - q).abs() < 1e-6);
    }

    #[test]
    fn tank_becomes_fixed_head() {
        let mut net = small();
        let t = net.node_index("T1").unwrap();
        let n_controls = net.controls.len();
        let removed = tank_to_fixed_head(&mut net, t).expect("T1 is a tank");
        assert!(net.controls.is_empty());
        // What was removed is said, link by link.
        assert_eq!(removed.controls_on.len(), n_controls);
        assert!(n_controls > 0 && removed.to_string().contains("control(s) (on link(s) "));
        assert!(
            tank_to_fixed_head(&mut net, t).is_none(),
            "no longer a tank"
        );
        let mut s = hydraulics::Simulation::from_network(net).unwrap();
        s.set_reservoir_head(t, 40.0 + 3.0);
        s.run().unwrap();
        assert!((s.head_m(t) - 43.0).abs() < 1e-9);
    }
}
