//! Reads `[JUNCTIONS]`, `[RESERVOIRS]`, `[TANKS]`, `[DEMANDS]` and
//! `[EMITTERS]`: input3.c's `juncdata`, `tankdata`, `demanddata` and
//! `emitterdata`.

use super::{At, Reader};
use crate::inp::lexer::{Line, Section};
use crate::node::*;
use crate::pattern::CurveType;
use crate::units::Quantity;

impl<'a, 's> Reader<'a, 's> {
    fn add_node(&mut self, at: At, id: &'a str, node: Node) {
        if !self.check_id(at, id) {
            self.broken_nodes.entry(id).or_insert(at.line);
            return;
        }
        if let Some(&prev) = self.node_ids.get(id) {
            let prev_line = self.node_lines[prev];
            self.err(
                at,
                Some("ID"),
                format!("duplicate node ID \"{id}\" (first defined on line {prev_line})"),
            );
            return;
        }
        self.node_ids.insert(id, self.net.nodes.len());
        self.node_lines.push(at.line);
        self.net.nodes.push(node);
    }

    fn new_node(id: &str, elevation: f64, kind: NodeKind, comment: Option<&str>) -> Node {
        Node {
            id: id.to_string(),
            elevation,
            kind,
            initial_quality: 0.0,
            source: None,
            comment: comment.map(str::to_string),
            tag: None,
            coordinates: None,
        }
    }

    pub(super) fn junctions(&mut self) {
        for line in self.s.of(Section::Junctions) {
            let at = At {
                line: line.no,
                section: Section::Junctions,
            };
            let t = self.tokens(line);
            let id = t[0];
            let el = match t.get(1) {
                Some(v) => self.num(at, "Elevation", v),
                None => Some(0.0),
            };
            let d = match t.get(2) {
                Some(v) => self.num(at, "Demand", v),
                None => Some(0.0),
            };
            let p = match t.get(3) {
                Some(v) => self.pattern_ref(at, "Pattern", v).ok(),
                None => Some(None),
            };
            let (Some(el), Some(d), Some(p)) = (el, d, p) else {
                self.broken_nodes.entry(id).or_insert(at.line);
                self.give_back(t);
                continue;
            };
            let j = Junction {
                demands: vec![Demand {
                    base: self.si(Quantity::Flow, d),
                    pattern: p,
                    category: None,
                }],
                emitter_coefficient: 0.0,
            };
            let node = Self::new_node(
                id,
                self.si(Quantity::Length, el),
                NodeKind::Junction(j),
                line.comment,
            );
            self.add_node(at, id, node);
            self.give_back(t);
        }
    }

    pub(super) fn tanks_and_reservoirs(&mut self) {
        let mut lines: Vec<(Section, &Line<'a>)> = self
            .s
            .of(Section::Reservoirs)
            .iter()
            .map(|l| (Section::Reservoirs, l))
            .collect();
        lines.extend(
            self.s
                .of(Section::Tanks)
                .iter()
                .map(|l| (Section::Tanks, l)),
        );
        lines.sort_by_key(|(_, l)| l.no);
        for (section, line) in lines {
            self.tank_or_reservoir(section, line);
            let t = self.tokens(line);
            if !self.node_ids.contains_key(t[0]) {
                self.broken_nodes.entry(t[0]).or_insert(line.no);
            }
            self.give_back(t);
        }
    }

    fn tank_or_reservoir(&mut self, section: Section, line: &Line<'a>) {
        let at = At {
            line: line.no,
            section,
        };
        let t = self.tokens(line);
        let id = t[0];
        let n = t.len();
        if n < 2 {
            self.err(
                at,
                Some(if section == Section::Tanks {
                    "Elevation"
                } else {
                    "Head"
                }),
                "missing value",
            );
            self.give_back(t);
            return;
        }
        let Some(el) = self.num(
            at,
            if section == Section::Tanks {
                "Elevation"
            } else {
                "Head"
            },
            t[1],
        ) else {
            self.give_back(t);
            return;
        };
        let el = self.si(Quantity::Length, el);
        if n <= 3 {
            // A reservoir (EPANET decides by the number of fields).
            let pat = match t.get(2) {
                Some(v) => match self.pattern_ref(at, "Pattern", v) {
                    Ok(p) => p,
                    Err(()) => {
                        self.give_back(t);
                        return;
                    }
                },
                None => None,
            };
            let node = Self::new_node(
                id,
                el,
                NodeKind::Reservoir(Reservoir { head_pattern: pat }),
                line.comment,
            );
            self.add_node(at, id, node);
        } else {
            if n < 6 {
                self.err(
                    at,
                    Some("Diameter"),
                    "a tank needs ID, elevation, initial, minimum and maximum level and diameter",
                );
                self.give_back(t);
                return;
            }
            let names = [
                "",
                "",
                "InitLevel",
                "MinLevel",
                "MaxLevel",
                "Diameter",
                "MinVol",
            ];
            let mut vals = [0.0f64; 7];
            let mut ok = true;
            for i in 2..n.min(7) {
                match self.num_min(at, names[i], t[i], false) {
                    Some(v) => vals[i] = v,
                    None => ok = false,
                }
            }
            let curve = match t.get(7) {
                Some(v) => match self.curve_ref(at, "VolCurve", v) {
                    Ok(c) => c,
                    Err(()) => {
                        ok = false;
                        None
                    }
                },
                None => None,
            };
            let overflow = match t.get(8) {
                Some(v) if v.eq_ignore_ascii_case("YES") => true,
                Some(v) if v.eq_ignore_ascii_case("NO") => false,
                Some(v) => {
                    self.err(
                        at,
                        Some("Overflow"),
                        format!("expected YES or NO, found \"{v}\""),
                    );
                    ok = false;
                    false
                }
                None => false,
            };
            if !ok {
                self.give_back(t);
                return;
            }
            if let Some(c) = curve {
                self.net.curves[c].kind = CurveType::Volume;
            }
            let kind = if vals[5] == 0.0 {
                // EPANET treats a zero-diameter tank as a reservoir.
                NodeKind::Reservoir(Reservoir { head_pattern: None })
            } else {
                NodeKind::Tank(Tank {
                    initial_level: self.si(Quantity::Length, vals[2]),
                    min_level: self.si(Quantity::Length, vals[3]),
                    max_level: self.si(Quantity::Length, vals[4]),
                    diameter: self.si(Quantity::Length, vals[5]),
                    min_volume: self.si(Quantity::Volume, vals[6]),
                    volume_curve: curve,
                    can_overflow: overflow,
                    mixing: Mixing::default(),
                    bulk_coefficient: None,
                })
            };
            let node = Self::new_node(id, el, kind, line.comment);
            self.add_node(at, id, node);
        }
        self.give_back(t);
    }

    pub(super) fn demands(&mut self) {
        let mut replaced = vec![false; self.net.nodes.len()];
        for line in self.s.of(Section::Demands) {
            let at = At {
                line: line.no,
                section: Section::Demands,
            };
            let t = self.tokens(line);
            if t.len() < 2 {
                self.err(
                    at,
                    Some("Demand"),
                    "expected a junction ID and a base demand",
                );
                self.give_back(t);
                continue;
            }
            let d = self.num(at, "Demand", t[1]);
            let j = self.node_ref(at, "Junction", t[0]);
            let p = match t.get(2) {
                Some(v) => self.pattern_ref(at, "Pattern", v).ok(),
                None => Some(None),
            };
            let (Some(d), Some(j), Some(p)) = (d, j, p) else {
                self.give_back(t);
                continue;
            };
            let base = self.si(Quantity::Flow, d);
            let category = line.comment.map(str::to_string);
            if let NodeKind::Junction(junc) = &mut self.net.nodes[j].kind {
                let dem = Demand {
                    base,
                    pattern: p,
                    category,
                };
                if !replaced[j] {
                    // The first [DEMANDS] entry replaces the [JUNCTIONS] demand.
                    replaced[j] = true;
                    junc.demands.truncate(0);
                }
                junc.demands.push(dem);
            } else {
                self.err(
                    at,
                    Some("Junction"),
                    format!(
                        "\"{}\" is not a junction; only junctions have demands",
                        t[0]
                    ),
                );
            }
            self.give_back(t);
        }
    }

    pub(super) fn emitters(&mut self) {
        let u = self.units;
        let exp = self.net.options.emitter_exponent;
        let f = u.factor(Quantity::Flow) / u.factor(Quantity::Pressure).powf(exp);
        for line in self.s.of(Section::Emitters) {
            let at = At {
                line: line.no,
                section: Section::Emitters,
            };
            let t = self.tokens(line);
            if t.len() < 2 {
                self.err(
                    at,
                    Some("Coefficient"),
                    "expected a junction ID and an emitter coefficient",
                );
            } else {
                let j = self.node_ref(at, "Junction", t[0]);
                let k = self.num_min(at, "Coefficient", t[1], false);
                if let (Some(j), Some(k)) = (j, k) {
                    if !(k * f).is_finite() {
                        self.err(
                            at,
                            Some("Coefficient"),
                            format!("coefficient {} with EMITTER EXPONENT {exp} is out of range in SI units", t[1]),
                        );
                    } else if let NodeKind::Junction(junc) = &mut self.net.nodes[j].kind {
                        junc.emitter_coefficient = k * f;
                    } else {
                        self.err(
                            at,
                            Some("Junction"),
                            format!(
                                "\"{}\" is not a junction; only junctions have emitters",
                                t[0]
                            ),
                        );
                    }
                }
            }
            self.give_back(t);
        }
    }
}
