//! The server's errors as clients see them: one [`ErrorCode`] table that gives
//! each kind of failure its HTTP status, its gRPC code and its JSON `code`, and
//! [`ApiError`], answered as one JSON shape with a safe message (the detail
//! goes to the logs).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::otlp::OtlpError;
use crate::store::StoreError;

/// Seconds a client is told to wait before retrying a retryable failure.
pub const RETRY_AFTER_SECS: u32 = 1;

/// Every kind of failure the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A query or path parameter is unknown, repeated or malformed.
    InvalidParameter,
    /// The request body is not what the route takes.
    InvalidBody,
    /// The API key is missing or wrong.
    Unauthorized,
    /// The project, session, trace, annotation or route does not exist.
    NotFound,
    /// The request is understood but refused (the default project cannot be
    /// deleted).
    Forbidden,
    /// The request names something ambiguously (a session id found in several
    /// projects) or would clash with what is stored (a project that exists).
    Conflict,
    /// The body did not arrive in time.
    BodyTimeout,
    /// The body, or what it inflates to, is over the limit.
    BodyTooLarge,
    /// The content type is not one the route reads.
    UnsupportedMediaType,
    /// The content encoding is not gzip or identity.
    UnsupportedEncoding,
    /// Overloaded or storage briefly unavailable: retry later.
    Unavailable,
    /// Stored data could not be read back; an operator should look.
    CorruptData,
    /// Anything else; the detail is in the server's log.
    Internal,
}

impl ErrorCode {
    /// `(JSON code, HTTP status, gRPC code)`, the one table of the mapping.
    const fn table(self) -> (&'static str, StatusCode, tonic::Code) {
        use tonic::Code as G;
        match self {
            Self::InvalidParameter => (
                "invalid_parameter",
                StatusCode::BAD_REQUEST,
                G::InvalidArgument,
            ),
            Self::InvalidBody => ("invalid_body", StatusCode::BAD_REQUEST, G::InvalidArgument),
            Self::Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED, G::Unauthenticated),
            Self::NotFound => ("not_found", StatusCode::NOT_FOUND, G::NotFound),
            Self::Forbidden => ("forbidden", StatusCode::FORBIDDEN, G::PermissionDenied),
            Self::Conflict => ("conflict", StatusCode::CONFLICT, G::FailedPrecondition),
            Self::BodyTimeout => (
                "body_timeout",
                StatusCode::REQUEST_TIMEOUT,
                G::DeadlineExceeded,
            ),
            Self::BodyTooLarge => (
                "body_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                G::ResourceExhausted,
            ),
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                G::InvalidArgument,
            ),
            Self::UnsupportedEncoding => (
                "unsupported_encoding",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                G::Unimplemented,
            ),
            Self::Unavailable => (
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                G::Unavailable,
            ),
            Self::CorruptData => (
                "corrupt_data",
                StatusCode::INTERNAL_SERVER_ERROR,
                G::DataLoss,
            ),
            Self::Internal => ("internal", StatusCode::INTERNAL_SERVER_ERROR, G::Internal),
        }
    }

    /// The stable machine-readable code in the JSON body.
    pub const fn as_str(self) -> &'static str {
        self.table().0
    }

    /// The HTTP status.
    pub const fn http_status(self) -> StatusCode {
        self.table().1
    }

    /// The gRPC status code.
    pub const fn grpc_code(self) -> tonic::Code {
        self.table().2
    }

    /// Whether the same request may succeed later (answers carry `Retry-After`).
    pub const fn retryable(self) -> bool {
        matches!(self, Self::Unavailable)
    }
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// Human-readable message, safe to show.
    pub message: String,
    /// The query or path parameter, or body field, at fault.
    pub parameter: Option<String>,
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
    /// The message again, where Phoenix's clients read it (FastAPI's
    /// `{"detail": ...}`), so an error says what went wrong through either API.
    pub detail: String,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `invalid_parameter`, `invalid_body`,
    /// `unauthorized`, `not_found`, `forbidden`, `conflict`, `body_timeout`,
    /// `body_too_large`,
    /// `unsupported_media_type`, `unsupported_encoding`, `unavailable`,
    /// `corrupt_data` or `internal`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// The parameter or body field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            parameter: None,
        }
    }

    /// Names the parameter or body field at fault.
    pub fn at(mut self, parameter: impl Into<String>) -> Self {
        self.parameter = Some(parameter.into());
        self
    }

    /// 400 naming the query or path parameter at fault.
    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message).at(parameter)
    }

    /// 400 for a body that is not what the route takes.
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidBody, message)
    }

    /// 404 for a missing resource.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// 409 for a request that is ambiguous or clashes with what is stored.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "missing or wrong api key: send Authorization: Bearer <key>",
        )
    }

    /// 500 with a safe message; the detail goes to the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// The gRPC status carrying the same message.
    pub fn to_grpc(&self) -> tonic::Status {
        tonic::Status::new(self.code.grpc_code(), self.message.clone())
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message.clone(),
                parameter: self.parameter.clone(),
            },
            detail: self.message.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.code.http_status(), Json(self.body())).into_response();
        if self.code.retryable() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::AlreadyExists(what) => Self::conflict(format!("{what} already exists")),
            StoreError::InvalidCursor => Self::bad_parameter(
                "cursor",
                "invalid cursor: pass next_cursor from the previous page unchanged",
            ),
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "storage unavailable");
                Self::unavailable("storage unavailable, retry later")
            }
            StoreError::Conflict(detail) => {
                tracing::warn!(error = %detail, "write kept conflicting with concurrent writers");
                Self::unavailable("concurrent writes got in the way, retry later")
            }
            StoreError::Corrupt(detail) => {
                tracing::error!(error = %detail, "corrupt stored data");
                Self::new(
                    ErrorCode::CorruptData,
                    "stored data could not be read back; see the server log",
                )
            }
            StoreError::Backend(detail) => Self::internal(detail),
            StoreError::Invalid {
                index,
                field,
                message,
            } => Self::invalid_body(message).at(format!("data[{index}].{field}")),
        }
    }
}

impl From<OtlpError> for ApiError {
    fn from(e: OtlpError) -> Self {
        let code = match e {
            OtlpError::Decode(_) => ErrorCode::InvalidBody,
            OtlpError::TooLarge { .. } => ErrorCode::BodyTooLarge,
            OtlpError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            OtlpError::UnsupportedEncoding(_) => ErrorCode::UnsupportedEncoding,
        };
        Self::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_consistently() {
        use ErrorCode::*;
        for code in [
            InvalidParameter,
            InvalidBody,
            Unauthorized,
            NotFound,
            Forbidden,
            Conflict,
            BodyTimeout,
            BodyTooLarge,
            UnsupportedMediaType,
            UnsupportedEncoding,
            Unavailable,
            CorruptData,
            Internal,
        ] {
            let status = code.http_status();
            // 4xx are the client's to fix, never a retryable server state.
            assert_eq!(
                status.is_client_error(),
                !matches!(code, Unavailable | CorruptData | Internal),
                "{code:?}"
            );
            assert_eq!(
                code.retryable(),
                status == StatusCode::SERVICE_UNAVAILABLE,
                "{code:?}"
            );
            assert!(!code.as_str().is_empty());
        }
        assert_eq!(InvalidBody.grpc_code(), tonic::Code::InvalidArgument);
        assert_eq!(Unavailable.grpc_code(), tonic::Code::Unavailable);
    }
}
