//! Distances along the pipes of a network, as BattLeDIM measures them.
//!
//! The distance between two nodes is the shortest path over pipes only
//! (pumps and valves cannot be crossed; pipe status is ignored), by
//! Dijkstra with pipe lengths as weights. Between two different pipes it
//! is the shortest node distance over the four pairs of their end nodes
//! plus half of each pipe's length, i.e. midpoint to midpoint; a pipe is
//! 0 m from itself. Unconnected elements are infinitely far apart.
//!
//! The node distances agree with the organisers' `L-TOWN_node_distances_m.csv`
//! to rounding, and the pipe definition reproduces the 246.117 m that the
//! official report charges for detecting p653's leak at p632.

use network::{LinkIdx, LinkKind, Network, NodeIdx};
use petgraph::graph::{NodeIndex, UnGraph};

/// The pipe-only graph of a network.
#[derive(Debug, Clone)]
pub struct PipeGraph {
    /// Node `i` of the network is node `i` here; one edge per pipe, weighted
    /// by its length (m).
    graph: UnGraph<(), f64>,
    /// For each link: its end nodes and length when it is a pipe.
    pipes: Vec<Option<(NodeIdx, NodeIdx, f64)>>,
}

impl PipeGraph {
    pub fn new(net: &Network) -> PipeGraph {
        let mut graph = UnGraph::with_capacity(net.nodes.len(), net.links.len());
        for _ in &net.nodes {
            graph.add_node(());
        }
        let pipes = net
            .links
            .iter()
            .map(|l| match &l.kind {
                LinkKind::Pipe(p) => {
                    graph.add_edge(NodeIndex::new(l.from), NodeIndex::new(l.to), p.length);
                    Some((l.from, l.to, p.length))
                }
                _ => None,
            })
            .collect();
        PipeGraph { graph, pipes }
    }

    /// Whether link `k` is a pipe.
    pub fn is_pipe(&self, k: LinkIdx) -> bool {
        self.pipes.get(k).is_some_and(Option::is_some)
    }

    /// Shortest pipe-only distance (m) from the nearest of `sources` to every
    /// node; `f64::INFINITY` where unreachable. One petgraph Dijkstra run per
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

    /// Distances from pipe `from` to any other pipe, sharing one Dijkstra run.
    /// `None` when `from` is not a pipe.
    pub fn from_pipe(&self, from: LinkIdx) -> Option<PipeDistances<'_>> {
        let (a, b, len) = (*self.pipes.get(from)?)?;
        Some(PipeDistances {
            graph: self,
            pipe: from,
            half_length: len / 2.0,
            nodes: self.node_distances(&[a, b]),
        })
    }

    /// Distance (m) between pipes `a` and `b`; `None` if either is not a pipe.
    pub fn pipe_distance(&self, a: LinkIdx, b: LinkIdx) -> Option<f64> {
        self.from_pipe(a)?.to(b)
    }
}

/// Node distances from one pipe's end nodes, to measure many pipes against it.
#[derive(Debug, Clone)]
pub struct PipeDistances<'g> {
    graph: &'g PipeGraph,
    pipe: LinkIdx,
    half_length: f64,
    nodes: Vec<f64>,
}

impl PipeDistances<'_> {
    /// Distance (m) to pipe `b`; `None` if `b` is not a pipe.
    pub fn to(&self, b: LinkIdx) -> Option<f64> {
        let (c, d, len) = (*self.graph.pipes.get(b)?)?;
        if b == self.pipe {
            return Some(0.0);
        }
        Some(self.nodes[c].min(self.nodes[d]) + self.half_length + len / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 ─p1(100)─ 2 ─p2(50)─ 3 ─v1(valve)─ 4 ─p3(10)─ 5, and 1 ─p4(400)─ 3,
    /// 2 ─pu(pump)─ 5.
    fn tiny() -> Network {
        let text = "[JUNCTIONS]\n1 0\n2 0\n3 0\n4 0\n5 0\n[RESERVOIRS]\nR 10\n\
                    [PIPES]\np1 1 2 100 100 100\np2 2 3 50 100 100\np3 4 5 10 100 100\n\
                    p4 1 3 400 100 100\np0 R 1 10 100 100\n\
                    [VALVES]\nv1 3 4 100 PRV 10\n[PUMPS]\npu 2 5 POWER 1\n[OPTIONS]\nUnits LPS\n[END]\n";
        network::inp::parse_inp(text, "tiny.inp").unwrap()
    }

    #[test]
    fn node_distances_cross_only_pipes() {
        let net = tiny();
        let g = PipeGraph::new(&net);
        let n = |id: &str| net.node_index(id).unwrap();
        let d = g.node_distances(&[n("1")]);
        assert_eq!(d[n("2")], 100.0);
        assert_eq!(d[n("3")], 150.0); // via p1+p2, not p4 (400)
        assert_eq!(d[n("R")], 10.0);
        assert!(d[n("4")].is_infinite() && d[n("5")].is_infinite()); // behind the valve / pump
    }

    #[test]
    fn pipe_distance_is_midpoint_to_midpoint() {
        let net = tiny();
        let g = PipeGraph::new(&net);
        let l = |id: &str| net.link_index(id).unwrap();
        assert_eq!(g.pipe_distance(l("p1"), l("p1")), Some(0.0));
        // adjacent pipes: half of each
        assert_eq!(g.pipe_distance(l("p1"), l("p2")), Some(75.0));
        // p0 (R–1) to p2 (2–3): nearest ends 1 and 2 are 100 m apart
        assert_eq!(g.pipe_distance(l("p0"), l("p2")), Some(5.0 + 100.0 + 25.0));
        assert_eq!(
            g.pipe_distance(l("p2"), l("p0")),
            g.pipe_distance(l("p0"), l("p2"))
        );
        // p4 shares both end nodes' neighbourhoods: ends 1,3 vs p2's 2,3 meet at 3
        assert_eq!(g.pipe_distance(l("p4"), l("p2")), Some(200.0 + 25.0));
        assert_eq!(g.pipe_distance(l("p1"), l("p3")), Some(f64::INFINITY));
        assert_eq!(g.pipe_distance(l("p1"), l("v1")), None);
        assert_eq!(g.pipe_distance(l("pu"), l("p1")), None);
        assert!(!g.is_pipe(l("v1")) && g.is_pipe(l("p1")));
    }
}
