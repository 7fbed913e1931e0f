//! Which buckets (and prefixes) a caller may touch, decided by the server before any AWS
//! call: a bucket must be allowed by both `QUILT_BUCKETS` (when set) and the token's
//! `buckets` claim (when present). Prefix grants restrict keys, and listings are kept inside
//! the granted prefix. Refusals are `not_permitted` tool errors.

use quilt_mcp_auth::{BucketGrant, BucketGrants, Principal};

use crate::tool_error::ToolError;

/// Where in a bucket a side (operator or token) allows access.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// The whole bucket.
    Whole,
    /// Only under these prefixes (each ends with `/`).
    Prefixes(Vec<String>),
    /// Not at all.
    None,
}

fn scope_of(grants: Option<&BucketGrants>, bucket: &str) -> Scope {
    let Some(grants) = grants else {
        return Scope::Whole;
    };
    let mut prefixes = Vec::new();
    for grant in grants.iter() {
        match grant {
            BucketGrant::Any => return Scope::Whole,
            BucketGrant::Bucket {
                bucket: b,
                prefix: None,
            } if b == bucket => return Scope::Whole,
            BucketGrant::Bucket {
                bucket: b,
                prefix: Some(p),
            } if b == bucket => prefixes.push(p.clone()),
            BucketGrant::Bucket { .. } => {}
        }
    }
    if prefixes.is_empty() {
        Scope::None
    } else {
        Scope::Prefixes(prefixes)
    }
}

/// The operator's bucket list plus the caller's grants.
#[derive(Debug, Clone, Default)]
pub struct BucketPolicy {
    configured: Option<BucketGrants>,
}

/// A bucket a caller may use, and the prefixes it is limited to (empty: the whole bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedBucket {
    /// The bucket.
    pub bucket: String,
    /// The prefixes the caller is limited to; empty for the whole bucket.
    pub prefixes: Vec<String>,
}

impl BucketPolicy {
    /// A policy over `QUILT_BUCKETS` (`None`: the operator does not restrict buckets).
    pub fn new(configured: Option<BucketGrants>) -> Self {
        Self { configured }
    }

    /// The prefixes both sides allow in `bucket`: `Ok(vec![])` for the whole bucket.
    fn allowed_prefixes(&self, p: &Principal, bucket: &str) -> Result<Vec<String>, ToolError> {
        let sides = [
            scope_of(self.configured.as_ref(), bucket),
            scope_of(p.buckets.as_ref(), bucket),
        ];
        let mut combined: Option<Vec<String>> = None;
        for side in sides {
            match side {
                Scope::None => {
                    return Err(ToolError::not_permitted(format!(
                        "bucket {bucket} is not among the buckets you may use"
                    ))
                    .with_hint("call bucket_list to see the buckets you may use"));
                }
                Scope::Whole => {}
                Scope::Prefixes(ps) => {
                    combined = Some(match combined {
                        None => ps,
                        // The narrower of each overlapping pair.
                        Some(prev) => prev
                            .iter()
                            .flat_map(|a| {
                                ps.iter().filter_map(move |b| {
                                    if a.starts_with(b.as_str()) {
                                        Some(a.clone())
                                    } else if b.starts_with(a.as_str()) {
                                        Some(b.clone())
                                    } else {
                                        None
                                    }
                                })
                            })
                            .collect(),
                    });
                }
            }
        }
        match combined {
            None => Ok(Vec::new()),
            Some(ps) if ps.is_empty() => Err(ToolError::not_permitted(format!(
                "no part of bucket {bucket} is allowed by both the server and your token"
            ))),
            Some(ps) => Ok(ps),
        }
    }

    /// Checks that the caller may touch `key` in `bucket`.
    pub fn check_key(&self, p: &Principal, bucket: &str, key: &str) -> Result<(), ToolError> {
        let prefixes = self.allowed_prefixes(p, bucket)?;
        if prefixes.is_empty() || prefixes.iter().any(|pre| key.starts_with(pre.as_str())) {
            Ok(())
        } else {
            Err(ToolError::not_permitted(format!(
                "key {key:?} is outside the prefixes you may use in {bucket}: {}",
                prefixes.join(", ")
            )))
        }
    }

    /// The prefix to list for a requested prefix: the request when it lies inside an allowed
    /// prefix, the allowed prefix when the request is broader (a listing of `""` in a bucket
    /// granted as `bucket/team/` lists `team/`), else `not_permitted`.
    pub fn list_prefix(
        &self,
        p: &Principal,
        bucket: &str,
        requested: &str,
    ) -> Result<String, ToolError> {
        let prefixes = self.allowed_prefixes(p, bucket)?;
        if prefixes.is_empty() || prefixes.iter().any(|a| requested.starts_with(a.as_str())) {
            return Ok(requested.to_owned());
        }
        if let Some(a) = prefixes.iter().find(|a| a.starts_with(requested)) {
            return Ok(a.clone());
        }
        Err(ToolError::not_permitted(format!(
            "prefix {requested:?} is outside the prefixes you may use in {bucket}: {}",
            prefixes.join(", ")
        )))
    }

    /// The buckets the caller may use when the operator or the token names them; `None` when
    /// neither restricts (then the caller's own credentials decide what is visible).
    pub fn named_buckets(&self, p: &Principal) -> Option<Vec<AllowedBucket>> {
        let names = |g: &BucketGrants| -> Option<Vec<String>> {
            if g.iter().any(|x| *x == BucketGrant::Any) {
                return None;
            }
            let mut names: Vec<String> = g
                .iter()
                .filter_map(|x| match x {
                    BucketGrant::Bucket { bucket, .. } => Some(bucket.clone()),
                    BucketGrant::Any => None,
                })
                .collect();
            names.dedup();
            Some(names)
        };
        let configured = self.configured.as_ref().and_then(names);
        let token = p.buckets.as_ref().and_then(names);
        let candidates = match (configured, token) {
            (None, None) => return None,
            (Some(a), None) | (None, Some(a)) => a,
            (Some(a), Some(b)) => a.into_iter().filter(|x| b.contains(x)).collect(),
        };
        Some(
            candidates
                .into_iter()
                .filter_map(|bucket| {
                    self.allowed_prefixes(p, &bucket)
                        .ok()
                        .map(|prefixes| AllowedBucket { bucket, prefixes })
                })
                .collect(),
        )
    }

    /// The prefixes of `bucket` the caller may use (empty: whole bucket), or an error.
    pub fn prefixes(&self, p: &Principal, bucket: &str) -> Result<Vec<String>, ToolError> {
        self.allowed_prefixes(p, bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(buckets: Option<&[&str]>) -> Principal {
        let mut p = Principal::local("t");
        p.buckets = buckets.map(|b| BucketGrants::parse(b.iter().copied()).expect("grants"));
        p
    }

    fn policy(configured: Option<&[&str]>) -> BucketPolicy {
        BucketPolicy::new(
            configured.map(|b| BucketGrants::parse(b.iter().copied()).expect("grants")),
        )
    }

    #[test]
    fn both_sides_must_allow_a_bucket() {
        let pol = policy(Some(&["alpha", "beta"]));
        assert!(pol.check_key(&principal(None), "alpha", "k").is_ok());
        assert!(pol.check_key(&principal(None), "gamma", "k").is_err());
        assert!(
            pol.check_key(&principal(Some(&["beta"])), "alpha", "k")
                .is_err()
        );
        assert!(
            policy(None)
                .check_key(&principal(Some(&["*"])), "anything", "k")
                .is_ok()
        );
        let e = policy(None)
            .check_key(&principal(Some(&["beta"])), "alpha", "k")
            .expect_err("no");
        assert_eq!(e.code.as_str(), "not_permitted");
    }

    #[test]
    fn prefix_grants_restrict_keys_and_force_listings() {
        let pol = policy(Some(&["lab"]));
        let p = principal(Some(&["lab/team/"]));
        assert!(pol.check_key(&p, "lab", "team/a.csv").is_ok());
        assert!(pol.check_key(&p, "lab", "other/a.csv").is_err());
        assert_eq!(pol.list_prefix(&p, "lab", "").expect("forced"), "team/");
        assert_eq!(
            pol.list_prefix(&p, "lab", "team/x/").expect("inside"),
            "team/x/"
        );
        assert!(pol.list_prefix(&p, "lab", "other/").is_err());
        // Both sides with prefixes: the narrower one wins.
        let pol = policy(Some(&["lab/team/"]));
        let p = principal(Some(&["lab/team/sub/"]));
        assert_eq!(pol.list_prefix(&p, "lab", "").expect("forced"), "team/sub/");
    }

    #[test]
    fn named_buckets_intersect_both_sides() {
        let pol = policy(Some(&["alpha", "beta/x/"]));
        let named = pol
            .named_buckets(&principal(Some(&["beta", "gamma"])))
            .expect("restricted");
        assert_eq!(
            named,
            vec![AllowedBucket {
                bucket: "beta".into(),
                prefixes: vec!["x/".into()]
            }]
        );
        assert!(policy(None).named_buckets(&principal(None)).is_none());
        assert!(
            policy(None)
                .named_buckets(&principal(Some(&["*"])))
                .is_none()
        );
    }
}
