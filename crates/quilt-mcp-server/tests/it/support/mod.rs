//! The test harness: a real server on 127.0.0.1:0 (in-process, with the product router and
//! middleware), token minting, and a small raw MCP client for protocol-level assertions.

pub mod athena_shim;
mod calls;
pub mod catalog_standin;
pub mod cfn_shim;
pub mod fault_proxy;
pub mod moto;
mod process;
mod wire;

pub use calls::{call_as, err, ok};
pub use process::*;
pub use wire::*;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use quilt_mcp_aws::cache::{Clock, SystemClock};
use quilt_mcp_aws::{AccessIntent, ServerIdentity};
use quilt_mcp_server::aws::{Aws, sdk_error};
use quilt_mcp_server::config::{Config, Mode};
use quilt_mcp_server::mcp::{Identity, McpServer};
use quilt_mcp_server::settings::Settings;
use quilt_mcp_server::{App, ToolError, ToolRegistry, app, transport};
use rmcp::model::ToolAnnotations;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Counts calls of the `count_calls` test tool, to prove a refused request ran no tool; and
/// how many `test_sleep` calls run at once (now and at the peak), to observe the in-flight
/// bound from inside the tools rather than from the admission counter itself.
#[derive(Clone, Default)]
pub struct CallCounter {
    calls: Arc<AtomicUsize>,
    sleeping: Arc<AtomicUsize>,
    peak_sleeping: Arc<AtomicUsize>,
}

impl CallCounter {
    pub fn get(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The most `test_sleep` calls that were running at the same moment.
    pub fn peak_sleeping(&self) -> usize {
        self.peak_sleeping.load(Ordering::SeqCst)
    }
}

/// Counts one running `test_sleep` call until dropped (also when the call is cancelled).
struct Sleeping(CallCounter);

impl Sleeping {
    fn enter(counter: &CallCounter) -> Self {
        let now = counter.sleeping.fetch_add(1, Ordering::SeqCst) + 1;
        counter.peak_sleeping.fetch_max(now, Ordering::SeqCst);
        Self(counter.clone())
    }
}

impl Drop for Sleeping {
    fn drop(&mut self) {
        self.0.sleeping.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepInput {
    ms: u64,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct SleepOutput {
    slept_ms: u64,
    subject: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundtripInput {
    bucket: String,
    key: String,
    body: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct RoundtripOutput {
    body: String,
    arn: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct WhoAmI {
    arn: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct CountOutput {
    calls: usize,
}

/// The product tools plus test tools: `test_sleep` (slow), `count_calls`, and
/// `test_whoami_write` (GetCallerIdentity with write intent), `test_s3_roundtrip`.
pub fn registry_with_test_tools(
    counter: &CallCounter,
    aws: &Arc<Aws>,
    config: &Settings,
) -> ToolRegistry {
    let mut registry = ToolRegistry::product(aws, config);
    let writer = aws.clone();
    registry.add(
        "test_whoami_write",
        "GetCallerIdentity with write intent (test only).",
        ToolAnnotations::new(),
        None,
        move |_: NoInput| {
            let aws = writer.clone();
            async move {
                let sts = aws.sts(AccessIntent::Write).await?;
                let who = sts
                    .client
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| sdk_error("GetCallerIdentity", &e))?;
                Ok::<_, ToolError>(WhoAmI {
                    arn: who.arn().unwrap_or_default().to_owned(),
                })
            }
        },
    );
    let sleepers = counter.clone();
    registry.add(
        "test_sleep",
        "Sleeps for ms milliseconds (test only).",
        ToolAnnotations::new().read_only(true),
        None,
        move |input: SleepInput| {
            let sleeping = Sleeping::enter(&sleepers);
            async move {
                let _sleeping = sleeping;
                let ctx = quilt_mcp_server::call_scope::context()?;
                tokio::time::sleep(Duration::from_millis(input.ms)).await;
                // Read the context again after the await: it must still be this caller's.
                let after = quilt_mcp_server::call_scope::context()?;
                assert!(Arc::ptr_eq(&ctx, &after));
                Ok::<_, ToolError>(SleepOutput {
                    slept_ms: input.ms,
                    subject: after.principal().subject.clone(),
                })
            }
        },
    );
    let sleepers = counter.clone();
    registry.add(
        "test_progress_sleep",
        "Sleeps for ms milliseconds, reporting progress every 100 ms (test only).",
        ToolAnnotations::new().read_only(true),
        None,
        move |input: SleepInput| {
            let sleeping = Sleeping::enter(&sleepers);
            async move {
                let _sleeping = sleeping;
                let ctx = quilt_mcp_server::call_scope::context()?;
                let steps = input.ms / 100;
                for i in 0..steps {
                    quilt_mcp_server::progress::report(
                        (i + 1) as f64,
                        Some(steps as f64),
                        format!("{}/{steps}", i + 1),
                    )
                    .await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok::<_, ToolError>(SleepOutput {
                    slept_ms: input.ms,
                    subject: ctx.principal().subject.clone(),
                })
            }
        },
    );
    let s3 = aws.clone();
    registry.add(
        "test_s3_roundtrip",
        "Puts an object (write intent), reads it back (read intent) and says who signed (test only).",
        ToolAnnotations::new(),
        None,
        move |input: RoundtripInput| {
            let aws = s3.clone();
            async move {
                let writer = aws.s3(AccessIntent::Write).await?;
                writer
                    .client
                    .put_object()
                    .bucket(&input.bucket)
                    .key(&input.key)
                    .body(input.body.clone().into_bytes().into())
                    .send()
                    .await
                    .map_err(|e| sdk_error("PutObject", &e))?;
                let reader = aws.s3(AccessIntent::Read).await?;
                let got = reader
                    .client
                    .get_object()
                    .bucket(&input.bucket)
                    .key(&input.key)
                    .send()
                    .await
                    .map_err(|e| sdk_error("GetObject", &e))?;
                let bytes = got.body.collect().await.map_err(|e| ToolError::internal(e.to_string()))?.into_bytes();
                let sts = aws.sts(AccessIntent::Read).await?;
                let who = sts.client.get_caller_identity().send().await.map_err(|e| sdk_error("GetCallerIdentity", &e))?;
                Ok::<_, ToolError>(RoundtripOutput {
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                    arn: who.arn().unwrap_or_default().to_owned(),
                })
            }
        },
    );
    let counter = counter.clone();
    registry.add(
        "count_calls",
        "Counts its calls (test only).",
        ToolAnnotations::new(),
        None,
        move |_: NoInput| {
            let counter = counter.clone();
            async move {
                Ok::<_, ToolError>(CountOutput {
                    calls: counter.calls.fetch_add(1, Ordering::SeqCst) + 1,
                })
            }
        },
    );
    registry
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub calls: CallCounter,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server with HS256 auth (current + previous secret) and `configure` applied, with no
    /// AWS identity of its own.
    pub async fn start(configure: impl FnOnce(&mut Config)) -> Self {
        Self::start_with_aws(configure, None, Arc::new(SystemClock)).await
    }

    /// Like [`TestServer::start`], with a server AWS identity and a clock.
    pub async fn start_with_aws(
        configure: impl FnOnce(&mut Config),
        identity: Option<ServerIdentity>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = Config::with_defaults(addr);
        config.jwt_secret = Some(SECRET.into());
        config.jwt_secret_previous = Some(PREVIOUS_SECRET.into());
        config.jwt_audience = Some(AUDIENCE.into());
        configure(&mut config);
        let config = config.validate(Mode::Http).expect("valid config");
        let aws = Aws::bootstrap_with(&config, identity, clock)
            .await
            .expect("aws");
        let app = App::new(config, aws.clone()).expect("app");
        if let Some(v) = &app.verifier {
            v.prefetch().await;
        }
        let calls = CallCounter::default();
        let tools = Arc::new(
            registry_with_test_tools(&calls, &aws, &app.settings).with_background(&app.background),
        );
        let router = app::router(app.clone(), move || {
            McpServer::new(tools.clone(), Identity::Http)
        });
        let (stop, stopped) = oneshot::channel();
        let handle = tokio::spawn(transport::http::serve(
            app.clone(),
            router,
            listener,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            app,
            calls,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn mcp(&self) -> String {
        self.url("/mcp")
    }

    /// Begins shutdown (like SIGTERM) without waiting.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits for the server to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.begin_shutdown();
        self.handle.take().expect("running").await.expect("join")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

/// An assumed-role ARN with its session name's identity hash (`-` and 16 lowercase hex digits,
/// see `quilt_mcp_aws::sts`) removed. Panics when the session name has no such hash, so every
/// comparison through it also checks the hash is there.
pub fn unhashed(arn: &str) -> String {
    let (head, hash) = arn
        .rsplit_once('-')
        .unwrap_or_else(|| panic!("no identity hash in {arn}"));
    assert!(
        hash.len() == 16 && hash.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "no identity hash in {arn}"
    );
    head.to_owned()
}

/// [`unhashed`] for an assumed-role ARN; any other ARN as it is.
pub fn unhashed_or_same(arn: &str) -> String {
    if arn.contains(":assumed-role/") {
        unhashed(arn)
    } else {
        arn.to_owned()
    }
}

/// Asserts a 401 with the RFC 9728 challenge; `token_sent` adds `error="invalid_token"`.
pub fn assert_unauthorized(r: &Rpc, server: &TestServer, token_sent: bool) {
    assert_eq!(r.status, 401, "body: {}", r.body);
    let challenge = r
        .headers
        .get("www-authenticate")
        .expect("WWW-Authenticate")
        .to_str()
        .expect("ascii");
    let expected = format!(
        "Bearer resource_metadata=\"{}\"",
        server.url("/.well-known/oauth-protected-resource/mcp")
    );
    assert!(challenge.starts_with(&expected), "{challenge}");
    assert_eq!(
        challenge.contains("error=\"invalid_token\""),
        token_sent,
        "{challenge}"
    );
    assert!(r.body["error"].is_string(), "{}", r.body);
}

/// The audit lines this test's server writes, captured as JSON. The subscriber is the
/// thread's default, so it sees the server only on a current-thread runtime (`#[tokio::test]`
/// without `flavor`), where the server's tasks run on the test's thread.
#[derive(Clone, Default)]
pub struct AuditLog(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for AuditLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for AuditLog {
    type Writer = AuditLog;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl AuditLog {
    /// Starts capturing audit lines on this thread until the guard drops.
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let log = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new("audit=info"))
            .with_writer(log.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (log, guard)
    }

    /// The audit lines of tool calls so far.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("lock").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["target"] == "audit" && l["event"] == "tool_call")
            .collect()
    }
}

/// The shipped binary as its own process (for peak-RSS measurements): HS256 with [`SECRET`]
/// and [`AUDIENCE`], `stack_roles` with `read_role`, AWS at `endpoint`, plus `extra` settings.
/// Returns once `/readyz` answers 200, with the child (killed on drop), its pid and base URL.
pub async fn spawn_stack_role_binary(
    endpoint: &str,
    read_role: &str,
    extra: &[(&str, &str)],
) -> (tokio::process::Child, u32, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_quilt-mcp-server"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .env("MCP_JWT_SECRET", SECRET)
        .env("MCP_JWT_AUDIENCE", AUDIENCE)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIASERVERSERVER0001")
        .env("AWS_SECRET_ACCESS_KEY", "server-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("MCP_CREDENTIAL_SOURCES", "stack_roles")
        .env("QUILT_READ_ROLE_ARN", read_role)
        .envs(extra.iter().copied())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn server");
    let pid = child.id().expect("pid");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while http()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status())
        .ok()
        != Some(reqwest::StatusCode::OK)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "server never became ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (child, pid, base)
}

/// Sends one request a test shim (athena_shim, cfn_shim) passes through to moto at `moto`,
/// unchanged but for the hop-by-hop headers; answers moto's status, headers and body.
pub async fn forward_to_moto(
    client: &reqwest::Client,
    moto: &str,
    method: axum::http::Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (
    axum::http::StatusCode,
    axum::http::HeaderMap,
    axum::body::Bytes,
) {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = client.request(
        reqwest::Method::from_bytes(method.as_str().as_bytes()).expect("method"),
        format!("{moto}{path}"),
    );
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let response = request.body(body).send().await.expect("moto");
    let status = axum::http::StatusCode::from_u16(response.status().as_u16()).expect("status");
    let mut out = axum::http::HeaderMap::new();
    for (name, value) in response.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            out.insert(
                axum::http::HeaderName::from_bytes(name.as_str().as_bytes()).expect("name"),
                axum::http::HeaderValue::from_bytes(value.as_bytes()).expect("value"),
            );
        }
    }
    (status, out, response.bytes().await.expect("moto body"))
}
