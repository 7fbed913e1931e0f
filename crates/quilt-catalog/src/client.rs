//! [`CatalogClient`]: HTTP(S) to the catalog with bounded time and size, and the one place
//! that turns what came back into a typed answer or a [`CatalogError`].
//!
//! The token is a [`Secret`] from the caller's request, added as the `Authorization` header
//! of the GraphQL request and nowhere else: not to `config.json` (public), not to a log line,
//! not to an error. Redirects are not followed, so the token cannot be carried to another
//! host by a redirect.

use std::time::Duration;

use quilt_mcp_auth::Secret;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::config::CatalogConfig;
use crate::error::CatalogError;
use crate::operation::Operation;

/// Largest answer read from the catalog; more is `Unavailable` (a search page of 100 hits
/// with matching entries is far below this).
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;
/// Longest part of a catalog's own error message repeated in ours.
const MAX_MESSAGE_CHARS: usize = 300;

/// Where the catalog is and how long to wait for it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CatalogSettings {
    /// The web catalog (`QUILT_CATALOG_URL`), without a trailing slash.
    pub catalog_url: String,
    /// The registry API (`QUILT_REGISTRY_URL`); `None`: `registryUrl` of `config.json`.
    pub registry_url: Option<String>,
    /// Time limit of one request (connect, send, and the whole answer).
    pub timeout: Duration,
}

impl CatalogSettings {
    /// Settings for the catalog at `catalog_url`, a 10 s timeout, the registry from its
    /// `config.json`.
    pub fn new(catalog_url: impl Into<String>) -> Self {
        Self {
            catalog_url: catalog_url.into().trim_end_matches('/').to_owned(),
            registry_url: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// Uses this registry URL instead of `config.json`'s.
    pub fn with_registry_url(mut self, url: Option<String>) -> Self {
        self.registry_url = url.map(|u| u.trim_end_matches('/').to_owned());
        self
    }

    /// Sets the time limit of one request.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A client of one catalog. Cheap to share behind an `Arc`; `config.json` is fetched once
/// (a failed fetch is retried by the next call).
#[derive(Debug)]
pub struct CatalogClient {
    http: reqwest::Client,
    settings: CatalogSettings,
    config: OnceCell<CatalogConfig>,
}

#[derive(Deserialize)]
struct GraphQlAnswer {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Option<Value>,
}

impl CatalogClient {
    /// A client with `settings`.
    pub fn new(settings: CatalogSettings) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the catalog HTTP client: {e}"))?;
        Ok(Self {
            http,
            settings,
            config: OnceCell::new(),
        })
    }

    /// The web catalog's URL (no trailing slash).
    pub fn catalog_url(&self) -> &str {
        &self.settings.catalog_url
    }

    /// The catalog's `config.json` (fetched once, without a token).
    pub async fn config(&self) -> Result<&CatalogConfig, CatalogError> {
        self.config
            .get_or_try_init(|| async {
                let url = format!("{}/config.json", self.settings.catalog_url);
                let (status, content_type, body) =
                    self.send(self.http.get(&url), "config.json").await?;
                check_status(status, "config.json")?;
                check_not_html(&content_type, &body, "config.json")?;
                let config = serde_json::from_slice::<CatalogConfig>(&body).map_err(|e| {
                    CatalogError::Unavailable(format!(
                        "config.json is not a Quilt catalog configuration: {}",
                        bounded(&e.to_string())
                    ))
                })?;
                // The caller's token goes to this URL: held to the same rule as the
                // configured URLs (https, or plain http to a loopback host only).
                if !quilt_mcp_auth::is_https_or_loopback(&config.registry_url) {
                    return Err(CatalogError::Unavailable(
                        "config.json names a registryUrl that is neither https nor loopback; \
                         set QUILT_REGISTRY_URL"
                            .into(),
                    ));
                }
                Ok(config)
            })
            .await
    }

    /// The registry API's URL: `QUILT_REGISTRY_URL`, else `registryUrl` from `config.json`.
    pub async fn registry_url(&self) -> Result<String, CatalogError> {
        match &self.settings.registry_url {
            Some(url) => Ok(url.clone()),
            None => Ok(self
                .config()
                .await?
                .registry_url
                .trim_end_matches('/')
                .to_owned()),
        }
    }

    /// Runs `O` with `variables` as the holder of `token`.
    pub async fn execute<O: Operation>(
        &self,
        token: &Secret,
        variables: &O::Variables,
    ) -> Result<O::Data, CatalogError> {
        let url = format!("{}/graphql", self.registry_url().await?);
        let body = json!({
            "query": O::DOCUMENT,
            "operationName": O::NAME,
            "variables": variables,
        });
        let request = self
            .http
            .post(&url)
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body);
        let (status, content_type, bytes) = self.send(request, O::NAME).await?;
        check_status(status, O::NAME)?;
        check_not_html(&content_type, &bytes, O::NAME)?;
        let answer: GraphQlAnswer = serde_json::from_slice(&bytes).map_err(|_| {
            CatalogError::Unavailable(format!("{} answer is not GraphQL JSON", O::NAME))
        })?;
        if let Some(error) = answer.errors.first() {
            let message = bounded(&error.message);
            return Err(if is_authorization_error(error) {
                CatalogError::Unauthorized(message)
            } else {
                CatalogError::Unavailable(format!("{} failed: {message}", O::NAME))
            });
        }
        let data = answer.data.filter(|d| !d.is_null()).ok_or_else(|| {
            CatalogError::Unavailable(format!("{} answered without data", O::NAME))
        })?;
        serde_json::from_value(data).map_err(|e| {
            CatalogError::Unavailable(format!(
                "{} answered an unexpected shape: {}",
                O::NAME,
                bounded(&e.to_string())
            ))
        })
    }

    /// Sends `request` and reads at most [`MAX_ANSWER_BYTES`] of its answer.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(reqwest::StatusCode, String, Vec<u8>), CatalogError> {
        let timeout = self.settings.timeout.as_secs_f64();
        let unavailable = |e: reqwest::Error| {
            CatalogError::Unavailable(if e.is_timeout() {
                format!("{what}: no answer within {timeout} s")
            } else if e.is_connect() {
                format!("{what}: cannot connect to the catalog")
            } else {
                format!("{what}: the request failed")
            })
        };
        let mut response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(CatalogError::Unavailable(format!(
                    "{what}: the answer is larger than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, content_type, body))
    }
}

fn check_status(status: reqwest::StatusCode, what: &str) -> Result<(), CatalogError> {
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(CatalogError::Unauthorized(format!(
            "{what}: HTTP {}",
            status.as_u16()
        )));
    }
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(CatalogError::Unavailable(format!(
            "{what}: HTTP 404 (is QUILT_CATALOG_URL the catalog's address?)"
        )));
    }
    if !status.is_success() {
        return Err(CatalogError::Unavailable(format!(
            "{what}: HTTP {}",
            status.as_u16()
        )));
    }
    Ok(())
}

/// A catalog behind a login page, or a URL pointing at the web app instead of the API,
/// answers an HTML page with 200: that is an outage of the API, not data.
fn check_not_html(content_type: &str, body: &[u8], what: &str) -> Result<(), CatalogError> {
    let starts_with_tag = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    if content_type.contains("html") || starts_with_tag {
        return Err(CatalogError::Unavailable(format!(
            "{what}: the catalog answered an HTML page, not its API (check QUILT_CATALOG_URL / QUILT_REGISTRY_URL)"
        )));
    }
    Ok(())
}

fn is_authorization_error(error: &GraphQlError) -> bool {
    let code = error
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = error.message.to_ascii_lowercase();
    matches!(code, "UNAUTHENTICATED" | "FORBIDDEN" | "UNAUTHORIZED")
        || message.starts_with("unauthorized")
        || message.starts_with("forbidden")
}

fn bounded(message: &str) -> String {
    let mut out: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    if out.len() < message.len() {
        out.push('…');
    }
    out
}
