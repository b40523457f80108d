//! The `Error` envelope and the error codes PolyAI documents.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

tokio::task_local! {
    /// The correlation id of the request being served (set by the correlation middleware).
    pub(crate) static CORRELATION_ID: String;
}

/// The correlation id of the current request, or a fresh one outside a request.
pub(crate) fn current_correlation_id() -> String {
    CORRELATION_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| fresh_correlation_id())
}

/// A new random correlation id, in the form PolyAI's gateway uses.
pub(crate) fn fresh_correlation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Documented `error_code` values.
pub mod codes {
    /// 404: the conversation (or chat session) does not exist.
    pub const CONVERSATIONS_NOT_FOUND: &str = "CONVERSATIONS_NOT_FOUND";
    /// 400: request validation failed on a conversations endpoint.
    pub const CONVERSATIONS_VALIDATION_FAILED: &str = "CONVERSATIONS_VALIDATION_FAILED";
    /// 404: the conversation has no recording.
    pub const CONVERSATIONS_RECORDING_NOT_FOUND: &str = "CONVERSATIONS_RECORDING_NOT_FOUND";
    /// 400: the requested draft/variant does not exist.
    pub const CHAT_DRAFT_NOT_EXIST: &str = "CHAT_DRAFT_NOT_EXIST";
    /// 400: the chat session idled past its timeout.
    pub const CHAT_TIMEOUT: &str = "CHAT_TIMEOUT";
    /// 410: the agent already ended this chat.
    pub const CHAT_CONVERSATION_ENDED: &str = "CHAT_CONVERSATION_ENDED";
    /// 401: the key is not known (or belongs to another region).
    pub const AUTH_USER_NOT_FOUND: &str = "AUTH_USER_NOT_FOUND";
    /// 401: no usable key was sent.
    pub const AUTH_USER_INVALID_TOKEN: &str = "AUTH_USER_INVALID_TOKEN";
    /// 403: the key may not access this agent.
    pub const ACCOUNT_INSUFFICIENT_PERMISSIONS: &str = "ACCOUNT_INSUFFICIENT_PERMISSIONS";
    /// 400 (v3 listing): a filter, paging parameter or cursor is invalid.
    pub const GET_CONVERSATIONS_FILTER_PARSE_ERROR: &str = "GET_CONVERSATIONS_FILTER_PARSE_ERROR";
    /// 404 (v3 listing): the account (workspace) does not exist.
    pub const ACCOUNT_NOT_FOUND: &str = "ACCOUNT_NOT_FOUND";
    /// 404: the agent (project) does not exist.
    pub const PROJECT_NOT_FOUND: &str = "PROJECT_NOT_FOUND";
    /// 400: a request body or parameter failed generic validation.
    pub const SCHEMA_VALIDATION_FAILED: &str = "SCHEMA_VALIDATION_FAILED";
    /// 404 for paths the API does not have.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// 405 for methods a path does not support.
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// 429 from the rate-limit fault.
    pub const RATE_LIMITED: &str = "RATE_LIMIT_EXCEEDED";
    /// 5xx from injected faults.
    pub const INTERNAL_ERROR: &str = "INTERNAL_SERVER_ERROR";
}

/// An error answer: HTTP status, `error_code` and message. Renders as PolyAI's `Error` envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error_code` value.
    pub code: &'static str,
    /// `error` / `error_message` text.
    pub message: String,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `CONVERSATIONS_VALIDATION_FAILED`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            codes::CONVERSATIONS_VALIDATION_FAILED,
            message,
        )
    }

    /// 400 `SCHEMA_VALIDATION_FAILED`.
    pub fn schema(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            codes::SCHEMA_VALIDATION_FAILED,
            message,
        )
    }

    /// 404 `CONVERSATIONS_NOT_FOUND`.
    pub fn conversation_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::CONVERSATIONS_NOT_FOUND,
            "Conversation ID does not exist.",
        )
    }

    /// The JSON envelope for this error with the given `error_id`.
    pub fn envelope(&self, error_id: &str) -> serde_json::Value {
        json!({
            "success": false,
            "error": self.message,
            "error_id": error_id,
            "error_code": self.code,
            "error_message": self.message,
            "data": null,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.envelope(&current_correlation_id()).to_string();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

/// A `200`/`201` JSON answer.
pub(crate) fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    let body = match serde_json::to_vec(value) {
        Ok(body) => body,
        Err(e) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::INTERNAL_ERROR,
                format!("Could not encode the response: {e}"),
            )
            .into_response();
        }
    };
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
