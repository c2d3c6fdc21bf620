//! Units a sensor may report in, and their conversion to the model's SI
//! units: metres of water head for pressure, m³/s for flow and demand,
//! metres for tank level.
//!
//! Pressure-to-head follows the convention of the `network` crate (EPANET's):
//! 1 ft of water = 0.4333 psi, 1 psi = 6.895 kPa, specific gravity 1.

use crate::sensor_map::Kind;

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Length,
    Pressure,
    Flow,
}

/// A unit of measure; its SI counterpart is m (length, head) or m³/s (flow).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    pub name: &'static str,
    pub dimension: Dimension,
    /// SI value = reading × factor.
    pub factor: f64,
}

const M_PER_PSI: f64 = 0.3048 / 0.4333;
const M_PER_KPA: f64 = M_PER_PSI / 6.895;

/// Every known unit, with the spellings accepted in sensor maps.
const UNITS: &[(&[&str], Dimension, f64)] = &[
    (&["m", "mH2O", "m_H2O"], Dimension::Length, 1.0),
    (&["cm"], Dimension::Length, 0.01),
    (&["ft", "ftH2O"], Dimension::Length, 0.3048),
    (&["kPa"], Dimension::Pressure, M_PER_KPA),
    (&["bar"], Dimension::Pressure, 100.0 * M_PER_KPA),
    (&["mbar"], Dimension::Pressure, 0.1 * M_PER_KPA),
    (&["psi"], Dimension::Pressure, M_PER_PSI),
    (&["m3/s", "m³/s", "CMS"], Dimension::Flow, 1.0),
    (&["m3/h", "m³/h", "CMH"], Dimension::Flow, 1.0 / 3600.0),
    (&["m3/d", "m³/d", "CMD"], Dimension::Flow, 1.0 / 86_400.0),
    (&["L/s", "l/s", "LPS"], Dimension::Flow, 1e-3),
    (&["L/min", "l/min", "LPM"], Dimension::Flow, 1e-3 / 60.0),
    (&["L/h", "l/h"], Dimension::Flow, 1e-3 / 3600.0),
    (&["gpm", "GPM"], Dimension::Flow, 3.785411784e-3 / 60.0),
    (&["MGD"], Dimension::Flow, 3.785411784e3 / 86_400.0),
];

impl Unit {
    /// Looks a unit up by name (case-sensitive: `m` is not `M`).
    pub fn parse(s: &str) -> Option<Unit> {
        UNITS.iter().find_map(|(names, dim, f)| {
            names.contains(&s).then(|| Unit {
                name: names[0],
                dimension: *dim,
                factor: *f,
            })
        })
    }

    pub fn to_si(self, v: f64) -> f64 {
        v * self.factor
    }
    pub fn from_si(self, v: f64) -> f64 {
        v / self.factor
    }

    /// Whether this unit can express what a sensor of `kind` measures.
    pub fn fits(self, kind: Kind) -> bool {
        match kind {
            Kind::Pressure => matches!(self.dimension, Dimension::Length | Dimension::Pressure),
            Kind::TankLevel => self.dimension == Dimension::Length,
            Kind::Flow | Kind::Demand => self.dimension == Dimension::Flow,
        }
    }

    pub fn known_names() -> Vec<&'static str> {
        UNITS
            .iter()
            .flat_map(|(n, _, _)| n.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let cmh = Unit::parse("m³/h").unwrap();
        assert!((cmh.to_si(3600.0) - 1.0).abs() < 1e-12);
        let lh = Unit::parse("L/h").unwrap();
        assert!((lh.to_si(3.6e6) - 1.0).abs() < 1e-12);
        let psi = Unit::parse("psi").unwrap();
        assert!((psi.to_si(0.4333) - 0.3048).abs() < 1e-12);
        assert!(Unit::parse("furlongs").is_none());
        assert!(Unit::parse("bar").unwrap().fits(Kind::Pressure));
        assert!(!Unit::parse("bar").unwrap().fits(Kind::TankLevel));
    }
}
