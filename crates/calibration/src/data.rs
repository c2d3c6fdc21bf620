//! Measurements on a regular time grid, in SI: what the model is fitted to
//! (pressure and flow observations) and what drives it (tank levels, pump
//! flows).

use serde::Serialize;

/// What an observation measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsKind {
    /// Pressure head at a node, m.
    Pressure,
    /// Flow in a link, m³/s, signed in the link's direction.
    Flow,
}

/// One measured series compared with the model.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The sensor's name (its tag or SCADA column).
    pub name: String,
    pub kind: ObsKind,
    /// Node index (pressure) or link index (flow) in the network.
    pub element: usize,
    /// One value per row, SI; `NaN` = missing.
    pub values: Vec<f64>,
    /// The sensor's valid range, SI (`None`: any value). A model value
    /// outside it is a state no sensor could read (the large negative
    /// pressures of a zone a stopped pump cuts off): that reading is not
    /// compared, as the detector does not compare it.
    pub range: Option<(f64, f64)>,
}

/// A measured boundary condition: one value per row, SI; `NaN` = missing
/// (the last reading is held; before the first reading, the first one).
#[derive(Debug, Clone)]
pub struct Series {
    /// Node (tank) or link (pump) index.
    pub element: usize,
    pub values: Vec<f64>,
}

/// Measurements of one period on a regular grid.
#[derive(Debug, Clone)]
pub struct Data {
    /// Model clock of row 0: seconds since the start of the model's
    /// patterns (and clock-time controls), e.g. 0 when the data start at
    /// the time the model's patterns start.
    pub start_s: u64,
    /// Seconds between rows.
    pub step_s: u64,
    pub rows: usize,
    pub observations: Vec<Observation>,
    /// Tank levels (m above the tank's bottom), imposed as fixed heads.
    pub tank_levels: Vec<Series>,
    /// Pump flows (m³/s): the pump is on when the flow exceeds
    /// [`crate::Options::pump_on_flow`], off otherwise.
    pub pump_flows: Vec<Series>,
}

impl Data {
    /// Rows `from..to` as a period of their own.
    pub fn slice(&self, from: usize, to: usize) -> Data {
        let to = to.min(self.rows);
        let from = from.min(to);
        let cut = |v: &Vec<f64>| v[from..to].to_vec();
        Data {
            start_s: self.start_s + from as u64 * self.step_s,
            step_s: self.step_s,
            rows: to - from,
            observations: self
                .observations
                .iter()
                .map(|o| Observation {
                    values: cut(&o.values),
                    ..o.clone()
                })
                .collect(),
            tank_levels: self
                .tank_levels
                .iter()
                .map(|s| Series {
                    element: s.element,
                    values: cut(&s.values),
                })
                .collect(),
            pump_flows: self
                .pump_flows
                .iter()
                .map(|s| Series {
                    element: s.element,
                    values: cut(&s.values),
                })
                .collect(),
        }
    }

    /// Number of measured (non-missing) observation values.
    pub fn readings(&self) -> usize {
        self.observations
            .iter()
            .map(|o| o.values.iter().filter(|v| v.is_finite()).count())
            .sum()
    }
}

/// The series with each gap filled by the last reading before it (the
/// first reading before any); `None` when it has no reading at all.
pub(crate) fn held(values: &[f64]) -> Option<Vec<f64>> {
    let first = values.iter().copied().find(|v| v.is_finite())?;
    let mut last = first;
    Some(
        values
            .iter()
            .map(|&v| {
                if v.is_finite() {
                    last = v;
                }
                last
            })
            .collect(),
    )
}
