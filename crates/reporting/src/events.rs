//! Leak events: the live twin's operator alerts (its `alerts.sqlite`),
//! turned into volumes over the report's window. Pure: `lib.rs` reads the
//! alert store and passes the alerts in.
//!
//! For each alert whose leak overlaps the window `[from, to)`:
//! - the leak runs from its estimated start until its repair (the time the
//!   alert was closed as `repaired`) or, if it is not repaired within the
//!   window, the window's end;
//! - **volume lost** = estimated flow × the part of that run inside the
//!   window (so monthly reports add up without counting a volume twice);
//! - **volume saved** = estimated flow × (window end − detection), with
//!   the detection (the alert's raise time) clipped to the window: the
//!   volume the leak would have lost had it been found only at the end of
//!   the period (as in the BattLeDIM scoring, which credits a detection with
//!   the leak volume from the detection to the end of the evaluation).
//!
//! Alerts closed as false alarms or duplicates are listed without volumes.

use serde::Serialize;

/// What the report needs of one alert (UTC epoch ms, L/s).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertIn {
    pub id: i64,
    pub leak_key: String,
    /// `open`, `acknowledged` or `closed`.
    pub state: String,
    /// `repaired`, `false_alarm`, `duplicate`, or None while not closed.
    pub resolution: Option<String>,
    pub raised_ms: i64,
    pub estimated_start_ms: i64,
    /// The estimated leak flow, L/s (the alert's latest size).
    pub size_lps: f64,
    pub pipe: String,
    pub closed_ms: Option<i64>,
}

/// One row of the `leak_events` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeakEventRow {
    pub alert_id: i64,
    pub leak_key: String,
    pub zone: String,
    pub pipe: String,
    pub state: String,
    pub resolution: String,
    pub estimated_start_ms: i64,
    pub raised_ms: i64,
    /// When it was closed as repaired.
    pub repaired_ms: Option<i64>,
    pub estimated_flow_lps: f64,
    pub detection_delay_h: f64,
    /// The leak's run counted in the window: `[lost_from, lost_to)`.
    pub lost_from_ms: i64,
    pub lost_to_ms: i64,
    pub volume_lost_m3: f64,
    pub volume_saved_m3: f64,
}

/// Does the alert count as a leak (not a false alarm or a duplicate)?
fn is_leak(a: &AlertIn) -> bool {
    !matches!(
        a.resolution.as_deref(),
        Some("false_alarm") | Some("duplicate")
    )
}

/// The `leak_events` rows of `alerts` for the window `[from, to)`, oldest
/// raise first. `zone_of` names the zone of an alert's pipe ("" if none).
pub fn leak_events(
    alerts: &[AlertIn],
    from: i64,
    to: i64,
    zone_of: impl Fn(&str) -> String,
) -> Vec<LeakEventRow> {
    let mut rows: Vec<LeakEventRow> = alerts
        .iter()
        .filter_map(|a| {
            let repaired_ms = match a.resolution.as_deref() {
                Some("repaired") => a.closed_ms,
                _ => None,
            };
            // The leak's run: estimated start (never after the raise) to
            // the repair, or open-ended.
            let start = a.estimated_start_ms.min(a.raised_ms);
            let end = repaired_ms.unwrap_or(i64::MAX).max(start);
            let shown = if is_leak(a) {
                start < to && end > from
            } else {
                // A false alarm or duplicate: listed if raised in the window.
                a.raised_ms >= from && a.raised_ms < to
            };
            if !shown {
                return None;
            }
            let (lo, hi) = (start.max(from), end.min(to));
            let q = a.size_lps / 1000.0; // m³/s
            let (lost, saved) = if is_leak(a) && q.is_finite() && q >= 0.0 {
                let detect = a.raised_ms.clamp(from, to);
                (
                    q * (hi - lo).max(0) as f64 / 1000.0,
                    q * (to - detect) as f64 / 1000.0,
                )
            } else {
                (f64::NAN, f64::NAN)
            };
            Some(LeakEventRow {
                alert_id: a.id,
                leak_key: a.leak_key.clone(),
                zone: zone_of(&a.pipe),
                pipe: a.pipe.clone(),
                state: a.state.clone(),
                resolution: a.resolution.clone().unwrap_or_default(),
                estimated_start_ms: a.estimated_start_ms,
                raised_ms: a.raised_ms,
                repaired_ms,
                estimated_flow_lps: a.size_lps,
                detection_delay_h: (a.raised_ms - a.estimated_start_ms) as f64 / 3.6e6,
                lost_from_ms: lo,
                lost_to_ms: hi.max(lo),
                volume_lost_m3: lost,
                volume_saved_m3: saved,
            })
        })
        .collect();
    rows.sort_by_key(|r| (r.raised_ms, r.alert_id));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn alert(id: i64, start: i64, raised: i64, closed: Option<(i64, &str)>) -> AlertIn {
        AlertIn {
            id,
            leak_key: format!("leak-{id}"),
            state: if closed.is_some() { "closed" } else { "open" }.into(),
            resolution: closed.map(|c| c.1.to_string()),
            raised_ms: raised,
            estimated_start_ms: start,
            size_lps: 10.0,
            pipe: "P1".into(),
            closed_ms: closed.map(|c| c.0),
        }
    }

    #[test]
    fn volumes_lost_and_saved() {
        let (from, to) = (0, 100 * H);
        let a = [
            // Started at 10 h, raised at 12 h, repaired at 20 h.
            alert(1, 10 * H, 12 * H, Some((20 * H, "repaired"))),
            // Started before the window, never repaired.
            alert(2, -5 * H, 2 * H, None),
            // A false alarm: listed, no volumes.
            alert(3, 40 * H, 41 * H, Some((42 * H, "false_alarm"))),
            // Repaired before the window: not listed.
            alert(4, -50 * H, -40 * H, Some((-30 * H, "repaired"))),
            // Started in the window, raised after it: listed (its leak ran in it).
            alert(5, 99 * H, 101 * H, None),
        ];
        let r = leak_events(&a, from, to, |_| "Z".into());
        let ids: Vec<i64> = r.iter().map(|x| x.alert_id).collect();
        assert_eq!(ids, [2, 1, 3, 5], "by raise time");
        let by = |id| r.iter().find(|x| x.alert_id == id).unwrap();
        // 10 L/s = 36 m³/h.
        assert!((by(1).volume_lost_m3 - 36.0 * 10.0).abs() < 1e-9);
        assert!((by(1).volume_saved_m3 - 36.0 * 88.0).abs() < 1e-9);
        assert_eq!(by(1).repaired_ms, Some(20 * H));
        assert!((by(1).detection_delay_h - 2.0).abs() < 1e-12);
        assert!((by(2).volume_lost_m3 - 36.0 * 100.0).abs() < 1e-9);
        assert!((by(2).volume_saved_m3 - 36.0 * 98.0).abs() < 1e-9);
        assert_eq!(by(2).lost_from_ms, 0);
        // Started inside, raised after the window end: lost until the end, nothing saved.
        assert!((by(5).volume_lost_m3 - 36.0).abs() < 1e-9);
        assert_eq!(by(5).volume_saved_m3, 0.0);
        assert!(by(3).volume_lost_m3.is_nan());
    }
}
