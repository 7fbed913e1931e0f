//! Role assumption: the one STS call the server makes with its own identity. Everything
//! about the call that identifies the caller — session name, `SourceIdentity`, session
//! tags — is derived here, in one place, from the caller's identity (issuer, subject) and
//! claims.
//!
//! - `RoleSessionName` = `mcp-<sanitised subject, ≤ 43 chars>-<16 hex digits of the
//!   identity key>` (≤ 64 chars): readable in CloudTrail, and collision-free — `alice:corp`
//!   and `alice/corp`, or one `sub` from two issuers, get different names.
//! - `SourceIdentity` = the exact subject when STS accepts it as it is (`[\w+=,.@-]`, 2–64
//!   characters); otherwise the same sanitised-prefix-plus-hash form as the session name,
//!   without `mcp-`. It names the person, so a valid subject is kept exactly (IAM conditions
//!   on `sts:SourceIdentity` can name it); the session name tells issuers apart.
//!
//! [`RoleAssumer`] is the narrow interface the broker uses, so tests can count and break it;
//! [`StsAssumer`] is the real one, over an STS client signed by the [`crate::ServerIdentity`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use futures::future::BoxFuture;
use quilt_mcp_auth::{IdentityKey, RoleArn, Secret};

use crate::credentials::AwsCredentials;
use crate::error::{ErrorKind, describe_sdk_error};

/// One AssumeRole request.
#[derive(Debug, Clone)]
pub struct AssumeRequest {
    /// The role.
    pub role_arn: RoleArn,
    /// `RoleSessionName` (see the module docs).
    pub session_name: String,
    /// `SourceIdentity` (see the module docs).
    pub source_identity: String,
    /// Session tags.
    pub tags: BTreeMap<String, String>,
    /// Tag keys that stay with chained sessions.
    pub transitive_tag_keys: Vec<String>,
    /// Requested lifetime in seconds.
    pub duration_s: i32,
}

impl AssumeRequest {
    /// The request for the caller (`issuer`, `subject`) assuming `role_arn`.
    pub fn for_caller(role_arn: RoleArn, issuer: &str, subject: &str, duration_s: i32) -> Self {
        Self {
            role_arn,
            session_name: session_name(issuer, subject),
            source_identity: source_identity(issuer, subject),
            tags: BTreeMap::new(),
            transitive_tag_keys: Vec::new(),
            duration_s,
        }
    }
}

/// Why an AssumeRole failed.
#[derive(Debug, Clone)]
pub struct AssumeFailure {
    /// Denied or unavailable.
    pub kind: ErrorKind,
    /// AWS's code, message and request id.
    pub message: String,
}

/// Assumes roles. The broker's only route to STS.
pub trait RoleAssumer: Send + Sync + std::fmt::Debug {
    /// Assumes `request.role_arn`.
    fn assume(
        &self,
        request: AssumeRequest,
    ) -> BoxFuture<'_, Result<AwsCredentials, AssumeFailure>>;
}

/// AssumeRole over a real STS client.
#[derive(Debug, Clone)]
pub struct StsAssumer {
    client: aws_sdk_sts::Client,
}

impl StsAssumer {
    /// An assumer over `client` (signed by the server's own identity).
    pub fn new(client: aws_sdk_sts::Client) -> Self {
        Self { client }
    }
}

impl RoleAssumer for StsAssumer {
    fn assume(
        &self,
        request: AssumeRequest,
    ) -> BoxFuture<'_, Result<AwsCredentials, AssumeFailure>> {
        Box::pin(async move {
            let mut call = self
                .client
                .assume_role()
                .role_arn(request.role_arn.as_str())
                .role_session_name(&request.session_name)
                .source_identity(&request.source_identity)
                .duration_seconds(request.duration_s);
            for (key, value) in &request.tags {
                let tag = aws_sdk_sts::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .map_err(|e| AssumeFailure {
                        kind: ErrorKind::InvalidCredentials,
                        message: format!("session tag {key:?}: {e}"),
                    })?;
                call = call.tags(tag);
            }
            for key in &request.transitive_tag_keys {
                call = call.transitive_tag_keys(key);
            }
            let output = call.send().await.map_err(|e| {
                let (kind, message) = describe_sdk_error(&e);
                AssumeFailure { kind, message }
            })?;
            let c = output.credentials().ok_or_else(|| AssumeFailure {
                kind: ErrorKind::Unavailable,
                message: "AssumeRole answered without credentials".into(),
            })?;
            Ok(AwsCredentials::new(
                c.access_key_id(),
                Secret::new(c.secret_access_key()),
                Some(Secret::new(c.session_token())),
                SystemTime::try_from(*c.expiration()).ok(),
            ))
        })
    }
}

/// Whether STS takes `c` in session names and source identities (`[\w+=,.@-]`, ASCII).
fn sts_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// The first `max` characters of `subject`, each one STS does not take replaced by `-`.
fn sanitised_prefix(subject: &str, max: usize) -> String {
    subject
        .chars()
        .take(max)
        .map(|c| if sts_char(c) { c } else { '-' })
        .collect()
}

/// `RoleSessionName`: `mcp-<sanitised subject prefix>-<identity hash>`, at most 64 characters.
pub fn session_name(issuer: &str, subject: &str) -> String {
    let hash = IdentityKey::new(issuer, subject).short_hex();
    // 64 = "mcp-" + prefix + "-" + 16 hex digits.
    let prefix = sanitised_prefix(subject, 64 - 4 - 1 - hash.len());
    format!("mcp-{prefix}-{hash}")
}

/// `SourceIdentity`: the exact subject when STS accepts it (2 to 64 of `[\w+=,.@-]`), else
/// `<sanitised subject prefix>-<identity hash>` (at most 64 characters).
pub fn source_identity(issuer: &str, subject: &str) -> String {
    if (2..=64).contains(&subject.len()) && subject.chars().all(sts_char) {
        return subject.to_owned();
    }
    let hash = IdentityKey::new(issuer, subject).short_hex();
    let prefix = sanitised_prefix(subject, 64 - 1 - hash.len());
    format!("{prefix}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts_valid(s: &str) -> bool {
        (2..=64).contains(&s.len()) && s.chars().all(sts_char)
    }

    #[test]
    fn session_names_are_readable_bounded_and_collision_free() {
        let name = session_name("https://idp", "alice@example.com");
        assert!(name.starts_with("mcp-alice@example.com-"), "{name}");
        assert!(sts_valid(&name));
        // Sanitising alone would merge these; the hash of the exact identity does not.
        assert_ne!(
            session_name("https://idp", "alice:corp"),
            session_name("https://idp", "alice/corp")
        );
        assert!(session_name("https://idp", "alice:corp").starts_with("mcp-alice-corp-"));
        // One subject, two issuers.
        assert_ne!(
            session_name("https://a", "alice"),
            session_name("https://b", "alice")
        );
        for subject in [
            "x".repeat(300),
            "ü".repeat(100),
            "7".into(),
            "a b/c:d".into(),
        ] {
            let name = session_name("iss", &subject);
            assert!(sts_valid(&name), "{name}");
            assert_eq!(name, session_name("iss", &subject), "stable");
        }
    }

    #[test]
    fn source_identity_is_the_exact_subject_where_sts_allows() {
        assert_eq!(
            source_identity("i", "alice@example.com"),
            "alice@example.com"
        );
        assert_eq!(source_identity("i", "user_1+x=y,z.w-v"), "user_1+x=y,z.w-v");
        // Not allowed as it is: a sanitised prefix and the identity hash, still valid for STS.
        for subject in ["7", "alice:corp", "ünïcode", &"x".repeat(65)] {
            let id = source_identity("i", subject);
            assert!(sts_valid(&id), "{subject:?} → {id}");
            assert_ne!(id, subject);
        }
        assert_ne!(
            source_identity("i", "alice:corp"),
            source_identity("i", "alice/corp")
        );
        assert!(source_identity("i", "alice:corp").starts_with("alice-corp-"));
    }
}
