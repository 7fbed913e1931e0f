//! The credential broker through the server, against moto: each source signs as the identity
//! it should (checked with STS GetCallerIdentity), sources are tried in order and never stepped
//! down from, failures are clear tool errors, role assumption is single-flight and refreshed
//! before expiry, and an STS outage is `upstream_unavailable` with a degraded `/healthz` that
//! recovers without a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quilt_mcp_aws::cache::{ManualClock, SystemClock};
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

/// `auth_status` with the AWS identity; returns the whole result.
async fn whoami(server: &TestServer, token: &str) -> Value {
    let r = call_tool(
        &server.mcp(),
        Some(token),
        "auth_status",
        json!({"include_aws_identity": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.result().clone()
}

fn arn(result: &Value) -> &str {
    assert_eq!(result["isError"], false, "{result}");
    result["structuredContent"]["aws_identity"]["arn"]
        .as_str()
        .expect("arn")
}

/// A tool error's (code, message, credential source).
fn error(result: &Value) -> (String, String, Option<String>) {
    assert_eq!(result["isError"], true, "{result}");
    let e = &result["structuredContent"]["error"];
    (
        e["code"].as_str().expect("code").to_owned(),
        e["message"].as_str().expect("message").to_owned(),
        e["credential_source"].as_str().map(str::to_owned),
    )
}

fn aws_config(moto: &Moto, sources: &[&str]) -> impl FnOnce(&mut quilt_mcp_server::Config) {
    let url = moto.url.clone();
    let sources: Vec<String> = sources.iter().map(|s| (*s).to_owned()).collect();
    move |c| {
        c.aws_endpoint_url = Some(url);
        c.credential_sources = sources;
    }
}

#[tokio::test]
async fn jwt_source_uses_the_embedded_key() {
    let moto = Moto::start().await;
    let (akid, secret) = moto.user("alice-embedded", allow_all()).await;
    let server = TestServer::start(aws_config(&moto, &["jwt"])).await;
    let token = hs256(
        &claims(
            "alice",
            json!({"aws_credentials": {"access_key_id": akid, "secret_access_key": secret}}),
        ),
        SECRET,
    );
    let result = whoami(&server, &token).await;
    assert_eq!(
        arn(&result),
        format!("arn:aws:iam::{ACCOUNT}:user/alice-embedded")
    );
    assert_eq!(result["structuredContent"]["credential_source"], "jwt");
    assert_eq!(result["_meta"]["quilt-mcp/credential_source"], "jwt");
    assert!(
        !result.to_string().contains(&secret),
        "secret in tool output"
    );
}

#[tokio::test]
async fn role_claim_assumes_the_allow_listed_role_as_the_subject() {
    let moto = Moto::start().await;
    let role = moto.role("ClaimRole", "*", allow_all()).await;
    let server = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["role_claim"])(c);
            c.role_arn_allow = vec![format!("arn:aws:iam::{ACCOUNT}:role/Claim*")];
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await;
    let token = hs256(
        &claims(
            "bob@example.com",
            json!({"role_arn": role, "session_tags": {"team": "lab"}}),
        ),
        SECRET,
    );
    let result = whoami(&server, &token).await;
    assert_eq!(
        unhashed(arn(&result)),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/ClaimRole/mcp-bob@example.com")
    );
    assert_eq!(result["_meta"]["quilt-mcp/credential_source"], "role_claim");
    assert_eq!(result["_meta"]["quilt-mcp/role_arn"], role.as_str());

    // Not on the allow-list: refused by the server, before any STS call.
    let other = moto.role("OtherRole", "*", allow_all()).await;
    let before = server.app.aws.broker().assume_role_calls();
    let token = hs256(&claims("bob", json!({"role_arn": other})), SECRET);
    let (code, message, source) = error(&whoami(&server, &token).await);
    assert_eq!(
        (code.as_str(), source.as_deref()),
        ("not_permitted", Some("role_claim"))
    );
    assert!(
        message.contains("not allowed by MCP_ROLE_ARN_ALLOW"),
        "{message}"
    );
    assert_eq!(server.app.aws.broker().assume_role_calls(), before);
}

#[tokio::test]
async fn role_claim_with_an_empty_allow_list_is_refused_and_never_steps_down() {
    let moto = Moto::start().await;
    let claim_role = moto.role("ClaimRole", "*", allow_all()).await;
    let read_role = moto.role("ReadRole", "*", allow_all()).await;
    let server = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["role_claim", "stack_roles", "ambient"])(c);
            c.read_role_arn = Some(read_role.clone());
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await;
    let token = hs256(&claims("eve", json!({"role_arn": claim_role})), SECRET);
    let (code, message, source) = error(&whoami(&server, &token).await);
    assert_eq!(
        (code.as_str(), source.as_deref()),
        ("not_permitted", Some("role_claim")),
        "{message}"
    );
    assert!(message.contains("MCP_ROLE_ARN_ALLOW is empty"), "{message}");
    // The same server serves a caller without a role claim from the stack role.
    let plain = whoami(&server, &token_for("frank")).await;
    assert_eq!(
        unhashed(arn(&plain)),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/ReadRole/mcp-frank")
    );
}

fn token_for(subject: &str) -> String {
    token(subject)
}

#[tokio::test]
async fn stack_roles_follow_the_intent() {
    let moto = Moto::start().await;
    let read_role = moto.role("T4BucketReadRole-X", "*", allow_all()).await;
    let write_role = moto.role("T4BucketWriteRole-X", "*", allow_all()).await;
    let server = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["stack_roles"])(c);
            c.read_role_arn = Some(read_role.clone());
            c.write_role_arn = Some(write_role.clone());
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await;
    let token = token_for("carol");
    assert_eq!(
        unhashed(arn(&whoami(&server, &token).await)),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/T4BucketReadRole-X/mcp-carol")
    );
    let write = call_tool(&server.mcp(), Some(&token), "test_whoami_write", json!({})).await;
    let write = write.result();
    assert_eq!(
        unhashed(write["structuredContent"]["arn"].as_str().expect("arn")),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/T4BucketWriteRole-X/mcp-carol")
    );
    assert_eq!(write["_meta"]["quilt-mcp/role_arn"], write_role.as_str());

    let health: Value = http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["roles"]["read"]["status"], "assumed");
    assert_eq!(health["roles"]["write"]["arn"], write_role.as_str());
    assert!(
        health["roles"]["read"]["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{health}"
    );
}

#[tokio::test]
async fn write_intent_uses_the_read_role_when_there_is_no_write_role() {
    let moto = Moto::start().await;
    let read_role = moto.role("OnlyReadRole", "*", allow_all()).await;
    let server = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["stack_roles"])(c);
            c.read_role_arn = Some(read_role);
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await;
    let write = call_tool(
        &server.mcp(),
        Some(&token_for("gina")),
        "test_whoami_write",
        json!({}),
    )
    .await;
    assert_eq!(
        unhashed(
            write.result()["structuredContent"]["arn"]
                .as_str()
                .expect("arn")
        ),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/OnlyReadRole/mcp-gina")
    );
}

#[tokio::test]
async fn catalog_exchanges_the_callers_token_once_and_refuses_html() {
    let moto = Moto::start().await;
    let (akid, secret) = moto.user("dave-catalog", allow_all()).await;
    let token = token_for("dave");
    let catalog = Catalog::start(token.clone(), CatalogAnswer::Credentials { akid, secret }).await;
    let url = catalog.url.clone();
    let server = TestServer::start(|c| {
        aws_config(&moto, &["catalog"])(c);
        c.registry_url = Some(url);
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            arn(&whoami(&server, &token).await),
            format!("arn:aws:iam::{ACCOUNT}:user/dave-catalog")
        );
    }
    assert_eq!(
        catalog.exchanges.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "cached per token"
    );

    // Another caller's token is refused by the registry: access_denied, nothing cached.
    let (code, message, source) = error(&whoami(&server, &token_for("mallory")).await);
    assert_eq!(
        (code.as_str(), source.as_deref()),
        ("access_denied", Some("catalog")),
        "{message}"
    );

    // A registry URL that answers the web page.
    let html = Catalog::start(token.clone(), CatalogAnswer::Html).await;
    let url = html.url.clone();
    let server = TestServer::start(|c| {
        aws_config(&moto, &["catalog", "ambient"])(c);
        c.registry_url = Some(url);
    })
    .await;
    let (code, message, source) = error(&whoami(&server, &token).await);
    assert_eq!(
        (code.as_str(), source.as_deref()),
        ("upstream_unavailable", Some("catalog"))
    );
    assert!(
        message.contains("answered HTML") && message.contains("QUILT_REGISTRY_URL"),
        "{message}"
    );
}

/// With only `QUILT_CATALOG_URL` set, the `catalog` source finds the registry in the catalog's
/// `config.json`; a `registryUrl` there that is neither https nor loopback is never sent a token.
#[tokio::test]
async fn the_catalog_source_finds_the_registry_in_config_json() {
    let moto = Moto::start().await;
    let (akid, secret) = moto.user("fay-catalog", allow_all()).await;
    let token = token_for("fay");
    let catalog = Catalog::start(token.clone(), CatalogAnswer::Credentials { akid, secret }).await;
    let web = catalog.url.clone();
    let server = TestServer::start(|c| {
        aws_config(&moto, &["catalog"])(c);
        c.catalog_url = Some(web);
    })
    .await;
    assert_eq!(
        arn(&whoami(&server, &token).await),
        format!("arn:aws:iam::{ACCOUNT}:user/fay-catalog")
    );
    assert_eq!(
        catalog.exchanges.load(std::sync::atomic::Ordering::SeqCst),
        1
    );

    // A config.json that names a plain-http registry on another host.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let web = format!("http://{}", listener.local_addr().expect("addr"));
    let router = axum::Router::new().route(
        "/config.json",
        axum::routing::get(|| async {
            axum::Json(json!({"registryUrl": "http://registry.example.com"}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let server = TestServer::start(|c| {
        aws_config(&moto, &["catalog"])(c);
        c.catalog_url = Some(web);
    })
    .await;
    let (code, message, source) = error(&whoami(&server, &token).await);
    assert_eq!(
        (code.as_str(), source.as_deref()),
        ("upstream_unavailable", Some("catalog")),
        "{message}"
    );
    assert!(
        message.contains("neither https nor loopback") && !message.contains(&token),
        "{message}"
    );
}

/// The catalog source presents only catalog-issued tokens: a token verified through the JWKS
/// (issued for this server by another identity provider) never reaches the registry's
/// credential exchange, even with `catalog` as the only source — that would be token
/// passthrough. The registry answers any request it gets, so the count would show one.
#[tokio::test]
async fn a_jwks_verified_token_is_never_exchanged_at_the_catalog() {
    let moto = Moto::start().await;
    let (akid, secret) = moto.user("erin-catalog", allow_all()).await;
    let catalog = Catalog::start("any".into(), CatalogAnswer::Credentials { akid, secret }).await;
    let jwks = crate::jwt::Jwks::start(vec![crate::jwt::jwk(
        crate::jwt::RSA1,
        jsonwebtoken::Algorithm::RS256,
        "rsa-1",
    )])
    .await;
    let (registry, jwks_url) = (catalog.url.clone(), jwks.url.clone());
    let server = TestServer::start(|c| {
        aws_config(&moto, &["catalog"])(c);
        c.registry_url = Some(registry);
        c.jwt_jwks_url = Some(jwks_url);
    })
    .await;
    let idp_token = crate::jwt::sign(
        crate::jwt::RSA1,
        jsonwebtoken::Algorithm::RS256,
        Some("rsa-1"),
        &json!({"sub": "erin", "aud": AUDIENCE, "exp": now() + 600}),
    );
    let (code, message, _) = error(&whoami(&server, &idp_token).await);
    assert_eq!(code, "not_permitted", "{message}");
    assert!(
        message.contains("catalog: the token was not issued by the Quilt catalog"),
        "{message}"
    );
    assert_eq!(
        catalog.exchanges.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a JWKS-verified token was sent to the catalog"
    );
}

#[tokio::test]
async fn ambient_is_used_only_when_listed() {
    let moto = Moto::start().await;
    let (akid, secret) = moto.user("server-identity", allow_all()).await;
    let listed = TestServer::start_with_aws(
        aws_config(&moto, &["jwt", "ambient"]),
        Some(moto.identity(&akid, &secret)),
        Arc::new(SystemClock),
    )
    .await;
    assert_eq!(
        arn(&whoami(&listed, &token_for("henry")).await),
        format!("arn:aws:iam::{ACCOUNT}:user/server-identity")
    );

    let unlisted = TestServer::start_with_aws(
        aws_config(&moto, &["jwt", "stack_roles"]),
        Some(moto.identity(&akid, &secret)),
        Arc::new(SystemClock),
    )
    .await;
    let result = whoami(&unlisted, &token_for("henry")).await;
    let (code, message, source) = error(&result);
    assert_eq!((code.as_str(), source.as_deref()), ("not_permitted", None));
    assert!(
        message.contains("no credential source applies"),
        "{message}"
    );
    // auth_status without the AWS identity still answers, with no source.
    let plain = auth_status(&unlisted.mcp(), &token_for("henry")).await;
    assert_eq!(plain["credential_source"], Value::Null);
}

#[tokio::test]
async fn sources_are_tried_in_the_configured_order() {
    let moto = Moto::start().await;
    let (akid, secret) = moto.user("ivy-key", allow_all()).await;
    let role = moto.role("IvyRole", "*", allow_all()).await;
    let token = hs256(
        &claims(
            "ivy",
            json!({"role_arn": role, "aws_credentials": {"access_key_id": akid, "secret_access_key": secret}}),
        ),
        SECRET,
    );
    for (sources, expected) in [
        (
            ["jwt", "role_claim"],
            format!("arn:aws:iam::{ACCOUNT}:user/ivy-key"),
        ),
        (
            ["role_claim", "jwt"],
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/IvyRole/mcp-ivy"),
        ),
    ] {
        let server = TestServer::start_with_aws(
            |c| {
                aws_config(&moto, &sources)(c);
                c.role_arn_allow = vec!["*".into()];
            },
            Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
            Arc::new(SystemClock),
        )
        .await;
        let got = unhashed_or_same(arn(&whoami(&server, &token).await));
        assert_eq!(got, expected, "{sources:?}");
    }
}

#[tokio::test]
async fn expired_embedded_credentials_are_refused() {
    let moto = Moto::start().await;
    let server = TestServer::start(aws_config(&moto, &["jwt", "ambient"])).await;
    let token = hs256(
        &claims(
            "jack",
            json!({"aws_credentials": {"access_key_id": "ASIAEXPIREDEXPIRED01", "secret_access_key": "s", "expiration": "2020-01-01T00:00:00Z"}}),
        ),
        SECRET,
    );
    let (code, message, source) = error(&whoami(&server, &token).await);
    assert_eq!(
        (code.as_str(), source.as_deref()),
        ("access_denied", Some("jwt"))
    );
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn role_assumption_is_single_flight_and_refreshed_before_expiry() {
    let moto = Moto::start().await;
    let role = moto.role("FlightRole", "*", allow_all()).await;
    let clock = ManualClock::new();
    let server = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["stack_roles"])(c);
            c.read_role_arn = Some(role.clone());
            c.max_in_flight = 1024;
            // 100 simultaneous calls of one caller: above the default per-caller share.
            c.fairness.caller_max_in_flight = Some(1024);
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(clock.clone()),
    )
    .await;
    let token = token_for("kim");
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let (url, token) = (server.mcp(), token.clone());
            tokio::spawn(async move {
                call_tool(
                    &url,
                    Some(&token),
                    "auth_status",
                    json!({"include_aws_identity": true}),
                )
                .await
            })
        })
        .collect();
    for call in calls {
        let r = call.await.expect("join");
        assert!(unhashed(arn(r.result())).ends_with("assumed-role/FlightRole/mcp-kim"));
    }
    let broker = server.app.aws.broker();
    assert_eq!(
        broker.assume_role_calls(),
        1,
        "100 simultaneous first calls, one AssumeRole"
    );

    // Still fresh 54 minutes in (the session lasts 60): no new call.
    clock.advance(Duration::from_secs(54 * 60));
    whoami(&server, &token).await;
    assert_eq!(broker.assume_role_calls(), 1);
    // Inside the 5-minute margin: refreshed.
    clock.advance(Duration::from_secs(2 * 60));
    whoami(&server, &token).await;
    assert_eq!(broker.assume_role_calls(), 2);
    // A different subject gets its own session.
    assert!(unhashed(arn(&whoami(&server, &token_for("lee")).await)).ends_with("mcp-lee"));
    assert_eq!(broker.assume_role_calls(), 3);
}

#[tokio::test]
async fn sts_outage_is_upstream_unavailable_degraded_and_recovers() {
    let moto = Moto::start().await;
    let role = moto.role("OutageRole", "*", allow_all()).await;
    let switch = Switch::start(&moto.url).await;
    switch.set_up(false);
    let settings = quilt_mcp_aws::AwsSettings::new("us-east-1", Some(switch.url.clone()));
    let identity = quilt_mcp_aws::ServerIdentity::from_static_keys(
        "AKIASERVERSERVER0001",
        "server-secret",
        settings,
    );
    let url = switch.url.clone();
    let server = TestServer::start_with_aws(
        |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(role.clone());
            c.role_check_interval_s = 1;
        },
        Some(identity),
        Arc::new(SystemClock),
    )
    .await;
    let health = http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.expect("json");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["roles"]["read"]["status"], "failed");
    assert!(
        health["roles"]["read"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );

    let token = token_for("mo");
    let started = Instant::now();
    let (code, message, source) = error(&whoami(&server, &token).await);
    // A figure for the notes, not an assertion (shared machines make timings flaky).
    eprintln!("sts outage: tool error after {:?}", started.elapsed());
    assert_eq!(
        (code.as_str(), source.as_deref()),
        ("upstream_unavailable", Some("stack_roles")),
        "{message}"
    );

    switch.set_up(true);
    assert!(
        unhashed(arn(&whoami(&server, &token).await)).ends_with("assumed-role/OutageRole/mcp-mo"),
        "recovered without a restart"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h: Value = http()
            .get(server.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .json()
            .await
            .expect("json");
        if h["status"] == "ok" && h["roles"]["read"]["status"] == "assumed" {
            break;
        }
        assert!(Instant::now() < deadline, "health never recovered: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn strict_health_answers_503_while_a_role_fails() {
    let moto = Moto::start().await;
    let server = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["stack_roles"])(c);
            // A role that does not exist cannot be assumed once IAM is enforced; with moto's
            // auth off the server has no identity at all here, so the check fails.
            c.read_role_arn = Some(format!("arn:aws:iam::{ACCOUNT}:role/Missing"));
            c.healthz_strict = true;
        },
        None,
        Arc::new(SystemClock),
    )
    .await;
    let health = http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 503);
    let h: Value = health.json().await.expect("json");
    assert_eq!(h["status"], "degraded");
    assert!(
        h["roles"]["read"]["error"]
            .as_str()
            .expect("error")
            .contains("no AWS identity"),
        "{h}"
    );
}

#[tokio::test]
async fn stack_name_finds_the_roles_and_a_missing_role_is_only_a_warning() {
    let moto = Moto::start().await;
    moto.quilt_stack("quilt-prod", true).await;
    moto.quilt_stack("quilt-half", false).await;
    let identity = || Some(moto.identity("AKIASERVERSERVER0001", "server-secret"));

    let full = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["stack_roles"])(c);
            c.stack_name = Some("quilt-prod".into());
        },
        identity(),
        Arc::new(SystemClock),
    )
    .await;
    let h: Value = http()
        .get(full.url("/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(
        h["roles"]["read"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/quilt-prod-T4BucketReadRole-ABC123")
    );
    assert_eq!(
        h["roles"]["write"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/quilt-prod-T4BucketWriteRole-DEF456")
    );
    assert_eq!(h["roles"]["read"]["status"], "assumed");
    let write = call_tool(
        &full.mcp(),
        Some(&token_for("nia")),
        "test_whoami_write",
        json!({}),
    )
    .await;
    assert!(
        write.result()["structuredContent"]["arn"]
            .as_str()
            .expect("arn")
            .contains("quilt-prod-T4BucketWriteRole-DEF456/mcp-nia-")
    );

    // No write role in the stack: the server starts, write intent uses the read role.
    let half = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["stack_roles"])(c);
            c.stack_name = Some("quilt-half".into());
        },
        identity(),
        Arc::new(SystemClock),
    )
    .await;
    let h: Value = http()
        .get(half.url("/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (h["status"].as_str(), h["roles"]["write"]["status"].as_str()),
        (Some("ok"), Some("not_configured"))
    );
    let write = call_tool(
        &half.mcp(),
        Some(&token_for("nia")),
        "test_whoami_write",
        json!({}),
    )
    .await;
    assert!(
        write.result()["structuredContent"]["arn"]
            .as_str()
            .expect("arn")
            .contains("quilt-half-T4BucketReadRole-ABC123/mcp-nia-")
    );

    // A stack that does not exist: still serving, no stack roles, a clear answer to callers.
    let missing = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["stack_roles"])(c);
            c.stack_name = Some("no-such-stack".into());
        },
        identity(),
        Arc::new(SystemClock),
    )
    .await;
    let (code, _, _) = error(&whoami(&missing, &token_for("nia")).await);
    assert_eq!(code, "not_permitted");
}

#[tokio::test]
async fn discover_stack_prints_the_role_arns() {
    let moto = Moto::start().await;
    moto.quilt_stack("quilt-cli", true).await;
    let run = |stack: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_quilt-mcp-server"))
            .args(["discover-stack", "--stack-name", stack])
            .env_clear()
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_ACCESS_KEY_ID", "AKIASERVERSERVER0001")
            .env("AWS_SECRET_ACCESS_KEY", "server-secret")
            .output()
    };
    let out = run("quilt-cli").await.expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "QUILT_READ_ROLE_ARN=arn:aws:iam::{ACCOUNT}:role/quilt-cli-T4BucketReadRole-ABC123"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "QUILT_WRITE_ROLE_ARN=arn:aws:iam::{ACCOUNT}:role/quilt-cli-T4BucketWriteRole-DEF456"
        )),
        "{stdout}"
    );
    let out = run("no-such-stack").await.expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ListStackResources no-such-stack"));
}

#[tokio::test]
async fn malformed_credential_claims_refuse_the_token_and_sign_nothing() {
    let moto = Moto::start().await;
    let read_role = moto.role("FallbackRole", "*", allow_all()).await;
    let server = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["jwt", "role_claim", "stack_roles"])(c);
            c.read_role_arn = Some(read_role);
            c.role_arn_allow = vec!["*".into()];
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await;
    let cases = [
        (
            json!({"aws_credentials": {"access_key_id": "ASIAAAAAAAAAAAAAAAAA"}}),
            "aws_credentials",
            "secret_access_key is missing",
        ),
        (
            json!({"aws_credentials": "AKIA-in-a-string"}),
            "aws_credentials",
            "must be an object",
        ),
        (
            json!({"role_arn": "arn:aws:iam::12:role/x"}),
            "role_arn",
            "not an IAM role ARN",
        ),
        (
            json!({"role_arn": "arn:aws:iam::123456789012:role/R", "session_tags": {"bad\u{7}": "v"}}),
            "session_tags",
            "session tag key",
        ),
    ];
    for (extra, claim, reason) in cases {
        let token = hs256(&claims("oscar", extra.clone()), SECRET);
        let r = call_tool(
            &server.mcp(),
            Some(&token),
            "auth_status",
            json!({"include_aws_identity": true}),
        )
        .await;
        assert_unauthorized(&r, &server, true);
        let d = r.body["error_description"].as_str().unwrap_or_default();
        assert!(
            d.starts_with(&format!("token claim {claim} is invalid")) && d.contains(reason),
            "{extra}: {d}"
        );
    }
    // Nothing was resolved or assumed for oscar: the fallback stack role was never used.
    assert_eq!(server.app.aws.broker().resolutions(), 0);
    assert_eq!(server.app.aws.broker().assume_role_calls(), 0);
}

#[tokio::test]
async fn the_audit_line_names_the_source_role_and_aws_request() {
    let moto = Moto::start().await;
    let role = moto.role("AuditRole", "*", allow_all()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_quilt-mcp-server"))
        .env_clear()
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .env("MCP_JWT_SECRET", SECRET)
        .env("MCP_JWT_AUDIENCE", AUDIENCE)
        .env("MCP_LOG_FORMAT", "json")
        .env("RUST_LOG", "audit=info")
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "AKIASERVERSERVER0001")
        .env("AWS_SECRET_ACCESS_KEY", "server-secret")
        .env("QUILT_READ_ROLE_ARN", &role)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http()
        .get(format!("{url}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "server never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = token_for("pat");
    let r = call_tool(
        &format!("{url}/mcp"),
        Some(&token),
        "auth_status",
        json!({"include_aws_identity": true}),
    )
    .await;
    assert!(unhashed(arn(r.result())).ends_with("assumed-role/AuditRole/mcp-pat"));
    let pid = server.id().expect("pid").to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    server.wait().await.expect("exit");
    let mut logs = String::new();
    tokio::io::AsyncReadExt::read_to_string(server.stderr.as_mut().expect("stderr"), &mut logs)
        .await
        .expect("read");
    let audit: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "audit" && l["event"] == "tool_call")
        .collect();
    assert_eq!(
        audit.len(),
        1,
        "exactly one audit line per tool call: {logs}"
    );
    let line = &audit[0];
    assert_eq!(line["subject"], "pat");
    assert_eq!(line["tool"], "auth_status");
    assert_eq!(line["credential_source"], "stack_roles");
    assert_eq!(line["role_arn"], role.as_str());
    assert_eq!(line["result"], "ok");
    assert!(
        line["aws_request_ids"]
            .as_str()
            .is_some_and(|ids| !ids.is_empty()),
        "{line}"
    );
    assert!(line["elapsed_ms"].is_u64());
    assert!(!logs.contains(&token) && !logs.contains("server-secret"));
}

#[tokio::test]
async fn a_denied_assume_role_is_access_denied_and_not_cached() {
    let mut moto = Moto::start().await;
    moto.create_admin().await;
    let role = moto.role("DeniedRole", "*", allow_all()).await;
    // The server's identity may list buckets, nothing else: AssumeRole is denied by IAM.
    let (akid, secret) = moto
        .user(
            "server-without-sts",
            allow(&["s3:ListAllMyBuckets"], &["*"]),
        )
        .await;
    moto.enforce_iam().await;
    let server = TestServer::start_with_aws(
        |c| {
            aws_config(&moto, &["role_claim"])(c);
            c.role_arn_allow = vec![role.clone()];
        },
        Some(moto.identity(&akid, &secret)),
        Arc::new(SystemClock),
    )
    .await;
    let token = hs256(&claims("quinn", json!({"role_arn": role})), SECRET);
    for attempt in 1..=2 {
        let (code, message, source) = error(&whoami(&server, &token).await);
        assert_eq!(
            (code.as_str(), source.as_deref()),
            ("access_denied", Some("role_claim")),
            "{message}"
        );
        assert!(
            message.contains("AssumeRole") && message.contains("AccessDenied"),
            "{message}"
        );
        assert_eq!(
            server.app.aws.broker().assume_role_calls(),
            attempt,
            "the failure was not cached"
        );
    }
}
