//! Reads rule-based `[RULES]` (premises, THEN/ELSE actions, priorities):
//! rules.c's `ruledata`.

use super::{parse_number, At, Reader};
use crate::control::*;
use crate::inp::lexer::Section;
use crate::link::*;
use crate::network::Network;
use crate::units::Quantity;

impl<'a, 's> Reader<'a, 's> {
    pub(super) fn rules(&mut self) {
        #[derive(PartialEq)]
        enum Part {
            None,
            If,
            Then,
            Else,
        }
        let mut part = Part::None;
        let mut current: Option<(Rule, At, bool)> = None;
        let lines = self.s.of(Section::Rules);
        for line in lines {
            let at = At {
                line: line.no,
                section: Section::Rules,
            };
            let t0 = self.tokens(line);
            let t: &[&'a str] = &t0;
            let k = t[0].to_ascii_uppercase();
            if k == "RULE" {
                if let Some((r, rat, ok)) = current.take() {
                    self.finish_rule(r, rat, ok);
                }
                let Some(id) = t.get(1) else {
                    self.err(at, Some("Rule"), "RULE needs an ID");
                    self.give_back(t0);
                    continue;
                };
                self.check_id(at, id);
                if self.net.rules.iter().any(|r| r.id == *id) {
                    self.err(at, Some("Rule"), format!("duplicate rule ID \"{id}\""));
                }
                current = Some((
                    Rule {
                        id: id.to_string(),
                        premises: vec![],
                        then_actions: vec![],
                        else_actions: vec![],
                        priority: None,
                        enabled: true,
                    },
                    at,
                    true,
                ));
                part = Part::None;
                self.give_back(t0);
                continue;
            }
            let Some((rule, _, ok)) = current.as_mut() else {
                self.err(at, None, "rule clause outside a RULE");
                self.give_back(t0);
                continue;
            };
            let bad = |r: &mut Self, msg: String| {
                r.err(at, Some(&k), msg);
            };
            match k.as_str() {
                "IF" | "AND" | "OR" if k == "IF" || part == Part::If => {
                    if k == "IF" {
                        if part != Part::None {
                            *ok = false;
                            bad(self, "IF must be the rule's first clause".into());
                        }
                        part = Part::If;
                    }
                    let conj = match k.as_str() {
                        "IF" => Conjunction::If,
                        "AND" => Conjunction::And,
                        _ => Conjunction::Or,
                    };
                    let premise = self.premise(at, t, conj);
                    let Some((rule, _, ok)) = current.as_mut() else {
                        unreachable!()
                    };
                    match premise {
                        Some(p) => rule.premises.push(p),
                        None => *ok = false,
                    }
                }
                "THEN" | "ELSE" | "AND" => {
                    if k == "THEN" {
                        if part != Part::If {
                            *ok = false;
                            bad(self, "THEN must follow the IF clauses".into());
                        }
                        part = Part::Then;
                    } else if k == "ELSE" {
                        if part != Part::Then {
                            *ok = false;
                            bad(self, "ELSE must follow the THEN clauses".into());
                        }
                        part = Part::Else;
                    } else if part == Part::None {
                        *ok = false;
                        bad(self, "AND before IF".into());
                    }
                    let action = self.rule_action(at, t);
                    let Some((rule, _, ok)) = current.as_mut() else {
                        unreachable!()
                    };
                    match action {
                        Some(a) if part == Part::Else => rule.else_actions.push(a),
                        Some(a) => rule.then_actions.push(a),
                        None => *ok = false,
                    }
                }
                "OR" => {
                    *ok = false;
                    bad(self, "OR may only join IF clauses".into());
                }
                "PRIORITY" => match t.get(1).and_then(|v| parse_number(v)) {
                    Some(p) => rule.priority = Some(p),
                    None => {
                        *ok = false;
                        bad(
                            self,
                            format!("expected a number, found \"{}\"", t.get(1).unwrap_or(&"")),
                        );
                    }
                },
                "DISABLED" => rule.enabled = false,
                _ => {
                    *ok = false;
                    bad(
                        self,
                        format!(
                            "expected RULE, IF, AND, OR, THEN, ELSE or PRIORITY, found \"{}\"",
                            t[0]
                        ),
                    );
                }
            }
            self.give_back(t0);
        }
        if let Some((r, rat, ok)) = current.take() {
            self.finish_rule(r, rat, ok);
        }
    }

    fn finish_rule(&mut self, r: Rule, at: At, ok: bool) {
        if !ok {
            return;
        }
        if r.premises.is_empty() || r.then_actions.is_empty() {
            self.err(
                at,
                Some("Rule"),
                format!(
                    "rule \"{}\" needs at least one IF clause and one THEN clause",
                    r.id
                ),
            );
            return;
        }
        self.net.rules.push(r);
    }

    fn premise(&mut self, at: At, t: &[&'a str], conjunction: Conjunction) -> Option<Premise> {
        if t.len() < 2 {
            self.err(at, None, "incomplete condition");
            return None;
        }
        let obj = t[1].to_ascii_uppercase();
        let (object, rest): (RuleObject, &[&'a str]) = if obj == "SYSTEM" {
            (RuleObject::System, &t[2..])
        } else {
            let Some(id) = t.get(2) else {
                self.err(at, Some("Object"), "missing object ID");
                return None;
            };
            if ["NODE", "JUNCTION", "RESERVOIR", "TANK"]
                .iter()
                .any(|w| w.starts_with(obj.as_str()) || obj.starts_with(&w[..4]))
            {
                (RuleObject::Node(self.node_ref(at, "Object", id)?), &t[3..])
            } else if ["LINK", "PIPE", "PUMP", "VALVE"]
                .iter()
                .any(|w| obj.starts_with(w))
            {
                (RuleObject::Link(self.link_ref(at, "Object", id)?), &t[3..])
            } else {
                self.err(at, Some("Object"), format!("expected NODE, JUNCTION, RESERVOIR, TANK, LINK, PIPE, PUMP, VALVE or SYSTEM, found \"{}\"", t[1]));
                return None;
            }
        };
        if rest.len() < 3 {
            self.err(at, None, "expected variable, relation and value");
            return None;
        }
        let Some(variable) = RuleVariable::from_keyword(rest[0]) else {
            self.err(
                at,
                Some("Variable"),
                format!("unknown variable \"{}\"", rest[0]),
            );
            return None;
        };
        let Some(op) = RelOp::parse(rest[1]) else {
            self.err(
                at,
                Some("Relation"),
                format!(
                    "expected =, <>, <, >, <=, >=, IS, NOT, BELOW or ABOVE, found \"{}\"",
                    rest[1]
                ),
            );
            return None;
        };
        let vals = &rest[2..];
        let value = match variable {
            RuleVariable::Status => {
                let s = vals[0].to_ascii_uppercase();
                RuleValue::Status(match s.as_str() {
                    "OPEN" => LinkStatus::Open,
                    "CLOSED" => LinkStatus::Closed,
                    "ACTIVE" => LinkStatus::Active,
                    _ => {
                        self.err(
                            at,
                            Some("Value"),
                            format!("expected OPEN, CLOSED or ACTIVE, found \"{}\"", vals[0]),
                        );
                        return None;
                    }
                })
            }
            RuleVariable::Time
            | RuleVariable::ClockTime
            | RuleVariable::FillTime
            | RuleVariable::DrainTime => {
                match crate::inp::time::parse_time(vals[0], vals.get(1).copied()) {
                    Some(s) => RuleValue::Number(s as f64),
                    None => {
                        self.err(
                            at,
                            Some("Value"),
                            format!("expected a time, found \"{}\"", vals.join(" ")),
                        );
                        return None;
                    }
                }
            }
            _ => {
                let x = self.num(at, "Value", vals[0])?;
                let q = premise_quantity(&self.net, object, variable);
                RuleValue::Number(match (object, variable) {
                    (RuleObject::Link(l), RuleVariable::Setting) => self.setting_si(l, x),
                    _ => self.units.to_si(q, x),
                })
            }
        };
        Some(Premise {
            conjunction,
            object,
            variable,
            op,
            value,
        })
    }

    fn rule_action(&mut self, at: At, t: &[&'a str]) -> Option<RuleAction> {
        // THEN LINK id STATUS|SETTING =|IS value
        if t.len() < 6 {
            self.err(at, None, "expected LINK id STATUS/SETTING = value");
            return None;
        }
        let obj = t[1].to_ascii_uppercase();
        if !["LINK", "PIPE", "PUMP", "VALVE"]
            .iter()
            .any(|w| obj.starts_with(w))
        {
            self.err(
                at,
                Some("Object"),
                format!(
                    "actions act on links (LINK, PIPE, PUMP, VALVE), found \"{}\"",
                    t[1]
                ),
            );
            return None;
        }
        let l = self.link_ref(at, "Object", t[2])?;
        if self.net.links[l].pipe().is_some_and(|p| p.check_valve) {
            self.err(
                at,
                Some("Object"),
                format!("check valve \"{}\" cannot be controlled", t[2]),
            );
            return None;
        }
        let var = t[3].to_ascii_uppercase();
        let v = t[5];
        let action = if var == "STATUS" {
            let s = v.to_ascii_uppercase();
            LinkAction::Status(match s.as_str() {
                "OPEN" => LinkStatus::Open,
                "CLOSED" => LinkStatus::Closed,
                "ACTIVE" => LinkStatus::Active,
                _ => {
                    self.err(
                        at,
                        Some("Value"),
                        format!("expected OPEN, CLOSED or ACTIVE, found \"{v}\""),
                    );
                    return None;
                }
            })
        } else if var == "SETTING" {
            let x = self.num(at, "Value", v)?;
            if x < 0.0 && !matches!(self.net.links[l].kind, LinkKind::Valve(_)) {
                self.err(
                    at,
                    Some("Value"),
                    format!("expected a setting not below 0, found {v}"),
                );
                return None;
            }
            LinkAction::Setting(self.setting_si(l, x))
        } else {
            self.err(
                at,
                Some("Variable"),
                format!("expected STATUS or SETTING, found \"{}\"", t[3]),
            );
            return None;
        };
        Some(RuleAction { link: l, action })
    }
}

/// The unit of a numeric rule premise.
pub(crate) fn premise_quantity(
    net: &Network,
    object: RuleObject,
    variable: RuleVariable,
) -> Quantity {
    match variable {
        RuleVariable::Demand | RuleVariable::Flow => Quantity::Flow,
        RuleVariable::Head | RuleVariable::Grade | RuleVariable::Level => Quantity::Length,
        RuleVariable::Pressure => Quantity::Pressure,
        RuleVariable::Power => Quantity::Power,
        RuleVariable::Setting => match object {
            RuleObject::Link(l) => match &net.links[l].kind {
                LinkKind::Valve(v) => v.kind.setting_quantity(),
                _ => Quantity::None,
            },
            _ => Quantity::None,
        },
        _ => Quantity::None,
    }
}
