//! The operators' page in a real browser: the real axum server on
//! 127.0.0.1:0 with L-TOWN (from `AQUATWIN_NETWORKS`), its BattLeDIM sensor
//! map, a real SQLite time-series store and an alert inserted through the
//! `AlertStore`, driven by Debian's `chromium` headless through
//! `chromedriver` (W3C WebDriver over plain HTTP).
//!
//! The sensors' values and series come from this crate's own hydraulic
//! solver on L-TOWN (one day at 5-minute steps); the "measured" series at
//! the evidence sensors is the modelled one minus a fixed drop after the
//! alert's estimated start — a display fixture, nothing here checks a
//! number the detector would compute.
//!
//! Checked: the map has every link, sensors are coloured by state, the
//! alert is listed, selecting it shades its area and marks the chosen pipe,
//! the evidence plots are drawn, hovering names an element, acknowledging
//! (token asked once) and closing as a false alarm with a note reach the
//! API, a new alert whose place is uncertain arrives without a reload and
//! is labelled "place uncertain — candidate area" (list, detail, map; no
//! pipe marked as chosen) until a report places it, and the console has no
//! error.
//!
//! Needs `chromium` and `chromium-driver` (scripts/apt-packages): without
//! them the test fails and says so. Leaves `target/page-screenshot.png`
//! and `target/page-screenshot-uncertain.png`.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use common::request;
use serde_json::{json, Value};
use telemetry::store::sqlite::SqliteStore;
use telemetry::store::Store;
use telemetry::{Sample, SensorMap};
use twin::alerts::{AlertStore, Candidate, Evidence, LeakEvent};
use twin::api::{Service, StoreFactory, Token};
use twin::status::{SensorState, TwinStatus};

const TOKEN: &str = "page-test-token-81c3";
/// 2019-01-01T00:00:00Z, the model's time zero in this test.
const T0: i64 = 1_546_300_800_000;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ltown() -> network::Network {
    let dir = std::env::var("AQUATWIN_NETWORKS")
        .expect("AQUATWIN_NETWORKS must name the directory holding L-TOWN.inp");
    let path = Path::new(&dir).join("L-TOWN.inp");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    network::inp::parse_inp(&text, "L-TOWN.inp").unwrap()
}

/// Binaries Debian installs with `chromium` and `chromium-driver`.
fn browser_binaries() -> (PathBuf, PathBuf) {
    let chromium = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    match (chromium, driver) {
        (Some(c), Some(d)) => (c, d),
        (c, d) => panic!(
            "the page's browser test needs Debian's chromium and chromium-driver \
             (chromium found: {}, chromedriver found: {}); install them with \
             `apt-get install chromium chromium-driver` (listed in scripts/apt-packages)",
            c.is_some(),
            d.is_some()
        ),
    }
}

struct Driver {
    child: Child,
    addr: SocketAddr,
    session: Option<String>,
}

impl Driver {
    fn start(driver: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let d = Self {
            child,
            addr,
            session: None,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(addr).is_ok()
                && request(addr, "GET", "/status", None, "").json()["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let full = match &self.session {
            Some(s) => format!("/session/{s}{path}"),
            None => path.to_owned(),
        };
        let body = if method == "GET" || method == "DELETE" {
            String::new()
        } else {
            body.to_string()
        };
        let r = request(self.addr, method, &full, None, &body);
        let v = r.json();
        assert_eq!(r.status, 200, "WebDriver {method} {full}: {v}");
        v["value"].clone()
    }

    fn new_session(&mut self, chromium: &Path, profile: &Path) {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1500,950",
                         "--no-first-run", "--disable-extensions",
                         format!("--user-data-dir={}", profile.display())],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let v = self.call("POST", "/session", caps);
        self.session = Some(v["sessionId"].as_str().unwrap().to_owned());
    }

    fn js(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// Waits until `script` returns true.
    fn wait(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.js(script) == true {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), json!({}));
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }

    /// Console entries at level SEVERE (errors, failed requests).
    fn console_errors(&self) -> Vec<String> {
        let v = self.call("POST", "/se/log", json!({"type": "browser"}));
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session) = &self.session {
            let _ = request(
                self.addr,
                "DELETE",
                &format!("/session/{session}"),
                None,
                "",
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One day of L-TOWN from the solver: (time, pressure at every node, flow
/// at every link), every 5 minutes.
type Day = Vec<(i64, Vec<f64>, Vec<f64>)>;

fn simulate_one_day(mut net: network::Network) -> Day {
    net.times.duration = 86_400;
    let n = net.nodes.len();
    let m = net.links.len();
    let mut sim = hydraulics::Simulation::from_network(net).unwrap();
    let mut out = Vec::new();
    loop {
        let step = sim.run().unwrap();
        let t = i64::try_from(step.time_s).unwrap();
        if t % 300 == 0 {
            out.push((
                T0 + t * 1000,
                (0..n).map(|i| sim.pressure_m(i)).collect(),
                (0..m).map(|k| sim.flow_lps(k) / 1000.0).collect(),
            ));
        }
        if sim.next() == 0 {
            break;
        }
    }
    out
}

#[test]
fn operators_page_in_chromium() {
    let (chromium, chromedriver) = browser_binaries();
    let dir = tempfile::tempdir().unwrap();
    let net = ltown();
    let map_file = repo_root().join("sensors/ltown-battledim.toml");
    let map = SensorMap::parse(
        &std::fs::read_to_string(&map_file).unwrap(),
        &map_file.to_string_lossy(),
    )
    .unwrap();
    let day = simulate_one_day(net.clone());
    let (end_ms, pressures, flows) = day.last().unwrap().clone();

    // The alert: a leak on a pipe in the middle of the network, its
    // candidate area the pipes sharing a node with it (weights fall off).
    let chosen = net.links.len() / 2;
    let (a, b) = (net.links[chosen].from, net.links[chosen].to);
    let mut candidates = vec![Candidate {
        pipe: net.links[chosen].id.clone(),
        weight: 0.5,
    }];
    for (k, l) in net.links.iter().enumerate() {
        if k != chosen && [l.from, l.to].iter().any(|x| *x == a || *x == b) {
            candidates.push(Candidate {
                pipe: l.id.clone(),
                weight: 0.1,
            });
        }
    }
    let start_ms = T0 + 10 * 3_600_000;
    let evidence_tags = ["n1", "n4", "n31"];
    let drop_m = 0.4;
    let event = LeakEvent {
        leak_key: "page-test-leak".into(),
        observed_ms: T0 + 14 * 3_600_000,
        estimated_start_ms: start_ms,
        size_lps: 3.2,
        confidence: 0.86,
        pipe: net.links[chosen].id.clone(),
        also_pipe: None,
        candidates: candidates.clone(),
        evidence: evidence_tags
            .iter()
            .map(|t| Evidence {
                sensor: (*t).into(),
                residual: -drop_m,
            })
            .collect(),
        place_uncertain: false,
        at_pump: None,
    };
    let state_dir = dir.path().join("state");
    let mut alerts = AlertStore::open(&state_dir).unwrap();
    let alert_id = alerts.upsert(&event).unwrap().alert().id;

    // The store: modelled and "measured" series at the evidence sensors.
    let db = dir.path().join("ts.sqlite");
    {
        let mut store = SqliteStore::open(&db).unwrap();
        let mut samples = Vec::new();
        for tag in evidence_tags {
            let node = net.node_index(tag).unwrap();
            for (t, p, _) in &day {
                let modelled = p[node];
                let measured = if *t >= start_ms {
                    modelled - drop_m
                } else {
                    modelled
                };
                samples.push(Sample::good(tag, *t, measured));
                samples.push(Sample::good(&format!("{tag}@model"), *t, modelled));
            }
        }
        store.write(&samples).unwrap();
    }

    // The live status: the sensor map, latest values from the solver, a few
    // sensors in each non-fresh state.
    let mut status = TwinStatus::from_sensor_map(&map);
    for (i, s) in status.sensors.iter_mut().enumerate() {
        s.state = match i % 29 {
            5 => SensorState::Stale,
            11 => SensorState::Faulty,
            17 => SensorState::Excluded,
            _ => SensorState::Fresh,
        };
        s.last_ts_ms = Some(end_ms);
        s.last_value = match s.element_type {
            twin::status::ElementType::Node => net.node_index(&s.element).map(|n| pressures[n]),
            twin::status::ElementType::Link => net.link_index(&s.element).map(|k| flows[k]),
        };
    }
    status.model_time_ms = Some(end_ms);
    status.samples_ingested = u64::try_from(day.len() * map.sensors.len()).unwrap();
    status.last_cycle_ms = Some(7.4);
    let status = status.into_handle();

    let factory: StoreFactory = Arc::new(move || {
        SqliteStore::open(&db).map(|s| Box::new(s) as Box<dyn telemetry::store::Store>)
    });
    let service = Service::new(Arc::new(Mutex::new(alerts)), Token::new(TOKEN))
        .with_network(Arc::new(net.clone()))
        .with_status(status)
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

    let mut driver = Driver::start(&chromedriver);
    driver.new_session(&chromium, &dir.path().join("profile"));
    driver.call("POST", "/url", json!({ "url": format!("http://{addr}/") }));

    // The map has every link of the model, and the sensors.
    let links = net.links.len();
    driver.wait(
        "the network's links on the map",
        &format!("return document.querySelectorAll('#links path').length === {links};"),
    );
    driver.wait(
        "the sensors on the map, coloured by state",
        "return document.querySelectorAll('#sensors circle.s-fresh').length > 0 \
         && document.querySelectorAll('#sensors circle.s-faulty').length > 0;",
    );
    // The alert appears in the list.
    let item = format!("#alerts li.alert[data-id='{alert_id}']");
    driver.wait(
        "the alert in the list",
        &format!("return document.querySelector(\"{item}\") !== null;"),
    );
    // Selecting it highlights its area and the chosen pipe.
    driver.click(&item);
    let n_cand = candidates.len();
    driver.wait(
        "the candidate area on the map",
        &format!(
            "return document.querySelectorAll('#area path.cand').length === {n_cand} \
             && document.querySelectorAll('#area path.chosen').length === 1;"
        ),
    );
    let chosen_pipe =
        driver.js("return document.querySelector('#area path.chosen').getAttribute('data-pipe');");
    assert_eq!(chosen_pipe, json!(net.links[chosen].id));
    // The evidence plot: measured and modelled at each evidence sensor.
    driver.wait(
        "the evidence plots",
        "return document.querySelectorAll('#evidence svg path.measured').length === 3 \
         && document.querySelectorAll('#evidence svg path.modelled').length === 3;",
    );
    // Hovering shows an id.
    driver.js("const p = document.querySelector('#links path');\
         const r = p.getBoundingClientRect();\
         p.dispatchEvent(new PointerEvent('pointermove', {bubbles: true, \
            clientX: r.x + r.width / 2, clientY: r.y + r.height / 2}));");
    driver.wait(
        "the tooltip",
        "return !document.getElementById('tooltip').hidden \
         && /^(pipe|pump|valve) /.test(document.getElementById('tooltip').textContent);",
    );

    // Acknowledge from the page: the token is asked for once.
    driver.type_into("#note", "crew dispatched");
    driver.click("#ack");
    driver.wait(
        "the token dialog",
        "return document.getElementById('token-dialog').open;",
    );
    driver.type_into("#token-input", TOKEN);
    driver.click("#token-ok");
    driver.wait(
        "the acknowledged state on the page",
        &format!("return document.querySelector(\"{item}\").dataset.state === 'acknowledged';"),
    );
    let a = request(addr, "GET", &format!("/api/alerts/{alert_id}"), None, "").json();
    assert_eq!(a["state"], "acknowledged");
    assert_eq!(a["note"], "crew dispatched");
    assert_eq!(
        driver.js("return sessionStorage.getItem('aquatwin-token');"),
        json!(TOKEN)
    );

    // The status bar.
    let bar = driver.js("return document.getElementById('statusbar').textContent;");
    assert!(
        bar.as_str().unwrap().contains("model time 2019-01-02"),
        "{bar}"
    );

    // The screenshot: under target/ (an artifact of the test run).
    let png = driver.call("GET", "/screenshot", Value::Null);
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("page-screenshot.png"), &png).unwrap();

    // Close it as a false alarm with a note: the token is not asked again.
    driver.call(
        "POST",
        &format!("/element/{}/clear", driver.element("#note")),
        json!({}),
    );
    driver.type_into("#note", "pump test");
    driver.js("const r = document.getElementById('resolution'); r.value = 'false_alarm';");
    driver.click("#close");
    driver.wait(
        "the closed state on the page",
        &format!("return document.querySelector(\"{item}\").dataset.state === 'closed';"),
    );
    assert_eq!(
        driver.js("return document.getElementById('token-dialog').open;"),
        json!(false)
    );
    let a = request(addr, "GET", &format!("/api/alerts/{alert_id}"), None, "").json();
    assert_eq!(
        (&a["state"], &a["resolution"], &a["note"]),
        (&json!("closed"), &json!("false_alarm"), &json!("pump test"))
    );

    // A placed alert says nothing of an uncertain place.
    assert_eq!(
        driver.js(&format!(
            "return document.querySelector(\"{item}\").dataset.place + ' ' \
             + document.querySelectorAll('#alerts .uncertain').length;"
        )),
        json!("pipe 0")
    );

    // A new alert from the detector's side appears without a reload (the
    // page follows the server-sent events). Its place is uncertain (the
    // water balance sees the leak, no report has placed it): the list, the
    // detail and the map say so, and the map marks no pipe as chosen. Its
    // signature points at a pump's station pipework, which the page names.
    driver.wait("the event stream", "return state.sse === true;");
    let mut second = AlertStore::open(&state_dir).unwrap();
    let new_id = second
        .upsert(&LeakEvent {
            leak_key: "page-test-leak-2".into(),
            confidence: 0.35,
            place_uncertain: true,
            at_pump: Some("PUMP_1".into()),
            ..event.clone()
        })
        .unwrap()
        .alert()
        .id;
    let new_item = format!("#alerts li.alert[data-id='{new_id}']");
    driver.wait(
        "the new alert without a reload",
        &format!("return document.querySelector(\"{new_item}\") !== null;"),
    );
    let label = driver.js(&format!(
        "const li = document.querySelector(\"{new_item}\");\
         const s = li.querySelector('.uncertain');\
         const p = li.querySelector('.pump');\
         return [li.dataset.place, s ? s.textContent : null, li.textContent, p ? p.textContent : null];"
    ));
    assert_eq!(label[0], "uncertain", "{label}");
    assert_eq!(label[1], "place uncertain — candidate area", "{label}");
    assert!(
        label[2]
            .as_str()
            .unwrap()
            .contains(&format!("best guess pipe {}", net.links[chosen].id)),
        "{label}"
    );
    const PUMP: &str = "pump PUMP_1's station: check the pump and its meter";
    assert_eq!(label[3], PUMP, "{label}");
    driver.click(&new_item);
    driver.wait(
        "the uncertain alert's candidate area, no pipe marked as chosen",
        &format!(
            "return document.querySelectorAll('#area path.cand').length === {n_cand} \
             && document.querySelectorAll('#area path.chosen').length === 0 \
             && document.querySelectorAll('#area path.guess').length === 1;"
        ),
    );
    let note = driver
        .js("const n = document.getElementById('area-note'); return [n.hidden, n.textContent];");
    assert_eq!(note[0], false, "{note}");
    assert!(
        note[1]
            .as_str()
            .unwrap()
            .contains("place uncertain — candidate area"),
        "{note}"
    );
    let place = driver.js(
        "const dt = [...document.querySelectorAll('#d-fields dt')].find(d => d.textContent === 'place');\
         return dt ? dt.nextElementSibling.textContent : null;",
    );
    assert_eq!(
        place,
        json!(format!("place uncertain — candidate area ({n_cand} pipes)")),
    );
    let station = driver.js(
        "const dt = [...document.querySelectorAll('#d-fields dt')].find(d => d.textContent === 'pump station');\
         return dt ? dt.nextElementSibling.textContent : null;",
    );
    assert_eq!(station, json!(PUMP));
    assert!(note[1].as_str().unwrap().contains(PUMP), "{note}");
    let png = driver.call("GET", "/screenshot", Value::Null);
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    std::fs::write(target.join("page-screenshot-uncertain.png"), &png).unwrap();

    // A report places it: the label goes, the chosen pipe is marked.
    second
        .upsert(&LeakEvent {
            leak_key: "page-test-leak-2".into(),
            observed_ms: event.observed_ms + 3_600_000,
            ..event.clone()
        })
        .unwrap();
    driver.wait(
        "the placed alert without a reload",
        &format!(
            "return document.querySelector(\"{new_item}\").dataset.place === 'pipe' \
             && document.querySelectorAll('#alerts .uncertain').length === 0 \
             && document.querySelectorAll('#alerts .pump').length === 0 \
             && document.getElementById('area-note').hidden \
             && document.querySelectorAll('#area path.chosen').length === 1;"
        ),
    );

    let errors = driver.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}
