//! What a successful answer said besides its body: status, correlation id, headers.

use reqwest::header::HeaderMap;

/// Metadata of a successful response: the HTTP status, the correlation id and the headers.
///
/// The correlation id is the `X-PolyAI-Correlation-Id` the server echoed, or the one this
/// client sent when the server echoed none; quote it when reporting a problem to PolyAI.
/// `Debug` prints the status, the correlation id and the header *names* only.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// let (conversation, meta) = agent
///     .conversations()
///     .get("CA1")
///     .correlation_id("ticket-42")
///     .send_with_meta()
///     .await?;
/// println!("{} {} {:?}", conversation.conversation_id, meta.status(), meta.header("content-type"));
/// assert_eq!(meta.correlation_id(), "ticket-42");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ResponseMeta {
    pub(crate) status: u16,
    pub(crate) correlation_id: String,
    pub(crate) headers: HeaderMap,
}

impl ResponseMeta {
    /// Metadata with no headers, for pages built by unit tests.
    #[cfg(test)]
    pub(crate) fn empty() -> Self {
        ResponseMeta {
            status: 200,
            correlation_id: String::new(),
            headers: HeaderMap::new(),
        }
    }

    /// The HTTP status code (`200`, `201`, `204`, …).
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let page = agent.conversations().list().await?;
    /// assert!((200..300).contains(&page.meta().status()));
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The correlation id of the call: the one the server echoed, else the one sent.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let ((), meta) = agent.note("CA1", "called back").send_with_meta().await?;
    /// println!("note saved, correlation id {}", meta.correlation_id());
    /// # Ok(()) }
    /// ```
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// The first value of header `name` (any case), or `None` when it is absent or not
    /// valid UTF-8.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let (_, meta) = agent.conversations().get("CA1").send_with_meta().await?;
    /// if let Some(limit) = meta.header("X-RateLimit-Remaining") {
    ///     println!("{limit} calls left");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every header as `(lower-case name, raw value)`, a repeated header once per value.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let page = agent.conversations().list().await?;
    /// for (name, value) in page.meta().headers() {
    ///     println!("{name}: {}", String::from_utf8_lossy(value));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
    }
}

impl std::fmt::Debug for ResponseMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(|name| name.as_str()).collect();
        f.debug_struct("ResponseMeta")
            .field("status", &self.status)
            .field("correlation_id", &self.correlation_id)
            .field("headers", &names)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn meta() -> ResponseMeta {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.append("set-cookie", HeaderValue::from_static("a=secret"));
        headers.append("set-cookie", HeaderValue::from_static("b=secret"));
        headers.insert(
            "x-binary",
            HeaderValue::from_bytes(b"\xff\xfe").unwrap_or(HeaderValue::from_static("")),
        );
        ResponseMeta {
            status: 200,
            correlation_id: "cid-1".into(),
            headers,
        }
    }

    #[test]
    fn header_lookup_ignores_case_and_skips_non_utf8() {
        let meta = meta();
        assert_eq!(meta.header("Content-Type"), Some("application/json"));
        assert_eq!(meta.header("content-type"), Some("application/json"));
        assert_eq!(meta.header("x-binary"), None);
        assert_eq!(meta.header("missing"), None);
        assert_eq!(meta.header("not a header name"), None);
    }

    #[test]
    fn headers_lists_every_value() {
        let meta = meta();
        let cookies: Vec<&[u8]> = meta
            .headers()
            .filter(|(name, _)| *name == "set-cookie")
            .map(|(_, value)| value)
            .collect();
        assert_eq!(cookies, [&b"a=secret"[..], &b"b=secret"[..]]);
    }

    #[test]
    fn debug_shows_names_not_values() {
        let text = format!("{:?}", meta());
        assert!(
            text.contains("cid-1") && text.contains("set-cookie"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
