//! Webhook delivery end to end: alert events written through the
//! `AlertStore` (real SQLite), a deliverer in its own process (this test
//! binary re-run as a child), a real HTTP receiver (axum on 127.0.0.1) that
//! checks every signature. The receiver is down at first, then answers 503
//! twice; the deliverer is SIGKILLed once mid-stream and restarted; more
//! events are written while it is dead. Every event must arrive, in order,
//! correctly signed.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use twin::alerts::{AlertStore, Candidate, Evidence, LeakEvent, Resolution};
use twin::webhook::{self, Secret, Webhook};

const SECRET: &str = "webhook-test-secret-77d1";
const CHILD_ENV: &str = "AQUATWIN_TEST_WEBHOOK_STATE";
const URL_ENV: &str = "AQUATWIN_TEST_WEBHOOK_URL";

fn event(key: &str, at: i64, size: f64, pipe: &str) -> LeakEvent {
    LeakEvent {
        leak_key: key.into(),
        observed_ms: at,
        estimated_start_ms: at - 3_600_000,
        size_lps: size,
        confidence: 0.7,
        pipe: pipe.into(),
        also_pipe: None,
        candidates: vec![Candidate {
            pipe: pipe.into(),
            weight: 1.0,
        }],
        evidence: vec![Evidence {
            sensor: "n1".into(),
            residual: -0.2,
        }],
        place_uncertain: false,
        at_pump: None,
    }
}

/// The deliverer, when this binary is run as the child process.
#[test]
fn deliverer_child_process() {
    let (Some(state), Some(url)) = (std::env::var_os(CHILD_ENV), std::env::var(URL_ENV).ok())
    else {
        return; // run as a normal test: nothing to do
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let hook = Webhook::new(&url, Secret::new(SECRET).unwrap())
        .unwrap()
        .with_timeout(Duration::from_secs(2))
        .with_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .with_poll(Duration::from_millis(50));
    match runtime.block_on(hook.run(state.into())) {
        Err(e) => panic!("the deliverer stopped: {e}"),
        Ok(never) => match never {},
    }
}

fn spawn_deliverer(state: &Path, url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "deliverer_child_process", "--test-threads=1"])
        .env(CHILD_ENV, state)
        .env(URL_ENV, url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// What the receiver saw: (event id, event kind, signature valid, the
/// alert's `place_uncertain`).
type Seen = Arc<Mutex<Vec<(i64, String, bool, bool)>>>;

/// A receiver that answers 503 to its first two requests (a receiver having
/// trouble: the event must come again), then records and answers 204.
fn start_receiver(runtime: &tokio::runtime::Runtime, port: u16, seen: Seen) {
    let secret = Secret::new(SECRET).unwrap();
    let refused = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let seen = Arc::clone(&seen);
            let secret = secret.clone();
            let refused = Arc::clone(&refused);
            async move {
                use std::sync::atomic::Ordering;
                if refused.load(Ordering::SeqCst) < 2 {
                    refused.fetch_add(1, Ordering::SeqCst);
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                // Slow enough that the deliverer can be killed mid-stream.
                tokio::time::sleep(Duration::from_millis(80)).await;
                let sig = headers
                    .get(webhook::SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let ok = webhook::verify(&secret, &body, sig);
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(
                    headers[webhook::EVENT_HEADER].to_str().unwrap(),
                    v["event"].as_str().unwrap()
                );
                seen.lock().unwrap().push((
                    v["event_id"].as_i64().unwrap(),
                    v["event"].as_str().unwrap().to_owned(),
                    ok,
                    v["alert"]["place_uncertain"]
                        .as_bool()
                        .expect("place_uncertain in the payload"),
                ));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_event_in_order_through_receiver_outage_and_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut store = AlertStore::open(&state).unwrap();
    let a = store
        .upsert(&event("a", 1_000, 1.0, "p1"))
        .unwrap()
        .alert()
        .id;
    store.upsert(&event("a", 2_000, 2.0, "p1")).unwrap();
    // Leak b: its place uncertain at first, placed by a later report.
    let b = store
        .upsert(&LeakEvent {
            place_uncertain: true,
            at_pump: None,
            ..event("b", 3_000, 1.5, "p7")
        })
        .unwrap()
        .alert()
        .id;
    store.acknowledge(a, Some("crew sent"), 4_000).unwrap();
    store.upsert(&event("a", 5_000, 2.5, "p2")).unwrap();

    // A port for the receiver, which is not there yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut child = spawn_deliverer(&state, &url);
    // The receiver is down: the deliverer retries with back-off.
    std::thread::sleep(Duration::from_millis(1200));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let seen: Seen = Arc::default();
    start_receiver(&runtime, port, Arc::clone(&seen));
    wait_until("the first deliveries", Duration::from_secs(20), || {
        seen.lock().unwrap().len() >= 2
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before_kill = seen.lock().unwrap().len();

    // While the deliverer is dead, the alerts move on.
    store
        .close(a, Resolution::Repaired, Some("fixed"), 6_000)
        .unwrap();
    store.upsert(&event("b", 7_000, 3.0, "p7")).unwrap();
    store.acknowledge(b, None, 8_000).unwrap();
    store
        .close(b, Resolution::FalseAlarm, Some("pump test"), 9_000)
        .unwrap();
    let journal = store.events_after(0, 1000).unwrap();
    assert_eq!(journal.len(), 9);

    let mut child = spawn_deliverer(&state, &url);
    wait_until("every event", Duration::from_secs(30), || {
        let s = seen.lock().unwrap();
        s.last().is_some_and(|(id, ..)| *id == 9)
    });
    child.kill().unwrap();
    child.wait().unwrap();

    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|(_, _, ok, _)| *ok),
        "bad signature: {seen:?}"
    );
    // In order: ids never go back (an event whose answer was cut by the
    // kill may come twice, one after the other).
    assert!(
        seen.windows(2).all(|w| w[0].0 <= w[1].0),
        "out of order: {seen:?}"
    );
    let mut distinct: Vec<(i64, String, bool)> = seen
        .iter()
        .map(|(i, k, _, u)| (*i, k.clone(), *u))
        .collect();
    distinct.dedup();
    let expected: Vec<(i64, String, bool)> = journal
        .iter()
        .map(|e| {
            (
                e.event_id,
                e.event.as_str().to_owned(),
                e.alert.place_uncertain,
            )
        })
        .collect();
    assert_eq!(distinct, expected);
    assert!(
        seen.len() <= expected.len() + 1,
        "more than one duplicate: {seen:?}"
    );
    assert!(
        before_kill < expected.len(),
        "the kill came after everything"
    );
    assert_eq!(
        expected
            .iter()
            .map(|(_, k, _)| k.as_str())
            .collect::<Vec<_>>(),
        [
            "opened",
            "updated",
            "opened",
            "acknowledged",
            "updated",
            "closed",
            "updated",
            "acknowledged",
            "closed"
        ]
    );
    // b's place: uncertain from its opening until the report at 7 000 ms.
    let uncertain: Vec<bool> = expected.iter().map(|(_, _, u)| *u).collect();
    assert_eq!(
        uncertain,
        [false, false, true, false, false, false, false, false, false]
    );
}
