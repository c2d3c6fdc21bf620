//! The HTTP API over the alert store (axum).
//!
//! | route | what |
//! |---|---|
//! | `GET /api/alerts[?state=open\|acknowledged\|closed\|all]` | alerts, newest first (default: all) |
//! | `GET /api/alerts/{id}` | one alert |
//! | `POST /api/alerts/{id}/ack` | body `{"note": "..."}` (optional) — needs the token |
//! | `POST /api/alerts/{id}/close` | body `{"resolution": "repaired\|false_alarm\|duplicate", "note": "..."}` — needs the token |
//! | `GET /api/alerts/{id}/area` | the candidate area as GeoJSON in the model's coordinates (when the service has the network) |
//! | `GET /metrics` | Prometheus text |
//!
//! Errors are JSON `{"error": "..."}`: 400 bad request, 401 missing or
//! wrong bearer token (with `WWW-Authenticate: Bearer`), 403 state-changing
//! calls while the service has no token, 404 unknown alert or route, 405
//! wrong method, 409 a lifecycle rule (acknowledging a closed alert, closing
//! twice), 413 a body over [`MAX_BODY_BYTES`]. The token is
//! compared in constant time and never logged nor echoed.

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

use crate::alerts::{Alert, AlertError, AlertState, AlertStore, Resolution};

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
    let addr = listener.local_addr()?;
    bind_address_allowed(addr, token.as_ref().map(Token::expose))?;
    tracing::info!(%addr, token = token.is_some(), "alerts API listening");
    axum::serve(listener, router_with_network(store, token, network)).await?;
    Ok(())
}

#[derive(Clone)]
struct AppState {
    store: Arc<Mutex<AlertStore>>,
    token: Option<Arc<Token>>,
    network: Option<Arc<Network>>,
}

/// The API's routes over a shared store. Without a token every
/// state-changing call is refused (403); reads stay open.
pub fn router(store: Arc<Mutex<AlertStore>>, token: Option<Token>) -> Router {
    router_with_network(store, token, None)
}

/// [`router`], with the network model for `GET /api/alerts/{id}/area`.
pub fn router_with_network(
    store: Arc<Mutex<AlertStore>>,
    token: Option<Token>,
    network: Option<Arc<Network>>,
) -> Router {
    let state = AppState {
        store,
        token: token.map(Arc::new),
        network,
    };
    Router::new()
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
    tracing::info!(id, "alert acknowledged");
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
    tracing::info!(id, resolution = resolution.as_str(), "alert closed");
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
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
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
