//! [`CatalogConfig`]: the parts of the catalog's public `config.json` the server uses.
//!
//! The catalog's web app reads this file at start-up; it names the registry API
//! (`registryUrl`, where `/graphql` lives) and, on stacks with Tabulator, the Athena data
//! catalog that serves Tabulator tables (`tabulatorDataCatalog`). Other keys are ignored.

use serde::Deserialize;

/// See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogConfig {
    /// The registry API's base URL.
    pub registry_url: String,
    /// The stack's AWS region.
    #[serde(default)]
    pub region: Option<String>,
    /// The Athena data catalog of Tabulator tables (absent on stacks without Tabulator).
    #[serde(default)]
    pub tabulator_data_catalog: Option<String>,
}
