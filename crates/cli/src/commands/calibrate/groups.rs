//! `GROUPS.toml`: which parameters `aquatwin calibrate` fits.
//!
//! ```toml
//! [roughness]
//! by = "diameter"                 # "diameter" (default), "roughness", "tag" or "none"
//! diameter_limits_mm = [100, 150, 200, 300, 400, 600]
//! [roughness.groups]              # user groups: replace the automatic ones
//! "old cast iron" = ["P12", "P13"]
//! [demand]
//! by = "pattern"                  # "pattern" (default) or "none"
//! [demand.groups]                 # user groups (junction IDs): replace the automatic ones
//! "north zone" = ["J1", "J2"]
//! [offsets]
//! pressure = true                 # default true
//! bound_m = 5.0
//! [status]
//! uncertain = ["V7", "P301"]      # links whose open/closed status is searched
//! [pumps]
//! speed = ["PU1"]                 # pumps whose relative speed is fitted (a factor)
//! ```
//!
//! Every problem is `file:line: reason`.

use anyhow::{bail, Result};
use calibration::{
    demand_group_from_ids, demand_groups_by_pattern, roughness_group_from_ids, roughness_groups,
    ParamSet, RoughnessGrouping,
};
use network::{LinkKind, Network, NodeKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// Default diameter classes, mm.
pub const DEFAULT_LIMITS_MM: [f64; 6] = [100.0, 150.0, 200.0, 300.0, 400.0, 600.0];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    roughness: Option<Rough>,
    demand: Option<Demand>,
    offsets: Option<Offsets>,
    status: Option<Status>,
    pumps: Option<Pumps>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pumps {
    speed: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rough {
    by: Option<Spanned<String>>,
    diameter_limits_mm: Option<Vec<f64>>,
    groups: Option<BTreeMap<Spanned<String>, Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Demand {
    by: Option<Spanned<String>>,
    groups: Option<BTreeMap<Spanned<String>, Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Offsets {
    pressure: Option<bool>,
    bound_m: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Status {
    uncertain: Vec<Spanned<String>>,
}

/// The parameter set (and the offset bound, if given) from `path`, or the
/// defaults without a file.
pub fn load(path: Option<&Path>, net: &Network) -> Result<(ParamSet, Option<f64>)> {
    let (text, name) = match path {
        Some(p) => (
            std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?,
            p.display().to_string(),
        ),
        None => (String::new(), "(defaults)".to_string()),
    };
    let f: File = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        anyhow::anyhow!("{name}:{line}: {}", e.message())
    })?;
    let line =
        |span: std::ops::Range<usize>| text[..span.start.min(text.len())].matches('\n').count() + 1;
    let at = |span: std::ops::Range<usize>| format!("{name}:{}", line(span));
    // Roughness.
    let roughness = match &f.roughness {
        Some(Rough {
            groups: Some(groups),
            ..
        }) => {
            let mut out = Vec::new();
            let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
            for (g, ids) in groups {
                let source = at(g.span());
                for id in ids {
                    let loc = at(id.span());
                    match net.link_index(id.get_ref()) {
                        None => bail!(
                            "{loc}: [roughness.groups] '{}': '{}' is no link of the network",
                            g.get_ref(),
                            id.get_ref()
                        ),
                        Some(k) if !matches!(net.links[k].kind, LinkKind::Pipe(_)) => bail!(
                            "{loc}: [roughness.groups] '{}': '{}' is not a pipe",
                            g.get_ref(),
                            id.get_ref()
                        ),
                        _ => {}
                    }
                    if let Some(other) = seen.insert(id.get_ref(), g.get_ref()) {
                        bail!(
                            "{loc}: pipe '{}' is in roughness groups '{other}' and '{}'",
                            id.get_ref(),
                            g.get_ref()
                        );
                    }
                }
                let ids: Vec<String> = ids.iter().map(|s| s.get_ref().clone()).collect();
                out.push(roughness_group_from_ids(net, g.get_ref(), &ids, &source)?);
            }
            out
        }
        r => {
            let by = r.as_ref().and_then(|r| r.by.as_ref());
            let how = match by.map(|b| b.get_ref().as_str()) {
                None | Some("diameter") => {
                    let mm = r
                        .as_ref()
                        .and_then(|r| r.diameter_limits_mm.clone())
                        .unwrap_or(DEFAULT_LIMITS_MM.to_vec());
                    if mm.windows(2).any(|w| w[1] <= w[0]) || mm.iter().any(|d| *d <= 0.0) {
                        bail!(
                            "{name}: [roughness] diameter_limits_mm must be positive and ascending"
                        );
                    }
                    Some(RoughnessGrouping::Diameter(
                        mm.iter().map(|d| d / 1000.0).collect(),
                    ))
                }
                Some("roughness") => Some(RoughnessGrouping::Roughness),
                Some("tag") => Some(RoughnessGrouping::Tag),
                Some("none") => None,
                Some(other) => bail!(
                    "{}: [roughness] by = '{other}': expected diameter, roughness, tag or none",
                    at(by.expect("matched").span())
                ),
            };
            how.map_or(Vec::new(), |h| roughness_groups(net, &h))
        }
    };
    // Demand.
    let demand = match &f.demand {
        Some(Demand {
            groups: Some(groups),
            ..
        }) => {
            let mut out = Vec::new();
            for (g, ids) in groups {
                let source = at(g.span());
                for id in ids {
                    let loc = at(id.span());
                    match net.node_index(id.get_ref()) {
                        None => bail!(
                            "{loc}: [demand.groups] '{}': '{}' is no node of the network",
                            g.get_ref(),
                            id.get_ref()
                        ),
                        Some(i) if !matches!(net.nodes[i].kind, NodeKind::Junction(_)) => bail!(
                            "{loc}: [demand.groups] '{}': '{}' is not a junction",
                            g.get_ref(),
                            id.get_ref()
                        ),
                        _ => {}
                    }
                }
                let ids: Vec<String> = ids.iter().map(|s| s.get_ref().clone()).collect();
                out.push(demand_group_from_ids(net, g.get_ref(), &ids, &source)?);
            }
            out
        }
        d => {
            let by = d.as_ref().and_then(|d| d.by.as_ref());
            match by.map(|b| b.get_ref().as_str()) {
                None | Some("pattern") => demand_groups_by_pattern(net),
                Some("none") => Vec::new(),
                Some(other) => bail!(
                    "{}: [demand] by = '{other}': expected pattern or none",
                    at(by.expect("matched").span())
                ),
            }
        }
    };
    let offsets = f.offsets.as_ref().and_then(|o| o.pressure).unwrap_or(true);
    let bound = f.offsets.as_ref().and_then(|o| o.bound_m);
    if let Some(b) = bound {
        if !(b > 0.0 && b.is_finite()) {
            bail!("{name}: [offsets] bound_m must be a positive number of metres");
        }
    }
    let mut uncertain_links = Vec::new();
    if let Some(s) = &f.status {
        for id in &s.uncertain {
            match net.link_index(id.get_ref()) {
                Some(k) => uncertain_links.push(k),
                None => bail!(
                    "{}: [status] uncertain: '{}' is no link of the network",
                    at(id.span()),
                    id.get_ref()
                ),
            }
        }
    }
    let mut pump_speed = Vec::new();
    if let Some(p) = &f.pumps {
        for id in &p.speed {
            match net.link_index(id.get_ref()) {
                Some(k) if matches!(net.links[k].kind, LinkKind::Pump(_)) => {
                    if pump_speed.contains(&k) {
                        bail!(
                            "{}: [pumps] speed: '{}' is listed twice",
                            at(id.span()),
                            id.get_ref()
                        );
                    }
                    pump_speed.push(k)
                }
                Some(_) => bail!(
                    "{}: [pumps] speed: '{}' is not a pump",
                    at(id.span()),
                    id.get_ref()
                ),
                None => bail!(
                    "{}: [pumps] speed: '{}' is no link of the network",
                    at(id.span()),
                    id.get_ref()
                ),
            }
        }
    }
    Ok((
        ParamSet {
            roughness,
            demand,
            offsets,
            uncertain_links,
            pump_speed,
        },
        bound,
    ))
}
