//! `auth_status`: who the server thinks the caller is — subject, scopes, bucket grants, and
//! what kind of AWS identity material the token carries. Never the material itself.

use quilt_mcp_auth::{AuthMethod, RequestContext};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tool_error::ToolError;
use crate::tools::ToolRegistry;

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthStatusInput {}

/// The caller, as the server sees it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuthStatus {
    /// The caller's subject.
    pub subject: String,
    /// How the caller was authenticated: hs256, jwks, disabled (local development) or local (stdio).
    #[schemars(with = "String")]
    pub auth_method: AuthMethod,
    /// The token's issuer, when it has one.
    pub issuer: Option<String>,
    /// Scopes the token grants.
    pub scopes: Vec<String>,
    /// Bucket grants from the token; null when the token does not restrict buckets.
    pub buckets: Option<Vec<String>>,
    /// AWS identity material in the token: "aws_credentials", "role_arn", or none.
    pub credential_kinds: Vec<String>,
    /// The role the token names, when it names one (an ARN is not a secret).
    pub role_arn: Option<String>,
    /// Session tag keys the token carries.
    pub session_tag_keys: Vec<String>,
    /// Token expiry (Unix seconds); null for local callers.
    pub expires_at: Option<u64>,
    /// This request's id, for matching audit lines.
    pub request_id: String,
}

pub(crate) fn register(registry: &mut ToolRegistry) {
    registry.add(
        "auth_status",
        "Who the server thinks you are: subject, scopes, bucket grants, and the kind of AWS credentials your token carries.",
        ToolAnnotations::new().read_only(true).destructive(false).idempotent(true).open_world(false),
        None,
        auth_status,
    );
}

async fn auth_status(_: AuthStatusInput) -> Result<AuthStatus, ToolError> {
    let ctx = RequestContext::current()?;
    let p = ctx.principal();
    let mut credential_kinds = Vec::new();
    if p.aws_credentials.is_some() {
        credential_kinds.push("aws_credentials".to_owned());
    }
    if p.role_arn.is_some() {
        credential_kinds.push("role_arn".to_owned());
    }
    Ok(AuthStatus {
        subject: p.subject.clone(),
        auth_method: ctx.auth_method(),
        issuer: p.issuer.clone(),
        scopes: p.scopes.iter().cloned().collect(),
        buckets: p
            .buckets
            .as_ref()
            .map(|g| g.iter().map(ToString::to_string).collect()),
        credential_kinds,
        role_arn: p.role_arn.as_ref().map(ToString::to_string),
        session_tag_keys: p.session_tags.keys().cloned().collect(),
        expires_at: (p.expires_at > 0).then_some(p.expires_at),
        request_id: ctx.request_id().to_owned(),
    })
}
