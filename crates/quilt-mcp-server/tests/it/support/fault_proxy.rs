//! A loopback HTTP proxy in front of moto (or any HTTP upstream) that sees every request the
//! server makes and can break the path on purpose.
//!
//! It records, per request: which access key signed it (SigV4 `Authorization` or a presigned
//! `X-Amz-Credential`), what it asked (S3 path, STS `Action`, `X-Amz-Target`), the status and
//! request id that came back, and — for AssumeRole — which access key STS handed out for which
//! session, so a test can tell whose credentials every later request was signed with.
//!
//! Faults: latency jitter, a fixed delay for requests whose path matches (`set_slow_path`), and a rate of injected 5xx answers (deterministic per request
//! number, half before the upstream saw the request and half after), and outages: `Cut`
//! (new connections closed at once, pooled ones reset on their next use), `Unavailable`
//! (every request answered 503) and `Hang` (requests held unanswered until the mode changes).
//! The Host header passes through untouched, so SigV4 signatures still verify upstream.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with the path to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward (with the configured jitter and error rate).
    Pass,
    /// Outage: connections are closed or reset, nothing is answered.
    Cut,
    /// Outage: every request is answered 503 without reaching the upstream.
    Unavailable,
    /// Outage: requests are held unanswered until the mode changes.
    Hang,
}

impl Mode {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Cut,
            2 => Self::Unavailable,
            3 => Self::Hang,
            _ => Self::Pass,
        }
    }
}

/// Credentials STS handed out through the proxy.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_key: String,
    pub session_name: String,
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The access key that signed the request; `None` for an unsigned request.
    pub access_key: Option<String>,
    /// Path and query.
    pub path: String,
    /// The STS/IAM `Action` form field or the `X-Amz-Target` header.
    pub action: Option<String>,
    pub status: u16,
    /// Whether the proxy answered with an injected error.
    pub injected: bool,
    /// The upstream's request id (header, or `<RequestId>` in an XML body).
    pub request_id: Option<String>,
    /// For a successful AssumeRole: what was handed out.
    pub issued: Option<Issued>,
}

struct Shared {
    target: String,
    mode: AtomicU8,
    cut: Arc<AtomicBool>,
    jitter_ms: AtomicU64,
    error_per_mille: AtomicU64,
    /// Requests whose path contains this are delayed by this many ms (`set_slow_path`).
    slow_path: Mutex<Option<(String, u64)>>,
    seq: AtomicU64,
    seen: Mutex<Vec<Seen>>,
    client: reqwest::Client,
}

/// The proxy. Runs until the test process ends (every test has its own process under nextest).
pub struct FaultProxy {
    pub url: String,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// A proxy to `target` (`http://127.0.0.1:port`), passing everything unchanged.
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let cut = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            target: target.trim_end_matches('/').to_owned(),
            mode: AtomicU8::new(0),
            cut: cut.clone(),
            jitter_ms: AtomicU64::new(0),
            error_per_mille: AtomicU64::new(0),
            slow_path: Mutex::new(None),
            seq: AtomicU64::new(0),
            seen: Mutex::new(Vec::new()),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client"),
        });
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let listener = GateListener {
            inner: listener,
            cut,
        };
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, shared }
    }

    /// Adds up to `max_ms` of latency to each request (deterministic per request number).
    pub fn set_jitter_ms(&self, max_ms: u64) {
        self.shared.jitter_ms.store(max_ms, Ordering::SeqCst);
    }

    /// Answers this share of requests (per mille) with a 500 or 503.
    pub fn set_error_per_mille(&self, per_mille: u64) {
        self.shared
            .error_per_mille
            .store(per_mille, Ordering::SeqCst);
    }

    /// Delays every request whose path (and query) contains `needle` by `ms` (e.g. the
    /// source objects of a package, so a write takes long while other requests do not);
    /// `None` ends it.
    pub fn set_slow_path(&self, slow: Option<(&str, u64)>) {
        *self.shared.slow_path.lock().expect("lock") = slow.map(|(p, ms)| (p.to_owned(), ms));
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.cut.store(mode == Mode::Cut, Ordering::SeqCst);
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("lock").clone()
    }
}

/// SplitMix64: a well-mixed hash of the request number, for deterministic jitter and faults.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The access key in a SigV4 `Authorization` header or a presigned URL's query.
pub fn signer(authorization: Option<&str>, query: &str) -> Option<String> {
    if let Some(auth) = authorization {
        let credential = auth.split("Credential=").nth(1)?;
        return credential.split('/').next().map(str::to_owned);
    }
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("X-Amz-Credential="))
        .and_then(|v| v.split("%2F").next())
        .map(str::to_owned)
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.replace("%2F", "/").replace("%3A", ":"))
    })
}

fn xml_field(body: &[u8], tag: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].trim().to_owned())
}

/// Headers that belong to one connection, not to the request. `Content-Length` passes
/// through both ways: the body is forwarded whole, a SigV4 signature may cover it (a
/// zero-byte PUT), and a HEAD answer's length describes a body that is not sent.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

fn injected_error(status: u16) -> Response {
    let body = if status == 503 {
        "<Error><Code>ServiceUnavailable</Code><Message>injected by the test proxy</Message></Error>"
    } else {
        "<Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>"
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Body::from(body))
        .expect("response")
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let seq = shared.seq.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let mut seen = Seen {
        access_key: signer(authorization, parts.uri.query().unwrap_or_default()),
        path: path.clone(),
        action: parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        status: 0,
        injected: false,
        request_id: None,
        issued: None,
    };
    let record = |seen: Seen| shared.seen.lock().expect("lock").push(seen);

    // Outages first: a held request waits (bounded) until the mode changes.
    for _ in 0..6000 {
        if Mode::from_u8(shared.mode.load(Ordering::SeqCst)) != Mode::Hang {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    match Mode::from_u8(shared.mode.load(Ordering::SeqCst)) {
        Mode::Unavailable | Mode::Cut | Mode::Hang => {
            seen.status = 503;
            seen.injected = true;
            record(seen);
            return injected_error(503);
        }
        Mode::Pass => {}
    }
    let slow = shared
        .slow_path
        .lock()
        .expect("lock")
        .as_ref()
        .filter(|(needle, _)| path.contains(needle.as_str()))
        .map(|(_, ms)| *ms);
    if let Some(ms) = slow {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let jitter = shared.jitter_ms.load(Ordering::SeqCst);
    if jitter > 0 {
        tokio::time::sleep(Duration::from_millis(mix(seq) % (jitter + 1))).await;
    }
    let Ok(body) = axum::body::to_bytes(body, 256 * 1024 * 1024).await else {
        seen.status = 400;
        record(seen);
        return injected_error(500);
    };
    if seen.action.is_none() {
        seen.action = form_field(&body, "Action");
    }
    let roll = mix(seq ^ 0x5EED) % 1000;
    let fail = roll < shared.error_per_mille.load(Ordering::SeqCst);
    let status_if_failed = if roll.is_multiple_of(2) { 503 } else { 500 };
    if fail && seq.is_multiple_of(2) {
        // Before the upstream sees it.
        seen.status = status_if_failed;
        seen.injected = true;
        record(seen);
        return injected_error(status_if_failed);
    }

    let mut upstream = shared
        .client
        .request(parts.method.clone(), format!("{}{path}", shared.target));
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            upstream = upstream.header(name, value);
        }
    }
    let session_name = form_field(&body, "RoleSessionName");
    let answer = match upstream.body(body).send().await {
        Ok(answer) => answer,
        Err(_) => {
            seen.status = 502;
            record(seen);
            return injected_error(502);
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes: Bytes = answer.bytes().await.unwrap_or_default();
    seen.request_id = ["x-amz-request-id", "x-amzn-requestid"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::to_owned)
        .or_else(|| xml_field(&bytes, "RequestId"));
    if fail {
        // After the upstream did the work: the answer is lost on the way back.
        seen.status = status_if_failed;
        seen.injected = true;
        record(seen);
        return injected_error(status_if_failed);
    }
    seen.status = status.as_u16();
    if status.is_success() && seen.action.as_deref() == Some("AssumeRole") {
        seen.issued = xml_field(&bytes, "AccessKeyId").map(|access_key| Issued {
            access_key,
            session_name: session_name.clone().unwrap_or_default(),
        });
    }
    record(seen);
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(bytes)).expect("response")
}

/// Accepts connections unless the proxy is cut; hands out [`Gate`]d streams.
struct GateListener {
    inner: TcpListener,
    cut: Arc<AtomicBool>,
}

impl axum::serve::Listener for GateListener {
    type Io = Gate;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Gate, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.cut.load(Ordering::SeqCst) {
                        drop(stream);
                        continue;
                    }
                    return (
                        Gate {
                            inner: stream,
                            cut: self.cut.clone(),
                        },
                        addr,
                    );
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection that fails its next read or write once the proxy is cut, so pooled
/// keep-alive connections see the outage too.
struct Gate {
    inner: TcpStream,
    cut: Arc<AtomicBool>,
}

impl Gate {
    fn check(&self) -> io::Result<()> {
        if self.cut.load(Ordering::SeqCst) {
            Err(io::Error::from(io::ErrorKind::ConnectionReset))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for Gate {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Gate {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
