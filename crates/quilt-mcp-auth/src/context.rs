//! [`RequestContext`]: the caller and the request, as one value that travels with the work.
//!
//! The HTTP auth middleware builds it and puts it in the request extensions; the server
//! carries it from there into the one call scope around each tool call
//! (`quilt-mcp-server/src/call_scope.rs`), and hands it by value to the `ClientFactory` that
//! builds the caller's AWS clients. This crate holds only the value: where a call keeps it
//! while it runs is the server's business (the scope also holds server things this crate
//! must not know).

use std::sync::Arc;
use std::time::Instant;

use crate::principal::Principal;
use crate::secret::Secret;

/// How the principal was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A verified HS256 token.
    Hs256,
    /// A verified token from the JWKS.
    Jwks,
    /// `MCP_AUTH_DISABLED=true` on loopback: a fixed local development principal.
    Disabled,
    /// The stdio transport: the local OS user.
    Local,
}

/// One request's identity and bookkeeping. See the module docs.
#[derive(Debug)]
pub struct RequestContext {
    principal: Arc<Principal>,
    auth_method: AuthMethod,
    request_id: String,
    transport: &'static str,
    started: Instant,
}

impl RequestContext {
    /// A context for one request.
    pub fn new(
        principal: impl Into<Arc<Principal>>,
        auth_method: AuthMethod,
        request_id: impl Into<String>,
        transport: &'static str,
    ) -> Self {
        Self {
            principal: principal.into(),
            auth_method,
            request_id: request_id.into(),
            transport,
            started: Instant::now(),
        }
    }

    /// The caller.
    pub fn principal(&self) -> &Arc<Principal> {
        &self.principal
    }

    /// How the caller was authenticated.
    pub fn auth_method(&self) -> AuthMethod {
        self.auth_method
    }

    /// The caller's bearer token, to present to the Quilt catalog on the caller's behalf —
    /// only when the catalog issued it, that is when it was verified with an HS256 secret
    /// (the secret the catalog and this server share). A token verified through the JWKS was
    /// issued for this server by another identity provider: it is never returned here, so it
    /// can never be passed through to the catalog (the MCP authorization spec forbids token
    /// passthrough). The value is a [`Secret`]: it cannot be printed or serialised.
    pub fn catalog_token(&self) -> Option<&Secret> {
        match self.auth_method {
            AuthMethod::Hs256 => self.principal.catalog_token(),
            AuthMethod::Jwks | AuthMethod::Disabled | AuthMethod::Local => None,
        }
    }

    /// The request id (from `x-request-id`, or generated).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// `http` or `stdio`.
    pub fn transport(&self) -> &'static str {
        self.transport
    }

    /// When the request arrived.
    pub fn started(&self) -> Instant {
        self.started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hs256_tokens_are_offered_to_the_catalog() {
        let mut principal = Principal::local("alice");
        principal.catalog_token = Some(Secret::new("the-token"));
        let principal = Arc::new(principal);
        let hs = RequestContext::new(principal.clone(), AuthMethod::Hs256, "r", "http");
        assert_eq!(hs.catalog_token().map(Secret::expose), Some("the-token"));
        for method in [AuthMethod::Jwks, AuthMethod::Disabled, AuthMethod::Local] {
            let ctx = RequestContext::new(principal.clone(), method, "r", "http");
            assert!(ctx.catalog_token().is_none(), "{method:?}");
        }
    }
}
