//! S3 helpers shared by the bucket tools, the package tools, previews, completions and the
//! permission engine: S3 failures as tool errors ([`s3_error`], [`object_error`]), S3's version
//! ids ([`real_version`]) and the end of a multipart upload ([`complete_or_abort`]). Below the
//! tools, so the permission engine and the package tools need not import from the bucket
//! tools. The encryption every write carries is a parsed setting, [`crate::settings::Sse`].

use aws_sdk_s3::operation::RequestId as _;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use quilt_mcp_aws::Caller;
use quilt_mcp_aws::s3uri::{self, S3Uri};

use crate::aws::{self, sdk_error};
use crate::tool_error::{ErrorCode, ToolError};

/// S3 reports the version "null" for objects written while versioning was off.
pub(crate) fn real_version(v: Option<&str>) -> Option<String> {
    v.filter(|v| *v != "null").map(str::to_owned)
}

/// A tool error for a failed S3 call, naming the credential source and role used.
pub(crate) fn s3_error<E>(
    what: &str,
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    caller: &Caller<aws_sdk_s3::Client>,
) -> ToolError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut e = sdk_error(what, err);
    if e.code == ErrorCode::AccessDenied {
        let role = caller
            .role_arn
            .as_ref()
            .map(|r| format!(" as {r}"))
            .unwrap_or_default();
        e.message = format!("{} (credential source {}{role})", e.message, caller.source);
        e.credential_source = Some(caller.source.as_str().to_owned());
    }
    e
}

/// [`s3_error`] for a call on one object: "not found" names the object tried (the URI, and
/// the bucket, key and version spelled out), with a hint when the key looks percent-encoded.
pub(crate) fn object_error<E>(
    what: &str,
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    caller: &Caller<aws_sdk_s3::Client>,
    object: &S3Uri,
) -> ToolError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let e = s3_error(what, err, caller);
    if e.code != ErrorCode::NotFound {
        return e;
    }
    let e = ToolError {
        message: format!("{}: {}", object.missing(), e.message),
        ..e
    };
    if object.looks_percent_encoded() {
        e.with_hint(s3uri::PERCENT_HINT)
    } else {
        e
    }
}

/// Ends a multipart upload: completes it with `parts`, or, when producing them or completing
/// failed, aborts it so no half-written upload is left behind (it would be billed). Returns the
/// object's ETag and version id. Used by `bucket_objects_put` and the package copies.
pub(crate) async fn complete_or_abort(
    s3: &Caller<aws_sdk_s3::Client>,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: Result<Vec<CompletedPart>, ToolError>,
) -> Result<(Option<String>, Option<String>), ToolError> {
    let result = match parts {
        Ok(parts) => s3
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", &e, s3))
            .map(|done| {
                aws::aws_request(done.request_id());
                (
                    done.e_tag().map(str::to_owned),
                    real_version(done.version_id()),
                )
            }),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = s3
            .client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
    }
    result
}
