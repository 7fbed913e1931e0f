//! The JWT matrix: every bad token is a 401 with the RFC 9728 challenge and runs no tool;
//! good tokens (current or previous HS256 secret, JWKS RS256/ES256 with rotation) reach the
//! tool with their claims.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::routing::get;
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::*;

pub const RSA1: &[u8] = include_bytes!("keys/rsa1.pem");
const RSA2: &[u8] = include_bytes!("keys/rsa2.pem");
const EC1: &[u8] = include_bytes!("keys/ec1.pem");
const RSA1_PUBLIC: &[u8] = include_bytes!("keys/rsa1.pub.pem");

/// Sends `token` to `count_calls` and asserts the 401 and that no tool ran.
async fn refused(server: &TestServer, token: &str) -> Rpc {
    let r = call_tool(&server.mcp(), Some(token), "count_calls", json!({})).await;
    assert_unauthorized(&r, server, true);
    assert_eq!(server.calls.get(), 0, "a refused request ran a tool");
    r
}

fn description(r: &Rpc) -> String {
    r.body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn missing_and_malformed_tokens_are_401_and_run_no_tool() {
    let server = TestServer::start(|_| {}).await;
    let r = call_tool(&server.mcp(), None, "count_calls", json!({})).await;
    assert_unauthorized(&r, &server, false);
    assert_eq!(description(&r), "missing bearer token");

    for garbage in ["abc", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.e30"] {
        let r = refused(&server, garbage).await;
        assert_eq!(description(&r), "token is malformed", "{garbage}");
    }
    // Not a bearer scheme.
    let r = http()
        .post(server.mcp())
        .header("authorization", "Basic dXNlcjpwYXNz")
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );
    assert_eq!(server.calls.get(), 0);
}

#[tokio::test]
async fn expired_not_yet_valid_and_future_iat_tokens_are_refused() {
    let server = TestServer::start(|_| {}).await;
    let t = now();
    let expired = hs256(
        &json!({"sub": "a", "aud": AUDIENCE, "exp": t - 120}),
        SECRET,
    );
    assert_eq!(
        description(&refused(&server, &expired).await),
        "token has expired"
    );
    let early = hs256(
        &json!({"sub": "a", "aud": AUDIENCE, "exp": t + 3600, "nbf": t + 600}),
        SECRET,
    );
    assert_eq!(
        description(&refused(&server, &early).await),
        "token is not valid yet"
    );
    let future = hs256(
        &json!({"sub": "a", "aud": AUDIENCE, "exp": t + 3600, "iat": t + 600}),
        SECRET,
    );
    assert_eq!(
        description(&refused(&server, &future).await),
        "token was issued in the future"
    );
    let no_exp = hs256(&json!({"sub": "a", "aud": AUDIENCE}), SECRET);
    assert_eq!(
        description(&refused(&server, &no_exp).await),
        "token lacks the required claim exp"
    );
    // A token missing several required claims gets the same answer every time (exp, then
    // iss, then aud), not whichever one a hash set happened to visit first.
    let bare = hs256(&json!({"sub": "a"}), SECRET);
    for _ in 0..16 {
        assert_eq!(
            description(&refused(&server, &bare).await),
            "token lacks the required claim exp"
        );
    }
    let no_aud = hs256(&json!({"sub": "a", "exp": t + 3600}), SECRET);
    assert_eq!(
        description(&refused(&server, &no_aud).await),
        "token audience is not accepted"
    );
    // Within the leeway (30 s) a just-expired token still works.
    let fresh_enough = hs256(&json!({"sub": "a", "aud": AUDIENCE, "exp": t - 5}), SECRET);
    assert_eq!(
        auth_status(&server.mcp(), &fresh_enough).await["subject"],
        "a"
    );
}

#[tokio::test]
async fn issuer_and_audience_are_required_when_configured() {
    let server = TestServer::start(|c| {
        c.jwt_issuer = Some("https://issuer.example".into());
        c.jwt_audience = Some("quilt-mcp".into());
    })
    .await;
    let good = json!({"iss": "https://issuer.example", "aud": "quilt-mcp"});
    assert_eq!(
        auth_status(&server.mcp(), &hs256(&claims("a", good), SECRET)).await["issuer"],
        "https://issuer.example"
    );

    let cases = [
        (
            json!({"iss": "https://evil.example", "aud": "quilt-mcp"}),
            "token issuer is not accepted",
        ),
        (json!({"aud": "quilt-mcp"}), "token issuer is not accepted"),
        (
            json!({"iss": "https://issuer.example", "aud": "other"}),
            "token audience is not accepted",
        ),
    ];
    for (extra, expected) in cases {
        let r = refused(&server, &hs256(&claims("a", extra.clone()), SECRET)).await;
        assert_eq!(description(&r), expected, "{extra}");
    }
    // No `aud` at all.
    let no_aud = without(claims("a", json!({"iss": "https://issuer.example"})), "aud");
    assert_eq!(
        description(&refused(&server, &hs256(&no_aud, SECRET)).await),
        "token audience is not accepted"
    );
}

#[tokio::test]
async fn audience_defaults_to_the_resource_url() {
    let server = TestServer::start(|c| c.jwt_audience = None).await;
    let ours = hs256(&claims("a", json!({"aud": server.mcp()})), SECRET);
    assert_eq!(auth_status(&server.mcp(), &ours).await["subject"], "a");
    let theirs = hs256(
        &claims("a", json!({"aud": "https://some-other-api.example"})),
        SECRET,
    );
    assert_eq!(
        description(&refused(&server, &theirs).await),
        "token audience is not accepted"
    );
}

#[tokio::test]
async fn alg_none_wrong_secret_and_oversized_tokens_are_refused() {
    let server = TestServer::start(|_| {}).await;
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims("a", json!({})))
    );
    assert_eq!(
        description(&refused(&server, &unsigned).await),
        "token is malformed"
    );
    let wrong = hs256(
        &claims("a", json!({})),
        "not-the-secret-not-the-secret-not-the",
    );
    assert_eq!(
        description(&refused(&server, &wrong).await),
        "token signature is invalid"
    );
    // HS384 is not an algorithm the configured keys allow.
    let hs384 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &claims("a", json!({})),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    assert_eq!(
        description(&refused(&server, &hs384).await),
        "token algorithm HS384 is not accepted"
    );
    // Over 8 KiB: refused before parsing, even though it is validly signed.
    let big = hs256(&claims("a", json!({"padding": "x".repeat(9000)})), SECRET);
    assert_eq!(
        description(&refused(&server, &big).await),
        "token is larger than 8192 bytes"
    );
    // An RS256 token where only HS256 is configured.
    let rs = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims("a", json!({})),
        &EncodingKey::from_rsa_pem(RSA1).expect("key"),
    )
    .expect("sign");
    assert_eq!(
        description(&refused(&server, &rs).await),
        "token algorithm RS256 is not accepted"
    );
}

#[tokio::test]
async fn previous_secret_keeps_working_during_rotation() {
    let server = TestServer::start(|_| {}).await;
    let old = hs256(&claims("rotating", json!({})), PREVIOUS_SECRET);
    let status = auth_status(&server.mcp(), &old).await;
    assert_eq!(status["subject"], "rotating");
    assert_eq!(status["auth_method"], "hs256");
}

#[tokio::test]
async fn unusable_claims_refuse_the_token() {
    let server = TestServer::start(|_| {}).await;
    let bad_bucket = hs256(&claims("a", json!({"buckets": ["Not_A_Bucket"]})), SECRET);
    assert!(
        description(&refused(&server, &bad_bucket).await)
            .starts_with("token claim buckets is invalid")
    );
    let bad_scope = hs256(&claims("a", json!({"scopes": [1, 2]})), SECRET);
    assert!(
        description(&refused(&server, &bad_scope).await)
            .starts_with("token claim scopes is invalid")
    );
    let no_subject = hs256(&json!({"aud": AUDIENCE, "exp": now() + 60}), SECRET);
    assert_eq!(
        description(&refused(&server, &no_subject).await),
        "token lacks the required claim sub"
    );
    // Credential claims too (SECURITY.md): a malformed one refuses the token, naming the
    // claim, before any tool or credential source runs (credentials.rs shows nothing is signed).
    let bad_arn = hs256(
        &claims("a", json!({"role_arn": "arn:aws:iam::12:role/x"})),
        SECRET,
    );
    let d = description(&refused(&server, &bad_arn).await);
    assert!(
        d.starts_with("token claim role_arn is invalid") && d.contains("not an IAM role ARN"),
        "{d}"
    );
}

#[tokio::test]
async fn claims_reach_the_tool_without_secrets() {
    let server = TestServer::start(|_| {}).await;
    let token = hs256(
        &json!({
            "id": "catalog-user-7", "aud": AUDIENCE, "exp": now() + 600, "scope": "quilt:read athena:query",
            "buckets": ["alpha", "beta/team/"], "role_arn": "arn:aws:iam::123456789012:role/ReadRole",
            "aws_credentials": {"access_key_id": "ASIAEXAMPLEEXAMPLE01", "secret_access_key": "SECRET-SHOULD-NOT-LEAK", "session_token": "SESSION-SHOULD-NOT-LEAK"},
            "session_tags": {"team": "lab"},
        }),
        SECRET,
    );
    let r = call_tool(&server.mcp(), Some(&token), "auth_status", json!({})).await;
    let raw = r.body.to_string();
    assert!(
        !raw.contains("SHOULD-NOT-LEAK") && !raw.contains("ASIAEXAMPLE"),
        "secret material in output: {raw}"
    );
    let s = &r.result()["structuredContent"];
    assert_eq!(s["subject"], "catalog-user-7");
    assert_eq!(s["scopes"], json!(["athena:query", "quilt:read"]));
    assert_eq!(s["buckets"], json!(["alpha", "beta/team/"]));
    assert_eq!(
        s["credential_kinds"],
        json!(["aws_credentials", "role_arn"])
    );
    assert_eq!(s["role_arn"], "arn:aws:iam::123456789012:role/ReadRole");
    assert_eq!(s["session_tag_keys"], json!(["team"]));
}

/// A loopback JWKS endpoint whose key set and availability the test controls.
pub struct Jwks {
    keys: Arc<RwLock<JwkSet>>,
    up: Arc<std::sync::atomic::AtomicBool>,
    fetches: Arc<AtomicUsize>,
    pub url: String,
}

impl Jwks {
    pub async fn start(keys: Vec<Jwk>) -> Self {
        let keys = Arc::new(RwLock::new(JwkSet { keys }));
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (k, u, f) = (keys.clone(), up.clone(), fetches.clone());
        let router = axum::Router::new().route(
            "/jwks.json",
            get(move || {
                let (k, u, f) = (k.clone(), u.clone(), f.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    if !u.load(Ordering::SeqCst) {
                        return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
                    }
                    let set = k.read().expect("lock").clone();
                    Ok(axum::Json(set))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            keys,
            up,
            fetches,
            url,
        }
    }
}

pub fn jwk(pem: &[u8], alg: Algorithm, kid: &str) -> Jwk {
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .expect("key");
    let mut jwk = Jwk::from_encoding_key(&key, alg).expect("jwk");
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

pub fn sign(pem: &[u8], alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .expect("key");
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

async fn jwks_server(jwks: &Jwks, refetch_s: u64) -> TestServer {
    let url = jwks.url.clone();
    TestServer::start(move |c| {
        c.jwt_secret = None;
        c.jwt_secret_previous = None;
        c.jwt_jwks_url = Some(url);
        c.jwt_jwks_refetch_s = refetch_s;
    })
    .await
}

#[tokio::test]
async fn jwks_verifies_rs256_and_es256_by_kid() {
    let jwks = Jwks::start(vec![
        jwk(RSA1, Algorithm::RS256, "rsa-1"),
        jwk(EC1, Algorithm::ES256, "ec-1"),
    ])
    .await;
    let server = jwks_server(&jwks, 60).await;
    let rs = sign(
        RSA1,
        Algorithm::RS256,
        Some("rsa-1"),
        &claims("rs-user", json!({})),
    );
    let s = auth_status(&server.mcp(), &rs).await;
    assert_eq!(
        (s["subject"].as_str(), s["auth_method"].as_str()),
        (Some("rs-user"), Some("jwks"))
    );
    let es = sign(
        EC1,
        Algorithm::ES256,
        Some("ec-1"),
        &claims("es-user", json!({})),
    );
    assert_eq!(auth_status(&server.mcp(), &es).await["subject"], "es-user");

    // A key signed by a key not in the set, under a known kid: bad signature.
    let forged = sign(
        RSA2,
        Algorithm::RS256,
        Some("rsa-1"),
        &claims("mallory", json!({})),
    );
    assert_eq!(
        description(&refused(&server, &forged).await),
        "token signature is invalid"
    );
    // The EC key's kid with an RSA algorithm: the key does not fit the algorithm.
    let mismatched = sign(
        RSA1,
        Algorithm::RS256,
        Some("ec-1"),
        &claims("mallory", json!({})),
    );
    assert_eq!(
        description(&refused(&server, &mismatched).await),
        "token key id is unknown"
    );
    // HS/RS confusion: an HS256 token "signed" with the public RSA key as the HMAC secret.
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("mallory", json!({})),
        &EncodingKey::from_secret(RSA1_PUBLIC),
    )
    .expect("sign");
    assert_eq!(
        description(&refused(&server, &confused).await),
        "token algorithm HS256 is not accepted"
    );
    // Expiry is enforced for JWKS tokens too.
    let expired = sign(
        RSA1,
        Algorithm::RS256,
        Some("rsa-1"),
        &json!({"sub": "a", "aud": AUDIENCE, "exp": now() - 600}),
    );
    assert_eq!(
        description(&refused(&server, &expired).await),
        "token has expired"
    );
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_interval() {
    let jwks = Jwks::start(vec![jwk(RSA1, Algorithm::RS256, "rsa-1")]).await;
    let server = jwks_server(&jwks, 3600).await;
    let fetches_at_start = jwks.fetches.load(Ordering::SeqCst);
    assert_eq!(fetches_at_start, 1, "prefetched once at start-up");
    for i in 0..20 {
        let t = sign(
            RSA2,
            Algorithm::RS256,
            Some(&format!("made-up-{i}")),
            &claims("a", json!({})),
        );
        assert_eq!(
            description(&refused(&server, &t).await),
            "token key id is unknown"
        );
    }
    // Start-up fetch just happened, so none of the 20 unknown kids may fetch again.
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), fetches_at_start);
}

#[tokio::test]
async fn key_rotation_is_picked_up_by_refetch_and_old_keys_survive_an_outage() {
    let jwks = Jwks::start(vec![jwk(RSA1, Algorithm::RS256, "rsa-1")]).await;
    let server = jwks_server(&jwks, 1).await;
    let old = sign(
        RSA1,
        Algorithm::RS256,
        Some("rsa-1"),
        &claims("old-key-user", json!({})),
    );
    assert_eq!(
        auth_status(&server.mcp(), &old).await["subject"],
        "old-key-user"
    );

    // The identity provider adds a new key; a token with its kid triggers one refetch.
    jwks.keys
        .write()
        .expect("lock")
        .keys
        .push(jwk(RSA2, Algorithm::RS256, "rsa-2"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let new = sign(
        RSA2,
        Algorithm::RS256,
        Some("rsa-2"),
        &claims("new-key-user", json!({})),
    );
    assert_eq!(
        auth_status(&server.mcp(), &new).await["subject"],
        "new-key-user"
    );

    // The endpoint goes down: cached keys keep working, unknown kids are refused.
    jwks.up.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let unknown = sign(
        RSA2,
        Algorithm::RS256,
        Some("rsa-3"),
        &claims("a", json!({})),
    );
    assert_eq!(
        description(&refused(&server, &unknown).await),
        "token key id is unknown"
    );
    assert_eq!(
        auth_status(&server.mcp(), &old).await["subject"],
        "old-key-user"
    );
    let health: Value = http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["auth"]["jwks"]["keys"], 2);
    assert!(
        health["auth"]["jwks"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{health}"
    );
}

#[tokio::test]
async fn jwks_unreachable_with_no_cached_keys_is_503_not_401() {
    let jwks = Jwks::start(vec![jwk(RSA1, Algorithm::RS256, "rsa-1")]).await;
    jwks.up.store(false, Ordering::SeqCst);
    let server = jwks_server(&jwks, 0).await;
    let t = sign(
        RSA1,
        Algorithm::RS256,
        Some("rsa-1"),
        &claims("a", json!({})),
    );
    let r = call_tool(&server.mcp(), Some(&t), "count_calls", json!({})).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(server.calls.get(), 0);
    // Restored: the next request fetches and succeeds.
    jwks.up.store(true, Ordering::SeqCst);
    assert_eq!(auth_status(&server.mcp(), &t).await["subject"], "a");
}
