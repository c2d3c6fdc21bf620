//! The BattLeDIM 2020 L-Town sensor set (the challenge's published SCADA
//! and AMR sensors).

use detection::sensors::{Sensor, SensorKind, SensorSet};

/// The BattLeDIM 2020 L-Town sensors (33 pressure, 3 flow, 1 tank level,
/// 82 AMR demand meters), hard-coded from the sensor list published with the
/// challenge (the same set as `sensors/ltown-battledim.toml`). `aquatwin detect`
/// and `scenario` use it when no sensor map is given.
pub const PRESSURE: &[&str] = &[
    "n1", "n4", "n31", "n54", "n105", "n114", "n163", "n188", "n215", "n229", "n288", "n296",
    "n332", "n342", "n410", "n415", "n429", "n458", "n469", "n495", "n506", "n516", "n519", "n549",
    "n613", "n636", "n644", "n679", "n722", "n726", "n740", "n752", "n769",
];
pub const FLOW: &[&str] = &["PUMP_1", "p227", "p235"];
pub const LEVEL: &[&str] = &["T1"];
pub const DEMAND: &[&str] = &[
    "n1", "n2", "n3", "n4", "n6", "n7", "n8", "n9", "n10", "n11", "n13", "n16", "n17", "n18",
    "n19", "n20", "n21", "n22", "n23", "n24", "n25", "n26", "n27", "n28", "n29", "n30", "n31",
    "n32", "n33", "n34", "n35", "n36", "n39", "n40", "n41", "n42", "n43", "n44", "n45", "n343",
    "n344", "n345", "n346", "n347", "n349", "n350", "n351", "n352", "n353", "n354", "n355", "n356",
    "n357", "n358", "n360", "n361", "n362", "n364", "n365", "n366", "n367", "n368", "n369", "n370",
    "n371", "n372", "n373", "n374", "n375", "n376", "n377", "n378", "n379", "n381", "n382", "n383",
    "n384", "n385", "n386", "n387", "n388", "n389",
];

/// The BattLeDIM L-Town set as detection's [`SensorSet`] (ranges in
/// detection's units: m, m³/h, L/h).
pub fn sensor_set() -> SensorSet {
    let mut s = Vec::new();
    let mut add = |kind, ids: &[&str], range| {
        for id in ids {
            s.push(Sensor {
                kind,
                column: id.to_string(),
                element: id.to_string(),
                range,
            })
        }
    };
    add(SensorKind::Pressure, PRESSURE, Some((0.0, 150.0)));
    add(SensorKind::Flow, FLOW, Some((-1000.0, 1000.0)));
    add(SensorKind::TankLevel, LEVEL, Some((0.0, 10.0)));
    add(SensorKind::Demand, DEMAND, Some((0.0, 20000.0)));
    SensorSet { sensors: s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ltown_set_sizes() {
        let s = sensor_set();
        assert_eq!(s.of_kind(SensorKind::Pressure).count(), 33);
        assert_eq!(s.of_kind(SensorKind::Flow).count(), 3);
        assert_eq!(s.of_kind(SensorKind::TankLevel).count(), 1);
        assert_eq!(s.of_kind(SensorKind::Demand).count(), 82);
    }
}
