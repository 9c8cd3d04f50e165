//! Shared scaffold for the simulators: the hyper 1 server bound to `127.0.0.1:0` (stopped on
//! drop), fault injection and the request counter ([`Fault`], `Control`), form
//! encoding/decoding, and a small plain-HTTP client ([`post`], [`request`]) used to deliver
//! webhooks to the system under test.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// A fault to inject into the next API calls (see `fail_next` on each simulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with the provider's real HTTP 429 body, telling the client to retry after this
    /// many seconds.
    RateLimit {
        /// Seconds the client is told to wait.
        retry_after_secs: u64,
    },
    /// Answer with this HTTP status (normally 5xx) and the provider's error body for it.
    ServerError(u16),
    /// Sleep this long, then handle the request normally.
    Delay(Duration),
}

/// What a simulator should do with an incoming API call, decided by [`Control`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gate {
    Proceed,
    Fault(Fault),
}

#[derive(Debug, Default)]
struct ControlInner {
    faults: VecDeque<Fault>,
    down: bool,
    requests: usize,
}

/// Fault queue, down switch and request counter shared by every simulator.
#[derive(Debug, Default)]
pub struct Control {
    inner: Mutex<ControlInner>,
}

impl Control {
    pub(crate) fn fail_next(&self, n: usize, fault: Fault) {
        let mut inner = lock(&self.inner);
        for _ in 0..n {
            inner.faults.push_back(fault.clone());
        }
    }

    pub(crate) fn set_down(&self, down: bool) {
        lock(&self.inner).down = down;
    }

    /// Counts an API call and reports whether the simulator is down.
    pub(crate) fn count_api_call(&self) -> bool {
        let mut inner = lock(&self.inner);
        inner.requests += 1;
        inner.down
    }

    /// Takes the next injected fault, if any (FIFO).
    pub(crate) fn take_fault(&self) -> Gate {
        match lock(&self.inner).faults.pop_front() {
            Some(fault) => Gate::Fault(fault),
            None => Gate::Proceed,
        }
    }

    pub(crate) fn request_count(&self) -> usize {
        lock(&self.inner).requests
    }

    pub(crate) fn pending_faults(&self) -> usize {
        lock(&self.inner).faults.len()
    }
}

/// The fault switches every simulator offers, over its [`Control`]. Each simulator's module
/// documentation says what its faults answer in the provider's own words (status, error code).
pub trait Faults {
    fn control(&self) -> &Control;

    /// Makes the next `n` API calls (that pass authentication) fail with `fault`, FIFO.
    fn fail_next(&self, n: usize, fault: Fault) {
        self.control().fail_next(n, fault);
    }

    /// While down, every API call gets 503 (file and media downloads are unaffected).
    fn set_down(&self, down: bool) {
        self.control().set_down(down);
    }

    /// API requests received (any credentials, faults included; downloads excluded).
    fn request_count(&self) -> usize {
        self.control().request_count()
    }

    /// Injected faults not yet consumed.
    fn pending_faults(&self) -> usize {
        self.control().pending_faults()
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test must not cascade into the simulator).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fully read incoming request.
#[derive(Debug, Clone)]
pub(crate) struct SimRequest {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl SimRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type of `content-type`, lower-cased, without parameters.
    pub(crate) fn media_type(&self) -> String {
        self.header("content-type")
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    }
}

pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;
pub(crate) type Handler = Arc<dyn Fn(SimRequest) -> BoxFuture + Send + Sync>;

/// A running server; aborting its accept task (on drop) also aborts every connection task.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    pub(crate) async fn start(handler: Handler) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, handler));
        Ok(Self { addr, task })
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, handler: Handler) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let handler = handler.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let handler = handler.clone();
                        async move { Ok::<_, std::convert::Infallible>(serve(handler, req).await) }
                    });
                    // A client hanging up mid-request is not the simulator's problem.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(handler: Handler, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return text_response(StatusCode::BAD_REQUEST, "unreadable request body"),
    };
    handler(SimRequest {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
    })
    .await
}

/// A JSON response with the given status.
pub(crate) fn json_response(status: u16, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A plain-text response with the given status.
pub(crate) fn text_response(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A binary response (file or media download).
pub(crate) fn bytes_response(content_type: &str, bytes: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(bytes));
    let value = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, value);
    response
}

/// The canonical reason phrase of a status code (`"Bad Gateway"` for 502).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats a Unix timestamp as RFC 2822 in UTC, e.g. `Thu, 01 Aug 2024 12:00:00 +0000`.
pub(crate) fn rfc2822(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days, for days >= 0.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3_600,
        (secs % 3_600) / 60,
        secs % 60
    )
}

/// Encodes `application/x-www-form-urlencoded` (space as `+`, everything but
/// `A-Z a-z 0-9 - . _ ~` percent-encoded).
pub fn form_encode(params: &[(String, String)]) -> String {
    fn encode(out: &mut String, s: &str) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(char::from(b));
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (key, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(&mut out, key);
        out.push('=');
        encode(&mut out, value);
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` into ordered pairs (repeated keys kept).
pub fn form_decode(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    match std::str::from_utf8(&s[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (decode(&pair[..eq]), decode(&pair[eq + 1..])),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// A response read by [`request`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

impl HttpResponse {
    /// The body parsed as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("response body is not JSON")
    }

    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How long [`request`] waits for a whole response before giving up.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends one plain-`http://` request with hyper-util's legacy client and reads the whole
/// response (30 s timeout).
pub async fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> anyhow::Result<HttpResponse> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("invalid URL {url:?}"))?;
    anyhow::ensure!(
        uri.scheme_str() == Some("http"),
        "only plain http:// URLs are supported, got {url:?}"
    );
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let req = builder.body(Full::new(body.into()))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let exchange = async {
        let response = client.request(req).await?;
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        anyhow::Ok(HttpResponse {
            status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(CLIENT_TIMEOUT, exchange)
        .await
        .with_context(|| format!("timed out after {CLIENT_TIMEOUT:?} waiting for {url}"))?
        .with_context(|| format!("request to {url} failed"))
}

/// POSTs `body` to `url` with the given headers; returns (status, headers, body).
pub async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> anyhow::Result<(u16, HeaderMap, Bytes)> {
    let response = request(Method::POST, url, headers, body).await?;
    Ok((response.status, response.headers, response.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2822_formats_known_timestamps() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_722_513_600), "Thu, 01 Aug 2024 12:00:00 +0000");
        assert_eq!(rfc2822(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn form_encoding_round_trips_reserved_and_unicode_characters() {
        let params = vec![
            ("To".to_string(), "+15551234567".to_string()),
            ("Body".to_string(), "a b&c=d%é".to_string()),
            ("MediaUrl".to_string(), "http://x/1".to_string()),
            ("MediaUrl".to_string(), "http://x/2".to_string()),
        ];
        let encoded = form_encode(&params);
        assert_eq!(
            encoded,
            "To=%2B15551234567&Body=a+b%26c%3Dd%25%C3%A9&MediaUrl=http%3A%2F%2Fx%2F1&MediaUrl=http%3A%2F%2Fx%2F2"
        );
        assert_eq!(form_decode(encoded.as_bytes()), params);
    }

    #[test]
    fn form_decode_keeps_malformed_percent_sequences_literally() {
        assert_eq!(
            form_decode(b"a=%zz&b=%4&c"),
            vec![
                ("a".to_string(), "%zz".to_string()),
                ("b".to_string(), "%4".to_string()),
                ("c".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn faults_are_taken_in_fifo_order() {
        let control = Control::default();
        control.fail_next(2, Fault::ServerError(500));
        control.fail_next(
            1,
            Fault::RateLimit {
                retry_after_secs: 3,
            },
        );
        assert_eq!(control.take_fault(), Gate::Fault(Fault::ServerError(500)));
        assert_eq!(control.take_fault(), Gate::Fault(Fault::ServerError(500)));
        assert_eq!(
            control.take_fault(),
            Gate::Fault(Fault::RateLimit {
                retry_after_secs: 3
            })
        );
        assert_eq!(control.take_fault(), Gate::Proceed);
    }
}
