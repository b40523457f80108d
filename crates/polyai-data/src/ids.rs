//! Ids in URL paths: every id reaches the server as exactly the one path segment it is, or is
//! refused before anything is sent.
//!
//! Ids come from users and from servers (a listing names the conversations a later call
//! fetches), so they are untrusted. The generated client percent-encodes path parameters
//! ([`polyai_data_raw::encode_path`]: every byte but RFC 3986's unreserved characters), and every
//! request built from it is checked here twice:
//! - [`check_id`], before the request is built: refuses the ids no encoding carries through a
//!   URL parser — the empty id (it would merge with the next segment), `.` and `..` (read as
//!   "this folder" and "the parent folder" by URL parsers, proxies and servers, also as `%2E`);
//! - [`check_path`], on the built URL, before the request is sent: each id must come
//!   back, percent-decoded, as one whole path segment, in order — so a change of the generator's
//!   encoding cannot silently send a request somewhere else.

use crate::error::Error;

/// Refuses an id that cannot be sent as one path segment, naming it and `what` it is (e.g.
/// `conversation id`).
pub(crate) fn check_id(what: &str, id: &str) -> Result<(), Error> {
    let why = match id {
        "" => "it is empty",
        "." | ".." => {
            "`.` and `..` are read as folder references in a URL path and would call another endpoint"
        }
        _ => return Ok(()),
    };
    Err(Error::InvalidRequest(format!(
        "the {what} `{}` cannot be sent: {why}",
        shown(id)
    )))
}

/// The named path ids of an operation on one conversation, for `Exchange::path_ids`.
pub(crate) fn conversation<'a>(
    agent: &'a str,
    conversation: &'a str,
) -> [(&'static str, &'a str); 2] {
    [("agent id", agent), ("conversation id", conversation)]
}

/// Checks that `url`'s path holds each of `ids`, percent-decoded, as a whole segment, in order.
pub(crate) fn check_path(
    operation: &str,
    url: &reqwest::Url,
    ids: &[(&str, impl AsRef<str>)],
) -> Result<(), Error> {
    let mut segments = url
        .path_segments()
        .into_iter()
        .flatten()
        .map(percent_decode);
    for (what, id) in ids {
        let id = id.as_ref();
        if !segments.any(|segment| segment.as_deref() == Some(id)) {
            return Err(Error::InvalidRequest(format!(
                "{operation}: the {what} `{}` would not reach the server as one path segment of {}",
                shown(id),
                url.path()
            )));
        }
    }
    Ok(())
}

/// The id as typed, with control characters escaped so an error stays on one line.
fn shown(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Strict percent-decoding of one path segment; `None` for a bad escape or invalid UTF-8. A
/// segment without escapes is returned as it is.
fn percent_decode(segment: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !segment.contains('%') {
        return Some(segment.into());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Into::into)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the client would send for the audio of `conversation`: the checks an exchange makes
    /// around the generated builder; `None` when refused.
    fn audio_url(agent: &str, conversation: &str) -> Option<reqwest::Url> {
        let ids = [("agent id", agent), ("conversation id", conversation)];
        for (what, id) in ids {
            check_id(what, id).ok()?;
        }
        let capture = polyai_data_raw::Capture::new();
        crate::builder::install_tls_provider();
        let spec = polyai_data_raw::Client::new_with_client(
            "https://api.example/prefix",
            reqwest::Client::new(),
            capture.hooks(),
        );
        let built = capture
            .take(spec.get_conversation_audio(agent, conversation, None, None, None))
            .ok()?;
        let request = built.into_request();
        check_path("get_conversation_audio", request.url(), &ids).ok()?;
        // What a proxy or server sees: the URL re-parsed from its text.
        reqwest::Url::parse(request.url().as_str()).ok()
    }

    fn decoded_segments(url: &reqwest::Url) -> Vec<String> {
        url.path_segments()
            .into_iter()
            .flatten()
            .map(|s| percent_decode(s).map_or_else(|| format!("<bad escape {s}>"), String::from))
            .collect()
    }

    #[test]
    fn refused_ids_say_why() {
        for id in ["", ".", ".."] {
            let err = check_id("conversation id", id).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("conversation id") && e.contains("cannot be sent")),
                "{id:?}: {err:?}"
            );
        }
        for id in ["...", "a/b", "%2e%2e", "a?b#c", "é", " ", "a\\b", "\\"] {
            assert!(check_id("conversation id", id).is_ok(), "{id:?}");
        }
    }

    /// The decoded segments of the URL for `agent` and `conversation`, with those two put
    /// back as placeholders: equal to the placeholders' own URL when both ids stayed one segment.
    fn shape(agent: &str, conversation: &str) -> Option<Vec<String>> {
        let url = audio_url(agent, conversation)?;
        let mut segments = decoded_segments(&url);
        let at = |id: &str, segments: &[String]| segments.iter().position(|s| s == id);
        let a = at(agent, &segments)?;
        segments[a] = "{agent}".into();
        let c = at(conversation, &segments[a + 1..])? + a + 1;
        segments[c] = "{conversation}".into();
        Some(segments)
    }

    #[test]
    fn reserved_characters_reach_the_server_in_one_segment() {
        let reference = shape("A", "C");
        assert!(
            reference.as_ref().is_some_and(|r| r.len() > 4),
            "{reference:?}"
        );
        for id in [
            "a/b", "%2e%2e", "a?b#c", "...", "é ", "a;b", "a[b]", "a\\b", "\\",
        ] {
            assert_eq!(shape("A", id), reference, "{id}");
        }
        assert!(audio_url("A", "..").is_none());
        assert!(audio_url("..", "C").is_none());
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Any id is refused, or comes back out of the URL as the one segment it was, with every
        /// other segment where it belongs.
        #[test]
        fn ids_never_change_the_path(
            agent in prop_oneof![any::<String>(), "[A-Z0-9-]{1,12}"],
            conversation in prop_oneof![
                any::<String>(),
                "[./%2eE\\\\?#a-c ]{0,6}",
            ],
        ) {
            let refused = |id: &str| check_id("id", id).is_err();
            match audio_url(&agent, &conversation) {
                None => prop_assert!(refused(&agent) || refused(&conversation)),
                Some(url) => {
                    prop_assert!(url.query().is_none() && url.fragment().is_none());
                    prop_assert_eq!(shape(&agent, &conversation), shape("A", "C"));
                }
            }
        }
    }
}
