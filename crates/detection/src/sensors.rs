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

/// A set of sensors.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SensorSet {
    pub sensors: Vec<Sensor>,
}

impl SensorSet {
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
