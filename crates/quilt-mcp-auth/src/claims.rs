//! Claims → [`Principal`]: the one place that knows the claim names and their aliases.
//!
//! Signature, `exp`, `nbf`, `iss` and `aud` are checked by the verifier before this runs;
//! here every claim the server uses is parsed and validated. Any claim that is present but
//! unusable — subject, issuer, scopes, bucket grants, and the credential claims
//! (`aws_credentials`, `role_arn`, session tags) alike — refuses the whole token with a 401
//! naming the claim: a half-understood token must not act for anyone, and a token whose
//! credential claim is broken would otherwise run under another credential source, or look
//! valid until its first AWS call.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::error::AuthError;
use crate::grants::BucketGrants;
use crate::identity::RESERVED_ISSUER_PREFIX;
use crate::principal::{EmbeddedCredentials, Principal, RoleArn};
use crate::secret::Secret;

const MAX_SUBJECT_CHARS: usize = 256;
const MAX_ISSUER_CHARS: usize = 1024;
const MAX_SESSION_TAGS: usize = 50;

/// Builds the principal from verified claims. `default_issuer` names the key kind that
/// verified the token, for tokens without `iss` (see [`crate::identity`]). `catalog_token` is
/// the bearer token when (and only when) the catalog issued it.
pub(crate) fn principal_from_claims(
    claims: &Map<String, Value>,
    catalog_token: Option<&str>,
    default_issuer: &str,
) -> Result<Principal, AuthError> {
    let session_tags = session_tags(claims)?;
    let transitive_tag_keys = transitive_tag_keys(claims)?;
    if let Some(bad) = transitive_tag_keys
        .iter()
        .find(|k| !session_tags.contains_key(*k))
    {
        return Err(invalid(
            "transitive_tag_keys",
            format!("{bad:?} is not a session tag"),
        ));
    }
    Ok(Principal {
        subject: subject(claims)?,
        issuer: issuer(claims)?.unwrap_or_else(|| default_issuer.to_owned()),
        scopes: scopes(claims)?,
        buckets: buckets(claims)?,
        aws_credentials: aws_credentials(claims)?,
        role_arn: role_arn(claims)?,
        session_tags,
        transitive_tag_keys,
        expires_at: expires_at(claims),
        catalog_token: catalog_token.map(Secret::new),
    })
}

/// The token's own `iss`, when it has one. Our fixed issuer names are reserved, so a token
/// cannot pass itself off as, say, an HS256 token without an issuer.
fn issuer(claims: &Map<String, Value>) -> Result<Option<String>, AuthError> {
    let Some(value) = claims.get("iss").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Value::String(iss) = value else {
        return Err(invalid("iss", "must be a string"));
    };
    if iss.is_empty() || iss.chars().count() > MAX_ISSUER_CHARS || iss.chars().any(char::is_control)
    {
        return Err(invalid(
            "iss",
            format!("must be 1 to {MAX_ISSUER_CHARS} printable characters"),
        ));
    }
    if iss.starts_with(RESERVED_ISSUER_PREFIX) {
        return Err(invalid(
            "iss",
            format!("issuers starting with {RESERVED_ISSUER_PREFIX:?} are reserved"),
        ));
    }
    Ok(Some(iss.clone()))
}

/// `exp` as whole Unix seconds. The verifier accepts any JSON number (RFC 7519 NumericDate
/// may be fractional), so a fractional `exp` must not read as "no expiry" (0).
fn expires_at(claims: &Map<String, Value>) -> u64 {
    let Some(exp) = claims.get("exp") else {
        return 0;
    };
    exp.as_u64().unwrap_or_else(|| {
        exp.as_f64()
            .filter(|e| e.is_finite() && *e >= 1.0)
            .map_or(0, |e| e as u64)
    })
}

fn invalid(claim: &'static str, reason: impl Into<String>) -> AuthError {
    AuthError::InvalidClaim {
        claim,
        reason: reason.into(),
    }
}

/// The first of `names` present in `claims`, with the name it was found under.
fn first<'a>(
    claims: &'a Map<String, Value>,
    names: &[&'static str],
) -> Option<(&'static str, &'a Value)> {
    names
        .iter()
        .find_map(|n| claims.get(*n).filter(|v| !v.is_null()).map(|v| (*n, v)))
}

fn subject(claims: &Map<String, Value>) -> Result<String, AuthError> {
    let Some((name, value)) = first(claims, &["sub", "id", "uuid"]) else {
        return Err(AuthError::MissingClaim("sub"));
    };
    let subject = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return Err(invalid(name, "must be a string")),
    };
    if subject.is_empty() {
        return Err(AuthError::MissingClaim("sub"));
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS || subject.chars().any(char::is_control) {
        return Err(invalid(
            name,
            format!("must be at most {MAX_SUBJECT_CHARS} printable characters"),
        ));
    }
    Ok(subject)
}

/// Strings from a claim that may be one space/comma separated string or an array of strings.
fn string_list(name: &'static str, value: &Value) -> Result<Vec<String>, AuthError> {
    match value {
        Value::String(s) => Ok(s
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(name, "must contain only strings"))
            })
            .collect(),
        _ => Err(invalid(name, "must be a string or an array of strings")),
    }
}

fn scopes(claims: &Map<String, Value>) -> Result<BTreeSet<String>, AuthError> {
    let mut scopes = BTreeSet::new();
    for name in ["scope", "scopes", "permissions"] {
        if let Some(v) = claims.get(name).filter(|v| !v.is_null()) {
            scopes.extend(string_list(name, v)?);
        }
    }
    Ok(scopes)
}

fn buckets(claims: &Map<String, Value>) -> Result<Option<BucketGrants>, AuthError> {
    let Some(value) = claims.get("buckets").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let entries = string_list("buckets", value)?;
    BucketGrants::parse(entries.iter().map(String::as_str))
        .map(Some)
        .map_err(|reason| invalid("buckets", reason))
}

fn aws_credentials(claims: &Map<String, Value>) -> Result<Option<EmbeddedCredentials>, AuthError> {
    let Some((_, value)) = first(claims, &["aws_credentials", "awsCredentials"]) else {
        return Ok(None);
    };
    let Value::Object(obj) = value else {
        return Err(invalid("aws_credentials", "must be an object"));
    };
    let field = |names: &[&'static str]| -> Result<Option<String>, AuthError> {
        match first(obj, names) {
            None => Ok(None),
            Some((_, Value::String(s))) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some((_, Value::Number(n))) if names[0] == "expiration" => Ok(Some(n.to_string())),
            Some((name, _)) => Err(invalid(
                "aws_credentials",
                format!("{name} must be a non-empty string"),
            )),
        }
    };
    let access_key_id = field(&["access_key_id", "accessKeyId", "AccessKeyId"])?
        .ok_or_else(|| invalid("aws_credentials", "access_key_id is missing"))?;
    if !(16..=128).contains(&access_key_id.len())
        || !access_key_id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(invalid(
            "aws_credentials",
            "access_key_id is not an AWS access key id",
        ));
    }
    let secret_access_key = field(&["secret_access_key", "secretAccessKey", "SecretAccessKey"])?
        .ok_or_else(|| invalid("aws_credentials", "secret_access_key is missing"))?;
    let session_token = field(&["session_token", "sessionToken", "SessionToken"])?;
    let expiration = field(&["expiration", "Expiration"])?;
    Ok(Some(EmbeddedCredentials {
        access_key_id,
        secret_access_key: Secret::new(secret_access_key),
        session_token: session_token.map(Secret::new),
        expiration,
    }))
}

fn role_arn(claims: &Map<String, Value>) -> Result<Option<RoleArn>, AuthError> {
    let Some((name, value)) = first(
        claims,
        &["role_arn", "roleArn", "aws_role_arn", "awsRoleArn"],
    ) else {
        return Ok(None);
    };
    let arn = value
        .as_str()
        .ok_or_else(|| invalid("role_arn", format!("{name} must be a string")))?;
    RoleArn::parse(arn)
        .map(Some)
        .map_err(|e| invalid("role_arn", e.to_string()))
}

fn session_tags(claims: &Map<String, Value>) -> Result<BTreeMap<String, String>, AuthError> {
    let Some(value) = claims.get("session_tags").filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let mut tags = BTreeMap::new();
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(invalid(
                            "session_tags",
                            format!("value of {k:?} must be a string"),
                        ));
                    }
                };
                tags.insert(k.clone(), v);
            }
        }
        // The STS shape: [{"Key": …, "Value": …}].
        Value::Array(items) => {
            for item in items {
                let k = item
                    .get("Key")
                    .or_else(|| item.get("key"))
                    .and_then(Value::as_str);
                let v = item
                    .get("Value")
                    .or_else(|| item.get("value"))
                    .and_then(Value::as_str);
                let (Some(k), Some(v)) = (k, v) else {
                    return Err(invalid(
                        "session_tags",
                        "entries must be {\"Key\", \"Value\"} strings",
                    ));
                };
                tags.insert(k.to_owned(), v.to_owned());
            }
        }
        _ => {
            return Err(invalid(
                "session_tags",
                "must be an object or a list of {Key, Value}",
            ));
        }
    }
    if tags.len() > MAX_SESSION_TAGS {
        return Err(invalid(
            "session_tags",
            format!("at most {MAX_SESSION_TAGS} tags"),
        ));
    }
    let tag_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
    };
    for (k, v) in &tags {
        if k.is_empty() || k.chars().count() > 128 || !tag_chars(k) {
            return Err(invalid(
                "session_tags",
                format!("key {k:?} is not a valid session tag key"),
            ));
        }
        if v.chars().count() > 256 || !tag_chars(v) {
            return Err(invalid(
                "session_tags",
                format!("value of {k:?} is not a valid session tag value"),
            ));
        }
    }
    Ok(tags)
}

fn transitive_tag_keys(claims: &Map<String, Value>) -> Result<Vec<String>, AuthError> {
    match claims.get("transitive_tag_keys").filter(|v| !v.is_null()) {
        None => Ok(Vec::new()),
        Some(v) => string_list("transitive_tag_keys", v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Principal, AuthError> {
        let Value::Object(m) = v else {
            panic!("object")
        };
        principal_from_claims(&m, Some("tok"), crate::identity::HS256_ISSUER)
    }

    #[test]
    fn a_fractional_exp_is_still_an_expiry() {
        // Found by the `token` fuzz target: `exp: 4102444800.5` verified, then read as 0.
        let p = parse(json!({"sub": "a", "exp": 4102444800.5})).expect("ok");
        assert_eq!(p.expires_at, 4102444800);
        assert_eq!(
            parse(json!({"sub": "a", "exp": 17}))
                .expect("ok")
                .expires_at,
            17
        );
    }

    #[test]
    fn subject_falls_back_to_id_then_uuid() {
        assert_eq!(
            parse(json!({"sub": "alice", "id": "x"}))
                .expect("ok")
                .subject,
            "alice"
        );
        assert_eq!(
            parse(json!({"id": 42, "uuid": "u"})).expect("ok").subject,
            "42"
        );
        assert_eq!(parse(json!({"uuid": "5f0c"})).expect("ok").subject, "5f0c");
        assert_eq!(
            parse(json!({"scope": "a"})).expect_err("no subject"),
            AuthError::MissingClaim("sub")
        );
        assert_eq!(
            parse(json!({"sub": "  "})).expect_err("blank"),
            AuthError::MissingClaim("sub")
        );
        assert!(matches!(
            parse(json!({"sub": {"a": 1}})),
            Err(AuthError::InvalidClaim { claim: "sub", .. })
        ));
    }

    #[test]
    fn scopes_merge_all_three_claims() {
        let p = parse(json!({"sub": "a", "scope": "quilt:read  athena:query", "scopes": ["quilt:write"], "permissions": ["x"]}))
            .expect("ok");
        assert_eq!(
            p.scopes.into_iter().collect::<Vec<_>>(),
            ["athena:query", "quilt:read", "quilt:write", "x"]
        );
    }

    #[test]
    fn aws_credentials_accept_both_spellings_and_need_a_secret() {
        let p = parse(json!({"sub": "a", "aws_credentials": {"accessKeyId": "ASIAAAAAAAAAAAAAAAAA", "secretAccessKey": "s", "sessionToken": "t", "expiration": "2030-01-01T00:00:00Z"}}))
            .expect("ok");
        let c = p.aws_credentials.expect("creds");
        assert_eq!(c.secret_access_key.expose(), "s");
        assert_eq!(c.session_token.as_ref().map(Secret::expose), Some("t"));
        let refused = |v: Value, claim: &str, reason: &str| match parse(v) {
            Err(AuthError::InvalidClaim {
                claim: c,
                reason: r,
            }) => {
                assert_eq!(c, claim);
                assert!(r.contains(reason), "{r}");
            }
            other => panic!("expected {claim} to be refused, got {other:?}"),
        };
        refused(
            json!({"sub": "a", "aws_credentials": {"access_key_id": "ASIAAAAAAAAAAAAAAAAA"}}),
            "aws_credentials",
            "secret_access_key is missing",
        );
        refused(
            json!({"sub": "a", "aws_credentials": "AKIA"}),
            "aws_credentials",
            "must be an object",
        );
    }

    #[test]
    fn role_arn_aliases_are_validated() {
        let p = parse(json!({"sub": "a", "awsRoleArn": "arn:aws:iam::123456789012:role/R"}))
            .expect("ok");
        assert_eq!(
            p.role_arn.expect("arn").as_str(),
            "arn:aws:iam::123456789012:role/R"
        );
        assert!(matches!(
            parse(json!({"sub": "a", "role_arn": "arn:aws:iam::1:role/R"})),
            Err(AuthError::InvalidClaim { claim: "role_arn", reason }) if reason.contains("not an IAM role ARN")
        ));
    }

    #[test]
    fn session_tags_in_both_shapes_and_transitive_keys_must_exist() {
        let p = parse(json!({"sub": "a", "session_tags": {"team": "lab", "n": 3}, "transitive_tag_keys": ["team"]})).expect("ok");
        assert_eq!(p.session_tags.get("n").map(String::as_str), Some("3"));
        let p = parse(json!({"sub": "a", "session_tags": [{"Key": "team", "Value": "lab"}]}))
            .expect("ok");
        assert_eq!(p.session_tags.get("team").map(String::as_str), Some("lab"));
        assert!(matches!(
            parse(json!({"sub": "a", "session_tags": {"team": "lab"}, "transitive_tag_keys": ["other"]})),
            Err(AuthError::InvalidClaim { claim: "transitive_tag_keys", reason }) if reason.contains("not a session tag")
        ));
        assert!(matches!(
            parse(json!({"sub": "a", "session_tags": {"bad\u{7}key": "v"}})),
            Err(AuthError::InvalidClaim { claim: "session_tags", reason }) if reason.contains("session tag key")
        ));
    }

    #[test]
    fn issuer_is_the_verified_iss_or_the_key_kind_and_ours_are_reserved() {
        let p = parse(json!({"sub": "a", "iss": "https://idp.example"})).expect("ok");
        assert_eq!(p.issuer, "https://idp.example");
        let p = parse(json!({"sub": "a"})).expect("ok");
        assert_eq!(p.issuer, crate::identity::HS256_ISSUER);
        assert_ne!(
            parse(json!({"sub": "a", "iss": "https://idp.example"}))
                .expect("ok")
                .identity_key(),
            p.identity_key(),
            "same sub, different issuer: different callers"
        );
        for bad in [
            json!({"sub": "a", "iss": "quilt-mcp:hs256"}),
            json!({"sub": "a", "iss": 7}),
            json!({"sub": "a", "iss": ""}),
        ] {
            assert!(
                matches!(
                    parse(bad.clone()),
                    Err(AuthError::InvalidClaim { claim: "iss", .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn buckets_claim_accepts_lists_and_strings() {
        let p = parse(json!({"sub": "a", "buckets": "alpha, beta/p/"})).expect("ok");
        assert_eq!(p.buckets.expect("grants").iter().count(), 2);
        assert!(parse(json!({"sub": "a"})).expect("ok").buckets.is_none());
        assert!(matches!(
            parse(json!({"sub": "a", "buckets": ["UPPER"]})),
            Err(AuthError::InvalidClaim {
                claim: "buckets",
                ..
            })
        ));
    }
}
