//! Outages of the server's upstreams — STS, S3 and the JWKS endpoint — broken and restored
//! through the fault proxy (`fault_proxy.rs`) in each way a path breaks: connections cut,
//! every answer 503, requests held unanswered.
//!
//! The contract: while an upstream is down, a call ends with a clear answer — a tool error
//! `upstream_unavailable` (AWS) or HTTP 503 with `Retry-After` (no usable signing key) —
//! before the request timeout, never a hang and never a 500; once the upstream is back, the
//! next calls succeed without a restart. Elapsed times and recovery times are printed as
//! figures (`--no-capture`); the assertions use generous bounds, since the contract is "no
//! hang", not a speed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::fault_proxy::{FaultProxy, Mode};
use crate::moto::*;
use crate::support::*;

/// The request timeout these servers run with: every answer during an outage must come
/// before it (the TimeoutLayer's 504 would mean the call hung until cut off).
const REQUEST_TIMEOUT_S: u64 = 30;
/// The request timeout of the never-answering S3 case (short, to keep the suite quick).
const HANG_REQUEST_TIMEOUT_S: u64 = 12;
/// A generous bound on recovery after restore (the figure printed is what matters).
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
const BUCKET: &str = "faults-bucket";

/// Calls `tool` and returns (HTTP status, the tool result or the body, elapsed).
async fn timed_call(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    tool: &str,
    args: Value,
) -> (u16, Value, Duration) {
    let started = Instant::now();
    let r = call_tool_with(client, url, token, tool, args)
        .await
        .expect("the server answers");
    let elapsed = started.elapsed();
    let value = if r.status == 200 {
        r.body["result"].clone()
    } else {
        r.body.clone()
    };
    (r.status.as_u16(), value, elapsed)
}

/// Calls until one succeeds (bounded); returns how long after `since` that was.
async fn recovery(since: Instant, mut attempt: impl AsyncFnMut() -> bool, what: &str) -> Duration {
    loop {
        if attempt().await {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < RECOVERY_BOUND,
            "{what}: no recovery within {RECOVERY_BOUND:?} of restore"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_upstream_unavailable(what: &str, status: u16, result: &Value, elapsed: Duration) {
    assert_eq!(status, 200, "{what}: HTTP {status} {result}");
    assert_eq!(result["isError"], true, "{what}: {result}");
    assert_eq!(
        result["structuredContent"]["error"]["code"], "upstream_unavailable",
        "{what}: {result}"
    );
    assert!(
        elapsed < Duration::from_secs(REQUEST_TIMEOUT_S),
        "{what}: answered only after {elapsed:?}"
    );
}

#[tokio::test]
async fn s3_outages_are_upstream_unavailable_and_recover_on_restore() {
    let moto = Moto::start().await;
    moto.s3()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    moto.s3()
        .put_object()
        .bucket(BUCKET)
        .key("k.txt")
        .content_type("text/plain")
        .body(b"still here".to_vec().into())
        .send()
        .await
        .expect("put");
    let proxy = FaultProxy::start(&moto.url).await;
    let url = proxy.url.clone();
    let server = TestServer::start(move |c| {
        c.aws_endpoint_url = Some(url);
        c.credential_sources = vec!["jwt".into()];
        c.request_timeout_s = REQUEST_TIMEOUT_S;
    })
    .await;
    let token = hs256(
        &claims(
            "reader",
            json!({"aws_credentials": {"access_key_id": "AKIAREADERREADER0001", "secret_access_key": "reader-secret"}}),
        ),
        SECRET,
    );
    let client = pooled_http();
    let read = async || {
        timed_call(
            &client,
            &server.mcp(),
            &token,
            "bucket_object_text",
            json!({"s3_uri": format!("s3://{BUCKET}/k.txt")}),
        )
        .await
    };
    // A pooled connection to the proxy exists before each outage.
    let (status, result, _) = read().await;
    assert_eq!(
        (status, &result["structuredContent"]["text"]),
        (200, &json!("still here"))
    );

    for mode in [Mode::Cut, Mode::Unavailable, Mode::Hang] {
        proxy.set_mode(mode);
        let (status, result, elapsed) = if mode == Mode::Hang {
            // Restore while the call is held: it must then complete (or fail cleanly).
            let call = read();
            let restore = async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                proxy.set_mode(Mode::Pass);
            };
            let (outcome, ()) = tokio::join!(call, restore);
            outcome
        } else {
            read().await
        };
        eprintln!(
            "s3 {mode:?}: answered in {elapsed:?}: HTTP {status} {}",
            result["structuredContent"]
        );
        if mode == Mode::Hang {
            // Held upstream requests are released at restore; the call completes.
            assert_eq!(status, 200, "{result}");
            assert_eq!(
                result["structuredContent"]["text"], "still here",
                "{result}"
            );
            continue;
        }
        assert_upstream_unavailable(&format!("s3 {mode:?}"), status, &result, elapsed);
        let restored = Instant::now();
        proxy.set_mode(Mode::Pass);
        let took = recovery(
            restored,
            async || {
                let (status, result, _) = read().await;
                status == 200 && result["isError"] == false
            },
            "s3",
        )
        .await;
        eprintln!("s3 {mode:?}: first success {took:?} after restore");
    }
}

#[tokio::test]
async fn an_s3_that_never_answers_is_upstream_unavailable_before_the_request_timeout() {
    let moto = Moto::start().await;
    let proxy = FaultProxy::start(&moto.url).await;
    proxy.set_mode(Mode::Hang);
    let url = proxy.url.clone();
    let server = TestServer::start(move |c| {
        c.aws_endpoint_url = Some(url);
        c.credential_sources = vec!["jwt".into()];
        c.request_timeout_s = HANG_REQUEST_TIMEOUT_S;
    })
    .await;
    let token = hs256(
        &claims(
            "waiter",
            json!({"aws_credentials": {"access_key_id": "AKIAWAITERWAITER0001", "secret_access_key": "waiter-secret"}}),
        ),
        SECRET,
    );
    let (status, result, elapsed) = timed_call(
        &pooled_http(),
        &server.mcp(),
        &token,
        "bucket_object_text",
        json!({"s3_uri": format!("s3://{BUCKET}/k.txt")}),
    )
    .await;
    eprintln!("s3 never answering: answered in {elapsed:?}: HTTP {status} {result}");
    assert_upstream_unavailable("s3 never answering", status, &result, elapsed);
    assert!(elapsed < Duration::from_secs(HANG_REQUEST_TIMEOUT_S));
    proxy.set_mode(Mode::Pass);
}

#[tokio::test]
async fn sts_outages_are_upstream_unavailable_and_recover_on_restore() {
    let moto = Moto::start().await;
    let proxy = FaultProxy::start(&moto.url).await;
    let url = proxy.url.clone();
    let identity = quilt_mcp_aws::ServerIdentity::from_static_keys(
        "AKIASERVERSERVER0001",
        "server-secret",
        quilt_mcp_aws::AwsSettings::new("us-east-1", Some(proxy.url.clone())),
    );
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["role_claim".into()];
            c.role_arn_allow = vec![format!("arn:aws:iam::{ACCOUNT}:role/outage-*")];
            c.request_timeout_s = REQUEST_TIMEOUT_S;
        },
        Some(identity),
        Arc::new(SystemClock),
    )
    .await;
    let client = pooled_http();
    for (n, mode) in [Mode::Cut, Mode::Unavailable, Mode::Hang]
        .into_iter()
        .enumerate()
    {
        // A new subject per mode: its role has never been assumed, so the call needs STS.
        let token = hs256(
            &claims(
                &format!("sts-{n}"),
                json!({"role_arn": format!("arn:aws:iam::{ACCOUNT}:role/outage-{n}")}),
            ),
            SECRET,
        );
        let whoami = async || {
            timed_call(
                &client,
                &server.mcp(),
                &token,
                "auth_status",
                json!({"include_aws_identity": true}),
            )
            .await
        };
        proxy.set_mode(mode);
        let (status, result, elapsed) = whoami().await;
        eprintln!(
            "sts {mode:?}: answered in {elapsed:?}: HTTP {status} {}",
            result["structuredContent"]
        );
        assert_upstream_unavailable(&format!("sts {mode:?}"), status, &result, elapsed);
        assert_eq!(
            result["structuredContent"]["error"]["credential_source"], "role_claim",
            "{result}"
        );
        let restored = Instant::now();
        proxy.set_mode(Mode::Pass);
        let took = recovery(
            restored,
            async || {
                let (status, result, _) = whoami().await;
                status == 200
                    && result["structuredContent"]["aws_identity"]["arn"]
                        .as_str()
                        .is_some_and(|a| unhashed(a).ends_with(&format!("outage-{n}/mcp-sts-{n}")))
            },
            "sts",
        )
        .await;
        eprintln!("sts {mode:?}: first success {took:?} after restore");
    }
}

const RSA1: &[u8] = include_bytes!("keys/rsa1.pem");

fn rsa_jwk(kid: &str) -> Jwk {
    let key = EncodingKey::from_rsa_pem(RSA1).expect("key");
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("jwk");
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

fn rs256(sub: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        &claims(sub, json!({})),
        &EncodingKey::from_rsa_pem(RSA1).expect("key"),
    )
    .expect("sign")
}

#[tokio::test]
async fn jwks_outages_are_503_without_a_cached_key_and_recover_on_restore() {
    let set = JwkSet {
        keys: vec![rsa_jwk("rsa-1")],
    };
    let router = axum::Router::new().route(
        "/jwks.json",
        get(move || {
            let set = set.clone();
            async move { axum::Json(set) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = pooled_http();
    let token = rs256("jwks-user", "rsa-1");

    for mode in [Mode::Cut, Mode::Unavailable, Mode::Hang] {
        // Broken from the start: the server has no key to verify with.
        let proxy = FaultProxy::start(&origin).await;
        proxy.set_mode(mode);
        let jwks_url = format!("{}/jwks.json", proxy.url);
        let server = TestServer::start(move |c| {
            c.jwt_secret = None;
            c.jwt_secret_previous = None;
            c.jwt_jwks_url = Some(jwks_url);
            // The default refetch interval (60 s): recovery must not wait for it.
            c.request_timeout_s = REQUEST_TIMEOUT_S;
        })
        .await;
        let started = Instant::now();
        let r = call_tool_with(&client, &server.mcp(), &token, "count_calls", json!({}))
            .await
            .expect("answer");
        let elapsed = started.elapsed();
        eprintln!(
            "jwks {mode:?}: answered in {elapsed:?}: HTTP {} {}",
            r.status, r.body
        );
        assert_eq!(r.status, 503, "jwks {mode:?}: {}", r.body);
        assert_eq!(r.body["error"], "temporarily_unavailable");
        assert!(r.headers.contains_key("retry-after"));
        assert!(elapsed < Duration::from_secs(REQUEST_TIMEOUT_S));
        assert_eq!(server.calls.get(), 0, "no tool ran for an unverified token");

        let restored = Instant::now();
        proxy.set_mode(Mode::Pass);
        let took = recovery(
            restored,
            async || {
                call_tool_with(&client, &server.mcp(), &token, "count_calls", json!({}))
                    .await
                    .is_ok_and(|r| r.status == 200)
            },
            "jwks",
        )
        .await;
        eprintln!("jwks {mode:?}: first success {took:?} after restore");

        // Broken again after a successful fetch: the cached key keeps working, at once.
        proxy.set_mode(mode);
        let started = Instant::now();
        let r = call_tool_with(&client, &server.mcp(), &token, "count_calls", json!({}))
            .await
            .expect("answer");
        assert_eq!(
            r.status, 200,
            "cached key during a {mode:?} outage: {}",
            r.body
        );
        eprintln!(
            "jwks {mode:?}: cached key served in {:?} during the outage",
            started.elapsed()
        );
    }
}
