//! AWS access for quilt-mcp, always as the caller and never as anyone else.
//!
//! - [`CredentialBroker`] turns a caller ([`quilt_mcp_auth::RequestContext`]) and an
//!   [`AccessIntent`] into AWS credentials, from the first [`CredentialSource`] the operator
//!   listed that applies — and fails, naming the source, when that source fails. Results are
//!   cached per (source, role, subject) with single-flight ([`cache`]).
//! - [`ClientFactory`] builds S3, STS, Athena and Glue clients, and can only build them from a
//!   `RequestContext` and an intent: every data-plane client carries the caller's credentials.
//! - [`ServerIdentity`] is the process's own AWS identity (the ECS task role). It can assume
//!   roles and read a CloudFormation stack; it is handed to the broker's `ambient` source only
//!   when the operator listed `ambient`.
//! - [`StackRoles`] keeps the read/write roles' health (`/healthz`) fresh in the background.

pub mod ambient;
pub mod broker;
pub mod cache;
pub mod catalog;
pub mod clients;
pub mod credentials;
pub mod error;
pub mod role_allow;
pub mod s3uri;
pub mod settings;
pub mod source;
pub mod sql_guard;
pub mod stack;
pub mod sts;

pub use ambient::ServerIdentity;
pub use broker::{BrokerConfig, CredentialBroker, Resolved};
pub use catalog::RegistryLookup;
pub use clients::{Caller, ClientFactory};
pub use credentials::AwsCredentials;
pub use error::CredentialError;
pub use role_allow::RoleArnAllow;
pub use settings::AwsSettings;
pub use source::{AccessIntent, CredentialSource};
pub use stack::{RoleState, RoleStatus, StackRoles};
