//! What a sensor can measure on a simulated network: the quantities a
//! [`Simulation`](crate::Simulation) reports that a field instrument also
//! reads. The one sensor-kind type of the workspace: telemetry's sensor maps
//! and simulated field, and detection's sensor sets, both use it (neither
//! crate may import the other; both sit on `hydraulics`).

use serde::{Deserialize, Serialize};

/// What a sensor measures. Spelled in snake case in files (`pressure`,
/// `flow`, `tank_level`, `demand`; `level` is read as `tank_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorKind {
    /// Pressure head at a node.
    Pressure,
    /// Flow through a link (or out of a node).
    Flow,
    /// Level of a tank above its bottom.
    #[serde(alias = "level")]
    TankLevel,
    /// Consumer demand at a node, e.g. an AMR meter.
    Demand,
}

impl SensorKind {
    pub const ALL: [SensorKind; 4] = [
        SensorKind::Pressure,
        SensorKind::Flow,
        SensorKind::TankLevel,
        SensorKind::Demand,
    ];

    /// The file spelling: `pressure`, `flow`, `tank_level`, `demand`.
    pub fn name(self) -> &'static str {
        match self {
            SensorKind::Pressure => "pressure",
            SensorKind::Flow => "flow",
            SensorKind::TankLevel => "tank_level",
            SensorKind::Demand => "demand",
        }
    }
}
