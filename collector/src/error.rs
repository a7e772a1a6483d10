//! Every error answer is JSON (`shared::api::ErrorBody`): the client's faults are
//! 4xx and say what is wrong; ours are 5xx, logged with their cause chain and
//! answered without internals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use shared::api::{ErrorBody, ErrorDetail, Tombstone};
use shared::SessionId;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or breaks a limit.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotFound(String),
    /// No credentials, or credentials nobody issued.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Valid credentials that may not do this.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The session was deleted; the body carries its tombstone.
    #[error("session {} was deleted ({})", .0.session_id, .0.reason)]
    Gone(Box<Tombstone>),
    /// The session was deleted, told to a writer: holding the public site key
    /// is no reason to learn who deleted it, when, or its chain head, so the
    /// body has no tombstone.
    #[error("session {0} was deleted; it takes no more events")]
    GoneForWriters(SessionId),
    #[error("{0}")]
    Unavailable(String),
    /// Over a rate limit; come back after `retry_after_secs`.
    #[error("too many requests from this {scope}; retry after {retry_after_secs} s")]
    TooManyRequests {
        scope: &'static str,
        retry_after_secs: u64,
    },
    /// The client took too long to send its body.
    #[error("{0}")]
    RequestTimeout(String),
    /// An API endpoint asked with a method it does not serve; `allow` lists
    /// those it does (also sent as `Allow`).
    #[error("{method} is not served here; this endpoint answers {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    /// The request clashes with what is stored (nothing was changed).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The machine-readable reason, as the JSON error and the metrics name it.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::Gone(_) | ApiError::GoneForWriters(_) => "session_deleted",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::RequestTimeout(_) => "body_timeout",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Gone(_) | ApiError::GoneForWriters(_) => StatusCode::GONE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let ApiError::Unauthorized { .. } = self {
            res.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            res.insert_header((actix_web::http::header::RETRY_AFTER, *retry_after_secs));
        }
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            res.insert_header((actix_web::http::header::ALLOW, *allow));
        }
        res.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().into(),
                message: self.to_string(),
            },
            tombstone: match self {
                ApiError::Gone(t) => Some((**t).clone()),
                _ => None,
            },
        })
    }
}
