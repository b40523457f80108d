//! The Conversations API v3 filters of `conversations list`: time window, search, sampling,
//! channels, variant, state.

use polyai_data::Timestamp;
use polyai_data::record::ConversationRecord;
use polyai_data::v3::{ListConversations, TurnType};

use crate::cli::{Side, V3Filters};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::when;

/// The time window `--since`/`--until` set on `listing`.
pub fn with_window(
    mut listing: ListConversations,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> ListConversations {
    if let Some(since) = since {
        listing = listing.start_time(since);
    }
    if let Some(until) = until {
        listing = listing.end_time(until);
    }
    listing
}

/// `list` with the filters set (window, search, channels, variant, state, latency).
pub fn filtered(
    ctx: &Ctx<'_>,
    list: ListConversations,
    filters: &V3Filters,
    limit: u64,
) -> Result<ListConversations, CliError> {
    if limit > polyai_data::v3::MAX_LIMIT {
        return Err(CliError::Usage(format!(
            "--limit {limit}: the Conversations API v3 returns at most {} per page; use --all to walk every page",
            polyai_data::v3::MAX_LIMIT
        )));
    }
    let (since, until) = when::window(
        filters.since.as_deref(),
        filters.until.as_deref(),
        ctx.session.now(),
    )?;
    let mut listing = with_window(list, since, until)
        .limit(limit)
        .channels(filters.channel.iter().cloned())
        .include_latency(filters.latency);
    if let Some(text) = &filters.search {
        listing = if filters.semantic {
            listing.semantic_search(text)
        } else {
            listing.transcript_search(text)
        };
    }
    if let Some(side) = filters.side {
        listing = listing.turn_type(match side {
            Side::User => TurnType::User,
            Side::Agent => TurnType::Agent,
        });
    }
    if filters.sample {
        listing = listing.sample_random();
    }
    if let Some(name) = &filters.variant {
        listing = listing.variant_name(name);
    }
    if let Some(id) = &filters.variant_id {
        listing = listing.variant_id(id);
    }
    if filters.in_progress || filters.finished {
        listing = listing.in_progress(filters.in_progress);
    }
    Ok(listing)
}

/// A literal transcript search (`--search` without `--semantic`), whose match the table shows.
#[derive(Debug, Clone, Copy)]
pub struct Search<'a> {
    text: &'a str,
    side: Option<Side>,
}

impl<'a> Search<'a> {
    /// The search of `filters`, unless there is none or it is semantic (no literal match).
    pub fn of(filters: &'a V3Filters) -> Option<Self> {
        let text = filters.search.as_deref().filter(|_| !filters.semantic)?;
        Some(Search {
            text,
            side: filters.side,
        })
    }

    /// The first turn text of `record` holding the search text, cut to about `width` columns
    /// around it: `…I want a refund for my…`.
    pub fn snippet(&self, record: &ConversationRecord, width: usize) -> Option<String> {
        let needle = self.text.trim().to_lowercase();
        record.turns.as_deref()?.iter().find_map(|t| {
            let user = (self.side != Some(Side::Agent)).then_some(t.user_input.as_deref());
            let agent = (self.side != Some(Side::User)).then_some(t.agent_response.as_deref());
            [user.flatten(), agent.flatten()]
                .into_iter()
                .flatten()
                .find_map(|text| snippet(text, &needle, width))
        })
    }
}

/// `text` cut to about `width` columns around the first place it holds `needle` (lower case),
/// ignoring case; `None` when it does not hold it.
fn snippet(text: &str, needle: &str, width: usize) -> Option<String> {
    let chars: Vec<char> = crate::output::text::flatten(text).chars().collect();
    let lower: Vec<char> = chars.iter().flat_map(|c| c.to_lowercase()).collect();
    let wanted: Vec<char> = needle.chars().collect();
    // Lower-casing that changes the length (rare letters) is matched on the text as it is.
    let hay = if lower.len() == chars.len() {
        &lower
    } else {
        &chars
    };
    if wanted.is_empty() || wanted.len() > hay.len() {
        return None;
    }
    let at = (0..=hay.len() - wanted.len()).find(|&i| hay[i..i + wanted.len()] == wanted[..])?;
    let start = at.saturating_sub(width / 4);
    let shown: String = chars[start..].iter().collect();
    let lead = if start > 0 { "…" } else { "" };
    Some(crate::output::truncate(&format!("{lead}{shown}"), width))
}

#[cfg(test)]
mod snippet_tests {
    use super::snippet;

    #[test]
    fn the_match_is_shown_with_what_leads_to_it() {
        let text = "Hello, I am calling because I would like a refund for the order I placed";
        let shown = snippet(text, "refund", 24).unwrap_or_default();
        assert!(
            shown.starts_with('…') && shown.contains("refund"),
            "{shown}"
        );
        assert_eq!(
            snippet("REFUND please", "refund", 24).as_deref(),
            Some("REFUND please")
        );
        assert_eq!(snippet("nothing here", "refund", 24), None);
    }
}
