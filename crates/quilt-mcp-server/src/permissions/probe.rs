//! The three probes of the permission engine, one AWS request each (the write probe: a put
//! and its delete), made with the caller's client and turned into a [`Check`] with evidence.
//! Every request has its own time limit: a hung request proves nothing, and a write probe
//! still tries its delete.

use std::future::Future;
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::RequestId as _;
use aws_sdk_s3::primitives::ByteStream;
use quilt_mcp_aws::CredentialSource;
use quilt_mcp_aws::error::describe_sdk_error;

use super::denial::{Reason, Verdict, classify};
use super::{Access, Caller, Check, Evidence, Target};
use crate::settings::Sse;

/// Time limit of one probe request.
const REQUEST_LIMIT: Duration = Duration::from_secs(15);

/// `send` within [`REQUEST_LIMIT`]; past it, a timeout error.
async fn limited<O, E>(
    send: impl Future<Output = Result<O, SdkError<E, HttpResponse>>>,
) -> Result<O, SdkError<E, HttpResponse>> {
    match tokio::time::timeout(REQUEST_LIMIT, send).await {
        Ok(answer) => answer,
        Err(_) => Err(SdkError::timeout_error(format!(
            "no answer within {} s",
            REQUEST_LIMIT.as_secs()
        ))),
    }
}

/// What a failed request makes of an operation.
fn refused(verdict: Verdict) -> (Access, Reason) {
    match verdict {
        Verdict::Denied(reason) => (Access::No, reason),
        // A bucket-level request that finds nothing: the bucket is not there.
        Verdict::NoSuchBucket | Verdict::NotFound => (Access::No, Reason::NoSuchBucket),
        Verdict::OtherRegion => (Access::Unknown, Reason::OtherRegion),
        Verdict::Allowed | Verdict::Inconclusive => (Access::Unknown, Reason::Inconclusive),
    }
}

/// A failed probe request, described without secrets: the verdict, the detail (code, status,
/// message, request id) and the request id.
pub(super) fn described<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> (Verdict, String, Option<String>)
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let (_, detail) = describe_sdk_error(err);
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(service) => (
            classify(
                service.err().code(),
                Some(service.raw().status().as_u16()),
                service.err().message(),
            ),
            detail,
            service
                .err()
                .meta()
                .extra("aws_request_id")
                .map(str::to_owned),
        ),
        _ => (Verdict::Inconclusive, detail, None),
    }
}

/// Who made a request, for the evidence.
#[derive(Debug, Clone)]
pub(super) struct Who {
    source: CredentialSource,
    role_arn: Option<String>,
}

impl Who {
    pub(super) fn of<C>(caller: &Caller<C>) -> Self {
        Self {
            source: caller.source,
            role_arn: caller.role_arn.as_ref().map(|r| r.as_str().to_owned()),
        }
    }

    fn evidence(
        &self,
        check: String,
        reason: Reason,
        detail: String,
        request_id: Option<&str>,
    ) -> Evidence {
        Evidence {
            check,
            reason,
            detail,
            request_id: request_id.map(str::to_owned),
            probe_id: Some(uuid::Uuid::new_v4().simple().to_string()),
            credential_source: Some(self.source),
            role_arn: self.role_arn.clone(),
            leftover: None,
        }
    }
}

pub(super) async fn list_probe(client: aws_sdk_s3::Client, target: Target, who: Who) -> Check {
    let check = format!(
        "ListObjectsV2 s3://{}/{} MaxKeys=1",
        target.bucket, target.prefix
    );
    match limited(
        client
            .list_objects_v2()
            .bucket(&target.bucket)
            .prefix(&target.prefix)
            .max_keys(1)
            .send(),
    )
    .await
    {
        Ok(out) => {
            let first_key = out
                .contents()
                .first()
                .and_then(|o| o.key())
                .map(str::to_owned);
            let found = match &first_key {
                Some(k) => format!("allowed; found {k:?}"),
                None => "allowed; no objects under the prefix".into(),
            };
            Check {
                access: Access::Yes,
                evidence: who.evidence(check, Reason::Allowed, found, out.request_id()),
                first_key,
            }
        }
        Err(e) => {
            let (verdict, detail, request_id) = described(&e);
            let (access, reason) = refused(verdict);
            Check {
                access,
                evidence: who.evidence(check, reason, detail, request_id.as_deref()),
                first_key: None,
            }
        }
    }
}

pub(super) async fn read_probe(
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    who: Who,
) -> Check {
    let check = format!("GetObject s3://{bucket}/{key} Range=bytes=0-0");
    match limited(
        client
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .range("bytes=0-0")
            .send(),
    )
    .await
    {
        Ok(out) => Check {
            access: Access::Yes,
            evidence: who.evidence(check, Reason::Allowed, "allowed".into(), out.request_id()),
            first_key: None,
        },
        Err(e) => {
            let (verdict, detail, request_id) = described(&e);
            let (access, reason, detail) = match verdict {
                Verdict::Allowed => (
                    Access::Yes,
                    Reason::Allowed,
                    format!("authorised ({detail})"),
                ),
                Verdict::Denied(reason) => (Access::No, reason, detail),
                Verdict::NoSuchBucket => (Access::No, Reason::NoSuchBucket, detail),
                Verdict::NotFound => (
                    Access::Unknown,
                    Reason::Inconclusive,
                    format!("the object vanished after listing: {detail}"),
                ),
                Verdict::OtherRegion => (Access::Unknown, Reason::OtherRegion, detail),
                Verdict::Inconclusive => (Access::Unknown, Reason::Inconclusive, detail),
            };
            Check {
                access,
                evidence: who.evidence(check, reason, detail, request_id.as_deref()),
                first_key: None,
            }
        }
    }
}

/// S3 reports the version "null" for objects written while versioning was off.
fn real_version(v: Option<&str>) -> Option<String> {
    v.filter(|v| *v != "null").map(str::to_owned)
}

pub(super) async fn write_probe(
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    sse: Sse,
    who: Who,
) -> Check {
    let key = format!(
        "{prefix}quilt-mcp-write-probe-{}",
        uuid::Uuid::new_v4().simple()
    );
    let encryption = sse.mode.as_ref().map_or("no SSE header".to_owned(), |m| {
        format!("SSE {}", m.as_str())
    });
    let check = format!("PutObject s3://{bucket}/{key} (0 bytes, {encryption}), then DeleteObject");
    let put = limited(
        client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .content_type("application/octet-stream")
            .body(ByteStream::from_static(b""))
            .set_server_side_encryption(sse.mode.clone())
            .set_ssekms_key_id(sse.kms_key_id.clone())
            .send(),
    )
    .await;
    let out = match put {
        Ok(out) => out,
        Err(e) => {
            let (verdict, mut detail, request_id) = described(&e);
            if !matches!(e, SdkError::ServiceError(_)) {
                // No answer: the object may have been written all the same.
                let gone = limited(client.delete_object().bucket(&bucket).key(&key).send()).await;
                detail = format!(
                    "{detail}; a delete of the probe key, in case it was written, {}",
                    if gone.is_ok() {
                        "succeeded"
                    } else {
                        "failed too"
                    }
                );
            }
            let (access, reason) = refused(verdict);
            return Check {
                access,
                evidence: who.evidence(check, reason, detail, request_id.as_deref()),
                first_key: None,
            };
        }
    };
    let version = real_version(out.version_id());
    let put_id = out.request_id().map(str::to_owned);
    // Delete exactly the version written: on a versioned bucket a plain delete would leave
    // the probe stored behind a delete marker.
    let deleted = limited(
        client
            .delete_object()
            .bucket(&bucket)
            .key(&key)
            .set_version_id(version.clone())
            .send(),
    )
    .await;
    let evidence = match deleted {
        Ok(_) => who.evidence(
            check,
            Reason::Allowed,
            "allowed; the probe object was deleted".into(),
            put_id.as_deref(),
        ),
        Err(e) => {
            let (_, detail, _) = described(&e);
            tracing::warn!(
                bucket = %bucket,
                key = %key,
                "write probe object could not be deleted: {detail}"
            );
            let mut evidence = who.evidence(
                check,
                Reason::Allowed,
                format!(
                    "allowed; but deleting the probe object failed ({detail}): delete it, or allow s3:DeleteObject{} on the probe prefix",
                    if version.is_some() { "Version" } else { "" }
                ),
                put_id.as_deref(),
            );
            evidence.leftover = Some(match &version {
                Some(v) => format!("s3://{bucket}/{key}?versionId={v}"),
                None => format!("s3://{bucket}/{key}"),
            });
            evidence
        }
    };
    Check {
        access: Access::Yes,
        evidence,
        first_key: None,
    }
}
