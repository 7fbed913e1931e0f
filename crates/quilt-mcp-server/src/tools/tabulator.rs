//! Tabulator: Athena tables the Quilt catalog defines over the packages of a bucket, each by
//! a YAML configuration (schema, source regexes, parser). `tabulator_tables_list`,
//! `tabulator_table_set` (create or replace), `tabulator_table_rename` and
//! `tabulator_table_delete` (the schema has no delete: a set with a `null` config) go to the
//! catalog with the caller's catalog token; `tabulator_query_execute` runs SQL in Athena
//! against the Tabulator data catalog named by the catalog's `config.json`, through
//! `athena_query_execute`'s own code path (the same SQL guard, workgroups, bounded wait,
//! caps and handles).
//!
//! A configuration is checked here before it is sent ([`check_config`]): it must be YAML of
//! the documented shape — typed schema columns, `quilt-packages` source with regexes that
//! compile, a known parser format — so a mistake is an `invalid_argument` naming it and the
//! catalog is not asked at all.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use quilt_catalog::operations::{
    BucketConfigTables, TabulatorTableRename, TabulatorTableRenameVariables, TabulatorTableSet,
    TabulatorTableSetVariables, TabulatorTablesList, TabulatorTablesListVariables,
};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::aws::Aws;
use crate::scopes::Scope;
use crate::tool_error::ToolError;
use crate::tools::ToolRegistry;
use crate::tools::athena::{self, AthenaSettings, QueryOutput};
use crate::tools::catalog::{Catalog, allowed_bucket, caller, tool_error};

const READ: Scope = Scope::Read;
const WRITE: Scope = Scope::Write;
const ATHENA: Scope = Scope::AthenaQuery;
/// Largest configuration accepted.
const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// Column types Tabulator accepts (Quilt's documentation).
const COLUMN_TYPES: &[&str] = &[
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INT",
    "BIGINT",
    "FLOAT",
    "DOUBLE",
    "STRING",
    "BINARY",
    "DATE",
    "TIMESTAMP",
];
/// Parser formats Tabulator accepts.
const FORMATS: &[&str] = &["csv", "parquet"];

#[expect(clippy::unwrap_used, reason = "constant patterns, covered by tests")]
static COLUMN_NAME: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[a-z_][a-z0-9_]*$").unwrap());
#[expect(clippy::unwrap_used, reason = "constant patterns, covered by tests")]
static TABLE_NAME: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[a-z0-9_][a-z0-9_-]{0,127}$").unwrap());

/// What the Tabulator tools share.
struct Tabulator {
    catalog: Arc<Catalog>,
    aws: Arc<Aws>,
    athena: Arc<AthenaSettings>,
}

pub(crate) fn register(
    registry: &mut ToolRegistry,
    catalog: &Arc<Catalog>,
    aws: &Arc<Aws>,
    athena: &Arc<AthenaSettings>,
) {
    let state = Arc::new(Tabulator {
        catalog: catalog.clone(),
        aws: aws.clone(),
        athena: athena.clone(),
    });
    registry.add_with(
        &state,
        "tabulator_tables_list",
        "Tabulator tables of a bucket, each with its YAML config parsed.",
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true),
        Some(READ),
        |state: Arc<Tabulator>, input: BucketInput| async move { list(&state, input).await },
    );
    registry.require_catalog_token("tabulator_tables_list");
    registry.add_with(
        &state,
        "tabulator_table_set",
        "Create or replace a Tabulator table: bucket, table_name, config (YAML: schema, source, parser; checked before sending).",
        ToolAnnotations::new()
            .read_only(false)
            .destructive(true)
            .idempotent(true)
            .open_world(true),
        Some(WRITE),
        |state: Arc<Tabulator>, input: SetInput| async move { set(&state, input).await },
    );
    registry.require_catalog_token("tabulator_table_set");
    registry.add_with(
        &state,
        "tabulator_table_rename",
        "Rename a Tabulator table (bucket, table_name, new_table_name).",
        ToolAnnotations::new()
            .read_only(false)
            .destructive(false)
            .idempotent(false)
            .open_world(true),
        Some(WRITE),
        |state: Arc<Tabulator>, input: RenameInput| async move { rename(&state, input).await },
    );
    registry.require_catalog_token("tabulator_table_rename");
    registry.add_with(
        &state,
        "tabulator_table_delete",
        "Delete a Tabulator table (bucket, table_name).",
        ToolAnnotations::new()
            .read_only(false)
            .destructive(true)
            .idempotent(true)
            .open_world(true),
        Some(WRITE),
        |state: Arc<Tabulator>, input: DeleteInput| async move { delete(&state, input).await },
    );
    registry.require_catalog_token("tabulator_table_delete");
    registry.add_with(
        &state,
        "tabulator_query_execute",
        "Run one read-only SQL statement on a bucket's Tabulator tables (Athena, as athena_query_execute).",
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(false)
            .open_world(true),
        Some(ATHENA),
        |state: Arc<Tabulator>, input: QueryInput| async move { query(&state, input).await },
    );
}

/// A bucket.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BucketInput {
    /// The bucket.
    pub bucket: String,
}

/// Arguments of `tabulator_table_set`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetInput {
    /// The bucket.
    pub bucket: String,
    /// Table name (lowercase letters, digits, _ and -).
    pub table_name: String,
    /// The YAML configuration.
    pub config: String,
}

/// Arguments of `tabulator_table_rename`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameInput {
    /// The bucket.
    pub bucket: String,
    /// The table.
    pub table_name: String,
    /// Its new name.
    pub new_table_name: String,
}

/// Arguments of `tabulator_table_delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteInput {
    /// The bucket.
    pub bucket: String,
    /// The table.
    pub table_name: String,
}

/// Arguments of `tabulator_query_execute`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryInput {
    /// One read-only SQL statement; tables are the bucket's Tabulator tables.
    pub query: String,
    /// The bucket whose tables are queried (the Tabulator database).
    pub bucket: String,
    /// Workgroup (default the server's; must be allowed).
    #[serde(default)]
    pub workgroup: Option<String>,
    /// Seconds to wait (default 20, max 50); after that a handle is returned.
    #[serde(default)]
    pub max_wait_s: Option<u64>,
    /// Most rows to return (default 100, max 1000).
    #[serde(default)]
    pub max_results: Option<usize>,
}

/// A table.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Table {
    /// Name.
    pub name: String,
    /// The YAML configuration as stored.
    pub config: String,
    /// The configuration parsed (null when it is not valid YAML).
    pub parsed: Option<Value>,
}

/// A bucket's tables.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TablesOutput {
    /// The bucket.
    pub bucket: String,
    /// Its tables, by name.
    pub tables: Vec<Table>,
}

fn tables_output(bucket: &str, tables: BucketConfigTables) -> TablesOutput {
    let mut tables: Vec<Table> = tables
        .tabulator_tables
        .into_iter()
        .map(|t| Table {
            parsed: parse_yaml(&t.config).ok(),
            name: t.name,
            config: t.config,
        })
        .collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    TablesOutput {
        bucket: bucket.to_owned(),
        tables,
    }
}

fn check_table_name(what: &str, name: &str) -> Result<(), ToolError> {
    if TABLE_NAME.is_match(name) {
        Ok(())
    } else {
        Err(ToolError::invalid_argument(format!(
            "{what} {name:?} must be 1 to 128 lowercase letters, digits, _ or - (no spaces), starting with a letter, digit or _"
        )))
    }
}

async fn list(state: &Tabulator, input: BucketInput) -> Result<TablesOutput, ToolError> {
    let (ctx, token) = caller()?;
    allowed_bucket(state.catalog.policy(), ctx.principal(), &input.bucket)?;
    let data = state
        .catalog
        .client()
        .execute::<TabulatorTablesList>(
            &token,
            &TabulatorTablesListVariables {
                name: input.bucket.clone(),
            },
        )
        .await
        .map_err(tool_error)?;
    let tables = data.bucket_config.ok_or_else(|| {
        ToolError::new(
            crate::ErrorCode::NotFound,
            format!("the catalog does not know bucket {}", input.bucket),
        )
    })?;
    Ok(tables_output(&input.bucket, tables))
}

async fn write(
    state: &Tabulator,
    bucket: &str,
    table_name: &str,
    config: Option<String>,
) -> Result<TablesOutput, ToolError> {
    let (_, token) = caller()?;
    let data = state
        .catalog
        .client()
        .execute::<TabulatorTableSet>(
            &token,
            &TabulatorTableSetVariables {
                bucket_name: bucket.to_owned(),
                table_name: table_name.to_owned(),
                config,
            },
        )
        .await
        .map_err(tool_error)?;
    let tables = data.result.into_result().map_err(tool_error)?;
    Ok(tables_output(bucket, tables))
}

async fn set(state: &Tabulator, input: SetInput) -> Result<TablesOutput, ToolError> {
    let ctx = crate::call_scope::context()?;
    allowed_bucket(state.catalog.policy(), ctx.principal(), &input.bucket)?;
    check_table_name("table_name", &input.table_name)?;
    check_config(&input.config)?;
    write(state, &input.bucket, &input.table_name, Some(input.config)).await
}

async fn delete(state: &Tabulator, input: DeleteInput) -> Result<TablesOutput, ToolError> {
    let ctx = crate::call_scope::context()?;
    allowed_bucket(state.catalog.policy(), ctx.principal(), &input.bucket)?;
    check_table_name("table_name", &input.table_name)?;
    crate::confirm::confirm(&format!(
        "Delete Tabulator table {} of bucket {}.",
        input.table_name, input.bucket
    ))
    .await?;
    write(state, &input.bucket, &input.table_name, None).await
}

async fn rename(state: &Tabulator, input: RenameInput) -> Result<TablesOutput, ToolError> {
    let (ctx, token) = caller()?;
    allowed_bucket(state.catalog.policy(), ctx.principal(), &input.bucket)?;
    check_table_name("table_name", &input.table_name)?;
    check_table_name("new_table_name", &input.new_table_name)?;
    if input.table_name == input.new_table_name {
        return Err(ToolError::invalid_argument(
            "new_table_name is the table's current name",
        ));
    }
    let data = state
        .catalog
        .client()
        .execute::<TabulatorTableRename>(
            &token,
            &TabulatorTableRenameVariables {
                bucket_name: input.bucket.clone(),
                table_name: input.table_name,
                new_table_name: input.new_table_name,
            },
        )
        .await
        .map_err(tool_error)?;
    let tables = data.result.into_result().map_err(tool_error)?;
    Ok(tables_output(&input.bucket, tables))
}

async fn query(state: &Tabulator, input: QueryInput) -> Result<QueryOutput, ToolError> {
    let ctx = crate::call_scope::context()?;
    allowed_bucket(state.catalog.policy(), ctx.principal(), &input.bucket)?;
    let config = state.catalog.client().config().await.map_err(tool_error)?;
    let data_catalog = config
        .tabulator_data_catalog
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ToolError::new(
                crate::ErrorCode::NotFound,
                "this Quilt stack has no Tabulator (its catalog config names no tabulatorDataCatalog)",
            )
        })?;
    athena::run_query(
        &state.aws,
        &state.athena,
        athena::QueryRequest {
            query: input.query,
            database: Some(input.bucket),
            catalog: Some(data_catalog),
            workgroup: input.workgroup,
            max_wait_s: input.max_wait_s,
            max_results: input.max_results,
        },
    )
    .await
}

// --- the configuration check ----------------------------------------------------------------

/// YAML text → JSON value (one document). Hand-written conversion because yaml-rust2 gives a
/// YAML tree, not serde; the tree is small (≤ 64 KiB of text).
fn parse_yaml(text: &str) -> Result<Value, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    match docs.as_slice() {
        [doc] => to_json(doc),
        [] => Err("it is empty".into()),
        _ => Err("it has more than one YAML document".into()),
    }
}

fn to_json(yaml: &Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(r.clone()), Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => return Err("a mapping key is not a string".into()),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Null => Value::Null,
        Yaml::Alias(_) | Yaml::BadValue => return Err("it uses an alias or a bad value".into()),
    })
}

/// Checks a Tabulator configuration before it is sent. See the module docs.
pub(crate) fn check_config(text: &str) -> Result<(), ToolError> {
    let bad = |m: String| {
        ToolError::invalid_argument(format!("config: {m}")).with_hint(
            "schema: [{name, type}], source: {type: quilt-packages, package_name, logical_key}, parser: {format: csv|parquet, delimiter?, header?}",
        )
    };
    if text.len() > MAX_CONFIG_BYTES {
        return Err(bad(format!("larger than {MAX_CONFIG_BYTES} bytes")));
    }
    let value = parse_yaml(text).map_err(|e| bad(format!("not YAML: {e}")))?;
    let Value::Object(top) = &value else {
        return Err(bad("must be a YAML mapping".into()));
    };
    for key in top.keys() {
        if !["schema", "source", "parser", "continue_on_error"].contains(&key.as_str()) {
            return Err(bad(format!("unknown key {key:?}")));
        }
    }
    // schema
    let Some(Value::Array(columns)) = top.get("schema") else {
        return Err(bad("schema must be a list of columns".into()));
    };
    if columns.is_empty() {
        return Err(bad("schema has no columns".into()));
    }
    let mut names = BTreeSet::new();
    for (i, column) in columns.iter().enumerate() {
        let name = column
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !COLUMN_NAME.is_match(name) {
            return Err(bad(format!(
                "schema[{i}].name {name:?} must match ^[a-z_][a-z0-9_]*$"
            )));
        }
        if !names.insert(name) {
            return Err(bad(format!("schema has column {name:?} twice")));
        }
        let ty = column
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !COLUMN_TYPES.contains(&ty) {
            return Err(bad(format!(
                "schema[{i}].type {ty:?} is not one of {}",
                COLUMN_TYPES.join(", ")
            )));
        }
        if column.get("nullable").is_some_and(|n| !n.is_boolean()) {
            return Err(bad(format!("schema[{i}].nullable must be true or false")));
        }
    }
    // source
    let Some(Value::Object(source)) = top.get("source") else {
        return Err(bad("source must be a mapping".into()));
    };
    if source.get("type").and_then(Value::as_str) != Some("quilt-packages") {
        return Err(bad("source.type must be quilt-packages".into()));
    }
    for key in ["package_name", "logical_key"] {
        let Some(pattern) = source.get(key).and_then(Value::as_str) else {
            return Err(bad(format!("source.{key} must be a regular expression")));
        };
        regex::Regex::new(pattern).map_err(|e| {
            bad(format!(
                "source.{key} is not a valid regular expression: {e}"
            ))
        })?;
    }
    // parser
    let Some(Value::Object(parser)) = top.get("parser") else {
        return Err(bad("parser must be a mapping".into()));
    };
    let format = parser
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !FORMATS.contains(&format) {
        return Err(bad(format!(
            "parser.format {format:?} is not a known parser ({})",
            FORMATS.join(", ")
        )));
    }
    if let Some(delimiter) = parser.get("delimiter")
        && (format != "csv" || delimiter.as_str().is_none_or(|d| d.chars().count() != 1))
    {
        return Err(bad(
            "parser.delimiter must be one character, for format csv".into(),
        ));
    }
    if parser.get("header").is_some_and(|h| !h.is_boolean()) {
        return Err(bad("parser.header must be true or false".into()));
    }
    if top
        .get("continue_on_error")
        .is_some_and(|c| !c.is_boolean())
    {
        return Err(bad("continue_on_error must be true or false".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "schema:\n  - name: sample_id\n    type: STRING\n  - name: tpm\n    type: FLOAT\nsource:\n  type: quilt-packages\n  package_name: \"^ccle/(?<date>[^_]+)_nfcore$\"\n  logical_key: \"salmon/(?<sample>[^/]+)/quant\\\\.sf$\"\nparser:\n  format: csv\n  delimiter: \"\\t\"\n  header: true\ncontinue_on_error: true\n";

    #[test]
    fn the_documented_example_passes() {
        check_config(GOOD).expect("valid");
    }

    #[test]
    fn each_mistake_is_named() {
        for (config, expected) in [
            ("schema: [", "not YAML"),
            ("- a\n- b\n", "YAML mapping"),
            (
                &GOOD.replace("format: csv", "format: xlsx"),
                "not a known parser",
            ),
            (&GOOD.replace("type: FLOAT", "type: Utf8"), "is not one of"),
            (&GOOD.replace("name: tpm", "name: TPM"), "must match"),
            (&GOOD.replace("name: tpm", "name: sample_id"), "twice"),
            (&GOOD.replace("quilt-packages", "s3"), "source.type"),
            (
                &GOOD.replace("(?<date>", "(?<date"),
                "not a valid regular expression",
            ),
            (
                &GOOD.replace("header: true", "header: maybe"),
                "parser.header",
            ),
            (&format!("{GOOD}extra: 1\n"), "unknown key"),
        ] {
            let e = check_config(config).expect_err(expected);
            assert!(e.message.contains(expected), "{expected}: {}", e.message);
        }
    }

    #[test]
    fn table_names_are_checked() {
        for ok in ["ccle_tsv", "t1", "a-b"] {
            check_table_name("table_name", ok).expect(ok);
        }
        for bad in ["", "my table", "Upper", "-x", &"a".repeat(129)] {
            check_table_name("table_name", bad).expect_err(bad);
        }
    }
}
