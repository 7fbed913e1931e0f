//! One tool call through the server and the two ways to read its answer, shared by every test
//! module (they were copied into nine of them before).

use serde_json::Value;

use super::{TestServer, call_tool};

/// `tools/call` of `tool` as the holder of `token`; the HTTP answer must be 200 (a tool error is
/// still a 200 with `isError`). Returns the JSON-RPC `result`.
pub async fn call_as(server: &TestServer, token: &str, tool: &str, args: Value) -> Value {
    let r = call_tool(&server.mcp(), Some(token), tool, args).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.result().clone()
}

/// The structured answer of a call that must have succeeded.
pub fn ok(result: &Value) -> &Value {
    assert_eq!(result["isError"], false, "{result}");
    &result["structuredContent"]
}

/// `(code, message)` of a call that must have failed with a tool error.
pub fn err(result: &Value) -> (String, String) {
    assert_eq!(result["isError"], true, "{result}");
    let e = &result["structuredContent"]["error"];
    (
        e["code"].as_str().expect("code").to_owned(),
        e["message"].as_str().expect("message").to_owned(),
    )
}
