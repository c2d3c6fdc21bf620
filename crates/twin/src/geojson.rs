//! The candidate area of an alert as GeoJSON, in the model's own map
//! coordinates (`[COORDINATES]`/`[VERTICES]`; no reprojection, so the
//! collection names no CRS).

use network::Network;
use serde_json::{json, Value};

use crate::alerts::Alert;
use crate::status::{ElementType, SensorStatus};

/// The whole model as a `FeatureCollection`: one `LineString` per link
/// (from node, vertices, to node) with properties `id`, `layer: "link"` and
/// `kind` (`pipe`, `pump`, `valve`); one `Point` per node with `id`,
/// `layer: "node"` and `kind` (`junction`, `reservoir`, `tank`); one `Point`
/// per sensor with `id` (its tag), `layer: "sensor"`, `kind` (what it
/// measures) and `element` — at its node, or at the middle of its link's
/// line. Elements without coordinates are left out (the map cannot place
/// them); `bbox` is the extent of the nodes' coordinates.
pub fn network(net: &Network, sensors: &[SensorStatus]) -> Value {
    let mut features = Vec::with_capacity(net.links.len() + net.nodes.len() + sensors.len());
    for link in &net.links {
        let Some(points) = link_points(net, link) else {
            continue;
        };
        let kind = match link.kind {
            network::LinkKind::Pipe(_) => "pipe",
            network::LinkKind::Pump(_) => "pump",
            network::LinkKind::Valve(_) => "valve",
        };
        features.push(json!({
            "type": "Feature",
            "geometry": { "type": "LineString", "coordinates": points },
            "properties": { "id": link.id, "layer": "link", "kind": kind },
        }));
    }
    let (mut min, mut max) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for node in &net.nodes {
        let Some((x, y)) = node.coordinates else {
            continue;
        };
        min = [min[0].min(x), min[1].min(y)];
        max = [max[0].max(x), max[1].max(y)];
        let kind = match node.kind {
            network::NodeKind::Junction(_) => "junction",
            network::NodeKind::Reservoir(_) => "reservoir",
            network::NodeKind::Tank(_) => "tank",
        };
        features.push(json!({
            "type": "Feature",
            "geometry": { "type": "Point", "coordinates": [x, y] },
            "properties": { "id": node.id, "layer": "node", "kind": kind },
        }));
    }
    for sensor in sensors {
        let place = match sensor.element_type {
            ElementType::Node => net
                .node_index(&sensor.element)
                .and_then(|i| net.nodes[i].coordinates)
                .map(|(x, y)| [x, y]),
            ElementType::Link => net
                .link_index(&sensor.element)
                .and_then(|i| link_points(net, &net.links[i]))
                .map(|p| midpoint(&p)),
        };
        let Some(place) = place else { continue };
        features.push(json!({
            "type": "Feature",
            "geometry": { "type": "Point", "coordinates": place },
            "properties": { "id": sensor.tag, "layer": "sensor", "kind": sensor.kind,
                "element": sensor.element },
        }));
    }
    let bbox = (min[0] <= max[0]).then(|| json!([min[0], min[1], max[0], max[1]]));
    json!({ "type": "FeatureCollection", "bbox": bbox, "features": features })
}

/// The point halfway along a polyline.
fn midpoint(points: &[[f64; 2]]) -> [f64; 2] {
    let seg = |a: &[f64; 2], b: &[f64; 2]| (b[0] - a[0]).hypot(b[1] - a[1]);
    let total: f64 = points.windows(2).map(|w| seg(&w[0], &w[1])).sum();
    let mut left = total / 2.0;
    for w in points.windows(2) {
        let d = seg(&w[0], &w[1]);
        if d >= left && d > 0.0 {
            let t = left / d;
            return [
                w[0][0] + t * (w[1][0] - w[0][0]),
                w[0][1] + t * (w[1][1] - w[0][1]),
            ];
        }
        left -= d;
    }
    points[0]
}

/// A `FeatureCollection` with one `LineString` per candidate pipe (from
/// node, vertices, to node) and properties `pipe`, `weight` and `chosen`
/// (the alert's `pipe` or `also_pipe`). A pipe the model does not have, or
/// whose end nodes have no coordinates, gets a `null` geometry.
pub fn candidate_area(alert: &Alert, net: &Network) -> Value {
    let features: Vec<Value> = alert
        .candidates
        .iter()
        .map(|c| {
            let chosen = c.pipe == alert.pipe || alert.also_pipe.as_deref() == Some(&c.pipe);
            json!({
                "type": "Feature",
                "geometry": line(net, &c.pipe),
                "properties": { "pipe": c.pipe, "weight": c.weight, "chosen": chosen },
            })
        })
        .collect();
    json!({ "type": "FeatureCollection", "features": features })
}

fn line(net: &Network, pipe: &str) -> Value {
    match net
        .link_index(pipe)
        .and_then(|i| link_points(net, &net.links[i]))
    {
        Some(points) => json!({ "type": "LineString", "coordinates": points }),
        None => Value::Null,
    }
}

/// From node, vertices, to node; none when an end node has no coordinates.
fn link_points(net: &Network, link: &network::Link) -> Option<Vec<[f64; 2]>> {
    let from = net.nodes[link.from].coordinates?;
    let to = net.nodes[link.to].coordinates?;
    Some(
        std::iter::once(from)
            .chain(link.vertices.iter().copied())
            .chain(std::iter::once(to))
            .map(|(x, y)| [x, y])
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertState, Candidate};

    const INP: &str = "[JUNCTIONS]\nJ1 10 0\nJ2 10 1\nJ3 10 1\n[RESERVOIRS]\nR 50\n\
        [PIPES]\nP0 R J1 100 300 100\nP1 J1 J2 100 300 100\nP2 J2 J3 100 300 100\n\
        [COORDINATES]\nR 0 0\nJ1 10 0\nJ2 20 0\nJ3 20 10\n[VERTICES]\nP2 25 5\n[END]\n";

    #[test]
    fn lines_in_model_coordinates() {
        let net = network::inp::parse_inp(INP, "t.inp").unwrap();
        let alert = Alert {
            id: 1,
            leak_key: "k".into(),
            state: AlertState::Open,
            raised_ms: 0,
            updated_ms: 0,
            estimated_start_ms: 0,
            size_lps: 1.0,
            confidence: 0.5,
            pipe: "P1".into(),
            also_pipe: None,
            candidates: vec![
                Candidate {
                    pipe: "P1".into(),
                    weight: 0.6,
                },
                Candidate {
                    pipe: "P2".into(),
                    weight: 0.3,
                },
                Candidate {
                    pipe: "GONE".into(),
                    weight: 0.1,
                },
            ],
            evidence: vec![],
            place_uncertain: false,
            at_pump: None,
            resolution: None,
            note: None,
            acknowledged_ms: None,
            closed_ms: None,
        };
        let g = candidate_area(&alert, &net);
        assert_eq!(g["type"], "FeatureCollection");
        let f = g["features"].as_array().unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(
            f[0]["geometry"]["coordinates"],
            json!([[10.0, 0.0], [20.0, 0.0]])
        );
        assert_eq!(
            f[0]["properties"],
            json!({"pipe": "P1", "weight": 0.6, "chosen": true})
        );
        assert_eq!(
            f[1]["geometry"]["coordinates"],
            json!([[20.0, 0.0], [25.0, 5.0], [20.0, 10.0]])
        );
        assert_eq!(f[1]["properties"]["chosen"], false);
        assert!(f[2]["geometry"].is_null());
    }
}
