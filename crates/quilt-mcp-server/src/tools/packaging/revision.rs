//! The end of every write: the checks that need no object (preflight of the manifest lines,
//! the registry's workflows, the conflict with `latest`), then the manifest, the revision
//! pointer and `latest`, in quilt3's order, with `latest` checked once more right before.

use std::time::SystemTime;

use aws_sdk_s3::primitives::ByteStream;
use quilt_mcp_aws::AccessIntent;
use quilt_package::registry;
use quilt_package::{Entry, Header, Manifest, ManifestWriter, ObjectHash, PhysicalKey, TopHash};

use super::args::{Source, conflict, key_set_error, write_error};
use super::copy::Headed;
use super::schema::WriteOutput;
use super::{Clients, Packaging, Target, workflow};
use crate::tool_error::ToolError;
use quilt_workflows::Requested;

/// What a create asks of the write besides its contents.
pub(super) struct WriteOptions {
    /// Copy sources into the registry (else reference them in place).
    pub(super) copy: bool,
    /// Move `latest` whatever it is now.
    pub(super) force: bool,
    /// The revision the caller started from (`top_hash`), if any.
    pub(super) started: Option<TopHash>,
    /// The workflow the caller asked for.
    pub(super) workflow: Requested,
}

/// What `latest` must still be when the pointers are written.
pub(super) struct Latest {
    /// The `latest` the write was checked against (`None`: no package yet).
    pub(super) expected: Option<TopHash>,
    /// Overwrite it whatever it has become.
    pub(super) force: bool,
}

impl Packaging {
    /// Writes a revision made of `sources` only (create).
    pub(super) async fn write_revision(
        &self,
        target: Target<'_>,
        mut header: Header,
        sources: Vec<Source>,
        options: WriteOptions,
    ) -> Result<WriteOutput, ToolError> {
        let Target { bucket, name } = target;
        let WriteOptions {
            copy,
            force,
            started,
            workflow,
        } = options;
        preflight(&header, &sources)?;
        self.check_registry_write(bucket, name, copy)?;
        self.check_sources(&sources)?;
        let read = self.aws.s3(AccessIntent::Read).await?;
        // The registry's workflows, checked before anything is written (as quilt3 does, before
        // the conflict check); the entries check runs once every source has been HEADed.
        let gov = self.govern(&read, bucket, &workflow).await?;
        let failures = gov.package_failures(name, header.message(), header.user_meta());
        if !gov.needs_entries() {
            gov.refuse(&failures)?;
        }
        workflow::set_record(&mut header, gov.record());
        let check = |headed: &[Headed]| {
            let mut all = failures.clone();
            all.extend(gov.entry_failures(&workflow::headed_views(headed)));
            gov.refuse(&all)
        };
        let latest = self.latest(&read, bucket, name).await?;
        if !force && latest.is_some() && latest != started {
            return Err(conflict(name, latest.as_ref(), started.as_ref()));
        }
        if let Some(latest) = latest.as_ref().filter(|_| force) {
            crate::confirm::confirm(&format!(
                "Force a new latest revision of {name} in s3://{bucket}, replacing latest {latest} whatever it is."
            ))
            .await?;
        }
        let write = self.aws.s3(AccessIntent::Write).await?;
        let s3 = Clients { read, write };
        let built = self
            .build_entries(&s3, target, sources, copy, &check)
            .await?;
        let mut manifest = Manifest::new(header);
        for e in built.entries.into_values() {
            manifest.insert(e).map_err(|e| key_set_error(&e))?;
        }
        let bytes = manifest.to_bytes().map_err(write_error)?;
        let top_hash = manifest.top_hash();
        let entries = manifest.len() as u64;
        let previous = self
            .commit(
                &s3,
                target,
                &top_hash,
                ByteStream::from(bytes),
                Latest {
                    expected: latest,
                    force,
                },
            )
            .await?;
        Ok(WriteOutput {
            registry: format!("s3://{bucket}"),
            package_name: name.to_string(),
            top_hash: top_hash.to_string(),
            previous_top_hash: previous.1.map(|h| h.to_string()),
            timestamp: previous.0,
            entries,
            added: entries,
            replaced: 0,
            removed: 0,
            bytes: built.bytes,
            copied: built.copied,
            referenced: built.referenced,
            hashes_from_checksums: built.from_checksums,
            catalog_url: crate::tools::catalog::package_link(
                &self.config,
                bucket,
                name.as_str(),
                Some(&top_hash.to_string()),
                None,
            ),
        })
    }

    /// Manifest, revision pointer, latest — in quilt3's order — after checking once more that
    /// latest has not moved. Returns the timestamp and the latest it replaced.
    pub(super) async fn commit(
        &self,
        s3: &Clients,
        target: Target<'_>,
        top_hash: &TopHash,
        manifest: ByteStream,
        latest: Latest,
    ) -> Result<(u64, Option<TopHash>), ToolError> {
        // A package task's run stops here if it was cancelled; past this point it is not
        // (package_tasks.rs). Outside a task this does nothing.
        crate::call_scope::commit_point().await?;
        let Target { bucket, name } = target;
        let now = self.latest(&s3.read, bucket, name).await?;
        if !latest.force && now != latest.expected {
            return Err(conflict(name, now.as_ref(), latest.expected.as_ref()));
        }
        self.put(
            &s3.write,
            bucket,
            &registry::manifest_key(top_hash),
            manifest,
            "application/jsonl",
        )
        .await?;
        let t = registry::unix_seconds(SystemTime::now());
        let body = registry::pointer_body(top_hash);
        self.put(
            &s3.write,
            bucket,
            &registry::revision_pointer_key(name, t),
            ByteStream::from(body.clone().into_bytes()),
            "text/plain",
        )
        .await?;
        self.put(
            &s3.write,
            bucket,
            &registry::latest_pointer_key(name),
            ByteStream::from(body.into_bytes()),
            "text/plain",
        )
        .await?;
        Ok((t, now))
    }
}

/// Writes the header and a stand-in line per source to nowhere, so a line quilt3 would
/// refuse (over 1,000,000 bytes: huge metadata) is refused before anything is copied. The
/// real lines differ only by the hash and version (a few dozen bytes).
pub(super) fn preflight(header: &Header, sources: &[Source]) -> Result<(), ToolError> {
    let mut w = ManifestWriter::new(std::io::sink(), header).map_err(write_error)?;
    let mut sorted: Vec<&Source> = sources.iter().collect();
    sorted.sort_by(|a, b| a.logical_key.cmp(&b.logical_key));
    let stand_in = ObjectHash::sha2_256_chunked(b"");
    for s in sorted {
        let pk = PhysicalKey::new(
            s.uri.bucket.as_str(),
            s.uri.key.as_str(),
            s.uri.version_id.clone(),
        )
        .map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        let e = Entry::new(
            s.logical_key.clone(),
            &pk,
            0,
            stand_in.clone(),
            s.meta.clone(),
        );
        w.write_entry(&e).map_err(write_error)?;
    }
    Ok(())
}
