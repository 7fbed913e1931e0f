//! The caller is (issuer, subject): one `sub` from two issuers, or two subjects that sanitise
//! alike (`alice:corp`, `alice/corp`), are different callers — different role sessions (AWS
//! says so through GetCallerIdentity) and different credential-cache entries (the STS calls are
//! counted). `aud` is required by default, with an explicit opt-out. JWKS URLs are checked on
//! the parsed host and redirects are held to the same rule.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

async fn stack_role_server(moto: &Moto, role: &str) -> TestServer {
    let (url, role) = (moto.url.clone(), role.to_owned());
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(role);
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

/// AWS's view of the caller (assumed-role ARN, whose last part is the session name).
async fn aws_arn(server: &TestServer, token: &str) -> String {
    let r = call_tool(
        &server.mcp(),
        Some(token),
        "auth_status",
        json!({"include_aws_identity": true}),
    )
    .await;
    let result = r.result();
    assert_eq!(result["isError"], false, "{result}");
    result["structuredContent"]["aws_identity"]["arn"]
        .as_str()
        .expect("arn")
        .to_owned()
}

#[tokio::test]
async fn one_subject_from_two_issuers_is_two_callers() {
    let moto = Moto::start().await;
    let role = moto.role("SharedStackRole", "*", allow_all()).await;
    let server = stack_role_server(&moto, &role).await;
    let from_a = hs256(
        &claims("alice", json!({"iss": "https://idp-a.example"})),
        SECRET,
    );
    let from_b = hs256(
        &claims("alice", json!({"iss": "https://idp-b.example"})),
        SECRET,
    );
    // The catalog's own tokens carry no `iss`: a third caller named "alice".
    let no_iss = token("alice");

    let a = aws_arn(&server, &from_a).await;
    let b = aws_arn(&server, &from_b).await;
    let c = aws_arn(&server, &no_iss).await;
    for arn in [&a, &b, &c] {
        assert!(
            unhashed(arn).ends_with("assumed-role/SharedStackRole/mcp-alice"),
            "{arn}"
        );
    }
    assert!(a != b && b != c && a != c, "sessions merged: {a} {b} {c}");
    let broker = server.app.aws.broker();
    assert_eq!(broker.assume_role_calls(), 3, "one cache entry per caller");
    // Each caller's entry is reused by its next call: still three STS calls, same sessions.
    assert_eq!(aws_arn(&server, &from_a).await, a);
    assert_eq!(aws_arn(&server, &from_b).await, b);
    assert_eq!(aws_arn(&server, &no_iss).await, c);
    assert_eq!(broker.assume_role_calls(), 3);

    // auth_status names the issuer: the token's, or the HS256 key's fixed name.
    assert_eq!(
        auth_status(&server.mcp(), &from_a).await["issuer"],
        "https://idp-a.example"
    );
    assert_eq!(
        auth_status(&server.mcp(), &no_iss).await["issuer"],
        "quilt-mcp:hs256"
    );
    // Nobody can claim our fixed names.
    let forged = hs256(&claims("alice", json!({"iss": "quilt-mcp:hs256"})), SECRET);
    let r = call_tool(&server.mcp(), Some(&forged), "auth_status", json!({})).await;
    assert_unauthorized(&r, &server, true);
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("token claim iss is invalid") && d.contains("reserved")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn subjects_that_sanitise_alike_get_different_sessions() {
    let moto = Moto::start().await;
    let role = moto.role("SanitiseRole", "*", allow_all()).await;
    let server = stack_role_server(&moto, &role).await;
    let colon = aws_arn(&server, &token("alice:corp")).await;
    let slash = aws_arn(&server, &token("alice/corp")).await;
    // Both readable as alice-corp in CloudTrail, told apart by the identity hash.
    for arn in [&colon, &slash] {
        assert!(
            unhashed(arn).ends_with("assumed-role/SanitiseRole/mcp-alice-corp"),
            "{arn}"
        );
    }
    assert_ne!(colon, slash);
    assert_eq!(server.app.aws.broker().assume_role_calls(), 2);
}

#[tokio::test]
async fn a_token_without_aud_is_refused_by_default_and_accepted_with_the_opt_out() {
    // The default server: no MCP_JWT_AUDIENCE, so `aud` must be the resource URL.
    let strict = TestServer::start(|c| c.jwt_audience = None).await;
    let no_aud = hs256(&without(claims("nadia", json!({})), "aud"), SECRET);
    let r = call_tool(&strict.mcp(), Some(&no_aud), "count_calls", json!({})).await;
    assert_unauthorized(&r, &strict, true);
    assert_eq!(
        r.body["error_description"],
        "token audience is not accepted"
    );
    assert_eq!(strict.calls.get(), 0, "no tool ran");
    let ours = hs256(&claims("nadia", json!({"aud": strict.mcp()})), SECRET);
    assert_eq!(auth_status(&strict.mcp(), &ours).await["subject"], "nadia");

    // MCP_JWT_ALLOW_MISSING_AUD=true: a token without `aud` is accepted...
    let lenient = TestServer::start(|c| {
        c.jwt_audience = None;
        c.jwt_allow_missing_aud = true;
    })
    .await;
    assert_eq!(
        auth_status(&lenient.mcp(), &no_aud).await["subject"],
        "nadia"
    );
    // ...but a token for another audience still is not.
    let theirs = hs256(
        &claims("nadia", json!({"aud": "https://other-api.example"})),
        SECRET,
    );
    let r = call_tool(&lenient.mcp(), Some(&theirs), "count_calls", json!({})).await;
    assert_unauthorized(&r, &lenient, true);
    assert_eq!(lenient.calls.get(), 0);
}

#[tokio::test]
async fn urls_that_only_look_loopback_are_refused_at_start() {
    for (setting, url) in [
        ("MCP_JWT_JWKS_URL", "http://127.evil.example/jwks.json"),
        (
            "MCP_JWT_JWKS_URL",
            "http://localhost.evil.example/jwks.json",
        ),
        ("QUILT_REGISTRY_URL", "http://127.evil.example"),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_quilt-mcp-server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MCP_LISTEN", "127.0.0.1:0")
            .env("MCP_JWT_SECRET", SECRET)
            .env(setting, url)
            .arg("serve")
            .output()
            .await
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{setting}={url} was accepted");
        assert!(
            stderr.contains(setting)
                && stderr.contains(url)
                && stderr.contains("loopback IP or localhost"),
            "{setting}={url}: {stderr}"
        );
    }
}

/// A loopback endpoint that answers every request with a redirect to `to`, counting them.
async fn redirector(to: &'static str) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            axum::response::Redirect::temporary(to)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, hits)
}

#[tokio::test]
async fn jwks_redirects_to_a_weaker_url_are_not_followed() {
    // Plain http may only ever reach loopback: a redirect off loopback is refused, so the key
    // set is never fetched from there (the https→http case is unit-tested in quilt-mcp-auth's
    // jwks.rs: a loopback https endpoint needs a certificate the test cannot make trusted).
    let (url, hits) = redirector("http://127.evil.example/jwks.json").await;
    let server = TestServer::start(move |c| {
        c.jwt_secret = None;
        c.jwt_secret_previous = None;
        c.jwt_jwks_url = Some(url);
    })
    .await;
    assert!(
        hits.load(Ordering::SeqCst) >= 1,
        "the key set was requested"
    );
    let health: Value = http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    let jwks = &health["auth"]["jwks"];
    assert_eq!(jwks["keys"], 0, "{health}");
    assert!(
        jwks["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("neither https nor loopback refused")),
        "{health}"
    );
}
