//! The HTTP surface around /mcp: 405s, `/mcp/` without a redirect, CORS before auth, the
//! Host allow-list and Origin validation, body limits, RFC 9728 metadata, health routes.

use serde_json::{Value, json};

use crate::support::*;

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

#[tokio::test]
async fn get_and_delete_on_mcp_are_405_and_trailing_slash_is_served() {
    let server = TestServer::start(|_| {}).await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
    ] {
        let r = http()
            .request(method.clone(), server.mcp())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 405, "{method}");
        assert_eq!(r.headers()["allow"], "POST", "{method}");
    }
    // With a token too: still 405, not a 401 or a session.
    let r = http()
        .get(server.mcp())
        .bearer_auth(token("a"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 405);

    let slash = call_tool(
        &server.url("/mcp/"),
        Some(&token("slash-user")),
        "auth_status",
        json!({}),
    )
    .await;
    assert_eq!(slash.status, 200, "no redirect");
    assert_eq!(slash.result()["structuredContent"]["subject"], "slash-user");
}

#[tokio::test]
async fn cors_preflight_needs_no_token_and_401s_carry_cors_headers() {
    let server = TestServer::start(|_| {}).await;
    let preflight = http()
        .request(reqwest::Method::OPTIONS, server.mcp())
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .expect("send");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        allowed.contains("authorization") && allowed.contains("mcp-protocol-version"),
        "{allowed}"
    );

    let unauthorized = http()
        .post(server.mcp())
        .header("origin", "https://app.example")
        .header("content-type", "application/json")
        .body(LIST)
        .send()
        .await
        .expect("send");
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(unauthorized.headers()["access-control-allow-origin"], "*");
    let exposed = unauthorized.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii");
    assert!(exposed.contains("www-authenticate"), "{exposed}");
}

#[tokio::test]
async fn configured_origins_are_enforced_for_cors_and_requests() {
    let server =
        TestServer::start(|c| c.allowed_origins = vec!["https://app.example".into()]).await;
    let ok = http()
        .post(server.mcp())
        .bearer_auth(token("a"))
        .header("origin", "https://app.example")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(LIST)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let evil = http()
        .post(server.mcp())
        .bearer_auth(token("a"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(LIST)
        .send()
        .await
        .expect("send");
    assert_eq!(evil.status(), 403);
    assert!(!evil.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn host_allow_list_accepts_the_public_host_and_refuses_others() {
    let server = TestServer::start(|c| c.public_url = Some("https://mcp.example.com".into())).await;
    let with_host = |host: &'static str| {
        http()
            .post(server.mcp())
            .bearer_auth(token("a"))
            .header("host", host)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(LIST)
            .send()
    };
    assert_eq!(
        with_host("mcp.example.com").await.expect("send").status(),
        200,
        "the ALB's public host"
    );
    assert_eq!(with_host("127.0.0.1").await.expect("send").status(), 200);
    assert_eq!(
        with_host("evil.example.com").await.expect("send").status(),
        403,
        "DNS rebinding"
    );
    // Metadata URLs come from MCP_PUBLIC_URL, not from the Host header.
    let r = http()
        .post(server.mcp())
        .header("host", "evil.example.com")
        .body(LIST)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(
        challenge.contains("https://mcp.example.com/.well-known/oauth-protected-resource/mcp"),
        "{challenge}"
    );
    assert!(!challenge.contains("evil"));
}

#[tokio::test]
async fn oversized_bodies_are_413_with_and_without_content_length() {
    let server = TestServer::start(|c| c.max_body_bytes = 4096).await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"pad":"{}"}}}}"#,
        "x".repeat(8192)
    );
    let with_length = http()
        .post(server.mcp())
        .bearer_auth(token("a"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(with_length.status(), 413);
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(1024)
        .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
        .collect();
    let chunked = http()
        .post(server.mcp())
        .bearer_auth(token("a"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("send");
    assert_eq!(chunked.status(), 413);
    let answer: Value = chunked.json().await.expect("json");
    assert!(
        answer["error"]["message"]
            .as_str()
            .expect("message")
            .contains("larger than 4096 bytes"),
        "{answer}"
    );
    assert_eq!(server.calls.get(), 0);
}

#[tokio::test]
async fn protected_resource_metadata_is_served_from_the_public_url() {
    let server = TestServer::start(|c| {
        c.public_url = Some("https://mcp.example.com/".into());
        c.jwt_issuer = Some("https://auth.example.com".into());
    })
    .await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let r = http()
            .get(server.url(path))
            .header("host", "127.0.0.1")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{path}");
        let prm: Value = r.json().await.expect("json");
        assert_eq!(prm["resource"], "https://mcp.example.com/mcp");
        assert_eq!(
            prm["authorization_servers"],
            json!(["https://auth.example.com"])
        );
        assert_eq!(prm["bearer_methods_supported"], json!(["header"]));
        assert!(
            prm["scopes_supported"]
                .as_array()
                .expect("scopes")
                .contains(&json!("quilt:read"))
        );
    }
}

#[tokio::test]
async fn healthz_and_readyz_report_state_without_secrets() {
    let server = TestServer::start(|_| {}).await;
    let r = http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    assert!(!text.contains(SECRET) && !text.contains(PREVIOUS_SECRET));
    let h: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(h["status"], "ok");
    assert_eq!(h["transport"], "http");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert!(h["uptime_s"].is_u64());
    assert_eq!(h["auth"]["algorithms"], json!(["HS256"]));
    assert_eq!(
        h["credentials"]["sources"],
        json!(["jwt", "role_claim", "catalog", "stack_roles"])
    );
    assert_eq!(h["credentials"]["ambient_allowed"], false);
    for role in ["read", "write"] {
        assert_eq!(h["roles"][role]["status"], "not_configured");
    }
    let ready = http()
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("send");
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn auth_disabled_serves_a_fixed_local_principal() {
    let server = TestServer::start(|c| {
        c.auth_disabled = true;
        c.jwt_secret = None;
        c.jwt_secret_previous = None;
    })
    .await;
    let r = call_tool(&server.mcp(), None, "auth_status", json!({})).await;
    let s = &r.result()["structuredContent"];
    assert_eq!(s["subject"], "local-dev");
    assert_eq!(s["auth_method"], "disabled");
}
