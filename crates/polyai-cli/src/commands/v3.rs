//! `conversations list` through the Conversations API v3: time ranges, search, sampling, filters.

use std::io::Write;

use polyai_data::Timestamp;
use polyai_data::v3::{Conversation, ConversationExt, ListConversations, TurnType};

use crate::cli::{ListArgs, OutputFormat, Side, V3Filters};
use crate::commands::conversations::LIST_LIMIT;
use crate::commands::{Ctx, print_records};
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::output::{Table, duration, short_time, truncate, write_csv_record};
use crate::when;

/// Longest first user request shown in the table.
const REQUEST_WIDTH: usize = 48;

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

/// The v3 listing the filters describe.
fn listing(
    ctx: &Ctx<'_>,
    account: &str,
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
    let mut listing = with_window(ctx.session.project(account)?.conversations(), since, until)
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
    if let Some(env) = filters.env {
        listing = listing.client_env(env);
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
    if let Some(cursor) = &filters.cursor {
        listing = listing.cursor(cursor);
    }
    Ok(listing)
}

/// `conversations list` with an account.
pub async fn list(ctx: &Ctx<'_>, args: &ListArgs, account: &str) -> Result<(), CliError> {
    let mut listing = listing(ctx, account, &args.v3, args.limit.unwrap_or(LIST_LIMIT))?;
    if args.offset > 0 {
        listing = listing.offset(args.offset);
    }
    let json = matches!(ctx.format, OutputFormat::Json | OutputFormat::Jsonl);
    if args.all && ctx.format != OutputFormat::Json {
        return stream_all(listing, ctx.format).await;
    }
    if json {
        // The records as the API sent them.
        let items = if args.all {
            listing.json_pages().items().collect_all().await?
        } else {
            listing.send_json().await?.into_items()
        };
        return print_records(ctx.format, &items);
    }
    let (items, footer) = if args.all {
        let items = listing.all().await?;
        let footer = crate::output::count(items.len() as u64, "conversation");
        (items, footer)
    } else {
        let page = listing.send().await?;
        let mut footer = crate::output::count(page.items().len() as u64, "conversation");
        if let Some(cursor) = page.cursor() {
            footer.push_str(&format!(" (next page: --cursor {cursor})"));
        }
        (page.into_items(), footer)
    };
    let mut out = crate::output::stdout();
    match ctx.format {
        OutputFormat::Csv => csv(&items).write_csv(&mut out),
        _ => table(&items, Search::of(&args.v3))
            .write_aligned(&mut out)
            .and_then(|()| writeln!(out, "{footer}")),
    }
    .map_err(stdout_error)
}

/// `--all` as JSON Lines or CSV (or a table, page by page): memory stays flat.
async fn stream_all(listing: ListConversations, format: OutputFormat) -> Result<(), CliError> {
    if format == OutputFormat::Jsonl {
        let mut pages = listing.json_pages();
        while let Some(page) = pages.try_next().await? {
            print_records(format, page.items())?;
        }
        return Ok(());
    }
    if format == OutputFormat::Csv {
        write_csv_record(&mut crate::output::stdout(), CSV_HEADER).map_err(stdout_error)?;
    }
    let mut pages = listing.pages();
    let mut total = 0;
    while let Some(page) = pages.try_next().await? {
        total += page.items().len();
        let mut out = crate::output::stdout();
        match format {
            OutputFormat::Csv => page.items().iter().try_for_each(|c| {
                write_csv_record(&mut out, csv_row(c).iter().map(String::as_str))
            }),
            _ => table(page.items(), None).write_aligned(&mut out),
        }
        .and_then(|()| out.flush())
        .map_err(stdout_error)?;
    }
    if format == OutputFormat::Table {
        writeln!(
            crate::output::stdout(),
            "{}",
            crate::output::count(total as u64, "conversation")
        )
        .map_err(stdout_error)?;
    }
    Ok(())
}

/// A literal transcript search, whose matching words the table shows.
#[derive(Debug, Clone, Copy)]
struct Search<'a> {
    text: &'a str,
    side: Option<Side>,
}

impl<'a> Search<'a> {
    /// The search of `filters`, unless there is none or it is semantic (no literal match).
    fn of(filters: &'a V3Filters) -> Option<Self> {
        let text = filters.search.as_deref().filter(|_| !filters.semantic)?;
        Some(Search {
            text,
            side: filters.side,
        })
    }

    /// The first turn text of `c` holding the search text, cut around it: `…I want a refund
    /// for my…`.
    fn snippet(&self, c: &Conversation) -> Option<String> {
        let needle = self.text.trim().to_lowercase();
        let texts = c.turns().iter().flat_map(|t| {
            let user = (self.side != Some(Side::Agent)).then_some(t.user_input.as_deref());
            let agent = (self.side != Some(Side::User)).then_some(t.agent_response.as_deref());
            [user.flatten(), agent.flatten()].into_iter().flatten()
        });
        texts
            .into_iter()
            .find_map(|text| snippet(text, &needle, REQUEST_WIDTH))
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
    Some(truncate(&format!("{lead}{shown}"), width))
}

fn table(items: &[Conversation], search: Option<Search<'_>>) -> Table {
    let mut table = Table::new(vec![
        "ID",
        "STARTED",
        "DURATION",
        "CHANNEL",
        "ENV",
        "TURNS",
        "HANDOFF",
        if search.is_some() {
            "MATCH"
        } else {
            "FIRST REQUEST"
        },
    ])
    // On a narrow terminal: ENV goes first, then CHANNEL, TURNS, HANDOFF, DURATION, and
    // below about 70 columns STARTED.
    .optional(&[4, 3, 5, 6, 2, 1]);
    for c in items {
        let request = c
            .turns()
            .iter()
            .filter_map(|t| t.user_input.as_deref())
            .find(|text| !text.is_empty())
            .map_or_else(|| "-".to_owned(), |text| truncate(text, REQUEST_WIDTH));
        let request = search.and_then(|s| s.snippet(c)).unwrap_or(request);
        table.push(vec![
            c.id.clone(),
            short_time(&c.started_at),
            // A call still going on has no length yet.
            match (c.in_progress, c.total_duration) {
                (true, _) => "ongoing".into(),
                (false, Some(secs)) => duration(secs),
                (false, None) => "-".into(),
            },
            c.channel.clone(),
            c.environment.clone(),
            c.num_turns.unwrap_or(c.turns().len() as i64).to_string(),
            match c.handoff {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "-".into(),
            },
            request,
        ]);
    }
    table
}

/// CSV columns: every scalar field of a v3 conversation.
const CSV_HEADER: [&str; 19] = [
    "id",
    "account_id",
    "project_id",
    "started_at",
    "channel",
    "environment",
    "variant_id",
    "variant_name",
    "from_number",
    "to_number",
    "in_progress",
    "num_turns",
    "total_duration",
    "polyai_duration",
    "handoff",
    "handoff_reason",
    "handoff_destination",
    "num_silences",
    "num_ood",
];

fn csv(items: &[Conversation]) -> Table {
    let mut table = Table::new(CSV_HEADER);
    for c in items {
        table.push(csv_row(c));
    }
    table
}

fn csv_row(c: &Conversation) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let show = |v: Option<String>| v.unwrap_or_default();
    vec![
        c.id.clone(),
        c.account_id.clone(),
        c.project_id.clone(),
        c.started_at.clone(),
        c.channel.clone(),
        c.environment.clone(),
        text(&c.variant_id),
        text(&c.variant_name),
        text(&c.from_number),
        text(&c.to_number),
        c.in_progress.to_string(),
        show(c.num_turns.map(|v| v.to_string())),
        show(c.total_duration.map(|v| v.to_string())),
        show(c.polyai_duration.map(|v| v.to_string())),
        show(c.handoff.map(|v| v.to_string())),
        text(&c.handoff_reason),
        text(&c.handoff_destination),
        show(c.num_silences.map(|v| v.to_string())),
        show(c.num_ood.map(|v| v.to_string())),
    ]
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
