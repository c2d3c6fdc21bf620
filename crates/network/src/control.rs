//! Simple controls (`[CONTROLS]`) and rule-based controls (`[RULES]`).
//! Values are in SI: levels and pressures as m of head, flows in m³/s,
//! times in seconds.

use crate::link::{LinkIdx, LinkStatus};
use crate::node::NodeIdx;
use serde::Serialize;

/// What a control or rule action does to a link.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum LinkAction {
    Status(LinkStatus),
    /// A numeric setting: pump speed, valve setting (SI) or, for a pipe,
    /// 0 = closed and anything else open.
    Setting(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum ControlCondition {
    /// Seconds after the simulation starts.
    AtTime(u64),
    /// Seconds after midnight.
    AtClockTime(u64),
    /// Node pressure head (junction) or level (tank) above a value, m.
    NodeAbove(NodeIdx, f64),
    NodeBelow(NodeIdx, f64),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Control {
    pub link: LinkIdx,
    pub action: LinkAction,
    pub condition: ControlCondition,
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RuleObject {
    Node(NodeIdx),
    Link(LinkIdx),
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RuleVariable {
    Demand,
    Head,
    Grade,
    Level,
    Pressure,
    Flow,
    Status,
    Setting,
    Power,
    Time,
    ClockTime,
    FillTime,
    DrainTime,
}

impl RuleVariable {
    pub const ALL: [RuleVariable; 13] = [
        RuleVariable::Demand,
        RuleVariable::Head,
        RuleVariable::Grade,
        RuleVariable::Level,
        RuleVariable::Pressure,
        RuleVariable::Flow,
        RuleVariable::Status,
        RuleVariable::Setting,
        RuleVariable::Power,
        RuleVariable::Time,
        RuleVariable::ClockTime,
        RuleVariable::FillTime,
        RuleVariable::DrainTime,
    ];
    pub fn keyword(self) -> &'static str {
        match self {
            RuleVariable::Demand => "DEMAND",
            RuleVariable::Head => "HEAD",
            RuleVariable::Grade => "GRADE",
            RuleVariable::Level => "LEVEL",
            RuleVariable::Pressure => "PRESSURE",
            RuleVariable::Flow => "FLOW",
            RuleVariable::Status => "STATUS",
            RuleVariable::Setting => "SETTING",
            RuleVariable::Power => "POWER",
            RuleVariable::Time => "TIME",
            RuleVariable::ClockTime => "CLOCKTIME",
            RuleVariable::FillTime => "FILLTIME",
            RuleVariable::DrainTime => "DRAINTIME",
        }
    }
    pub fn from_keyword(s: &str) -> Option<RuleVariable> {
        RuleVariable::ALL
            .into_iter()
            .find(|v| v.keyword().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RelOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl RelOp {
    pub fn symbol(self) -> &'static str {
        match self {
            RelOp::Eq => "=",
            RelOp::Ne => "<>",
            RelOp::Lt => "<",
            RelOp::Gt => ">",
            RelOp::Le => "<=",
            RelOp::Ge => ">=",
        }
    }
    /// Accepts symbols and EPANET's words (IS, NOT, BELOW, ABOVE).
    pub fn parse(s: &str) -> Option<RelOp> {
        Some(match s.to_ascii_uppercase().as_str() {
            "=" | "IS" => RelOp::Eq,
            "<>" | "NOT" => RelOp::Ne,
            "<" | "BELOW" => RelOp::Lt,
            ">" | "ABOVE" => RelOp::Gt,
            "<=" => RelOp::Le,
            ">=" => RelOp::Ge,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum RuleValue {
    /// SI number (see [`RuleVariable`] for which unit); times in seconds,
    /// fill/drain times in seconds.
    Number(f64),
    Status(LinkStatus),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Conjunction {
    /// The first premise (`IF`).
    If,
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Premise {
    pub conjunction: Conjunction,
    pub object: RuleObject,
    pub variable: RuleVariable,
    pub op: RelOp,
    pub value: RuleValue,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleAction {
    pub link: LinkIdx,
    pub action: LinkAction,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub id: String,
    pub premises: Vec<Premise>,
    pub then_actions: Vec<RuleAction>,
    pub else_actions: Vec<RuleAction>,
    pub priority: Option<f64>,
    pub enabled: bool,
}
