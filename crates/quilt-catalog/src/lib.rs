//! A client of the Quilt catalog, the web application a Quilt stack serves beside its
//! buckets. It speaks to two of the catalog's public interfaces and nothing else:
//!
//! - `GET <catalog>/config.json` ([`CatalogConfig`]): where the registry API is
//!   (`registryUrl`) and the name of the Tabulator Athena data catalog; public, sent without
//!   a token.
//! - `POST <registry>/graphql` ([`CatalogClient::execute`]): typed operations
//!   ([`Operation`]), one Rust type per query or mutation in [`operations`], each document
//!   checked against the catalog's schema (`tests/catalog/quilt-catalog-schema.graphql`) by
//!   `tests/schema.rs`. The caller's own catalog token goes with it as a bearer token.
//!
//! [`urls`] builds the catalog's web URLs and `quilt+s3://` URIs (pure, no I/O).
//!
//! Failures are [`CatalogError`]s whose variants say what the catalog did, so the server can
//! map each to one tool error. The crate has no AWS dependency.

mod client;
mod config;
mod error;
mod operation;
pub mod operations;
pub mod urls;

pub use client::{CatalogClient, CatalogSettings};
pub use config::CatalogConfig;
pub use error::{CatalogError, InputError};
pub use operation::Operation;
