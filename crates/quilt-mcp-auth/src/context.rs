//! [`RequestContext`]: the caller and the request, as one value that travels with the work.
//!
//! The HTTP auth middleware builds it and puts it in the request extensions; the MCP
//! handler re-scopes it as a tokio task-local around each tool call (rmcp runs handlers on
//! tasks of its own, so a task-local set in the middleware would be gone by then). Tool
//! code calls [`RequestContext::current`], which is an error — never an anonymous default —
//! when no context is in scope. Work a tool spawns must carry the context explicitly
//! ([`RequestContext::scope`] around the spawned future).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::principal::Principal;
use crate::secret::Secret;

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

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

/// Returned by [`RequestContext::current`] outside a request scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no request context in scope: refusing to act without a caller")]
pub struct NoRequestContext;

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

    /// The context of the request this task is serving.
    pub fn current() -> Result<Arc<Self>, NoRequestContext> {
        CURRENT.try_with(Arc::clone).map_err(|_| NoRequestContext)
    }

    /// Runs `fut` with `self` as the current context.
    pub async fn scope<F: Future>(self: Arc<Self>, fut: F) -> F::Output {
        CURRENT.scope(self, fut).await
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

    #[tokio::test]
    async fn current_fails_outside_a_scope_and_sees_the_scoped_caller_inside() {
        assert_eq!(
            RequestContext::current().expect_err("no scope"),
            NoRequestContext
        );
        let ctx = Arc::new(RequestContext::new(
            Principal::local("alice"),
            AuthMethod::Local,
            "r1",
            "stdio",
        ));
        let seen = ctx
            .scope(async { RequestContext::current().map(|c| c.principal().subject.clone()) })
            .await;
        assert_eq!(seen.as_deref(), Ok("alice"));
        // A spawned task does not inherit the scope: it has to be given the context.
        let spawned = tokio::spawn(async { RequestContext::current().is_err() })
            .await
            .expect("join");
        assert!(spawned);
    }

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
