//! [`TokenVerifier`]: bearer token in, [`Principal`] out — or a precise [`AuthError`].
//!
//! The token's `alg` picks the key family: HS256 is checked against the configured secrets
//! (current, then previous, so a secret can be rotated without a flag day); asymmetric
//! algorithms are checked against the JWKS. An `alg` the configured keys do not allow is
//! refused before any signature work, which is what stops `alg: none` and HS/RS confusion
//! (an HS256 token "signed" with a public key is refused when no HS secret is configured,
//! and an HS secret is never tried against an RS token).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::claims::principal_from_claims;
use crate::context::AuthMethod;
use crate::error::AuthError;
use crate::identity::{HS256_ISSUER, JWKS_ISSUER};
use crate::jwks::{JWKS_ALGORITHMS, JwksCache, JwksOptions, JwksStatus};
use crate::principal::Principal;
use crate::secret::Secret;

/// Tokens longer than this are refused before they are parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What the verifier accepts. At least one HS256 secret or a JWKS URL is required.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VerifierOptions {
    /// HS256 secrets, current first (the previous one during a rotation).
    pub hs256_secrets: Vec<Secret>,
    /// The JWKS to verify asymmetric tokens with.
    pub jwks: Option<JwksOptions>,
    /// When set, `iss` is required and must equal it.
    pub issuer: Option<String>,
    /// When set, `aud` is required and must contain it.
    pub audience: Option<String>,
    /// The audience when none is configured (the PRM `resource`): required too, unless
    /// [`VerifierOptions::allow_missing_audience`].
    pub default_audience: Option<String>,
    /// Accept tokens without `aud` when no audience is configured (`MCP_JWT_ALLOW_MISSING_AUD`);
    /// a token that has `aud` must still name the default audience.
    pub allow_missing_audience: bool,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_s: u64,
}

impl VerifierOptions {
    /// Options with a 30 s leeway and nothing else.
    pub fn new() -> Self {
        Self {
            leeway_s: 30,
            ..Self::default()
        }
    }

    /// Adds an HS256 secret (call with the current secret first).
    pub fn with_hs256_secret(mut self, secret: Secret) -> Self {
        self.hs256_secrets.push(secret);
        self
    }

    /// Verifies asymmetric tokens with this key set.
    pub fn with_jwks(mut self, jwks: JwksOptions) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Requires this issuer.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires this audience.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The audience to require when none is configured.
    pub fn with_default_audience(mut self, audience: impl Into<String>) -> Self {
        self.default_audience = Some(audience.into());
        self
    }

    /// Accepts tokens without `aud` when no audience is configured (an explicit opt-out).
    pub fn with_allow_missing_audience(mut self, allow: bool) -> Self {
        self.allow_missing_audience = allow;
        self
    }

    /// Sets the leeway.
    pub fn with_leeway_s(mut self, leeway_s: u64) -> Self {
        self.leeway_s = leeway_s;
        self
    }
}

/// Verifies bearer tokens. Cheap to share behind an `Arc`.
pub struct TokenVerifier {
    hs256: Vec<DecodingKey>,
    jwks: Option<JwksCache>,
    issuer: Option<String>,
    audience: Option<String>,
    default_audience: Option<String>,
    allow_missing_audience: bool,
    leeway_s: u64,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("hs256_secrets", &self.hs256.len())
            .field("jwks", &self.jwks.as_ref().map(|j| j.status().url))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl TokenVerifier {
    /// Builds a verifier; fails when there is no key at all or a secret is empty.
    pub fn new(options: VerifierOptions) -> Result<Self, String> {
        if options.hs256_secrets.is_empty() && options.jwks.is_none() {
            return Err("no JWT keys: set MCP_JWT_SECRET or MCP_JWT_JWKS_URL".into());
        }
        if options.hs256_secrets.iter().any(Secret::is_empty) {
            return Err("an HS256 secret is empty".into());
        }
        let jwks = options.jwks.map(JwksCache::new).transpose()?;
        Ok(Self {
            hs256: options
                .hs256_secrets
                .iter()
                .map(|s| DecodingKey::from_secret(s.expose().as_bytes()))
                .collect(),
            jwks,
            issuer: options.issuer,
            audience: options.audience,
            default_audience: options.default_audience,
            allow_missing_audience: options.allow_missing_audience,
            leeway_s: options.leeway_s,
        })
    }

    /// Fetches the JWKS now (best effort), so the first caller does not wait for it.
    pub async fn prefetch(&self) {
        if let Some(jwks) = &self.jwks {
            jwks.refresh().await;
        }
    }

    /// The key set's state, when a JWKS is configured.
    pub fn jwks_status(&self) -> Option<JwksStatus> {
        self.jwks.as_ref().map(JwksCache::status)
    }

    /// Which algorithms are accepted, for `/healthz` and the PRM document.
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut algs = Vec::new();
        if !self.hs256.is_empty() {
            algs.push("HS256");
        }
        if self.jwks.is_some() {
            algs.extend([
                "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
            ]);
        }
        algs
    }

    /// Verifies the value of an `Authorization` header.
    pub async fn verify_authorization(
        &self,
        header: Option<&[u8]>,
    ) -> Result<(Principal, AuthMethod), AuthError> {
        let Some(header) = header else {
            return Err(AuthError::Missing);
        };
        // Bound the work before looking inside: "Bearer " plus the largest token we accept.
        if header.len() > MAX_TOKEN_BYTES + 64 {
            return Err(AuthError::TooLarge {
                limit: MAX_TOKEN_BYTES,
            });
        }
        let header = std::str::from_utf8(header)
            .map_err(|_| AuthError::NotBearer)?
            .trim();
        let (scheme, token) = header.split_once(' ').ok_or(AuthError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::NotBearer);
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        self.verify(token).await
    }

    /// Verifies a bare token; says which kind of key verified it.
    pub async fn verify(&self, token: &str) -> Result<(Principal, AuthMethod), AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge {
                limit: MAX_TOKEN_BYTES,
            });
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let alg = header.alg;
        let (claims, method, default_issuer) = match alg.family() {
            AlgorithmFamily::Hmac => {
                if alg != Algorithm::HS256 || self.hs256.is_empty() {
                    return Err(AuthError::AlgorithmNotAllowed(format!("{alg:?}")));
                }
                (
                    self.decode_with_secrets(token, alg)?,
                    AuthMethod::Hs256,
                    HS256_ISSUER,
                )
            }
            _ => {
                let Some(jwks) = &self.jwks else {
                    return Err(AuthError::AlgorithmNotAllowed(format!("{alg:?}")));
                };
                if !JWKS_ALGORITHMS.contains(&alg) {
                    return Err(AuthError::AlgorithmNotAllowed(format!("{alg:?}")));
                }
                let key = jwks.key_for(header.kid.as_deref(), alg).await?;
                (
                    self.decode(token, &key.decoding, alg)?,
                    AuthMethod::Jwks,
                    JWKS_ISSUER,
                )
            }
        };
        self.check_iat(&claims)?;
        // Only a token verified with the HS256 secret the catalog shares was issued by the
        // catalog; only such a token may ever be presented to it.
        let catalog_token = matches!(method, AuthMethod::Hs256).then_some(token);
        Ok((
            principal_from_claims(&claims, catalog_token, default_issuer)?,
            method,
        ))
    }

    fn decode_with_secrets(
        &self,
        token: &str,
        alg: Algorithm,
    ) -> Result<Map<String, Value>, AuthError> {
        let mut last = AuthError::BadSignature;
        for key in &self.hs256 {
            match self.decode(token, key, alg) {
                Err(AuthError::BadSignature) => last = AuthError::BadSignature,
                other => return other,
            }
        }
        Err(last)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = self.leeway_s;
        v.validate_exp = true;
        v.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(iss) = &self.issuer {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        match (&self.audience, &self.default_audience) {
            (Some(aud), _) => {
                v.set_audience(&[aud]);
                required.push("aud");
            }
            (None, Some(aud)) => {
                v.set_audience(&[aud]);
                if !self.allow_missing_audience {
                    required.push("aud");
                }
            }
            // No audience at all (the server always sets a default; library users may not):
            // jsonwebtoken then refuses any token that has `aud`.
            (None, None) => {}
        }
        v.set_required_spec_claims(&required);
        v
    }

    fn decode(
        &self,
        token: &str,
        key: &DecodingKey,
        alg: Algorithm,
    ) -> Result<Map<String, Value>, AuthError> {
        let validation = self.validation(alg);
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                // jsonwebtoken checks required claims in `HashSet` order, so a token missing
                // two of them would get a different answer from call to call. The signature is
                // already verified here; name the first missing one in a fixed order instead.
                ErrorKind::MissingRequiredClaim(c) => {
                    match first_missing_claim(token, &validation.required_spec_claims)
                        .unwrap_or(c.as_str())
                    {
                        "iss" => AuthError::WrongIssuer,
                        "aud" => AuthError::WrongAudience,
                        _ => AuthError::MissingClaim("exp"),
                    }
                }
                ErrorKind::InvalidClaimFormat(c) if c == "nbf" => AuthError::InvalidClaim {
                    claim: "nbf",
                    reason: "must be a number".into(),
                },
                ErrorKind::InvalidClaimFormat(_) => AuthError::InvalidClaim {
                    claim: "exp",
                    reason: "must be a number".into(),
                },
                ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidAlgorithmName
                | ErrorKind::UnsupportedAlgorithm => {
                    AuthError::AlgorithmNotAllowed(format!("{alg:?}"))
                }
                _ => AuthError::Malformed,
            })
    }

    fn check_iat(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let Some(iat) = claims.get("iat") else {
            return Ok(());
        };
        let Some(iat) = iat.as_f64() else {
            return Err(AuthError::InvalidClaim {
                claim: "iat",
                reason: "must be a number".into(),
            });
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        if iat > now + self.leeway_s as f64 {
            return Err(AuthError::IssuedInFuture);
        }
        Ok(())
    }
}

/// The first required claim, in the fixed order exp, iss, aud, that the token's payload lacks
/// (or has as `null`, which jsonwebtoken also counts as missing). `None` when the payload
/// cannot be read or lacks none of them.
fn first_missing_claim(
    token: &str,
    required: &std::collections::HashSet<String>,
) -> Option<&'static str> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    ["exp", "iss", "aud"]
        .into_iter()
        .filter(|c| required.contains(*c))
        .find(|c| claims.get(*c).is_none_or(Value::is_null))
}
