//! `bucketsList`: the buckets the caller's catalog role may see, with their configs
//! (`buckets`, the role-scoped view — not `bucketConfigs`, which admins see unfiltered).

use serde::{Deserialize, Serialize};

use crate::Operation;

/// `query bucketsList`.
#[derive(Debug, Clone, Copy)]
pub struct BucketsList;

/// No variables.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NoVariables {}

/// A bucket as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketSummary {
    /// The bucket.
    pub name: String,
    /// Its title in the catalog.
    pub title: String,
    /// Icon URL.
    pub icon_url: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// The catalog's ordering weight (higher first).
    pub relevance_score: i64,
    /// Whether the catalog lets users browse it.
    pub browsable: bool,
}

/// `data` of `bucketsList`.
#[derive(Debug, Clone, Deserialize)]
pub struct BucketsListData {
    /// The buckets.
    pub buckets: Vec<BucketSummary>,
}

impl Operation for BucketsList {
    const NAME: &'static str = "bucketsList";
    const DOCUMENT: &'static str = "query bucketsList {
  buckets {
    name
    title
    iconUrl
    description
    tags
    relevanceScore
    browsable
  }
}
";
    type Variables = NoVariables;
    type Data = BucketsListData;
}
