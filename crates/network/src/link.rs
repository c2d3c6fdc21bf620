//! Links: pipes (with check valves and EPANET 2.3 leakage), pumps and valves.

use crate::node::NodeIdx;
use serde::Serialize;

/// Index of a link in [`crate::Network::links`].
pub type LinkIdx = usize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub id: String,
    pub from: NodeIdx,
    pub to: NodeIdx,
    pub kind: LinkKind,
    /// Initial status: from `[PIPES]`'s status column or `[STATUS]`.
    pub initial_status: LinkStatus,
    pub comment: Option<String>,
    pub tag: Option<String>,
    /// Intermediate map points (`[VERTICES]`).
    pub vertices: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LinkStatus {
    Open,
    Closed,
    /// A control valve regulating (the default for PRV/PSV/PBV/FCV/TCV/PCV).
    Active,
}

impl LinkStatus {
    pub fn keyword(self) -> &'static str {
        match self {
            LinkStatus::Open => "OPEN",
            LinkStatus::Closed => "CLOSED",
            LinkStatus::Active => "ACTIVE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum LinkKind {
    Pipe(Pipe),
    Pump(Pump),
    Valve(Valve),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipe {
    /// m.
    pub length: f64,
    /// m.
    pub diameter: f64,
    /// Hazen-Williams C, Darcy-Weisbach ε (m) or Manning n, per the model's formula.
    pub roughness: f64,
    pub minor_loss: f64,
    pub check_valve: bool,
    /// EPANET 2.3 `[LEAKAGE]`: leak area (mm² per 100 m of pipe) and its expansion rate.
    pub leak_area: f64,
    pub leak_expansion: f64,
    /// `[REACTIONS] BULK/WALL` coefficients, when given for this pipe.
    pub bulk_coefficient: Option<f64>,
    pub wall_coefficient: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pump {
    /// Constant power, W (`POWER`).
    pub power: Option<f64>,
    /// Head curve (`HEAD`), in file flow and length units.
    pub head_curve: Option<usize>,
    /// Relative speed (`SPEED`, or a numeric `[STATUS]` setting).
    pub speed: f64,
    /// Speed/status pattern (`PATTERN`).
    pub pattern: Option<usize>,
    /// `[ENERGY] PUMP id EFFIC/PRICE/PATTERN`.
    pub efficiency_curve: Option<usize>,
    pub energy_price: Option<f64>,
    pub price_pattern: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ValveType {
    Prv,
    Psv,
    Pbv,
    Fcv,
    Tcv,
    Gpv,
    Pcv,
}

impl ValveType {
    pub const ALL: [ValveType; 7] = [
        ValveType::Prv,
        ValveType::Psv,
        ValveType::Pbv,
        ValveType::Fcv,
        ValveType::Tcv,
        ValveType::Gpv,
        ValveType::Pcv,
    ];
    pub fn keyword(self) -> &'static str {
        match self {
            ValveType::Prv => "PRV",
            ValveType::Psv => "PSV",
            ValveType::Pbv => "PBV",
            ValveType::Fcv => "FCV",
            ValveType::Tcv => "TCV",
            ValveType::Gpv => "GPV",
            ValveType::Pcv => "PCV",
        }
    }
    pub fn from_keyword(s: &str) -> Option<ValveType> {
        ValveType::ALL
            .into_iter()
            .find(|v| v.keyword().eq_ignore_ascii_case(s))
    }
    /// What the valve's setting measures.
    pub fn setting_quantity(self) -> crate::units::Quantity {
        use crate::units::Quantity;
        match self {
            ValveType::Prv | ValveType::Psv | ValveType::Pbv => Quantity::Pressure,
            ValveType::Fcv => Quantity::Flow,
            ValveType::Tcv | ValveType::Gpv | ValveType::Pcv => Quantity::None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Valve {
    pub kind: ValveType,
    /// m.
    pub diameter: f64,
    /// Pressure head (m) for PRV/PSV/PBV, flow (m³/s) for FCV, loss
    /// coefficient for TCV, percent open for PCV; unused for GPV.
    pub setting: f64,
    pub minor_loss: f64,
    /// GPV head-loss curve or PCV characteristic curve.
    pub curve: Option<usize>,
}

impl Link {
    pub fn pipe(&self) -> Option<&Pipe> {
        match &self.kind {
            LinkKind::Pipe(p) => Some(p),
            _ => None,
        }
    }
    pub fn pump(&self) -> Option<&Pump> {
        match &self.kind {
            LinkKind::Pump(p) => Some(p),
            _ => None,
        }
    }
    pub fn valve(&self) -> Option<&Valve> {
        match &self.kind {
            LinkKind::Valve(v) => Some(v),
            _ => None,
        }
    }
    pub fn is_pipe(&self) -> bool {
        matches!(self.kind, LinkKind::Pipe(_))
    }
}
