//! Reads `[PIPES]`, `[PUMPS]`, `[VALVES]`, `[LEAKAGE]` and `[STATUS]`:
//! input3.c's `pipedata`, `pumpdata`, `valvedata`, `leakagedata` and
//! `statusdata`.

use super::{in_range, At, Reader};
use crate::control::*;
use crate::inp::lexer::{starts_with_ci, Line, Section};
use crate::link::*;
use crate::options::*;
use crate::pattern::CurveType;
use crate::units::{Quantity, Units};

impl<'a, 's> Reader<'a, 's> {
    pub(super) fn links(&mut self) {
        let mut lines: Vec<(Section, &Line<'a>)> = Vec::new();
        for s in [Section::Pipes, Section::Pumps, Section::Valves] {
            lines.extend(self.s.of(s).iter().map(|l| (s, l)));
        }
        lines.sort_by_key(|(_, l)| l.no);
        for (section, line) in lines {
            let at = At {
                line: line.no,
                section,
            };
            let t = self.tokens(line);
            let link = match section {
                Section::Pipes => self.pipe(at, &t),
                Section::Pumps => self.pump(at, &t),
                _ => self.valve(at, &t),
            };
            if let Some((kind, status, from, to)) = link {
                let id = t[0];
                if self.check_id(at, id) {
                    if let Some(&prev) = self.link_ids.get(id) {
                        let prev_line = self.link_lines[prev];
                        self.err(
                            at,
                            Some("ID"),
                            format!(
                                "duplicate link ID \"{id}\" (first defined on line {prev_line})"
                            ),
                        );
                    } else {
                        self.link_ids.insert(id, self.net.links.len());
                        self.link_lines.push(at.line);
                        self.net.links.push(Link {
                            id: id.to_string(),
                            from,
                            to,
                            kind,
                            initial_status: status,
                            comment: line.comment.map(str::to_string),
                            tag: None,
                            vertices: Vec::new(),
                        });
                    }
                }
            }
            if !self.link_ids.contains_key(t[0]) {
                self.broken_links.entry(t[0]).or_insert(at.line);
            }
            self.give_back(t);
        }
    }

    fn end_nodes(&mut self, at: At, t: &[&'a str]) -> Option<(usize, usize)> {
        if t.len() < 3 {
            self.err(at, Some("Node1"), "expected ID, start node and end node");
            return None;
        }
        let a = self.node_ref(at, "Node1", t[1]);
        let b = self.node_ref(at, "Node2", t[2]);
        let (a, b) = (a?, b?);
        if a == b {
            self.err(
                at,
                Some("Node2"),
                format!(
                    "link \"{}\" starts and ends at the same node \"{}\"",
                    t[0], t[1]
                ),
            );
            return None;
        }
        Some((a, b))
    }

    fn pipe(&mut self, at: At, t: &[&'a str]) -> Option<(LinkKind, LinkStatus, usize, usize)> {
        let ends = self.end_nodes(at, t);
        let si_units = self.units.flow.system() == crate::units::UnitSystem::Si;
        let mut length = if si_units { 100.0 } else { 330.0 };
        let mut diameter = if si_units { 254.0 } else { 10.0 };
        let mut rough = match self.net.options.headloss {
            HeadlossFormula::HazenWilliams => 130.0,
            HeadlossFormula::DarcyWeisbach => 0.0005,
            HeadlossFormula::ChezyManning => 0.01,
        };
        let mut ok = ends.is_some();
        if let Some(v) = t.get(3) {
            match self.num_min(at, "Length", v, true) {
                Some(v) => length = v,
                None => ok = false,
            }
        }
        if let Some(v) = t.get(4) {
            match self.num_min(at, "Diameter", v, true) {
                Some(v) => diameter = v,
                None => ok = false,
            }
        }
        if let Some(v) = t.get(5) {
            match self.num_min(at, "Roughness", v, true) {
                Some(v) => rough = v,
                None => ok = false,
            }
        }
        let mut minor = 0.0;
        let mut status = LinkStatus::Open;
        let mut cv = false;
        let status_word = |s: &str| -> Option<(LinkStatus, bool)> {
            if s.eq_ignore_ascii_case("CV") {
                Some((LinkStatus::Open, true))
            } else if s.eq_ignore_ascii_case("CLOSED") {
                Some((LinkStatus::Closed, false))
            } else if s.eq_ignore_ascii_case("OPEN") {
                Some((LinkStatus::Open, false))
            } else {
                None
            }
        };
        match (t.get(6), t.get(7)) {
            (Some(a), None) => match status_word(a) {
                Some((s, c)) => {
                    status = s;
                    cv = c;
                }
                None => match self.num_min(at, "MinorLoss", a, false) {
                    Some(v) => minor = v,
                    None => ok = false,
                },
            },
            (Some(a), Some(b)) => {
                match self.num_min(at, "MinorLoss", a, false) {
                    Some(v) => minor = v,
                    None => ok = false,
                }
                match status_word(b) {
                    Some((s, c)) => {
                        status = s;
                        cv = c;
                    }
                    None => {
                        self.err(
                            at,
                            Some("Status"),
                            format!("expected OPEN, CLOSED or CV, found \"{b}\""),
                        );
                        ok = false;
                    }
                }
            }
            _ => {}
        }
        if !ok {
            return None;
        }
        let (from, to) = ends?;
        let roughness = if self.net.options.headloss == HeadlossFormula::DarcyWeisbach {
            self.si(Quantity::DwRoughness, rough)
        } else {
            rough
        };
        Some((
            LinkKind::Pipe(Pipe {
                length: self.si(Quantity::Length, length),
                diameter: self.si(Quantity::Diameter, diameter),
                roughness,
                minor_loss: minor,
                check_valve: cv,
                leak_area: 0.0,
                leak_expansion: 0.0,
                bulk_coefficient: None,
                wall_coefficient: None,
            }),
            status,
            from,
            to,
        ))
    }

    fn pump(&mut self, at: At, t: &[&'a str]) -> Option<(LinkKind, LinkStatus, usize, usize)> {
        let ends = self.end_nodes(at, t);
        let mut ok = ends.is_some();
        let mut pump = Pump {
            power: None,
            head_curve: None,
            speed: 1.0,
            pattern: None,
            efficiency_curve: None,
            energy_price: None,
            price_pattern: None,
        };
        let mut m = 3;
        while m < t.len() {
            let k = t[m];
            let Some(v) = t.get(m + 1).copied() else {
                self.err(at, Some(k), format!("keyword \"{k}\" has no value"));
                ok = false;
                break;
            };
            if starts_with_ci(k, "POWER") {
                match self.num_min(at, "POWER", v, true) {
                    Some(p) => pump.power = Some(self.si(Quantity::Power, p)),
                    None => ok = false,
                }
            } else if starts_with_ci(k, "HEAD") {
                match self.curve_ref(at, "HEAD", v) {
                    Ok(Some(c)) => pump.head_curve = Some(c),
                    _ => ok = false,
                }
            } else if starts_with_ci(k, "PATTERN") {
                match self.pattern_ref(at, "PATTERN", v) {
                    Ok(p) => pump.pattern = p,
                    Err(()) => ok = false,
                }
            } else if starts_with_ci(k, "SPEED") {
                match self.num_min(at, "SPEED", v, false) {
                    Some(s) => pump.speed = s,
                    None => ok = false,
                }
            } else {
                self.err(
                    at,
                    Some(k),
                    format!("expected POWER, HEAD, SPEED or PATTERN, found \"{k}\""),
                );
                ok = false;
            }
            m += 2;
        }
        if !ok {
            return None;
        }
        if let Some(c) = pump.head_curve {
            self.net.curves[c].kind = CurveType::Pump;
        }
        let (from, to) = ends?;
        Some((LinkKind::Pump(pump), LinkStatus::Open, from, to))
    }

    fn valve(&mut self, at: At, t: &[&'a str]) -> Option<(LinkKind, LinkStatus, usize, usize)> {
        let ends = self.end_nodes(at, t);
        if t.len() < 5 {
            self.err(
                at,
                Some("Type"),
                "expected ID, start node, end node, diameter and valve type",
            );
            return None;
        }
        let (from, to) = ends?;
        let Some(kind) = ValveType::from_keyword(t[4]) else {
            self.err(
                at,
                Some("Type"),
                format!(
                    "expected PRV, PSV, PBV, FCV, TCV, GPV or PCV, found \"{}\"",
                    t[4]
                ),
            );
            return None;
        };
        let mut ok = true;
        // Illegal connections (EPANET errors 219 and 220).
        if matches!(kind, ValveType::Prv | ValveType::Psv | ValveType::Fcv) {
            for (field, n) in [("Node1", from), ("Node2", to)] {
                if !self.net.nodes[n].is_junction() {
                    self.err(
                        at,
                        Some(field),
                        format!(
                            "a {} cannot connect directly to tank or reservoir \"{}\"",
                            kind.keyword(),
                            self.net.nodes[n].id
                        ),
                    );
                    ok = false;
                }
            }
        }
        // EPANET 2.3 also forbids some valves sharing nodes (error 220), but
        // only when valves are added through its API: reading a file, it
        // accepts and solves them (checked with the oracle), and so do we.
        let diameter = self.num_min(at, "Diameter", t[3], true);
        let mut setting = 0.0;
        let mut curve = None;
        let mut status = LinkStatus::Active;
        if let Some(v) = t.get(5) {
            if kind == ValveType::Gpv {
                match self.curve_ref(at, "Setting", v) {
                    Ok(Some(c)) => {
                        curve = Some(c);
                        status = LinkStatus::Open;
                    }
                    _ => ok = false,
                }
            } else {
                match self.num(at, "Setting", v) {
                    Some(s) => setting = s,
                    None => ok = false,
                }
            }
        }
        let mut minor = 0.0;
        if let Some(v) = t.get(6) {
            match self.num_min(at, "MinorLoss", v, false) {
                Some(m) => minor = m,
                None => ok = false,
            }
        }
        if kind == ValveType::Pcv {
            if let Some(v) = t.get(7) {
                match self.curve_ref(at, "Curve", v) {
                    Ok(c) => {
                        curve = c;
                        if c.is_some() && setting > 100.0 {
                            setting = 100.0;
                        }
                    }
                    Err(()) => ok = false,
                }
            }
        }
        let diameter = diameter?;
        if !ok {
            return None;
        }
        if let Some(c) = curve {
            self.net.curves[c].kind = if kind == ValveType::Gpv {
                CurveType::Headloss
            } else {
                CurveType::Valve
            };
        }
        Some((
            LinkKind::Valve(Valve {
                kind,
                diameter: self.si(Quantity::Diameter, diameter),
                setting: self.si(kind.setting_quantity(), setting),
                minor_loss: minor,
                curve,
            }),
            status,
            from,
            to,
        ))
    }

    pub(super) fn leakage(&mut self) {
        let (fa, fe) = leakage_factors(&self.units);
        for line in self.s.of(Section::Leakage) {
            let at = At {
                line: line.no,
                section: Section::Leakage,
            };
            let t = self.tokens(line);
            if t.len() < 3 {
                self.err(
                    at,
                    Some("C1"),
                    "expected a pipe ID, a leak area and an expansion rate",
                );
            } else {
                let l = self.link_ref(at, "Pipe", t[0]);
                let c1 = self.num_min(at, "C1", t[1], false);
                let c2 = self.num_min(at, "C2", t[2], false);
                if let (Some(l), Some(c1), Some(c2)) = (l, c1, c2) {
                    if let LinkKind::Pipe(p) = &mut self.net.links[l].kind {
                        p.leak_area = c1 * fa;
                        p.leak_expansion = c2 * fe;
                    } else {
                        self.err(
                            at,
                            Some("Pipe"),
                            format!("\"{}\" is not a pipe; only pipes leak", t[0]),
                        );
                    }
                }
            }
            self.give_back(t);
        }
    }

    pub(super) fn status(&mut self) {
        for line in self.s.of(Section::Status) {
            let at = At {
                line: line.no,
                section: Section::Status,
            };
            let t = self.tokens(line);
            if t.len() < 2 {
                self.err(
                    at,
                    Some("Status"),
                    "expected a link ID and a status or setting",
                );
                self.give_back(t);
                continue;
            }
            let v = t[t.len() - 1];
            let action = if v.eq_ignore_ascii_case("OPEN") {
                Some(LinkAction::Status(LinkStatus::Open))
            } else if v.eq_ignore_ascii_case("CLOSED") {
                Some(LinkAction::Status(LinkStatus::Closed))
            } else {
                self.num_min(at, "Status/Setting", v, false)
                    .map(LinkAction::Setting)
            };
            let Some(action) = action else {
                self.give_back(t);
                continue;
            };
            let targets: Vec<usize> = if t.len() == 2 {
                match self.link_ref(at, "Link", t[0]) {
                    Some(l) => vec![l],
                    None => vec![],
                }
            } else {
                (0..self.net.links.len())
                    .filter(|&i| in_range(&self.net.links[i].id, t[0], t[1]))
                    .collect()
            };
            for l in targets {
                self.apply_initial_status(at, l, action, t.len() == 2);
            }
            self.give_back(t);
        }
    }

    fn apply_initial_status(&mut self, at: At, l: usize, action: LinkAction, single: bool) {
        let units = self.units;
        let link = &mut self.net.links[l];
        match &mut link.kind {
            LinkKind::Pipe(p) => {
                if p.check_valve {
                    if single {
                        let id = link.id.clone();
                        self.err(
                            at,
                            Some("Link"),
                            format!("the status of check valve \"{id}\" cannot be set"),
                        );
                    }
                    return;
                }
                if let LinkAction::Status(s) = action {
                    link.initial_status = s;
                }
            }
            LinkKind::Pump(p) => match action {
                LinkAction::Setting(x) => {
                    p.speed = x;
                    link.initial_status = if x == 0.0 {
                        LinkStatus::Closed
                    } else {
                        LinkStatus::Open
                    };
                }
                LinkAction::Status(s) => {
                    p.speed = if s == LinkStatus::Open { 1.0 } else { 0.0 };
                    link.initial_status = s;
                }
            },
            LinkKind::Valve(v) => match action {
                LinkAction::Setting(x) => {
                    if v.kind == ValveType::Gpv {
                        if single {
                            let id = link.id.clone();
                            self.err(
                                at,
                                Some("Link"),
                                format!("GPV \"{id}\" takes OPEN or CLOSED, not a setting"),
                            );
                        }
                        return;
                    }
                    v.setting = units.to_si(v.kind.setting_quantity(), x);
                    link.initial_status = LinkStatus::Active;
                }
                LinkAction::Status(s) => link.initial_status = s,
            },
        }
    }
}

/// SI factors for EPANET 2.3 leakage: C1 in mm² per 100 length units of
/// pipe → m² per m; C2 in mm² per 100 length units per length unit of head
/// → m² per m per m.
pub(crate) fn leakage_factors(u: &Units) -> (f64, f64) {
    let l = u.factor(Quantity::Length);
    (1.0e-6 / (100.0 * l), 1.0e-6 / (100.0 * l * l))
}
