//! Ownership and sealed tokens: what a tool hands a caller to come back with (page tokens,
//! handles) and what it leaves behind in a shared service (the owner tag on an Athena
//! execution) are bound to that caller with HMAC-SHA256 under one server key, so
//!
//! - a token another caller obtained is refused (`not_found`, like an unknown id, so ids and
//!   tokens cannot be probed), and a forged, altered or truncated one is `invalid_argument`;
//! - every task of the service accepts the tokens any task issued, as long as they share the
//!   key (`MCP_HANDLE_KEY`, see [`SealKey::from_settings`] for what happens when it is unset).
//!
//! Tokens are authenticated, not encrypted: they carry nothing secret (an upstream page token,
//! an offset, an execution id), and a client may read them. Hand-written on the `hmac` and
//! `sha2` crates because the format is four fields; a JWT library would add an algorithm
//! negotiation this format has no use for.

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use quilt_mcp_auth::Principal;
use serde::Serialize;
use serde::de::DeserializeOwned;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Bytes of the owner tag kept (128 bits: collisions between callers are not a concern).
const OWNER_BYTES: usize = 16;
/// Bytes of a token's MAC.
const MAC_BYTES: usize = 32;
/// The token format's version byte.
const VERSION: u8 = 1;
/// Longest token accepted, in characters (before any decoding work).
pub(crate) const MAX_TOKEN_CHARS: usize = 4096;
/// Shortest `MCP_HANDLE_KEY`, in bytes (as long as the hash, RFC 2104).
pub(crate) const MIN_KEY_BYTES: usize = 32;

/// Where the server key came from (reported at start-up, never the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `MCP_HANDLE_KEY`.
    Configured,
    /// Derived from `MCP_JWT_SECRET` (every task sharing the JWT secret agrees).
    JwtSecret,
    /// Random for this process: tokens and owner tags hold only within it.
    Random,
}

/// The server's sealing key. No `Debug` of the key bytes; cheap to share behind an `Arc`.
#[derive(Clone)]
pub struct SealKey {
    key: [u8; 32],
    origin: KeyOrigin,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not a token this service issued for this purpose: malformed, truncated, altered, or
    /// sealed under another key.
    #[error("not a token this server issued")]
    Invalid,
    /// A genuine token, issued to another caller.
    #[error("issued to another caller")]
    NotYours,
}

/// A caller as an owner: a keyed hash of the caller's identity. Equal for the same identity
/// under the same key; reveals nothing about the identity without the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner([u8; OWNER_BYTES]);

impl Owner {
    /// Lower-case hex, 32 characters (the form written into Athena's query text).
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`Owner::hex`]'s form.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != OWNER_BYTES * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; OWNER_BYTES];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }
}

/// The identity an owner is derived from: (issuer, subject). The one place that decides what
/// makes two callers the same owner; for tokens without `iss` the issuer is the fixed name of
/// the key kind that verified them, and `quilt-mcp:local` for local principals (principal.rs).
fn owner_identity(principal: &Principal) -> (&str, &str) {
    (&principal.issuer, &principal.subject)
}

impl SealKey {
    /// The key from the settings: `MCP_HANDLE_KEY` when set (at least [`MIN_KEY_BYTES`]
    /// bytes); else derived from the HS256 `MCP_JWT_SECRET` (HMAC of a fixed label), which
    /// every task of a deployment already shares; else a random key for this process (a
    /// JWKS-only deployment without `MCP_HANDLE_KEY`: tokens and Athena ownership then hold
    /// only within one task, and start-up warns).
    pub fn from_settings(
        handle_key: Option<&str>,
        jwt_secret: Option<&str>,
    ) -> Result<Self, String> {
        if let Some(k) = handle_key.filter(|k| !k.is_empty()) {
            if k.len() < MIN_KEY_BYTES {
                return Err(format!("must be at least {MIN_KEY_BYTES} bytes"));
            }
            return Ok(Self::derive(
                k.as_bytes(),
                b"quilt-mcp handle key v1",
                KeyOrigin::Configured,
            ));
        }
        if let Some(s) = jwt_secret.filter(|s| !s.is_empty()) {
            return Ok(Self::derive(
                s.as_bytes(),
                b"quilt-mcp handle key from jwt secret v1",
                KeyOrigin::JwtSecret,
            ));
        }
        Ok(Self::random())
    }

    /// A random key for this process.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No OS randomness is a broken host; a fresh v4 UUID pair still gives 244 random
            // bits from the same source uuid uses, and failing start-up here would hide why.
            let a = uuid::Uuid::new_v4();
            let b = uuid::Uuid::new_v4();
            key[..16].copy_from_slice(a.as_bytes());
            key[16..].copy_from_slice(b.as_bytes());
        }
        Self {
            key,
            origin: KeyOrigin::Random,
        }
    }

    fn derive(secret: &[u8], label: &[u8], origin: KeyOrigin) -> Self {
        let mut mac = Self::hmac_with(secret);
        mac.update(label);
        Self {
            key: mac.finalize().into_bytes().into(),
            origin,
        }
    }

    fn hmac_with(key: &[u8]) -> HmacSha256 {
        #[expect(clippy::unwrap_used, reason = "HMAC accepts keys of any length")]
        HmacSha256::new_from_slice(key).unwrap()
    }

    /// Where the key came from.
    pub fn origin(&self) -> KeyOrigin {
        self.origin
    }

    /// A MAC over `parts`, each length-prefixed so no two sequences collide.
    fn mac(&self, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = Self::hmac_with(&self.key);
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// The owner `principal` is.
    pub fn owner(&self, principal: &Principal) -> Owner {
        let (issuer, subject) = owner_identity(principal);
        let tag = self
            .mac(&[b"owner", issuer.as_bytes(), subject.as_bytes()])
            .finalize()
            .into_bytes();
        let mut out = [0u8; OWNER_BYTES];
        out.copy_from_slice(&tag[..OWNER_BYTES]);
        Owner(out)
    }

    /// Seals `payload` for `owner`, for use as `purpose` only (a token of one tool is not
    /// accepted by another). URL-safe base64 without padding.
    pub fn seal<T: Serialize>(&self, purpose: &str, owner: &Owner, payload: &T) -> String {
        let json = serde_json::to_vec(payload).unwrap_or_default();
        let tag = self
            .mac(&[purpose.as_bytes(), &owner.0, &json])
            .finalize()
            .into_bytes();
        let mut bytes = Vec::with_capacity(1 + OWNER_BYTES + MAC_BYTES + json.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&owner.0);
        bytes.extend_from_slice(&tag);
        bytes.extend_from_slice(&json);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A MAC (URL-safe base64) binding `bytes` to `owner` and `purpose`, for data kept where
    /// the caller can write it and too large for a token (`package_tasks.rs`: a task's state
    /// object in the registry bucket).
    pub fn tag(&self, purpose: &str, owner: &Owner, bytes: &[u8]) -> String {
        let tag = self
            .mac(&[purpose.as_bytes(), &owner.0, bytes])
            .finalize()
            .into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
    }

    /// Whether `tag` is [`SealKey::tag`] of `bytes` for `owner` and `purpose` (constant time).
    pub fn verify_tag(&self, purpose: &str, owner: &Owner, bytes: &[u8], tag: &str) -> bool {
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        self.mac(&[purpose.as_bytes(), &owner.0, bytes])
            .verify_slice(&tag)
            .is_ok()
    }

    /// Opens a token [`SealKey::seal`] made for `purpose`, if it was made for `owner`.
    pub fn open<T: DeserializeOwned>(
        &self,
        purpose: &str,
        owner: &Owner,
        token: &str,
    ) -> Result<T, SealError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(SealError::Invalid);
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| SealError::Invalid)?;
        let header = 1 + OWNER_BYTES + MAC_BYTES;
        if bytes.len() < header || bytes[0] != VERSION {
            return Err(SealError::Invalid);
        }
        let issued_to = &bytes[1..1 + OWNER_BYTES];
        let tag = &bytes[1 + OWNER_BYTES..header];
        let json = &bytes[header..];
        // The MAC first (constant time), over the owner the token names: a genuine token of
        // another caller verifies and is then told apart from a forgery.
        self.mac(&[purpose.as_bytes(), issued_to, json])
            .verify_slice(tag)
            .map_err(|_| SealError::Invalid)?;
        if issued_to != owner.0 {
            return Err(SealError::NotYours);
        }
        serde_json::from_slice(json).map_err(|_| SealError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(issuer: Option<&str>, subject: &str) -> Principal {
        let mut p = Principal::local(subject);
        if let Some(issuer) = issuer {
            p.issuer = issuer.to_owned();
        }
        p
    }

    fn key() -> SealKey {
        SealKey::from_settings(Some(&"k".repeat(32)), None).expect("key")
    }

    #[test]
    fn owners_differ_by_issuer_and_subject_and_key() {
        let k = key();
        let a = k.owner(&principal(Some("https://a"), "alice"));
        assert_eq!(a, k.owner(&principal(Some("https://a"), "alice")));
        assert_ne!(a, k.owner(&principal(Some("https://b"), "alice")));
        assert_ne!(a, k.owner(&principal(Some("https://a"), "bob")));
        // Length prefixes: ("ab", "c") and ("a", "bc") are different owners.
        assert_ne!(
            k.owner(&principal(Some("ab"), "c")),
            k.owner(&principal(Some("a"), "bc"))
        );
        assert_ne!(
            a,
            SealKey::random().owner(&principal(Some("https://a"), "alice"))
        );
        assert_eq!(Owner::from_hex(&a.hex()), Some(a));
        assert_eq!(a.hex().len(), 32);
        for bad in ["", "zz", &"g".repeat(32), &"a".repeat(31), &"a".repeat(34)] {
            assert_eq!(Owner::from_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_token_opens_only_for_its_owner_and_purpose() {
        let k = key();
        let alice = k.owner(&principal(None, "alice"));
        let bob = k.owner(&principal(None, "bob"));
        let t = k.seal("page", &alice, &("exec-1", 7u32));
        assert_eq!(
            k.open::<(String, u32)>("page", &alice, &t),
            Ok(("exec-1".into(), 7))
        );
        assert_eq!(
            k.open::<(String, u32)>("page", &bob, &t),
            Err(SealError::NotYours)
        );
        assert_eq!(
            k.open::<(String, u32)>("other", &alice, &t),
            Err(SealError::Invalid)
        );
        // Another key (another deployment, or a restart with a random key) refuses it.
        assert_eq!(
            SealKey::random().open::<(String, u32)>("page", &alice, &t),
            Err(SealError::Invalid)
        );
    }

    #[test]
    fn forged_altered_and_truncated_tokens_are_invalid() {
        let k = key();
        let alice = k.owner(&principal(None, "alice"));
        let bob = k.owner(&principal(None, "bob"));
        let t = k.seal("page", &alice, &("exec-1", 7u32));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&t)
            .expect("b64");
        let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        // Every single-byte change, and every truncation, is refused as invalid.
        for i in 0..raw.len() {
            let mut b = raw.clone();
            b[i] ^= 0x01;
            let got = k.open::<(String, u32)>("page", &alice, &enc(&b));
            assert_eq!(got, Err(SealError::Invalid), "byte {i} flipped");
            let got = k.open::<(String, u32)>("page", &alice, &enc(&raw[..i]));
            assert_eq!(got, Err(SealError::Invalid), "cut at {i}");
        }
        // Re-addressing a token to bob (his owner bytes) breaks the MAC: not a way to steal.
        let mut b = raw.clone();
        b[1..1 + OWNER_BYTES].copy_from_slice(&bob.0);
        assert_eq!(
            k.open::<(String, u32)>("page", &bob, &enc(&b)),
            Err(SealError::Invalid)
        );
        for junk in [
            "",
            "not base64 !",
            "eyJub3QiOiJhIHRva2VuIn0",
            &"A".repeat(5000),
        ] {
            assert_eq!(
                k.open::<(String, u32)>("page", &alice, junk),
                Err(SealError::Invalid)
            );
        }
    }

    #[test]
    fn tags_bind_bytes_to_owner_and_purpose() {
        let k = key();
        let alice = k.owner(&principal(None, "alice"));
        let bob = k.owner(&principal(None, "bob"));
        let tag = k.tag("state", &alice, b"working");
        assert!(k.verify_tag("state", &alice, b"working", &tag));
        assert!(!k.verify_tag("state", &alice, b"completed", &tag));
        assert!(!k.verify_tag("state", &bob, b"working", &tag));
        assert!(!k.verify_tag("other", &alice, b"working", &tag));
        assert!(!k.verify_tag("state", &alice, b"working", "not base64 !"));
        assert!(!SealKey::random().verify_tag("state", &alice, b"working", &tag));
    }

    #[test]
    fn key_settings() {
        assert!(SealKey::from_settings(Some("short"), None).is_err());
        let configured =
            SealKey::from_settings(Some(&"x".repeat(40)), Some(&"s".repeat(40))).expect("key");
        assert_eq!(configured.origin(), KeyOrigin::Configured);
        let from_jwt = SealKey::from_settings(None, Some(&"s".repeat(40))).expect("key");
        assert_eq!(from_jwt.origin(), KeyOrigin::JwtSecret);
        // Two tasks with the same JWT secret agree; the derived key is not the secret itself.
        let again = SealKey::from_settings(Some(""), Some(&"s".repeat(40))).expect("key");
        assert_eq!(from_jwt.key, again.key);
        assert_ne!(&from_jwt.key[..], "s".repeat(32).as_bytes());
        assert_eq!(
            SealKey::from_settings(None, None).expect("key").origin(),
            KeyOrigin::Random
        );
        assert!(!format!("{configured:?}").contains("xxxx"));
    }
}
