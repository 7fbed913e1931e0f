//! Page tokens: where the next page of an Athena result or a Glue listing starts, sealed for
//! the caller and the listing they belong to, so a client can only hand back a token this
//! server gave it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::seal::{Owner, SealError, SealKey};
use crate::tool_error::ToolError;

/// Where the next page starts: the service's own page token (none for its first page) and how
/// many items of that page were already returned. The service's token alone is not enough:
/// when a cap (bytes, or items against a service that returns more than asked, as the emulator
/// does) stops a page early, the rest of that page would be lost. Sent to the client sealed
/// ([`PageTokens`]); used by the Athena result and Glue listing tools.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct PageToken {
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub(super) upstream: Option<String>,
    #[serde(rename = "s", default)]
    pub(super) skip: usize,
}

/// The page tokens of one listing for one caller: sealed with the server key for this caller
/// and this listing (`purpose` names the tool and what it lists), so a token is accepted only
/// back from the caller it was issued to, for the same listing (see `seal.rs`).
pub(super) struct PageTokens {
    key: Arc<SealKey>,
    owner: Owner,
    purpose: String,
}

pub(super) fn bad_token() -> ToolError {
    ToolError::invalid_argument(
        "next_token is not one this server issued: pass the next_token of a previous answer unchanged",
    )
}

impl PageTokens {
    /// Tokens of `purpose` for the caller in scope.
    pub(super) fn for_caller(key: &Arc<SealKey>, purpose: String) -> Result<Self, ToolError> {
        let ctx = crate::call_scope::context()?;
        Ok(Self {
            key: key.clone(),
            owner: key.owner(ctx.principal()),
            purpose,
        })
    }

    /// The client's `next_token`, or the first page.
    pub(super) fn open(&self, token: Option<&str>) -> Result<PageToken, SealError> {
        match token.filter(|t| !t.is_empty()) {
            Some(t) => self.key.open(&self.purpose, &self.owner, t),
            None => Ok(PageToken::default()),
        }
    }

    /// Like [`PageTokens::open`], for listings: another caller's token is as bad as a forged one.
    pub(super) fn open_listing(&self, token: Option<&str>) -> Result<PageToken, ToolError> {
        self.open(token).map_err(|_| bad_token())
    }

    pub(super) fn seal(&self, token: &PageToken) -> String {
        self.key.seal(&self.purpose, &self.owner, token)
    }
}

impl PageToken {
    /// Of `len` items of the service's page fetched with this token, the ones to return (at
    /// most `max`) and where the next page starts.
    pub(super) fn window(
        &self,
        len: usize,
        max: usize,
        upstream_next: Option<&str>,
    ) -> (std::ops::Range<usize>, Option<PageToken>) {
        let start = self.skip.min(len);
        let end = start.saturating_add(max).min(len);
        let next = if end < len {
            Some(Self {
                upstream: self.upstream.clone(),
                skip: end,
            })
        } else {
            upstream_next.map(|t| Self {
                upstream: Some(t.to_owned()),
                skip: 0,
            })
        };
        (start..end, next)
    }
}
