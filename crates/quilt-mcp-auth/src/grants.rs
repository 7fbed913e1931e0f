//! Bucket grants: which buckets (and prefixes within them) a token lets its holder touch.
//!
//! The `buckets` claim lists bucket names, `bucket/prefix/` entries, or `*` for any bucket.
//! A grant only ever narrows what the caller may do; the server intersects it with the
//! operator's `QUILT_BUCKETS`. Bucket-name rules live here because the claim is parsed
//! here; the S3 URI rules build on [`is_valid_bucket_name`].

use std::fmt;

/// One entry of the `buckets` claim.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum BucketGrant {
    /// `*`: any bucket.
    Any,
    /// A whole bucket, or only the keys under `prefix` (which ends with `/`).
    Bucket {
        /// The bucket name (validated).
        bucket: String,
        /// The key prefix the grant is limited to, if any.
        prefix: Option<String>,
    },
}

impl BucketGrant {
    /// Parses one claim entry: `*`, `bucket`, `bucket/prefix/` (an `s3://` scheme is tolerated).
    pub fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        if entry == "*" {
            return Ok(Self::Any);
        }
        let entry = entry.strip_prefix("s3://").unwrap_or(entry);
        let (bucket, prefix) = match entry.split_once('/') {
            Some((bucket, rest)) => (bucket, rest),
            None => (entry, ""),
        };
        if !is_valid_bucket_name(bucket) {
            return Err(format!("{bucket:?} is not a valid S3 bucket name"));
        }
        let prefix = if prefix.is_empty() {
            None
        } else if prefix.ends_with('/') {
            Some(prefix.to_owned())
        } else {
            // A prefix without a trailing slash would let `data` also grant `database/`.
            Some(format!("{prefix}/"))
        };
        Ok(Self::Bucket {
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    /// Whether this grant covers `key` in `bucket` (a whole-bucket grant covers every key).
    pub fn covers(&self, bucket: &str, key: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Bucket { bucket: b, prefix } => {
                b == bucket && prefix.as_deref().is_none_or(|p| key.starts_with(p))
            }
        }
    }
}

impl fmt::Display for BucketGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Bucket {
                bucket,
                prefix: None,
            } => f.write_str(bucket),
            Self::Bucket {
                bucket,
                prefix: Some(p),
            } => write!(f, "{bucket}/{p}"),
        }
    }
}

/// The parsed `buckets` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketGrants(Vec<BucketGrant>);

impl BucketGrants {
    /// Parses every entry; one bad entry refuses the whole claim (a token is not half valid).
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut grants = entries
            .into_iter()
            .filter(|e| !e.trim().is_empty())
            .map(BucketGrant::parse)
            .collect::<Result<Vec<_>, _>>()?;
        grants.sort();
        grants.dedup();
        Ok(Self(grants))
    }

    /// The grants, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &BucketGrant> {
        self.0.iter()
    }

    /// Whether any grant covers `key` in `bucket`.
    pub fn covers(&self, bucket: &str, key: &str) -> bool {
        self.0.iter().any(|g| g.covers(bucket, key))
    }

    /// Whether any grant names `bucket` at all (possibly only a prefix of it).
    pub fn mentions_bucket(&self, bucket: &str) -> bool {
        self.0.iter().any(|g| match g {
            BucketGrant::Any => true,
            BucketGrant::Bucket { bucket: b, .. } => b == bucket,
        })
    }
}

/// S3 general-purpose bucket naming rules: 3–63 characters of lowercase letters, digits,
/// dots and hyphens, starting and ending with a letter or digit, no `..`, not an IPv4
/// address, and none of the prefixes and suffixes AWS reserves.
pub fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return false;
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
        return false;
    }
    if !bytes.iter().all(|&b| edge_ok(b) || b == b'.' || b == b'-') || name.contains("..") {
        return false;
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        && !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket", "my.bucket.1", "a".repeat(63).as_str()] {
            assert!(is_valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "a".repeat(64).as_str(),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a_b",
            "",
        ] {
            assert!(!is_valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn grants_parse_buckets_prefixes_and_any() {
        let g = BucketGrants::parse(["data", "s3://raw/inbox", "*", "lab/x/"]).expect("valid");
        let v: Vec<String> = g.iter().map(ToString::to_string).collect();
        assert_eq!(v, ["*", "data", "lab/x/", "raw/inbox/"]);
    }

    #[test]
    fn prefix_grant_does_not_leak_to_sibling_prefixes() {
        let g = BucketGrants::parse(["lab/data"]).expect("valid");
        assert!(g.covers("lab", "data/file.csv"));
        assert!(!g.covers("lab", "database/file.csv"));
        assert!(!g.covers("other", "data/file.csv"));
        assert!(g.mentions_bucket("lab"));
    }

    #[test]
    fn one_bad_entry_refuses_the_claim() {
        let err = BucketGrants::parse(["ok-bucket", "Bad_Bucket"]).expect_err("invalid");
        assert!(err.contains("Bad_Bucket"), "{err}");
    }
}
