//! S3 URI and key rules, in one place: how a key is written in an `s3://` URI, bucket-name
//! and key validation. Errors say which part is wrong. Every tool argument or answer field
//! named `s3_uri`, and the `s3://{bucket}/{key}` resource, go through [`parse_s3_uri`] and
//! [`S3Uri`]'s `Display`.
//!
//! **The rule:** `s3://<bucket>/<key>[?versionId=<version>]`, the key written verbatim —
//! every character after the `/` that ends the bucket, exactly as S3 stores it. Nothing is
//! percent-decoded (`%20` is three characters), `+` is a plus, `?` and `#` are part of the
//! key, spaces and unicode are themselves. This is what the AWS CLI does with `s3://` paths;
//! it means a key round-trips by the name S3 lists it under, whatever it holds.
//! The one reserved text is the **last** `?versionId=`: what follows it is the version
//! (verbatim too), and an empty version means the current one. So a key that itself
//! contains `?versionId=` is written with an empty version at the end
//! (`s3://b/q?versionId=1?versionId=`), and [`S3Uri`]'s `Display` writes it so — display
//! and parse are exact inverses for every key.
//!
//! Other formats have their own encoders, fixed by the software that reads them, and are
//! never fed back into this parser: package manifests store physical keys as quilt3 writes
//! them (percent-encoded URLs, `quilt_package::PhysicalKey`), and catalog web URLs and
//! `quilt+s3://` URIs encode as the catalog does (`quilt_catalog::urls`).

use std::fmt;

pub use quilt_mcp_auth::is_valid_bucket_name;

/// Longest S3 key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// The text that starts a version in an `s3://` URI.
const VERSION_MARK: &str = "?versionId=";

/// A parsed `s3://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    /// The bucket (validated).
    pub bucket: String,
    /// The key, verbatim (non-empty, ≤ 1024 bytes, no control characters).
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
    #[error("versionId is malformed: {0}")]
    Version(&'static str),
}

/// Parses `s3://bucket/key[?versionId=…]` by the rule of the module doc.
pub fn parse_s3_uri(uri: &str) -> Result<S3Uri, S3UriError> {
    let shown: String = uri.chars().take(120).collect();
    // Not trimmed: a key may begin or end with spaces.
    let rest = uri.strip_prefix("s3://").ok_or(S3UriError::Scheme(shown))?;
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    validate_bucket(bucket)?;
    let (key, version_id) = match path.rsplit_once(VERSION_MARK) {
        Some((key, "")) => (key, None),
        Some((key, version)) => {
            validate_version(version)?;
            (key, Some(version.to_owned()))
        }
        None => (path, None),
    };
    S3Uri::new(bucket, key, version_id)
}

fn validate_version(version: &str) -> Result<(), S3UriError> {
    if version.len() > 1024 {
        return Err(S3UriError::Version("longer than 1024 bytes"));
    }
    if version.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(S3UriError::Version("contains spaces or control characters"));
    }
    if version.contains(['&', '?']) {
        // S3 version ids never hold these; `&` would be a second query field in a URL.
        return Err(S3UriError::Version("contains & or ?"));
    }
    Ok(())
}

impl S3Uri {
    /// An object (or one version of it), validated; an empty version is none.
    pub fn new(
        bucket: impl Into<String>,
        key: impl Into<String>,
        version_id: Option<String>,
    ) -> Result<Self, S3UriError> {
        let (bucket, key) = (bucket.into(), key.into());
        validate_bucket(&bucket)?;
        validate_key(&key)?;
        let version_id = version_id.filter(|v| !v.is_empty());
        if let Some(v) = &version_id {
            validate_version(v)?;
        }
        Ok(S3Uri {
            bucket,
            key,
            version_id,
        })
    }

    /// What a "no such object" error says: the URI, and the key and version spelled out as
    /// JSON strings so that spaces, `%` and unicode are unmistakable. Only what the caller
    /// asked for — nothing from the credentials or the answer.
    pub fn missing(&self) -> String {
        let mut s = format!(
            "no object {self} (bucket {:?}, key {:?}",
            self.bucket, self.key
        );
        if let Some(v) = &self.version_id {
            s.push_str(&format!(", version {v:?}"));
        }
        s.push(')');
        s
    }

    /// Whether the key holds `%XX` escapes: a sign that someone passed a percent-encoded URL
    /// (as quilt3 writes physical keys) where the verbatim key was meant.
    pub fn looks_percent_encoded(&self) -> bool {
        let b = self.key.as_bytes();
        b.windows(3)
            .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
    }
}

/// The hint for a missing object whose key looks percent-encoded.
pub const PERCENT_HINT: &str = "s3_uri keys are verbatim: %XX is not decoded. If you copied a \
     percent-encoded URL (a quilt3 physical_key), use the entry's s3_uri from package_browse, \
     or write the key as S3 lists it";

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

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        match &self.version_id {
            Some(v) => write!(f, "{VERSION_MARK}{v}"),
            // Without it, the key's own `?versionId=` would read back as a version.
            None if self.key.contains(VERSION_MARK) => f.write_str(VERSION_MARK),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_verbatim_and_only_the_last_version_mark_is_special() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("s3://my-bucket/dir/a file ü.csv", "dir/a file ü.csv", None),
            ("s3://b-1/a%2Fb c%20d.txt", "a%2Fb c%20d.txt", None),
            ("s3://b-1/100%", "100%", None),
            ("s3://b-1/x+y", "x+y", None),
            ("s3://b-1/#frag", "#frag", None),
            ("s3://b-1/what?is=this", "what?is=this", None),
            ("s3://b-1/ spaced ", " spaced ", None),
            ("s3://b-1/k?versionId=abc.1", "k", Some("abc.1")),
            ("s3://b-1/k?versionId=3/L4+x=", "k", Some("3/L4+x=")),
            ("s3://b-1/q?versionId=1?versionId=", "q?versionId=1", None),
            (
                "s3://b-1/q?versionId=1?versionId=v2",
                "q?versionId=1",
                Some("v2"),
            ),
        ];
        for (uri, key, version) in cases {
            let u = parse_s3_uri(uri).expect(uri);
            assert_eq!(
                (u.key.as_str(), u.version_id.as_deref()),
                (*key, *version),
                "{uri}"
            );
        }
    }

    #[test]
    fn display_and_parse_are_inverses_for_every_key() {
        for key in [
            "a%2Fb c%20d.txt",
            "100%",
            "x+y",
            "ünï/çødé",
            "q?versionId=1",
            "q?versionId=",
            "#frag",
            "?versionId=?versionId=",
        ] {
            for version in [None, Some("v.1".to_owned())] {
                let u = S3Uri::new("b-1", key, version.clone()).expect(key);
                assert_eq!(parse_s3_uri(&u.to_string()), Ok(u), "{key} {version:?}");
            }
        }
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
            parse_s3_uri("s3://bucket/?versionId=v1"),
            Err(S3UriError::EmptyKey)
        );
        assert!(matches!(
            parse_s3_uri("s3://bucket/k?versionId=a&b=c"),
            Err(S3UriError::Version(_))
        ));
        assert!(matches!(
            parse_s3_uri(&format!("s3://bucket/{}", "k".repeat(1025))),
            Err(S3UriError::Key(_))
        ));
        assert!(matches!(
            parse_s3_uri("s3://bucket/a\u{1}b"),
            Err(S3UriError::Key(_))
        ));
    }

    #[test]
    fn missing_names_the_key_and_notices_escapes() {
        let u = parse_s3_uri("s3://b-1/a%20b?versionId=v9").expect("ok");
        assert_eq!(
            u.missing(),
            r#"no object s3://b-1/a%20b?versionId=v9 (bucket "b-1", key "a%20b", version "v9")"#
        );
        assert!(u.looks_percent_encoded());
        assert!(
            !parse_s3_uri("s3://b-1/100%")
                .expect("ok")
                .looks_percent_encoded()
        );
    }
}
