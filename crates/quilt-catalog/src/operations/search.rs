//! Search: `searchPackages` / `searchObjects` (the first page) and `searchMorePackages` /
//! `searchMoreObjects` (the next page from a cursor). The catalog's search is Elasticsearch
//! behind these fields; the syntax of `searchString` is its query-string syntax.

use serde::{Deserialize, Serialize};

use super::{error_fragments, invalid_input, operation_error};
use crate::Operation;
use crate::error::{CatalogError, InputError};

/// Variables of `searchPackages`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPackagesVariables {
    /// Buckets to search (`None`: every bucket the catalog lets the caller search).
    pub buckets: Option<Vec<String>>,
    /// The query.
    pub search_string: String,
    /// Only each package's latest revision.
    pub latest_only: bool,
    /// Page size.
    pub size: i64,
}

/// Variables of `searchObjects`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchObjectsVariables {
    /// Buckets to search.
    pub buckets: Option<Vec<String>>,
    /// The query.
    pub search_string: String,
    /// Page size.
    pub size: i64,
}

/// Variables of the `searchMore*` queries.
#[derive(Debug, Clone, Serialize)]
pub struct SearchMoreVariables {
    /// The cursor of the previous page.
    pub after: String,
    /// Page size.
    pub size: i64,
}

/// Where a package hit matched.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PackageMatchLocations {
    /// The name.
    pub name: bool,
    /// The revision's message.
    pub comment: bool,
    /// The package metadata.
    pub meta: bool,
    /// The workflow.
    pub workflow: bool,
}

/// An entry of a package hit that matched.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchingEntry {
    /// Logical key.
    pub logical_key: String,
    /// Physical key.
    pub physical_key: String,
    /// Size in bytes.
    pub size: f64,
}

/// A package revision that matched.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageHit {
    /// The registry bucket.
    pub bucket: String,
    /// Package name.
    pub name: String,
    /// Top hash.
    pub hash: String,
    /// Total size in bytes.
    pub size: f64,
    /// When the revision was made.
    pub modified: String,
    /// Number of entries.
    pub total_entries_count: i64,
    /// The revision's message.
    pub comment: Option<String>,
    /// Where it matched.
    pub match_locations: PackageMatchLocations,
    /// Entries that matched.
    pub matching_entries: Vec<MatchingEntry>,
}

/// An object that matched.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ObjectHit {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Version id.
    pub version: String,
    /// Size in bytes.
    pub size: f64,
    /// Last modified.
    pub modified: String,
    /// Whether this is a delete marker.
    pub deleted: bool,
}

/// A page of hits and the cursor of the next page (`None`: the last page).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SearchPage<H> {
    /// Pass to `searchMore*`.
    pub cursor: Option<String>,
    /// The hits.
    pub hits: Vec<H>,
}

/// A page of package hits.
pub type PackagesPage = SearchPage<PackageHit>;
/// A page of object hits.
pub type ObjectsPage = SearchPage<ObjectHit>;

/// `PackagesFirstPageResult` / `PackagesSearchMoreResult` (one shape in the schema).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
pub enum PackagesFirstPageResult {
    /// A page.
    PackagesSearchResultSetPage(PackagesPage),
    /// Refused input.
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

impl PackagesFirstPageResult {
    /// The page, or the error arm as an error.
    pub fn into_result(self) -> Result<PackagesPage, CatalogError> {
        match self {
            Self::PackagesSearchResultSetPage(page) => Ok(page),
            Self::InvalidInput { errors } => Err(invalid_input(errors)),
            Self::OperationError { message, name } => Err(operation_error(name, message)),
        }
    }
}

/// `PackagesSearchResult`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
pub enum PackagesSearchResult {
    /// Hits.
    PackagesSearchResultSet {
        /// How many hits in all.
        total: i64,
        /// The first page.
        #[serde(rename = "firstPage")]
        first_page: PackagesFirstPageResult,
    },
    /// Nothing to search (no buckets).
    EmptySearchResultSet,
    /// Refused input (a query syntax error, for instance).
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

impl PackagesSearchResult {
    /// (total, first page), or the error arm as an error.
    pub fn into_result(self) -> Result<(i64, PackagesPage), CatalogError> {
        match self {
            Self::PackagesSearchResultSet { total, first_page } => {
                Ok((total, first_page.into_result()?))
            }
            Self::EmptySearchResultSet => Ok((
                0,
                SearchPage {
                    cursor: None,
                    hits: Vec::new(),
                },
            )),
            Self::InvalidInput { errors } => Err(invalid_input(errors)),
            Self::OperationError { message, name } => Err(operation_error(name, message)),
        }
    }
}

/// `ObjectsSearchMoreResult` (and the page of `ObjectsSearchResultSet.firstPage`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
pub enum ObjectsFirstPage {
    /// A page.
    ObjectsSearchResultSetPage(ObjectsPage),
    /// Refused input.
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

impl ObjectsFirstPage {
    /// The page, or the error arm as an error.
    pub fn into_result(self) -> Result<ObjectsPage, CatalogError> {
        match self {
            Self::ObjectsSearchResultSetPage(page) => Ok(page),
            Self::InvalidInput { errors } => Err(invalid_input(errors)),
            Self::OperationError { message, name } => Err(operation_error(name, message)),
        }
    }
}

/// `ObjectsSearchResult`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
pub enum ObjectsSearchResult {
    /// Hits.
    ObjectsSearchResultSet {
        /// How many hits in all.
        total: i64,
        /// The first page.
        #[serde(rename = "firstPage")]
        first_page: ObjectsPage,
    },
    /// Nothing to search.
    EmptySearchResultSet,
    /// Refused input.
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

impl ObjectsSearchResult {
    /// (total, first page), or the error arm as an error.
    pub fn into_result(self) -> Result<(i64, ObjectsPage), CatalogError> {
        match self {
            Self::ObjectsSearchResultSet { total, first_page } => Ok((total, first_page)),
            Self::EmptySearchResultSet => Ok((
                0,
                SearchPage {
                    cursor: None,
                    hits: Vec::new(),
                },
            )),
            Self::InvalidInput { errors } => Err(invalid_input(errors)),
            Self::OperationError { message, name } => Err(operation_error(name, message)),
        }
    }
}

macro_rules! package_hit_fragments {
    () => {
        "
fragment PackageHitSelection on SearchHitPackage {
  bucket
  name
  hash
  size
  modified
  totalEntriesCount
  comment
  matchLocations {
    name
    comment
    meta
    workflow
  }
  matchingEntries {
    logicalKey
    physicalKey
    size
  }
}
"
    };
}

macro_rules! object_page_fragment {
    () => {
        "
fragment ObjectsPageSelection on ObjectsSearchResultSetPage {
  cursor
  hits {
    bucket
    key
    version
    size
    modified
    deleted
  }
}
"
    };
}

/// `query searchPackages`.
#[derive(Debug, Clone, Copy)]
pub struct SearchPackages;

/// `data` of `searchPackages`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchPackagesData {
    /// The result.
    #[serde(rename = "searchPackages")]
    pub search_packages: PackagesSearchResult,
}

impl Operation for SearchPackages {
    const NAME: &'static str = "searchPackages";
    const DOCUMENT: &'static str = concat!(
        "query searchPackages($buckets: [String!], $searchString: String, $latestOnly: Boolean!, $size: Int) {
  searchPackages(buckets: $buckets, searchString: $searchString, latestOnly: $latestOnly) {
    __typename
    ... on PackagesSearchResultSet {
      total
      firstPage(size: $size) {
        __typename
        ... on PackagesSearchResultSetPage {
          cursor
          hits {
            ...PackageHitSelection
          }
        }
        ...InvalidInputSelection
        ...OperationErrorSelection
      }
    }
    ...InvalidInputSelection
    ...OperationErrorSelection
  }
}
",
        package_hit_fragments!(),
        error_fragments!()
    );
    type Variables = SearchPackagesVariables;
    type Data = SearchPackagesData;
}

/// `query searchMorePackages`.
#[derive(Debug, Clone, Copy)]
pub struct SearchMorePackages;

/// `data` of `searchMorePackages`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchMorePackagesData {
    /// The page.
    #[serde(rename = "searchMorePackages")]
    pub search_more_packages: PackagesFirstPageResult,
}

impl Operation for SearchMorePackages {
    const NAME: &'static str = "searchMorePackages";
    const DOCUMENT: &'static str = concat!(
        "query searchMorePackages($after: String!, $size: Int) {
  searchMorePackages(after: $after, size: $size) {
    __typename
    ... on PackagesSearchResultSetPage {
      cursor
      hits {
        ...PackageHitSelection
      }
    }
    ...InvalidInputSelection
    ...OperationErrorSelection
  }
}
",
        package_hit_fragments!(),
        error_fragments!()
    );
    type Variables = SearchMoreVariables;
    type Data = SearchMorePackagesData;
}

/// `query searchObjects`.
#[derive(Debug, Clone, Copy)]
pub struct SearchObjects;

/// `data` of `searchObjects`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchObjectsData {
    /// The result.
    #[serde(rename = "searchObjects")]
    pub search_objects: ObjectsSearchResult,
}

impl Operation for SearchObjects {
    const NAME: &'static str = "searchObjects";
    const DOCUMENT: &'static str = concat!(
        "query searchObjects($buckets: [String!], $searchString: String, $size: Int) {
  searchObjects(buckets: $buckets, searchString: $searchString) {
    __typename
    ... on ObjectsSearchResultSet {
      total
      firstPage(size: $size) {
        ...ObjectsPageSelection
      }
    }
    ...InvalidInputSelection
    ...OperationErrorSelection
  }
}
",
        object_page_fragment!(),
        error_fragments!()
    );
    type Variables = SearchObjectsVariables;
    type Data = SearchObjectsData;
}

/// `query searchMoreObjects`.
#[derive(Debug, Clone, Copy)]
pub struct SearchMoreObjects;

/// `data` of `searchMoreObjects`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchMoreObjectsData {
    /// The page.
    #[serde(rename = "searchMoreObjects")]
    pub search_more_objects: ObjectsFirstPage,
}

impl Operation for SearchMoreObjects {
    const NAME: &'static str = "searchMoreObjects";
    const DOCUMENT: &'static str = concat!(
        "query searchMoreObjects($after: String!, $size: Int) {
  searchMoreObjects(after: $after, size: $size) {
    __typename
    ...ObjectsPageSelection
    ...InvalidInputSelection
    ...OperationErrorSelection
  }
}
",
        object_page_fragment!(),
        error_fragments!()
    );
    type Variables = SearchMoreVariables;
    type Data = SearchMoreObjectsData;
}
