//! Zones: sets of nodes with the flow meters on their boundary. Given in
//! the configuration (`[[zones]]`) or detected from the model: the links
//! with a flow meter and the closed links cut the network; each connected
//! part with demand nodes is a zone whose inlets and outlets are the
//! metered links on its boundary, oriented by the link's direction.

use crate::config::{NodesSpec, ZoneSpec};
use network::{LinkKind, LinkStatus, Network};
use std::collections::{BTreeSet, HashMap};
use telemetry::{Kind, SensorMap};

/// A resolved zone.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    /// Flow tags whose positive direction enters the zone.
    pub inlets: Vec<String>,
    /// Flow tags whose positive direction leaves the zone.
    pub outlets: Vec<String>,
    /// Tank-level tags inside the zone.
    pub storage: Vec<String>,
    /// Node indices of the model.
    pub nodes: Vec<usize>,
    /// Service connections (configured, else the system's shared by the
    /// zone's share of demand nodes).
    pub connections: f64,
    /// Mains length, km: pipes with both ends in the zone, half of those
    /// with one end in it.
    pub mains_km: f64,
    /// Pressure tags of sensors on the zone's nodes.
    pub pressure: Vec<String>,
    /// AMR (demand) tags of sensors on the zone's nodes.
    pub amr: Vec<String>,
}

/// Nodes with a positive base demand.
fn demand_nodes(net: &Network) -> Vec<bool> {
    net.nodes
        .iter()
        .map(|n| {
            n.junction()
                .is_some_and(|j| j.demands.iter().any(|d| d.base > 0.0))
        })
        .collect()
}

/// The connected parts of the network once `cut` links are removed; each
/// node's part number.
pub fn parts(net: &Network, cut: &[bool]) -> Vec<usize> {
    let n = net.nodes.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for (k, l) in net.links.iter().enumerate() {
        if cut[k] {
            continue;
        }
        let (a, b) = (find(&mut parent, l.from), find(&mut parent, l.to));
        if a != b {
            parent[a] = b;
        }
    }
    let mut ids = HashMap::new();
    (0..n)
        .map(|i| {
            let r = find(&mut parent, i);
            let next = ids.len();
            *ids.entry(r).or_insert(next)
        })
        .collect()
}

/// Zones detected from the model: cut at metered links (flow sensors) and
/// closed links, plus `extra_cut` (e.g. a PRV's link to split an area off
/// even without a meter). Parts without demand nodes (a reservoir and its
/// outlet main) are not zones. Names are `zone-1`, `zone-2`, … in order of
/// their first node, unless `names` gives one for a part containing a node.
pub fn detect(
    net: &Network,
    map: &SensorMap,
    extra_cut: &[String],
) -> Result<Vec<ZoneSpec>, String> {
    let mut flow_tag: HashMap<usize, String> = HashMap::new();
    for s in &map.sensors {
        if s.kind == Kind::Flow {
            if let Some(k) = net.link_index(s.element.id()) {
                flow_tag.insert(k, s.tag.clone());
            }
        }
    }
    let mut cut: Vec<bool> = net
        .links
        .iter()
        .enumerate()
        .map(|(k, l)| flow_tag.contains_key(&k) || l.initial_status == LinkStatus::Closed)
        .collect();
    for id in extra_cut {
        let k = net
            .link_index(id)
            .ok_or_else(|| format!("--cut: no link '{id}' in the model"))?;
        cut[k] = true;
    }
    let part = parts(net, &cut);
    let dem = demand_nodes(net);
    let mut order: Vec<usize> = Vec::new();
    for (i, &p) in part.iter().enumerate() {
        if dem[i] && !order.contains(&p) {
            order.push(p);
        }
    }
    let level_tag: HashMap<usize, &str> = map
        .sensors
        .iter()
        .filter(|s| s.kind == Kind::TankLevel)
        .filter_map(|s| net.node_index(s.element.id()).map(|i| (i, s.tag.as_str())))
        .collect();
    let mut zones = Vec::new();
    for (z, &p) in order.iter().enumerate() {
        let nodes: Vec<String> = (0..net.nodes.len())
            .filter(|&i| part[i] == p)
            .map(|i| net.nodes[i].id.clone())
            .collect();
        let mut inlets = Vec::new();
        let mut outlets = Vec::new();
        for (&k, tag) in &flow_tag {
            let l = &net.links[k];
            let (a, b) = (part[l.from] == p, part[l.to] == p);
            if b && !a {
                inlets.push(tag.clone());
            } else if a && !b {
                outlets.push(tag.clone());
            }
        }
        inlets.sort();
        outlets.sort();
        let storage: Vec<String> = (0..net.nodes.len())
            .filter(|i| part[*i] == p)
            .filter_map(|i| level_tag.get(&i).map(|t| t.to_string()))
            .collect();
        zones.push(ZoneSpec {
            name: format!("zone-{}", z + 1),
            inlets,
            outlets,
            storage,
            nodes: NodesSpec::List(nodes),
            connections: None,
        });
    }
    Ok(zones)
}

/// Resolves configured zones against the model and the sensor map.
pub fn resolve(
    specs: &[ZoneSpec],
    net: &Network,
    map: &SensorMap,
    system_connections: f64,
) -> Result<Vec<Zone>, String> {
    let dem = demand_nodes(net);
    let total_dem = dem.iter().filter(|&&d| d).count().max(1) as f64;
    let mut owner: HashMap<usize, &str> = HashMap::new();
    let mut zones = Vec::new();
    for z in specs {
        let nodes: Vec<usize> = match &z.nodes {
            NodesSpec::Keyword(_) => (0..net.nodes.len()).collect(),
            NodesSpec::List(ids) => {
                let mut v = Vec::with_capacity(ids.len());
                for id in ids {
                    v.push(net.node_index(id).ok_or_else(|| {
                        format!("zone '{}': no node '{id}' in the model", z.name)
                    })?);
                }
                v
            }
        };
        for &i in &nodes {
            if let Some(other) = owner.insert(i, &z.name) {
                return Err(format!(
                    "node '{}' is in zones '{other}' and '{}': zones must not overlap",
                    net.nodes[i].id, z.name
                ));
            }
        }
        for tag in z.inlets.iter().chain(&z.outlets) {
            match map.sensor_index(tag).map(|s| &map.sensors[s]) {
                Some(s) if s.kind == Kind::Flow => {}
                Some(_) => {
                    return Err(format!(
                        "zone '{}': sensor '{tag}' is not a flow meter",
                        z.name
                    ))
                }
                None => {
                    return Err(format!(
                        "zone '{}': no sensor '{tag}' in {}",
                        z.name, map.file
                    ))
                }
            }
        }
        for tag in &z.storage {
            match map.sensor_index(tag).map(|s| &map.sensors[s]) {
                Some(s) if s.kind == Kind::TankLevel => {
                    let tank = net
                        .node_index(s.element.id())
                        .and_then(|i| net.nodes[i].tank());
                    if tank.is_none() {
                        return Err(format!(
                            "zone '{}': storage '{tag}' is not on a tank of the model",
                            z.name
                        ));
                    }
                }
                _ => {
                    return Err(format!(
                        "zone '{}': storage '{tag}' is not a tank-level sensor",
                        z.name
                    ))
                }
            }
        }
        let set: BTreeSet<usize> = nodes.iter().copied().collect();
        let mut mains_m = 0.0;
        for l in &net.links {
            if let LinkKind::Pipe(p) = &l.kind {
                let ends = set.contains(&l.from) as u8 + set.contains(&l.to) as u8;
                mains_m += p.length * f64::from(ends) / 2.0;
            }
        }
        let on_nodes = |kind: Kind| -> Vec<String> {
            map.sensors
                .iter()
                .filter(|s| s.kind == kind)
                .filter(|s| {
                    net.node_index(s.element.id())
                        .is_some_and(|i| set.contains(&i))
                })
                .map(|s| s.tag.clone())
                .collect()
        };
        let zone_dem = nodes.iter().filter(|&&i| dem[i]).count() as f64;
        zones.push(Zone {
            name: z.name.clone(),
            inlets: z.inlets.clone(),
            outlets: z.outlets.clone(),
            storage: z.storage.clone(),
            connections: z
                .connections
                .unwrap_or(system_connections * zone_dem / total_dem),
            mains_km: mains_m / 1000.0,
            pressure: on_nodes(Kind::Pressure),
            amr: on_nodes(Kind::Demand),
            nodes,
        });
    }
    Ok(zones)
}

/// `[[zones]]` TOML for `specs` (what `--detect-zones` prints).
pub fn to_toml(specs: &[ZoneSpec], header: &str) -> String {
    let mut s = String::from(header);
    let list = |v: &[String]| {
        v.iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for z in specs {
        s.push_str(&format!("\n[[zones]]\nname = \"{}\"\n", z.name));
        s.push_str(&format!("inlets = [{}]\n", list(&z.inlets)));
        s.push_str(&format!("outlets = [{}]\n", list(&z.outlets)));
        s.push_str(&format!("storage = [{}]\n", list(&z.storage)));
        match &z.nodes {
            NodesSpec::Keyword(k) => s.push_str(&format!("nodes = \"{k}\"\n")),
            NodesSpec::List(ids) => {
                s.push_str("nodes = [\n");
                for chunk in ids.chunks(12) {
                    s.push_str(&format!("  {},\n", list(chunk)));
                }
                s.push_str("]\n");
            }
        }
    }
    s
}
