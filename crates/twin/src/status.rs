//! The live twin's status, shared between the run loop (which writes it) and
//! the HTTP API (which serves it as `GET /api/status`, the page's status bar
//! and sensor colours, and part of `/metrics`).
//!
//! The run loop holds a [`StatusHandle`] (`Arc<RwLock<TwinStatus>>`), and
//! after each cycle takes the write lock briefly to update it. Readers clone
//! it. JSON field names are stable (documented in the README).

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use telemetry::sensor_map::{Element, SensorMap};

/// The shared, live status.
pub type StatusHandle = Arc<RwLock<TwinStatus>>;

/// The state of one sensor's data as the twin sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SensorState {
    /// Recent data of good quality.
    Fresh,
    /// No recent data (older than the sensor's `stale_after_s`), or none yet.
    #[default]
    Stale,
    /// Left out of detection by the twin (stale for long, or by configuration).
    Excluded,
    /// Data arrives but is bad (out of range, device exception, frozen).
    Faulty,
}

impl SensorState {
    pub const ALL: [SensorState; 4] = [Self::Fresh, Self::Stale, Self::Excluded, Self::Faulty];

    /// The stable name used in JSON and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::Excluded => "excluded",
            Self::Faulty => "faulty",
        }
    }
}

/// Whether a sensor sits on a node or on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElementType {
    Node,
    Link,
}

/// One sensor's live status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorStatus {
    pub tag: String,
    /// `pressure`, `flow`, `tank_level` or `demand`.
    pub kind: String,
    /// The node or link id the sensor measures.
    pub element: String,
    pub element_type: ElementType,
    /// The SI unit of `last_value` (`m` for heads and levels, `m3/s` for flows).
    pub unit: String,
    pub state: SensorState,
    /// Time of the latest sample (UTC epoch ms).
    pub last_ts_ms: Option<i64>,
    /// The latest value, in SI.
    pub last_value: Option<f64>,
}

/// What the twin is doing. Written by the run loop, read by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TwinStatus {
    /// The data time the model has reached (UTC epoch ms); none before the
    /// first step.
    pub model_time_ms: Option<i64>,
    /// True while the backlog is processed faster than real time.
    pub catching_up: bool,
    /// True when the twin runs on less than it should (stale sensors, store
    /// down, model not converging); `degraded_reasons` says why.
    pub degraded: bool,
    pub degraded_reasons: Vec<String>,
    /// Wall-clock duration of the last model cycle (ms).
    pub last_cycle_ms: Option<f64>,
    /// When the last cycle ended (wall clock, UTC epoch ms).
    pub last_cycle_at_ms: Option<i64>,
    /// Samples ingested since the service started.
    pub samples_ingested: u64,
    pub sensors: Vec<SensorStatus>,
}

impl TwinStatus {
    /// A status listing every sensor of the map, all `stale` with no value
    /// yet: the run loop's starting point.
    pub fn from_sensor_map(map: &SensorMap) -> Self {
        let sensors = map
            .sensors
            .iter()
            .map(|s| {
                let (element, element_type) = match &s.element {
                    Element::Node(id) => (id.clone(), ElementType::Node),
                    Element::Link(id) => (id.clone(), ElementType::Link),
                };
                let kind = serde_json::to_value(s.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("{:?}", s.kind).to_lowercase());
                let unit = if kind == "flow" || kind == "demand" {
                    "m3/s"
                } else {
                    "m"
                };
                SensorStatus {
                    tag: s.tag.clone(),
                    kind,
                    element,
                    element_type,
                    unit: unit.to_owned(),
                    state: SensorState::Stale,
                    last_ts_ms: None,
                    last_value: None,
                }
            })
            .collect();
        Self {
            sensors,
            ..Self::default()
        }
    }

    /// A new shared handle over this status.
    pub fn into_handle(self) -> StatusHandle {
        Arc::new(RwLock::new(self))
    }

    /// The sensor with this tag.
    pub fn sensor_mut(&mut self, tag: &str) -> Option<&mut SensorStatus> {
        self.sensors.iter_mut().find(|s| s.tag == tag)
    }

    /// How many sensors are in each state (every state listed).
    pub fn sensor_counts(&self) -> [(SensorState, usize); 4] {
        SensorState::ALL.map(|st| (st, self.sensors.iter().filter(|s| s.state == st).count()))
    }
}

/// A snapshot of the shared status (a poisoned lock is read anyway: the
/// status is plain data, never left half-written by a panic in a reader).
pub fn snapshot(handle: &StatusHandle) -> TwinStatus {
    handle
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_field_names_are_stable() {
        let mut st = TwinStatus {
            model_time_ms: Some(5),
            ..TwinStatus::default()
        };
        st.sensors.push(SensorStatus {
            tag: "n1".into(),
            kind: "pressure".into(),
            element: "J1".into(),
            element_type: ElementType::Node,
            unit: "m".into(),
            state: SensorState::Fresh,
            last_ts_ms: Some(4),
            last_value: Some(31.5),
        });
        let v = serde_json::to_value(&st).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "catching_up",
                "degraded",
                "degraded_reasons",
                "last_cycle_at_ms",
                "last_cycle_ms",
                "model_time_ms",
                "samples_ingested",
                "sensors"
            ]
        );
        assert_eq!(
            v["sensors"][0],
            serde_json::json!({"tag": "n1", "kind": "pressure", "element": "J1",
                "element_type": "node", "unit": "m", "state": "fresh",
                "last_ts_ms": 4, "last_value": 31.5})
        );
        assert_eq!(st.sensor_counts()[0], (SensorState::Fresh, 1));
    }
}
