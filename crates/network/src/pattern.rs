//! Time patterns and data curves.

use serde::Serialize;

/// A sequence of multipliers, one per pattern time step, repeating.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pattern {
    pub id: String,
    pub multipliers: Vec<f64>,
    pub comment: Option<String>,
}

impl Pattern {
    /// Multiplier for pattern period `period` (wraps around).
    pub fn at(&self, period: usize) -> f64 {
        if self.multipliers.is_empty() {
            1.0
        } else {
            self.multipliers[period % self.multipliers.len()]
        }
    }
}

/// The model's pattern clock.
impl crate::Network {
    /// The patterns' cycle, s: the longest pattern's length × the pattern
    /// step.
    pub fn pattern_cycle_s(&self) -> u64 {
        let plen = self
            .patterns
            .iter()
            .map(|p| p.multipliers.len())
            .max()
            .unwrap_or(1)
            .max(1) as u64;
        plen * self.times.pattern_step.max(1)
    }

    /// The pattern time (seconds into the patterns' cycle) at model time
    /// `model_time_s` (seconds after the model's start, negative before
    /// it): the model time plus PATTERN START, wrapped into the cycle.
    pub fn pattern_time_s(&self, model_time_s: i64) -> u64 {
        (model_time_s + self.times.pattern_start as i64).rem_euclid(self.pattern_cycle_s() as i64)
            as u64
    }

    /// Makes the model start at midnight of its first day, its patterns at
    /// the values its own clock gives then: PATTERN START becomes the
    /// pattern time at model time −START CLOCKTIME, and START CLOCKTIME
    /// becomes 0. This is how the detector aligns a model to data that
    /// start at midnight (patterns at the model's clock time), so synthetic
    /// data made with it match. A model whose clock starts at midnight is
    /// unchanged.
    pub fn start_at_midnight(&mut self) {
        let clock = self.times.start_clocktime as i64;
        self.times.pattern_start = self.pattern_time_s(-clock);
        self.times.start_clocktime = 0;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CurveType {
    Volume,
    Pump,
    Efficiency,
    Headloss,
    Generic,
    Valve,
}

impl CurveType {
    pub const ALL: [CurveType; 6] = [
        CurveType::Volume,
        CurveType::Pump,
        CurveType::Efficiency,
        CurveType::Headloss,
        CurveType::Generic,
        CurveType::Valve,
    ];
    pub fn keyword(self) -> &'static str {
        match self {
            CurveType::Volume => "VOLUME",
            CurveType::Pump => "PUMP",
            CurveType::Efficiency => "EFFICIENCY",
            CurveType::Headloss => "HEADLOSS",
            CurveType::Generic => "GENERIC",
            CurveType::Valve => "VALVE",
        }
    }
    pub fn from_keyword(s: &str) -> Option<CurveType> {
        CurveType::ALL
            .into_iter()
            .find(|v| v.keyword().eq_ignore_ascii_case(s))
    }
}

/// X-Y points. Curves are kept in the file's units because one curve's
/// meaning (and so its units) depends on what uses it; [`crate::Network`]
/// converts them for the element that uses them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    pub id: String,
    pub kind: CurveType,
    pub points: Vec<(f64, f64)>,
    pub comment: Option<String>,
}

impl Curve {
    /// Linear interpolation; beyond the ends the end values hold (as EPANET's `interp`).
    pub fn interpolate(&self, x: f64) -> f64 {
        let p = &self.points;
        let Some(&(x0, y0)) = p.first() else {
            return 0.0;
        };
        if x <= x0 {
            return y0;
        }
        for w in p.windows(2) {
            let ((xa, ya), (xb, yb)) = (w[0], w[1]);
            if xb >= x {
                let dx = xb - xa;
                return if dx.abs() < 1e-6 {
                    yb
                } else {
                    yb - (xb - x) * (yb - ya) / dx
                };
            }
        }
        p[p.len() - 1].1
    }
}
