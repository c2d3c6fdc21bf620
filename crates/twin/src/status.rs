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

    /// After a model cycle: the data time reached, the cycle's wall-clock
    /// duration, whether the twin is still catching up; stamps
    /// `last_cycle_at_ms` with the wall clock.
    pub fn record_cycle(&mut self, model_time_ms: i64, cycle_ms: f64, catching_up: bool) {
        self.model_time_ms = Some(model_time_ms);
        self.last_cycle_ms = Some(cycle_ms);
        self.catching_up = catching_up;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.last_cycle_at_ms = Some(i64::try_from(now.as_millis()).unwrap_or(i64::MAX));
    }

    /// A sample of a sensor: its latest time and value; `fresh` when of good
    /// quality, `faulty` otherwise (an excluded sensor stays excluded).
    /// Older samples than the one shown are ignored. Unknown tags are
    /// ignored (`false`).
    pub fn observe(&mut self, tag: &str, ts_ms: i64, value: Option<f64>, good: bool) -> bool {
        let Some(s) = self.sensor_mut(tag) else {
            return false;
        };
        if s.last_ts_ms.is_some_and(|t| t > ts_ms) {
            return true;
        }
        s.last_ts_ms = Some(ts_ms);
        if value.is_some() {
            s.last_value = value;
        }
        if s.state != SensorState::Excluded {
            s.state = if good && value.is_some() {
                SensorState::Fresh
            } else {
                SensorState::Faulty
            };
        }
        true
    }

    /// The sensors the detector leaves out now: they become `excluded`; a
    /// sensor no longer in the list comes back as `stale` until its next
    /// sample.
    pub fn set_excluded<S: AsRef<str>>(&mut self, excluded: &[S]) {
        for s in &mut self.sensors {
            let out = excluded.iter().any(|e| e.as_ref() == s.tag);
            if out {
                s.state = SensorState::Excluded;
            } else if s.state == SensorState::Excluded {
                s.state = SensorState::Stale;
            }
        }
    }

    /// Sensors whose latest sample is older than `max_age_ms` at data time
    /// `now_ms` (or that have none) become `stale` (excluded ones stay so).
    pub fn mark_stale(&mut self, now_ms: i64, max_age_ms: i64) {
        for s in &mut self.sensors {
            let old = s.last_ts_ms.is_none_or(|t| now_ms - t > max_age_ms);
            if old && s.state != SensorState::Excluded {
                s.state = SensorState::Stale;
            }
        }
    }

    /// Sets `degraded` and its reasons from the sensors' states plus the
    /// caller's own reasons (store down, model not converging…).
    pub fn refresh_degraded(&mut self, mut reasons: Vec<String>) {
        for st in [
            SensorState::Stale,
            SensorState::Faulty,
            SensorState::Excluded,
        ] {
            let tags: Vec<&str> = self
                .sensors
                .iter()
                .filter(|s| s.state == st)
                .map(|s| s.tag.as_str())
                .collect();
            if !tags.is_empty() {
                let shown = tags.iter().take(8).copied().collect::<Vec<_>>().join(", ");
                let more = tags.len().saturating_sub(8);
                let tail = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                reasons.push(format!(
                    "{} {} sensor(s): {shown}{tail}",
                    tags.len(),
                    st.as_str()
                ));
            }
        }
        self.degraded = !reasons.is_empty();
        self.degraded_reasons = reasons;
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

    #[test]
    fn helpers_for_the_run_loop() {
        let sensor = |tag: &str| SensorStatus {
            tag: tag.into(),
            kind: "pressure".into(),
            element: tag.into(),
            element_type: ElementType::Node,
            unit: "m".into(),
            state: SensorState::Stale,
            last_ts_ms: None,
            last_value: None,
        };
        let mut st = TwinStatus {
            sensors: vec![sensor("a"), sensor("b"), sensor("c")],
            ..TwinStatus::default()
        };
        assert!(st.observe("a", 1_000, Some(30.0), true));
        assert!(st.observe("b", 1_000, Some(999.0), false));
        assert!(!st.observe("zz", 1_000, Some(1.0), true));
        assert!(st.observe("a", 500, Some(1.0), true)); // older: ignored
        let states: Vec<SensorState> = st.sensors.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [SensorState::Fresh, SensorState::Faulty, SensorState::Stale]
        );
        assert_eq!(st.sensors[0].last_value, Some(30.0));
        st.set_excluded(&["b"]);
        assert_eq!(st.sensors[1].state, SensorState::Excluded);
        st.observe("b", 2_000, Some(31.0), true);
        assert_eq!(st.sensors[1].state, SensorState::Excluded);
        st.mark_stale(1_000 + 600_000, 300_000);
        assert_eq!(st.sensors[0].state, SensorState::Stale);
        st.set_excluded::<&str>(&[]);
        assert_eq!(st.sensors[1].state, SensorState::Stale);
        st.record_cycle(5_000, 3.5, true);
        assert_eq!(
            (st.model_time_ms, st.last_cycle_ms, st.catching_up),
            (Some(5_000), Some(3.5), true)
        );
        st.refresh_degraded(vec!["store down".into()]);
        assert!(st.degraded);
        assert_eq!(
            st.degraded_reasons,
            ["store down", "3 stale sensor(s): a, b, c"]
        );
        st.observe("a", 10_000, Some(1.0), true);
        st.observe("b", 10_000, Some(1.0), true);
        st.observe("c", 10_000, Some(1.0), true);
        st.refresh_degraded(vec![]);
        assert!(!st.degraded && st.degraded_reasons.is_empty());
    }
}
