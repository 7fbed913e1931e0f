//! Physical keys: where an entry's bytes live, as the `s3://` URL string quilt3 stores.
//!
//! quilt3 (`PhysicalKey.__str__`) writes `s3://<bucket>/<quote(key)>[?versionId=<urlencode>]`:
//! the key keeps `A-Za-z0-9_.-~/` and percent-encodes every other UTF-8 byte in upper-case
//! hex; the version id is form-encoded (space → `+`, and `/`, `+`, `=` encoded). Reading
//! (`PhysicalKey.from_url`) percent-decodes the path (a `+` stays `+`), form-decodes the
//! query, and allows no query field but `versionId`. We are stricter than Python's
//! `urlparse` where it would silently lose data: a raw `#` (Python drops it and what follows
//! as a fragment), an empty key, invalid UTF-8 after decoding, or a repeated `versionId` are
//! errors.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// What Python's `urllib.parse.quote(key)` leaves alone: unreserved characters and `/`.
const KEY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');
/// What `quote_plus` leaves alone (space is encoded, then turned into `+`).
const FORM_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// An S3 object (optionally one version of it), the physical key of a package entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhysicalKey {
    bucket: String,
    key: String,
    version_id: Option<String>,
}

/// Why a string is not a physical key this crate accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhysicalKeyError {
    /// Not an `s3://` URL (e.g. a `file://` key of a local package).
    #[error("physical key {0:?} is not an s3:// URL")]
    NotS3(String),
    /// No bucket, or a bucket with characters S3 does not allow.
    #[error("physical key {0:?} has a missing or invalid bucket")]
    InvalidBucket(String),
    /// No object key.
    #[error("physical key {0:?} has no object key")]
    MissingKey(String),
    /// A `#`, which quilt3 would read as a URL fragment and drop.
    #[error("physical key {0:?} has a raw '#'; quilt3 encodes it as %23")]
    Fragment(String),
    /// Percent-decoding gave bytes that are not UTF-8.
    #[error("physical key {0:?} does not decode to UTF-8")]
    InvalidEncoding(String),
    /// A query field other than one non-empty `versionId`.
    #[error("physical key {0:?} has a query other than one versionId")]
    UnexpectedQuery(String),
}

impl PhysicalKey {
    /// An S3 object key in `bucket`, optionally a specific version. The bucket must be
    /// non-empty and use only letters, digits, `.`, `-` and `_`; the key must be non-empty.
    pub fn new(
        bucket: impl Into<String>,
        key: impl Into<String>,
        version_id: Option<String>,
    ) -> Result<Self, PhysicalKeyError> {
        let (bucket, key) = (bucket.into(), key.into());
        if !valid_bucket(&bucket) {
            return Err(PhysicalKeyError::InvalidBucket(bucket));
        }
        if key.is_empty() {
            return Err(PhysicalKeyError::MissingKey(format!("s3://{bucket}/")));
        }
        let version_id = version_id.filter(|v| !v.is_empty());
        Ok(PhysicalKey {
            bucket,
            key,
            version_id,
        })
    }

    /// Parses an `s3://` URL as quilt3's `PhysicalKey.from_url` does (see the module doc).
    pub fn parse(url: &str) -> Result<Self, PhysicalKeyError> {
        let err = |f: fn(String) -> PhysicalKeyError| f(url.to_owned());
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| err(PhysicalKeyError::NotS3))?;
        if rest.contains('#') {
            return Err(err(PhysicalKeyError::Fragment));
        }
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, path) = location.split_once('/').unwrap_or((location, ""));
        if !valid_bucket(bucket) {
            return Err(err(PhysicalKeyError::InvalidBucket));
        }
        let key = percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| err(PhysicalKeyError::InvalidEncoding))?
            .into_owned();
        if key.is_empty() {
            return Err(err(PhysicalKeyError::MissingKey));
        }
        let mut version_id = None;
        for field in query.split('&').filter(|f| !f.is_empty()) {
            let (name, value) = field
                .split_once('=')
                .ok_or_else(|| err(PhysicalKeyError::UnexpectedQuery))?;
            let value = form_decode(value).ok_or_else(|| err(PhysicalKeyError::InvalidEncoding))?;
            if form_decode(name).as_deref() != Some("versionId")
                || value.is_empty()
                || version_id.is_some()
            {
                return Err(err(PhysicalKeyError::UnexpectedQuery));
            }
            version_id = Some(value);
        }
        Ok(PhysicalKey {
            bucket: bucket.to_owned(),
            key,
            version_id,
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key (decoded).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The version id, if pinned.
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.as_deref()
    }

    /// The same object without a version.
    pub fn without_version(&self) -> Self {
        PhysicalKey {
            version_id: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for PhysicalKey {
    /// The URL exactly as quilt3 writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "s3://{}/{}",
            self.bucket,
            utf8_percent_encode(&self.key, KEY_SET)
        )?;
        if let Some(v) = &self.version_id {
            // `%20` can only come from a space: a literal '%' is itself encoded as `%25`.
            let encoded = utf8_percent_encode(v, FORM_SET)
                .to_string()
                .replace("%20", "+");
            write!(f, "?versionId={encoded}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for PhysicalKey {
    type Err = PhysicalKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn valid_bucket(b: &str) -> bool {
    !b.is_empty()
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

fn form_decode(s: &str) -> Option<String> {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_quilt3() {
        let pk = PhysicalKey::new("b", "raw data/a-c #1+é~.txt", Some("ver+/= 1".into()))
            .expect("valid");
        assert_eq!(
            pk.to_string(),
            "s3://b/raw%20data/a-c%20%231%2B%C3%A9~.txt?versionId=ver%2B%2F%3D+1"
        );
        assert_eq!(PhysicalKey::parse(&pk.to_string()), Ok(pk));
    }

    #[test]
    fn plus_in_the_path_stays_plus() {
        let pk = PhysicalKey::parse("s3://b/a+b?versionId=x+y").expect("valid");
        assert_eq!((pk.key(), pk.version_id()), ("a+b", Some("x y")));
    }

    #[test]
    fn bad_urls_get_their_specific_error() {
        use PhysicalKeyError as E;
        type Check = fn(&E) -> bool;
        let cases: &[(&str, Check)] = &[
            ("file:///tmp/x", |e| matches!(e, E::NotS3(_))),
            ("s3:///key", |e| matches!(e, E::InvalidBucket(_))),
            ("s3://bucket", |e| matches!(e, E::MissingKey(_))),
            ("s3://bucket/", |e| matches!(e, E::MissingKey(_))),
            ("s3://bucket/a#b", |e| matches!(e, E::Fragment(_))),
            ("s3://bucket/%FF", |e| matches!(e, E::InvalidEncoding(_))),
            ("s3://bucket/a?x=1", |e| matches!(e, E::UnexpectedQuery(_))),
            ("s3://bucket/a?versionId=1&versionId=2", |e| {
                matches!(e, E::UnexpectedQuery(_))
            }),
        ];
        for (url, want) in cases {
            let e = PhysicalKey::parse(url).expect_err(url);
            assert!(want(&e), "{url}: {e:?}");
        }
    }
}
