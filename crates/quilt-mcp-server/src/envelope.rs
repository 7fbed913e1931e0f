//! The `/mcp` request body, checked before rmcp sees it: read within `MCP_MAX_BODY_BYTES`
//! (413 past it, whether or not a Content-Length was sent), then parsed as a JSON-RPC
//! message with rmcp's own message type, so a malformed request gets the JSON-RPC answer the
//! protocol defines — 400 with `-32700` (not JSON), `-32600` (not a JSON-RPC message) or
//! `-32602` (a known method with unusable params) — instead of rmcp's plain-text 415.
//!
//! The body is parsed twice (here and in rmcp); for MCP's small messages that costs
//! microseconds and keeps the wire contract in one place.
//!
//! A body over the limit is *drained* (read and dropped, never held) up to [`DRAIN_BYTES`]
//! before the 413 goes out with `Connection: close`. hyper, answered early, reads at most one
//! more buffer of the request and then closes the socket with the rest unread; the kernel
//! turns that into a reset, and clients that finish sending before they read (httpx, the
//! Python MCP client, Node's fetch) lose the 413 and see a bare connection error. Past the
//! drain bound (or a declared length past it) the server answers at once and the client may
//! see that reset: a bounded amount of reading buys ordinary oversized requests a readable
//! answer without letting a client make the server read without end.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http::HeaderValue;
use http::{StatusCode, header};
use http_body_util::BodyExt;
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};

/// How many bytes past the limit an oversized body is read (and dropped) so the client gets
/// to read the 413; see the module docs.
pub const DRAIN_BYTES: u64 = 64 * 1024 * 1024;

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
    let (parts, mut body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64 + DRAIN_BYTES) {
        return too_large(limit);
    }
    // Read by hand rather than with `Limited`: past the limit the rest is still drained.
    let mut bytes = BytesMut::new();
    let mut over = false;
    let mut read: u64 = 0;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue; // trailers
                };
                read += data.len() as u64;
                if read > limit as u64 {
                    over = true;
                    bytes = BytesMut::new();
                    if read > limit as u64 + DRAIN_BYTES {
                        break;
                    }
                } else {
                    bytes.extend_from_slice(&data);
                }
            }
            Some(Err(_)) if over => break,
            Some(Err(_)) => {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    Value::Null,
                    -32700,
                    "Parse error: the request body could not be read".into(),
                );
            }
        }
    }
    if over || declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let bytes = bytes.freeze();
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
    let mut response = rpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        Value::Null,
        -32600,
        format!(
            "Invalid Request: body is larger than {limit} bytes (MCP_MAX_BODY_BYTES); \
             object data travels base64-encoded, so one bucket_objects_put call carries at most \
             about {} bytes of objects",
            max_put_payload(limit)
        ),
    );
    // The body may not have been read to its end: this connection cannot carry another request.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The most object bytes one `bucket_objects_put` fits in a body of `limit` bytes: base64
/// makes 4 characters of every 3 bytes; 1 KiB is left for the JSON-RPC envelope, key and
/// content type.
pub fn max_put_payload(limit: usize) -> usize {
    limit.saturating_sub(1024) / 4 * 3
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
