//! The operators' page: one HTML file, one script and one style sheet,
//! embedded in the binary (`include_str!`) and served on the API's port at
//! `GET /` and `GET /assets/{app.js,app.css}`.
//!
//! It needs nothing but this service: the map is drawn in SVG from the
//! model's own coordinates (`GET /api/network.geojson`), the evidence plot
//! is SVG too, there is no external host, no library and no build step. A
//! `Content-Security-Policy` of `'self'` makes the browser refuse anything
//! else. The page follows `/api/events` (server-sent events: alert changes and
//! status changes as they happen) and polls `/api/status` and `/api/alerts`
//! as a safety net (every 15 s while events flow, every 2 s otherwise).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// Only this origin; no inline script; `data:` images for the empty icon.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

fn page_response(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    page_response("text/html; charset=utf-8", INDEX_HTML)
}

pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.js" => page_response("text/javascript; charset=utf-8", APP_JS),
        "app.css" => page_response("text/css; charset=utf-8", APP_CSS),
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": "no such asset" })),
        )
            .into_response(),
    }
}
