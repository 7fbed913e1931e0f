//! The `/mcp` auth middleware: `Authorization: Bearer <jwt>` → verified [`Principal`] →
//! `Arc<RequestContext>` in the request extensions, or a 401 that says where to get a token.
//!
//! 401s carry `WWW-Authenticate: Bearer resource_metadata="<PRM URL>"` (RFC 9728), plus
//! `error="invalid_token"` when a token was sent (RFC 6750), and a JSON body. A JWKS outage
//! that leaves a token unverifiable is a 503, not a 401: the token may be fine.
//!
//! Verification runs inside the small pre-authentication budget of [`crate::admission`]
//! (`MCP_MAX_AUTHENTICATING`), released as soon as the token is verified or refused: bad
//! tokens compete only for these short slots, never for authenticated callers' calls.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use quilt_mcp_auth::{AuthError, AuthMethod, Principal, RequestContext};
use serde_json::json;

use crate::app::App;

/// The subject used when authentication is disabled (loopback development only); its issuer
/// is `quilt-mcp:local`, like the stdio principal's.
pub(crate) const DEV_SUBJECT: &str = "local-dev";

/// The middleware. See the module docs.
pub(crate) async fn authenticate(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (principal, method) = match &app.verifier {
        None => (Principal::local(DEV_SUBJECT), AuthMethod::Disabled),
        Some(verifier) => {
            let _verifying = match app.admission.authenticating() {
                Ok(slot) => slot,
                Err(refusal) => {
                    if let Some(refusals) = app.admission.refusal_line() {
                        tracing::warn!(target: "audit", event = "admission_refused", request_id, reason = refusal.label(), refusals);
                    }
                    return refusal.into_response();
                }
            };
            let header = request
                .headers()
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes);
            let verified = verifier.verify_authorization(header).await;
            crate::metrics::auth(
                verified.as_ref().err().map(AuthError::label),
                app.admission.in_flight(),
            );
            match verified {
                Ok(verified) => verified,
                Err(error) => {
                    tracing::info!(target: "audit", event = "auth_failed", request_id, reason = error.label());
                    return unauthorized(&app, &error);
                }
            }
        }
    };
    let ctx = RequestContext::new(principal, method, request_id, "http");
    request.extensions_mut().insert(Arc::new(ctx));
    next.run(request).await
}

/// The 401 (or 503 for a key outage) for a refused token.
pub(crate) fn unauthorized(app: &App, error: &AuthError) -> Response {
    if error.is_unavailable() {
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"error": "temporarily_unavailable", "error_description": error.to_string()}),
            ),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    }
    let metadata = app.settings.http.resource_metadata_url();
    let challenge = if error.token_was_sent() {
        format!(
            "Bearer resource_metadata=\"{metadata}\", error=\"invalid_token\", error_description=\"{}\"",
            error.to_string().replace('"', "'")
        )
    } else {
        format!("Bearer resource_metadata=\"{metadata}\"")
    };
    let body = if error.token_was_sent() {
        json!({"error": "invalid_token", "error_description": error.to_string()})
    } else {
        json!({"error": "unauthorized", "error_description": error.to_string()})
    };
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
