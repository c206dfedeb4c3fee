//! An HTTP API error: a status and the `{code, message}` body every endpoint answers with.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use confab_protocol::ErrorCode;
use confab_protocol::api::ApiError;
use std::time::Duration;
use tracing::error;

#[derive(Debug)]
pub(crate) struct HttpError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    /// Whole seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl HttpError {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Says when to try again (`Retry-After`, whole seconds, at least one).
    pub(crate) fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        self
    }

    /// 429: this account or address must wait before another sign-in or registration.
    pub(crate) fn throttled(wait: Duration) -> Self {
        let secs = wait.as_secs_f64().ceil().max(1.0);
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            // Per account only failures count, per address every attempt: say neither.
            format!("too many attempts; try again in {secs} s"),
        )
        .retry_after(wait)
    }

    /// A failure of ours: logged in full, answered without detail. A full hashing queue is not
    /// a fault but load: 503 `busy` with `Retry-After`, and no error in the log.
    pub(crate) fn internal(err: &crate::Error) -> Self {
        if matches!(err, crate::Error::Busy) {
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Busy,
                "the server is busy; try again shortly",
            )
            .retry_after(Duration::from_secs(1));
        }
        error!(error = %err, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error",
        )
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = ApiError {
            code: self.code,
            message: self.message,
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
