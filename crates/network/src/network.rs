//! The whole model of one network.

use crate::control::{Control, Rule};
use crate::hash::IdMap;
use crate::link::Link;
use crate::node::{Node, NodeKind};
use crate::options::{Energy, Options, Reactions, Times};
use crate::pattern::{Curve, Pattern};
use crate::units::Units;
use serde::Serialize;

/// A map label (`[LABELS]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
    pub anchor: Option<String>,
}

/// A water distribution network: everything an EPANET `.inp` file says.
///
/// Node order follows EPANET's: junctions first (in file order), then
/// reservoirs and tanks (in file order). Links keep file order across
/// `[PIPES]`, `[PUMPS]`, `[VALVES]` as EPANET does.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Network {
    pub title: Vec<String>,
    pub options: Options,
    pub times: Times,
    pub energy: Energy,
    pub reactions: Reactions,
    /// `[REPORT]` lines, kept as written (they only shape EPANET's report file).
    pub report: Vec<String>,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub patterns: Vec<Pattern>,
    pub curves: Vec<Curve>,
    pub controls: Vec<Control>,
    pub rules: Vec<Rule>,
    pub labels: Vec<Label>,
    /// `[BACKDROP]` lines, kept as written.
    pub backdrop: Vec<String>,
    #[serde(skip)]
    node_ids: IdMap<String, usize>,
    #[serde(skip)]
    link_ids: IdMap<String, usize>,
}

/// Element counts as EPANET counts them (check-valve pipes are pipes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub junctions: usize,
    pub reservoirs: usize,
    pub tanks: usize,
    pub pipes: usize,
    pub pumps: usize,
    pub valves: usize,
    pub patterns: usize,
    pub curves: usize,
    pub controls: usize,
    pub rules: usize,
}

impl Network {
    /// Builds a network from its parts; indexes the IDs.
    pub fn new(nodes: Vec<Node>, links: Vec<Link>) -> Network {
        let mut n = Network {
            nodes,
            links,
            ..Network::default()
        };
        n.reindex();
        n
    }

    /// Rebuilds the ID lookups after `nodes` or `links` were edited.
    pub fn reindex(&mut self) {
        self.node_ids = IdMap::with_capacity_and_hasher(self.nodes.len(), Default::default());
        for (i, n) in self.nodes.iter().enumerate() {
            self.node_ids.insert(n.id.clone(), i);
        }
        self.link_ids = IdMap::with_capacity_and_hasher(self.links.len(), Default::default());
        for (i, l) in self.links.iter().enumerate() {
            self.link_ids.insert(l.id.clone(), i);
        }
    }

    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.node_ids.get(id).copied()
    }
    pub fn link_index(&self, id: &str) -> Option<usize> {
        self.link_ids.get(id).copied()
    }
    pub fn pattern_index(&self, id: &str) -> Option<usize> {
        self.patterns.iter().position(|p| p.id == id)
    }
    pub fn curve_index(&self, id: &str) -> Option<usize> {
        self.curves.iter().position(|c| c.id == id)
    }

    /// The unit conversions of this model's file.
    pub fn units(&self) -> Units {
        Units {
            flow: self.options.flow_units,
            pressure: self.options.pressure_units,
            specific_gravity: self.options.specific_gravity,
        }
    }

    /// The pattern a demand without its own pattern follows: the pattern
    /// named by `[OPTIONS] PATTERN` (default "1"), if it exists.
    pub fn default_pattern(&self) -> Option<usize> {
        self.pattern_index(&self.options.default_pattern)
    }

    pub fn junction_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_junction()).count()
    }

    /// Total length of the pipes, m.
    pub fn pipe_length_m(&self) -> f64 {
        self.links
            .iter()
            .filter_map(|l| l.pipe())
            .map(|p| p.length)
            .sum()
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            junctions: 0,
            reservoirs: 0,
            tanks: 0,
            pipes: 0,
            pumps: 0,
            valves: 0,
            patterns: self.patterns.len(),
            curves: self.curves.len(),
            controls: self.controls.len(),
            rules: self.rules.len(),
        };
        for n in &self.nodes {
            match n.kind {
                NodeKind::Junction(_) => c.junctions += 1,
                NodeKind::Reservoir(_) => c.reservoirs += 1,
                NodeKind::Tank(_) => c.tanks += 1,
            }
        }
        for l in &self.links {
            match l.kind {
                crate::LinkKind::Pipe(_) => c.pipes += 1,
                crate::LinkKind::Pump(_) => c.pumps += 1,
                crate::LinkKind::Valve(_) => c.valves += 1,
            }
        }
        c
    }
}
