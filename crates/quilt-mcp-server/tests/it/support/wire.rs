//! The wire side of the harness: token minting and a small raw MCP client over HTTP. It depends
//! on no server crate, so the fixture crate's tests (`crates/quilt-mcp-fixture/tests/`) include
//! this same file (`#[path]`) instead of keeping a copy.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";
pub const PREVIOUS_SECRET: &str = "previous-secret-0123456789-abcdefghijk";
/// The audience every test server requires (`MCP_JWT_AUDIENCE`) and [`claims`] puts in `aud`:
/// the server requires `aud` by default, and test servers listen on ports chosen at run time.
/// `jwt.rs` tests the default audience (the resource URL) and the opt-out.
pub const AUDIENCE: &str = "quilt-mcp-tests";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Claims with `sub`, `aud` ([`AUDIENCE`]), every tool scope and a one-hour `exp`, plus `extra`.
pub fn claims(sub: &str, extra: Value) -> Value {
    let mut c = json!({"sub": sub, "aud": AUDIENCE, "iat": now(), "exp": now() + 3600, "scope": "quilt:read quilt:write athena:query"});
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    c
}

/// `claims` without the claim `name`.
pub fn without(mut claims: Value, name: &str) -> Value {
    if let Some(c) = claims.as_object_mut() {
        c.remove(name);
    }
    claims
}

pub fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

pub fn token(sub: &str) -> String {
    hs256(&claims(sub, json!({})), SECRET)
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A raw MCP POST. `version` picks the wire: `2026-07-28` adds the per-request headers and
/// `_meta` of that protocol; older versions send `MCP-Protocol-Version` only.
pub struct Rpc {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Rpc {
    pub fn result(&self) -> &Value {
        assert!(
            self.body.get("error").is_none(),
            "unexpected error: {}",
            self.body
        );
        &self.body["result"]
    }
}

pub const MODERN: &str = "2026-07-28";
pub const LEGACY: &str = "2025-11-25";

pub async fn rpc(
    url: &str,
    token: Option<&str>,
    version: &str,
    method: &str,
    mut params: Value,
) -> Rpc {
    let mut request = http()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", version);
    if version == MODERN {
        request = request.header("mcp-method", method);
        if let Some(name) = params.get("name").and_then(Value::as_str) {
            request = request.header("mcp-name", name.to_owned());
        }
        if !params.is_object() {
            params = json!({});
        }
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        });
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut body = json!({"jsonrpc": "2.0", "id": 1, "method": method});
    if !params.is_null() {
        body["params"] = params;
    }
    let response = request.json(&body).send().await.expect("send");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = parse_body(&text);
    Rpc {
        status,
        headers,
        body,
    }
}

/// JSON, or the last `data:` line of an SSE stream.
pub fn parse_body(text: &str) -> Value {
    if let Ok(v) = serde_json::from_str(text) {
        return v;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .next_back()
        .unwrap_or(Value::Null)
}

/// `tools/call` over the 2025-11-25 wire; returns the whole response.
pub async fn call_tool(url: &str, token: Option<&str>, name: &str, arguments: Value) -> Rpc {
    rpc(
        url,
        token,
        LEGACY,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
    .await
}

/// A client for load: keep-alive connections shared across calls (a fresh client per call,
/// as [`call_tool`] makes, would open one connection per call).
pub fn pooled_http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(256)
        .build()
        .expect("client")
}

/// `tools/call` over the 2025-11-25 wire on `client`; a transport failure is returned, not
/// a panic, so load tests can count it.
pub async fn call_tool_with(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
    arguments: Value,
) -> Result<Rpc, reqwest::Error> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": name, "arguments": arguments}});
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", LEGACY)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await?;
    Ok(Rpc {
        status,
        headers,
        body: parse_body(&text),
    })
}

/// `auth_status`'s structured content for `token`.
pub async fn auth_status(url: &str, token: &str) -> Value {
    let r = call_tool(url, Some(token), "auth_status", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let result = r.result();
    assert_eq!(result["isError"], false, "{result}");
    result["structuredContent"].clone()
}
