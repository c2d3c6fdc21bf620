//! The real server on 127.0.0.1:0, spoken to over real HTTP/1.1 (a raw
//! `TcpStream`, so no client library is needed).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::request;

use twin::alerts::{AlertStore, Candidate, Evidence, LeakEvent};
use twin::api::{self, BindError, ServeError, Token};

const TOKEN: &str = "test-token-5f2a";

struct Server {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn event(key: &str, size: f64, pipe: &str) -> LeakEvent {
    LeakEvent {
        leak_key: key.into(),
        observed_ms: 1_700_000_000_000,
        estimated_start_ms: 1_699_999_000_000,
        size_lps: size,
        confidence: 0.75,
        pipe: pipe.into(),
        also_pipe: Some("p2".into()),
        candidates: vec![Candidate {
            pipe: pipe.into(),
            weight: 1.0,
        }],
        evidence: vec![Evidence {
            sensor: "n1".into(),
            residual: -0.3,
        }],
        place_uncertain: false,
        at_pump: None,
    }
}

const INP: &str = "[JUNCTIONS]\nJ1 10 0\nJ2 10 1\n[RESERVOIRS]\nR 50\n\
    [PIPES]\np10 R J1 100 300 100\np20 J1 J2 100 300 100\n\
    [COORDINATES]\nR 0 0\nJ1 10 0\nJ2 20 0\n[END]\n";

/// A server over a store holding two alerts (ids 1 and 2).
fn start(token: Option<&str>) -> Server {
    start_with(token, false)
}

fn start_with(token: Option<&str>, with_network: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut store = AlertStore::open(dir.path()).unwrap();
    store.upsert(&event("leak-a", 2.0, "p10")).unwrap();
    store.upsert(&event("leak-b", 1.0, "p20")).unwrap();
    let store = Arc::new(Mutex::new(store));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let token = token.and_then(Token::new);
    let network = with_network.then(|| Arc::new(network::inp::parse_inp(INP, "t.inp").unwrap()));
    runtime.spawn(async move { api::serve(listener, store, token, network).await.unwrap() });
    Server {
        addr,
        _runtime: runtime,
        _dir: dir,
    }
}

#[test]
fn list_and_get() {
    let server = start(Some(TOKEN));
    let r = request(server.addr, "GET", "/api/alerts", None, "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let list = r.json();
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 1]);

    let r = request(server.addr, "GET", "/api/alerts/1", None, "");
    assert_eq!(r.status, 200);
    let a = r.json();
    assert_eq!(
        (a["leak_key"].as_str(), a["state"].as_str()),
        (Some("leak-a"), Some("open"))
    );
    assert_eq!(a["size_lps"], 2.0);
    assert_eq!(a["pipe"], "p10");
    assert_eq!(a["also_pipe"], "p2");
    assert_eq!(a["candidates"][0]["pipe"], "p10");
    assert_eq!(a["evidence"][0]["sensor"], "n1");
    assert_eq!(a["place_uncertain"], false);
    assert!(a["resolution"].is_null() && a["closed_ms"].is_null());

    let r = request(server.addr, "GET", "/api/alerts?state=open", None, "");
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let r = request(server.addr, "GET", "/api/alerts?state=closed", None, "");
    assert_eq!(r.json().as_array().unwrap().len(), 0);
    let r = request(server.addr, "GET", "/api/alerts?state=bogus", None, "");
    assert_eq!(r.status, 400);
    assert!(r.error().contains("unknown state"), "{}", r.body);
}

#[test]
fn not_found_and_bad_ids() {
    let server = start(Some(TOKEN));
    let r = request(server.addr, "GET", "/api/alerts/99", None, "");
    assert_eq!(r.status, 404);
    assert_eq!(r.error(), "no alert with id 99");
    let r = request(server.addr, "GET", "/api/alerts/abc", None, "");
    assert_eq!(r.status, 400);
    assert!(r.error().contains("positive integer"), "{}", r.body);
    let r = request(server.addr, "GET", "/nowhere", None, "");
    assert_eq!(r.status, 404);
    assert_eq!(r.error(), "no such route");
    let r = request(server.addr, "POST", "/api/alerts/99/ack", Some(TOKEN), "");
    assert_eq!(r.status, 404);
}

#[test]
fn state_changes_need_the_token() {
    let server = start(Some(TOKEN));
    let close = r#"{"resolution": "repaired"}"#;
    for (path, body) in [("/api/alerts/1/ack", ""), ("/api/alerts/1/close", close)] {
        let r = request(server.addr, "POST", path, None, body);
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert!(r.error().contains("Bearer"));

        let r = request(server.addr, "POST", path, Some("wrong-token"), body);
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_eq!(r.error(), "wrong token");
        assert!(!r.body.contains(TOKEN) && !r.body.contains("wrong-token"));

        let r = request(
            server.addr,
            "POST",
            path,
            Some(&TOKEN[..TOKEN.len() - 1]),
            body,
        );
        assert_eq!(r.status, 401);
    }
    // Nothing changed.
    let r = request(server.addr, "GET", "/api/alerts/1", None, "");
    assert_eq!(r.json()["state"], "open");
}

#[test]
fn without_a_server_token_state_changes_are_disabled() {
    let server = start(None);
    let r = request(
        server.addr,
        "POST",
        "/api/alerts/1/ack",
        Some("anything"),
        "",
    );
    assert_eq!(r.status, 403);
    assert!(r.error().contains("without a token"));
    assert_eq!(
        request(server.addr, "GET", "/api/alerts/1", None, "").status,
        200
    );
}

#[test]
fn ack_then_close_then_conflicts() {
    let server = start(Some(TOKEN));
    let r = request(
        server.addr,
        "POST",
        "/api/alerts/1/ack",
        Some(TOKEN),
        r#"{"note": "crew dispatched"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let a = r.json();
    assert_eq!(a["state"], "acknowledged");
    assert_eq!(a["note"], "crew dispatched");
    assert!(a["acknowledged_ms"].as_i64().unwrap() > 1_700_000_000_000);

    let r = request(server.addr, "POST", "/api/alerts/1/ack", Some(TOKEN), "");
    assert_eq!(r.status, 409);
    assert_eq!(r.error(), "alert 1 is already acknowledged");

    // Bad bodies: 400 with a clear message.
    let r = request(server.addr, "POST", "/api/alerts/1/close", Some(TOKEN), "");
    assert_eq!(r.status, 400);
    assert!(r.error().contains("JSON body"));
    let r = request(
        server.addr,
        "POST",
        "/api/alerts/1/close",
        Some(TOKEN),
        r#"{"resolution": "fixed"}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("unknown variant"), "{}", r.body);
    let r = request(
        server.addr,
        "POST",
        "/api/alerts/1/close",
        Some(TOKEN),
        "{not json",
    );
    assert_eq!(r.status, 400);
    let r = request(
        server.addr,
        "POST",
        "/api/alerts/1/close",
        Some(TOKEN),
        "{}",
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("resolution"));

    let body = r#"{"resolution": "repaired", "note": "joint replaced"}"#;
    let r = request(
        server.addr,
        "POST",
        "/api/alerts/1/close",
        Some(TOKEN),
        body,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let a = r.json();
    assert_eq!(
        (a["state"].as_str(), a["resolution"].as_str()),
        (Some("closed"), Some("repaired"))
    );
    assert_eq!(a["note"], "joint replaced");

    let r = request(
        server.addr,
        "POST",
        "/api/alerts/1/close",
        Some(TOKEN),
        body,
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.error(), "alert 1 is closed");
    let r = request(server.addr, "POST", "/api/alerts/1/ack", Some(TOKEN), "");
    assert_eq!(r.status, 409);

    // Alert 2 closes straight from open.
    let r = request(
        server.addr,
        "POST",
        "/api/alerts/2/close",
        Some(TOKEN),
        r#"{"resolution":"false_alarm"}"#,
    );
    assert_eq!(r.status, 200);
    let r = request(server.addr, "GET", "/api/alerts?state=closed", None, "");
    assert_eq!(r.json().as_array().unwrap().len(), 2);
}

#[test]
fn metrics_text() {
    let server = start(Some(TOKEN));
    request(server.addr, "POST", "/api/alerts/2/ack", Some(TOKEN), "");
    let r = request(server.addr, "GET", "/metrics", None, "");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    for line in [
        "# TYPE aquatwin_open_alerts gauge",
        "aquatwin_open_alerts 1",
        "aquatwin_alerts_total{state=\"open\"} 1",
        "aquatwin_alerts_total{state=\"acknowledged\"} 1",
        "aquatwin_alerts_total{state=\"closed\"} 0",
    ] {
        assert!(
            r.body.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            r.body
        );
    }
}

#[test]
fn non_loopback_without_a_token_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(AlertStore::open(dir.path()).unwrap()));
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        api::serve(listener, store, None, None).await
    });
    match result {
        Err(ServeError::Bind(BindError::NonLoopbackWithoutToken(addr))) => {
            assert!(addr.ip().is_unspecified());
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let err = api::bind_address_allowed("0.0.0.0:8080".parse().unwrap(), None).unwrap_err();
    assert!(err.to_string().contains("needs a bearer token"), "{err}");
}

#[test]
fn candidate_area_as_geojson() {
    let server = start(Some(TOKEN));
    let r = request(server.addr, "GET", "/api/alerts/1/area", None, "");
    assert_eq!(r.status, 404);
    assert!(r.error().contains("no network model"), "{}", r.body);

    let server = start_with(Some(TOKEN), true);
    let r = request(server.addr, "GET", "/api/alerts/1/area", None, "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/geo+json"));
    let g = r.json();
    assert_eq!(g["type"], "FeatureCollection");
    assert_eq!(g["features"][0]["properties"]["pipe"], "p10");
    assert_eq!(
        g["features"][0]["geometry"]["coordinates"],
        serde_json::json!([[0.0, 0.0], [10.0, 0.0]])
    );
    assert_eq!(
        request(server.addr, "GET", "/api/alerts/9/area", None, "").status,
        404
    );
}

#[test]
fn wrong_method_and_oversized_body_get_json_errors() {
    let server = start(Some(TOKEN));
    let r = request(server.addr, "DELETE", "/api/alerts/1", Some(TOKEN), "");
    assert_eq!(r.status, 405);
    assert!(r.error().contains("method not allowed"), "{}", r.body);
    let r = request(server.addr, "GET", "/api/alerts/1/ack", None, "");
    assert_eq!(r.status, 405);

    let note = "x".repeat(api::MAX_BODY_BYTES + 10);
    let body = format!(r#"{{"note": "{note}"}}"#);
    let r = request(server.addr, "POST", "/api/alerts/1/ack", Some(TOKEN), &body);
    assert_eq!(r.status, 413);
    assert!(!r.error().is_empty());
    assert_eq!(
        request(server.addr, "GET", "/api/alerts/1", None, "").json()["state"],
        "open"
    );
}
