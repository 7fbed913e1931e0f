//! Authentication for quilt-mcp: who is calling, proven by a bearer JWT.
//!
//! - [`TokenVerifier`] checks a token (HS256 secrets with rotation, or JWKS with a cache)
//!   and turns its claims into a [`Principal`].
//! - [`Principal`] is the caller as a value: issuer and subject (the [`IdentityKey`]), scopes, bucket grants, and the AWS
//!   identity material its token carries (embedded credentials, a role ARN), validated.
//! - [`RequestContext`] carries the principal through one request, as a value (the server
//!   keeps it in its call scope while a tool runs; this crate has no task-local).
//!
//! This crate has no AWS dependencies: it only says who the caller is.

mod claims;
mod context;
mod error;
mod grants;
pub mod identity;
mod jwks;
mod principal;
mod secret;
mod verifier;

pub use context::{AuthMethod, RequestContext};
pub use error::AuthError;
pub use grants::{BucketGrant, BucketGrants, is_valid_bucket_name};
pub use identity::IdentityKey;
pub use jwks::{JwksOptions, JwksStatus, is_https_or_loopback};
pub use principal::{EmbeddedCredentials, Principal, RoleArn, RoleArnError};
pub use secret::Secret;
pub use verifier::{MAX_TOKEN_BYTES, TokenVerifier, VerifierOptions};
