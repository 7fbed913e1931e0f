//! The `catalog` source: the Quilt registry exchanges the caller's own bearer token for
//! temporary AWS credentials at `GET <QUILT_REGISTRY_URL>/api/auth/get_credentials`.
//!
//! The answer must be JSON with the four credential fields. An HTML page (a login page or
//! the catalog's web UI, as happened in production when the URL pointed at the wrong host)
//! is a clear error naming what came back — never a reason to try another source.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use quilt_mcp_auth::Secret;
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::credentials::{AwsCredentials, parse_expiration};
use crate::error::ErrorKind;

const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Finds the registry's URL when it is first needed (the server passes one that reads
/// `registryUrl` from the catalog's `config.json`, so `QUILT_CATALOG_URL` alone is enough).
/// The error is a message for the caller; it must not contain secrets.
#[derive(Clone)]
pub struct RegistryLookup(
    Arc<dyn Fn() -> BoxFuture<'static, Result<String, String>> + Send + Sync>,
);

impl RegistryLookup {
    /// Wraps `lookup`.
    pub fn new(
        lookup: impl Fn() -> BoxFuture<'static, Result<String, String>> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(lookup))
    }
}

impl std::fmt::Debug for RegistryLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryLookup")
    }
}

/// A client of the registry's credential exchange.
#[derive(Clone)]
pub struct CatalogClient {
    http: reqwest::Client,
    /// The exchange URL once known; a failed lookup is retried by the next call.
    url: Arc<OnceCell<String>>,
    lookup: Option<RegistryLookup>,
}

impl std::fmt::Debug for CatalogClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogClient")
            .field("url", &self.url.get())
            .finish_non_exhaustive()
    }
}

fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the catalog HTTP client: {e}"))
}

fn exchange_url(registry_url: &str) -> String {
    format!(
        "{}/api/auth/get_credentials",
        registry_url.trim_end_matches('/')
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    #[serde(alias = "accessKeyId", alias = "access_key_id")]
    access_key_id: String,
    #[serde(alias = "secretAccessKey", alias = "secret_access_key")]
    secret_access_key: String,
    #[serde(alias = "sessionToken", alias = "session_token")]
    session_token: Option<String>,
    #[serde(alias = "expiration")]
    expiration: Option<serde_json::Value>,
}

impl CatalogClient {
    /// A client for the registry at `registry_url`.
    pub fn new(registry_url: &str, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            http: http_client(timeout)?,
            url: Arc::new(OnceCell::new_with(Some(exchange_url(registry_url)))),
            lookup: None,
        })
    }

    /// A client whose registry is found by `lookup` at the first exchange.
    pub fn with_lookup(lookup: RegistryLookup, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            http: http_client(timeout)?,
            url: Arc::new(OnceCell::new()),
            lookup: Some(lookup),
        })
    }

    async fn url(&self) -> Result<&str, (ErrorKind, String)> {
        self.url
            .get_or_try_init(|| async {
                let Some(lookup) = &self.lookup else {
                    unreachable!("a client without a lookup is built with its URL")
                };
                (lookup.0)()
                    .await
                    .map(|registry| exchange_url(&registry))
                    .map_err(|m| {
                        (
                            ErrorKind::Unavailable,
                            format!("cannot find the registry: {m}"),
                        )
                    })
            })
            .await
            .map(String::as_str)
    }

    /// Exchanges `token` for credentials.
    pub async fn exchange(&self, token: &Secret) -> Result<AwsCredentials, (ErrorKind, String)> {
        let url = self.url().await?;
        let response = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                (
                    ErrorKind::Unavailable,
                    format!(
                        "registry unreachable: {}",
                        if e.is_timeout() {
                            "timed out"
                        } else {
                            "connection failed"
                        }
                    ),
                )
            })?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.bytes().await.map_err(|_| {
            (
                ErrorKind::Unavailable,
                "registry answer could not be read".to_owned(),
            )
        })?;
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err((
                ErrorKind::AccessDenied,
                format!("registry refused the token (HTTP {})", status.as_u16()),
            ));
        }
        if !status.is_success() {
            let kind = if status.is_server_error() {
                ErrorKind::Unavailable
            } else {
                ErrorKind::AccessDenied
            };
            return Err((kind, format!("registry answered HTTP {}", status.as_u16())));
        }
        if body.len() > MAX_ANSWER_BYTES {
            return Err((
                ErrorKind::Unavailable,
                "registry answer is too large".into(),
            ));
        }
        let looks_html = content_type.contains("html")
            || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
        if looks_html {
            return Err((
                ErrorKind::Unavailable,
                format!(
                    "registry answered HTML ({}), not JSON credentials: check that QUILT_REGISTRY_URL is the registry API, not the catalog web page",
                    if content_type.is_empty() {
                        "no content type"
                    } else {
                        content_type.as_str()
                    }
                ),
            ));
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            (
                ErrorKind::Unavailable,
                format!(
                    "registry answer is not the expected JSON credentials: {}",
                    strip_values(&e.to_string())
                ),
            )
        })?;
        let expires_at = match &answer.expiration {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => parse_expiration(s),
            Some(serde_json::Value::Number(n)) => parse_expiration(&n.to_string()),
            Some(_) => None,
        };
        if answer.expiration.as_ref().is_some_and(|e| !e.is_null()) && expires_at.is_none() {
            return Err((
                ErrorKind::Unavailable,
                "registry answer has an unreadable Expiration".into(),
            ));
        }
        Ok(AwsCredentials::new(
            answer.access_key_id,
            Secret::new(answer.secret_access_key),
            answer.session_token.map(Secret::new),
            expires_at,
        ))
    }
}

/// serde's messages can quote the offending value; keep only the part before any quote.
fn strip_values(message: &str) -> String {
    message
        .split('`')
        .next()
        .unwrap_or(message)
        .trim()
        .to_owned()
}
