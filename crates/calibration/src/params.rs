//! Parameter groups: which pipes share a roughness multiplier, which demands
//! share a base-demand multiplier; automatic groupings and user groups.

use crate::CalibError;
use network::{LinkKind, Network, NodeKind};
use serde::Serialize;

/// Pipes whose roughness values are multiplied by one factor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoughnessGroup {
    pub name: String,
    /// Link indices (pipes only).
    #[serde(skip)]
    pub pipes: Vec<usize>,
}

/// Junction demands whose base values are multiplied by one factor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemandGroup {
    pub name: String,
    /// (junction index, demand category index).
    #[serde(skip)]
    pub demands: Vec<(usize, usize)>,
}

/// How pipes are grouped automatically for roughness.
#[derive(Debug, Clone, PartialEq)]
pub enum RoughnessGrouping {
    /// One group per diameter class: the class limits in m (ascending);
    /// `[0.1, 0.3]` gives `< 0.1`, `0.1–0.3`, `≥ 0.3`.
    Diameter(Vec<f64>),
    /// One group per distinct roughness value of the model.
    Roughness,
    /// One group per pipe tag (`[TAGS]`, often the material); untagged pipes
    /// form the group `untagged`.
    Tag,
}

/// Roughness groups of `net` by `how`; classes with no pipe are left out.
pub fn roughness_groups(net: &Network, how: &RoughnessGrouping) -> Vec<RoughnessGroup> {
    let mut groups: Vec<(String, f64, Vec<usize>)> = Vec::new();
    for (k, l) in net.links.iter().enumerate() {
        let LinkKind::Pipe(p) = &l.kind else {
            continue;
        };
        let (name, order) = match how {
            RoughnessGrouping::Diameter(limits) => {
                let c = limits.iter().filter(|&&d| p.diameter >= d).count();
                let mm = |x: f64| format!("{}", (x * 1000.0).round());
                let name = match (c.checked_sub(1).map(|i| limits[i]), limits.get(c)) {
                    (None, Some(hi)) => format!("D<{}mm", mm(*hi)),
                    (Some(lo), Some(hi)) => format!("D{}-{}mm", mm(lo), mm(*hi)),
                    (Some(lo), None) => format!("D>={}mm", mm(lo)),
                    (None, None) => "all pipes".to_string(),
                };
                (name, c as f64)
            }
            RoughnessGrouping::Roughness => (format!("roughness {}", p.roughness), p.roughness),
            RoughnessGrouping::Tag => {
                (l.tag.clone().unwrap_or_else(|| "untagged".to_string()), 0.0)
            }
        };
        match groups.iter_mut().find(|g| g.0 == name) {
            Some(g) => g.2.push(k),
            None => groups.push((name, order, vec![k])),
        }
    }
    groups.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    groups
        .into_iter()
        .map(|(name, _, pipes)| RoughnessGroup { name, pipes })
        .collect()
}

/// Demand groups by pattern: every junction demand with base ≠ 0 whose
/// pattern (or the default pattern) is the same; demands without any
/// pattern form the group `constant`.
pub fn demand_groups_by_pattern(net: &Network) -> Vec<DemandGroup> {
    let default = net.default_pattern();
    type ByPattern = (Option<usize>, Vec<(usize, usize)>);
    let mut groups: Vec<ByPattern> = Vec::new();
    for (i, n) in net.nodes.iter().enumerate() {
        let NodeKind::Junction(j) = &n.kind else {
            continue;
        };
        for (c, d) in j.demands.iter().enumerate() {
            if d.base == 0.0 {
                continue;
            }
            let p = d.pattern.or(default);
            match groups.iter_mut().find(|g| g.0 == p) {
                Some(g) => g.1.push((i, c)),
                None => groups.push((p, vec![(i, c)])),
            }
        }
    }
    groups.sort_by_key(|g| g.0.map_or(usize::MAX, |p| p));
    groups
        .into_iter()
        .map(|(p, demands)| DemandGroup {
            name: match p {
                Some(p) => format!("pattern {}", net.patterns[p].id),
                None => "constant".to_string(),
            },
            demands,
        })
        .collect()
}

/// A user roughness group from pipe IDs; `source` locates the list in the
/// user's file for errors (e.g. `GROUPS.toml: [roughness] group 'old cast iron'`).
pub fn roughness_group_from_ids(
    net: &Network,
    name: &str,
    ids: &[String],
    source: &str,
) -> Result<RoughnessGroup, CalibError> {
    if ids.is_empty() {
        return Err(CalibError::EmptyGroup {
            file: source.to_string(),
            group: name.to_string(),
        });
    }
    let mut pipes = Vec::new();
    for id in ids {
        match net.link_index(id) {
            Some(k) if matches!(net.links[k].kind, LinkKind::Pipe(_)) => pipes.push(k),
            Some(_) => {
                return Err(CalibError::BadMember {
                    file: source.to_string(),
                    group: name.to_string(),
                    id: id.clone(),
                    reason: "is not a pipe".into(),
                })
            }
            None => {
                return Err(CalibError::BadMember {
                    file: source.to_string(),
                    group: name.to_string(),
                    id: id.clone(),
                    reason: "is no link of the network".into(),
                })
            }
        }
    }
    Ok(RoughnessGroup {
        name: name.to_string(),
        pipes,
    })
}

/// A user demand group from junction IDs (all their demand categories).
pub fn demand_group_from_ids(
    net: &Network,
    name: &str,
    ids: &[String],
    source: &str,
) -> Result<DemandGroup, CalibError> {
    let mut demands = Vec::new();
    for id in ids {
        let bad = |reason: &str| CalibError::BadMember {
            file: source.to_string(),
            group: name.to_string(),
            id: id.clone(),
            reason: reason.into(),
        };
        let i = net
            .node_index(id)
            .ok_or_else(|| bad("is no node of the network"))?;
        let NodeKind::Junction(j) = &net.nodes[i].kind else {
            return Err(bad("is not a junction"));
        };
        demands.extend((0..j.demands.len()).map(|c| (i, c)));
    }
    if demands.iter().all(|&(i, c)| demand_base(net, i, c) == 0.0) {
        return Err(CalibError::EmptyGroup {
            file: source.to_string(),
            group: name.to_string(),
        });
    }
    Ok(DemandGroup {
        name: name.to_string(),
        demands,
    })
}

fn demand_base(net: &Network, i: usize, c: usize) -> f64 {
    match &net.nodes[i].kind {
        NodeKind::Junction(j) => j.demands.get(c).map_or(0.0, |d| d.base),
        _ => 0.0,
    }
}

/// Where a calibration parameter acts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParamKind {
    /// Multiplier of the roughness values of a pipe group (H-W C, D-W ε or
    /// Manning n, as the model states them).
    Roughness { group: usize },
    /// Multiplier of the base demands of a demand group.
    Demand { group: usize },
    /// Offset of a pressure sensor, m: it reads `model + offset`.
    Offset { observation: usize },
    /// Factor on a pump's relative speed (its `SPEED`, and the speed it
    /// runs at whenever it is on): `pump` indexes [`ParamSet::pump_speed`].
    PumpSpeed { pump: usize },
}

/// The full parameter set of a calibration (continuous parameters and
/// links of uncertain status).
#[derive(Debug, Clone)]
pub struct ParamSet {
    pub roughness: Vec<RoughnessGroup>,
    pub demand: Vec<DemandGroup>,
    /// Estimate a bounded offset for each pressure observation.
    pub offsets: bool,
    /// Links (pipes or valves) whose open/closed status is searched.
    pub uncertain_links: Vec<usize>,
    /// Pumps (link indices) whose relative speed is fitted, as a factor on
    /// the model's speed. A pump curve at speed s gives s² times the head at
    /// q/s (EPANET's affinity laws), so this is also a head-curve factor.
    pub pump_speed: Vec<usize>,
}

/// Applies multipliers and statuses to a copy of `net`: roughness and base
/// demands scaled, pump speeds scaled (`speed`, per [`ParamSet::pump_speed`];
/// an empty list leaves them), uncertain links set open or closed.
pub fn apply(
    net: &Network,
    set: &ParamSet,
    rough: &[f64],
    demand: &[f64],
    speed: &[f64],
    open: &[bool],
) -> Network {
    let mut out = net.clone();
    for (&k, &f) in set.pump_speed.iter().zip(speed) {
        if let LinkKind::Pump(p) = &mut out.links[k].kind {
            p.speed *= f;
        }
    }
    for (g, &m) in set.roughness.iter().zip(rough) {
        for &k in &g.pipes {
            if let LinkKind::Pipe(p) = &mut out.links[k].kind {
                p.roughness *= m;
            }
        }
    }
    for (g, &m) in set.demand.iter().zip(demand) {
        for &(i, c) in &g.demands {
            if let NodeKind::Junction(j) = &mut out.nodes[i].kind {
                if let Some(d) = j.demands.get_mut(c) {
                    d.base *= m;
                }
            }
        }
    }
    for (&k, &o) in set.uncertain_links.iter().zip(open) {
        let nominal = net.links[k].initial_status;
        out.links[k].initial_status = if !o {
            network::LinkStatus::Closed
        } else if nominal != network::LinkStatus::Closed {
            nominal
        } else if matches!(out.links[k].kind, LinkKind::Valve(_)) {
            network::LinkStatus::Active
        } else {
            network::LinkStatus::Open
        };
    }
    out
}

/// Whether link `k` of `net` is open (not closed) at the start.
pub fn initially_open(net: &Network, k: usize) -> bool {
    net.links[k].initial_status != network::LinkStatus::Closed
}

#[cfg(test)]
mod tests {
    use super::*;

    const INP: &str = "[JUNCTIONS]\nJ1 10 5 A\nJ2 10 0\nJ3 10 2 B\n[RESERVOIRS]\nR1 50\n[PIPES]\nP1 R1 J1 100 80 100\nP2 J1 J2 100 150 90\nP3 J2 J3 100 300 90\n[PATTERNS]\nA 1 2\nB 1 1\n[OPTIONS]\nUNITS LPS\n";

    #[test]
    fn automatic_groups() {
        let net = network::inp::parse_inp(INP, "t.inp").unwrap();
        let d = roughness_groups(&net, &RoughnessGrouping::Diameter(vec![0.1, 0.2]));
        let names: Vec<&str> = d.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["D<100mm", "D100-200mm", "D>=200mm"]);
        assert_eq!(d[1].pipes, vec![1]);
        let r = roughness_groups(&net, &RoughnessGrouping::Roughness);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].pipes, vec![1, 2]);
        // J1 follows pattern A, J3 pattern B; J2 has no demand.
        let g = demand_groups_by_pattern(&net);
        assert_eq!(g.len(), 2, "{g:?}");
        assert_eq!(
            (g[0].name.as_str(), &g[0].demands),
            ("pattern A", &vec![(0, 0)])
        );
        assert_eq!(
            (g[1].name.as_str(), &g[1].demands),
            ("pattern B", &vec![(2, 0)])
        );
    }

    #[test]
    fn user_groups_are_checked() {
        let net = network::inp::parse_inp(INP, "t.inp").unwrap();
        let e = roughness_group_from_ids(&net, "g", &["J1".into()], "G.toml:3").unwrap_err();
        assert_eq!(
            e.to_string(),
            "G.toml:3: group 'g': 'J1' is no link of the network"
        );
        let e = roughness_group_from_ids(&net, "g", &[], "G.toml:4").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("G.toml:4: group 'g' has no member"));
        let e = demand_group_from_ids(&net, "d", &["J2".into()], "G.toml:5").unwrap_err();
        assert!(matches!(e, CalibError::EmptyGroup { .. }), "{e}");
    }

    #[test]
    fn apply_scales_and_sets_statuses() {
        let net = network::inp::parse_inp(INP, "t.inp").unwrap();
        let set = ParamSet {
            roughness: roughness_groups(&net, &RoughnessGrouping::Roughness),
            demand: demand_groups_by_pattern(&net),
            offsets: false,
            uncertain_links: vec![2],
            pump_speed: Vec::new(),
        };
        let out = apply(&net, &set, &[0.5, 1.0], &[2.0, 1.0], &[], &[false]);
        let LinkKind::Pipe(p) = &out.links[1].kind else {
            panic!()
        };
        assert!((p.roughness - 45.0).abs() < 1e-12);
        let NodeKind::Junction(j) = &out.nodes[0].kind else {
            panic!()
        };
        let NodeKind::Junction(j0) = &net.nodes[0].kind else {
            panic!()
        };
        assert!((j.demands[0].base - 2.0 * j0.demands[0].base).abs() < 1e-15);
        assert_eq!(out.links[2].initial_status, network::LinkStatus::Closed);
        assert!(initially_open(&net, 2) && !initially_open(&out, 2));
    }
}
