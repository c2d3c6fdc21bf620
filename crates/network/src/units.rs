//! Units of measure. The model holds SI (m, m³/s, m of water head, W);
//! an `.inp` file holds one of EPANET's unit sets, chosen by its flow units.
//!
//! Length and flow factors are the exact legal definitions (1 ft = 0.3048 m,
//! 1 US gal = 3.785411784 L, 1 imp gal = 4.54609 L). Pressure is stored as a
//! head of water in metres; converting psi or kPa to a head depends on water
//! density, and aquatwin follows EPANET's convention (1 ft of water =
//! 0.4333 psi × specific gravity, 1 psi = 6.895 kPa) so that a valve setting
//! means the same in both programs.

use serde::Serialize;

/// Flow units of an EPANET model (`[OPTIONS] UNITS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FlowUnits {
    Cfs,
    Gpm,
    Mgd,
    Imgd,
    Afd,
    Lps,
    Lpm,
    Mld,
    Cmh,
    Cmd,
    Cms,
}

impl FlowUnits {
    pub const ALL: [FlowUnits; 11] = [
        FlowUnits::Cfs,
        FlowUnits::Gpm,
        FlowUnits::Mgd,
        FlowUnits::Imgd,
        FlowUnits::Afd,
        FlowUnits::Lps,
        FlowUnits::Lpm,
        FlowUnits::Mld,
        FlowUnits::Cmh,
        FlowUnits::Cmd,
        FlowUnits::Cms,
    ];

    /// The `.inp` keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            FlowUnits::Cfs => "CFS",
            FlowUnits::Gpm => "GPM",
            FlowUnits::Mgd => "MGD",
            FlowUnits::Imgd => "IMGD",
            FlowUnits::Afd => "AFD",
            FlowUnits::Lps => "LPS",
            FlowUnits::Lpm => "LPM",
            FlowUnits::Mld => "MLD",
            FlowUnits::Cmh => "CMH",
            FlowUnits::Cmd => "CMD",
            FlowUnits::Cms => "CMS",
        }
    }

    pub fn from_keyword(s: &str) -> Option<FlowUnits> {
        FlowUnits::ALL
            .into_iter()
            .find(|u| u.keyword().eq_ignore_ascii_case(s))
    }

    /// Exact m³/s in one unit of this flow.
    pub fn m3s_per_unit(self) -> f64 {
        const FT3: f64 = 0.3048 * 0.3048 * 0.3048;
        const USGAL: f64 = 0.003785411784;
        const IMPGAL: f64 = 0.00454609;
        const ACRE_FT: f64 = 43560.0 * FT3;
        match self {
            FlowUnits::Cfs => FT3,
            FlowUnits::Gpm => USGAL / 60.0,
            FlowUnits::Mgd => 1.0e6 * USGAL / 86400.0,
            FlowUnits::Imgd => 1.0e6 * IMPGAL / 86400.0,
            FlowUnits::Afd => ACRE_FT / 86400.0,
            FlowUnits::Lps => 1.0e-3,
            FlowUnits::Lpm => 1.0e-3 / 60.0,
            FlowUnits::Mld => 1.0e3 / 86400.0,
            FlowUnits::Cmh => 1.0 / 3600.0,
            FlowUnits::Cmd => 1.0 / 86400.0,
            FlowUnits::Cms => 1.0,
        }
    }

    /// EPANET's own (rounded) number of these units in one ft³/s, which its
    /// engine uses internally. The solver needs it to reproduce EPANET's
    /// arithmetic; nothing user-facing uses it.
    pub fn epanet_units_per_cfs(self) -> f64 {
        match self {
            FlowUnits::Cfs => 1.0,
            FlowUnits::Gpm => 448.831,
            FlowUnits::Mgd => 0.64632,
            FlowUnits::Imgd => 0.5382,
            FlowUnits::Afd => 1.9837,
            FlowUnits::Lps => 28.317,
            FlowUnits::Lpm => 1699.0,
            FlowUnits::Mld => 2.4466,
            FlowUnits::Cmh => 101.94,
            FlowUnits::Cmd => 2446.6,
            FlowUnits::Cms => 0.028317,
        }
    }

    /// US customary units (ft, in, psi) or SI (m, mm, m or kPa).
    pub fn system(self) -> UnitSystem {
        match self {
            FlowUnits::Cfs | FlowUnits::Gpm | FlowUnits::Mgd | FlowUnits::Imgd | FlowUnits::Afd => {
                UnitSystem::Us
            }
            _ => UnitSystem::Si,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UnitSystem {
    Us,
    Si,
}

/// Pressure units (`[OPTIONS] PRESSURE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PressureUnits {
    Psi,
    Kpa,
    Meters,
    Bar,
    Feet,
}

impl PressureUnits {
    pub fn keyword(self) -> &'static str {
        match self {
            PressureUnits::Psi => "PSI",
            PressureUnits::Kpa => "KPA",
            PressureUnits::Meters => "METERS",
            PressureUnits::Bar => "BAR",
            PressureUnits::Feet => "FEET",
        }
    }
    pub fn from_keyword(s: &str) -> Option<PressureUnits> {
        [
            PressureUnits::Psi,
            PressureUnits::Kpa,
            PressureUnits::Meters,
            PressureUnits::Bar,
            PressureUnits::Feet,
        ]
        .into_iter()
        .find(|u| u.keyword().eq_ignore_ascii_case(s))
    }
}

/// Kinds of quantities found in an `.inp` file, each with its own factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Lengths, elevations, levels, heads: ft or m.
    Length,
    /// Pipe and valve diameters: in or mm.
    Diameter,
    /// Flow rates in the model's flow units.
    Flow,
    /// Pressures (valve settings, PDA pressures) in the pressure units.
    Pressure,
    /// Darcy-Weisbach roughness: millifeet or mm.
    DwRoughness,
    /// Tank volumes: ft³ or m³.
    Volume,
    /// Pump power: hp or kW.
    Power,
    /// Dimensionless: the factor is 1.
    None,
}

/// Conversion factors for one model, from its flow units, pressure units
/// and specific gravity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Units {
    pub flow: FlowUnits,
    pub pressure: PressureUnits,
    pub specific_gravity: f64,
}

impl Units {
    /// The pressure units EPANET actually uses for a given flow unit set and
    /// requested pressure units: US models always use psi; SI models replace
    /// psi by metres.
    pub fn effective_pressure(flow: FlowUnits, requested: PressureUnits) -> PressureUnits {
        match (flow.system(), requested) {
            (UnitSystem::Us, _) => PressureUnits::Psi,
            (UnitSystem::Si, PressureUnits::Psi) => PressureUnits::Meters,
            (UnitSystem::Si, p) => p,
        }
    }

    /// SI value of one file unit of `q`.
    pub fn factor(&self, q: Quantity) -> f64 {
        let us = self.flow.system() == UnitSystem::Us;
        match q {
            Quantity::Length => {
                if us {
                    0.3048
                } else {
                    1.0
                }
            }
            Quantity::Diameter => {
                if us {
                    0.0254
                } else {
                    0.001
                }
            }
            Quantity::Flow => self.flow.m3s_per_unit(),
            Quantity::Pressure => self.metres_per_pressure_unit(),
            Quantity::DwRoughness => {
                if us {
                    0.3048e-3
                } else {
                    1.0e-3
                }
            }
            Quantity::Volume => {
                if us {
                    0.3048 * 0.3048 * 0.3048
                } else {
                    1.0
                }
            }
            Quantity::Power => {
                if us {
                    745.699872
                } else {
                    1000.0
                }
            }
            Quantity::None => 1.0,
        }
    }

    /// Metres of water head per pressure unit (EPANET's convention).
    pub fn metres_per_pressure_unit(&self) -> f64 {
        const PSI_PER_FT: f64 = 0.4333;
        const KPA_PER_PSI: f64 = 6.895;
        let sg = self.specific_gravity;
        match Units::effective_pressure(self.flow, self.pressure) {
            PressureUnits::Psi => 0.3048 / (PSI_PER_FT * sg),
            PressureUnits::Kpa => 0.3048 / (KPA_PER_PSI * PSI_PER_FT * sg),
            PressureUnits::Bar => 0.3048 / (0.01 * KPA_PER_PSI * PSI_PER_FT * sg),
            PressureUnits::Meters => 1.0 / sg,
            PressureUnits::Feet => 0.3048 / sg,
        }
    }

    pub fn to_si(&self, q: Quantity, v: f64) -> f64 {
        v * self.factor(q)
    }

    /// File-unit value of SI value `si`, chosen so that reading it back with
    /// [`Units::to_si`] gives `si` again bit for bit whenever such a value
    /// exists next to the plain quotient (it does for every value this crate
    /// read from a file).
    pub fn from_si(&self, q: Quantity, si: f64) -> f64 {
        from_si_with(self.factor(q), si)
    }
}

/// File-unit value `v` such that `v * f == si` exactly, when one lies within a
/// few ulps of `si / f` (always, for values that were read as `v * f`).
pub fn from_si_with(f: f64, si: f64) -> f64 {
    if f == 1.0 || !si.is_finite() {
        return si;
    }
    let guess = si / f;
    // Prefer the shortest decimal that maps back exactly (what a person wrote).
    for digits in 1..=16 {
        if let Ok(v) = format!("{guess:.*e}", digits - 1).parse::<f64>() {
            if v * f == si {
                return v;
            }
        }
    }
    if guess * f == si {
        return guess;
    }
    let mut lo = guess;
    let mut hi = guess;
    for _ in 0..8 {
        lo = next_down(lo);
        hi = next_up(hi);
        if lo * f == si {
            return lo;
        }
        if hi * f == si {
            return hi;
        }
    }
    guess
}

fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let b = x.to_bits();
    f64::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_factors_are_exact_definitions() {
        assert_eq!(FlowUnits::Lps.m3s_per_unit(), 0.001);
        assert!((FlowUnits::Gpm.m3s_per_unit() - 6.30901964e-5).abs() < 1e-15);
        assert!((FlowUnits::Cfs.m3s_per_unit() - 0.028316846592).abs() < 1e-15);
        // EPANET's rounded factor agrees with the exact one to 1e-5
        for u in FlowUnits::ALL {
            let epanet = FlowUnits::Cfs.m3s_per_unit() / u.epanet_units_per_cfs();
            assert!((epanet / u.m3s_per_unit() - 1.0).abs() < 2e-4, "{u:?}");
        }
    }

    #[test]
    fn from_si_round_trips_bit_for_bit() {
        let u = Units {
            flow: FlowUnits::Gpm,
            pressure: PressureUnits::Psi,
            specific_gravity: 1.0,
        };
        for q in [
            Quantity::Length,
            Quantity::Diameter,
            Quantity::Flow,
            Quantity::Pressure,
        ] {
            for s in ["0.1", "12.7", "1e-7", "330", "65.123456789", "7"] {
                let v: f64 = s.parse().unwrap();
                let si = u.to_si(q, v);
                let back = u.from_si(q, si);
                assert_eq!(u.to_si(q, back), si, "{q:?} {s}");
            }
        }
    }

    #[test]
    fn pressure_units_follow_the_unit_system() {
        assert_eq!(
            Units::effective_pressure(FlowUnits::Gpm, PressureUnits::Meters),
            PressureUnits::Psi
        );
        assert_eq!(
            Units::effective_pressure(FlowUnits::Lps, PressureUnits::Psi),
            PressureUnits::Meters
        );
        assert_eq!(
            Units::effective_pressure(FlowUnits::Lps, PressureUnits::Kpa),
            PressureUnits::Kpa
        );
    }
}
