//! Simple controls and rules in EPANET's form.

use super::links::status_code;
use super::{
    setting_internal, stat, ActionData, ControlData, ControlType, LinkType, PremiseData, RuleData,
    MISSING,
};
use crate::units::Ucf;
use network::{
    ControlCondition, LinkAction, LinkKind, LinkStatus, Network, Quantity, RuleObject, RuleValue,
    RuleVariable,
};

/// The enabled simple controls, settings and levels in internal units
/// (node levels as heads: `el` plus the level).
pub(super) fn controls(
    net: &Network,
    ucf: &Ucf,
    njuncs: usize,
    el: &[f64],
    ltype: &[LinkType],
) -> Vec<ControlData> {
    let mut controls = Vec::new();
    for c in net.controls.iter().filter(|c| c.enabled) {
        let k = c.link;
        let lt = ltype[k];
        let (mut status, mut setting) = (stat::ACTIVE, MISSING);
        match c.action {
            LinkAction::Status(s) => {
                status = status_code(s);
                if lt == LinkType::Pump {
                    setting = if s == LinkStatus::Open { 1.0 } else { 0.0 };
                }
            }
            LinkAction::Setting(x) => {
                let xf = setting_file(net, ucf, k, x);
                if lt == LinkType::Pump || lt <= LinkType::Pipe {
                    status = if xf == 0.0 { stat::CLOSED } else { stat::OPEN };
                    setting = xf;
                } else {
                    setting = setting_internal(ucf, lt, xf);
                }
            }
        }
        let (ctype, node, time, grade) = match c.condition {
            ControlCondition::AtTime(t) => (ControlType::Timer, None, t as i64, 0.0),
            ControlCondition::AtClockTime(t) => {
                (ControlType::TimeOfDay, None, (t % 86400) as i64, 0.0)
            }
            ControlCondition::NodeAbove(n, v) | ControlCondition::NodeBelow(n, v) => {
                let lvl = if n < njuncs {
                    ucf.internal(Quantity::Pressure, v)
                } else {
                    ucf.internal(Quantity::Length, v)
                };
                let ty = if matches!(c.condition, ControlCondition::NodeAbove(..)) {
                    ControlType::HiLevel
                } else {
                    ControlType::LowLevel
                };
                (ty, Some(n), 0, el[n] + lvl)
            }
        };
        controls.push(ControlData {
            link: k,
            node,
            ctype,
            status,
            setting,
            time,
            grade,
        });
    }
    controls
}

/// The enabled rules (values stay in file units, as EPANET compares them).
pub(super) fn rules(net: &Network, ucf: &Ucf, ltype: &[LinkType]) -> Vec<RuleData> {
    let mut rules = Vec::new();
    for r in net.rules.iter().filter(|r| r.enabled) {
        let premises = r.premises.iter().map(|p| premise(net, ucf, p)).collect();
        let action = |a: &network::RuleAction| action(net, ucf, ltype, a);
        rules.push(RuleData {
            premises,
            then_actions: r.then_actions.iter().map(action).collect(),
            else_actions: r.else_actions.iter().map(action).collect(),
            priority: r.priority.unwrap_or(0.0),
        });
    }
    rules
}

fn premise(net: &Network, ucf: &Ucf, p: &network::Premise) -> PremiseData {
    let (value, status) = match p.value {
        RuleValue::Status(s) => (MISSING, Some(status_code(s))),
        RuleValue::Number(x) => {
            let v = match p.variable {
                RuleVariable::Time
                | RuleVariable::ClockTime
                | RuleVariable::FillTime
                | RuleVariable::DrainTime => x,
                RuleVariable::Setting => match p.object {
                    RuleObject::Link(l) => setting_file(net, ucf, l, x),
                    _ => x,
                },
                v => ucf.file(premise_quantity(v), x),
            };
            (v, None)
        }
    };
    PremiseData {
        or: p.conjunction == network::Conjunction::Or,
        object: p.object,
        variable: p.variable,
        op: p.op,
        value,
        status,
    }
}

fn action(net: &Network, ucf: &Ucf, ltype: &[LinkType], a: &network::RuleAction) -> ActionData {
    let lt = ltype[a.link];
    match a.action {
        LinkAction::Status(s) => ActionData {
            link: a.link,
            status: Some(status_code(s)),
            setting: MISSING,
        },
        LinkAction::Setting(x) => {
            let xf = setting_file(net, ucf, a.link, x);
            if lt <= LinkType::Pipe {
                ActionData {
                    link: a.link,
                    status: Some(if xf == 0.0 { stat::CLOSED } else { stat::OPEN }),
                    setting: MISSING,
                }
            } else {
                ActionData {
                    link: a.link,
                    status: None,
                    setting: xf,
                }
            }
        }
    }
}

fn premise_quantity(v: RuleVariable) -> Quantity {
    match v {
        RuleVariable::Demand | RuleVariable::Flow => Quantity::Flow,
        RuleVariable::Head | RuleVariable::Grade | RuleVariable::Level => Quantity::Length,
        RuleVariable::Pressure => Quantity::Pressure,
        RuleVariable::Power => Quantity::Power,
        _ => Quantity::None,
    }
}

/// The file-unit value of an SI link setting.
fn setting_file(net: &Network, ucf: &Ucf, k: usize, x: f64) -> f64 {
    match &net.links[k].kind {
        LinkKind::Valve(v) => ucf.file(v.kind.setting_quantity(), x),
        _ => x,
    }
}
