//! The workflow config (`WorkflowConfig.load` and `get_workflow_validator` in quilt3): parsing,
//! the config schema, the version rule, and choosing the workflow of a push.

use std::sync::LazyLock;

use fancy_regex::Regex;
use quilt_package::PhysicalKey;
use serde_json::Value;

use crate::{Failure, FailureKind};

/// Where a registry keeps its config (`PackageRegistry.workflow_conf_path`).
pub const CONFIG_KEY: &str = ".quilt/workflows/config.yml";

/// The newest config version quilt3 8.x understands (`CONFIG_DATA_VERSION`).
pub const SUPPORTED_VERSION: (u64, u64, u64) = (1, 1, 0);

/// quilt3's `config-1.schema.json`, byte for byte.
const CONFIG_SCHEMA: &str = include_str!("config-1.schema.json");

static CONFIG_VALIDATOR: LazyLock<Result<jsonschema::Validator, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(CONFIG_SCHEMA).map_err(|e| e.to_string())?;
    // quilt3 builds `Draft7Validator(schema)` without a format checker: formats ("uri",
    // "regex") are annotations only.
    jsonschema::draft7::options()
        .should_validate_formats(false)
        .build(&schema)
        .map_err(|e| e.to_string())
});

/// The workflow a caller asks for: the `workflow` argument of a push.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Requested {
    /// Not given (quilt3's `...`): the config's `default_workflow`, if any.
    #[default]
    Default,
    /// Explicitly none (`None` / JSON `null`).
    None,
    /// A workflow by its id.
    Named(String),
}

/// A registry's validated workflow config.
#[derive(Debug, Clone)]
pub struct WorkflowsConfig {
    value: Value,
}

/// One workflow of a config, for listing.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowInfo {
    /// The key under `workflows` (what `workflow` names).
    pub id: String,
    /// Its display name.
    pub name: String,
    pub description: Option<String>,
    pub handle_pattern: Option<String>,
    pub is_message_required: bool,
    pub metadata_schema: Option<String>,
    pub entries_schema: Option<String>,
}

/// The workflow a push uses and what it requires.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The workflow id, or `None` when the config lets a push use no workflow.
    pub id: Option<String>,
    /// `handle_pattern`, compiled (`re.search` on the package name).
    pub handle_pattern: Option<Regex>,
    /// `is_message_required`.
    pub is_message_required: bool,
    /// The schema id of `metadata_schema`.
    pub metadata_schema: Option<String>,
    /// The schema id of `entries_schema`.
    pub entries_schema: Option<String>,
}

/// quilt3's verdict for a registry without a config: the default means "no workflow" (and no
/// record); naming one, or asking explicitly for none, is an error.
pub fn select_without_config(requested: &Requested) -> Result<(), Failure> {
    match requested {
        Requested::Default => Ok(()),
        Requested::None => Err(Failure::new(
            FailureKind::Selection,
            "None workflow is specified, but no workflows config exist (omit workflow instead of passing null)",
        )),
        Requested::Named(w) => Err(Failure::new(
            FailureKind::Selection,
            format!("{w:?} workflow is specified, but no workflows config exist"),
        )),
    }
}

impl WorkflowsConfig {
    /// Parses and validates `config.yml` as quilt3 does: YAML (PyYAML `safe_load`), the
    /// config schema, then the version.
    pub fn parse(bytes: &[u8]) -> Result<Self, Failure> {
        let cfg = |m: String| Failure::new(FailureKind::Config, m);
        let text = std::str::from_utf8(bytes)
            .map_err(|e| cfg(format!("Couldn't parse workflows config as YAML: {e}")))?;
        let value = crate::yaml::safe_load(text)
            .map_err(|e| cfg(format!("Couldn't parse workflows config as YAML: {e}")))?;
        let validator = CONFIG_VALIDATOR
            .as_ref()
            .map_err(|e| cfg(format!("internal: the config schema does not compile: {e}")))?;
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| describe(&e))
            .collect();
        if !errors.is_empty() {
            return Err(cfg(format!(
                "Workflows config failed validation: {}",
                errors.join("; ")
            )));
        }
        let version_text = match &value["version"] {
            Value::String(s) => s.clone(),
            v => v["base"].as_str().unwrap_or_default().to_owned(),
        };
        let version = parse_version(&version_text);
        if version.is_none_or(|v| v > SUPPORTED_VERSION) {
            let shown = version.map_or(version_text.clone(), |(a, b, c)| format!("{a}.{b}.{c}"));
            return Err(cfg(format!(
                "Version '{shown}' is not supported (quilt3 supports workflow configs up to 1.1.0)"
            )));
        }
        Ok(WorkflowsConfig { value })
    }

    /// The config as parsed.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// `is_workflow_required` (default true).
    pub fn is_workflow_required(&self) -> bool {
        self.value["is_workflow_required"].as_bool().unwrap_or(true)
    }

    /// `default_workflow`.
    pub fn default_workflow(&self) -> Option<&str> {
        self.value["default_workflow"].as_str()
    }

    /// The workflows, by id.
    pub fn workflows(&self) -> Vec<WorkflowInfo> {
        let Some(map) = self.value["workflows"].as_object() else {
            return Vec::new();
        };
        let s = |w: &Value, k: &str| w[k].as_str().map(str::to_owned);
        map.iter()
            .map(|(id, w)| WorkflowInfo {
                id: id.clone(),
                name: s(w, "name").unwrap_or_default(),
                description: s(w, "description"),
                handle_pattern: s(w, "handle_pattern"),
                is_message_required: w["is_message_required"].as_bool().unwrap_or(false),
                metadata_schema: s(w, "metadata_schema"),
                entries_schema: s(w, "entries_schema"),
            })
            .collect()
    }

    /// The workflow a push uses (`get_workflow_validator` up to loading schemas).
    pub fn select(&self, requested: &Requested) -> Result<Selection, Failure> {
        let id = match requested {
            Requested::Default => self.default_workflow().map(str::to_owned),
            Requested::None => None,
            Requested::Named(w) => Some(w.clone()),
        };
        let empty = Value::Object(serde_json::Map::new());
        let data = match &id {
            None if self.is_workflow_required() => {
                return Err(Failure::new(
                    FailureKind::Selection,
                    format!(
                        "Workflow required, but none specified. The registry's workflows: {}",
                        self.ids()
                    ),
                ));
            }
            None => &empty,
            Some(w) => self.value["workflows"].get(w).ok_or_else(|| {
                Failure::new(
                    FailureKind::Selection,
                    format!(
                        "There is no {w:?} workflow in config. The registry's workflows: {}",
                        self.ids()
                    ),
                )
            })?,
        };
        // Empty strings count as absent, as Python's truthiness makes them.
        let text = |k: &str| {
            data[k]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let handle_pattern = match text("handle_pattern") {
            None => None,
            Some(p) => Some(Regex::new(&p).map_err(|e| {
                Failure::new(
                    FailureKind::Config,
                    format!("handle_pattern {p:?} of workflow {id:?} is not a valid regular expression: {e}"),
                )
            })?),
        };
        Ok(Selection {
            id,
            handle_pattern,
            is_message_required: data["is_message_required"].as_bool().unwrap_or(false),
            metadata_schema: text("metadata_schema"),
            entries_schema: text("entries_schema"),
        })
    }

    /// Where schema `id` lives (`get_pk_for_schema_id`): an `s3://` URL, optionally with
    /// `versionId`. Local (`file://`) schemas cannot serve a remote registry, and other
    /// schemes do not parse, as in quilt3.
    pub fn schema_location(&self, id: &str) -> Result<PhysicalKey, Failure> {
        let f = |m: String| Failure::new(FailureKind::Schema, m);
        let url = self.value["schemas"]
            .get(id)
            .and_then(|s| s["url"].as_str())
            .ok_or_else(|| f(format!("There is no {id:?} in schemas.")))?;
        if url.starts_with("file:") {
            return Err(f(format!(
                "Local schema {url:?} can't be used on the remote registry."
            )));
        }
        PhysicalKey::parse(url).map_err(|e| f(format!("Couldn't parse URL {url:?}: {e}")))
    }

    fn ids(&self) -> String {
        let ids: Vec<String> = self
            .workflows()
            .into_iter()
            .map(|w| format!("{:?}", w.id))
            .collect();
        ids.join(", ")
    }
}

/// `ConfigDataVersion.parse`: up to three numbers, missing ones 0. `None` when a number does
/// not fit (it is then far above any supported version).
fn parse_version(s: &str) -> Option<(u64, u64, u64)> {
    let mut parts = s.split('.').map(|p| p.parse::<u64>());
    let mut next = || parts.next().unwrap_or(Ok(0)).ok();
    Some((next()?, next()?, next()?))
}

/// One JSON Schema error: where, what, and the keyword.
pub(crate) fn describe(e: &jsonschema::ValidationError<'_>) -> String {
    let path = e.instance_path().to_string();
    let at = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    format!("at {at}: {e} (keyword {:?})", e.kind().keyword())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<WorkflowsConfig, Failure> {
        WorkflowsConfig::parse(text.as_bytes())
    }

    #[test]
    fn versions_up_to_1_1_0_are_supported() {
        for v in ["1", "1.0", "1.1", "1.1.0", "1.0.9"] {
            let c = format!("version: \"{v}\"\nworkflows:\n  a: {{name: A}}\n");
            assert!(cfg(&c).is_ok(), "{v}");
        }
        for v in ["2", "1.2", "1.1.1"] {
            let c = format!("version: \"{v}\"\nworkflows:\n  a: {{name: A}}\n");
            let e = cfg(&c).expect_err(v);
            assert!(e.message.contains("is not supported"), "{e}");
        }
        let c = "version: {base: \"1\", catalog: \"2\"}\nworkflows:\n  a: {name: A}\n";
        assert!(cfg(c).is_ok());
    }

    #[test]
    fn the_config_schema_is_quilt3s() {
        for bad in [
            "version: 1\nworkflows:\n  a: {name: A}\n",
            "version: \"1\"\n",
            "version: \"1\"\nworkflows: {}\n",
            "version: \"1\"\nworkflows:\n  a: {name: A, extra: 1}\n",
            "version: \"1\"\nworkflows:\n  9a: {name: A}\n",
            "version: \"1\"\nis_workflow_required: maybe\nworkflows:\n  a: {name: A}\n",
            "version: \"1\"\nworkflows:\n  a: {name: yes}\n",
            "",
        ] {
            let e = cfg(bad).expect_err(bad);
            assert_eq!(e.kind, FailureKind::Config, "{bad}");
        }
        let ok = cfg("version: \"1\"\nis_workflow_required: no\nworkflows:\n  a: {name: A}\n")
            .expect("yes/no are YAML 1.1 booleans");
        assert!(!ok.is_workflow_required());
    }

    #[test]
    fn selection_follows_quilt3() {
        let c = cfg("version: \"1\"\ndefault_workflow: a\nworkflows:\n  a: {name: A, handle_pattern: '^t/'}\n  b: {name: B, is_message_required: true, metadata_schema: ''}\n")
            .expect("config");
        let s = c.select(&Requested::Default).expect("default");
        assert_eq!(s.id.as_deref(), Some("a"));
        assert!(s.handle_pattern.is_some());
        let s = c.select(&Requested::Named("b".into())).expect("b");
        assert!(s.is_message_required && s.metadata_schema.is_none());
        let e = c.select(&Requested::None).expect_err("required");
        assert!(e.message.contains("\"a\", \"b\""), "{e}");
        let e = c
            .select(&Requested::Named("z".into()))
            .expect_err("unknown");
        assert!(e.message.contains("There is no \"z\""), "{e}");
        assert!(select_without_config(&Requested::Default).is_ok());
        assert!(select_without_config(&Requested::None).is_err());
    }
}
