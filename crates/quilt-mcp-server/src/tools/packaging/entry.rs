//! Where a package entry's bytes are, for `bucket_object_preview` and package-entry
//! resources: the revision resolved as `package_browse` resolves it (full hash, prefix or
//! latest), the manifest streamed until the entry's line and no further.
//!
//! The manifest is not hashed here (that would mean reading all of it for one entry): the
//! physical key it names is read only after the caller's grants allow that key too.

use quilt_mcp_aws::AccessIntent;
use quilt_mcp_aws::s3uri::S3Uri;
use quilt_package::{LogicalKey, ManifestReader, PhysicalKey};

use super::{Packaging, manifest_error, package_name, registry_bucket, with_body};
use crate::grants::BucketPolicy;
use crate::settings::Sse;
use crate::tool_error::{ErrorCode, ToolError};

/// Finds package entries for the caller in scope.
pub(crate) struct EntryLocator(Packaging);

/// A located entry.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    /// The registry, `s3://bucket`.
    pub(crate) registry: String,
    /// The package.
    pub(crate) name: String,
    /// The revision read.
    pub(crate) top_hash: String,
    /// The entry's bytes.
    pub(crate) object: S3Uri,
}

impl EntryLocator {
    pub(crate) fn new(
        aws: &std::sync::Arc<crate::aws::Aws>,
        config: &crate::settings::Settings,
        policy: BucketPolicy,
        sse: Sse,
    ) -> Self {
        Self(Packaging {
            aws: aws.clone(),
            policy,
            sse,
            rules: super::workflow::RulesCache::default(),
            config: std::sync::Arc::new(config.clone()),
        })
    }

    /// The entry `path` of `name` in `registry`, at `top_hash` (else latest).
    pub(crate) async fn locate(
        &self,
        registry: &str,
        name: &str,
        top_hash: Option<&str>,
        path: &str,
    ) -> Result<Located, ToolError> {
        let p = &self.0;
        let bucket = registry_bucket(registry)?;
        let name = package_name("package_name", name)?;
        let wanted =
            LogicalKey::new(path).map_err(|e| ToolError::invalid_argument(format!("path: {e}")))?;
        p.check_registry_read(&bucket, Some(&name))?;
        let s3 = p.aws.s3(AccessIntent::Read).await?;
        let hash = p.resolve(&s3, &bucket, &name, top_hash, None).await?;
        let body = p.manifest_body(&s3, &bucket, &hash).await?;
        let what = format!("the manifest of revision {hash}");
        let found = with_body(body, move |lines| {
            let reader = ManifestReader::new(lines).map_err(|e| manifest_error(&what, e))?;
            for e in reader.entries() {
                let e = e.map_err(|e| manifest_error(&what, e))?;
                if e.logical_key == wanted {
                    return Ok(Some(e));
                }
            }
            Ok(None)
        })
        .await?;
        let entry = found.ok_or_else(|| {
            ToolError::new(
                ErrorCode::NotFound,
                format!("package {name} (revision {hash}) has no entry {path}"),
            )
            .with_hint("package_browse lists the entries")
        })?;
        let pk = entry.physical_key().map_err(|e| {
            ToolError::invalid_argument(format!("entry {path} has an unreadable physical key: {e}"))
        })?;
        Ok(Located {
            registry: format!("s3://{bucket}"),
            name: name.to_string(),
            top_hash: hash.to_string(),
            object: object_of(&pk),
        })
    }
}

/// The object a physical key names, in the tools' `s3://` form (key verbatim): the one
/// conversion from quilt3's percent-encoded URL, so what `package_browse` shows as `s3_uri`
/// is what the bucket tools read.
pub(crate) fn object_of(pk: &PhysicalKey) -> S3Uri {
    S3Uri {
        bucket: pk.bucket().to_owned(),
        key: pk.key().to_owned(),
        version_id: pk.version_id().map(str::to_owned),
    }
}
