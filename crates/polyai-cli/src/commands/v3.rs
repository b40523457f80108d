//! The Conversations API v3 filters of `conversations list`: time window, search, sampling,
//! channels, variant, state.

use polyai_data::Timestamp;
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
