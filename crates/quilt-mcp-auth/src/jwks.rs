//! The JWKS key cache: signing keys fetched from `MCP_JWT_JWKS_URL`, selected by `kid`.
//!
//! Keys are fetched once at start-up (best effort) and again when they are older than the
//! TTL or a token names a `kid` we do not have — but at most once per `refetch_interval`,
//! so a stream of tokens with made-up key ids cannot turn into a stream of fetches. One
//! fetch runs at a time; callers that arrive meanwhile wait for it and use its result.
//! A failed fetch keeps the keys we had: an outage of the identity provider must not log
//! out every caller whose token is signed with a key we already know.
//!
//! The URL must be https, or plain http on a loopback host ([`is_https_or_loopback`], checked
//! on the parsed URL: `http://127.evil.example` is not loopback). Redirects are followed (at
//! most three) only to URLs that pass the same check and never from https to http: a key set
//! fetched over a downgraded connection could be anyone's.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::error::AuthError;

/// The algorithms a JWKS key may sign with (never HMAC: a public key set has no secrets).
pub(crate) const JWKS_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

const MAX_JWKS_BYTES: usize = 512 * 1024;
/// How often a key set that was never fetched is retried.
const NO_KEYS_RETRY: Duration = Duration::from_secs(1);

/// How to fetch and keep the key set.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwksOptions {
    /// Where the key set is.
    pub url: String,
    /// Keys older than this are refetched (the old ones stay in use if that fails).
    pub ttl: Duration,
    /// At most one fetch per this interval, however many unknown `kid`s arrive.
    pub refetch_interval: Duration,
    /// Timeout for one fetch.
    pub fetch_timeout: Duration,
}

impl JwksOptions {
    /// Defaults: 10 minute TTL, refetch at most once a minute, 5 s fetch timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ttl: Duration::from_secs(600),
            refetch_interval: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the minimum interval between fetches.
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// Sets the key TTL.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
}

/// What `/healthz` shows about the key set.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JwksStatus {
    /// The key set URL.
    pub url: String,
    /// How many usable keys are cached.
    pub keys: usize,
    /// When the last successful fetch happened (Unix seconds).
    pub fetched_at: Option<u64>,
    /// The last fetch error, if the last fetch failed.
    pub last_error: Option<String>,
}

pub(crate) struct JwksKey {
    pub(crate) decoding: DecodingKey,
    /// The key's declared `alg`, when it declares one.
    pub(crate) alg: Option<Algorithm>,
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<JwksKey>>,
    without_kid: Vec<Arc<JwksKey>>,
    fetched_at: Option<(Instant, SystemTime)>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
}

pub(crate) struct JwksCache {
    options: JwksOptions,
    http: reqwest::Client,
    keys: RwLock<KeySet>,
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// Whether `url` is https, or http to a host that is exactly a loopback IP or `localhost`.
/// Parsed, not prefix-matched: `http://127.evil.example` and `http://localhost.evil` are not
/// loopback.
pub fn is_https_or_loopback(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| url_is_https_or_loopback(&u))
}

fn url_is_https_or_loopback(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Whether a redirect from the chain `previous` (the first URL first) to `next` may be
/// followed: at most three, each to an https-or-loopback URL, never from https to http.
fn redirect_refusal(previous: &[url::Url], next: &url::Url) -> Option<&'static str> {
    if previous.len() > 3 {
        Some("too many redirects")
    } else if next.scheme() != "https" && previous.iter().any(|u| u.scheme() == "https") {
        Some("redirect from https to http refused")
    } else if !url_is_https_or_loopback(next) {
        Some("redirect to a URL that is neither https nor loopback refused")
    } else {
        None
    }
}

fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        match redirect_refusal(attempt.previous(), attempt.url()) {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    })
}

impl JwksCache {
    pub(crate) fn new(options: JwksOptions) -> Result<Self, String> {
        if !is_https_or_loopback(&options.url) {
            return Err(format!(
                "the JWKS URL must be https (plain http only on a loopback host), got {:?}",
                options.url
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(options.fetch_timeout)
            .redirect(redirect_policy())
            .build()
            .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))?;
        Ok(Self {
            options,
            http,
            keys: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, KeySet> {
        self.keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> JwksStatus {
        let keys = self.read();
        JwksStatus {
            url: self.options.url.clone(),
            keys: keys.by_kid.len() + keys.without_kid.len(),
            fetched_at: keys
                .fetched_at
                .and_then(|(_, wall)| wall.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
            last_error: keys.last_error.clone(),
        }
    }

    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<JwksKey>> {
        let keys = self.read();
        let fits = |k: &Arc<JwksKey>| {
            k.alg.is_none_or(|a| a == alg) && k.decoding.family() == alg.family()
        };
        match kid {
            Some(kid) => keys.by_kid.get(kid).filter(|k| fits(k)).cloned(),
            None => {
                // A token without `kid` is only unambiguous when exactly one key fits it.
                let mut candidates = keys
                    .by_kid
                    .values()
                    .chain(keys.without_kid.iter())
                    .filter(|k| fits(k));
                match (candidates.next(), candidates.next()) {
                    (Some(k), None) => Some(k.clone()),
                    _ => None,
                }
            }
        }
    }

    /// Whether a fetch is allowed now, given when the last one started. With no key at all
    /// every token is refused with 503, so the set is retried once a second (sooner when the
    /// interval is shorter) instead of once per interval: service comes back within a second
    /// of the endpoint, not up to a minute later.
    fn may_fetch(&self, keys: &KeySet) -> bool {
        let interval = if keys.fetched_at.is_none() {
            self.options.refetch_interval.min(NO_KEYS_RETRY)
        } else {
            self.options.refetch_interval
        };
        keys.last_attempt.is_none_or(|t| t.elapsed() >= interval)
    }

    fn is_stale(&self, keys: &KeySet) -> bool {
        keys.fetched_at
            .is_none_or(|(t, _)| t.elapsed() >= self.options.ttl)
    }

    /// The key for a token with this `kid` and `alg`, fetching the set if needed and allowed.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<JwksKey>, AuthError> {
        let (stale, may_fetch) = {
            let keys = self.read();
            (self.is_stale(&keys), self.may_fetch(&keys))
        };
        if stale && may_fetch {
            self.refresh().await;
        }
        if let Some(key) = self.find(kid, alg) {
            return Ok(key);
        }
        if self.may_fetch(&self.read()) {
            self.refresh().await;
            if let Some(key) = self.find(kid, alg) {
                return Ok(key);
            }
        }
        let keys = self.read();
        if keys.fetched_at.is_none() && keys.last_error.is_some() {
            Err(AuthError::KeysUnavailable)
        } else {
            Err(AuthError::UnknownKey)
        }
    }

    /// Fetches the key set once, unless another caller fetched it while we waited our turn.
    pub(crate) async fn refresh(&self) {
        let started_waiting = Instant::now();
        let _turn = self.fetching.lock().await;
        if self
            .read()
            .last_attempt
            .is_some_and(|t| t >= started_waiting)
        {
            return;
        }
        self.write().last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok((by_kid, without_kid)) => {
                let mut keys = self.write();
                tracing::info!(url = %self.options.url, keys = by_kid.len() + without_kid.len(), "JWKS fetched");
                keys.by_kid = by_kid;
                keys.without_kid = without_kid;
                keys.fetched_at = Some((Instant::now(), SystemTime::now()));
                keys.last_error = None;
            }
            Err(error) => {
                tracing::warn!(url = %self.options.url, %error, "JWKS fetch failed; keeping the keys we had");
                self.write().last_error = Some(error);
            }
        }
    }

    async fn fetch(&self) -> Result<(HashMap<String, Arc<JwksKey>>, Vec<Arc<JwksKey>>), String> {
        let response = self
            .http
            .get(&self.options.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {}", without_url(&e)))?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err("key set is too large".into());
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading body failed: {}", without_url(&e)))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err("key set is too large".into());
        }
        let raw: RawKeySet =
            serde_json::from_slice(&body).map_err(|e| format!("not a JWK set: {e}"))?;
        let mut by_kid = HashMap::new();
        let mut without_kid = Vec::new();
        for value in raw.keys {
            // Keys of types we cannot use (or for encryption) are skipped, not fatal.
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            if jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
            {
                continue;
            }
            let alg = match jwk.common.key_algorithm.map(Algorithm::try_from) {
                None => None,
                Some(Ok(a)) if JWKS_ALGORITHMS.contains(&a) => Some(a),
                Some(_) => continue,
            };
            let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            if decoding.family() == jsonwebtoken::AlgorithmFamily::Hmac {
                continue;
            }
            let key = Arc::new(JwksKey { decoding, alg });
            match jwk.common.key_id {
                Some(kid) => {
                    by_kid.insert(kid, key);
                }
                None => without_kid.push(key),
            }
        }
        Ok((by_kid, without_kid))
    }
}

fn without_url(e: &reqwest::Error) -> String {
    // The URL is already in the log line's fields; keep the message short, but keep the
    // causes (a refused redirect says why only in its source).
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        msg = format!("{msg}: {cause}");
        source = cause.source();
    }
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), "<jwks url>");
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_never_downgrade_from_https_and_stay_https_or_loopback() {
        let u = |s: &str| url::Url::parse(s).expect("url");
        let https = u("https://idp.example/jwks");
        assert_eq!(
            redirect_refusal(std::slice::from_ref(&https), &u("http://idp.example/jwks")),
            Some("redirect from https to http refused")
        );
        // Not even to loopback: the chain started on https.
        assert_eq!(
            redirect_refusal(std::slice::from_ref(&https), &u("http://127.0.0.1/jwks")),
            Some("redirect from https to http refused")
        );
        assert_eq!(
            redirect_refusal(
                std::slice::from_ref(&https),
                &u("https://keys.example/jwks")
            ),
            None
        );
        let local = u("http://127.0.0.1:9/jwks");
        assert_eq!(
            redirect_refusal(std::slice::from_ref(&local), &u("http://localhost:9/k")),
            None
        );
        assert_eq!(
            redirect_refusal(
                std::slice::from_ref(&local),
                &u("http://127.evil.example/jwks")
            ),
            Some("redirect to a URL that is neither https nor loopback refused")
        );
        assert_eq!(
            redirect_refusal(
                &[local.clone(), https.clone(), https.clone(), https],
                &u("https://x.example/")
            ),
            Some("too many redirects")
        );
    }

    #[test]
    fn loopback_means_the_parsed_host_is_loopback() {
        for ok in [
            "https://idp.example/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://localhost:9/jwks",
            "http://LOCALHOST/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(is_https_or_loopback(ok), "{ok}");
        }
        for bad in [
            "http://127.evil.example/jwks",
            "http://localhost.evil.example/jwks",
            "http://127.0.0.1.evil.example/jwks",
            "http://evil.example/?x=http://127.0.0.1",
            "http://user@evil.example/jwks",
            "http://10.0.0.1/jwks",
            "ftp://127.0.0.1/jwks",
            "not a url",
        ] {
            assert!(!is_https_or_loopback(bad), "{bad}");
        }
    }
}
