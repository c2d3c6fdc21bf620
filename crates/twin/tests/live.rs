//! The live endpoints over real HTTP on 127.0.0.1:0: status, the network
//! as GeoJSON (Net1 from `AQUATWIN_NETWORKS`), a sensor's measured and
//! modelled series from a real SQLite store, metrics, and the embedded page.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::request;
use telemetry::store::sqlite::SqliteStore;
use telemetry::store::Store;
use telemetry::Sample;
use twin::api::{Service, StoreFactory};
use twin::status::{ElementType, SensorState, SensorStatus, StatusHandle, TwinStatus};

fn net1() -> network::Network {
    let dir = std::env::var("AQUATWIN_NETWORKS")
        .expect("AQUATWIN_NETWORKS must name the directory holding Net1.inp");
    let path = std::path::Path::new(&dir).join("Net1.inp");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    network::inp::parse_inp(&text, "Net1.inp").unwrap()
}

fn sensor(tag: &str, kind: &str, element: &str, et: ElementType) -> SensorStatus {
    SensorStatus {
        tag: tag.into(),
        kind: kind.into(),
        element: element.into(),
        element_type: et,
        unit: if kind == "flow" { "m3/s" } else { "m" }.into(),
        state: SensorState::Stale,
        last_ts_ms: None,
        last_value: None,
    }
}

struct Server {
    addr: SocketAddr,
    status: StatusHandle,
    state: std::path::PathBuf,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

const T0: i64 = 1_546_300_800_000; // 2019-01-01T00:00:00Z

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ts.sqlite");
    {
        let mut store = SqliteStore::open(&db).unwrap();
        let mut samples = Vec::new();
        for i in 0..12 {
            let t = T0 + i * 300_000;
            samples.push(Sample::good("P-22", t, 80.0 + i as f64 * 0.1));
            samples.push(Sample::good("P-22@model", t, 80.05 + i as f64 * 0.1));
        }
        store.write(&samples).unwrap();
    }
    let status = TwinStatus {
        sensors: vec![
            sensor("P-22", "pressure", "22", ElementType::Node),
            sensor("Q-110", "flow", "110", ElementType::Link),
        ],
        ..TwinStatus::default()
    }
    .into_handle();
    let factory: StoreFactory = Arc::new(move || {
        SqliteStore::open(&db).map(|s| Box::new(s) as Box<dyn telemetry::store::Store>)
    });
    let service = Service::open(&dir.path().join("state"), None)
        .unwrap()
        .with_network(Arc::new(net1()))
        .with_status(Arc::clone(&status))
        .with_store(factory);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { service.serve(listener).await.unwrap() });
    Server {
        addr,
        status,
        state: dir.path().join("state"),
        _runtime: runtime,
        _dir: dir,
    }
}

#[test]
fn status_follows_the_shared_handle() {
    let server = start();
    let r = request(server.addr, "GET", "/api/status", None, "");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["model_time_ms"], serde_json::Value::Null);
    assert_eq!(v["sensors"][1]["element_type"], "link");
    {
        let mut st = server.status.write().unwrap();
        st.model_time_ms = Some(T0);
        st.degraded = true;
        st.degraded_reasons = vec!["sensor Q-110 stale".into()];
        st.samples_ingested = 42;
        st.last_cycle_ms = Some(12.5);
        let s = st.sensor_mut("P-22").unwrap();
        s.state = SensorState::Fresh;
        s.last_value = Some(80.3);
    }
    let v = request(server.addr, "GET", "/api/status", None, "").json();
    assert_eq!(v["model_time_ms"], T0);
    assert_eq!(v["degraded"], true);
    assert_eq!(v["sensors"][0]["state"], "fresh");
    assert_eq!(v["sensors"][0]["last_value"], 80.3);

    let m = request(server.addr, "GET", "/metrics", None, "").body;
    for line in [
        "aquatwin_stale_sensors 1",
        "aquatwin_sensors{state=\"fresh\"} 1",
        "aquatwin_samples_ingested_total 42",
        "aquatwin_cycle_seconds 0.0125",
        "aquatwin_degraded 1",
        "aquatwin_open_alerts 0",
    ] {
        assert!(m.lines().any(|l| l == line), "no {line:?} in\n{m}");
    }
}

#[test]
fn network_as_geojson_has_every_link_node_and_sensor() {
    let server = start();
    let net = net1();
    let r = request(server.addr, "GET", "/api/network.geojson", None, "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/geo+json"));
    let v = r.json();
    let features = v["features"].as_array().unwrap();
    let count = |layer: &str| {
        features
            .iter()
            .filter(|f| f["properties"]["layer"] == layer)
            .count()
    };
    assert_eq!(count("link"), net.links.len());
    assert_eq!(count("node"), net.nodes.len());
    assert_eq!(count("sensor"), 2);
    let pump = features
        .iter()
        .find(|f| f["properties"]["id"] == "9" && f["properties"]["layer"] == "link")
        .unwrap();
    assert_eq!(pump["properties"]["kind"], "pump");
    // The sensor on node 22 sits at node 22's coordinates.
    let j22 = &net.nodes[net.node_index("22").unwrap()];
    let (x, y) = j22.coordinates.unwrap();
    let s = features
        .iter()
        .find(|f| f["properties"]["id"] == "P-22")
        .unwrap();
    assert_eq!(s["geometry"]["coordinates"], serde_json::json!([x, y]));
    assert_eq!(v["bbox"].as_array().unwrap().len(), 4);
}

#[test]
fn series_measured_and_modelled() {
    let server = start();
    let r = request(
        server.addr,
        "GET",
        "/api/sensors/P-22/series?from=2019-01-01T00:00:00Z&to=2019-01-01T00:30:00Z",
        None,
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["model_tag"], "P-22@model");
    assert_eq!(v["unit"], "m");
    assert_eq!(v["measured"].as_array().unwrap().len(), 6);
    assert_eq!(v["modelled"].as_array().unwrap().len(), 6);
    assert_eq!(v["measured"][0], serde_json::json!([T0, 80.0]));
    assert_eq!(v["modelled"][0], serde_json::json!([T0, 80.05]));

    let ms = format!(
        "/api/sensors/P-22/series?from={}&to={}",
        T0 + 300_000,
        T0 + 600_000
    );
    let v = request(server.addr, "GET", &ms, None, "").json();
    assert_eq!(v["measured"].as_array().unwrap().len(), 1);

    for (path, status) in [
        ("/api/sensors/NOPE/series?from=0&to=1", 404),
        ("/api/sensors/P-22/series?from=yesterday&to=1", 400),
        ("/api/sensors/P-22/series?from=10&to=5", 400),
        ("/api/sensors/P-22/series?from=0&to=1546300800000", 400),
    ] {
        let r = request(server.addr, "GET", path, None, "");
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(!r.error().is_empty());
    }
}

/// Reads a server-sent event stream until `text` has arrived.
fn read_until(stream: &mut std::net::TcpStream, got: &mut String, text: &str) {
    use std::io::Read;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !got.contains(text) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {text:?} in the event stream:\n{got}"
        );
        match stream.read(&mut buf) {
            Ok(0) => panic!("the event stream ended:\n{got}"),
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn server_sent_events_push_status_and_alert_changes() {
    use std::io::Write;
    let server = start();
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut got = String::new();
    read_until(&mut stream, &mut got, "event: status");
    assert!(got.contains("text/event-stream"), "{got}");

    // A status change is pushed.
    server.status.write().unwrap().samples_ingested = 77;
    read_until(&mut stream, &mut got, "\"samples_ingested\":77");

    // An alert opened by another connection to the store (the run loop's)
    // is pushed with its event id, then its acknowledgement.
    let mut store = twin::AlertStore::open(&server.state).unwrap();
    let id = store
        .upsert(&twin::alerts::LeakEvent {
            leak_key: "sse".into(),
            observed_ms: T0,
            estimated_start_ms: T0,
            size_lps: 1.0,
            confidence: 0.5,
            pipe: "110".into(),
            also_pipe: None,
            candidates: vec![],
            evidence: vec![],
            place_uncertain: true,
            at_pump: None,
        })
        .unwrap()
        .alert()
        .id;
    read_until(&mut stream, &mut got, "event: alert");
    read_until(&mut stream, &mut got, "\"event\":\"opened\"");
    assert!(got.contains("id: 1"), "{got}");
    store.acknowledge(id, None, T0 + 1).unwrap();
    read_until(&mut stream, &mut got, "\"event\":\"acknowledged\"");
    assert!(got.contains("id: 2"), "{got}");
}

#[test]
fn the_page_and_its_assets_are_embedded() {
    let server = start();
    let r = request(server.addr, "GET", "/", None, "");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'self'"));
    assert!(r.body.contains("/assets/app.js"));
    for (path, ty) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        let r = request(server.addr, "GET", path, None, "");
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").unwrap().starts_with(ty));
    }
    // No other host is named by the page.
    for path in ["/", "/assets/app.js", "/assets/app.css"] {
        let body = request(server.addr, "GET", path, None, "").body;
        for bad in ["http://", "https://", "//cdn", "@import"] {
            let hits: Vec<&str> = body
                .lines()
                .filter(|l| l.contains(bad) && !l.contains("http://www.w3.org/2000/svg"))
                .collect();
            assert!(hits.is_empty(), "{path} names another host: {hits:?}");
        }
    }
    assert_eq!(
        request(server.addr, "GET", "/assets/nope.js", None, "").status,
        404
    );
}
