//! Checks the whole model once every section is read (trace node, curves,
//! pump curves and powers, tank levels, unconnected nodes): validate.c's
//! `validatecurves`, `validatepumps` and `validatetanks`, and project.c's
//! `unlinked` (error 233).

use super::{At, Reader};
use crate::hash::IdMap as HashMap;
use crate::inp::lexer::Section;
use crate::link::*;
use crate::node::*;
use crate::options::*;
use crate::units::Quantity;

impl<'a, 's> Reader<'a, 's> {
    pub(super) fn validate(&mut self) {
        if let Some((at, id)) = self.pending_trace.take() {
            match self.node_ids.get(id) {
                Some(&n) => self.net.options.quality = QualityMode::Trace { node: n },
                None => self.err(
                    at,
                    Some("QUALITY"),
                    format!("undefined trace node \"{id}\""),
                ),
            }
        }
        // Curves: increasing X (EPANET error 230).
        let curve_lines: HashMap<&str, usize> = self
            .s
            .of(Section::Curves)
            .iter()
            .rev()
            .filter_map(|l| l.data.split_whitespace().next().map(|id| (id, l.no)))
            .collect();
        for ci in 0..self.net.curves.len() {
            let c = &self.net.curves[ci];
            if c.points.windows(2).any(|w| w[1].0 <= w[0].0) {
                let at = At {
                    line: curve_lines.get(c.id.as_str()).copied().unwrap_or(0),
                    section: Section::Curves,
                };
                let id = c.id.clone();
                self.err(
                    at,
                    Some("X-Value"),
                    format!("curve \"{id}\" has X values that do not increase"),
                );
            }
        }
        // Pumps need a head curve or a power; tank levels must be consistent.
        for li in 0..self.net.links.len() {
            let at = At {
                line: self.link_lines[li],
                section: Section::Pumps,
            };
            let l = &self.net.links[li];
            if let LinkKind::Pump(p) = &l.kind {
                if p.power.is_none() && p.head_curve.is_none() {
                    let id = l.id.clone();
                    self.err(
                        at,
                        Some("Parameters"),
                        format!("pump \"{id}\" has neither a HEAD curve nor a POWER"),
                    );
                } else if let Some(c) = p.head_curve {
                    if let Some(msg) = pump_curve_problem(&self.net.curves[c].points) {
                        let (id, cid) = (l.id.clone(), self.net.curves[c].id.clone());
                        self.err(
                            at,
                            Some("HEAD"),
                            format!("pump \"{id}\": head curve \"{cid}\" {msg}"),
                        );
                    }
                }
            }
        }
        for ni in 0..self.net.nodes.len() {
            let node = &self.net.nodes[ni];
            if let NodeKind::Tank(t) = &node.kind {
                let at = At {
                    line: self.node_lines[ni],
                    section: Section::Tanks,
                };
                let mut msg = None;
                if t.initial_level > t.max_level
                    || t.min_level > t.max_level
                    || t.initial_level < t.min_level
                {
                    msg = Some("levels must satisfy minimum <= initial <= maximum".to_string());
                } else if let Some(c) = t.volume_curve {
                    let pts = &self.net.curves[c].points;
                    let l = self.units.factor(Quantity::Length);
                    if pts.is_empty()
                        || t.min_level < pts[0].0 * l - 1e-9
                        || t.max_level > pts[pts.len() - 1].0 * l + 1e-9
                    {
                        msg = Some(format!(
                            "levels lie outside volume curve \"{}\"",
                            self.net.curves[c].id
                        ));
                    }
                }
                if let Some(m) = msg {
                    let id = node.id.clone();
                    self.err(at, Some("Levels"), format!("tank \"{id}\": {m}"));
                }
            }
        }
        // Every node must be connected to a link (EPANET error 233).
        if self.errors.is_empty() {
            let mut linked = vec![false; self.net.nodes.len()];
            for l in &self.net.links {
                linked[l.from] = true;
                linked[l.to] = true;
            }
            for (ni, used) in linked.iter().enumerate() {
                if !used {
                    let sec = if self.net.nodes[ni].is_junction() {
                        Section::Junctions
                    } else {
                        Section::Tanks
                    };
                    let at = At {
                        line: self.node_lines[ni],
                        section: sec,
                    };
                    let id = self.net.nodes[ni].id.clone();
                    self.err(
                        at,
                        Some("ID"),
                        format!("node \"{id}\" is not connected to any link"),
                    );
                }
            }
        }
    }
}

/// EPANET's acceptance test for a pump head curve (error 227).
pub(crate) fn pump_curve_problem(pts: &[(f64, f64)]) -> Option<&'static str> {
    match pts.len() {
        0 => Some("has no points"),
        1 => {
            if pts[0].0 <= 0.0 || pts[0].1 <= 0.0 {
                Some("has a single point that is not a positive flow and head")
            } else {
                None
            }
        }
        n => {
            let three_power = n == 3 && pts[0].0 == 0.0;
            if three_power {
                let (h0, h1, h2) = (pts[0].1, pts[1].1, pts[2].1);
                let (q1, q2) = (pts[1].0, pts[2].0);
                if !(h0 > 0.0 && h0 > h1 && h1 > h2 && q1 > 0.0 && q2 > q1) {
                    return Some("does not fall with flow as a pump curve must");
                }
                None
            } else if pts.windows(2).any(|w| w[1].1 >= w[0].1) {
                Some("has heads that do not fall with flow")
            } else {
                None
            }
        }
    }
}
