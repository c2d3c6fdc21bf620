//! Nodes: junctions (with demand categories and emitters), reservoirs and tanks.

use serde::Serialize;

/// Index of a node in [`crate::Network::nodes`].
pub type NodeIdx = usize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub id: String,
    /// Elevation, m.
    pub elevation: f64,
    pub kind: NodeKind,
    /// Initial water quality (`[QUALITY]`), in the model's concentration units.
    pub initial_quality: f64,
    /// Water-quality source (`[SOURCES]`).
    pub source: Option<Source>,
    pub comment: Option<String>,
    pub tag: Option<String>,
    pub coordinates: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum NodeKind {
    Junction(Junction),
    Reservoir(Reservoir),
    Tank(Tank),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Junction {
    /// Demand categories; the first is the one written in `[JUNCTIONS]`.
    pub demands: Vec<Demand>,
    /// Emitter coefficient, m³/s per m^exponent of pressure head.
    pub emitter_coefficient: f64,
}

/// One demand category: base demand (m³/s) times a time pattern.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Demand {
    pub base: f64,
    /// Index into [`crate::Network::patterns`]; `None` means the model's
    /// default demand pattern (see [`crate::Options::default_pattern`]).
    pub pattern: Option<usize>,
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reservoir {
    /// Head multiplier pattern.
    pub head_pattern: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tank {
    /// Levels above the tank bottom (= elevation), m.
    pub initial_level: f64,
    pub min_level: f64,
    pub max_level: f64,
    /// Nominal diameter, m.
    pub diameter: f64,
    /// Volume below the minimum level, m³.
    pub min_volume: f64,
    /// Volume curve (level in file length units → volume in file volume units).
    pub volume_curve: Option<usize>,
    pub can_overflow: bool,
    pub mixing: Mixing,
    /// Bulk reaction coefficient from `[REACTIONS] TANK`, if given.
    pub bulk_coefficient: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum MixingModel {
    Mixed,
    TwoComp,
    Fifo,
    Lifo,
}

impl MixingModel {
    pub fn keyword(self) -> &'static str {
        match self {
            MixingModel::Mixed => "MIXED",
            MixingModel::TwoComp => "2COMP",
            MixingModel::Fifo => "FIFO",
            MixingModel::Lifo => "LIFO",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mixing {
    pub model: MixingModel,
    /// Mixing compartment volume fraction (2COMP).
    pub fraction: f64,
}

impl Default for Mixing {
    fn default() -> Self {
        Mixing {
            model: MixingModel::Mixed,
            fraction: 1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum SourceType {
    Concen,
    Mass,
    Setpoint,
    FlowPaced,
}

impl SourceType {
    pub fn keyword(self) -> &'static str {
        match self {
            SourceType::Concen => "CONCEN",
            SourceType::Mass => "MASS",
            SourceType::Setpoint => "SETPOINT",
            SourceType::FlowPaced => "FLOWPACED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    pub kind: SourceType,
    pub strength: f64,
    pub pattern: Option<usize>,
}

impl Node {
    pub fn is_junction(&self) -> bool {
        matches!(self.kind, NodeKind::Junction(_))
    }
    pub fn is_tank(&self) -> bool {
        matches!(self.kind, NodeKind::Tank(_))
    }
    pub fn is_reservoir(&self) -> bool {
        matches!(self.kind, NodeKind::Reservoir(_))
    }
    /// Tanks and reservoirs: nodes whose head is known at the start of a step.
    pub fn is_fixed_head(&self) -> bool {
        !self.is_junction()
    }
    pub fn junction(&self) -> Option<&Junction> {
        match &self.kind {
            NodeKind::Junction(j) => Some(j),
            _ => None,
        }
    }
    pub fn tank(&self) -> Option<&Tank> {
        match &self.kind {
            NodeKind::Tank(t) => Some(t),
            _ => None,
        }
    }
}
