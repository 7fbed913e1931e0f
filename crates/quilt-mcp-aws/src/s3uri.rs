//! S3 URI and key rules, in one place: `s3://bucket/key?versionId=…` parsing, bucket-name
//! and key validation. Errors say which part is wrong.
//!
//! Keys are taken as written (spaces and unicode included); `%XX` escapes are decoded, the
//! way quilt3 writes physical keys (`s3://b/a%20b`), and a `%` that starts no escape is kept
//! as a literal. Only a trailing `?versionId=…` is a version: any other `?` belongs to the key.

use std::fmt;

use percent_encoding::percent_decode_str;
pub use quilt_mcp_auth::is_valid_bucket_name;

/// Longest S3 key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// A parsed `s3://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    /// The bucket (validated).
    pub bucket: String,
    /// The key (decoded, non-empty, ≤ 1024 bytes).
    pub key: String,
    /// The version, when the URI names one.
    pub version_id: Option<String>,
}

/// What is wrong with an S3 URI, bucket or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3UriError {
    /// Not `s3://…`.
    #[error("not an S3 URI (expected s3://bucket/key): {0:?}")]
    Scheme(String),
    /// The bucket part.
    #[error(
        "bucket {0:?} is not a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)"
    )]
    Bucket(String),
    /// No key after the bucket.
    #[error("the URI names no object key (s3://bucket/key)")]
    EmptyKey,
    /// The key itself.
    #[error("key is invalid: {0}")]
    Key(String),
    /// The version part.
    #[error("versionId is empty or malformed")]
    Version,
}

/// Parses `s3://bucket/key[?versionId=…]`.
pub fn parse_s3_uri(uri: &str) -> Result<S3Uri, S3UriError> {
    let shown: String = uri.chars().take(120).collect();
    let rest = uri
        .trim()
        .strip_prefix("s3://")
        .ok_or(S3UriError::Scheme(shown))?;
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !is_valid_bucket_name(bucket) {
        return Err(S3UriError::Bucket(bucket.chars().take(80).collect()));
    }
    let (raw_key, version_id) = match path.rsplit_once("?versionId=") {
        Some((key, version)) => {
            let version = decode(version);
            if version.is_empty()
                || version
                    .chars()
                    .any(|c| c.is_control() || c == '&' || c == '?')
                || version.len() > 1024
            {
                return Err(S3UriError::Version);
            }
            // S3 reports "null" for objects written while versioning was off.
            (key, Some(version))
        }
        None => (path, None),
    };
    let key = decode(raw_key);
    validate_key(&key)?;
    Ok(S3Uri {
        bucket: bucket.to_owned(),
        key,
        version_id,
    })
}

/// Checks a key: non-empty, at most 1024 bytes, no control characters.
pub fn validate_key(key: &str) -> Result<(), S3UriError> {
    if key.is_empty() {
        return Err(S3UriError::EmptyKey);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(S3UriError::Key(format!(
            "longer than {MAX_KEY_BYTES} bytes"
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(S3UriError::Key("contains control characters".into()));
    }
    Ok(())
}

/// Checks a bucket name.
pub fn validate_bucket(bucket: &str) -> Result<(), S3UriError> {
    if is_valid_bucket_name(bucket) {
        Ok(())
    } else {
        Err(S3UriError::Bucket(bucket.chars().take(80).collect()))
    }
}

fn decode(s: &str) -> String {
    // A '%' that starts no valid escape stays literal: percent_decode leaves it as is.
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| s.to_owned())
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        if let Some(v) = &self.version_id {
            write!(f, "?versionId={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_with_spaces_unicode_escapes_and_versions() {
        let u = parse_s3_uri("s3://my-bucket/dir/a file ü.csv").expect("ok");
        assert_eq!(
            (u.bucket.as_str(), u.key.as_str(), u.version_id),
            ("my-bucket", "dir/a file ü.csv", None)
        );
        let u =
            parse_s3_uri("s3://my-bucket/dir/a%20file%C3%BC.csv?versionId=abc.123").expect("ok");
        assert_eq!(u.key, "dir/a fileü.csv");
        assert_eq!(u.version_id.as_deref(), Some("abc.123"));
        let u = parse_s3_uri("s3://my-bucket/what?is=this/100%").expect("ok");
        assert_eq!(u.key, "what?is=this/100%");
    }

    #[test]
    fn errors_name_the_wrong_part() {
        assert!(matches!(
            parse_s3_uri("https://b/k"),
            Err(S3UriError::Scheme(_))
        ));
        assert!(
            matches!(parse_s3_uri("s3://Bad_Bucket/k"), Err(S3UriError::Bucket(b)) if b == "Bad_Bucket")
        );
        assert_eq!(parse_s3_uri("s3://bucket"), Err(S3UriError::EmptyKey));
        assert_eq!(parse_s3_uri("s3://bucket/"), Err(S3UriError::EmptyKey));
        assert_eq!(
            parse_s3_uri("s3://bucket/k?versionId="),
            Err(S3UriError::Version)
        );
        assert!(matches!(
            parse_s3_uri(&format!("s3://bucket/{}", "k".repeat(1025))),
            Err(S3UriError::Key(_))
        ));
        assert!(matches!(
            parse_s3_uri("s3://bucket/a\u{1}b"),
            Err(S3UriError::Key(_))
        ));
    }
}
