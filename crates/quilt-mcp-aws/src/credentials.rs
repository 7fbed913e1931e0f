//! [`AwsCredentials`]: a caller's AWS key, secret parts wrapped so they cannot be printed.

use std::fmt;
use std::time::SystemTime;

use quilt_mcp_auth::Secret;

/// AWS credentials for one caller. `Debug` shows only the start of the access key id.
#[derive(Clone)]
pub struct AwsCredentials {
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Option<Secret>,
    expires_at: Option<SystemTime>,
}

impl AwsCredentials {
    /// Credentials from their parts.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        expires_at: Option<SystemTime>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key,
            session_token,
            expires_at,
        }
    }

    /// The access key id (identifies the key; not a secret, but keep it out of tool output).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// When they expire, if they do.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The SDK's credentials type, for one client's static credentials provider.
    pub(crate) fn to_sdk(&self, provider: &'static str) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose().to_owned(),
            self.session_token.as_ref().map(|t| t.expose().to_owned()),
            self.expires_at,
            provider,
        )
    }

    /// From the SDK's credentials type.
    pub(crate) fn from_sdk(c: &aws_credential_types::Credentials) -> Self {
        Self {
            access_key_id: c.access_key_id().to_owned(),
            secret_access_key: Secret::new(c.secret_access_key()),
            session_token: c.session_token().map(Secret::new),
            expires_at: c.expiry(),
        }
    }
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keep: String = self.access_key_id.chars().take(4).collect();
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &format!("{keep}…"))
            .field("secret_access_key", &self.secret_access_key)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Parses an expiration given as RFC 3339 (`2030-01-01T00:00:00Z`) or Unix seconds.
pub(crate) fn parse_expiration(value: &str) -> Option<SystemTime> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return aws_smithy_types::DateTime::from_secs_f64(secs)
            .try_into()
            .ok();
    }
    // RFC 3339 with `Z` or any offset (Python's `isoformat()` writes `+00:00`), else an ISO
    // date-time without an offset, read as UTC (Python's naive `utcnow().isoformat()`).
    let utc = chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.to_utc())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|t| t.and_utc())
        })
        .ok()?;
    Some(SystemTime::from(utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets_and_most_of_the_key_id() {
        let c = AwsCredentials::new(
            "ASIAVERYSPECIFIC",
            Secret::new("s3cr3t"),
            Some(Secret::new("t0ken")),
            None,
        );
        let s = format!("{c:?}");
        assert!(
            !s.contains("s3cr3t") && !s.contains("t0ken") && !s.contains("VERYSPECIFIC"),
            "{s}"
        );
    }

    #[test]
    fn expirations_parse_in_both_forms() {
        let a = parse_expiration("2030-01-01T00:00:00Z").expect("rfc3339");
        let b = parse_expiration("1893456000").expect("unix");
        assert_eq!(a, b);
        assert_eq!(
            parse_expiration("2030-01-01T00:00:00+00:00"),
            Some(a),
            "Python isoformat()"
        );
        assert_eq!(
            parse_expiration("2030-01-01T01:00:00.000+01:00"),
            Some(a),
            "an offset"
        );
        assert_eq!(
            parse_expiration("2030-01-01T00:00:00"),
            Some(a),
            "no offset: UTC"
        );
        assert!(parse_expiration("next tuesday").is_none());
        assert!(parse_expiration("2030-13-01T00:00:00Z").is_none());
    }
}
