//! [`CatalogError`]: what went wrong talking to the catalog, one variant per kind of answer,
//! so the server maps each to exactly one tool error code. Messages never carry the token.

use serde::Deserialize;

/// One entry of the schema's `InvalidInput.errors`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InputError {
    /// The argument it is about (`path` in the schema), when the catalog says.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
    /// A machine-readable name (e.g. `QuerySyntaxError`).
    pub name: String,
}

/// A failed catalog call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The catalog could not be reached, was too slow, or answered something that is not
    /// the catalog's API (HTML, a 5xx, a GraphQL error, JSON of another shape).
    #[error("the Quilt catalog is unavailable: {0}")]
    Unavailable(String),
    /// The catalog refused the token (HTTP 401/403, or an authorization GraphQL error).
    #[error("the Quilt catalog refused the token: {0}")]
    Unauthorized(String),
    /// The catalog's typed `InvalidInput` arm: the arguments were refused.
    #[error("the Quilt catalog refused the input: {}", describe(.0))]
    InvalidInput(Vec<InputError>),
    /// The catalog's typed `OperationError` arm, with its own name and message.
    #[error("{name}: {message}")]
    Operation {
        /// The error's name, as the catalog gives it.
        name: String,
        /// The catalog's message.
        message: String,
    },
    /// The thing asked for does not exist in the catalog (a `null` where an object was
    /// expected, such as an unknown bucket).
    #[error("{0}")]
    NotFound(String),
}

fn describe(errors: &[InputError]) -> String {
    if errors.is_empty() {
        return "no details".into();
    }
    errors
        .iter()
        .map(|e| match &e.path {
            Some(path) if !path.is_empty() => format!("{path}: {} ({})", e.message, e.name),
            _ => format!("{} ({})", e.message, e.name),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
