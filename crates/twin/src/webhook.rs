//! Alert events delivered to a webhook: one JSON POST per event (opened,
//! updated, acknowledged, closed), signed with HMAC-SHA256, in order, from
//! the durable outbox that [`AlertStore`] writes in the same transaction as
//! the alert change.
//!
//! **Delivery.** [`Webhook::run`] reads the outbox from the last delivered
//! event (the `deliveries` row named [`CONSUMER`] in `alerts.sqlite`), POSTs
//! each event and records it as delivered only after a 2xx answer. Any other
//! answer, a refused connection or a time-out is retried with exponential
//! back-off (0.5 s doubling up to `max_backoff`), forever: nothing is
//! dropped, and nothing after an undelivered event is sent before it. A
//! receiver that is down gets everything once it is back; a deliverer killed
//! at any point (SIGKILL included) resumes from the outbox. Delivery is
//! *at least once*: an event whose answer was lost is sent again, with the
//! same `event_id`, which receivers use to drop duplicates.
//!
//! **Request.** `POST url`, `Content-Type: application/json`, the body an
//! [`AlertEvent`] (`event_id`, `event`, `at_ms`, `alert`), and headers
//! `X-Aquatwin-Event` (the event kind), `X-Aquatwin-Delivery` (the event
//! id) and `X-Aquatwin-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the
//! exact body bytes under the shared secret ([`sign`], [`verify`]).
//!
//! **Secret.** From `AQUATWIN_WEBHOOK_SECRET`, else the first line of
//! `[twin.webhook] secret_file`; there is no unsigned mode. It is never
//! logged (its `Debug` is redacted).
//!
//! Plain `http://` only: hyper's HTTP/1 client without a TLS stack; an
//! `https` receiver is reached through a local reverse proxy.

use std::convert::Infallible;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use telemetry::config::WebhookSettings;

use crate::alerts::{AlertError, AlertEvent, AlertStore};

/// The environment variable holding the webhook's HMAC secret.
pub const SECRET_ENV: &str = "AQUATWIN_WEBHOOK_SECRET";
/// The outbox consumer name of the webhook deliverer.
pub const CONSUMER: &str = "webhook";
pub const SIGNATURE_HEADER: &str = "x-aquatwin-signature-256";
pub const EVENT_HEADER: &str = "x-aquatwin-event";
pub const DELIVERY_HEADER: &str = "x-aquatwin-delivery";

/// The HMAC key. Its `Debug` form is redacted.
#[derive(Clone)]
pub struct Secret(Arc<[u8]>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// A secret; none for a blank one. Surrounding whitespace is trimmed.
    pub fn new(secret: &str) -> Option<Self> {
        let s = secret.trim();
        (!s.is_empty()).then(|| Self(Arc::from(s.as_bytes())))
    }

    /// From `AQUATWIN_WEBHOOK_SECRET` if set and not blank, else the first
    /// line of `file`; an error when neither gives one.
    pub fn from_environment(file: Option<&Path>) -> Result<Self, WebhookError> {
        if let Some(s) = std::env::var(SECRET_ENV)
            .ok()
            .as_deref()
            .and_then(Self::new)
        {
            return Ok(s);
        }
        let Some(path) = file else {
            return Err(WebhookError::NoSecret);
        };
        let text = std::fs::read_to_string(path).map_err(|source| WebhookError::ReadSecret {
            path: path.to_path_buf(),
            source,
        })?;
        Self::new(text.lines().next().unwrap_or(""))
            .ok_or_else(|| WebhookError::EmptySecret(path.to_path_buf()))
    }
}

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Whether `header` is the right signature of `body` (constant time).
pub fn verify(secret: &Secret, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 {
        return false;
    }
    let mut expected = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| char::from(c).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(h), Some(l)) => expected[i] = u8::try_from(h * 16 + l).unwrap_or(0),
            _ => return false,
        }
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "the webhook has no secret: set {SECRET_ENV} or [twin.webhook] secret_file \
         (events are always signed)"
    )]
    NoSecret,
    #[error("cannot read the webhook secret file {}", path.display())]
    ReadSecret {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the webhook secret file {} is empty", .0.display())]
    EmptySecret(PathBuf),
    #[error("webhook url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error(transparent)]
    Store(#[from] AlertError),
}

/// Why one delivery attempt failed (it will be retried).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("cannot connect: {0}")]
    Connect(#[source] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the receiver answered {0}")]
    Status(u16),
}

/// A configured webhook.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    authority: String,
    path: String,
    secret: Secret,
    timeout: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    poll: Duration,
}

impl Webhook {
    /// A webhook to `url` (`http://host:port/path`) with the default timing:
    /// 10 s per attempt, back-off 0.5 s doubling to 300 s, the outbox looked
    /// at every 0.5 s when idle.
    pub fn new(url: &str, secret: Secret) -> Result<Self, WebhookError> {
        let bad = |reason: &str| WebhookError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// is supported"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        Ok(Self {
            url: url.to_owned(),
            authority: format!("{}:{port}", authority.host()),
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            secret,
            timeout: Duration::from_secs(10),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(300),
            poll: Duration::from_millis(500),
        })
    }

    /// From `[twin.webhook]`, reading the secret.
    pub fn from_settings(settings: &WebhookSettings) -> Result<Self, WebhookError> {
        let secret = Secret::from_environment(settings.secret_file.as_deref())?;
        Ok(Self::new(&settings.url, secret)?
            .with_timeout(settings.timeout)
            .with_backoff(Duration::from_millis(500), settings.max_backoff))
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries wait `min`, 2·`min`, 4·`min`, … up to `max`.
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self
    }

    /// How often an idle deliverer looks at the outbox.
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// One attempt: POSTs the event, `Ok` on a 2xx answer.
    pub async fn post(&self, event: &AlertEvent) -> Result<(), DeliveryError> {
        let body = Bytes::from(serde_json::to_vec(event).unwrap_or_default());
        match tokio::time::timeout(self.timeout, self.post_once(event, body)).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Timeout(self.timeout)),
        }
    }

    async fn post_once(&self, event: &AlertEvent, body: Bytes) -> Result<(), DeliveryError> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(DeliveryError::Connect)?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let conn = tokio::spawn(conn);
        let header = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static(""));
        let request = Request::post(self.path.as_str())
            .header(HOST, header(&self.authority))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(EVENT_HEADER, header(event.event.as_str()))
            .header(DELIVERY_HEADER, header(&event.event_id.to_string()))
            .header(SIGNATURE_HEADER, header(&sign(&self.secret, &body)))
            .body(Full::new(body))
            .map_err(|e| {
                DeliveryError::Connect(std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
            })?;
        let answer = sender.send_request(request).await;
        conn.abort();
        let status = answer?.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Status(status.as_u16()))
        }
    }

    /// Starts delivering for a loaded `twin.toml`: none when it has no
    /// `[twin.webhook]`; an error (say it and stop) when the webhook is
    /// configured but has no usable secret or URL. Needs a tokio runtime.
    pub fn spawn_configured(
        config: &telemetry::config::TwinConfig,
    ) -> Result<Option<tokio::task::JoinHandle<Result<Infallible, WebhookError>>>, WebhookError>
    {
        let Some(settings) = &config.webhook else {
            return Ok(None);
        };
        let hook = Self::from_settings(settings)?;
        Ok(Some(tokio::spawn(hook.run(config.state_dir.clone()))))
    }

    /// Delivers the outbox of `state_dir/alerts.sqlite` in order, forever
    /// (stop it by dropping or aborting the future; what was not
    /// acknowledged by the receiver is sent again next time).
    pub async fn run(self, state_dir: PathBuf) -> Result<Infallible, WebhookError> {
        let dir = state_dir.clone();
        let store = blocking(move || AlertStore::open(&dir)).await?;
        let store = Arc::new(Mutex::new(store));
        tracing::info!(url = %self.url, state_dir = %state_dir.display(), "webhook deliverer started");
        let mut store_backoff = self.min_backoff;
        loop {
            let s = Arc::clone(&store);
            let pending = blocking(move || {
                let guard = s.lock().unwrap_or_else(|p| p.into_inner());
                let after = guard.delivered(CONSUMER)?;
                guard.events_after(after, 64)
            })
            .await;
            let pending = match pending {
                Ok(p) => {
                    store_backoff = self.min_backoff;
                    p
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?store_backoff, "webhook: cannot read the outbox");
                    tokio::time::sleep(store_backoff).await;
                    store_backoff = (store_backoff * 2).min(self.max_backoff);
                    continue;
                }
            };
            if pending.is_empty() {
                tokio::time::sleep(self.poll).await;
                continue;
            }
            for event in pending {
                self.deliver(&event).await;
                let s = Arc::clone(&store);
                let id = event.event_id;
                // Recording may fail (disk full, locked): retry it, the
                // receiver has the event already.
                loop {
                    let s = Arc::clone(&s);
                    let done = blocking(move || {
                        s.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .set_delivered(CONSUMER, id)
                    })
                    .await;
                    match done {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, event_id = id, "webhook: cannot record a delivery");
                            tokio::time::sleep(self.min_backoff).await;
                        }
                    }
                }
            }
        }
    }

    /// Posts until the receiver takes it.
    async fn deliver(&self, event: &AlertEvent) {
        let mut wait = self.min_backoff;
        let mut attempt = 1u32;
        loop {
            match self.post(event).await {
                Ok(()) => {
                    tracing::info!(
                        event_id = event.event_id,
                        event = event.event.as_str(),
                        alert_id = event.alert.id,
                        attempt,
                        "webhook delivered"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(
                        event_id = event.event_id,
                        event = event.event.as_str(),
                        alert_id = event.alert.id,
                        attempt,
                        error = %e,
                        retry_in = ?wait,
                        "webhook delivery failed"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.max_backoff);
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AlertError> + Send + 'static,
) -> Result<T, AlertError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(AlertError::Corrupt(format!("store task failed: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let k = Secret::new(" key\n").unwrap();
        let sig = sign(&k, b"body");
        assert!(sig.starts_with("sha256=") && sig.len() == 71);
        assert!(verify(&k, b"body", &sig));
        assert!(!verify(&k, b"body!", &sig));
        assert!(!verify(&Secret::new("other").unwrap(), b"body", &sig));
        assert!(!verify(&k, b"body", "sha256=zz"));
        assert!(!verify(&k, b"body", &sig.replace("sha256=", "sha1=")));
        assert!(Secret::new("  ").is_none());
        assert_eq!(format!("{k:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn urls() {
        let k = Secret::new("k").unwrap();
        let w = Webhook::new("http://127.0.0.1:9000/a/b?x=1", k.clone()).unwrap();
        assert_eq!(
            (w.authority.as_str(), w.path.as_str()),
            ("127.0.0.1:9000", "/a/b?x=1")
        );
        let w = Webhook::new("http://hooks.example", k.clone()).unwrap();
        assert_eq!(
            (w.authority.as_str(), w.path.as_str()),
            ("hooks.example:80", "/")
        );
        for bad in ["https://x/", "ftp://x", "not a url", "/path"] {
            assert!(Webhook::new(bad, k.clone()).is_err(), "{bad}");
        }
    }
}
