//! Analysis options (`[OPTIONS]`), times (`[TIMES]`), energy (`[ENERGY]`),
//! reactions (`[REACTIONS]`) and report settings (`[REPORT]`), with EPANET's
//! defaults.

use crate::units::{FlowUnits, PressureUnits};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HeadlossFormula {
    HazenWilliams,
    DarcyWeisbach,
    ChezyManning,
}

impl HeadlossFormula {
    pub fn keyword(self) -> &'static str {
        match self {
            HeadlossFormula::HazenWilliams => "H-W",
            HeadlossFormula::DarcyWeisbach => "D-W",
            HeadlossFormula::ChezyManning => "C-M",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DemandModel {
    Dda,
    Pda,
}

impl DemandModel {
    pub fn keyword(self) -> &'static str {
        match self {
            DemandModel::Dda => "DDA",
            DemandModel::Pda => "PDA",
        }
    }
}

/// `UNBALANCED STOP` or `UNBALANCED CONTINUE n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unbalanced {
    Stop,
    /// Continue with this many extra trials (0 = continue without them).
    Continue(u32),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum QualityMode {
    None,
    Age,
    Chemical { name: String, units: String },
    Trace { node: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Options {
    pub flow_units: FlowUnits,
    /// Pressure units as written in the file (EPANET forces psi for US units).
    pub pressure_units: PressureUnits,
    pub headloss: HeadlossFormula,
    /// Kinematic viscosity relative to water at 20 °C.
    pub viscosity: f64,
    pub specific_gravity: f64,
    pub trials: u32,
    pub accuracy: f64,
    pub unbalanced: Unbalanced,
    /// ID of the default demand pattern (EPANET's default is "1").
    pub default_pattern: String,
    pub demand_multiplier: f64,
    pub emitter_exponent: f64,
    pub demand_model: DemandModel,
    /// PDA pressures, m of head.
    pub minimum_pressure: f64,
    pub required_pressure: f64,
    pub pressure_exponent: f64,
    pub check_freq: u32,
    pub max_check: u32,
    pub damp_limit: f64,
    /// m.
    pub head_error: f64,
    /// m³/s.
    pub flow_change: f64,
    pub backflow_allowed: bool,
    pub quality: QualityMode,
    pub diffusivity: f64,
    pub tolerance: Option<f64>,
    pub hydraulics_file: Option<(String, String)>,
    pub map_file: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flow_units: FlowUnits::Gpm,
            pressure_units: PressureUnits::Psi,
            headloss: HeadlossFormula::HazenWilliams,
            viscosity: 1.0,
            specific_gravity: 1.0,
            trials: 200,
            accuracy: 0.001,
            unbalanced: Unbalanced::Stop,
            default_pattern: "1".to_string(),
            demand_multiplier: 1.0,
            emitter_exponent: 0.5,
            demand_model: DemandModel::Dda,
            minimum_pressure: 0.0,
            required_pressure: 0.1 * 0.3048,
            pressure_exponent: 0.5,
            check_freq: 2,
            max_check: 10,
            damp_limit: 0.0,
            head_error: 0.0,
            flow_change: 0.0,
            backflow_allowed: true,
            quality: QualityMode::None,
            diffusivity: 1.0,
            tolerance: None,
            hydraulics_file: None,
            map_file: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Statistic {
    None,
    Average,
    Minimum,
    Maximum,
    Range,
}

/// `[TIMES]`, all in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Times {
    pub duration: u64,
    pub hydraulic_step: u64,
    /// `None`: 1/10 of the hydraulic step.
    pub quality_step: Option<u64>,
    /// `None`: 1/10 of the hydraulic step.
    pub rule_step: Option<u64>,
    pub pattern_step: u64,
    pub pattern_start: u64,
    pub report_step: u64,
    pub report_start: u64,
    /// Clock time of day at the start, seconds after midnight.
    pub start_clocktime: u64,
    pub statistic: Statistic,
}

impl Default for Times {
    fn default() -> Self {
        Times {
            duration: 0,
            hydraulic_step: 3600,
            quality_step: None,
            rule_step: None,
            pattern_step: 3600,
            pattern_start: 0,
            report_step: 3600,
            report_start: 0,
            start_clocktime: 0,
            statistic: Statistic::None,
        }
    }
}

impl Times {
    /// The hydraulic step EPANET uses: no larger than the pattern and report steps.
    pub fn effective_hydraulic_step(&self) -> u64 {
        let p = if self.pattern_step == 0 {
            3600
        } else {
            self.pattern_step
        };
        let r = if self.report_step == 0 {
            p
        } else {
            self.report_step
        };
        let h = if self.hydraulic_step == 0 {
            3600
        } else {
            self.hydraulic_step
        };
        h.min(p).min(r)
    }
    /// The rule step EPANET uses.
    pub fn effective_rule_step(&self) -> u64 {
        let h = self.effective_hydraulic_step();
        self.rule_step.unwrap_or(h / 10).min(h)
    }
    pub fn effective_report_start(&self) -> u64 {
        if self.report_start > self.duration {
            0
        } else {
            self.report_start
        }
    }
    pub fn effective_report_step(&self) -> u64 {
        if self.report_step == 0 {
            if self.pattern_step == 0 {
                3600
            } else {
                self.pattern_step
            }
        } else {
            self.report_step
        }
    }
    pub fn effective_pattern_step(&self) -> u64 {
        if self.pattern_step == 0 {
            3600
        } else {
            self.pattern_step
        }
    }
}

/// Global `[ENERGY]` data (per-pump data is on [`crate::Pump`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Energy {
    /// Percent.
    pub global_efficiency: f64,
    pub global_price: f64,
    pub global_pattern: Option<usize>,
    pub demand_charge: f64,
}

impl Default for Energy {
    fn default() -> Self {
        Energy {
            global_efficiency: 75.0,
            global_price: 0.0,
            global_pattern: None,
            demand_charge: 0.0,
        }
    }
}

/// Global `[REACTIONS]` data (per-pipe and per-tank coefficients are on the elements).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reactions {
    pub order_bulk: f64,
    pub order_wall: f64,
    pub order_tank: f64,
    pub global_bulk: f64,
    pub global_wall: f64,
    pub limiting_potential: f64,
    pub roughness_correlation: f64,
}

impl Default for Reactions {
    fn default() -> Self {
        Reactions {
            order_bulk: 1.0,
            order_wall: 1.0,
            order_tank: 1.0,
            global_bulk: 0.0,
            global_wall: 0.0,
            limiting_potential: 0.0,
            roughness_correlation: 0.0,
        }
    }
}
