//! The reading tools: `package_list` (pointers grouped by name), `package_browse` (one revision's
//! entries, its top hash checked against its name, optional presigned URLs) and
//! `package_diff` (two manifests streamed side by side).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use quilt_mcp_aws::AccessIntent;
use quilt_package::registry::{self, NAMED_PACKAGES_PREFIX};
use quilt_package::{JsonValue, PackageName, PhysicalKey, RegistryKey};

use super::args::{package_name, registry_bucket};
use super::passes::{diff_streams, scan_manifest};
use super::schema::{
    BrowseInput, BrowseOutput, DiffInput, DiffOutput, EntryOut, HashOut, ListInput, ListOutput,
    PackageSummary,
};
use super::stream::{with_bodies, with_body};
use super::{MAX_BROWSE_ENTRIES, MAX_POINTER_KEYS, Packaging, S3, SIGNED_URL_S, entry};
use crate::tool_error::ToolError;

impl Packaging {
    /// `package_list`.
    pub(super) async fn list(self: Arc<Self>, input: ListInput) -> Result<ListOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        self.check(&bucket, NAMED_PACKAGES_PREFIX)?;
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let prefix = format!("{NAMED_PACKAGES_PREFIX}{}", input.prefix);
        let (keys, truncated) = self
            .list_keys(&s3, &bucket, &prefix, MAX_POINTER_KEYS)
            .await?;
        let mut packages: BTreeMap<String, PackageSummary> = BTreeMap::new();
        for (key, _) in keys {
            let (name, is_latest) = match RegistryKey::parse(&key) {
                Some(RegistryKey::Latest(n)) => (n, true),
                Some(RegistryKey::Revision(n, _)) => (n, false),
                _ => continue,
            };
            let p = packages
                .entry(name.to_string())
                .or_insert_with(|| PackageSummary {
                    catalog_url: crate::tools::catalog::package_link(
                        &self.config,
                        &bucket,
                        name.as_str(),
                        None,
                        None,
                    ),
                    name: name.to_string(),
                    revisions: 0,
                    has_latest: false,
                });
            if is_latest {
                p.has_latest = true;
            } else {
                p.revisions += 1;
            }
        }
        Ok(ListOutput {
            registry: format!("s3://{bucket}"),
            packages: packages.into_values().collect(),
            truncated,
        })
    }

    /// `package_browse`.
    pub(super) async fn browse(
        self: Arc<Self>,
        input: BrowseInput,
    ) -> Result<BrowseOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let limit = input.max_entries.unwrap_or(1000);
        if !(1..=MAX_BROWSE_ENTRIES).contains(&limit) {
            return Err(ToolError::invalid_argument(format!(
                "max_entries must be between 1 and {MAX_BROWSE_ENTRIES}, got {limit}"
            )));
        }
        self.check_registry_read(&bucket, Some(&name))?;
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let hash = self
            .resolve(
                &s3,
                &bucket,
                &name,
                input.top_hash.as_deref(),
                input.timestamp,
            )
            .await?;
        let body = self.manifest_body(&s3, &bucket, &hash).await?;
        let prefix = input.prefix.clone();
        let what = format!("the manifest of revision {hash}");
        let scan = with_body(body, move |lines| {
            scan_manifest(lines, &prefix, limit, &what)
        })
        .await?;
        if scan.top_hash != hash {
            return Err(ToolError::invalid_argument(format!(
                "the manifest s3://{bucket}/{} hashes to {}, not to its name: it was altered or is not a quilt3 manifest",
                registry::manifest_key(&hash),
                scan.top_hash
            )));
        }
        let ctx = Self::ctx()?;
        let mut entries = Vec::with_capacity(scan.entries.len());
        for e in scan.entries {
            let signed_url = if input.include_signed_urls {
                match e.physical_key() {
                    Ok(pk)
                        if self
                            .policy
                            .check_key(ctx.principal(), pk.bucket(), pk.key())
                            .is_ok() =>
                    {
                        Some(self.presign(&s3, &pk).await?)
                    }
                    _ => None,
                }
            } else {
                None
            };
            entries.push(EntryOut {
                s3_uri: e
                    .physical_key()
                    .ok()
                    .map(|pk| entry::object_of(&pk).to_string()),
                logical_key: e.logical_key.as_str().to_owned(),
                physical_key: e.physical_keys.first().cloned().unwrap_or_default(),
                size: e.size,
                hash: HashOut {
                    hash_type: e.hash.hash_type.as_str().to_owned(),
                    value: e.hash.value.clone(),
                },
                meta: JsonValue::from(e.meta.clone()).to_serde(),
                signed_url,
            });
        }
        Ok(BrowseOutput {
            catalog_url: crate::tools::catalog::package_link(
                &self.config,
                &bucket,
                name.as_str(),
                Some(&hash.to_string()),
                None,
            ),
            registry: format!("s3://{bucket}"),
            package_name: name.to_string(),
            top_hash: hash.to_string(),
            message: scan.header.message().map(str::to_owned),
            metadata: scan.header.user_meta().map(JsonValue::to_serde),
            workflow: scan.header.workflow().map(JsonValue::to_serde),
            truncated: scan.matched > entries.len() as u64,
            entries,
            total_entries: scan.total,
            matched_entries: scan.matched,
            matched_bytes: scan.matched_bytes,
        })
    }

    async fn presign(&self, s3: &S3, pk: &PhysicalKey) -> Result<String, ToolError> {
        let remaining = s3.resolved.credentials.expires_at().map(|e| {
            e.duration_since(SystemTime::now())
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        let secs = remaining
            .map_or(SIGNED_URL_S, |r| SIGNED_URL_S.min(r))
            .max(1);
        let cfg = PresigningConfig::expires_in(Duration::from_secs(secs))
            .map_err(|e| ToolError::internal(e.to_string()))?;
        let signed = s3
            .client
            .get_object()
            .bucket(pk.bucket())
            .key(pk.key())
            .set_version_id(pk.version_id().map(str::to_owned))
            .presigned(cfg)
            .await
            .map_err(|e| ToolError::internal(format!("presigning failed: {e}")))?;
        Ok(signed.uri().to_owned())
    }

    /// `package_diff`.
    pub(super) async fn diff(self: Arc<Self>, input: DiffInput) -> Result<DiffOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let (n1, n2) = match (&input.package1_name, &input.package2_name) {
            (Some(a), Some(b)) => (a.clone(), b.clone()),
            (Some(a), None) | (None, Some(a)) => (a.clone(), a.clone()),
            (None, None) => {
                return Err(ToolError::invalid_argument(
                    "give package1_name (and package2_name to compare two packages)",
                ));
            }
        };
        let n1 = package_name("package1_name", &n1)?;
        let n2 = package_name("package2_name", &n2)?;
        self.check_registry_read(&bucket, Some(&n1))?;
        self.check_registry_read(&bucket, Some(&n2))?;
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let h1 = self
            .resolve(&s3, &bucket, &n1, input.package1_hash.as_deref(), None)
            .await?;
        let h2 = self
            .resolve(&s3, &bucket, &n2, input.package2_hash.as_deref(), None)
            .await?;
        let b1 = self.manifest_body(&s3, &bucket, &h1).await?;
        let b2 = self.manifest_body(&s3, &bucket, &h2).await?;
        let (what1, what2) = (
            format!("the manifest of revision {h1}"),
            format!("the manifest of revision {h2}"),
        );
        // Two streams merged in walk order on one blocking thread.
        let mut out =
            with_bodies(b1, b2, move |r1, r2| diff_streams(r1, r2, &what1, &what2)).await?;
        out.package1_hash = h1.to_string();
        out.package2_hash = h2.to_string();
        let link = |name: &PackageName, hash: &str| {
            crate::tools::catalog::package_link(
                &self.config,
                &bucket,
                name.as_str(),
                Some(hash),
                None,
            )
        };
        out.package1_catalog_url = link(&n1, &out.package1_hash);
        out.package2_catalog_url = link(&n2, &out.package2_hash);
        Ok(out)
    }
}
