//! Reads `[QUALITY]`, `[SOURCES]`, `[REACTIONS]` and `[MIXING]`: input3.c's
//! `qualdata`, `sourcedata`, `reactdata` and `mixingdata`.

use super::{in_range, At, Reader};
use crate::inp::lexer::{starts_with_ci, Section};
use crate::link::*;
use crate::node::*;

impl<'a, 's> Reader<'a, 's> {
    pub(super) fn quality(&mut self) {
        for line in self.s.of(Section::Quality) {
            let at = At {
                line: line.no,
                section: Section::Quality,
            };
            let t = self.tokens(line);
            match t.len() {
                0 | 1 => {}
                2 => {
                    let n = self.node_ref(at, "Node", t[0]);
                    let v = self.num_min(at, "InitQual", t[1], false);
                    if let (Some(n), Some(v)) = (n, v) {
                        self.net.nodes[n].initial_quality = v;
                    }
                }
                _ => {
                    if let Some(v) = self.num_min(at, "InitQual", t[2], false) {
                        for node in self
                            .net
                            .nodes
                            .iter_mut()
                            .filter(|nd| in_range(&nd.id, t[0], t[1]))
                        {
                            node.initial_quality = v;
                        }
                    }
                }
            }
            self.give_back(t);
        }
    }

    pub(super) fn sources(&mut self) {
        for line in self.s.of(Section::Sources) {
            let at = At {
                line: line.no,
                section: Section::Sources,
            };
            let t = self.tokens(line);
            if t.len() < 2 {
                self.err(
                    at,
                    None,
                    "expected node, type, strength and optional pattern",
                );
                self.give_back(t);
                continue;
            }
            let n = self.node_ref(at, "Node", t[0]);
            let types = [
                ("CONCEN", SourceType::Concen),
                ("MASS", SourceType::Mass),
                ("SETPOINT", SourceType::Setpoint),
                ("FLOWPACED", SourceType::FlowPaced),
            ];
            let (kind, i) = match types.iter().find(|(w, _)| starts_with_ci(t[1], w)) {
                Some(&(_, k)) => (k, 2),
                None => (SourceType::Concen, 1),
            };
            let strength = match t.get(i) {
                Some(v) => self.num(at, "Strength", v),
                None => {
                    self.err(at, Some("Strength"), "missing source strength");
                    None
                }
            };
            let pattern = match t.get(i + 1) {
                Some(v) => self.pattern_ref(at, "Pattern", v).ok(),
                None => Some(None),
            };
            if let (Some(n), Some(strength), Some(pattern)) = (n, strength, pattern) {
                self.net.nodes[n].source = Some(Source {
                    kind,
                    strength,
                    pattern,
                });
            }
            self.give_back(t);
        }
    }

    pub(super) fn reactions(&mut self) {
        for line in self.s.of(Section::Reactions) {
            let at = At {
                line: line.no,
                section: Section::Reactions,
            };
            let t = self.tokens(line);
            let n = t.len();
            if n < 3 {
                self.give_back(t);
                continue;
            }
            let k = t[0];
            let Some(y) = self.num(at, k, t[n - 1]) else {
                self.give_back(t);
                continue;
            };
            let r = &mut self.net.reactions;
            if starts_with_ci(k, "ORDER") {
                if starts_with_ci(t[1], "BULK") {
                    r.order_bulk = y;
                } else if starts_with_ci(t[1], "TANK") {
                    r.order_tank = y;
                } else if starts_with_ci(t[1], "WALL") {
                    if y == 0.0 || y == 1.0 {
                        r.order_wall = y;
                    } else {
                        self.err(
                            at,
                            Some("ORDER WALL"),
                            format!("expected 0 or 1, found {y}"),
                        );
                    }
                } else {
                    self.err(
                        at,
                        Some("ORDER"),
                        format!("expected BULK, WALL or TANK, found \"{}\"", t[1]),
                    );
                }
            } else if starts_with_ci(k, "ROUGHNESS") {
                r.roughness_correlation = y;
            } else if starts_with_ci(k, "LIMITING") {
                r.limiting_potential = y;
            } else if starts_with_ci(k, "GLOBAL") {
                if starts_with_ci(t[1], "BULK") {
                    r.global_bulk = y;
                } else if starts_with_ci(t[1], "WALL") {
                    r.global_wall = y;
                } else {
                    self.err(
                        at,
                        Some("GLOBAL"),
                        format!("expected BULK or WALL, found \"{}\"", t[1]),
                    );
                }
            } else if starts_with_ci(k, "BULK") || starts_with_ci(k, "WALL") {
                let bulk = starts_with_ci(k, "BULK");
                let targets: Vec<usize> = if n == 3 {
                    self.link_ids.get(t[1]).copied().into_iter().collect()
                } else {
                    (0..self.net.links.len())
                        .filter(|&i| in_range(&self.net.links[i].id, t[1], t[2]))
                        .collect()
                };
                for l in targets {
                    if let LinkKind::Pipe(p) = &mut self.net.links[l].kind {
                        if bulk {
                            p.bulk_coefficient = Some(y);
                        } else {
                            p.wall_coefficient = Some(y);
                        }
                    }
                }
            } else if starts_with_ci(k, "TANK") {
                let targets: Vec<usize> = if n == 3 {
                    self.node_ids.get(t[1]).copied().into_iter().collect()
                } else {
                    (0..self.net.nodes.len())
                        .filter(|&i| in_range(&self.net.nodes[i].id, t[1], t[2]))
                        .collect()
                };
                for i in targets {
                    if let NodeKind::Tank(tk) = &mut self.net.nodes[i].kind {
                        tk.bulk_coefficient = Some(y);
                    }
                }
            } else {
                self.err(at, Some(k), format!("expected ORDER, GLOBAL, BULK, WALL, TANK, LIMITING or ROUGHNESS, found \"{k}\""));
            }
            self.give_back(t);
        }
    }

    pub(super) fn mixing(&mut self) {
        for line in self.s.of(Section::Mixing) {
            let at = At {
                line: line.no,
                section: Section::Mixing,
            };
            let t = self.tokens(line);
            if t.len() >= 2 {
                let n = self.node_ref(at, "Tank", t[0]);
                let models = [
                    ("MIXED", MixingModel::Mixed),
                    ("2COMP", MixingModel::TwoComp),
                    ("FIFO", MixingModel::Fifo),
                    ("LIFO", MixingModel::Lifo),
                ];
                let m = models
                    .iter()
                    .find(|(w, _)| starts_with_ci(t[1], w))
                    .map(|&(_, m)| m);
                if m.is_none() {
                    self.err(
                        at,
                        Some("Model"),
                        format!("expected MIXED, 2COMP, FIFO or LIFO, found \"{}\"", t[1]),
                    );
                }
                let mut f = 1.0;
                if m == Some(MixingModel::TwoComp) && t.len() == 3 {
                    f = self.num(at, "Fraction", t[2]).unwrap_or(1.0);
                    if f == 0.0 {
                        f = 1.0;
                    }
                }
                if let (Some(n), Some(m)) = (n, m) {
                    if let NodeKind::Tank(tk) = &mut self.net.nodes[n].kind {
                        tk.mixing = Mixing {
                            model: m,
                            fraction: f,
                        };
                    }
                }
            }
            self.give_back(t);
        }
    }
}
