//! The HTTP layer's error: one JSON shape for every failure, a status code per
//! kind, a safe message for clients and the detail in the logs.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::otlp::OtlpError;
use crate::store::StoreError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable message, safe to show.
    pub message: String,
    /// The query or path parameter at fault.
    pub parameter: Option<String>,
    /// Seconds after which a retry may succeed.
    pub retry_after: Option<u32>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            parameter: None,
            retry_after: None,
        }
    }

    /// 400 naming the parameter at fault.
    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> Self {
        Self {
            parameter: Some(parameter.to_owned()),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
        }
    }

    /// 404 for a missing resource.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
        }
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong api key: send Authorization: Bearer <key>",
        )
    }

    /// 500 with a safe message; the detail goes to the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Detail {
                code: self.code,
                message: &self.message,
                parameter: self.parameter.as_deref(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::InvalidCursor => Self::bad_parameter(
                "cursor",
                "invalid cursor: pass next_cursor from the previous page unchanged",
            ),
            StoreError::Backend(detail) => Self::internal(detail),
        }
    }
}

impl From<OtlpError> for ApiError {
    fn from(e: OtlpError) -> Self {
        let status = match e {
            OtlpError::Decode(_) => StatusCode::BAD_REQUEST,
            OtlpError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            OtlpError::UnsupportedMediaType(_) | OtlpError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
        };
        let code = match e {
            OtlpError::Decode(_) => "invalid_body",
            OtlpError::TooLarge { .. } => "body_too_large",
            OtlpError::UnsupportedMediaType(_) => "unsupported_media_type",
            OtlpError::UnsupportedEncoding(_) => "unsupported_encoding",
        };
        Self::new(status, code, e.to_string())
    }
}
