//! How a tool fails: [`ToolError`] with one of DESIGN.md's error codes, turned into an MCP
//! result with `isError: true` and structured content `{"error": {code, message, hint?}}`.
//!
//! Tool errors are for the model to read and correct (bad arguments, no permission, an
//! upstream outage). Protocol errors (unknown tool, malformed JSON-RPC) are rmcp's business.

use rmcp::model::CallToolResult;
use serde::Serialize;
use serde_json::json;

/// The error codes of DESIGN.md "Tools".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Arguments failed validation (including schema violations).
    InvalidArgument,
    /// The object, package or query does not exist.
    NotFound,
    /// AWS (or the caller's credentials) said no.
    AccessDenied,
    /// The target changed since the caller read it.
    Conflict,
    /// Over a size limit.
    TooLarge,
    /// The server's own policy says no (scopes, bucket grants), before any AWS call.
    NotPermitted,
    /// Did not finish in time.
    Timeout,
    /// A dependency (STS, S3, the catalog, the JWKS) is unavailable.
    UpstreamUnavailable,
    /// A bug or an unexpected state on our side.
    Internal,
    /// The user declined a confirmation (or the call ended to ask for one): nothing changed.
    Declined,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid_argument",
            Self::NotFound => "not_found",
            Self::AccessDenied => "access_denied",
            Self::Conflict => "conflict",
            Self::TooLarge => "too_large",
            Self::NotPermitted => "not_permitted",
            Self::Timeout => "timeout",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::Internal => "internal",
            Self::Declined => "declined",
        }
    }
}

/// A failed tool call. Messages must never contain secrets or tokens.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ToolError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What happened, for a model to read.
    pub message: String,
    /// What to try instead, when there is something to try.
    pub hint: Option<String>,
    /// The credential source in use, when the failure involved credentials.
    pub credential_source: Option<String>,
}

impl ToolError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
            credential_source: None,
        }
    }

    /// `invalid_argument`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    /// `not_permitted`.
    pub fn not_permitted(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotPermitted, message)
    }

    /// `internal`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The MCP result for this error.
    pub fn into_result(self) -> CallToolResult {
        let mut error = json!({"code": self.code.as_str(), "message": self.message});
        if let Some(hint) = self.hint {
            error["hint"] = hint.into();
        }
        if let Some(source) = self.credential_source {
            error["credential_source"] = source.into();
        }
        CallToolResult::structured_error(json!({ "error": error }))
    }
}

/// What an AWS or credential failure is to a tool: the one mapping, for credential errors and
/// SDK errors alike (`aws.rs`).
impl From<quilt_mcp_aws::error::ErrorKind> for ErrorCode {
    fn from(kind: quilt_mcp_aws::error::ErrorKind) -> Self {
        use quilt_mcp_aws::error::ErrorKind;
        match kind {
            ErrorKind::NotPermitted => Self::NotPermitted,
            ErrorKind::AccessDenied | ErrorKind::InvalidCredentials => Self::AccessDenied,
            ErrorKind::Unavailable => Self::UpstreamUnavailable,
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::Rejected => Self::InvalidArgument,
        }
    }
}
