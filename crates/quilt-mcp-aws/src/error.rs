//! Why a caller got no credentials. Every variant names the source that failed, so a tool
//! error can say which one; none carries secret material. [`CredentialError::kind`] says
//! what a client should make of it (the server maps it to a tool error code).

use aws_sdk_sts::config::http::HttpResponse;

use crate::source::CredentialSource;

/// What kind of failure, for mapping to tool error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server's own policy refuses (no source applies, a role not allow-listed).
    NotPermitted,
    /// AWS or the catalog said no.
    AccessDenied,
    /// The caller's token carries something unusable (e.g. expired embedded credentials).
    InvalidCredentials,
    /// A dependency could not be reached or answered nonsense.
    Unavailable,
    /// The thing asked for does not exist.
    NotFound,
    /// AWS refused the request as malformed (a bad range, a bad parameter, a bad query).
    Rejected,
}

/// A failure to get credentials for a caller.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    /// None of the configured sources applies to this caller.
    #[error("no credential source applies to this caller (configured: {configured}); {hint}")]
    NoSource {
        /// The configured sources, comma separated.
        configured: String,
        /// What would make one apply.
        hint: String,
    },
    /// A source applies but failed.
    #[error("credential source {credential_source}: {message}")]
    Failed {
        /// The source that failed.
        credential_source: CredentialSource,
        /// What kind of failure.
        kind: ErrorKind,
        /// What happened (AWS error code and request id included when there are any).
        message: String,
    },
}

impl CredentialError {
    pub(crate) fn failed(
        source: CredentialSource,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self::Failed {
            credential_source: source,
            kind,
            message: message.into(),
        }
    }

    /// The source that failed, if one was tried.
    pub fn source_name(&self) -> Option<CredentialSource> {
        match self {
            Self::NoSource { .. } => None,
            Self::Failed {
                credential_source, ..
            } => Some(*credential_source),
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NoSource { .. } => ErrorKind::NotPermitted,
            Self::Failed { kind, .. } => *kind,
        }
    }
}

/// Describes an SDK error without secrets: code, message and request id when AWS sent them.
pub fn describe_sdk_error<E>(
    err: &aws_sdk_sts::error::SdkError<E, HttpResponse>,
) -> (ErrorKind, String)
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_sts::error::SdkError;
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let status = service.raw().status().as_u16();
            // Some answers carry no parseable error code (emulators, proxies): fall back to the
            // HTTP status so a 403 is still a denial and a 5xx still an outage.
            let code = e.code().unwrap_or(match status {
                401 | 403 => "AccessDenied",
                404 => "NotFound",
                500..=599 => "ServiceUnavailable",
                _ => "Unknown",
            });
            let message = e.message().unwrap_or("no message in the answer");
            let request_id = e
                .meta()
                .extra("aws_request_id")
                .map(|id| format!(" (request id {id})"))
                .unwrap_or_default();
            let kind = match code {
                "AccessDenied"
                | "AccessDeniedException"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "RegionDisabledException"
                | "UnrecognizedClientException" => ErrorKind::AccessDenied,
                "Throttling"
                | "ThrottlingException"
                | "ServiceUnavailable"
                | "InternalFailure"
                | "InternalError"
                | "SlowDown" => ErrorKind::Unavailable,
                "NoSuchKey"
                | "NoSuchBucket"
                | "NotFound"
                | "NoSuchVersion"
                | "EntityNotFoundException"
                | "ResourceNotFoundException" => ErrorKind::NotFound,
                // Any other code: the HTTP status says whose fault it is.
                _ => match status {
                    401 | 403 => ErrorKind::AccessDenied,
                    500..=599 => ErrorKind::Unavailable,
                    _ => ErrorKind::Rejected,
                },
            };
            (
                kind,
                format!("{code} (HTTP {status}): {message}{request_id}"),
            )
        }
        SdkError::TimeoutError(_) => (ErrorKind::Unavailable, "timed out".into()),
        SdkError::DispatchFailure(d) => {
            let what = if d.is_timeout() {
                "timed out (connecting, or waiting for the answer)"
            } else if d.is_io() {
                "connection failed"
            } else {
                "request could not be sent"
            };
            (ErrorKind::Unavailable, what.into())
        }
        SdkError::ResponseError(_) => (ErrorKind::Unavailable, "unreadable response".into()),
        SdkError::ConstructionFailure(_) => {
            (ErrorKind::Unavailable, "request could not be built".into())
        }
        _ => (ErrorKind::Unavailable, "unknown SDK error".into()),
    }
}
