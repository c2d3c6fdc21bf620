//! A petgraph view of the network's topology: neighbours, connected
//! components, and nodes that no source (reservoir or tank) can reach.

use crate::network::Network;
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
