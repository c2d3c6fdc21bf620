//! EPANET's internal units and its own (rounded) conversion factors.
//!
//! EPANET computes in ft and cfs and converts input with factors such as
//! 448.831 gpm per cfs or 0.4333 psi per ft. To reproduce its results the
//! solver converts each SI model value back to the file's units (exactly)
//! and then applies EPANET's factor; results go back the same way.

use network::{FlowUnits, PressureUnits, Quantity, UnitSystem, Units};

pub const MPERFT: f64 = 0.3048;
pub const PSIPERFT: f64 = 0.4333;
pub const KPAPERPSI: f64 = 6.895;
pub const KWPERHP: f64 = 0.7457;

/// File-unit values per internal unit (EPANET's `Ucf` array).
#[derive(Debug, Clone, Copy)]
pub struct Ucf {
    pub file: Units,
    pub flow: f64,
    pub head: f64,
    pub pressure: f64,
    pub volume: f64,
    pub diam: f64,
    pub power: f64,
}

impl Ucf {
    pub fn new(file: Units) -> Ucf {
        let si = file.flow.system() == UnitSystem::Si;
        let sg = file.specific_gravity;
        let pressure = match Units::effective_pressure(file.flow, file.pressure) {
            PressureUnits::Psi => PSIPERFT * sg,
            PressureUnits::Kpa => KPAPERPSI * PSIPERFT * sg,
            PressureUnits::Bar => 0.01 * KPAPERPSI * PSIPERFT * sg,
            PressureUnits::Meters => MPERFT * sg,
            PressureUnits::Feet => sg,
        };
        Ucf {
            file,
            flow: file.flow.epanet_units_per_cfs(),
            head: if si { MPERFT } else { 1.0 },
            pressure,
            // EPANET 2.2+ converts volumes with MperFT³ exactly (2.0 used a
            // rounded 0.028317 m³ per ft³, which moves tank fill times).
            volume: if si { MPERFT * MPERFT * MPERFT } else { 1.0 },
            diam: if si { 1000.0 * MPERFT } else { 12.0 },
            power: if si { KWPERHP } else { 1.0 },
        }
    }

    /// The file-unit value of an SI model value.
    pub fn file(&self, q: Quantity, si: f64) -> f64 {
        file_value(self.file.factor(q), si)
    }

    /// Internal (EPANET) value of an SI model value.
    pub fn internal(&self, q: Quantity, si: f64) -> f64 {
        let f = self.file(q, si);
        match q {
            Quantity::Length => f / self.head,
            Quantity::Diameter => f / self.diam,
            Quantity::Flow => f / self.flow,
            Quantity::Pressure => f / self.pressure,
            Quantity::Volume => f / self.volume,
            Quantity::Power => f / self.power,
            Quantity::DwRoughness => {
                // millifeet or mm → ft
                if self.file.flow.system() == UnitSystem::Si {
                    f / (1000.0 * MPERFT)
                } else {
                    f / 1000.0
                }
            }
            Quantity::None => f,
        }
    }

    /// Internal head/length (ft) → m.
    pub fn head_m(&self, ft: f64) -> f64 {
        self.file.to_si(Quantity::Length, ft * self.head)
    }

    /// Internal flow (cfs) → m³/s.
    pub fn flow_m3s(&self, cfs: f64) -> f64 {
        self.file.to_si(Quantity::Flow, cfs * self.flow)
    }

    /// Internal pressure head (ft) → m of head.
    pub fn pressure_m(&self, ft: f64) -> f64 {
        self.file.to_si(Quantity::Pressure, ft * self.pressure)
    }

    pub fn flow_units(&self) -> FlowUnits {
        self.file.flow
    }
}

/// A file-unit value `v` with `v * f == si` (any such value: they differ
/// by an ulp at most, far below what the solver resolves). Cheaper than
/// the writer's search for the shortest decimal.
fn file_value(f: f64, si: f64) -> f64 {
    if f == 1.0 {
        return si;
    }
    let guess = si / f;
    if guess * f == si {
        return guess;
    }
    let up = f64::from_bits(guess.to_bits().wrapping_add(1));
    if up * f == si {
        return up;
    }
    let down = f64::from_bits(guess.to_bits().wrapping_sub(1));
    if down * f == si {
        return down;
    }
    guess
}
