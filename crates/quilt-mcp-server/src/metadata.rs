//! RFC 9728 OAuth protected resource metadata, at `/.well-known/oauth-protected-resource`
//! and `/.well-known/oauth-protected-resource/mcp`. Every URL comes from `MCP_PUBLIC_URL`,
//! never from request headers, so a forged `Host` cannot redirect a client's token.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::json;

use crate::app::App;
use crate::scopes::Scope;

/// `GET /.well-known/oauth-protected-resource[/mcp]`.
pub(crate) async fn protected_resource(State(app): State<Arc<App>>) -> Response {
    let mut body = json!({
        "resource": app.settings.http.resource_url(),
        "bearer_methods_supported": ["header"],
        "scopes_supported": Scope::ADVERTISED.map(Scope::as_str),
        "resource_name": "quilt-mcp",
    });
    if let Some(issuer) = &app.settings.auth.issuer {
        body["authorization_servers"] = json!([issuer]);
    }
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
