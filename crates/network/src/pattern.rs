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
