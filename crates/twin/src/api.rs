//! The HTTP API over the alert store (axum).
//!
//! | route | what |
//! |---|---|
//! | `GET /api/alerts[?state=open\|acknowledged\|closed\|all]` | alerts, newest first (default: all) |
//! | `GET /api/alerts/{id}` | one alert |
//! | `POST /api/alerts/{id}/ack` | body `{"note": "..."}` (optional) — needs the token |
//! | `POST /api/alerts/{id}/close` | body `{"resolution": "repaired\|false_alarm\|duplicate", "note": "..."}` — needs the token |
//! | `GET /api/alerts/{id}/area` | the candidate area as GeoJSON in the model's coordinates (when the service has the network) |
//! | `GET /api/status` | the live [`TwinStatus`](crate::status::TwinStatus) |
//! | `GET /api/network.geojson` | the whole model (links, nodes, sensors) as GeoJSON |
//! | `GET /api/sensors/{tag}/series?from=&to=` | measured and modelled series of a sensor (ms or RFC 3339) |
//! | `GET /api/events` | server-sent events: `alert` (an [`AlertEvent`](crate::alerts::AlertEvent), id = its `event_id`) and `status` (the status when it changed) |
//! | `GET /metrics` | Prometheus text |
//! | `GET /` | the operators' page (embedded; see [`crate::page`]) |
//!
//! The modelled series of sensor `tag` is read from the store under the tag
//! `{tag}@model` ([`MODEL_SUFFIX`]): the run loop writes the model's value
//! at each sensor there, in the same SI unit as the measurement.
//!
//! Errors are JSON `{"error": "..."}`: 400 bad request, 401 missing or
//! wrong bearer token (with `WWW-Authenticate: Bearer`), 403 state-changing
//! calls while the service has no token, 404 unknown alert or route, 405
//! wrong method, 409 a lifecycle rule (acknowledging a closed alert, closing
//! twice), 413 a body over [`MAX_BODY_BYTES`]. The token is
//! compared in constant time and never logged nor echoed.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use network::Network;
use serde::Deserialize;

use telemetry::store::{Store, StoreError};

use crate::alerts::{Alert, AlertError, AlertState, AlertStore, Resolution};
use crate::status::{self, StatusHandle, TwinStatus};

pub use crate::live::model_tag;

/// The longest span `GET /api/sensors/{tag}/series` answers (days).
pub const MAX_SERIES_DAYS: i64 = 92;

/// Opens the configured time-series store (a new connection per request;
/// called on a blocking thread).
pub type StoreFactory = Arc<dyn Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync + 'static>;

/// Where the service listens unless told otherwise.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// The largest request body accepted (a note and a resolution).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The environment variable that holds the bearer token.
pub const TOKEN_ENV: &str = "AQUATWIN_TOKEN";

/// The bearer token for state-changing calls. Its `Debug` form is redacted
/// so that it cannot reach a log by accident.
#[derive(Clone)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {}", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the token file {} is empty", .0.display())]
    Empty(std::path::PathBuf),
}

impl Token {
    /// A token; `None` for an empty or blank string (there are no default
    /// or empty credentials). Surrounding whitespace is trimmed.
    pub fn new(secret: &str) -> Option<Self> {
        let secret = secret.trim();
        (!secret.is_empty()).then(|| Self(secret.to_owned()))
    }

    /// The token from `AQUATWIN_TOKEN` if set and not blank, else from
    /// `file` (first line, trimmed) if given, else none.
    pub fn from_environment(file: Option<&FsPath>) -> Result<Option<Self>, TokenError> {
        if let Some(token) = std::env::var(TOKEN_ENV).ok().as_deref().and_then(Self::new) {
            return Ok(Some(token));
        }
        let Some(path) = file else { return Ok(None) };
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let first = text.lines().next().unwrap_or("");
        Self::new(first)
            .map(Some)
            .ok_or_else(|| TokenError::Empty(path.to_path_buf()))
    }

    /// The secret itself (for clients and `bind_address_allowed`).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison (the time depends on the expected token's
    /// length only).
    fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        let mut diff = u8::from(expected.len() != presented.len());
        for (i, &e) in expected.iter().enumerate() {
            diff |= e ^ presented.get(i).copied().unwrap_or(0);
        }
        std::hint::black_box(diff) == 0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BindError {
    #[error(
        "refusing to listen on {0}: a non-loopback address needs a bearer token \
         (set {TOKEN_ENV} or a token file in the config)"
    )]
    NonLoopbackWithoutToken(SocketAddr),
}

/// The service may listen on a loopback address always, elsewhere only with
/// a (non-blank) token.
pub fn bind_address_allowed(addr: SocketAddr, token: Option<&str>) -> Result<(), BindError> {
    let has_token = token.is_some_and(|t| !t.trim().is_empty());
    if addr.ip().is_loopback() || has_token {
        Ok(())
    } else {
        Err(BindError::NonLoopbackWithoutToken(addr))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("HTTP server: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves the API on an already bound listener until the future is dropped,
/// after checking [`bind_address_allowed`] on its address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Mutex<AlertStore>>,
    token: Option<Token>,
    network: Option<Arc<Network>>,
) -> Result<(), ServeError> {
    let mut service = Service::new(store, token);
    service.network = network;
    service.serve(listener).await
}

/// Everything the HTTP service serves: the run loop builds one and calls
/// [`Service::serve`] (or [`Service::router`] to compose it further).
///
/// ```
/// use std::sync::Arc;
/// use twin::api::{Service, StoreFactory};
/// use twin::status::TwinStatus;
///
/// let dir = tempfile::tempdir()?;
/// let status = TwinStatus::default().into_handle(); // the run loop writes it
/// let db = dir.path().join("ts.sqlite");
/// let store: StoreFactory = Arc::new(move || {
///     telemetry::store::sqlite::SqliteStore::open(&db)
///         .map(|s| Box::new(s) as Box<dyn telemetry::store::Store>)
/// });
/// let router = Service::open(&dir.path().join("state"), None)?
///     .with_status(Arc::clone(&status))
///     .with_store(store)
///     .router(); // or `.serve(listener).await`
/// status.write().unwrap().record_cycle(1_546_300_800_000, 4.2, true);
/// # drop(router);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Service {
    /// The alert store (shared with the run loop).
    pub alerts: Arc<Mutex<AlertStore>>,
    /// The bearer token for state-changing calls; none: they are refused.
    pub token: Option<Token>,
    /// The model: the map, candidate areas, sensor places.
    pub network: Option<Arc<Network>>,
    /// The live status the run loop fills.
    pub status: StatusHandle,
    /// The time-series store, for the sensors' series.
    pub store: Option<StoreFactory>,
}

impl Service {
    /// A service over an alert store, with an empty status, no network and no
    /// time-series store.
    pub fn new(alerts: Arc<Mutex<AlertStore>>, token: Option<Token>) -> Self {
        Self {
            alerts,
            token,
            network: None,
            status: TwinStatus::default().into_handle(),
            store: None,
        }
    }

    /// [`Service::new`] over `state_dir/alerts.sqlite` (created if needed).
    pub fn open(state_dir: &FsPath, token: Option<Token>) -> Result<Self, AlertError> {
        let alerts = AlertStore::open(state_dir)?;
        Ok(Self::new(Arc::new(Mutex::new(alerts)), token))
    }

    pub fn with_network(mut self, network: Arc<Network>) -> Self {
        self.network = Some(network);
        self
    }

    pub fn with_status(mut self, status: StatusHandle) -> Self {
        self.status = status;
        self
    }

    pub fn with_store(mut self, store: StoreFactory) -> Self {
        self.store = Some(store);
        self
    }

    /// The routes (API, metrics and page).
    pub fn router(self) -> Router {
        build_router(AppState {
            store: self.alerts,
            token: self.token.map(Arc::new),
            network: self.network,
            status: self.status,
            series: self.store,
        })
    }

    /// Serves on an already bound listener until the future is dropped,
    /// after checking [`bind_address_allowed`] on its address.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> Result<(), ServeError> {
        let addr = listener.local_addr()?;
        bind_address_allowed(addr, self.token.as_ref().map(Token::expose))?;
        tracing::info!(%addr, token = self.token.is_some(), "twin API and page listening");
        axum::serve(listener, self.router()).await?;
        Ok(())
    }
}

#[derive(Clone)]
struct AppState {
    store: Arc<Mutex<AlertStore>>,
    token: Option<Arc<Token>>,
    network: Option<Arc<Network>>,
    status: StatusHandle,
    series: Option<StoreFactory>,
}

/// The API's routes over a shared store. Without a token every
/// state-changing call is refused (403); reads stay open.
pub fn router(store: Arc<Mutex<AlertStore>>, token: Option<Token>) -> Router {
    Service::new(store, token).router()
}

/// [`router`], with the network model for `GET /api/alerts/{id}/area`.
pub fn router_with_network(
    store: Arc<Mutex<AlertStore>>,
    token: Option<Token>,
    network: Option<Arc<Network>>,
) -> Router {
    let mut service = Service::new(store, token);
    service.network = network;
    service.router()
}

fn build_router(state: AppState) -> Router {
    Router::new()
        .route("/", get(crate::page::index))
        .route("/assets/{file}", get(crate::page::asset))
        .route("/api/status", get(get_status))
        .route("/api/events", get(events))
        .route("/api/network.geojson", get(network_geojson))
        .route("/api/sensors/{tag}/series", get(sensor_series))
        .route("/api/alerts", get(list_alerts))
        .route("/api/alerts/{id}", get(get_alert))
        .route("/api/alerts/{id}/area", get(alert_area))
        .route("/api/alerts/{id}/ack", post(ack_alert))
        .route("/api/alerts/{id}/close", post(close_alert))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// An error answer: status and a JSON body `{"error": message}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message }));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<AlertError> for ApiError {
    fn from(e: AlertError) -> Self {
        let status = match e {
            AlertError::NotFound(_) => StatusCode::NOT_FOUND,
            AlertError::Closed(_) | AlertError::AlreadyAcknowledged(_) => StatusCode::CONFLICT,
            AlertError::Invalid(_) => StatusCode::BAD_REQUEST,
            AlertError::CreateDir { .. } | AlertError::Sqlite(_) | AlertError::Corrupt(_) => {
                tracing::error!(error = %e, "alert store failed");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, "the alert store failed");
            }
        };
        Self::new(status, e.to_string())
    }
}

/// Runs `f` on the store in a blocking task (SQLite does file I/O).
async fn with_store<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut AlertStore) -> Result<T, AlertError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(&state.store);
    let joined = tokio::task::spawn_blocking(move || {
        let mut guard = store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    })
    .await;
    match joined {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(error = %e, "alert store task failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the alert store failed",
            ))
        }
    }
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "state-changing calls are disabled: the service was started without a token",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .and_then(|v| {
            let scheme = v.get(..7)?;
            scheme
                .eq_ignore_ascii_case(b"bearer ")
                .then(|| v[7..].trim_ascii())
        });
    match presented {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this call needs an Authorization: Bearer token",
        )),
        Some(p) if token.matches(p) => Ok(()),
        Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong token")),
    }
}

fn parse_id(path: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let Path(raw) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::bad_request(format!("alert id must be a positive integer, not {raw:?}"))
    })
}

fn parse_body<T: for<'de> Deserialize<'de> + Default>(
    body: Result<Bytes, BytesRejection>,
    required: bool,
) -> Result<T, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return if required {
            Err(ApiError::bad_request("this call needs a JSON body"))
        } else {
            Ok(T::default())
        };
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
}

async fn list_alerts(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let filter = match query.state.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(AlertState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown state {s:?}: expected open, acknowledged, closed or all"
            ))
        })?),
    };
    with_store(&state, move |store| store.list(filter))
        .await
        .map(Json)
}

async fn get_alert(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Alert>, ApiError> {
    let id = parse_id(path)?;
    with_store(&state, move |store| store.get(id))
        .await
        .map(Json)
}

async fn alert_area(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = parse_id(path)?;
    let Some(network) = state.network.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "the service has no network model: no candidate area",
        ));
    };
    let alert = with_store(&state, move |store| store.get(id)).await?;
    let body = crate::geojson::candidate_area(&alert, &network);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/geo+json"),
        )],
        body.to_string(),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AckBody {
    note: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    resolution: Option<Resolution>,
    note: Option<String>,
}

async fn ack_alert(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Alert>, ApiError> {
    authorize(&state, &headers)?;
    let id = parse_id(path)?;
    let AckBody { note } = parse_body(body, false)?;
    let alert = with_store(&state, move |store| {
        store.acknowledge(id, note.as_deref(), now_ms())
    })
    .await?;
    tracing::debug!(id, "acknowledged through the API");
    Ok(Json(alert))
}

async fn close_alert(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Alert>, ApiError> {
    authorize(&state, &headers)?;
    let id = parse_id(path)?;
    let CloseBody { resolution, note } = parse_body(body, true)?;
    let resolution = resolution.ok_or_else(|| {
        ApiError::bad_request("closing needs a resolution: repaired, false_alarm or duplicate")
    })?;
    let alert = with_store(&state, move |store| {
        store.close(id, resolution, note.as_deref(), now_ms())
    })
    .await?;
    tracing::debug!(
        id,
        resolution = resolution.as_str(),
        "closed through the API"
    );
    Ok(Json(alert))
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let counts = with_store(&state, |store| store.counts()).await?;
    let open = counts
        .iter()
        .find(|(s, _)| *s == AlertState::Open)
        .map_or(0, |(_, n)| *n);
    let mut text = String::new();
    text.push_str("# HELP aquatwin_open_alerts Alerts open and not yet acknowledged.\n");
    text.push_str("# TYPE aquatwin_open_alerts gauge\n");
    text.push_str(&format!("aquatwin_open_alerts {open}\n"));
    text.push_str("# HELP aquatwin_alerts_total Alerts in the store, by lifecycle state.\n");
    text.push_str("# TYPE aquatwin_alerts_total gauge\n");
    for (s, n) in counts {
        text.push_str(&format!(
            "aquatwin_alerts_total{{state=\"{}\"}} {n}\n",
            s.as_str()
        ));
    }
    let st = status::snapshot(&state.status);
    text.push_str("# HELP aquatwin_sensors Sensors by data state.\n");
    text.push_str("# TYPE aquatwin_sensors gauge\n");
    for (s, n) in st.sensor_counts() {
        text.push_str(&format!(
            "aquatwin_sensors{{state=\"{}\"}} {n}\n",
            s.as_str()
        ));
    }
    let stale = st
        .sensors
        .iter()
        .filter(|s| s.state != status::SensorState::Fresh)
        .count();
    text.push_str("# HELP aquatwin_stale_sensors Sensors not fresh (stale, excluded or faulty).\n");
    text.push_str("# TYPE aquatwin_stale_sensors gauge\n");
    text.push_str(&format!("aquatwin_stale_sensors {stale}\n"));
    text.push_str("# HELP aquatwin_samples_ingested_total Samples ingested since the start.\n");
    text.push_str("# TYPE aquatwin_samples_ingested_total counter\n");
    text.push_str(&format!(
        "aquatwin_samples_ingested_total {}\n",
        st.samples_ingested
    ));
    text.push_str("# HELP aquatwin_degraded 1 when the twin runs degraded.\n");
    text.push_str("# TYPE aquatwin_degraded gauge\n");
    text.push_str(&format!("aquatwin_degraded {}\n", u8::from(st.degraded)));
    text.push_str("# HELP aquatwin_catching_up 1 while the backlog is processed.\n");
    text.push_str("# TYPE aquatwin_catching_up gauge\n");
    text.push_str(&format!(
        "aquatwin_catching_up {}\n",
        u8::from(st.catching_up)
    ));
    if let Some(ms) = st.last_cycle_ms {
        text.push_str("# HELP aquatwin_cycle_seconds Duration of the last model cycle.\n");
        text.push_str("# TYPE aquatwin_cycle_seconds gauge\n");
        text.push_str(&format!("aquatwin_cycle_seconds {}\n", ms / 1000.0));
    }
    if let Some(ms) = st.model_time_ms {
        text.push_str(
            "# HELP aquatwin_model_time_seconds Data time reached by the model (Unix).\n",
        );
        text.push_str("# TYPE aquatwin_model_time_seconds gauge\n");
        text.push_str(&format!(
            "aquatwin_model_time_seconds {}\n",
            ms as f64 / 1000.0
        ));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

/// How often `/api/events` looks for new alert events and status changes.
const EVENTS_POLL: std::time::Duration = std::time::Duration::from_millis(500);

struct EventsCursor {
    state: AppState,
    after: Option<i64>,
    last_status: String,
    queue: std::collections::VecDeque<axum::response::sse::Event>,
    first: bool,
}

/// Server-sent events: every alert event after the client's `Last-Event-ID`
/// (or from now on), and the status whenever it changes (first at once).
async fn events(State(state): State<AppState>, headers: HeaderMap) -> Response {
    use axum::response::sse::{KeepAlive, Sse};
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let cursor = EventsCursor {
        state,
        after,
        last_status: String::new(),
        queue: std::collections::VecDeque::new(),
        first: true,
    };
    let stream = futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(ev) = c.queue.pop_front() {
                return Some((Ok::<_, Infallible>(ev), c));
            }
            if !c.first {
                tokio::time::sleep(EVENTS_POLL).await;
            }
            c.first = false;
            c.fill().await;
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

impl EventsCursor {
    async fn fill(&mut self) {
        use axum::response::sse::Event;
        let after = self.after;
        let found = with_store(&self.state, move |store| match after {
            Some(a) => Ok((a, store.events_after(a, 100)?)),
            // From now on: start after the newest event.
            None => Ok((store.last_event_id()?, Vec::new())),
        })
        .await;
        // A store failure is logged by with_store; the next round tries again.
        if let Ok((start, events)) = found {
            self.after = Some(start);
            for e in events {
                self.after = Some(e.event_id);
                if let Ok(ev) = Event::default()
                    .event("alert")
                    .id(e.event_id.to_string())
                    .json_data(&e)
                {
                    self.queue.push_back(ev);
                }
            }
        }
        let status =
            serde_json::to_string(&status::snapshot(&self.state.status)).unwrap_or_default();
        if status != self.last_status {
            self.queue
                .push_back(Event::default().event("status").data(status.clone()));
            self.last_status = status;
        }
    }
}

async fn get_status(State(state): State<AppState>) -> Json<TwinStatus> {
    Json(status::snapshot(&state.status))
}

async fn network_geojson(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(network) = state.network.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "the service has no network model",
        ));
    };
    let sensors = status::snapshot(&state.status).sensors;
    let body = crate::geojson::network(&network, &sensors);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/geo+json"),
        )],
        body.to_string(),
    )
        .into_response())
}

#[derive(Deserialize)]
struct SeriesQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A time given as epoch milliseconds or RFC 3339 (`2019-01-01T00:00:00Z`).
fn parse_time(name: &str, raw: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = raw.trim().parse::<i64>() {
        return Ok(ms);
    }
    raw.trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| {
            ApiError::bad_request(format!(
                "{name}={raw:?}: expected epoch milliseconds or an RFC 3339 time \
                 such as 2019-01-01T00:00:00Z ({e})"
            ))
        })
}

fn series_points(samples: &[telemetry::Sample]) -> Vec<(i64, Option<f64>)> {
    samples
        .iter()
        .map(|s| {
            let good = s.quality == telemetry::Quality::Good;
            (s.ts_ms, s.value.filter(|v| good && v.is_finite()))
        })
        .collect()
}

async fn sensor_series(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<SeriesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(tag) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let st = status::snapshot(&state.status);
    let sensor = st.sensors.iter().find(|s| s.tag == tag);
    if sensor.is_none() && !st.sensors.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no sensor {tag:?}"),
        ));
    }
    let unit = sensor.map(|s| s.unit.clone());
    let to_ms = match &query.to {
        Some(raw) => parse_time("to", raw)?,
        None => st.model_time_ms.unwrap_or_else(now_ms),
    };
    let from_ms = match &query.from {
        Some(raw) => parse_time("from", raw)?,
        None => to_ms - 86_400_000,
    };
    if from_ms >= to_ms {
        return Err(ApiError::bad_request(format!(
            "from ({from_ms}) must be before to ({to_ms})"
        )));
    }
    if to_ms - from_ms > MAX_SERIES_DAYS * 86_400_000 {
        return Err(ApiError::bad_request(format!(
            "the span is longer than {MAX_SERIES_DAYS} days"
        )));
    }
    let Some(factory) = state.series.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "the service has no time-series store",
        ));
    };
    let model_tag = model_tag(&tag);
    let (tag2, model_tag2) = (tag.clone(), model_tag.clone());
    let joined = tokio::task::spawn_blocking(move || {
        let mut store = factory()?;
        let measured = store.query(&tag2, from_ms, to_ms)?;
        let modelled = store.query(&model_tag2, from_ms, to_ms)?;
        Ok::<_, StoreError>((series_points(&measured), series_points(&modelled)))
    })
    .await;
    let (measured, modelled) = match joined {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, tag, "series query failed");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the time-series store failed: {e}"),
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "series task failed");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the series query failed",
            ));
        }
    };
    Ok(Json(serde_json::json!({
        "tag": tag,
        "model_tag": model_tag,
        "unit": unit,
        "from_ms": from_ms,
        "to_ms": to_ms,
        "measured": measured,
        "modelled": modelled,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_always_allowed_elsewhere_only_with_a_token() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let lan: SocketAddr = "192.168.1.5:80".parse().unwrap();
        assert_eq!(bind_address_allowed(lo, None), Ok(()));
        assert_eq!(bind_address_allowed(lo6, None), Ok(()));
        assert_eq!(
            bind_address_allowed(any, None),
            Err(BindError::NonLoopbackWithoutToken(any))
        );
        assert!(bind_address_allowed(lan, Some("  ")).is_err());
        assert_eq!(bind_address_allowed(lan, Some("s3cret")), Ok(()));
    }

    #[test]
    fn token_compare_and_redaction() {
        let t = Token::new(" s3cret\n").unwrap();
        assert!(t.matches(b"s3cret"));
        assert!(!t.matches(b"s3cre"));
        assert!(!t.matches(b"s3cretX"));
        assert!(!t.matches(b"S3cret"));
        assert!(!t.matches(b""));
        assert!(Token::new("   ").is_none());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn token_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc123\n").unwrap();
        // The environment wins when set; tests do not set it.
        if std::env::var_os(TOKEN_ENV).is_none() {
            let t = Token::from_environment(Some(&path)).unwrap().unwrap();
            assert!(t.matches(b"abc123"));
            assert!(Token::from_environment(None).unwrap().is_none());
            std::fs::write(&path, "\n").unwrap();
            assert!(matches!(
                Token::from_environment(Some(&path)),
                Err(TokenError::Empty(_))
            ));
        }
    }
}
