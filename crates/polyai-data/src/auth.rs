//! The API key: held as a secret, sent as a sensitive `X-API-KEY` header, never printed.

use std::fmt;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// Name of the header that carries the key.
pub(crate) const API_KEY_HEADER: &str = "x-api-key";

/// A PolyAI API key.
///
/// Create it in Agent Studio (API Keys tab) of the region you call: a key from
/// `studio.us.poly.ai` only works against `api.us.poly.ai`. `Debug` and `Display` print
/// `ApiKey(***)`; the key itself is only exposed to build the request header, which is marked
/// sensitive so that HTTP-level logging redacts it too.
///
/// ```
/// use polyai_data::ApiKey;
///
/// let key = ApiKey::new("sk-very-secret");
/// assert_eq!(format!("{key:?}"), "ApiKey(***)");
/// assert!(!format!("{key}").contains("very-secret"));
/// ```
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(SecretString::from(key.into()))
    }

    /// The header value, marked sensitive. Fails if the key holds characters a header cannot.
    pub(crate) fn header_value(&self) -> Result<HeaderValue, crate::Error> {
        let mut value = HeaderValue::from_str(self.0.expose_secret().trim()).map_err(|_| {
            crate::Error::Config(
                "the API key contains characters that are not allowed in an HTTP header".into(),
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// `true` when the key is empty or only whitespace.
    pub(crate) fn is_blank(&self) -> bool {
        self.0.expose_secret().trim().is_empty()
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        ApiKey::new(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        ApiKey::new(key)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_sensitive_and_debug_redacted() {
        let key = ApiKey::new(" secret-123 ");
        let value = key.header_value().ok();
        assert!(value.as_ref().is_some_and(|v| v.is_sensitive()));
        assert_eq!(
            value.as_ref().map(|v| v.as_bytes()),
            Some(&b"secret-123"[..])
        );
        assert!(!format!("{value:?}").contains("secret"));
        assert!(!format!("{key:?} {key}").contains("secret"));
    }

    #[test]
    fn rejects_control_characters_without_echoing_the_key() {
        let err = ApiKey::new("abc\ndef")
            .header_value()
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| !e.contains("abc")));
    }
}
