//! `conversations list`, `conversations get` and `conversations note`.

use std::io::Write;

use polyai_data::conversations::ListConversations;
use polyai_data::models::{Conversation, ConversationExt, ConversationSummary, Lenient, Turn};

use crate::cli::{GetArgs, ListArgs, NoteArgs, OutputFormat};
use crate::commands::{Ctx, print_records};
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::output::{
    Table, duration, or_dash, short_time, truncate, write_csv_record, write_json, write_json_line,
    yes_no,
};
use crate::session::read_text;

/// Page size of `conversations list` without --limit or --all.
pub(crate) const LIST_LIMIT: u64 = 50;

/// Longest summary heading shown in the list table.
const HEADING_WIDTH: usize = 48;

/// `conversations list`: through the Conversations API v3 when an account is known, else the
/// Data API.
pub async fn list(ctx: &Ctx<'_>, args: &ListArgs) -> Result<(), CliError> {
    if let Some(account) = ctx.session.v3_account(&args.v3.used())? {
        return crate::commands::v3::list(ctx, args, &account).await;
    }
    let agent = ctx.session.agent()?;
    let mut request = agent
        .conversations()
        .list()
        .offset(args.offset)
        .concurrency(args.page_concurrency.into());
    // One page: the server's default size unless asked; --all: the library's largest pages.
    if let Some(limit) = args.limit.or((!args.all).then_some(LIST_LIMIT)) {
        request = request.limit(limit);
    }
    if args.all && matches!(ctx.format, OutputFormat::Jsonl | OutputFormat::Csv) {
        return stream_all(request.dedupe(true), ctx.format).await;
    }
    if matches!(ctx.format, OutputFormat::Json | OutputFormat::Jsonl) {
        // The records as the API sent them: every field, nulls and number forms included.
        let items = if args.all {
            request
                .dedupe(true)
                .json_pages()
                .items()
                .collect_all()
                .await?
        } else {
            request.send_json().await?.into_items()
        };
        return print_records(ctx.format, &items);
    }
    let (items, footer) = if args.all {
        let items = request.dedupe(true).all().await?;
        let footer = crate::output::count(items.len() as u64, "conversation");
        (items, footer)
    } else {
        let page = request.send().await?;
        let shown = page.items().len() as u64;
        // A Data API page always has its offset and the total.
        let (offset, count) = (
            page.offset().unwrap_or_default(),
            page.count().unwrap_or_default(),
        );
        let mut footer = if shown == 0 {
            format!("no conversations at offset {offset} of {count}")
        } else {
            format!(
                "{}-{} of {}",
                offset + 1,
                offset + shown,
                crate::output::count(count, "conversation")
            )
        };
        if let Some(next) = page.next_offset() {
            footer.push_str(&format!(" (next page: --offset {next})"));
        }
        (page.into_items(), footer)
    };
    let mut out = crate::output::stdout();
    print_summaries(&mut out, ctx.format, &items, Some(&footer)).map_err(stdout_error)
}

/// `--all` as JSON Lines or CSV: printed page by page, so memory stays flat.
async fn stream_all(request: ListConversations, format: OutputFormat) -> Result<(), CliError> {
    if format == OutputFormat::Csv {
        write_csv_record(&mut crate::output::stdout(), SUMMARY_CSV_HEADER).map_err(stdout_error)?;
    }
    if format == OutputFormat::Jsonl {
        // The records as the API sent them.
        let mut pages = request.json_pages();
        while let Some(page) = pages.try_next().await? {
            print_records(format, page.items())?;
        }
        return Ok(());
    }
    let mut pages = request.pages();
    while let Some(page) = pages.try_next().await? {
        let mut out = crate::output::stdout();
        for c in page.items() {
            write_csv_record(&mut out, summary_csv_row(c).iter().map(String::as_str))
                .map_err(stdout_error)?;
        }
        out.flush().map_err(stdout_error)?;
    }
    Ok(())
}

/// Prints conversation summaries as CSV or a table (JSON output prints the records as sent);
/// `footer` follows a table.
fn print_summaries(
    out: &mut impl Write,
    format: OutputFormat,
    items: &[ConversationSummary],
    footer: Option<&str>,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Csv => summary_csv(items).write_csv(out),
        OutputFormat::Table | OutputFormat::Json | OutputFormat::Jsonl => {
            summary_table(items).write_aligned(out)?;
            if let Some(footer) = footer {
                writeln!(out, "{footer}")?;
            }
            Ok(())
        }
    }
}

fn summary_table(items: &[ConversationSummary]) -> Table {
    let mut table = Table::new(vec![
        "ID",
        "STARTED",
        "DURATION",
        "CHANNEL",
        "DIRECTION",
        "HANDOFF",
        "SUMMARY",
    ])
    // On a narrow terminal: DIRECTION goes first, then CHANNEL, HANDOFF, DURATION, and
    // below about 70 columns STARTED, so that ID and SUMMARY fit 60.
    .optional(&[4, 3, 5, 2, 1]);
    for c in items {
        table.push(vec![
            c.conversation_id.clone(),
            c.started_at
                .as_deref()
                .or(c.created_at.as_deref())
                .map_or_else(|| "-".into(), short_time),
            c.total_duration
                .or(c.duration)
                .map_or_else(|| "-".into(), duration),
            or_dash(c.channel.as_deref()),
            or_dash(c.direction.as_deref()),
            yes_no(c.handoff).to_owned(),
            c.summary_heading()
                .map_or_else(|| "-".into(), |h| truncate(h, HEADING_WIDTH)),
        ]);
    }
    table
}

/// CSV columns of a conversation summary: every scalar field, with the summary split in two.
const SUMMARY_CSV_HEADER: [&str; 26] = [
    "conversationId",
    "accountId",
    "projectId",
    "createdAt",
    "startedAt",
    "finishedAt",
    "channel",
    "direction",
    "fromNumber",
    "toNumber",
    "language",
    "variantId",
    "clientEnv",
    "totalDuration",
    "polyaiDuration",
    "inProgress",
    "handoff",
    "handoffDestination",
    "handoffReason",
    "polyScore",
    "tags",
    "summaryHeading",
    "summary",
    "note",
    "deploymentId",
    "audioUrl",
];

fn summary_csv(items: &[ConversationSummary]) -> Table {
    let mut table = Table::new(SUMMARY_CSV_HEADER);
    for c in items {
        table.push(summary_csv_row(c));
    }
    table
}

/// One CSV row, in the order of [`SUMMARY_CSV_HEADER`].
fn summary_csv_row(c: &ConversationSummary) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let show = |v: Option<String>| v.unwrap_or_default();
    vec![
        c.conversation_id.clone(),
        c.account_id.clone(),
        c.project_id.clone(),
        text(&c.created_at),
        text(&c.started_at),
        text(&c.finished_at),
        text(&c.channel),
        text(&c.direction),
        text(&c.from_number),
        text(&c.to_number),
        text(&c.language),
        text(&c.variant_id),
        text(&c.client_env),
        show(c.total_duration.map(|v| v.to_string())),
        show(c.polyai_duration.map(|v| v.to_string())),
        show(c.in_progress.map(|v| v.to_string())),
        show(c.handoff.map(|v| v.to_string())),
        text(&c.handoff_destination),
        text(&c.handoff_reason),
        show(c.poly_score.as_ref().map(ToString::to_string)),
        c.tags.as_deref().unwrap_or_default().join(";"),
        c.summary_heading().unwrap_or_default().to_owned(),
        c.summary_text().unwrap_or_default().to_owned(),
        text(&c.note),
        text(&c.deployment_id),
        text(&c.audio_url),
    ]
}

/// `conversations get`: one conversation, or several one after the other (-O json: an array
/// of them; CSV: one table, the transcript rows led by their conversation's id).
pub async fn get(ctx: &Ctx<'_>, args: &GetArgs) -> Result<(), CliError> {
    let ids = crate::commands::collect_ids(&args.ids, args.ids_file.as_deref())?;
    let agent = ctx.session.agent()?;
    let several = ids.len() > 1;
    let mut gathered = Vec::new();
    let mut shown = 0usize;
    let result = crate::commands::each_id(ctx, &ids, async |id: &str| {
        let request = agent.conversations().get(id);
        let mut out = crate::output::stdout();
        match ctx.format {
            // JSON output is the record exactly as the API sent it (nulls and number forms included).
            OutputFormat::Json if several => {
                gathered.push(request.json().await?);
                return Ok(());
            }
            OutputFormat::Json => write_json(&mut out, &request.json().await?),
            OutputFormat::Jsonl => write_json_line(&mut out, &request.json().await?),
            OutputFormat::Csv => {
                let conversation = request.await?;
                let table = transcript_csv(&conversation, several);
                if shown == 0 {
                    table.write_csv(&mut out)
                } else {
                    table.write_csv_rows(&mut out)
                }
            }
            OutputFormat::Table => {
                let conversation = request.await?;
                let gap = if shown == 0 { "" } else { "\n" };
                write!(out, "{gap}{}", conversation_view(&conversation))
            }
        }
        .and_then(|()| out.flush())
        .map_err(stdout_error)?;
        shown += 1;
        Ok(())
    })
    .await;
    if several && ctx.format == OutputFormat::Json {
        write_json(&mut crate::output::stdout(), &gathered).map_err(stdout_error)?;
    }
    result
}

fn transcript_csv(c: &Conversation, with_id: bool) -> Table {
    let mut columns = vec![
        "turn",
        "turnId",
        "userInput",
        "agentResponse",
        "userInputDatetime",
        "agentResponseDatetime",
        "reviews",
    ];
    if with_id {
        columns.insert(0, "conversationId");
    }
    let mut table = Table::new(columns);
    let turns = c.turns.as_deref().unwrap_or_default();
    // A turn of a shape the client does not know has no columns to fill; its index is skipped.
    let typed = turns
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, t.typed()?)));
    for (i, t) in typed {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut row = vec![
            i.to_string(),
            t.turn_id.map(|v| v.to_string()).unwrap_or_default(),
            text(&t.user_input),
            text(&t.agent_response),
            text(&t.user_input_datetime),
            text(&t.agent_response_datetime),
            reviews(t).join("; "),
        ];
        if with_id {
            row.insert(0, c.conversation_id.clone());
        }
        table.push(row);
    }
    table
}

/// The human view of one conversation: a header of facts, then the transcript.
pub fn conversation_view(c: &Conversation) -> String {
    let mut facts: Vec<(&str, String)> = vec![
        ("Conversation", c.conversation_id.clone()),
        ("Agent", c.project_id.clone()),
    ];
    let started = c
        .started_at
        .as_deref()
        .or(c.created_at.as_deref())
        .map_or_else(|| "-".into(), short_time);
    let length = c.total_duration.or(c.duration).map(duration);
    facts.push((
        "Started",
        match length {
            Some(length) => format!("{started} ({length})"),
            None => started,
        },
    ));
    facts.push((
        "Channel",
        format!(
            "{} {}, from {} to {}",
            or_dash(c.channel.as_deref()),
            or_dash(c.direction.as_deref()),
            or_dash(c.from_number.as_deref()),
            or_dash(c.to_number.as_deref())
        ),
    ));
    facts.push((
        "Agent env",
        format!(
            "{} · variant {} · language {}",
            or_dash(c.client_env.as_deref()),
            or_dash(c.variant_id.as_deref()),
            or_dash(c.language.as_deref())
        ),
    ));
    let handoff = match c.handoff {
        Some(true) => format!(
            "yes → {} ({})",
            or_dash(c.handoff_destination.as_deref()),
            or_dash(c.handoff_reason.as_deref())
        ),
        other => yes_no(other).to_owned(),
    };
    facts.push(("Handoff", handoff));
    if let Some(score) = &c.poly_score {
        facts.push(("Score", score.to_string()));
    }
    if let Some(heading) = c.summary_heading() {
        facts.push(("Summary", heading.to_owned()));
    }
    if let Some(text) = c.summary_text() {
        facts.push(("", text.to_owned()));
    }
    if let Some(note) = c.note.as_deref().filter(|n| !n.is_empty()) {
        facts.push(("Note", note.to_owned()));
    }
    facts.push((
        "Recording",
        if c.audio_url.is_some() {
            format!("yes (polyai conversations audio {})", c.conversation_id)
        } else {
            "none".into()
        },
    ));
    let mut text = String::new();
    for (label, value) in facts {
        text.push_str(&format!("{label:<13}{value}\n"));
    }
    let turns = c.turns.as_deref().unwrap_or_default();
    let flagged: usize = turns
        .iter()
        .filter_map(|t| t.typed())
        .map(|t| reviews(t).len())
        .sum();
    if flagged > 0 {
        text.push_str(&format!(
            "{:<13}{flagged} (marked ⚑ below)\n",
            "Annotations"
        ));
    }
    text.push_str(&format!("\nTranscript ({} turns)\n", turns.len()));
    for (i, turn) in turns.iter().enumerate() {
        text.push_str(&turn_view(i, turn));
    }
    text
}

fn turn_view(index: usize, turn: &Lenient<Turn>) -> String {
    let mut text = String::new();
    let number = format!("#{index}");
    let turn = match turn {
        Lenient::Typed(turn) => turn,
        // A turn of a shape the client does not know: shown as sent.
        Lenient::Raw(raw) => return format!("{number:<5}{raw}\n"),
    };
    let say = |who: &str, what: Option<&str>| -> Option<String> {
        what.filter(|w| !w.is_empty())
            .map(|w| format!("{who:<6} {w}"))
    };
    let lines: Vec<String> = [
        say("user", turn.user_input.as_deref()),
        say("agent", turn.agent_response.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (i, line) in lines.iter().enumerate() {
        let lead = if i == 0 { number.as_str() } else { "" };
        text.push_str(&format!("{lead:<5}{line}\n"));
    }
    if lines.is_empty() {
        text.push_str(&format!("{number:<5}(silence)\n"));
    }
    for review in reviews(turn) {
        text.push_str(&format!("{:<12}⚑ {review}\n", ""));
    }
    if let Some(meta) = &turn.metadata {
        let topics = meta.retrieved_topics.as_deref().unwrap_or_default();
        if !topics.is_empty() {
            text.push_str(&format!("{:<12}topics: {}\n", "", topics.join(", ")));
        }
        for event in meta.function_events.as_deref().unwrap_or_default() {
            let args = serde_json::to_string(&event.arguments).unwrap_or_default();
            text.push_str(&format!(
                "{:<12}function: {} {args}\n",
                "",
                or_dash(event.name.as_deref())
            ));
        }
    }
    text
}

/// The QA annotations of a turn (`conversations annotate`), e.g. `wrong_info (agent)`.
fn reviews(turn: &Turn) -> Vec<String> {
    let field = |review: &serde_json::Value, names: &[&str]| {
        names
            .iter()
            .find_map(|n| review.get(*n).and_then(serde_json::Value::as_str))
            .map(str::to_owned)
    };
    turn.reviews
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|review| {
            let kind = field(review, &["annotation_type", "annotationType", "type"])
                .unwrap_or_else(|| review.to_string());
            match field(review, &["role"]) {
                Some(role) => format!("{kind} ({role})"),
                None => kind,
            }
        })
        .collect()
}

/// `conversations note`.
pub async fn note(ctx: &Ctx<'_>, args: &NoteArgs) -> Result<(), CliError> {
    let agent = ctx.session.agent()?;
    let text = match (&args.text, &args.file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => read_text(path)?.trim_end().to_owned(),
        (None, None) => return Err(CliError::Usage("give the note TEXT or --file".into())),
    };
    agent.note(&args.id, text.clone()).await?;
    crate::commands::sandbox_forgets(ctx, "this note");
    let mut out = crate::output::stdout();
    match ctx.format {
        OutputFormat::Table => writeln!(out, "note saved on {}", args.id),
        _ => ctx.write_record(
            &mut out,
            &crate::records::SavedNote {
                conversation_id: args.id.clone(),
                note: text,
            },
        ),
    }
    .map_err(stdout_error)
}
