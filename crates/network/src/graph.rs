//! A petgraph view of the network's topology: neighbours, connected
//! components, nodes that no source (reservoir or tank) can reach, and
//! distances along the network ([`NetworkDistance`]).

use crate::control::LinkAction;
use crate::link::{LinkIdx, LinkKind, LinkStatus};
use crate::network::Network;
use crate::node::NodeIdx;
use petgraph::graph::{NodeIndex, UnGraph};
use petgraph::unionfind::UnionFind;

/// An undirected graph with one vertex per node (same index as
/// [`Network::nodes`]) and one edge per link (weight = link index).
pub fn topology(net: &Network) -> UnGraph<usize, usize> {
    let mut g = UnGraph::with_capacity(net.nodes.len(), net.links.len());
    for i in 0..net.nodes.len() {
        g.add_node(i);
    }
    for (k, l) in net.links.iter().enumerate() {
        g.add_edge(NodeIndex::new(l.from), NodeIndex::new(l.to), k);
    }
    g
}

/// Node indices adjacent to node `i`.
pub fn neighbours(g: &UnGraph<usize, usize>, i: usize) -> Vec<usize> {
    g.neighbors(NodeIndex::new(i)).map(|n| n.index()).collect()
}

/// Component label per node (labels are the smallest node index of each component).
pub fn components(net: &Network) -> Vec<usize> {
    let mut uf = UnionFind::<usize>::new(net.nodes.len());
    for l in &net.links {
        uf.union(l.from, l.to);
    }
    let mut smallest = vec![usize::MAX; net.nodes.len()];
    let labels: Vec<usize> = (0..net.nodes.len()).map(|i| uf.find(i)).collect();
    for (i, &r) in labels.iter().enumerate() {
        smallest[r] = smallest[r].min(i);
    }
    labels.iter().map(|&r| smallest[r]).collect()
}

/// Number of connected components.
pub fn component_count(net: &Network) -> usize {
    let c = components(net);
    c.iter().enumerate().filter(|&(i, &l)| i == l).count()
}

/// Junctions in a component without any reservoir or tank: their heads are
/// undefined (EPANET reports them as disconnected).
pub fn unsupplied_nodes(net: &Network) -> Vec<usize> {
    let c = components(net);
    let mut supplied = vec![false; net.nodes.len()];
    for (i, n) in net.nodes.iter().enumerate() {
        if n.is_fixed_head() {
            supplied[c[i]] = true;
        }
    }
    (0..net.nodes.len()).filter(|&i| !supplied[c[i]]).collect()
}

/// Which links a path may cross when measuring distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistanceRule {
    /// Along the network as water flows: pipes, valves and pumps that are
    /// not initially closed, or that a control or rule can open (a pump
    /// that starts off and runs on a tank's level joins its zone to the
    /// rest). Links that are closed and that nothing opens are not
    /// crossed. Valves and pumps have no length in EPANET, so crossing one
    /// adds 0 m. Distances are measured to and from every link.
    Network,
    /// Along pipes only, whatever their status; valves and pumps are never
    /// crossed, and only pipes have a distance (the BattLeDIM 2020 rule).
    PipesOnly,
}

/// Shortest distances (m) between nodes and links along the network.
///
/// The distance between two nodes is the shortest path by Dijkstra over the
/// links the [`DistanceRule`] lets a path cross, weighted by pipe length
/// (valves and pumps: 0 m, they have no length in EPANET). Between two
/// different links it is the shortest node distance over the four pairs of
/// their end nodes plus half of each link's length, i.e. midpoint to
/// midpoint; a link is 0 m from itself. Unconnected elements are infinitely
/// far apart.
///
/// ```
/// use network::graph::NetworkDistance;
/// let text = "[JUNCTIONS]\n1 0\n2 0\n3 0\n[RESERVOIRS]\nR 10\n[PIPES]\n\
///             p0 R 1 10 100 100\np1 2 3 100 100 100\n\
///             [VALVES]\nv 1 2 100 PRV 10\n[OPTIONS]\nUnits LPS\n[END]\n";
/// let net = network::inp::parse_inp(text, "doc.inp").unwrap();
/// let l = |id: &str| net.link_index(id).unwrap();
/// // Through the valve (0 m): half of p0 + half of p1.
/// assert_eq!(NetworkDistance::new(&net).link_distance(l("p0"), l("p1")), Some(55.0));
/// // Pipes only: the valve is not crossed.
/// let pipes = NetworkDistance::pipes_only(&net);
/// assert_eq!(pipes.link_distance(l("p0"), l("p1")), Some(f64::INFINITY));
/// ```
#[derive(Debug, Clone)]
pub struct NetworkDistance {
    rule: DistanceRule,
    /// Node `i` of the network is node `i` here; one edge per crossable
    /// link, weighted by its length (m).
    graph: UnGraph<(), f64>,
    /// For each link: its end nodes and length, when it has a distance.
    links: Vec<Option<(NodeIdx, NodeIdx, f64)>>,
}

impl NetworkDistance {
    /// Distances along the network ([`DistanceRule::Network`]).
    pub fn new(net: &Network) -> NetworkDistance {
        NetworkDistance::with_rule(net, DistanceRule::Network)
    }

    /// Distances along pipes only ([`DistanceRule::PipesOnly`]).
    pub fn pipes_only(net: &Network) -> NetworkDistance {
        NetworkDistance::with_rule(net, DistanceRule::PipesOnly)
    }

    pub fn with_rule(net: &Network, rule: DistanceRule) -> NetworkDistance {
        let mut graph = UnGraph::with_capacity(net.nodes.len(), net.links.len());
        for _ in &net.nodes {
            graph.add_node(());
        }
        let links = net
            .links
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let length = match &l.kind {
                    LinkKind::Pipe(p) => p.length,
                    LinkKind::Pump(_) | LinkKind::Valve(_) => 0.0,
                };
                let (measured, crossed) = match (rule, &l.kind) {
                    (DistanceRule::PipesOnly, LinkKind::Pipe(_)) => (true, true),
                    (DistanceRule::PipesOnly, _) => (false, false),
                    (DistanceRule::Network, _) => (true, !closed_for_good(net, k)),
                };
                if crossed {
                    graph.add_edge(NodeIndex::new(l.from), NodeIndex::new(l.to), length);
                }
                measured.then_some((l.from, l.to, length))
            })
            .collect();
        NetworkDistance { rule, graph, links }
    }

    pub fn rule(&self) -> DistanceRule {
        self.rule
    }

    /// Whether link `k` has a distance under this rule (every link along the
    /// network; pipes only under the pipe-only rule).
    pub fn measures(&self, k: LinkIdx) -> bool {
        self.links.get(k).is_some_and(Option::is_some)
    }

    /// Shortest distance (m) from the nearest of `sources` to every node;
    /// `f64::INFINITY` where unreachable. One petgraph Dijkstra run per
    /// source, the nearest kept.
    pub fn node_distances(&self, sources: &[NodeIdx]) -> Vec<f64> {
        let mut dist = vec![f64::INFINITY; self.graph.node_count()];
        for &s in sources {
            let from_s =
                petgraph::algo::dijkstra(&self.graph, NodeIndex::new(s), None, |e| *e.weight());
            for (v, d) in from_s {
                let slot = &mut dist[v.index()];
                *slot = slot.min(d);
            }
        }
        dist
    }

    /// Distances from link `from` to any other link, sharing one Dijkstra
    /// run per end node. `None` when `from` has no distance under the rule.
    pub fn from_link(&self, from: LinkIdx) -> Option<LinkDistances<'_>> {
        let (a, b, len) = (*self.links.get(from)?)?;
        Some(LinkDistances {
            graph: self,
            link: from,
            half_length: len / 2.0,
            nodes: self.node_distances(&[a, b]),
        })
    }

    /// Distance (m) between links `a` and `b`; `None` if either has no
    /// distance under the rule.
    pub fn link_distance(&self, a: LinkIdx, b: LinkIdx) -> Option<f64> {
        self.from_link(a)?.to(b)
    }
}

/// Whether link `k` is closed at the start and no control or rule opens it.
fn closed_for_good(net: &Network, k: LinkIdx) -> bool {
    let link = &net.links[k];
    let opens = |a: &LinkAction| match a {
        LinkAction::Status(s) => *s != LinkStatus::Closed,
        // A pipe or pump setting of 0 closes it; any valve setting makes
        // the valve act.
        LinkAction::Setting(v) => matches!(link.kind, LinkKind::Valve(_)) || *v != 0.0,
    };
    link.initial_status == LinkStatus::Closed
        && !net.controls.iter().any(|c| c.link == k && opens(&c.action))
        && !net.rules.iter().any(|r| {
            r.then_actions
                .iter()
                .chain(&r.else_actions)
                .any(|a| a.link == k && opens(&a.action))
        })
}

/// Node distances from one link's end nodes, to measure many links against it.
#[derive(Debug, Clone)]
pub struct LinkDistances<'g> {
    graph: &'g NetworkDistance,
    link: LinkIdx,
    half_length: f64,
    nodes: Vec<f64>,
}

impl LinkDistances<'_> {
    /// Distance (m) to link `b`; `None` if `b` has no distance under the rule.
    pub fn to(&self, b: LinkIdx) -> Option<f64> {
        let (c, d, len) = (*self.graph.links.get(b)?)?;
        if b == self.link {
            return Some(0.0);
        }
        Some(self.nodes[c].min(self.nodes[d]) + self.half_length + len / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 ─p1(100)─ 2 ─p2(50)─ 3 ─v1(valve)─ 4 ─p3(10)─ 5, and 1 ─p4(400)─ 3,
    /// 2 ─pu(pump)─ 5, 5 ─pc(closed, 1)─ 1, 4 ─vc(closed valve)─ 1.
    fn tiny() -> Network {
        let text = "[JUNCTIONS]\n1 0\n2 0\n3 0\n4 0\n5 0\n[RESERVOIRS]\nR 10\n\
                    [PIPES]\np1 1 2 100 100 100\np2 2 3 50 100 100\np3 4 5 10 100 100\n\
                    p4 1 3 400 100 100\np0 R 1 10 100 100\npc 5 1 1 100 100 0 CLOSED\n\
                    [VALVES]\nv1 3 4 100 PRV 10\nvc 4 1 100 TCV 0\n[PUMPS]\npu 2 5 POWER 1\n\
                    [STATUS]\nvc CLOSED\n[OPTIONS]\nUnits LPS\n[END]\n";
        crate::inp::parse_inp(text, "tiny.inp").unwrap()
    }

    #[test]
    fn pipes_only_crosses_every_pipe_and_nothing_else() {
        let net = tiny();
        let g = NetworkDistance::pipes_only(&net);
        let n = |id: &str| net.node_index(id).unwrap();
        let l = |id: &str| net.link_index(id).unwrap();
        let d = g.node_distances(&[n("1")]);
        assert_eq!(d[n("2")], 100.0);
        assert_eq!(d[n("3")], 150.0); // via p1+p2, not p4 (400)
        assert_eq!(d[n("R")], 10.0);
        // behind the valve / pump, but the closed pipe pc is crossed (status ignored)
        assert_eq!(d[n("5")], 1.0);
        assert_eq!(d[n("4")], 11.0);
        assert_eq!(g.link_distance(l("p1"), l("p1")), Some(0.0));
        assert_eq!(g.link_distance(l("p1"), l("p2")), Some(75.0));
        assert_eq!(g.link_distance(l("p0"), l("p2")), Some(5.0 + 100.0 + 25.0));
        assert_eq!(g.link_distance(l("p4"), l("p2")), Some(200.0 + 25.0));
        assert_eq!(g.link_distance(l("p1"), l("v1")), None);
        assert_eq!(g.link_distance(l("pu"), l("p1")), None);
        assert!(!g.measures(l("v1")) && g.measures(l("p1")) && g.rule() == DistanceRule::PipesOnly);
    }

    #[test]
    fn network_rule_crosses_open_valves_and_pumps_at_zero_length() {
        let net = tiny();
        let g = NetworkDistance::new(&net);
        let n = |id: &str| net.node_index(id).unwrap();
        let l = |id: &str| net.link_index(id).unwrap();
        let d = g.node_distances(&[n("1")]);
        // round the valve: 1→2 (p1), pump pu (0 m), p3, valve v1 (0 m)
        assert_eq!(d[n("3")], 110.0);
        // pump pu (0 m) from 2: 1→2→5 = 100; not the closed pipe pc (1 m)
        assert_eq!(d[n("5")], 100.0);
        // valve v1 (0 m) from 3: 150; p3 from 5: 110; not the closed valve vc
        assert_eq!(d[n("4")], 110.0);
        assert_eq!(g.node_distances(&[n("4")])[n("1")], 110.0);
        // link to link: midpoints; a valve's midpoint is its end nodes
        assert_eq!(g.link_distance(l("p2"), l("p3")), Some(25.0 + 0.0 + 5.0));
        assert_eq!(g.link_distance(l("p2"), l("v1")), Some(25.0));
        // a closed link is measured to (its ends), never crossed
        assert_eq!(g.link_distance(l("p1"), l("pc")), Some(50.0 + 0.5));
        assert!(g.measures(l("pu")) && g.measures(l("vc")));
        assert_eq!(
            g.link_distance(l("p3"), l("p0")),
            g.link_distance(l("p0"), l("p3"))
        );
    }

    /// A pump that starts off and runs on a control (Richmond's seven
    /// booster pumps), and a closed valve a rule opens, are crossed; a
    /// closed pipe that a control only closes again is not.
    #[test]
    fn network_rule_crosses_links_a_control_or_rule_opens() {
        let text = "[JUNCTIONS]\n1 0\n2 0\n3 0\n4 0\n[RESERVOIRS]\nR 10\n[TANKS]\nT 50 1 0 2 5 0\n\
                    [PIPES]\np0 R 1 10 100 100\npt 2 T 20 100 100\npc 3 1 5 100 100 0 CLOSED\n\
                    p4 4 2 30 100 100\n\
                    [PUMPS]\npu 1 2 POWER 1\n[VALVES]\nvc 1 4 100 TCV 0\n\
                    [STATUS]\npu CLOSED\nvc CLOSED\n\
                    [CONTROLS]\nLINK pu OPEN IF NODE T BELOW 1\nLINK pc CLOSED AT TIME 1\n\
                    [RULES]\nRULE r\nIF TANK T LEVEL BELOW 0.5\nTHEN VALVE vc SETTING IS 5\n\
                    [OPTIONS]\nUnits LPS\n[END]\n";
        let net = crate::inp::parse_inp(text, "opened.inp").unwrap();
        let n = |id: &str| net.node_index(id).unwrap();
        let d = NetworkDistance::new(&net).node_distances(&[n("1")]);
        assert_eq!(d[n("2")], 0.0); // the pump, opened by its control
        assert_eq!(d[n("4")], 0.0); // the valve, given a setting by the rule
        assert_eq!(d[n("3")], f64::INFINITY); // pc: closed, never opened
    }

    #[test]
    fn unconnected_is_infinitely_far() {
        let text = "[JUNCTIONS]\n1 0\n2 0\n3 0\n[RESERVOIRS]\nR 10\n\
                    [PIPES]\np0 R 1 10 100 100\np1 2 3 10 100 100\n[OPTIONS]\nUnits LPS\n[END]\n";
        let net = crate::inp::parse_inp(text, "cut.inp").unwrap();
        let l = |id: &str| net.link_index(id).unwrap();
        let g = NetworkDistance::new(&net);
        assert_eq!(g.link_distance(l("p0"), l("p1")), Some(f64::INFINITY));
    }
}
