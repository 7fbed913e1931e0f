//! Who may see and call the administration tools: a caller the Quilt catalog reports as an
//! admin (`me { isAdmin }`, asked with the caller's own catalog token). The registry asks
//! [`AdminGate::is_admin`] for `tools/list` and again for every call of an admin tool; a
//! caller who is not an admin gets neither (the call is answered like an unknown tool).
//!
//! The catalog's answer is cached per token for [`TTL`], so a burst of calls costs one
//! `me` query; a revoked admin flag takes effect within that time. The cache key is a SHA-256
//! of the token, never the token, and nothing about it is logged. A failed `me` (the catalog
//! down, the token refused) or one slower than [`ME_TIMEOUT`] counts as "not an admin" — the
//! tools hide rather than fail open — and is remembered for [`FAILURE_TTL`], so a catalog
//! outage slows `tools/list` of a catalog-token caller once, not on every list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quilt_catalog::operations::NoVariables;
use quilt_catalog::operations::admin::MeQuery;
use quilt_mcp_auth::RequestContext;
use sha2::Digest as _;

use crate::tools::catalog::Catalog;

/// How long the catalog's answer is reused for a token.
pub(super) const TTL: Duration = Duration::from_secs(30);
/// How long a failed question is remembered (as "not an admin").
pub(super) const FAILURE_TTL: Duration = Duration::from_secs(5);
/// How long `tools/list` or a call waits for the catalog's answer.
pub(super) const ME_TIMEOUT: Duration = Duration::from_secs(3);
/// Most tokens remembered (expired entries are dropped first, then everything).
const MAX_ENTRIES: usize = 4096;

/// See the module docs.
#[derive(Debug)]
pub struct AdminGate {
    catalog: Arc<Catalog>,
    /// SHA-256 of the token → (admin, until when the answer holds).
    cache: Mutex<HashMap<Vec<u8>, (bool, Instant)>>,
}

impl AdminGate {
    /// A gate asking `catalog`.
    pub fn new(catalog: &Arc<Catalog>) -> Self {
        Self {
            catalog: catalog.clone(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the caller of `ctx` is a catalog admin (false without a catalog token).
    pub async fn is_admin(&self, ctx: &RequestContext) -> bool {
        let Some(token) = ctx.catalog_token() else {
            return false;
        };
        let key = sha2::Sha256::digest(token.expose().as_bytes()).to_vec();
        let now = Instant::now();
        if let Some(&(admin, until)) = self.cache.lock().ok().as_ref().and_then(|c| c.get(&key))
            && now < until
        {
            return admin;
        }
        let answer = tokio::time::timeout(
            ME_TIMEOUT,
            self.catalog
                .client()
                .execute::<MeQuery>(token, &NoVariables {}),
        )
        .await;
        let (admin, holds) = match answer {
            Ok(Ok(data)) => (data.me.is_some_and(|me| me.is_admin), TTL),
            Ok(Err(error)) => {
                tracing::warn!(%error, "the catalog did not say whether the caller is an admin; admin tools stay hidden");
                (false, FAILURE_TTL)
            }
            Err(_) => {
                tracing::warn!(
                    "the catalog did not say within {ME_TIMEOUT:?} whether the caller is an admin; admin tools stay hidden"
                );
                (false, FAILURE_TTL)
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_ENTRIES {
                cache.retain(|_, (_, until)| now < *until);
                if cache.len() >= MAX_ENTRIES {
                    cache.clear();
                }
            }
            cache.insert(key, (admin, now + holds));
        }
        admin
    }
}
