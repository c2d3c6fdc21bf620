//! The report's part of `twin.toml`: `[reporting]` (utility parameters)
//! and `[[zones]]` (zones by their flow meters and nodes). The rest of the
//! file (sensors, network, store) is read by `telemetry::config`.
//!
//! ```toml
//! [reporting]
//! connections = 4000                 # service connections, whole system
//! connection_length_m = 10           # average private pipe, property line → meter (Lp = Nc × this)
//! unbilled_share = 0.0               # unbilled authorized, share of system input
//! meter_under_registration = 0.0     # customer meters register (1 − u) of the true volume
//! unauthorized_share = 0.0           # unauthorized consumption, share of system input
//! n1 = 1.0                           # FAVAD exponent
//! night_use_l_per_conn_h = 1.7       # legitimate night use allowance where no AMR
//! located_leaks = "repaired"         # which twin alerts' leaks get their own night-day
//!                                    # factor: "repaired" (location confirmed), "all", "none"
//!
//! [[zones]]
//! name = "C"
//! inlets = ["PUMP_1"]                # flow tags, positive into the zone
//! outlets = []                       # flow tags, positive out of the zone
//! storage = ["T1"]                   # tank-level tags: storage change taken off the input
//! nodes = "all"                      # or a list of node IDs
//! # connections = 1000               # default: system connections × zone's share of demand nodes
//! ```

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Service connections of the whole system (Nc).
    pub connections: Option<f64>,
    /// Average length of private pipe per connection, m (Lp = Nc × this).
    #[serde(default)]
    pub connection_length_m: f64,
    #[serde(default)]
    pub unbilled_share: f64,
    #[serde(default)]
    pub meter_under_registration: f64,
    #[serde(default)]
    pub unauthorized_share: f64,
    #[serde(default = "default_n1")]
    pub n1: f64,
    /// Legitimate night use per connection where no AMR measures it, L/h.
    #[serde(default)]
    pub night_use_l_per_conn_h: f64,
    /// Night window for the minimum night flow, hours of the day (UTC).
    #[serde(default = "default_night")]
    pub night_hours: [u32; 2],
    /// Which of the twin's leak alerts split the night leakage (their flow
    /// with the night-day factor of their own pressure).
    #[serde(default)]
    pub located_leaks: LocatedLeaks,
}

/// Which alerts count as located leaks in the night-flow estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocatedLeaks {
    /// Alerts closed as repaired: the crew found the leak at the pipe.
    #[default]
    Repaired,
    /// Every alert not closed as a false alarm or duplicate (the
    /// detector's location, unconfirmed).
    All,
    /// None: the zone's night-day factor for all night leakage.
    None,
}

fn default_n1() -> f64 {
    1.0
}
fn default_night() -> [u32; 2] {
    [0, 6]
}

impl Default for Params {
    fn default() -> Self {
        Params {
            connections: None,
            connection_length_m: 0.0,
            unbilled_share: 0.0,
            meter_under_registration: 0.0,
            unauthorized_share: 0.0,
            n1: default_n1(),
            night_use_l_per_conn_h: 0.0,
            night_hours: default_night(),
            located_leaks: LocatedLeaks::default(),
        }
    }
}

/// `nodes = "all"` or a list of IDs.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NodesSpec {
    Keyword(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    pub name: String,
    #[serde(default)]
    pub inlets: Vec<String>,
    #[serde(default)]
    pub outlets: Vec<String>,
    #[serde(default)]
    pub storage: Vec<String>,
    pub nodes: NodesSpec,
    pub connections: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Raw {
    #[serde(default)]
    reporting: Option<Params>,
    #[serde(default)]
    zones: Vec<ZoneSpec>,
}

/// The report's configuration.
#[derive(Debug, Clone, Default)]
pub struct ReportConfig {
    pub params: Params,
    pub zones: Vec<ZoneSpec>,
}

/// Byte offset → 1-based line.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl ReportConfig {
    /// Parses the `[reporting]` and `[[zones]]` parts of `text` (the
    /// contents of `file`); errors are `file:line: reason`.
    pub fn parse(text: &str, file: &Path) -> Result<ReportConfig, String> {
        let name = file.display().to_string();
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            format!("{name}:{line}: {}", e.message())
        })?;
        let p = raw.reporting.unwrap_or_default();
        let share = |v: f64, what: &str| -> Result<(), String> {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "{name}: [reporting] {what} must be in [0, 1), got {v}"
                ))
            }
        };
        share(p.unbilled_share, "unbilled_share")?;
        share(p.meter_under_registration, "meter_under_registration")?;
        share(p.unauthorized_share, "unauthorized_share")?;
        if !(p.n1.is_finite() && p.n1 >= 0.0 && p.n1 <= 3.0) {
            return Err(format!(
                "{name}: [reporting] n1 must be in [0, 3], got {}",
                p.n1
            ));
        }
        if p.night_hours[0] >= p.night_hours[1] || p.night_hours[1] > 24 {
            return Err(format!(
                "{name}: [reporting] night_hours must be [start, end] with start < end ≤ 24"
            ));
        }
        if let Some(c) = p.connections {
            if !(c.is_finite() && c >= 0.0) {
                return Err(format!("{name}: [reporting] connections must be ≥ 0"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for z in &raw.zones {
            if !seen.insert(z.name.clone()) {
                return Err(format!("{name}: [[zones]] name '{}' given twice", z.name));
            }
            if let NodesSpec::Keyword(k) = &z.nodes {
                if k != "all" {
                    return Err(format!(
                        "{name}: zone '{}': nodes must be \"all\" or a list of node IDs, got \"{k}\"",
                        z.name
                    ));
                }
            }
        }
        Ok(ReportConfig {
            params: p,
            zones: raw.zones,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_locates_errors() {
        let f = Path::new("/etc/twin.toml");
        let c = ReportConfig::parse(
            "sensors = \"m.toml\"\n[store]\nbackend = \"sqlite\"\n[reporting]\nconnections = 10\nn1 = 1.15\n\
             [[zones]]\nname = \"A\"\ninlets = [\"p1\"]\nnodes = \"all\"\n",
            f,
        )
        .unwrap();
        assert_eq!(c.params.n1, 1.15);
        assert_eq!(c.zones[0].inlets, ["p1"]);
        let e = ReportConfig::parse("[reporting]\nconections = 3\n", f).unwrap_err();
        assert!(e.starts_with("/etc/twin.toml:2:"), "{e}");
        let e = ReportConfig::parse("[reporting]\nunbilled_share = 2\n", f).unwrap_err();
        assert!(e.contains("unbilled_share"), "{e}");
        let e = ReportConfig::parse("[[zones]]\nname = \"A\"\nnodes = \"some\"\n", f).unwrap_err();
        assert!(e.contains("\"all\""), "{e}");
    }
}
