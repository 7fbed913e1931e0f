//! Bucket workflows, exactly as quilt3 8.x applies them (`quilt3/workflows/__init__.py`): the
//! rules a registry states in `.quilt/workflows/config.yml` for every package pushed to it.
//! Pure: the caller fetches the config and the schemas (with the caller's credentials) and
//! hands the bytes in; nothing here does I/O.
//!
//! - [`WorkflowsConfig::parse`]: YAML read as PyYAML's `safe_load` reads it ([`yaml`]),
//!   checked against quilt3's own config schema (`config-1.schema.json`, copied from quilt3),
//!   versions above 1.1.0 refused.
//! - [`WorkflowsConfig::select`]: the workflow a push uses ([`Requested`]: the config's
//!   default, none, or a name) and what it requires ([`Selection`]); [`select_without_config`]
//!   for a registry that has no config.
//! - [`WorkflowsConfig::schema_location`] and [`Schema::compile`]: the JSON Schemas a
//!   workflow names, `$ref` and meta-schemas other than draft-07 refused as quilt3 refuses
//!   them, validated as `jsonschema.Draft7Validator` does (formats not asserted).
//! - [`Checks`]: message, name, metadata and entries checks, every failure collected (quilt3
//!   stops at the first; the verdict is the same), and the manifest `workflow` record
//!   ([`record`]) in quilt3's bytes.

mod check;
mod config;
mod schema;
pub mod yaml;

pub use check::{Checks, EntryView, record};
pub use config::{
    CONFIG_KEY, Requested, SUPPORTED_VERSION, Selection, WorkflowInfo, WorkflowsConfig,
    select_without_config,
};
pub use schema::Schema;

/// What a failure is about (tools map every kind to `invalid_argument`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The config is not YAML, fails the config schema, or has an unsupported version.
    Config,
    /// No workflow where one is required, or an unknown workflow name.
    Selection,
    /// A schema the workflow names cannot be located, loaded, parsed or used.
    Schema,
    /// A message is required and none was given.
    Message,
    /// The package name does not match the workflow's `handle_pattern`.
    Name,
    /// The package metadata fails the workflow's `metadata_schema`.
    Metadata,
    /// The entries fail the workflow's `entries_schema`.
    Entries,
}

impl FailureKind {
    /// A stable snake_case name for tool output.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Config => "config",
            FailureKind::Selection => "workflow",
            FailureKind::Schema => "schema",
            FailureKind::Message => "message",
            FailureKind::Name => "name",
            FailureKind::Metadata => "metadata",
            FailureKind::Entries => "entries",
        }
    }
}

/// One reason a push is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// What it is about.
    pub kind: FailureKind,
    /// What is wrong, for a person.
    pub message: String,
}

impl Failure {
    pub(crate) fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}
