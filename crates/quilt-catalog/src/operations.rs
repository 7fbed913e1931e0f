//! The catalog operations this server sends, one type per query or mutation (see
//! [`crate::Operation`]). Documents are written in the catalog's own style (quilt3's
//! `_graphql_client` selects `__typename` on unions and uses the `InvalidInputSelection` /
//! `OperationErrorSelection` fragments); `tests/schema.rs` validates each one in [`ALL`]
//! against the catalog's schema with graphql-core, the engine the test stand-in serves.
//!
//! Union answers are enums tagged by `__typename`; `into_result` turns the catalog's error
//! arms into [`crate::CatalogError`]s, so tools only see data or an error.

pub mod admin;
mod buckets;
mod search;
mod tabulator;

pub use buckets::{BucketSummary, BucketsList, BucketsListData, NoVariables};
pub use search::{
    MatchingEntry, ObjectHit, ObjectsFirstPage, ObjectsPage, ObjectsSearchResult, PackageHit,
    PackageMatchLocations, PackagesFirstPageResult, PackagesPage, PackagesSearchResult,
    SearchMoreObjects, SearchMoreObjectsData, SearchMorePackages, SearchMorePackagesData,
    SearchMoreVariables, SearchObjects, SearchObjectsData, SearchObjectsVariables, SearchPackages,
    SearchPackagesData, SearchPackagesVariables, SearchPage,
};
pub use tabulator::{
    BucketConfigTables, SetTabulatorTableResult, TabulatorTable, TabulatorTableRename,
    TabulatorTableRenameVariables, TabulatorTableSet, TabulatorTableSetVariables,
    TabulatorTablesList, TabulatorTablesListData, TabulatorTablesListVariables, TabulatorWriteData,
};

use crate::Operation;
use crate::error::{CatalogError, InputError};

/// Every operation's (name, document) but the administration's ([`admin::ADMIN`]), for the
/// schema test.
pub const ALL: &[(&str, &str)] = &[
    (SearchPackages::NAME, SearchPackages::DOCUMENT),
    (SearchMorePackages::NAME, SearchMorePackages::DOCUMENT),
    (SearchObjects::NAME, SearchObjects::DOCUMENT),
    (SearchMoreObjects::NAME, SearchMoreObjects::DOCUMENT),
    (BucketsList::NAME, BucketsList::DOCUMENT),
    (TabulatorTablesList::NAME, TabulatorTablesList::DOCUMENT),
    (TabulatorTableSet::NAME, TabulatorTableSet::DOCUMENT),
    (TabulatorTableRename::NAME, TabulatorTableRename::DOCUMENT),
];

/// The fragments quilt3's client uses for the two error arms; appended to documents that
/// spread them.
macro_rules! error_fragments {
    () => {
        "
fragment InvalidInputSelection on InvalidInput {
  errors {
    path
    message
    name
  }
}

fragment OperationErrorSelection on OperationError {
  message
  name
}
"
    };
}
pub(crate) use error_fragments;

fn invalid_input(errors: Vec<InputError>) -> CatalogError {
    CatalogError::InvalidInput(errors)
}

fn operation_error(name: String, message: String) -> CatalogError {
    CatalogError::Operation { name, message }
}
