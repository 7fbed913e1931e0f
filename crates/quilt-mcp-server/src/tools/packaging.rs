//! The packaging tools: Quilt packages written and read natively in the registry bucket (the
//! v1 layout of `quilt_package::registry`), with the caller's own credentials, in exactly the
//! bytes quilt3 writes and reads.
//!
//! - Reads (`package_list`, `package_browse`, `package_diff`) list pointers and stream
//!   manifests through [`ManifestReader`] on a blocking thread fed by the S3 body, so a
//!   manifest of any size is read in constant memory; browsing checks the manifest's top
//!   hash against its name.
//! - Writes (`package_create`, `package_update`, `package_create_from_s3`) first check every
//!   argument and the grants of every bucket involved (nothing touched on bad input), HEAD
//!   every source (a missing one is `not_found` before anything is copied), then copy
//!   (server-side; multipart copy in quilt3's chunk size above one chunk) or reference each
//!   object with bounded parallelism, hashing the bytes the manifest will point to while
//!   streaming them (S3's `ChecksumSHA256` is used only where it is exactly the Quilt hash).
//!   Then the manifest, the revision pointer and `latest`, in quilt3's order, all with the
//!   configured SSE. `latest` moving since the caller's `top_hash` is a `conflict` unless
//!   `force`, checked before copying and again right before the pointers are written.
//! - `package_delete` deletes pointers only (manifests and objects stay), as quilt3 does.
//!
//! The files, along the seams of a request:
//! - this file: the shared state ([`Packaging`]), the registration (names, descriptions,
//!   annotations, scopes), the limits, and the grant checks every tool makes first;
//! - `schema.rs`: the tools' arguments and outputs (their JSON Schemas are the tools');
//! - `args.rs`: argument checks and the error texts for bad input, conflicts and manifests;
//! - `store.rs`: registry I/O (pointers, revisions, listings, manifest bodies, puts);
//! - `read.rs`: `package_list`, `package_browse`, `package_diff`;
//! - `write.rs`: `package_create`, `package_create_from_s3`, `package_update`, `package_delete`;
//! - `revision.rs`: the write path's end — preflight, workflow checks, conflicts, then
//!   manifest → revision pointer → `latest`;
//! - `copy.rs`: the entries of a new revision (HEAD, copy or reference, streamed hashing,
//!   progress);
//! - `passes.rs`: the blocking passes over a streamed manifest (browse scan, key lookup,
//!   update merge, diff);
//! - `stream.rs`: S3 bodies as blocking readers, the update's temporary manifest file;
//! - `workflow.rs`: the registry's workflows; `entry.rs`: entry lookup for previews.

use std::sync::Arc;

use quilt_mcp_auth::RequestContext;
use quilt_mcp_aws::Caller;
use quilt_package::PackageName;
use quilt_package::registry::{self, MANIFESTS_PREFIX, NAMED_PACKAGES_PREFIX};
use rmcp::model::ToolAnnotations;

use crate::aws::Aws;
use crate::grants::BucketPolicy;
use crate::scopes::Scope;
use crate::settings::{Settings, Sse};
use crate::tool_error::ToolError;
use crate::tools::ToolRegistry;

mod args;
pub(crate) use args::registry_bucket;
mod copy;
pub(crate) mod entry;
mod passes;
mod read;
mod revision;
mod schema;
mod store;
mod stream;
mod workflow;
mod write;

use args::Source;

const READ: Scope = Scope::Read;
const WRITE: Scope = Scope::Write;
/// Most entries a create (or an update's additions) takes in one call.
const MAX_NEW_ENTRIES: usize = 10_000;
/// Objects copied or hashed at once.
const PARALLELISM: usize = 16;
/// Parts of one multipart copy in flight at once.
const PART_PARALLELISM: usize = 4;
/// Most entries `package_browse` returns.
const MAX_BROWSE_ENTRIES: usize = 10_000;
/// Most keys listed per category by `package_diff`.
const MAX_DIFF_KEYS: usize = 1_000;
/// Most objects `package_create_from_s3` lists from a prefix.
const MAX_LISTED_OBJECTS: usize = 100_000;
/// Most objects shown by a dry run.
const MAX_DRY_RUN_SHOWN: usize = 1_000;
/// Most pointer keys `package_list` reads.
const MAX_POINTER_KEYS: usize = 100_000;
// --- Memory bounds by bytes, not only by count (issue 14) ---
/// Most bytes of entries (keys, hash and metadata as written) one `package_browse` page holds:
/// manifest lines may be 1 MB each, so 10,000 entries could otherwise be 10 GB. At least one
/// entry is always returned.
const MAX_BROWSE_BYTES: usize = 4 * 1024 * 1024;
/// Largest pointer object read (a pointer is a 64-character top hash and a newline).
const MAX_POINTER_BYTES: usize = 1024;
/// Most bytes of keys one listing accumulates (100,000 keys of up to 1 KiB would be 100 MB).
const MAX_LISTED_KEY_BYTES: usize = 16 * 1024 * 1024;
/// Presigned URLs from `package_browse` last this long (or less, with the credentials).
const SIGNED_URL_S: u64 = 3600;
/// A single PutObject takes at most 5 GiB.
const MAX_MANIFEST_BYTES: u64 = 5 * 1024 * 1024 * 1024;

type S3 = Caller<aws_sdk_s3::Client>;

/// The caller's two S3 clients of a write: reads (HEAD, GET for hashing, pointers) with read
/// intent, copies and puts with write intent (a stack's read and write roles differ).
struct Clients {
    read: S3,
    write: S3,
}

/// The package a write is for, in its registry bucket.
#[derive(Clone, Copy)]
struct Target<'a> {
    bucket: &'a str,
    name: &'a PackageName,
}

/// What the packaging tools share.
struct Packaging {
    aws: Arc<Aws>,
    policy: BucketPolicy,
    sse: Sse,
    /// Workflow configs and schemas recently read (`workflow.rs`).
    rules: workflow::RulesCache,
    /// For catalog URLs in answers (with QUILT_CATALOG_URL).
    config: Arc<Settings>,
}

pub(crate) fn register(registry: &mut ToolRegistry, aws: &Arc<Aws>, config: &Settings) {
    let p = Arc::new(Packaging {
        aws: aws.clone(),
        policy: BucketPolicy::new(config.grants.clone()),
        sse: config.s3.sse.clone(),
        rules: workflow::RulesCache::default(),
        config: Arc::new(config.clone()),
    });
    let read = || {
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true)
    };
    // A new revision never removes one, but copies overwrite `<package>/<logical key>` (on an
    // unversioned registry, bytes an older revision points to) and `force` moves `latest`.
    let write = || {
        ToolAnnotations::new()
            .read_only(false)
            .destructive(true)
            .idempotent(false)
            .open_world(true)
    };
    registry.add_with(
        &p,
        "package_list",
        "List the Quilt packages of a registry (s3://bucket): names, revision counts, whether latest exists. prefix filters names (e.g. \"alice/\").",
        read(),
        Some(READ),
        Packaging::list,
    );
    registry.add_with(
        &p,
        "package_browse",
        "Entries and metadata of a package revision: latest, a timestamp pointer, or top_hash (full or a 6-63 char prefix). prefix filters logical keys; max_entries (default 1000, max 10000) with truncated; include_signed_urls adds presigned GET URLs.",
        read(),
        Some(READ),
        Packaging::browse,
    );
    registry.add_with(
        &p,
        "package_diff",
        "Compare two package revisions (package1_name/package1_hash vs package2_name/package2_hash; names default to each other, hashes to latest): added, removed, modified logical keys, and whether package metadata changed.",
        read(),
        Some(READ),
        Packaging::diff,
    );
    registry.add_with(
        &p,
        "package_create",
        "Create a package revision from S3 objects (s3_uris, or entries with logical_key and metadata; flatten uses file names). copy (default true) copies into the registry at <package_name>/<logical key>; false references objects in place. Over an existing package pass top_hash (the revision you started from) or force. The registry's workflows apply (see package_validate).",
        write(),
        Some(WRITE),
        Packaging::create,
    );
    registry.add_with(
        &p,
        "package_update",
        "New revision of an existing package: add or replace entries (s3_uris/entries), remove logical keys, merge metadata into the package metadata. top_hash is the revision you started from (default latest); conflict if latest moved, unless force. The registry's workflows apply (see package_validate).",
        write(),
        Some(WRITE),
        Packaging::update,
    );
    registry.add_with(
        &p,
        "package_delete",
        "Delete a package's pointers (latest and every revision) from the registry, as quilt3 does; manifests and data objects stay.",
        ToolAnnotations::new()
            .read_only(false)
            .destructive(true)
            .idempotent(true)
            .open_world(true),
        Some(WRITE),
        Packaging::delete,
    );
    registry.add_with(
        &p,
        "package_create_from_s3",
        "Package the objects under s3://source_bucket/source_prefix (logical keys relative to the prefix), filtered by include_patterns/exclude_patterns globs, into target_registry as package_name. dry_run lists what would be packaged. The registry's workflows apply (see package_validate).",
        write(),
        Some(WRITE),
        Packaging::create_from_s3,
    );
    registry.add_with(
        &p,
        "package_validate",
        "Check a planned package_create (or package_update with update=true) against the registry's workflows (.quilt/workflows/config.yml, as quilt3 enforces them) without writing: every failure at once, and the workflow record the manifest would get. Omit workflow to see the registry's workflows and default; writes take the same workflow argument (an id, or null for none).",
        read(),
        Some(READ),
        Packaging::validate,
    );
}

impl Packaging {
    fn ctx() -> Result<Arc<RequestContext>, ToolError> {
        Ok(crate::call_scope::context()?)
    }

    fn check(&self, bucket: &str, key: &str) -> Result<(), ToolError> {
        let ctx = Self::ctx()?;
        self.policy.check_key(ctx.principal(), bucket, key)
    }

    /// Grants for reading a package's pointers and manifests.
    fn check_registry_read(
        &self,
        bucket: &str,
        name: Option<&PackageName>,
    ) -> Result<(), ToolError> {
        self.check(bucket, MANIFESTS_PREFIX)?;
        match name {
            Some(n) => self.check(bucket, &registry::pointers_prefix(n)),
            None => self.check(bucket, NAMED_PACKAGES_PREFIX),
        }
    }

    /// Grants for writing a revision (and, with `copy`, the package's objects).
    fn check_registry_write(
        &self,
        bucket: &str,
        name: &PackageName,
        copy: bool,
    ) -> Result<(), ToolError> {
        self.check(bucket, MANIFESTS_PREFIX)?;
        self.check(bucket, &registry::pointers_prefix(name))?;
        if copy {
            self.check(bucket, &format!("{name}/"))?;
        }
        Ok(())
    }

    /// Grants for reading every source object.
    fn check_sources(&self, sources: &[Source]) -> Result<(), ToolError> {
        for s in sources {
            self.check(&s.uri.bucket, &s.uri.key)?;
        }
        Ok(())
    }
}
