//! The `/mcp` request body, checked before rmcp sees it: read within `MCP_MAX_BODY_BYTES`
//! (413 past it, whether or not a Content-Length was sent), then parsed as a JSON-RPC
//! message with rmcp's own message type, so a malformed request gets the JSON-RPC answer the
//! protocol defines — 400 with `-32700` (not JSON), `-32600` (not a JSON-RPC message) or
//! `-32602` (a known method with unusable params) — instead of rmcp's plain-text 415.
//!
//! The body is parsed twice (here and in rmcp); for MCP's small messages that costs
//! microseconds and keeps the wire contract in one place.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};

/// The body limit, as the middleware's state.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The middleware. See the module docs.
pub async fn check(
    State(BodyLimit(limit)): State<BodyLimit>,
    request: Request,
    next: Next,
) -> Response {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        // rmcp answers a wrong content type with 415.
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let declared_too_large = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64);
    if declared_too_large {
        return too_large(limit);
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(limit),
        Err(_) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                -32700,
                "Parse error: the request body could not be read".into(),
            );
        }
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                -32700,
                format!("Parse error: {e}"),
            );
        }
    };
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    if !value.is_object() || value.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            id,
            -32600,
            "Invalid Request: expected one JSON-RPC 2.0 message object".into(),
        );
    }
    if let Err(e) = serde_json::from_slice::<ClientJsonRpcMessage>(&bytes) {
        let (code, what) = if value.get("method").is_some() {
            (-32602, "Invalid params")
        } else {
            (-32600, "Invalid Request")
        };
        return rpc_error(StatusCode::BAD_REQUEST, id, code, format!("{what}: {e}"));
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn too_large(limit: usize) -> Response {
    rpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        Value::Null,
        -32600,
        format!("Invalid Request: body is larger than {limit} bytes"),
    )
}

fn rpc_error(status: StatusCode, id: Value, code: i64, message: String) -> Response {
    (
        status,
        axum::Json(
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
        ),
    )
        .into_response()
}
