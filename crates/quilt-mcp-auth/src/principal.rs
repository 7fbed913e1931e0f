//! The caller as a value: [`Principal`], built only from a verified token (or, for stdio and
//! the auth-disabled development mode, from an explicit local identity).
//!
//! Everything later code needs to act for the caller is here and already validated: the
//! issuer and subject (together the caller's identity, see [`crate::identity`]), scopes,
//! bucket grants, the AWS credentials a token may embed, and the role ARN it may name. A
//! claim that is present but unusable refused the token before a principal was built.
//! Secret parts are [`Secret`]s, so printing a principal leaks nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use crate::grants::BucketGrants;
use crate::identity::{IdentityKey, LOCAL_ISSUER};
use crate::secret::Secret;

/// The caller. See the module docs.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Stable subject: `sub`, else `id`, else `uuid`. Unique only within [`Principal::issuer`].
    pub subject: String,
    /// The verified `iss`; for a token without one, the fixed name of the key kind that
    /// verified it (`quilt-mcp:hs256`, `quilt-mcp:jwks`); `quilt-mcp:local` for local principals.
    pub issuer: String,
    /// Scopes from `scope` (space separated), `scopes` and `permissions`.
    pub scopes: BTreeSet<String>,
    /// The `buckets` claim; `None` when the token does not restrict buckets.
    pub buckets: Option<BucketGrants>,
    /// AWS credentials embedded in the token (`aws_credentials`), if any.
    pub aws_credentials: Option<EmbeddedCredentials>,
    /// The role the token asks to act as (`role_arn` and aliases), validated.
    pub role_arn: Option<RoleArn>,
    /// Session tags to pass to AssumeRole.
    pub session_tags: BTreeMap<String, String>,
    /// Session tag keys that should be transitive.
    pub transitive_tag_keys: Vec<String>,
    /// `exp` as Unix seconds (0 for local principals, which do not expire).
    pub expires_at: u64,
    /// The bearer token, kept only when the Quilt catalog issued it (verified with the HS256
    /// secret the catalog shares), so that it can be presented to that catalog and nowhere
    /// else. A token verified through the JWKS was issued for this server by another identity
    /// provider and is never kept: it cannot be passed through. Private, so that no code
    /// outside this crate can put a token here; read it with [`Principal::catalog_token`].
    pub(crate) catalog_token: Option<Secret>,
}

impl Principal {
    /// A principal for local use (stdio, or auth disabled on loopback): no token, no grants.
    pub fn local(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            issuer: LOCAL_ISSUER.to_owned(),
            scopes: BTreeSet::new(),
            buckets: None,
            aws_credentials: None,
            role_arn: None,
            session_tags: BTreeMap::new(),
            transitive_tag_keys: Vec::new(),
            expires_at: 0,
            catalog_token: None,
        }
    }

    /// The caller's identity: (issuer, subject) as one key. Everything that keys or names a
    /// caller uses this, never the subject alone.
    pub fn identity_key(&self) -> IdentityKey {
        IdentityKey::new(&self.issuer, &self.subject)
    }

    /// The caller's catalog-issued bearer token (see the field's docs); `None` for tokens from
    /// any other issuer and for local principals.
    pub fn catalog_token(&self) -> Option<&Secret> {
        self.catalog_token.as_ref()
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

/// AWS credentials carried in the token's `aws_credentials` claim.
#[derive(Clone, PartialEq, Eq)]
pub struct EmbeddedCredentials {
    /// The access key id (not secret on its own, but not printed in full either).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token, for temporary credentials.
    pub session_token: Option<Secret>,
    /// When the credentials expire, as given in the claim (RFC 3339 or Unix seconds).
    pub expiration: Option<String>,
}

impl EmbeddedCredentials {
    /// The access key id with all but its first four characters masked, for display.
    pub fn masked_access_key_id(&self) -> String {
        let keep: String = self.access_key_id.chars().take(4).collect();
        format!("{keep}…")
    }
}

impl fmt::Debug for EmbeddedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedCredentials")
            .field("access_key_id", &self.masked_access_key_id())
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// An IAM role ARN that passed validation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleArn(String);

/// Why a string is not an IAM role ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)")]
pub struct RoleArnError(String);

static ROLE_ARN: LazyLock<regex::Regex> = LazyLock::new(|| {
    #[expect(clippy::unwrap_used, reason = "a constant pattern, covered by tests")]
    regex::Regex::new(r"^arn:aws[-a-z]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$").unwrap()
});

impl RoleArn {
    /// Validates `arn` against the IAM role ARN shape of DESIGN.md.
    pub fn parse(arn: &str) -> Result<Self, RoleArnError> {
        let arn = arn.trim();
        if arn.len() <= 600 && ROLE_ARN.is_match(arn) {
            Ok(Self(arn.to_owned()))
        } else {
            // Echo at most a bounded prefix of the bad value.
            Err(RoleArnError(arn.chars().take(80).collect()))
        }
    }

    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 12-digit account id.
    pub fn account_id(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_validated() {
        let ok =
            RoleArn::parse("arn:aws:iam::123456789012:role/T4BucketReadRole-AB12").expect("ok");
        assert_eq!(ok.account_id(), "123456789012");
        assert!(RoleArn::parse("arn:aws-us-gov:iam::123456789012:role/path/r").is_ok());
        for bad in [
            "",
            "arn:aws:iam::12345678901:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
        ] {
            let err = RoleArn::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("not an IAM role ARN"));
        }
    }

    #[test]
    fn embedded_credentials_debug_hides_secrets() {
        let c = EmbeddedCredentials {
            access_key_id: "ASIAEXAMPLEKEY".into(),
            secret_access_key: Secret::new("very-secret"),
            session_token: Some(Secret::new("session-secret")),
            expiration: None,
        };
        let printed = format!("{c:?}");
        assert!(!printed.contains("very-secret") && !printed.contains("session-secret"));
        assert!(!printed.contains("EXAMPLEKEY"), "{printed}");
    }
}
