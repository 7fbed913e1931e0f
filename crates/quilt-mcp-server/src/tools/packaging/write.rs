//! The writing tools' handlers: `package_create`, `package_create_from_s3` (a prefix listed,
//! filtered by globs, or only planned with `dry_run`), `package_update` (the base manifest
//! streamed and merged with the new entries, removals and metadata) and `package_delete`
//! (pointers only). Each checks every argument and grant before the first request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use quilt_mcp_aws::{AccessIntent, s3uri};
use quilt_package::registry::{self, LATEST};
use quilt_package::{Header, JsonObject, JsonValue, LogicalKey, RegistryKey};

use super::args::{
    Source, conflict, full_hash, globs, key_set_error, metadata_object, package_name,
    registry_bucket, sources,
};
use super::copy::Headed;
use super::passes::{Edits, find_keys, merge_manifest};
use super::revision::{Latest, WriteOptions, preflight};
use super::schema::{
    CreateInput, DeleteInput, DeleteOutput, FromS3Input, FromS3Output, PlannedEntry, UpdateInput,
    WriteOutput,
};
use super::stream::{TempFile, with_body};
use super::{
    Clients, MAX_DRY_RUN_SHOWN, MAX_LISTED_KEY_BYTES, MAX_LISTED_OBJECTS, MAX_MANIFEST_BYTES,
    MAX_NEW_ENTRIES, MAX_POINTER_KEYS, Packaging, Target, workflow,
};
use crate::aws;
use crate::s3::s3_error;
use crate::tool_error::{ErrorCode, ToolError};

impl Packaging {
    /// `package_create`.
    pub(super) async fn create(
        self: Arc<Self>,
        input: CreateInput,
    ) -> Result<WriteOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let started = input
            .top_hash
            .as_deref()
            .map(|h| full_hash("top_hash", h))
            .transpose()?;
        let sources = sources(&input.s3_uris, &input.entries, input.flatten)?;
        let meta = metadata_object("metadata", input.metadata.as_ref())?;
        let mut header = Header::new();
        header.set_user_meta(meta.map(JsonValue::from));
        header.set_message(input.message.as_deref());
        let target = Target {
            bucket: &bucket,
            name: &name,
        };
        let options = WriteOptions {
            copy: input.copy,
            force: input.force,
            started,
            workflow: workflow::requested(&input.workflow),
        };
        self.write_revision(target, header, sources, options).await
    }

    /// `package_create_from_s3`.
    pub(super) async fn create_from_s3(
        self: Arc<Self>,
        input: FromS3Input,
    ) -> Result<FromS3Output, ToolError> {
        s3uri::validate_bucket(&input.source_bucket)
            .map_err(|e| ToolError::invalid_argument(format!("source_bucket: {e}")))?;
        let bucket = registry_bucket(&input.target_registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let started = input
            .top_hash
            .as_deref()
            .map(|h| full_hash("top_hash", h))
            .transpose()?;
        let meta = metadata_object("metadata", input.metadata.as_ref())?;
        let include = globs("include_patterns", &input.include_patterns)?;
        let exclude = globs("exclude_patterns", &input.exclude_patterns)?;
        let ctx = Self::ctx()?;
        let prefix =
            self.policy
                .list_prefix(ctx.principal(), &input.source_bucket, &input.source_prefix)?;
        if prefix != input.source_prefix {
            return Err(ToolError::not_permitted(format!(
                "source_prefix {:?} is wider than what you may use in {}: {prefix:?}",
                input.source_prefix, input.source_bucket
            )));
        }
        if !input.dry_run {
            self.check_registry_write(&bucket, &name, input.copy)?;
        }
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let (keys, capped) = self
            .list_keys(&s3, &input.source_bucket, &prefix, MAX_LISTED_OBJECTS)
            .await?;
        if capped {
            return Err(ToolError::new(
                ErrorCode::TooLarge,
                format!(
                    "more than {MAX_LISTED_OBJECTS} objects (or {} MiB of keys) under s3://{}/{prefix}",
                    MAX_LISTED_KEY_BYTES >> 20,
                    input.source_bucket
                ),
            )
            .with_hint("use a narrower source_prefix"));
        }
        let mut planned = Vec::new();
        let mut excluded = 0u64;
        for (key, size) in keys {
            let rel = &key[prefix.len()..];
            // Folder markers and a registry's own records are not package contents.
            if rel.is_empty() || key.ends_with('/') || key.starts_with(".quilt/") {
                excluded += 1;
                continue;
            }
            let included = include.as_ref().is_none_or(|g| g.is_match(rel));
            let left_out = exclude.as_ref().is_some_and(|g| g.is_match(rel));
            if !included || left_out {
                excluded += 1;
                continue;
            }
            planned.push((key.clone(), rel.to_owned(), size));
        }
        if planned.len() > MAX_NEW_ENTRIES {
            return Err(ToolError::new(
                ErrorCode::TooLarge,
                format!(
                    "{} objects match; one package_create_from_s3 takes at most {MAX_NEW_ENTRIES}",
                    planned.len()
                ),
            )
            .with_hint("narrow source_prefix or include_patterns"));
        }
        let matched = planned.len() as u64;
        let matched_bytes = planned.iter().map(|p| p.2).sum();
        if input.dry_run {
            let truncated = planned.len() > MAX_DRY_RUN_SHOWN;
            return Ok(FromS3Output {
                dry_run: true,
                matched,
                matched_bytes,
                excluded,
                planned: planned
                    .into_iter()
                    .take(MAX_DRY_RUN_SHOWN)
                    .map(|(key, rel, size)| PlannedEntry {
                        logical_key: rel,
                        s3_uri: format!("s3://{}/{key}", input.source_bucket),
                        size,
                    })
                    .collect(),
                truncated,
                created: None,
            });
        }
        let mut sources = Vec::with_capacity(planned.len());
        for (key, rel, _) in planned {
            let logical_key = LogicalKey::new(rel.as_str()).map_err(|e| {
                ToolError::invalid_argument(format!("s3://{}/{key}: {e}", input.source_bucket))
                    .with_hint("exclude it with exclude_patterns")
            })?;
            sources.push(Source {
                uri: s3uri::S3Uri {
                    bucket: input.source_bucket.clone(),
                    key,
                    version_id: None,
                },
                logical_key,
                meta: JsonObject::new(),
            });
        }
        let mut sorted: Vec<&LogicalKey> = sources.iter().map(|s| &s.logical_key).collect();
        sorted.sort();
        let mut check = quilt_package::WalkOrderCheck::default();
        for k in sorted {
            check.push(k).map_err(|e| key_set_error(&e))?;
        }
        let mut header = Header::new();
        header.set_user_meta(meta.map(JsonValue::from));
        header.set_message(input.message.as_deref());
        let target = Target {
            bucket: &bucket,
            name: &name,
        };
        let options = WriteOptions {
            copy: input.copy,
            force: input.force,
            started,
            workflow: workflow::requested(&input.workflow),
        };
        let created = self
            .write_revision(target, header, sources, options)
            .await?;
        Ok(FromS3Output {
            dry_run: false,
            matched,
            matched_bytes,
            excluded,
            planned: Vec::new(),
            truncated: false,
            created: Some(created),
        })
    }

    /// `package_update`.
    pub(super) async fn update(
        self: Arc<Self>,
        input: UpdateInput,
    ) -> Result<WriteOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let started = input
            .top_hash
            .as_deref()
            .map(|h| full_hash("top_hash", h))
            .transpose()?;
        let sources = sources(&input.s3_uris, &input.entries, input.flatten)?;
        let merge = metadata_object("metadata", input.metadata.as_ref())?;
        let mut remove = BTreeSet::new();
        for (i, k) in input.remove.iter().enumerate() {
            let key = LogicalKey::new(k.as_str())
                .map_err(|e| ToolError::invalid_argument(format!("remove[{i}]: {e}")))?;
            if sources.iter().any(|s| s.logical_key == key) {
                return Err(ToolError::invalid_argument(format!(
                    "remove[{i}]: {k:?} is also being added"
                )));
            }
            remove.insert(key);
        }
        if sources.is_empty() && remove.is_empty() && merge.is_none() && input.message.is_none() {
            return Err(ToolError::invalid_argument(
                "nothing to change: give s3_uris, entries, remove, metadata or message",
            ));
        }
        let mut stand_in = Header::new();
        stand_in.set_user_meta(merge.clone().map(JsonValue::from));
        stand_in.set_message(input.message.as_deref());
        preflight(&stand_in, &sources)?;
        self.check_registry_read(&bucket, Some(&name))?;
        self.check_registry_write(&bucket, &name, input.copy)?;
        self.check_sources(&sources)?;
        let read = self.aws.s3(AccessIntent::Read).await?;
        let latest = self.latest(&read, &bucket, &name).await?.ok_or_else(|| {
            ToolError::new(
                ErrorCode::NotFound,
                format!("package {name} does not exist in s3://{bucket}"),
            )
            .with_hint("create it with package_create")
        })?;
        let base = started.unwrap_or(latest);
        if !input.force && base != latest {
            return Err(conflict(&name, Some(&latest), Some(&base)));
        }
        if input.force {
            crate::confirm::confirm(&format!(
                "Force a new latest revision of {name} in s3://{bucket} built on {base}, replacing latest {latest} whatever it is."
            ))
            .await?;
        }
        // Read the base revision's header and check the removals before copying anything.
        let body = self.manifest_body(&read, &bucket, &base).await?;
        let what = format!("the manifest of revision {base}");
        let wanted: Vec<LogicalKey> = remove.iter().cloned().collect();
        let what2 = what.clone();
        let found = with_body(body, move |lines| find_keys(lines, &wanted, &what2)).await?;
        if let Some(k) = remove.iter().find(|k| !found.contains(*k)) {
            return Err(ToolError::invalid_argument(format!(
                "remove: {:?} is not in revision {base} of {name}",
                k.as_str()
            )));
        }
        // The registry's workflows, on the revision this update makes (see workflow.rs).
        let gov = self
            .govern(&read, &bucket, &workflow::requested(&input.workflow))
            .await?;
        let (failures, base_entries) = if gov.applies() {
            let body = self.manifest_body(&read, &bucket, &base).await?;
            let (what2, need) = (what.clone(), gov.needs_entries());
            let (base_header, base_entries) =
                with_body(body, move |lines| workflow::scan_base(lines, need, &what2)).await?;
            let meta = workflow::merged_meta(base_header.user_meta(), merge.as_ref());
            let failures = gov.package_failures(&name, input.message.as_deref(), meta.as_ref());
            if !need {
                gov.refuse(&failures)?;
            }
            (failures, base_entries)
        } else {
            (Vec::new(), BTreeMap::new())
        };
        let check = |headed: &[Headed]| {
            if !gov.needs_entries() {
                return Ok(());
            }
            let mut all = failures.clone();
            let views = workflow::update_views(base_entries.clone(), &remove, headed);
            all.extend(gov.entry_failures(&views));
            gov.refuse(&all)
        };
        let record = gov.record();
        let write = self.aws.s3(AccessIntent::Write).await?;
        let s3 = Clients { read, write };
        let target = Target {
            bucket: &bucket,
            name: &name,
        };
        let built = self
            .build_entries(&s3, target, sources, input.copy, &check)
            .await?;
        let (bytes, copied, referenced, from_checksums) = (
            built.bytes,
            built.copied,
            built.referenced,
            built.from_checksums,
        );
        let body = self.manifest_body(&s3.read, &bucket, &base).await?;
        let file = TempFile::new();
        let path = file.0.clone();
        let edits = Edits {
            new: built.entries,
            remove,
            merge,
            message: input.message.clone(),
            workflow: record,
        };
        let merged = with_body(body, move |lines| {
            merge_manifest(lines, &path, edits, &what)
        })
        .await?;
        let size = std::fs::metadata(&file.0).map(|m| m.len()).unwrap_or(0);
        if size > MAX_MANIFEST_BYTES {
            return Err(ToolError::new(
                ErrorCode::TooLarge,
                format!("the new manifest is {size} bytes, over the 5 GiB a single upload takes"),
            ));
        }
        let stream = ByteStream::from_path(&file.0)
            .await
            .map_err(|e| ToolError::internal(format!("reading the new manifest failed: {e}")))?;
        let (t, previous) = self
            .commit(
                &s3,
                target,
                &merged.top_hash,
                stream,
                Latest {
                    expected: Some(latest),
                    force: input.force,
                },
            )
            .await?;
        drop(file);
        Ok(WriteOutput {
            registry: format!("s3://{bucket}"),
            package_name: name.to_string(),
            top_hash: merged.top_hash.to_string(),
            previous_top_hash: previous.map(|h| h.to_string()),
            timestamp: t,
            entries: merged.entries,
            added: merged.added,
            replaced: merged.replaced,
            removed: merged.removed,
            bytes,
            copied,
            referenced,
            hashes_from_checksums: from_checksums,
            catalog_url: crate::tools::catalog::package_link(
                &self.config,
                &bucket,
                name.as_str(),
                Some(&merged.top_hash.to_string()),
                None,
            ),
        })
    }

    /// `package_delete`.
    pub(super) async fn delete(
        self: Arc<Self>,
        input: DeleteInput,
    ) -> Result<DeleteOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let prefix = registry::pointers_prefix(&name);
        self.check(&bucket, &prefix)?;
        let read = self.aws.s3(AccessIntent::Read).await?;
        let (keys, _) = self
            .list_keys(&read, &bucket, &prefix, MAX_POINTER_KEYS)
            .await?;
        // Only this package's own pointers (not those of a name it is a prefix of).
        let mut pointers: Vec<String> = keys
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| match RegistryKey::parse(k) {
                Some(RegistryKey::Latest(n) | RegistryKey::Revision(n, _)) => n == name,
                _ => false,
            })
            .collect();
        if pointers.is_empty() {
            return Err(ToolError::new(
                ErrorCode::NotFound,
                format!("package {name} does not exist in s3://{bucket}"),
            ));
        }
        // latest first: a failure part-way leaves no latest rather than a half-deleted one.
        pointers.sort_by_key(|k| !k.ends_with(&format!("/{LATEST}")));
        crate::confirm::confirm(&format!(
            "Delete package {name} from s3://{bucket} ({} revision pointers; manifests and data stay).",
            pointers.len()
        ))
        .await?;
        let write = self.aws.s3(AccessIntent::Write).await?;
        for key in &pointers {
            aws::touched(&bucket, Some(key));
            write
                .client
                .delete_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| s3_error("DeleteObject", &e, &write))?;
        }
        Ok(DeleteOutput {
            registry: format!("s3://{bucket}"),
            package_name: name.to_string(),
            deleted_pointers: pointers,
        })
    }
}
