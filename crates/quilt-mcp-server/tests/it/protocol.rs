//! Both protocol eras end to end over real HTTP: 2025-06-18/2025-11-25 (initialize, then
//! requests) and 2026-07-28 (per-request metadata, no initialize); never a session id; the
//! protocol's own errors for malformed input, unknown tools and bad arguments.

use serde_json::{Value, json};

use crate::support::*;

fn tool_names(list: &Value) -> Vec<String> {
    list["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn legacy_clients_initialize_list_and_call_without_a_session() {
    let server = TestServer::start(|_| {}).await;
    let token = token("legacy-user");
    for version in ["2025-06-18", LEGACY] {
        let init = rpc(
            &server.mcp(),
            Some(&token),
            version,
            "initialize",
            json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}),
        )
        .await;
        assert_eq!(init.status, 200, "{}", init.body);
        assert!(
            !init.headers.contains_key("mcp-session-id"),
            "stateless: no session id"
        );
        assert_eq!(init.result()["protocolVersion"], version);
        assert_eq!(init.result()["serverInfo"]["name"], "quilt-mcp");
        assert!(init.result()["capabilities"]["tools"].is_object());

        let list = rpc(
            &server.mcp(),
            Some(&token),
            version,
            "tools/list",
            Value::Null,
        )
        .await;
        assert!(!list.headers.contains_key("mcp-session-id"));
        let tools = list.result();
        assert!(tool_names(tools).contains(&"auth_status".to_owned()));
        let auth = tools["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .find(|t| t["name"] == "auth_status")
            .expect("auth_status");
        assert_eq!(auth["annotations"]["readOnlyHint"], true);
        assert_eq!(auth["outputSchema"]["type"], "object");
        assert_eq!(auth["inputSchema"]["type"], "object");

        let call = call_tool(&server.mcp(), Some(&token), "auth_status", json!({})).await;
        let result = call.result();
        assert_eq!(result["structuredContent"]["subject"], "legacy-user");
        // The text block carries the same JSON for clients that ignore structuredContent.
        let text: Value =
            serde_json::from_str(result["content"][0]["text"].as_str().expect("text"))
                .expect("json");
        assert_eq!(text, result["structuredContent"]);
    }
}

#[tokio::test]
async fn modern_clients_call_without_initialize() {
    let server = TestServer::start(|_| {}).await;
    let token = token("modern-user");
    let discover = rpc(
        &server.mcp(),
        Some(&token),
        MODERN,
        "server/discover",
        json!({}),
    )
    .await;
    assert_eq!(discover.status, 200, "{}", discover.body);
    assert!(
        discover.result()["supportedVersions"]
            .as_array()
            .expect("versions")
            .contains(&json!(MODERN))
    );

    let list = rpc(&server.mcp(), Some(&token), MODERN, "tools/list", json!({})).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(tool_names(list.result()).contains(&"auth_status".to_owned()));
    assert_eq!(
        list.result()["cacheScope"],
        "private",
        "tools/list depends on the caller's scopes"
    );

    let call = rpc(
        &server.mcp(),
        Some(&token),
        MODERN,
        "tools/call",
        json!({"name": "auth_status", "arguments": {}}),
    )
    .await;
    assert_eq!(call.status, 200, "{}", call.body);
    assert!(!call.headers.contains_key("mcp-session-id"));
    assert_eq!(call.result()["structuredContent"]["subject"], "modern-user");
    assert_eq!(call.result()["resultType"], "complete");
}

#[tokio::test]
async fn unknown_tools_are_protocol_errors_and_bad_arguments_are_tool_errors() {
    let server = TestServer::start(|_| {}).await;
    let token = token("a");
    let unknown = call_tool(&server.mcp(), Some(&token), "no_such_tool", json!({})).await;
    assert_eq!(unknown.body["error"]["code"], -32602, "{}", unknown.body);
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("no_such_tool")
    );

    let bad = call_tool(
        &server.mcp(),
        Some(&token),
        "auth_status",
        json!({"surprise": 1}),
    )
    .await;
    let result = bad.result();
    assert_eq!(result["isError"], true);
    assert_eq!(
        result["structuredContent"]["error"]["code"],
        "invalid_argument"
    );
    assert!(
        result["structuredContent"]["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("unknown field `surprise`")
    );

    let wrong_type = call_tool(
        &server.mcp(),
        Some(&token),
        "test_sleep",
        json!({"ms": "soon"}),
    )
    .await;
    assert_eq!(
        wrong_type.result()["structuredContent"]["error"]["code"],
        "invalid_argument"
    );
    let missing = call_tool(&server.mcp(), Some(&token), "test_sleep", json!({})).await;
    assert!(
        missing.result()["structuredContent"]["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("missing field `ms`")
    );
}

#[tokio::test]
async fn malformed_json_rpc_and_wrong_content_type_get_protocol_errors() {
    let server = TestServer::start(|_| {}).await;
    let token = token("a");
    let send = |body: &'static str, content_type: &'static str| {
        http()
            .post(server.mcp())
            .bearer_auth(&token)
            .header("content-type", content_type)
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
    };
    let cases = [
        ("{not json", -32700, json!(null)),
        (r#"{"hello":"world"}"#, -32600, json!(null)),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#,
            -32600,
            json!(null),
        ),
        (
            r#"{"jsonrpc":"1.0","id":7,"method":"tools/list"}"#,
            -32600,
            json!(7),
        ),
        (
            r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":5}"#,
            -32602,
            json!(9),
        ),
    ];
    for (body, code, id) in cases {
        let r = send(body, "application/json").await.expect("send");
        assert_eq!(r.status(), 400, "{body}");
        let answer: Value = r.json().await.expect("json");
        assert_eq!(answer["jsonrpc"], "2.0", "{body}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        assert_eq!(answer["id"], id, "{body}");
    }

    let wrong_type = send(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        "text/plain",
    )
    .await
    .expect("send");
    assert_eq!(wrong_type.status(), 415);
    assert_eq!(server.calls.get(), 0);
}

fn names(list: &Value) -> Vec<String> {
    tool_names(list)
}

#[tokio::test]
async fn scopes_gate_tools_in_the_list_and_on_call() {
    let server = TestServer::start(|_| {}).await;
    let unscoped = hs256(
        &json!({"sub": "no-scopes", "aud": AUDIENCE, "exp": now() + 600}),
        SECRET,
    );
    let list = rpc(
        &server.mcp(),
        Some(&unscoped),
        LEGACY,
        "tools/list",
        Value::Null,
    )
    .await;
    let visible = names(list.result());
    assert!(visible.contains(&"auth_status".to_owned()));
    assert!(
        !visible.iter().any(|n| n.starts_with("bucket_")),
        "{visible:?}"
    );
    let refused = call_tool(
        &server.mcp(),
        Some(&unscoped),
        "bucket_objects_list",
        json!({"bucket": "b"}),
    )
    .await;
    let e = &refused.result()["structuredContent"]["error"];
    assert_eq!(e["code"], "not_permitted");
    assert!(e["message"].as_str().expect("msg").contains("quilt:read"));

    let read_only = hs256(
        &json!({"sub": "reader", "aud": AUDIENCE, "exp": now() + 600, "scope": "quilt:read"}),
        SECRET,
    );
    let visible = names(
        rpc(
            &server.mcp(),
            Some(&read_only),
            LEGACY,
            "tools/list",
            Value::Null,
        )
        .await
        .result(),
    );
    assert!(
        visible.contains(&"bucket_objects_list".to_owned())
            && !visible.contains(&"bucket_objects_put".to_owned()),
        "{visible:?}"
    );

    // The issuer's own spelling, mapped.
    let mapped = TestServer::start(|c| c.scope_map = vec!["quilt:read=catalog.read".into()]).await;
    let catalog = hs256(
        &json!({"sub": "c", "aud": AUDIENCE, "exp": now() + 600, "scope": "catalog.read"}),
        SECRET,
    );
    let visible = names(
        rpc(
            &mapped.mcp(),
            Some(&catalog),
            LEGACY,
            "tools/list",
            Value::Null,
        )
        .await
        .result(),
    );
    assert!(
        visible.contains(&"bucket_objects_list".to_owned())
            && !visible.contains(&"bucket_objects_put".to_owned()),
        "{visible:?}"
    );

    // Scope checks off: everything listed.
    let open = TestServer::start(|c| c.require_scopes = false).await;
    let visible = names(
        rpc(
            &open.mcp(),
            Some(&unscoped),
            LEGACY,
            "tools/list",
            Value::Null,
        )
        .await
        .result(),
    );
    assert!(
        visible.contains(&"bucket_objects_put".to_owned()),
        "{visible:?}"
    );
}

#[tokio::test]
async fn athena_query_validate_answers_from_the_parser() {
    let server = TestServer::start(|_| {}).await;
    let token = token("analyst");
    let verdict = |sql: &'static str| {
        let (url, token) = (server.mcp(), token.clone());
        async move {
            let r = call_tool(
                &url,
                Some(&token),
                "athena_query_validate",
                json!({"query": sql}),
            )
            .await;
            r.result()["structuredContent"].clone()
        }
    };
    let read = verdict("SELECT 'delete' AS \"insert\" FROM t -- DROP TABLE t").await;
    assert_eq!(
        (read["valid"].as_bool(), read["statement"].as_str()),
        (Some(true), Some("SELECT")),
        "{read}"
    );
    let unload = verdict("UNLOAD (SELECT * FROM t) TO 's3://b/p/' WITH (format = 'PARQUET')").await;
    assert_eq!(unload["valid"], false);
    assert!(
        unload["reason"]
            .as_str()
            .expect("reason")
            .contains("UNLOAD"),
        "{unload}"
    );
    let two = verdict("SELECT 1; SELECT 2").await;
    assert_eq!(two["reason"], "exactly one statement is allowed");
}

/// Every product tool in `tools/list` (with a catalog configured and a catalog-issued token,
/// so the catalog tools are listed too) has a short `title` a person reads, distinct from its
/// snake_case name, and the same on both protocol eras. Prints the bytes the titles cost
/// (`--no-capture`; figures in docs/PERFORMANCE.md).
#[tokio::test]
async fn every_tool_has_a_human_title() {
    let server = TestServer::start(|c| c.catalog_url = Some("http://127.0.0.1:9".into())).await;
    let alice = token("alice");
    let mut seen = Vec::new();
    for era in [LEGACY, MODERN] {
        let list = rpc(&server.mcp(), Some(&alice), era, "tools/list", json!({})).await;
        let tools = list.result()["tools"].as_array().expect("tools").clone();
        // The test-only tools of support.rs are not product tools.
        let product: Vec<&Value> = tools
            .iter()
            .filter(|t| {
                let name = t["name"].as_str().expect("name");
                !name.starts_with("test_") && name != "count_calls"
            })
            .collect();
        assert!(product.len() >= 35, "{} tools listed", product.len());
        let mut untitled = Vec::new();
        for tool in &product {
            let name = tool["name"].as_str().expect("name");
            match tool["title"].as_str() {
                Some(title)
                    if !title.trim().is_empty()
                        && title != name
                        && title.len() <= 32
                        && !title.contains('_') => {}
                _ => untitled.push(format!("{name}: {}", tool["title"])),
            }
        }
        assert!(
            untitled.is_empty(),
            "{era}: tools without a human title: {untitled:?}"
        );
        let titles: Vec<(String, String)> = product
            .iter()
            .map(|t| (t["name"].to_string(), t["title"].to_string()))
            .collect();
        let mut distinct: Vec<&String> = titles.iter().map(|(_, t)| t).collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            titles.len(),
            "two tools share a title: {titles:?}"
        );
        seen.push(titles);

        // `TOOLS_LIST_DUMP=path` keeps the list for the byte breakdown in docs/PERFORMANCE.md.
        if let Ok(path) = std::env::var("TOOLS_LIST_DUMP") {
            std::fs::write(
                format!("{path}.{era}.json"),
                serde_json::to_vec(&tools).expect("json"),
            )
            .expect("dump");
        }
        let with = serde_json::to_vec(&tools).expect("json").len();
        let without: Vec<Value> = tools
            .iter()
            .cloned()
            .map(|mut t| {
                t.as_object_mut().expect("object").remove("title");
                t
            })
            .collect();
        let without = serde_json::to_vec(&without).expect("json").len();
        println!(
            "{era}: {} tools; tools/list {without} -> {with} bytes with titles (+{})",
            tools.len(),
            with - without
        );
    }
    assert_eq!(seen[0], seen[1], "the eras list the same titles");
}
