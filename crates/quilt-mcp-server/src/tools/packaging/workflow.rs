//! Package writes governed by the registry's workflows (`.quilt/workflows/config.yml`), as
//! quilt3 governs its pushes; the rules themselves are in the pure `quilt-workflows` crate,
//! this file does their I/O and wires them into the write tools.
//!
//! - [`Packaging::govern`] reads the config (every call, with the caller's credentials: a
//!   changed config is seen at once; its parsed form is cached per (bucket, version id)),
//!   selects the workflow, and loads the schemas it names from their `s3://` URLs with the
//!   caller's credentials (cached per (caller, URL) for [`CACHE_TTL`], so a schema replaced
//!   in place at an unversioned URL is seen within that time). Every object read is within
//!   the caller's bucket grants.
//! - [`Governed`] holds the verdict pieces: config/selection/schema failures, the message,
//!   name and metadata checks, the entries check (run after every source's HEAD and before
//!   anything is copied), and the `workflow` record the manifest header gets.
//! - `package_validate` ([`Packaging::validate`]) runs every check of a planned create or
//!   update, writes nothing, lists all failures and (when no workflow is named) the
//!   registry's workflows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quilt_workflows::{
    CONFIG_KEY, Checks, EntryView, Failure, FailureKind, Requested, Schema, WorkflowsConfig,
    select_without_config,
};

use futures::StreamExt as _;
use quilt_mcp_aws::AccessIntent;
use quilt_package::{
    Header, JsonObject, JsonValue, LogicalKey, ManifestReader, PackageName, PhysicalKey,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::args::{
    full_hash, manifest_error, metadata_object, package_name, registry_bucket, sources,
};
use super::copy::Headed;
use super::schema::EntryInput;
use super::stream::with_body;
use super::{PARALLELISM, Packaging, S3};
use crate::aws;
use crate::s3::s3_error;
use crate::tool_error::{ErrorCode, ToolError};

/// How long a loaded schema (and a parsed config) is reused.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(60);
/// Entries kept per cache (a bound on memory, not a working-set estimate).
const CACHE_ENTRIES: usize = 256;
/// The largest config or schema read (quilt3 has no limit; a server needs one).
const MAX_RULES_BYTES: u64 = 4 * 1024 * 1024;

/// `workflow` as the write tools take it: absent (`None`: the registry's default), `null`
/// (`Some(None)`: no workflow) or a workflow id. serde maps both absent and `null` to `None`
/// for a plain `Option`, so `null` is caught here.
pub(crate) fn absent_or_null<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(d).map(Some)
}

/// The [`Requested`] workflow of a `workflow` argument.
pub(crate) fn requested(arg: &Option<Option<String>>) -> Requested {
    match arg {
        None => Requested::Default,
        Some(None) => Requested::None,
        Some(Some(w)) => Requested::Named(w.clone()),
    }
}

/// The caches of configs and schemas, shared by every call.
#[derive(Default)]
pub(crate) struct RulesCache {
    configs: Mutex<HashMap<String, (Instant, Arc<WorkflowsConfig>)>>,
    schemas: Mutex<HashMap<String, CachedSchema>>,
}

/// A compiled schema, when it was read, and the object read (with its version id).
type CachedSchema = (Instant, Arc<Schema>, PhysicalKey);

fn cache_get<T: Clone>(map: &Mutex<HashMap<String, (Instant, T)>>, key: &str) -> Option<T> {
    let map = map.lock().ok()?;
    map.get(key)
        .filter(|(at, _)| at.elapsed() < CACHE_TTL)
        .map(|(_, v)| v.clone())
}

fn cache_put<T>(map: &Mutex<HashMap<String, (Instant, T)>>, key: String, value: T) {
    if let Ok(mut map) = map.lock() {
        if map.len() >= CACHE_ENTRIES {
            map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
            if map.len() >= CACHE_ENTRIES {
                map.clear();
            }
        }
        map.insert(key, (Instant::now(), value));
    }
}

/// What the registry's workflows say about one write.
pub(crate) struct Governed {
    /// The config read, with its version id; `None` when the registry has none.
    config_pk: Option<PhysicalKey>,
    config: Option<Arc<WorkflowsConfig>>,
    checks: Option<Checks>,
    /// Schema id → the object read, for the record (metadata schema first).
    schemas: Vec<(String, PhysicalKey)>,
    /// Config, selection and schema failures.
    failures: Vec<Failure>,
}

impl Governed {
    fn ungoverned() -> Self {
        Governed {
            config_pk: None,
            config: None,
            checks: None,
            schemas: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// The header's `workflow` value: `None` (no field) when the registry has no config.
    pub(crate) fn record(&self) -> Option<JsonValue> {
        let pk = self.config_pk.as_ref()?;
        let id = self.checks.as_ref().and_then(|c| c.selection.id.as_deref());
        Some(quilt_workflows::record(pk, id, &self.schemas))
    }

    /// Whether the entries check needs the new revision's entries.
    pub(crate) fn needs_entries(&self) -> bool {
        self.checks.as_ref().is_some_and(Checks::needs_entries)
    }

    /// Whether the registry has a config or the call named a workflow (anything to check).
    pub(crate) fn applies(&self) -> bool {
        self.config_pk.is_some() || !self.failures.is_empty()
    }

    /// Config/selection/schema failures plus the message, name and metadata checks.
    pub(crate) fn package_failures(
        &self,
        name: &PackageName,
        message: Option<&str>,
        user_meta: Option<&JsonValue>,
    ) -> Vec<Failure> {
        let mut out = self.failures.clone();
        if let Some(c) = &self.checks {
            let meta =
                user_meta.map_or_else(|| Value::Object(Default::default()), |m| m.to_serde());
            out.extend(c.check_package(name.as_str(), message, &meta));
        }
        out
    }

    /// The entries check.
    pub(crate) fn entry_failures(&self, entries: &[EntryView]) -> Vec<Failure> {
        self.checks
            .as_ref()
            .map(|c| c.check_entries(entries))
            .unwrap_or_default()
    }

    /// Refuses the write when there are failures.
    pub(crate) fn refuse(&self, failures: &[Failure]) -> Result<(), ToolError> {
        if failures.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = failures
            .iter()
            .map(|f| format!("[{}] {}", f.kind.as_str(), f.message))
            .collect();
        let by = self
            .config_pk
            .as_ref()
            .map_or("quilt3's workflow rules".to_owned(), |pk| {
                format!("the registry's workflows ({pk})")
            });
        Err(ToolError::invalid_argument(format!(
            "refused by {by}: {}",
            listed.join("; ")
        ))
        .with_hint("package_validate lists every failure and the registry's workflows; pass workflow to choose one"))
    }
}

/// An entry as the entries schema sees it.
pub(crate) fn view(logical_key: &LogicalKey, size: u64, meta: &JsonObject) -> EntryView {
    EntryView {
        logical_key: logical_key.as_str().to_owned(),
        size,
        meta: meta
            .get("user_meta")
            .map_or_else(|| Value::Object(Default::default()), JsonValue::to_serde),
    }
}

/// The views of HEADed sources, in walk order.
pub(crate) fn headed_views(headed: &[Headed]) -> Vec<EntryView> {
    let mut v: Vec<(&LogicalKey, &Headed)> =
        headed.iter().map(|h| (&h.source.logical_key, h)).collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v.into_iter()
        .map(|(k, h)| view(k, h.size, &h.source.meta))
        .collect()
}

/// Puts `record` into a new header where quilt3 has it (after `user_meta`, before `message`),
/// or removes the field (`None`), as quilt3's `_workflow` setter does.
pub(crate) fn set_record(header: &mut Header, record: Option<JsonValue>) {
    let message = header.fields_mut().remove("message");
    header.set_workflow(record);
    if let Some(m) = message {
        header.fields_mut().insert("message", m);
    }
}

/// The base revision's header and (when `entries`) its entries, for the checks of an update.
pub(crate) fn scan_base(
    lines: impl BufRead,
    entries: bool,
    what: &str,
) -> Result<(Header, BTreeMap<LogicalKey, EntryView>), ToolError> {
    let reader = ManifestReader::new(lines).map_err(|e| manifest_error(what, e))?;
    let header = reader.header().clone();
    let mut out = BTreeMap::new();
    if entries {
        for e in reader.entries() {
            let e = e.map_err(|e| manifest_error(what, e))?;
            out.insert(e.logical_key.clone(), view(&e.logical_key, e.size, &e.meta));
        }
    }
    Ok((header, out))
}

/// `user_meta` after an update merges `merge` into it (as `merge_manifest` does).
pub(crate) fn merged_meta(
    base: Option<&JsonValue>,
    merge: Option<&JsonObject>,
) -> Option<JsonValue> {
    let Some(m) = merge else {
        return base.cloned();
    };
    let mut meta = match base {
        Some(JsonValue::Object(o)) => o.clone(),
        _ => JsonObject::new(),
    };
    for (k, v) in m.iter() {
        meta.insert(k, v.clone());
    }
    Some(JsonValue::from(meta))
}

/// The entries of an update's new revision: the base's, minus removed and replaced ones, plus
/// the new ones, in walk order.
pub(crate) fn update_views(
    mut base: BTreeMap<LogicalKey, EntryView>,
    remove: &BTreeSet<LogicalKey>,
    headed: &[Headed],
) -> Vec<EntryView> {
    for k in remove {
        base.remove(k);
    }
    for h in headed {
        base.insert(
            h.source.logical_key.clone(),
            view(&h.source.logical_key, h.size, &h.source.meta),
        );
    }
    base.into_values().collect()
}

impl Packaging {
    /// Reads the registry's config and the schemas of the workflow `requested` selects.
    pub(crate) async fn govern(
        &self,
        s3: &S3,
        bucket: &str,
        requested: &Requested,
    ) -> Result<Governed, ToolError> {
        self.check(bucket, CONFIG_KEY)?;
        let Some((bytes, version, etag)) = self.get_rules(s3, bucket, CONFIG_KEY, None).await?
        else {
            let mut g = Governed::ungoverned();
            if let Err(f) = select_without_config(requested) {
                g.failures.push(f);
            }
            return Ok(g);
        };
        let config_pk = PhysicalKey::new(bucket, CONFIG_KEY, version.clone())
            .map_err(|e| ToolError::internal(e.to_string()))?;
        let mut g = Governed::ungoverned();
        g.config_pk = Some(config_pk);
        let cache_key = version.or(etag).map(|v| format!("{bucket}\u{0}{v}"));
        let config = match cache_key
            .as_deref()
            .and_then(|k| cache_get(&self.rules.configs, k))
        {
            Some(c) => c,
            None => match WorkflowsConfig::parse(&bytes) {
                Ok(c) => {
                    let c = Arc::new(c);
                    if let Some(k) = cache_key {
                        cache_put(&self.rules.configs, k, c.clone());
                    }
                    c
                }
                Err(f) => {
                    g.failures.push(f);
                    return Ok(g);
                }
            },
        };
        g.config = Some(config.clone());
        let selection = match config.select(requested) {
            Ok(s) => s,
            Err(f) => {
                g.failures.push(f);
                return Ok(g);
            }
        };
        // quilt3 loads each URL once per push, whatever ids name it.
        let mut loaded: Vec<(String, Arc<Schema>, PhysicalKey)> = Vec::new();
        let ids = [&selection.metadata_schema, &selection.entries_schema];
        let mut compiled: [Option<Arc<Schema>>; 2] = [None, None];
        for (slot, id) in ids.into_iter().enumerate() {
            let Some(id) = id else { continue };
            let location = match config.schema_location(id) {
                Ok(pk) => pk,
                Err(f) => {
                    g.failures.push(f);
                    continue;
                }
            };
            let url = location.to_string();
            let found = loaded.iter().find(|(u, _, _)| *u == url).cloned();
            let (schema, effective) = match found {
                Some((_, s, pk)) => (s, pk),
                None => match self.load_schema(s3, id, &location).await? {
                    Ok((s, pk)) => {
                        loaded.push((url, s.clone(), pk.clone()));
                        (s, pk)
                    }
                    Err(f) => {
                        g.failures.push(f);
                        continue;
                    }
                },
            };
            if !g.schemas.iter().any(|(k, _)| k == id) {
                g.schemas.push((id.clone(), effective));
            }
            compiled[slot] = Some(schema);
        }
        let [metadata, entries] = compiled;
        g.checks = Some(Checks {
            selection,
            metadata,
            entries,
        });
        Ok(g)
    }

    /// One schema, from the cache or S3; a failure for what quilt3 refuses.
    async fn load_schema(
        &self,
        s3: &S3,
        id: &str,
        location: &PhysicalKey,
    ) -> Result<Result<(Arc<Schema>, PhysicalKey), Failure>, ToolError> {
        self.check(location.bucket(), location.key())?;
        let ctx = Self::ctx()?;
        let key = format!("{}\u{0}{location}", ctx.principal().subject);
        if let Some((at, s, pk)) = self
            .rules
            .schemas
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Ok((s, pk)));
        }
        let got = self
            .get_rules(s3, location.bucket(), location.key(), location.version_id())
            .await;
        let (bytes, version) = match got {
            Ok(Some((b, v, _))) => (b, v),
            Ok(None) => {
                return Ok(Err(Failure {
                    kind: FailureKind::Schema,
                    message: format!("Couldn't load schema at {location}: it does not exist."),
                }));
            }
            Err(e) if e.code == ErrorCode::NotPermitted => return Err(e),
            Err(e) => {
                return Ok(Err(Failure {
                    kind: FailureKind::Schema,
                    message: format!("Couldn't load schema at {location}: {}", e.message),
                }));
            }
        };
        let effective = PhysicalKey::new(location.bucket(), location.key(), version)
            .map_err(|e| ToolError::internal(e.to_string()))?;
        match Schema::compile(id, &location.to_string(), &bytes) {
            Ok(s) => {
                let s = Arc::new(s);
                if let Ok(mut m) = self.rules.schemas.lock() {
                    if m.len() >= CACHE_ENTRIES {
                        m.retain(|_, (at, _, _)| at.elapsed() < CACHE_TTL);
                        if m.len() >= CACHE_ENTRIES {
                            m.clear();
                        }
                    }
                    m.insert(key, (Instant::now(), s.clone(), effective.clone()));
                }
                Ok(Ok((s, effective)))
            }
            Err(f) => Ok(Err(f)),
        }
    }

    /// A config or schema object: bytes, version id as S3 reports it (quilt3 records it
    /// verbatim), ETag; `None` when it does not exist.
    async fn get_rules(
        &self,
        s3: &S3,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<(Vec<u8>, Option<String>, Option<String>)>, ToolError> {
        aws::touched(bucket, Some(key));
        let out = s3
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let err = s3_error("GetObject", &e, s3);
                return if err.code == ErrorCode::NotFound && !err.message.contains("NoSuchBucket") {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        let size = out.content_length().unwrap_or(0).max(0) as u64;
        if size > MAX_RULES_BYTES {
            return Err(ToolError::new(
                ErrorCode::TooLarge,
                format!(
                    "s3://{bucket}/{key} is {size} bytes; workflow configs and schemas are read up to {MAX_RULES_BYTES}"
                ),
            ));
        }
        let version = out.version_id().map(str::to_owned);
        let etag = out.e_tag().map(str::to_owned);
        let body = out.body.collect().await.map_err(|e| {
            ToolError::new(
                ErrorCode::UpstreamUnavailable,
                format!("reading s3://{bucket}/{key} failed: {e}"),
            )
        })?;
        Ok(Some((body.into_bytes().to_vec(), version, etag)))
    }

    // --- package_validate -------------------------------------------------------------

    pub(crate) async fn validate(
        self: Arc<Self>,
        input: ValidateInput,
    ) -> Result<ValidateOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let sources = sources(&input.s3_uris, &input.entries, input.flatten)?;
        let meta = metadata_object("metadata", input.metadata.as_ref())?;
        let mut remove = BTreeSet::new();
        for (i, k) in input.remove.iter().enumerate() {
            let key = LogicalKey::new(k.as_str())
                .map_err(|e| ToolError::invalid_argument(format!("remove[{i}]: {e}")))?;
            remove.insert(key);
        }
        if !input.update && (!remove.is_empty() || input.top_hash.is_some()) {
            return Err(ToolError::invalid_argument(
                "remove and top_hash describe an update: pass update=true",
            ));
        }
        self.check(&bucket, CONFIG_KEY)?;
        self.check_sources(&sources)?;
        let read = self.aws.s3(AccessIntent::Read).await?;
        let requested = requested(&input.workflow);
        let gov = self.govern(&read, &bucket, &requested).await?;
        let mut failures = Vec::new();
        // The new revision's header metadata and, for an update, the base's entries.
        let (user_meta, base_entries) = if input.update {
            self.check_registry_read(&bucket, Some(&name))?;
            let base = match input.top_hash.as_deref() {
                Some(h) => full_hash("top_hash", h)?,
                None => self.latest(&read, &bucket, &name).await?.ok_or_else(|| {
                    ToolError::new(
                        ErrorCode::NotFound,
                        format!("package {name} does not exist in s3://{bucket}"),
                    )
                })?,
            };
            let body = self.manifest_body(&read, &bucket, &base).await?;
            let what = format!("the manifest of revision {base}");
            let (header, entries) =
                with_body(body, move |lines| scan_base(lines, true, &what)).await?;
            for k in &remove {
                if !entries.contains_key(k) {
                    failures.push(FailureOut {
                        kind: "remove".into(),
                        message: format!("{:?} is not in revision {base} of {name}", k.as_str()),
                    });
                }
            }
            (
                merged_meta(header.user_meta(), meta.as_ref()),
                Some(entries),
            )
        } else {
            (meta.map(JsonValue::from), None)
        };
        let mut headed = Vec::new();
        let results: Vec<Result<Headed, ToolError>> = futures::stream::iter(sources)
            .map(|s| self.head(&read, s))
            .buffer_unordered(PARALLELISM)
            .collect()
            .await;
        for r in results {
            match r {
                Ok(h) => headed.push(h),
                Err(e) => failures.push(FailureOut {
                    kind: "source".into(),
                    message: e.message,
                }),
            }
        }
        let mut rules = gov.package_failures(&name, input.message.as_deref(), user_meta.as_ref());
        if gov.needs_entries() {
            let views = match base_entries {
                Some(base) => update_views(base, &remove, &headed),
                None => headed_views(&headed),
            };
            rules.extend(gov.entry_failures(&views));
        }
        failures.extend(rules.into_iter().map(|f| FailureOut {
            kind: f.kind.as_str().into(),
            message: f.message,
        }));
        let config = gov.config.as_deref();
        let list = matches!(requested, Requested::Default) && config.is_some();
        Ok(ValidateOutput {
            valid: failures.is_empty(),
            failures,
            workflow: gov.record().map(|r| r.to_serde()),
            config: gov.config_pk.as_ref().map(ToString::to_string),
            is_workflow_required: config.map(WorkflowsConfig::is_workflow_required),
            default_workflow: config.and_then(|c| c.default_workflow().map(str::to_owned)),
            workflows: list.then(|| {
                config
                    .map(|c| {
                        c.workflows()
                            .into_iter()
                            .map(|w| WorkflowOut {
                                id: w.id,
                                name: w.name,
                                description: w.description,
                                handle_pattern: w.handle_pattern,
                                is_message_required: w.is_message_required,
                                metadata_schema: w.metadata_schema,
                                entries_schema: w.entries_schema,
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }),
        })
    }
}

/// Arguments of `package_validate`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidateInput {
    /// The registry, s3://bucket.
    pub registry: String,
    /// user/package.
    pub package_name: String,
    /// Objects the write would add (logical key from the key, or file name with flatten).
    #[serde(default)]
    pub s3_uris: Vec<String>,
    /// Objects with explicit logical keys and metadata.
    #[serde(default)]
    pub entries: Vec<EntryInput>,
    #[serde(default)]
    pub flatten: bool,
    /// Package metadata (an object; merged into the existing metadata with update).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Commit message.
    #[serde(default)]
    pub message: Option<String>,
    /// Workflow id; null for none; omit for the registry's default (the answer then lists the registry's workflows).
    #[serde(default, deserialize_with = "absent_or_null")]
    pub workflow: Option<Option<String>>,
    /// Check a package_update of the existing package (latest, or top_hash) instead of a create.
    #[serde(default)]
    pub update: bool,
    /// With update: logical keys the update removes.
    #[serde(default)]
    pub remove: Vec<String>,
    /// With update: the revision it starts from (default latest).
    #[serde(default)]
    pub top_hash: Option<String>,
}

/// One reason the write would be refused.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct FailureOut {
    /// config, workflow, schema, message, name, metadata, entries, source or remove.
    pub kind: String,
    pub message: String,
}

/// A workflow of the registry.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct WorkflowOut {
    /// What `workflow` names.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub handle_pattern: Option<String>,
    pub is_message_required: bool,
    pub metadata_schema: Option<String>,
    pub entries_schema: Option<String>,
}

/// The verdict of `package_validate`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ValidateOutput {
    /// Whether the write would pass every check.
    pub valid: bool,
    /// Every failure (empty when valid).
    pub failures: Vec<FailureOut>,
    /// The `workflow` record the manifest would get (null: none).
    pub workflow: Option<Value>,
    /// The config read (s3 URL with versionId); null when the registry has none.
    pub config: Option<String>,
    pub is_workflow_required: Option<bool>,
    pub default_workflow: Option<String>,
    /// The registry's workflows, when no workflow was named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflows: Option<Vec<WorkflowOut>>,
}
