//! The candidate area of an alert as GeoJSON, in the model's own map
//! coordinates (`[COORDINATES]`/`[VERTICES]`; no reprojection, so the
//! collection names no CRS).

use network::Network;
use serde_json::{json, Value};

use crate::alerts::Alert;

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
    let Some(link) = net.link_index(pipe).map(|i| &net.links[i]) else {
        return Value::Null;
    };
    let (Some(from), Some(to)) = (
        net.nodes[link.from].coordinates,
        net.nodes[link.to].coordinates,
    ) else {
        return Value::Null;
    };
    let points: Vec<[f64; 2]> = std::iter::once(from)
        .chain(link.vertices.iter().copied())
        .chain(std::iter::once(to))
        .map(|(x, y)| [x, y])
        .collect();
    json!({ "type": "LineString", "coordinates": points })
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
