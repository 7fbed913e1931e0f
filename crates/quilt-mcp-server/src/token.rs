//! `quilt-mcp-server token`: mints an HS256 token with the server's secret, for development
//! and tests. It signs whatever claims it is given, so it needs the secret: it is no way
//! around authentication, only a convenience for people who already hold the key.
//!
//! The token names the server it is for (`aud`), as the server requires by default: the
//! audience given (`--audience` / `MCP_JWT_AUDIENCE`), else the resource URL a server with the
//! same `MCP_PUBLIC_URL` / `MCP_LISTEN` serves (`<public URL>/mcp`). `--no-audience` mints a
//! token without `aud`, which only a server with `MCP_JWT_ALLOW_MISSING_AUD=true` accepts.

use std::net::SocketAddr;
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
    #[arg(long = "scope", value_delimiter = ',', default_values_t = crate::scopes::Scope::ADVERTISED.map(|s| s.as_str().to_owned()))]
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
    /// Audience (`aud`). Default: the server's resource URL (MCP_PUBLIC_URL, else
    /// http://<MCP_LISTEN>, + /mcp), which a server without MCP_JWT_AUDIENCE requires.
    #[arg(long, env = "MCP_JWT_AUDIENCE")]
    pub audience: Option<String>,
    /// Mint the token without `aud` (accepted only with MCP_JWT_ALLOW_MISSING_AUD=true).
    #[arg(long, conflicts_with = "audience")]
    pub no_audience: bool,
    /// The server's public base URL, for the default audience.
    #[arg(long, env = "MCP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The server's listen address, for the default audience when MCP_PUBLIC_URL is unset.
    #[arg(long, env = "MCP_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
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
    if !args.no_audience {
        claims.insert("aud".into(), json!(audience(args)));
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

/// The audience to put in the token: the one given, else the resource URL, built as the
/// server builds it (`Config::validate`: the public URL without trailing slashes, default
/// `http://<listen>`; then `/mcp`).
fn audience(args: &TokenArgs) -> String {
    if let Some(aud) = &args.audience {
        return aud.clone();
    }
    let base = args
        .public_url
        .as_deref()
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{}", args.listen));
    format!("{base}/mcp")
}
