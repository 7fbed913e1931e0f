//! Tabulator tables of a bucket: `bucketConfig { tabulatorTables }` to list them, and the
//! top-level `bucketSetTabulatorTable` / `bucketRenameTabulatorTable` mutations to write them
//! (quilt3 uses the deprecated `admin { … }` copies of these; the schema offers them at the
//! top level too, and the catalog checks the caller's rights either way). The schema has no
//! delete: a set with a `null` config removes the table.

use serde::{Deserialize, Serialize};

use super::{error_fragments, invalid_input, operation_error};
use crate::Operation;
use crate::error::{CatalogError, InputError};

/// A table: its name and its YAML configuration, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TabulatorTable {
    /// Table name.
    pub name: String,
    /// The YAML configuration.
    pub config: String,
}

/// A bucket's tables.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketConfigTables {
    /// The bucket.
    pub name: String,
    /// Its tables.
    pub tabulator_tables: Vec<TabulatorTable>,
}

/// `query bucketTabulatorTablesList`.
#[derive(Debug, Clone, Copy)]
pub struct TabulatorTablesList;

/// Variables of `bucketTabulatorTablesList`.
#[derive(Debug, Clone, Serialize)]
pub struct TabulatorTablesListVariables {
    /// The bucket.
    pub name: String,
}

/// `data` of `bucketTabulatorTablesList`.
#[derive(Debug, Clone, Deserialize)]
pub struct TabulatorTablesListData {
    /// `None` when the catalog does not know the bucket.
    #[serde(rename = "bucketConfig")]
    pub bucket_config: Option<BucketConfigTables>,
}

impl Operation for TabulatorTablesList {
    const NAME: &'static str = "bucketTabulatorTablesList";
    const DOCUMENT: &'static str = "query bucketTabulatorTablesList($name: String!) {
  bucketConfig(name: $name) {
    name
    tabulatorTables {
      name
      config
    }
  }
}
";
    type Variables = TabulatorTablesListVariables;
    type Data = TabulatorTablesListData;
}

/// `BucketSetTabulatorTableResult`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
pub enum SetTabulatorTableResult {
    /// The bucket's tables after the change.
    BucketConfig(BucketConfigTables),
    /// Refused input (an invalid configuration, a name in use).
    InvalidInput {
        /// Why.
        errors: Vec<InputError>,
    },
    /// The catalog failed.
    OperationError {
        /// What.
        message: String,
        /// Its name.
        name: String,
    },
}

impl SetTabulatorTableResult {
    /// The bucket's tables, or the error arm as an error.
    pub fn into_result(self) -> Result<BucketConfigTables, CatalogError> {
        match self {
            Self::BucketConfig(tables) => Ok(tables),
            Self::InvalidInput { errors } => Err(invalid_input(errors)),
            Self::OperationError { message, name } => Err(operation_error(name, message)),
        }
    }
}

/// `data` of the two table mutations.
#[derive(Debug, Clone, Deserialize)]
pub struct TabulatorWriteData {
    /// The result.
    #[serde(
        alias = "bucketSetTabulatorTable",
        alias = "bucketRenameTabulatorTable"
    )]
    pub result: SetTabulatorTableResult,
}

/// `mutation bucketTabulatorTableSet` (a `null` config deletes the table).
#[derive(Debug, Clone, Copy)]
pub struct TabulatorTableSet;

/// Variables of `bucketTabulatorTableSet`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TabulatorTableSetVariables {
    /// The bucket.
    pub bucket_name: String,
    /// The table.
    pub table_name: String,
    /// The YAML configuration; `None` deletes the table.
    pub config: Option<String>,
}

macro_rules! tables_result {
    () => {
        "    __typename
    ... on BucketConfig {
      name
      tabulatorTables {
        name
        config
      }
    }
    ...InvalidInputSelection
    ...OperationErrorSelection
  }
}
"
    };
}

impl Operation for TabulatorTableSet {
    const NAME: &'static str = "bucketTabulatorTableSet";
    const DOCUMENT: &'static str = concat!(
        "mutation bucketTabulatorTableSet($bucketName: String!, $tableName: String!, $config: String) {
  bucketSetTabulatorTable(bucketName: $bucketName, tableName: $tableName, config: $config) {
",
        tables_result!(),
        error_fragments!()
    );
    type Variables = TabulatorTableSetVariables;
    type Data = TabulatorWriteData;
}

/// `mutation bucketTabulatorTableRename`.
#[derive(Debug, Clone, Copy)]
pub struct TabulatorTableRename;

/// Variables of `bucketTabulatorTableRename`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TabulatorTableRenameVariables {
    /// The bucket.
    pub bucket_name: String,
    /// The table.
    pub table_name: String,
    /// Its new name.
    pub new_table_name: String,
}

impl Operation for TabulatorTableRename {
    const NAME: &'static str = "bucketTabulatorTableRename";
    const DOCUMENT: &'static str = concat!(
        "mutation bucketTabulatorTableRename($bucketName: String!, $tableName: String!, $newTableName: String!) {
  bucketRenameTabulatorTable(bucketName: $bucketName, tableName: $tableName, newTableName: $newTableName) {
",
        tables_result!(),
        error_fragments!()
    );
    type Variables = TabulatorTableRenameVariables;
    type Data = TabulatorWriteData;
}
