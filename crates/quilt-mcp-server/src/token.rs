//! `quilt-mcp-server token`: mints an HS256 token with the server's secret, for development
//! and tests. It signs whatever claims it is given, so it needs the secret: it is no way
//! around authentication, only a convenience for people who already hold the key.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Map, Value, json};

/// Options of the `token` command.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The HS256 secret (the server's MCP_JWT_SECRET).
    #[arg(long, env = "MCP_JWT_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Subject (`sub`).
    #[arg(long, default_value = "dev-user")]
    pub subject: String,
    /// Scopes, repeatable or comma separated.
    #[arg(long = "scope", value_delimiter = ',', default_values_t = ["quilt:read".to_owned(), "quilt:write".to_owned(), "athena:query".to_owned()])]
    pub scopes: Vec<String>,
    /// Bucket grants (`bucket`, `bucket/prefix/`, `*`), repeatable or comma separated.
    #[arg(long = "bucket", value_delimiter = ',')]
    pub buckets: Vec<String>,
    /// Role ARN claim.
    #[arg(long)]
    pub role_arn: Option<String>,
    /// Issuer (`iss`).
    #[arg(long, env = "MCP_JWT_ISSUER")]
    pub issuer: Option<String>,
    /// Audience (`aud`).
    #[arg(long, env = "MCP_JWT_AUDIENCE")]
    pub audience: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl_s: u64,
    /// Extra claims as a JSON object, merged last.
    #[arg(long)]
    pub claims: Option<String>,
}

/// Mints the token described by `args`.
pub fn mint(args: &TokenArgs) -> Result<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(args.subject));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + args.ttl_s));
    if !args.scopes.is_empty() {
        claims.insert("scope".into(), json!(args.scopes.join(" ")));
    }
    if !args.buckets.is_empty() {
        claims.insert("buckets".into(), json!(args.buckets));
    }
    if let Some(arn) = &args.role_arn {
        claims.insert("role_arn".into(), json!(arn));
    }
    if let Some(iss) = &args.issuer {
        claims.insert("iss".into(), json!(iss));
    }
    if let Some(aud) = &args.audience {
        claims.insert("aud".into(), json!(aud));
    }
    if let Some(extra) = &args.claims {
        let Value::Object(extra) =
            serde_json::from_str(extra).map_err(|e| format!("--claims is not JSON: {e}"))?
        else {
            return Err("--claims must be a JSON object".into());
        };
        claims.extend(extra);
    }
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(args.secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}
