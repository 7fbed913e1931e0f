//! [`App`], the state every request shares, and [`router`], the whole HTTP surface with its
//! middleware — kept apart from `main` so tests can serve it on port 0.
//!
//! Layers, outermost first (one `ServiceBuilder`, read top to bottom): request id → trace
//! span → panic catcher → compression (gzip when the client's `Accept-Encoding` asks for it;
//! any other encoding, or none, gets the plain body; event streams are never compressed) →
//! CORS (preflights answered here, before auth; CORS headers on every answer including 401s)
//! → timeout. `/mcp` — the only route that reads a body — then adds auth (inside a small
//! pre-authentication budget) → admission (per caller: in-flight share and rate, 429; then the
//! process-wide in-flight bound, 503) → envelope (body limit, JSON-RPC shape) → rmcp.
//! Health and metadata routes skip admission and auth, so they stay fast and reachable
//! when `/mcp` is saturated.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post_service};
use http::{HeaderName, Method, StatusCode, header};
use rmcp::ServerHandler;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::admission::{self, Admission};
use crate::auth;
use crate::aws::Aws;
use crate::config::ConfigError;
use crate::envelope::{self, BodyLimit};
use crate::health::{self, Lifecycle};
use crate::metadata;
use crate::settings::Settings;
use quilt_mcp_auth::TokenVerifier;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Shared state. Built once; handlers get it as `Arc<App>`.
#[derive(Debug)]
pub struct App {
    /// The settings, parsed at start-up.
    pub settings: Settings,
    /// The token verifier; `None` only when auth is disabled (loopback development).
    pub verifier: Option<TokenVerifier>,
    /// The in-flight bound for `/mcp`.
    pub admission: Admission,
    /// Readiness and uptime.
    pub lifecycle: Lifecycle,
    /// Cancelled when the process stops serving (ends rmcp streams).
    pub shutdown: CancellationToken,
    /// AWS access for callers (and the stack roles' health).
    pub aws: Arc<Aws>,
    /// Work outliving its request (package task runs): shutdown waits for it.
    pub background: crate::background::Background,
}

impl App {
    /// Builds the state from the parsed settings.
    pub fn new(settings: Settings, aws: Arc<Aws>) -> Result<Arc<Self>, ConfigError> {
        let verifier = settings
            .auth
            .verifier
            .clone()
            .map(TokenVerifier::new)
            .transpose()
            .map_err(|m| crate::config::err("MCP_JWT_SECRET", m))?;
        Ok(Arc::new(Self {
            aws,
            admission: Admission::with_fairness(
                settings.http.max_in_flight,
                &settings.http.fairness,
            ),
            verifier,
            lifecycle: Lifecycle::default(),
            shutdown: CancellationToken::new(),
            background: crate::background::Background::default(),
            settings,
        }))
    }
}

/// The router serving `handler` (built per request by `factory`) at `/mcp`.
pub fn router<H, F>(app: Arc<App>, factory: F) -> Router
where
    H: ServerHandler + Send + 'static,
    F: Fn() -> H + Send + Sync + 'static,
{
    let config = &app.settings.http;
    let mut rmcp_config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(config.max_body_bytes)
        .with_allowed_hosts(config.allowed_hosts.clone())
        .with_cancellation_token(app.shutdown.child_token());
    if !config.allowed_origins.is_empty() {
        rmcp_config = rmcp_config.with_allowed_origins(config.allowed_origins.clone());
    }
    let mcp = StreamableHttpService::new(
        move || Ok(factory()),
        Arc::new(NeverSessionManager::default()),
        rmcp_config,
    );

    // route_layer: these layers wrap POST only, so GET/DELETE get a plain
    // 405 (with Allow) whether or not a token was sent.
    let mcp_route = post_service(mcp)
        .route_layer(axum::middleware::from_fn_with_state(
            config.request_timeout,
            crate::call_limits::stamp_deadline,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            BodyLimit(config.max_body_bytes),
            envelope::check,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            app.admission.clone(),
            admission::admit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::authenticate,
        ));

    Router::new()
        .route("/mcp", mcp_route.clone())
        .route("/mcp/", mcp_route)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/.well-known/oauth-protected-resource", get(metadata::protected_resource))
        .route("/.well-known/oauth-protected-resource/mcp", get(metadata::protected_resource))
        .with_state(app.clone())
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
                    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                }))
                .layer(CatchPanicLayer::new())
                // gzip only (the one encoding compiled in); tower-http's default predicate
                // skips small bodies and `text/event-stream`, so SSE is never buffered.
                .layer(CompressionLayer::new())
                .layer(cors(config))
                .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, config.request_timeout)),
        )
}

fn cors(config: &crate::settings::Http) -> CorsLayer {
    let origins = if config.allowed_origins.is_empty() {
        // Bearer tokens, no cookies: any origin may call; the token is the gate.
        AllowOrigin::any()
    } else {
        AllowOrigin::list(config.cors_origins.iter().cloned())
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        // Mirror: MCP clients send Mcp-Param-* headers whose names vary per tool.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            header::WWW_AUTHENTICATE,
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            REQUEST_ID,
        ])
        .max_age(Duration::from_secs(3600))
}
