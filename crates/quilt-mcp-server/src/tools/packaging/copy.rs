//! The entries of a new revision: every source HEADed first (a missing one fails before
//! anything is copied), then copied into the registry (server-side; multipart in quilt3's
//! chunk size above one chunk) or referenced in place, with bounded parallelism, hashing the
//! bytes the entry will point to while streaming them (S3's `ChecksumSHA256` only where it is
//! exactly the Quilt hash). Progress notifications report objects and bytes done.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedPart};
use futures::{StreamExt as _, TryStreamExt as _};
use quilt_mcp_aws::s3uri;
use quilt_package::registry;
use quilt_package::{
    BASE_CHUNK_SIZE, ChunkedSha256Hasher, Entry, LogicalKey, ObjectHash, PhysicalKey, chunk_size,
};

use super::args::Source;
use super::{Clients, PARALLELISM, PART_PARALLELISM, Packaging, S3, Target};
use crate::aws;
use crate::progress;
use crate::s3::{complete_or_abort, real_version, s3_error};
use crate::tool_error::{ErrorCode, ToolError};

/// Progress of a long write.
struct Tracker {
    objects: u64,
    bytes: u64,
    done_objects: AtomicU64,
    done_bytes: AtomicU64,
    sent: AtomicU64,
    /// Held while a report is sent, so reports leave in the order their values were read.
    last: tokio::sync::Mutex<Instant>,
}

impl Tracker {
    fn new(objects: u64, bytes: u64) -> Self {
        Tracker {
            objects,
            bytes,
            done_objects: AtomicU64::new(0),
            done_bytes: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            last: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    async fn bytes(&self, n: u64) {
        self.done_bytes.fetch_add(n, Ordering::Relaxed);
        self.report(false).await;
    }

    async fn object(&self) {
        self.done_objects.fetch_add(1, Ordering::Relaxed);
        self.report(false).await;
    }

    /// Progress is objects + bytes done (both only grow), out of objects + bytes in all;
    /// reports are at most every 200 ms, except the last.
    async fn report(&self, force: bool) {
        if !progress::wanted() {
            return;
        }
        let mut at = self.last.lock().await;
        let done_o = self.done_objects.load(Ordering::Relaxed);
        let done_b = self.done_bytes.load(Ordering::Relaxed);
        let value = done_o + done_b;
        let last = done_o == self.objects && done_b == self.bytes;
        if !(force || last) && at.elapsed() < Duration::from_millis(200) {
            return;
        }
        // Progress must grow from one report to the next.
        if value <= self.sent.load(Ordering::Relaxed) && !(force && value == 0) {
            return;
        }
        self.sent.store(value, Ordering::Relaxed);
        *at = Instant::now();
        progress::report(
            value as f64,
            Some((self.objects + self.bytes) as f64),
            format!(
                "{done_o}/{} objects, {done_b}/{} bytes",
                self.objects, self.bytes
            ),
        )
        .await;
    }
}

/// A source after its HEAD.
pub(super) struct Headed {
    pub(super) source: Source,
    pub(super) size: u64,
    pub(super) etag: Option<String>,
    pub(super) version_id: Option<String>,
    pub(super) checksum_sha256: Option<String>,
}

/// A new entry and how it was made.
struct Built {
    entry: Entry,
    copied: bool,
    from_checksum: bool,
}

/// The new entries and what building them did.
#[derive(Default)]
pub(super) struct BuiltSet {
    pub(super) entries: BTreeMap<LogicalKey, Entry>,
    pub(super) bytes: u64,
    pub(super) copied: u64,
    pub(super) referenced: u64,
    pub(super) from_checksums: u64,
}

impl Packaging {
    /// HEADs every source (a missing one fails before anything is copied), runs `check` on
    /// them (the workflow's entries check), then copies or references each, `PARALLELISM` at
    /// a time, hashing the bytes the entry points to.
    pub(super) async fn build_entries(
        &self,
        s3: &Clients,
        target: Target<'_>,
        sources: Vec<Source>,
        copy: bool,
        check: &(dyn Fn(&[Headed]) -> Result<(), ToolError> + Sync),
    ) -> Result<BuiltSet, ToolError> {
        let headed: Vec<Headed> = futures::stream::iter(sources)
            .map(|s| self.head(&s3.read, s))
            .buffer_unordered(PARALLELISM)
            .try_collect()
            .await?;
        check(&headed)?;
        let tracker = Tracker::new(headed.len() as u64, headed.iter().map(|h| h.size).sum());
        tracker.report(true).await;
        let tracker = &tracker;
        let built: Vec<Built> = futures::stream::iter(headed)
            .map(|h| async move {
                let in_registry = h.source.uri.bucket == target.bucket;
                let b = if copy && !in_registry {
                    self.copy_in(s3, target, h, tracker).await?
                } else {
                    self.reference(&s3.read, h, tracker).await?
                };
                tracker.object().await;
                Ok::<_, ToolError>(b)
            })
            .buffer_unordered(PARALLELISM)
            .try_collect()
            .await?;
        let mut set = BuiltSet::default();
        for b in built {
            set.bytes += b.entry.size;
            if b.copied {
                set.copied += 1;
            } else {
                set.referenced += 1;
            }
            if b.from_checksum {
                set.from_checksums += 1;
            }
            set.entries.insert(b.entry.logical_key.clone(), b.entry);
        }
        Ok(set)
    }

    pub(super) async fn head(&self, s3: &S3, source: Source) -> Result<Headed, ToolError> {
        let u = &source.uri;
        aws::touched(&u.bucket, Some(&u.key));
        let out = s3
            .client
            .head_object()
            .bucket(&u.bucket)
            .key(&u.key)
            .set_version_id(u.version_id.clone())
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| missing(s3_error("HeadObject", &e, s3), u))?;
        Ok(Headed {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            etag: out.e_tag().map(str::to_owned),
            version_id: u
                .version_id
                .clone()
                .or_else(|| real_version(out.version_id())),
            checksum_sha256: out.checksum_sha256().map(str::to_owned),
            source,
        })
    }

    /// An entry for the object where it is (pinned to its version when it has one).
    async fn reference(&self, s3: &S3, h: Headed, tracker: &Tracker) -> Result<Built, ToolError> {
        let u = &h.source.uri;
        let pk = PhysicalKey::new(u.bucket.as_str(), u.key.as_str(), h.version_id.clone())
            .map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        // A multipart object's checksum is a composite even where HEAD drops its `-N`
        // (moto does); its ETag always has the `-N`: trust only single-part objects.
        let single_part = h.etag.as_deref().is_some_and(|e| !e.contains('-'));
        let exact = h
            .checksum_sha256
            .as_deref()
            .filter(|_| single_part)
            .and_then(|c| ObjectHash::from_s3_full_object_sha256(c, h.size));
        let (hash, from_checksum) = match exact {
            Some(hash) => {
                tracker.bytes(h.size).await;
                (hash, true)
            }
            None => {
                // Unversioned: the ETag makes sure the bytes hashed are the ones HEAD saw.
                let if_match = h.version_id.is_none().then(|| h.etag.clone()).flatten();
                let hash = self
                    .hash_object(
                        s3,
                        u,
                        h.version_id.as_deref(),
                        if_match.as_deref(),
                        h.size,
                        tracker,
                    )
                    .await?;
                (hash, false)
            }
        };
        Ok(Built {
            entry: Entry::new(h.source.logical_key, &pk, h.size, hash, h.source.meta),
            copied: false,
            from_checksum,
        })
    }

    /// Copies the object to `<name>/<logical key>` in the registry and hashes the copy.
    async fn copy_in(
        &self,
        s3: &Clients,
        target: Target<'_>,
        h: Headed,
        tracker: &Tracker,
    ) -> Result<Built, ToolError> {
        let (read, write) = (&s3.read, &s3.write);
        let Target { bucket, name } = target;
        let u = &h.source.uri;
        let dest = registry::object_key(name, &h.source.logical_key);
        let copy_source = PhysicalKey::new(u.bucket.as_str(), u.key.as_str(), h.version_id.clone())
            .map_err(|e| ToolError::invalid_argument(e.to_string()))?
            .to_string();
        let copy_source = copy_source.trim_start_matches("s3://").to_owned();
        aws::touched(bucket, Some(&dest));
        let (etag, version, checksum) = if h.size > BASE_CHUNK_SIZE {
            let (e, v) = self
                .multipart_copy(write, &h, bucket, &dest, &copy_source)
                .await?;
            (e, v, None)
        } else {
            let out = write
                .client
                .copy_object()
                .bucket(bucket)
                .key(&dest)
                .copy_source(&copy_source)
                .set_copy_source_if_match(h.etag.clone())
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .set_server_side_encryption(self.sse.mode.clone())
                .set_ssekms_key_id(self.sse.kms_key_id.clone())
                .send()
                .await
                .map_err(|e| missing(s3_error("CopyObject", &e, write), u))?;
            let result = out.copy_object_result();
            (
                result.and_then(|r| r.e_tag()).map(str::to_owned),
                real_version(out.version_id()),
                result.and_then(|r| r.checksum_sha256()).map(str::to_owned),
            )
        };
        aws::written(bucket, &dest);
        let dest_uri = s3uri::S3Uri {
            bucket: bucket.to_owned(),
            key: dest.clone(),
            version_id: version.clone(),
        };
        let exact = checksum
            .as_deref()
            .and_then(|c| ObjectHash::from_s3_full_object_sha256(c, h.size));
        let (hash, from_checksum) = match exact {
            Some(hash) => {
                tracker.bytes(h.size).await;
                (hash, true)
            }
            None => {
                let if_match = version.is_none().then_some(etag).flatten();
                let hash = self
                    .hash_object(
                        read,
                        &dest_uri,
                        version.as_deref(),
                        if_match.as_deref(),
                        h.size,
                        tracker,
                    )
                    .await?;
                (hash, false)
            }
        };
        let pk = PhysicalKey::new(bucket, dest, version)
            .map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        Ok(Built {
            entry: Entry::new(h.source.logical_key, &pk, h.size, hash, h.source.meta),
            copied: true,
            from_checksum,
        })
    }

    /// UploadPartCopy in quilt3's chunk size (so a real S3's composite checksum lines up
    /// with the Quilt hash), every part pinned to the ETag HEAD saw.
    async fn multipart_copy(
        &self,
        s3: &S3,
        h: &Headed,
        bucket: &str,
        dest: &str,
        copy_source: &str,
    ) -> Result<(Option<String>, Option<String>), ToolError> {
        let created = s3
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(dest)
            .set_server_side_encryption(self.sse.mode.clone())
            .set_ssekms_key_id(self.sse.kms_key_id.clone())
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", &e, s3))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let part = chunk_size(h.size);
        let ranges: Vec<(i32, u64, u64)> = (0..h.size.div_ceil(part))
            .map(|i| {
                let start = i * part;
                (i as i32 + 1, start, (start + part).min(h.size) - 1)
            })
            .collect();
        let parts: Result<Vec<CompletedPart>, ToolError> = futures::stream::iter(ranges)
            .map(|(number, start, end)| {
                let upload_id = &upload_id;
                async move {
                    let out = s3
                        .client
                        .upload_part_copy()
                        .bucket(bucket)
                        .key(dest)
                        .upload_id(upload_id)
                        .part_number(number)
                        .copy_source(copy_source)
                        .copy_source_range(format!("bytes={start}-{end}"))
                        .set_copy_source_if_match(h.etag.clone())
                        .send()
                        .await
                        .map_err(|e| missing(s3_error("UploadPartCopy", &e, s3), &h.source.uri))?;
                    Ok::<_, ToolError>(
                        CompletedPart::builder()
                            .part_number(number)
                            .set_e_tag(
                                out.copy_part_result()
                                    .and_then(|r| r.e_tag())
                                    .map(str::to_owned),
                            )
                            .build(),
                    )
                }
            })
            .buffered(PART_PARALLELISM)
            .try_collect()
            .await;
        complete_or_abort(s3, bucket, dest, &upload_id, parts).await
    }

    /// `sha2-256-chunked` of an object's bytes, streamed.
    async fn hash_object(
        &self,
        s3: &S3,
        u: &s3uri::S3Uri,
        version_id: Option<&str>,
        if_match: Option<&str>,
        size: u64,
        tracker: &Tracker,
    ) -> Result<ObjectHash, ToolError> {
        let out = s3
            .client
            .get_object()
            .bucket(&u.bucket)
            .key(&u.key)
            .set_version_id(version_id.map(str::to_owned))
            .set_if_match(if_match.map(str::to_owned))
            .send()
            .await
            .map_err(|e| missing(s3_error("GetObject", &e, s3), u))?;
        let mut hasher = ChunkedSha256Hasher::new(size);
        let mut body = out.body;
        while let Some(chunk) = body.try_next().await.map_err(|e| {
            ToolError::new(
                ErrorCode::UpstreamUnavailable,
                format!("reading s3://{}/{} failed: {e}", u.bucket, u.key),
            )
        })? {
            hasher.update(&chunk);
            tracker.bytes(chunk.len() as u64).await;
        }
        hasher.finish().map_err(|e| {
            ToolError::new(
                ErrorCode::Conflict,
                format!("s3://{}/{} changed while it was read: {e}", u.bucket, u.key),
            )
        })
    }
}

/// A missing source object, named.
pub(super) fn missing(mut e: ToolError, u: &s3uri::S3Uri) -> ToolError {
    if e.code == ErrorCode::NotFound {
        e.message = format!(
            "source object does not exist (deleted or moved?): {}: {}",
            u.missing(),
            e.message
        );
        if u.looks_percent_encoded() {
            e.hint = Some(s3uri::PERCENT_HINT.to_owned());
        }
    } else if e.message.contains("PreconditionFailed") {
        e.code = ErrorCode::Conflict;
        e.message = format!(
            "source object {u} changed while it was packaged: {}",
            e.message
        );
    }
    e
}
