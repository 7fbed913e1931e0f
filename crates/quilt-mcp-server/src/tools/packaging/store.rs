//! Registry I/O: pointers (`latest`, timestamps), the revision a read names (full hash, prefix,
//! timestamp or latest), key listings, manifest bodies and puts with the configured SSE. Every
//! request records what it touched (`aws::touched`, `aws::written`) for the audit line.

use aws_sdk_s3::primitives::ByteStream;
use quilt_package::registry::{self, MANIFESTS_PREFIX};
use quilt_package::{PackageName, TopHash, TopHashError};

use super::args::full_hash;
use super::{MAX_LISTED_KEY_BYTES, MAX_POINTER_BYTES, Packaging, S3};
use crate::aws;
use crate::s3::s3_error;
use crate::tool_error::{ErrorCode, ToolError};

impl Packaging {
    /// A small object's bytes, or `None` when it does not exist.
    async fn get_small(
        &self,
        s3: &S3,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, ToolError> {
        aws::touched(bucket, Some(key));
        match s3.client.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                let too_large = || {
                    ToolError::new(
                        ErrorCode::TooLarge,
                        format!(
                            "s3://{bucket}/{key} is larger than {MAX_POINTER_BYTES} bytes: not a pointer"
                        ),
                    )
                };
                if out.content_length().unwrap_or(0) > MAX_POINTER_BYTES as i64 {
                    return Err(too_large());
                }
                // Limited while reading too: a length header is not a promise.
                let mut body = out.body;
                let mut bytes = Vec::new();
                while let Some(chunk) = body.try_next().await.map_err(|e| {
                    ToolError::new(
                        ErrorCode::UpstreamUnavailable,
                        format!("reading s3://{bucket}/{key} failed: {e}"),
                    )
                })? {
                    if bytes.len() + chunk.len() > MAX_POINTER_BYTES {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(Some(bytes))
            }
            Err(e) => {
                let err = s3_error("GetObject", &e, s3);
                if err.code == ErrorCode::NotFound && !err.message.contains("NoSuchBucket") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn pointer(
        &self,
        s3: &S3,
        bucket: &str,
        key: &str,
    ) -> Result<Option<TopHash>, ToolError> {
        let Some(body) = self.get_small(s3, bucket, key).await? else {
            return Ok(None);
        };
        registry::parse_pointer_body(&body).map(Some).map_err(|e| {
            ToolError::invalid_argument(format!(
                "pointer s3://{bucket}/{key} is not a top hash: {e}"
            ))
        })
    }

    pub(super) async fn latest(
        &self,
        s3: &S3,
        bucket: &str,
        name: &PackageName,
    ) -> Result<Option<TopHash>, ToolError> {
        self.pointer(s3, bucket, &registry::latest_pointer_key(name))
            .await
    }

    /// The revision a read names: a full hash, a prefix, a timestamp pointer, or latest.
    pub(super) async fn resolve(
        &self,
        s3: &S3,
        bucket: &str,
        name: &PackageName,
        top_hash: Option<&str>,
        timestamp: Option<u64>,
    ) -> Result<TopHash, ToolError> {
        match (top_hash.filter(|h| !h.is_empty()), timestamp) {
            (Some(_), Some(_)) => Err(ToolError::invalid_argument(
                "give top_hash or timestamp, not both",
            )),
            (Some(h), None) if h.len() == 64 => full_hash("top_hash", h),
            (Some(prefix), None) => self.resolve_prefix(s3, bucket, prefix).await,
            (None, Some(t)) => {
                let key = registry::revision_pointer_key(name, t);
                self.pointer(s3, bucket, &key).await?.ok_or_else(|| {
                    ToolError::new(
                        ErrorCode::NotFound,
                        format!("package {name} has no revision {t} in s3://{bucket}"),
                    )
                })
            }
            (None, None) => self.latest(s3, bucket, name).await?.ok_or_else(|| {
                ToolError::new(
                    ErrorCode::NotFound,
                    format!("package {name} does not exist in s3://{bucket} (no latest pointer)"),
                )
                .with_hint("package_list shows the registry's packages")
            }),
        }
    }

    async fn resolve_prefix(
        &self,
        s3: &S3,
        bucket: &str,
        prefix: &str,
    ) -> Result<TopHash, ToolError> {
        // Refuse a bad prefix before listing.
        if let Err(e @ TopHashError::InvalidPrefix(_)) = TopHash::resolve_prefix(prefix, []) {
            return Err(ToolError::invalid_argument(format!("top_hash: {e}")));
        }
        let keys = self
            .list_keys(s3, bucket, &format!("{MANIFESTS_PREFIX}{prefix}"), 1000)
            .await?
            .0;
        let names = keys
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(MANIFESTS_PREFIX));
        TopHash::resolve_prefix(prefix, names).map_err(|e| match e {
            TopHashError::NotFound(_) => {
                ToolError::new(ErrorCode::NotFound, format!("{e} in s3://{bucket}"))
            }
            other => ToolError::invalid_argument(format!("top_hash: {other}"))
                .with_hint("give more characters of the hash"),
        })
    }

    /// Keys (with sizes) under `prefix`, at most `cap`; whether it stopped at the cap.
    pub(super) async fn list_keys(
        &self,
        s3: &S3,
        bucket: &str,
        prefix: &str,
        cap: usize,
    ) -> Result<(Vec<(String, u64)>, bool), ToolError> {
        aws::touched(bucket, Some(prefix));
        let mut out = Vec::new();
        let mut key_bytes = 0usize;
        let mut token: Option<String> = None;
        loop {
            let page = s3
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3_error("ListObjectsV2", &e, s3))?;
            for o in page.contents() {
                if out.len() == cap || key_bytes > MAX_LISTED_KEY_BYTES {
                    return Ok((out, true));
                }
                if let Some(k) = o.key() {
                    key_bytes += k.len();
                    out.push((k.to_owned(), o.size().unwrap_or(0).max(0) as u64));
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok((out, false)),
            }
        }
    }

    pub(super) async fn manifest_body(
        &self,
        s3: &S3,
        bucket: &str,
        hash: &TopHash,
    ) -> Result<ByteStream, ToolError> {
        let key = registry::manifest_key(hash);
        aws::touched(bucket, Some(&key));
        let out = s3
            .client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| {
                let mut err = s3_error("GetObject", &e, s3);
                if err.code == ErrorCode::NotFound {
                    err.message = format!(
                        "the manifest of revision {hash} (s3://{bucket}/{key}) does not exist: {}",
                        err.message
                    );
                }
                err
            })?;
        Ok(out.body)
    }

    pub(super) async fn put(
        &self,
        s3: &S3,
        bucket: &str,
        key: &str,
        body: ByteStream,
        content_type: &str,
    ) -> Result<(), ToolError> {
        aws::touched(bucket, Some(key));
        s3.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .set_server_side_encryption(self.sse.mode.clone())
            .set_ssekms_key_id(self.sse.kms_key_id.clone())
            .send()
            .await
            .map_err(|e| s3_error("PutObject", &e, s3))?;
        aws::written(bucket, key);
        Ok(())
    }
}
