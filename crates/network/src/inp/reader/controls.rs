//! Reads simple `[CONTROLS]`: input3.c's `controldata`.

use super::{At, Reader};
use crate::control::*;
use crate::inp::lexer::Section;
use crate::link::*;
use crate::units::Quantity;

impl<'a, 's> Reader<'a, 's> {
    /// SI value of a link setting written in file units.
    pub(super) fn setting_si(&self, l: usize, x: f64) -> f64 {
        match &self.net.links[l].kind {
            LinkKind::Valve(v) => self.units.to_si(v.kind.setting_quantity(), x),
            _ => x,
        }
    }

    pub(super) fn controls(&mut self) {
        for line in self.s.of(Section::Controls) {
            let at = At {
                line: line.no,
                section: Section::Controls,
            };
            let t0 = self.tokens(line);
            let mut t: &[&'a str] = &t0;
            let mut enabled = true;
            if t.last().is_some_and(|s| s.eq_ignore_ascii_case("DISABLED")) {
                enabled = false;
                t = &t[..t.len() - 1];
            }
            if let Some(c) = self.control(at, t, enabled) {
                self.net.controls.push(c);
            }
            self.give_back(t0);
        }
    }

    fn control(&mut self, at: At, t: &[&'a str], enabled: bool) -> Option<Control> {
        if t.len() < 6 {
            self.err(at, None, "expected LINK id setting IF NODE id ABOVE/BELOW value, or LINK id setting AT TIME/CLOCKTIME time");
            return None;
        }
        let l = self.link_ref(at, "Link", t[1])?;
        let link = &self.net.links[l];
        let is_pump = matches!(link.kind, LinkKind::Pump(_));
        let is_pipe = matches!(link.kind, LinkKind::Pipe(_));
        if link.pipe().is_some_and(|p| p.check_valve) {
            self.err(
                at,
                Some("Link"),
                format!("check valve \"{}\" cannot be controlled", t[1]),
            );
            return None;
        }
        let is_gpv = link.valve().is_some_and(|v| v.kind == ValveType::Gpv);
        let action = if t[2].eq_ignore_ascii_case("OPEN") {
            LinkAction::Status(LinkStatus::Open)
        } else if t[2].eq_ignore_ascii_case("CLOSED") {
            LinkAction::Status(LinkStatus::Closed)
        } else if is_gpv {
            self.err(
                at,
                Some("Setting"),
                format!("GPV \"{}\" takes OPEN or CLOSED, not a setting", t[1]),
            );
            return None;
        } else {
            let x = self.num(at, "Setting", t[2])?;
            if (is_pump || is_pipe) && x < 0.0 {
                self.err(
                    at,
                    Some("Setting"),
                    format!("expected a setting not below 0, found {}", t[2]),
                );
                return None;
            }
            LinkAction::Setting(self.setting_si(l, x))
        };
        let kind = t[4];
        let condition =
            if kind.eq_ignore_ascii_case("TIME") || kind.eq_ignore_ascii_case("CLOCKTIME") {
                let secs = crate::inp::time::parse_time(t[5], t.get(6).copied());
                let Some(secs) = secs else {
                    self.err(
                        at,
                        Some("Time"),
                        format!("expected a time, found \"{}\"", t[5..].join(" ")),
                    );
                    return None;
                };
                if kind.eq_ignore_ascii_case("TIME") {
                    ControlCondition::AtTime(secs)
                } else {
                    ControlCondition::AtClockTime(secs % 86400)
                }
            } else {
                if t.len() < 8 {
                    self.err(at, None, "expected IF NODE id ABOVE/BELOW value");
                    return None;
                }
                let n = self.node_ref(at, "Node", t[5])?;
                let v = self.num(at, "Value", t[7])?;
                let q = if self.net.nodes[n].is_junction() {
                    Quantity::Pressure
                } else {
                    Quantity::Length
                };
                let v = self.si(q, v);
                if t[6].eq_ignore_ascii_case("ABOVE") {
                    ControlCondition::NodeAbove(n, v)
                } else if t[6].eq_ignore_ascii_case("BELOW") {
                    ControlCondition::NodeBelow(n, v)
                } else {
                    self.err(
                        at,
                        Some("Condition"),
                        format!("expected ABOVE or BELOW, found \"{}\"", t[6]),
                    );
                    return None;
                }
            };
        Some(Control {
            link: l,
            action,
            condition,
            enabled,
        })
    }
}
