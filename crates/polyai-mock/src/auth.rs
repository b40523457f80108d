//! `X-API-KEY` authentication and agent scoping.

use axum::http::{HeaderMap, StatusCode};

use crate::config::ApiKey;
use crate::errors::{ApiError, codes};

/// Name of the key header (matched case-insensitively, as HTTP header names are).
pub const API_KEY_HEADER: &str = "x-api-key";

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// The key a request authenticates with, checked against `keys` and the server's `region`.
///
/// Missing or empty keys answer `AUTH_USER_INVALID_TOKEN`; unknown keys and keys issued for another
/// region answer `AUTH_USER_NOT_FOUND` (the same 401 envelope, as PolyAI's gateway does).
pub fn authenticate<'k>(
    headers: &HeaderMap,
    keys: &'k [ApiKey],
    region: &str,
) -> Result<&'k ApiKey, ApiError> {
    let sent = headers
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            unauthorized(
                codes::AUTH_USER_INVALID_TOKEN,
                "Missing or invalid API key in the X-API-KEY header.",
            )
        })?;
    keys.iter()
        .find(|k| k.key == sent && k.region == region)
        .ok_or_else(|| {
            unauthorized(
                codes::AUTH_USER_NOT_FOUND,
                "The API key is not valid for this region.",
            )
        })
}

/// Checks that `key` may access `agent_id`.
pub fn authorize_agent(key: &ApiKey, agent_id: &str) -> Result<(), ApiError> {
    match &key.agents {
        Some(agents) if !agents.iter().any(|a| a == agent_id) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            codes::ACCOUNT_INSUFFICIENT_PERMISSIONS,
            "The API key does not have permission to access this agent.",
        )),
        _ => Ok(()),
    }
}
