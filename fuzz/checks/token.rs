//! Invariants of bearer-token verification, shared by the `token` fuzz target and the
//! corpus replay test `crates/quilt-mcp-auth/tests/fuzz_corpus.rs` (which includes this file
//! by path, so stable `make test` replays `fuzz/corpus/token/` through the same checks).
//!
//! Input: the first byte picks the mode. Even: the rest is an `Authorization` header value as
//! a client sent it. Odd: the rest is a JWT payload (claims JSON, or anything), signed here
//! with the test secret, so claim parsing is reached behind a valid signature.
//!
//! Checked: no panic; the same header always gets the same answer; headers past the size
//! bound are refused as too large before parsing; an accepted token yields a usable subject
//! and a known expiry; embedded AWS secrets never appear in a principal's `Debug`.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use quilt_mcp_auth::{AuthError, MAX_TOKEN_BYTES, Secret, TokenVerifier, VerifierOptions};

/// The HS256 secret the target's tokens are signed with (test data, not a real secret).
pub(crate) const SECRET: &str = "fuzz-only-secret-0123456789-abcdefghijk";

/// An HS256 verifier (no JWKS: nothing here may touch the network).
pub(crate) fn verifier() -> TokenVerifier {
    TokenVerifier::new(VerifierOptions::new().with_hs256_secret(Secret::new(SECRET)))
        .expect("verifier")
}

/// A compact HS256 JWS over `payload` (any bytes), signed with [`SECRET`].
pub(crate) fn sign(payload: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let message = format!("{header}.{}", b64.encode(payload));
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
            .expect("hmac");
    format!("{message}.{signature}")
}

/// Runs a future that must not wait: HS256 verification without a JWKS has nothing to wait on.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("HS256 verification waited on something"),
    }
}

fn outcome<T>(r: &Result<(quilt_mcp_auth::Principal, T), AuthError>) -> String {
    match r {
        Ok((p, _)) => format!("ok {:?} {:?}", p.subject, p.scopes),
        Err(e) => format!("err {e}"),
    }
}

/// Checks one input. See the module docs.
pub(crate) fn check(verifier: &TokenVerifier, data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let header = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        format!("Bearer {}", sign(rest)).into_bytes()
    };
    let first = ready(verifier.verify_authorization(Some(&header)));
    let second = ready(verifier.verify_authorization(Some(&header)));
    assert_eq!(
        outcome(&first),
        outcome(&second),
        "the same header got two answers"
    );
    if header.len() > MAX_TOKEN_BYTES + 64 {
        assert!(
            matches!(first, Err(AuthError::TooLarge { .. })),
            "an oversized header was not refused as too large: {}",
            outcome(&first)
        );
    }
    match &first {
        Ok((principal, _)) => {
            assert!(
                !principal.subject.trim().is_empty(),
                "an empty subject was accepted"
            );
            assert!(
                principal.subject.chars().count() <= 256,
                "an overlong subject was accepted"
            );
            assert!(
                principal.expires_at > 0,
                "an accepted token has no known expiry"
            );
            if let Some(creds) = &principal.aws_credentials {
                let secret = creds.secret_access_key.expose();
                let shown = format!("{principal:?}");
                let legitimately_shown = [
                    principal.subject.as_str(),
                    creds.expiration.as_deref().unwrap_or_default(),
                    principal.issuer.as_str(),
                ]
                .iter()
                .any(|field| field.contains(secret))
                    || format!("{:?}", principal.session_tags).contains(secret)
                    || format!("{:?}", principal.scopes).contains(secret)
                    || format!("{:?}", principal.buckets).contains(secret)
                    || format!("{:?}", principal.role_arn).contains(secret)
                    || format!("{:?}", principal.transitive_tag_keys).contains(secret);
                assert!(
                    secret.len() < 8 || legitimately_shown || !shown.contains(secret),
                    "a principal's Debug shows the embedded secret access key"
                );
            }
        }
        Err(error) => {
            assert!(!error.label().is_empty());
            assert!(
                !error.is_unavailable(),
                "no JWKS is configured, so keys cannot be unavailable"
            );
        }
    }
}
