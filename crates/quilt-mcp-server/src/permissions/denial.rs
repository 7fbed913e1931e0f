//! What an S3 answer proves. Every check of the permission engine ends in one AWS answer;
//! [`classify`] turns it into a verdict and, for a refusal, the reason AWS gave when it gave
//! one (an explicit deny, a KMS key, a bucket that does not exist, a bucket in another
//! region). Anything else that is not a clear yes or no — a timeout, a 5xx — proves nothing.

use serde::Serialize;

/// Why an answer is what it is, as `evidence[op].reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reason {
    /// AWS accepted the request.
    Allowed,
    /// AWS refused (no policy allows it, or AWS did not say why).
    AccessDenied,
    /// A policy explicitly denies it.
    ExplicitDeny,
    /// The KMS key of the object or of the configured encryption refused.
    KmsDenied,
    /// The bucket does not exist.
    NoSuchBucket,
    /// There is no object to try reading under the prefix (empty, or only "folders").
    NoObject,
    /// No object could be found to try reading, because listing is not allowed.
    ListDenied,
    /// Write probes are off (`MCP_PERMISSION_WRITE_PROBE_PREFIX` unset).
    ProbeDisabled,
    /// The probe prefix lies outside the buckets/prefixes the caller may use here.
    ProbeOutsideGrants,
    /// The token lacks the write scope, so the server does not write on the caller's behalf.
    NoWriteScope,
    /// The operation was not asked for.
    NotRequested,
    /// The bucket is in another region than `AWS_REGION` (S3 redirects; nothing was tried).
    OtherRegion,
    /// AWS gave no usable answer (a timeout, an outage, an odd error); not cached.
    Inconclusive,
}

/// What one AWS answer proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The request was authorised.
    Allowed,
    /// The request was refused, for this reason.
    Denied(Reason),
    /// The bucket does not exist.
    NoSuchBucket,
    /// The key does not exist (it vanished between listing and reading).
    NotFound,
    /// The bucket lives in another region.
    OtherRegion,
    /// Nothing can be concluded.
    Inconclusive,
}

/// Classifies a failed S3 request from its error code, HTTP status and message.
pub(crate) fn classify(code: Option<&str>, status: Option<u16>, message: Option<&str>) -> Verdict {
    let message = message.unwrap_or_default().to_ascii_lowercase();
    let denied = || {
        if message.contains("explicit deny") {
            Verdict::Denied(Reason::ExplicitDeny)
        } else if message.contains("kms") || message.contains("customer master key") {
            Verdict::Denied(Reason::KmsDenied)
        } else {
            Verdict::Denied(Reason::AccessDenied)
        }
    };
    match code {
        Some("NoSuchBucket") => Verdict::NoSuchBucket,
        Some("NoSuchKey" | "NotFound") => Verdict::NotFound,
        // Checked after authorisation: the caller may read, there is just nothing at that
        // range, or the object is archived and needs a restore first.
        Some("InvalidRange" | "InvalidObjectState") => Verdict::Allowed,
        Some(c) if c.starts_with("KMS.") || c.starts_with("KMS") => {
            Verdict::Denied(Reason::KmsDenied)
        }
        Some("AccessDenied" | "AllAccessDisabled" | "AccountProblem" | "Forbidden") => denied(),
        Some(
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException",
        ) => Verdict::OtherRegion,
        _ => match status {
            Some(301) => Verdict::OtherRegion,
            Some(403) => denied(),
            Some(404) => Verdict::NotFound,
            _ => Verdict::Inconclusive,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_why_when_aws_does() {
        let explicit = "User: arn:aws:iam::123456789012:user/ro is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::b/k\" with an explicit deny in an identity-based policy";
        assert_eq!(
            classify(Some("AccessDenied"), Some(403), Some(explicit)),
            Verdict::Denied(Reason::ExplicitDeny)
        );
        let kms = "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext because no identity-based policy allows the kms:Decrypt action";
        assert_eq!(
            classify(Some("AccessDenied"), Some(403), Some(kms)),
            Verdict::Denied(Reason::KmsDenied)
        );
        assert_eq!(
            classify(Some("KMS.DisabledException"), Some(400), None),
            Verdict::Denied(Reason::KmsDenied)
        );
        assert_eq!(
            classify(Some("AccessDenied"), Some(403), Some("Access Denied")),
            Verdict::Denied(Reason::AccessDenied)
        );
        // A HEAD-style answer has no body: the status alone is a refusal.
        assert_eq!(
            classify(None, Some(403), None),
            Verdict::Denied(Reason::AccessDenied)
        );
    }

    #[test]
    fn missing_buckets_keys_and_non_answers_are_told_apart() {
        assert_eq!(
            classify(
                Some("NoSuchBucket"),
                Some(404),
                Some("The specified bucket does not exist")
            ),
            Verdict::NoSuchBucket
        );
        assert_eq!(
            classify(Some("NoSuchKey"), Some(404), None),
            Verdict::NotFound
        );
        assert_eq!(classify(None, Some(404), None), Verdict::NotFound);
        assert_eq!(
            classify(Some("InvalidRange"), Some(416), None),
            Verdict::Allowed
        );
        assert_eq!(
            classify(Some("InvalidObjectState"), Some(403), None),
            Verdict::Allowed,
            "archived objects are readable after a restore: the read itself was authorised"
        );
        for (code, status) in [
            (Some("PermanentRedirect"), Some(301)),
            (Some("AuthorizationHeaderMalformed"), Some(400)),
            (None, Some(301)),
        ] {
            assert_eq!(
                classify(code, status, None),
                Verdict::OtherRegion,
                "{code:?}"
            );
        }
        for (code, status) in [
            (Some("SlowDown"), Some(503)),
            (Some("InternalError"), Some(500)),
            (Some("InvalidArgument"), Some(400)),
            (None, None),
        ] {
            assert_eq!(
                classify(code, status, None),
                Verdict::Inconclusive,
                "{code:?} {status:?} proves nothing"
            );
        }
    }
}
