//! `auth_status`: who the server thinks the caller is — subject, scopes, bucket grants, what
//! kind of AWS identity material the token carries (never the material itself), the
//! credential source the broker would use, and on request who AWS says the caller is.

use std::sync::Arc;

use quilt_mcp_auth::AuthMethod;
use quilt_mcp_aws::AccessIntent;
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, sdk_error};
use crate::tool_error::ToolError;
use crate::tools::ToolRegistry;

/// Arguments of `auth_status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthStatusInput {
    /// Also ask AWS who the caller's credentials are (STS GetCallerIdentity).
    #[serde(default)]
    pub include_aws_identity: bool,
}

/// Who AWS says the caller's credentials belong to.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AwsIdentity {
    /// The account.
    pub account: Option<String>,
    /// The IAM ARN (an assumed-role ARN names the session).
    pub arn: Option<String>,
    /// The unique id.
    pub user_id: Option<String>,
}

/// The caller, as the server sees it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AuthStatus {
    /// The caller's subject.
    pub subject: String,
    /// How the caller was authenticated: hs256, jwks, disabled (local development) or local (stdio).
    #[schemars(with = "String")]
    pub auth_method: AuthMethod,
    /// The caller's issuer: the token's `iss`, or quilt-mcp:hs256 / quilt-mcp:jwks for a token
    /// without one, quilt-mcp:local for local callers. The caller is (issuer, subject).
    pub issuer: String,
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
    /// The credential source the server would use for this caller (read intent), or null
    /// when none applies.
    pub credential_source: Option<String>,
    /// AWS's view of the caller's credentials, when asked for.
    pub aws_identity: Option<AwsIdentity>,
    /// This request's id, for matching audit lines.
    pub request_id: String,
}

pub(crate) fn register(registry: &mut ToolRegistry, aws: &Arc<Aws>) {
    registry.add_with(
        aws,
        "auth_status",
        "Who the server thinks you are: subject, scopes, bucket grants, the AWS credential source it would use, and (include_aws_identity) who AWS says you are.",
        ToolAnnotations::new().read_only(true).destructive(false).idempotent(true).open_world(false),
        None,
        auth_status,
    );
}

async fn auth_status(aws: Arc<Aws>, input: AuthStatusInput) -> Result<AuthStatus, ToolError> {
    let ctx = crate::call_scope::context()?;
    let aws_identity = if input.include_aws_identity {
        let sts = aws.sts(AccessIntent::Read).await?;
        let who = sts
            .client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| sdk_error("GetCallerIdentity", &e))?;
        Some(AwsIdentity {
            account: who.account().map(str::to_owned),
            arn: who.arn().map(str::to_owned),
            user_id: who.user_id().map(str::to_owned),
        })
    } else {
        None
    };
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
        credential_source: aws
            .broker()
            .source_for(p, AccessIntent::Read)
            .map(|s| s.as_str().to_owned()),
        aws_identity,
        request_id: ctx.request_id().to_owned(),
    })
}
