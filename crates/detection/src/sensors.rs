//! The sensors a scenario writes and the detector reads: which node or link
//! each measures, which SCADA file and column holds it, and its valid range.
//! Parsing the sensor-map file is the caller's job; this is plain data.

use network::{LinkIdx, Network, NodeIdx};
use serde::Serialize;

/// What a sensor measures (the workspace's one sensor-kind type).
pub use hydraulics::SensorKind;

/// The BattLeDIM SCADA file of a kind (`SCADA_Pressures.csv`, …).
pub fn scada_file(kind: SensorKind) -> &'static str {
    match kind {
        SensorKind::Pressure => "SCADA_Pressures.csv",
        SensorKind::Flow => "SCADA_Flows.csv",
        SensorKind::TankLevel => "SCADA_Levels.csv",
        SensorKind::Demand => "SCADA_Demands.csv",
    }
}

/// The unit detection reads a kind in: pressure and tank level in m, flow
/// in m³/h, demand in L/h (BattLeDIM's).
pub fn unit(kind: SensorKind) -> &'static str {
    match kind {
        SensorKind::Pressure | SensorKind::TankLevel => "m",
        SensorKind::Flow => "m3/h",
        SensorKind::Demand => "L/h",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensor {
    pub kind: SensorKind,
    /// Column name in the SCADA file.
    pub column: String,
    /// Node (pressure, level, demand) or link (flow) ID.
    pub element: String,
    /// Valid range of readings, in the sensor's unit.
    pub range: Option<(f64, f64)>,
}

/// The BattLeDIM 2020 L-Town sensors (33 pressure, 3 flow, 1 tank level,
/// 82 AMR demand meters), hard-coded from the sensor list published with the
/// challenge (the same set as `sensors/ltown-battledim.toml`). Used when no
/// sensor map is given.
pub const BATTLEDIM_LTOWN_PRESSURE: &[&str] = &[
    "n1", "n4", "n31", "n54", "n105", "n114", "n163", "n188", "n215", "n229", "n288", "n296",
    "n332", "n342", "n410", "n415", "n429", "n458", "n469", "n495", "n506", "n516", "n519", "n549",
    "n613", "n636", "n644", "n679", "n722", "n726", "n740", "n752", "n769",
];
pub const BATTLEDIM_LTOWN_FLOW: &[&str] = &["PUMP_1", "p227", "p235"];
pub const BATTLEDIM_LTOWN_LEVEL: &[&str] = &["T1"];
pub const BATTLEDIM_LTOWN_DEMAND: &[&str] = &[
    "n1", "n2", "n3", "n4", "n6", "n7", "n8", "n9", "n10", "n11", "n13", "n16", "n17", "n18",
    "n19", "n20", "n21", "n22", "n23", "n24", "n25", "n26", "n27", "n28", "n29", "n30", "n31",
    "n32", "n33", "n34", "n35", "n36", "n39", "n40", "n41", "n42", "n43", "n44", "n45", "n343",
    "n344", "n345", "n346", "n347", "n349", "n350", "n351", "n352", "n353", "n354", "n355", "n356",
    "n357", "n358", "n360", "n361", "n362", "n364", "n365", "n366", "n367", "n368", "n369", "n370",
    "n371", "n372", "n373", "n374", "n375", "n376", "n377", "n378", "n379", "n381", "n382", "n383",
    "n384", "n385", "n386", "n387", "n388", "n389",
];

/// A set of sensors.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SensorSet {
    pub sensors: Vec<Sensor>,
}

impl SensorSet {
    /// The BattLeDIM L-Town set (see [`BATTLEDIM_LTOWN_PRESSURE`]).
    pub fn battledim_ltown() -> SensorSet {
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
        add(
            SensorKind::Pressure,
            BATTLEDIM_LTOWN_PRESSURE,
            Some((0.0, 150.0)),
        );
        add(
            SensorKind::Flow,
            BATTLEDIM_LTOWN_FLOW,
            Some((-1000.0, 1000.0)),
        );
        add(
            SensorKind::TankLevel,
            BATTLEDIM_LTOWN_LEVEL,
            Some((0.0, 10.0)),
        );
        add(
            SensorKind::Demand,
            BATTLEDIM_LTOWN_DEMAND,
            Some((0.0, 20000.0)),
        );
        SensorSet { sensors: s }
    }

    pub fn of_kind(&self, kind: SensorKind) -> impl Iterator<Item = &Sensor> {
        self.sensors.iter().filter(move |s| s.kind == kind)
    }

    /// Checks every sensor against the network: nodes exist (and tanks for
    /// levels), links exist. Returns one message per mismatch.
    pub fn check(&self, net: &Network) -> Vec<String> {
        let mut errs = Vec::new();
        for s in &self.sensors {
            match s.kind {
                SensorKind::Flow => {
                    if net.link_index(&s.element).is_none() {
                        errs.push(format!(
                            "flow sensor '{}' measures link '{}', which the network does not have",
                            s.column, s.element
                        ));
                    }
                }
                SensorKind::TankLevel => match net.node_index(&s.element) {
                    Some(i) if net.nodes[i].is_tank() => {}
                    Some(_) => errs.push(format!(
                        "level sensor '{}' is on node '{}', which is not a tank",
                        s.column, s.element
                    )),
                    None => errs.push(format!(
                        "level sensor '{}' measures tank '{}', which the network does not have",
                        s.column, s.element
                    )),
                },
                SensorKind::Pressure | SensorKind::Demand => match net.node_index(&s.element) {
                    Some(i) if s.kind == SensorKind::Demand && !net.nodes[i].is_junction() => errs
                        .push(format!(
                            "demand sensor '{}' is on node '{}', which is not a junction",
                            s.column, s.element
                        )),
                    Some(_) => {}
                    None => errs.push(format!(
                        "{:?} sensor '{}' measures node '{}', which the network does not have",
                        s.kind, s.column, s.element
                    )),
                },
            }
        }
        errs
    }

    pub fn node(&self, net: &Network, s: &Sensor) -> Option<NodeIdx> {
        net.node_index(&s.element)
    }
    pub fn link(&self, net: &Network, s: &Sensor) -> Option<LinkIdx> {
        net.link_index(&s.element)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ltown_set_sizes() {
        let s = SensorSet::battledim_ltown();
        assert_eq!(s.of_kind(SensorKind::Pressure).count(), 33);
        assert_eq!(s.of_kind(SensorKind::Flow).count(), 3);
        assert_eq!(s.of_kind(SensorKind::TankLevel).count(), 1);
        assert_eq!(s.of_kind(SensorKind::Demand).count(), 82);
    }

    #[test]
    fn mismatches_are_named() {
        let net = crate::netedit::tests::small();
        let s = SensorSet {
            sensors: vec![
                Sensor {
                    kind: SensorKind::Pressure,
                    column: "x".into(),
                    element: "NOPE".into(),
                    range: None,
                },
                Sensor {
                    kind: SensorKind::TankLevel,
                    column: "J1".into(),
                    element: "J1".into(),
                    range: None,
                },
            ],
        };
        let e = s.check(&net);
        assert_eq!(e.len(), 2);
        assert!(e[0].contains("NOPE") && e[1].contains("not a tank"));
    }
}
