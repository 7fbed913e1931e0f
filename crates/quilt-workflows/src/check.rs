//! The checks of a push (`WorkflowValidator.validate`) and the manifest record
//! (`data_to_store`). quilt3 checks message, name, metadata, entries in that order and stops at
//! the first failure; here every failure is collected, so one call can report them all.

use std::sync::Arc;

use quilt_package::{JsonObject, JsonValue, PhysicalKey};
use serde_json::Value;

use crate::{Failure, FailureKind, Schema, Selection};

/// One entry as the entries schema sees it (`get_pkg_entries_for_validation`).
#[derive(Debug, Clone)]
pub struct EntryView {
    pub logical_key: String,
    pub size: u64,
    /// The entry's user metadata (`{}` when it has none).
    pub meta: Value,
}

/// A selected workflow with its schemas loaded: everything a push is checked against.
#[derive(Debug, Clone)]
pub struct Checks {
    pub selection: Selection,
    pub metadata: Option<Arc<Schema>>,
    pub entries: Option<Arc<Schema>>,
}

impl Checks {
    /// Whether the entries check needs the entries (so a caller can skip gathering them).
    pub fn needs_entries(&self) -> bool {
        self.entries.is_some()
    }

    /// Message, name and metadata checks. `metadata` is the package's user metadata (`{}`
    /// when it has none), as quilt3's `pkg.meta`.
    pub fn check_package(
        &self,
        name: &str,
        message: Option<&str>,
        metadata: &Value,
    ) -> Vec<Failure> {
        let mut out = Vec::new();
        if self.selection.is_message_required && message.is_none_or(str::is_empty) {
            out.push(Failure::new(
                FailureKind::Message,
                "Commit message is required by workflow, but none was provided.",
            ));
        }
        if let Some(p) = &self.selection.handle_pattern {
            // A pattern that fails to run (backtracking limit) counts as no match.
            if !p.is_match(name).unwrap_or(false) {
                out.push(Failure::new(
                    FailureKind::Name,
                    format!(
                        "Package name {name:?} doesn't match required pattern {:?}.",
                        p.as_str()
                    ),
                ));
            }
        }
        if let Some(s) = &self.metadata {
            for e in s.errors(metadata) {
                out.push(Failure::new(
                    FailureKind::Metadata,
                    format!("Metadata failed validation: {e}"),
                ));
            }
        }
        out
    }

    /// The entries check, on every entry of the new revision in walk order.
    pub fn check_entries(&self, entries: &[EntryView]) -> Vec<Failure> {
        let Some(s) = &self.entries else {
            return Vec::new();
        };
        let list = Value::Array(
            entries
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "logical_key": e.logical_key,
                        "size": e.size,
                        "meta": e.meta,
                    })
                })
                .collect(),
        );
        s.error_paths(&list)
            .into_iter()
            .map(|(path, text)| {
                // `/3/...` is entry 3: name it by its logical key.
                let which = path
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| entries.get(i))
                    .map(|e| format!(" (entry {:?})", e.logical_key))
                    .unwrap_or_default();
                Failure::new(
                    FailureKind::Entries,
                    format!("Package entries failed validation: {text}{which}"),
                )
            })
            .collect()
    }
}

/// The manifest header's `workflow` value, in quilt3's key order: `{"id", "config"}` plus
/// `"schemas": {id: url}` when the workflow loaded any (metadata schema first). `config` and
/// the schema URLs are the objects actually read, with their version ids.
pub fn record(
    config: &PhysicalKey,
    id: Option<&str>,
    schemas: &[(String, PhysicalKey)],
) -> JsonValue {
    let mut o = JsonObject::new();
    o.insert("id", id.map_or(JsonValue::Null, JsonValue::from));
    o.insert("config", config.to_string());
    if !schemas.is_empty() {
        let mut s = JsonObject::new();
        for (k, pk) in schemas {
            s.insert(k.as_str(), pk.to_string());
        }
        o.insert("schemas", s);
    }
    JsonValue::from(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Requested, WorkflowsConfig};
    use serde_json::json;

    #[test]
    fn every_failure_is_collected() {
        let c = WorkflowsConfig::parse(
            b"version: '1'\nworkflows:\n  w: {name: W, handle_pattern: '^team/', is_message_required: true}\n",
        )
        .expect("config");
        let schema = Schema::compile(
            "m",
            "u",
            br#"{"type":"object","required":["a"],"properties":{"b":{"type":"string"}}}"#,
        )
        .expect("schema");
        let entries = Schema::compile(
            "e",
            "u",
            br#"{"type":"array","items":{"properties":{"size":{"maximum":10}}}}"#,
        )
        .expect("schema");
        let checks = Checks {
            selection: c.select(&Requested::Named("w".into())).expect("w"),
            metadata: Some(Arc::new(schema)),
            entries: Some(Arc::new(entries)),
        };
        let f = checks.check_package("other/x", Some(""), &json!({"b": 1}));
        let kinds: Vec<FailureKind> = f.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                FailureKind::Message,
                FailureKind::Name,
                FailureKind::Metadata,
                FailureKind::Metadata
            ],
            "{f:?}"
        );
        let e = checks.check_entries(&[
            EntryView {
                logical_key: "a".into(),
                size: 1,
                meta: json!({}),
            },
            EntryView {
                logical_key: "b".into(),
                size: 11,
                meta: json!({}),
            },
        ]);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].message.contains("(entry \"b\")") && e[0].message.contains("maximum"),
            "{e:?}"
        );
    }

    #[test]
    fn the_record_is_in_quilt3s_bytes() {
        let cfg =
            PhysicalKey::new("reg", ".quilt/workflows/config.yml", Some("v 1".into())).expect("pk");
        let s = PhysicalKey::new("reg", "schemas/m.json", Some("abc".into())).expect("pk");
        assert_eq!(
            record(&cfg, Some("w"), &[("m".into(), s)]).to_quilt_string(),
            r#"{"id": "w", "config": "s3://reg/.quilt/workflows/config.yml?versionId=v+1", "schemas": {"m": "s3://reg/schemas/m.json?versionId=abc"}}"#
        );
        assert_eq!(
            record(&cfg.without_version(), None, &[]).to_quilt_string(),
            r#"{"id": null, "config": "s3://reg/.quilt/workflows/config.yml"}"#
        );
    }
}
