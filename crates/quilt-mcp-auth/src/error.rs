//! Why a token was refused.
//!
//! Every variant maps to a 401 `invalid_token` except [`AuthError::KeysUnavailable`], which
//! is an upstream outage (the JWKS endpoint could not be reached and no cached key fits)
//! and maps to a 503. Messages are safe to return to the client: they never contain the
//! token, a secret or a key.

/// A refused token. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header at all.
    #[error("missing bearer token")]
    Missing,
    /// An `Authorization` header that is not a bearer token.
    #[error("authorization header is not a bearer token")]
    NotBearer,
    /// Over [`crate::MAX_TOKEN_BYTES`]: refused before any parsing.
    #[error("token is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Not a JWT (bad base64, bad JSON, missing parts, unknown `alg`, `alg: none`).
    #[error("token is malformed")]
    Malformed,
    /// The `alg` is not one the configured keys allow.
    #[error("token algorithm {0} is not accepted")]
    AlgorithmNotAllowed(String),
    /// No configured key has the token's `kid`, even after a JWKS refetch.
    #[error("token key id is unknown")]
    UnknownKey,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `iss` missing or not the configured issuer.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `aud` missing (when required) or not an accepted audience.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// A claim this server requires is missing (`exp`, a subject).
    #[error("token lacks the required claim {0}")]
    MissingClaim(&'static str),
    /// A claim is present but unusable (a malformed role ARN, a bad bucket grant, …).
    #[error("token claim {claim} is invalid: {reason}")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
        /// What is wrong with it (never echoes secret material).
        reason: String,
    },
    /// The JWKS endpoint could not be reached and no cached key fits the token.
    #[error("signing keys are unavailable")]
    KeysUnavailable,
}

impl AuthError {
    /// Whether a token was presented at all (RFC 6750: only then is `error="invalid_token"` sent).
    pub fn token_was_sent(&self) -> bool {
        !matches!(self, Self::Missing)
    }

    /// Whether this is an outage on our side rather than a bad token.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::KeysUnavailable)
    }

    /// A short stable label for metrics and audit lines.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NotBearer => "not_bearer",
            Self::TooLarge { .. } => "too_large",
            Self::Malformed => "malformed",
            Self::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::KeysUnavailable => "keys_unavailable",
        }
    }
}
