//! `conversations get` and `conversations note`.

use std::io::Write;

use polyai_data::Timestamp;
use polyai_data::models::{Conversation, ConversationExt, Lenient, Turn};
use polyai_data::record::ConversationRecord;

use crate::cli::{GetArgs, NoteArgs, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::output::{Table, duration, or_dash, short_time, write_json, write_json_line, yes_no};
use crate::session::read_text;

/// `conversations get`.
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
            // JSON output is the record of the contract (with the body as sent on request).
            OutputFormat::Json if several => {
                gathered.push(record(id, request.json().await?, args.keep_raw)?);
                return Ok(());
            }
            OutputFormat::Json => {
                write_json(&mut out, &record(id, request.json().await?, args.keep_raw)?)
            }
            OutputFormat::Jsonl => {
                write_json_line(&mut out, &record(id, request.json().await?, args.keep_raw)?)
            }
            OutputFormat::Csv => {
                let conversation = request.await?;
                let table = transcript_csv(&conversation);
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

/// The conversation the Data API sent as a record of the contract.
fn record(
    id: &str,
    body: serde_json::Value,
    keep_raw: bool,
) -> Result<ConversationRecord, CliError> {
    let record = ConversationRecord::from_data_api(&body).ok_or_else(|| {
        CliError::Other(format!(
            "the server sent conversation {id} without its conversationId"
        ))
    })?;
    Ok(if keep_raw {
        record.keep_raw(body)
    } else {
        record
    })
}

fn transcript_csv(c: &Conversation) -> Table {
    // The turn fields of the record contract (docs/records.md), each row keyed by its
    // conversation.
    let mut table = Table::new(vec![
        "conversation_id",
        "turn_index",
        "turn_id",
        "user_input",
        "agent_response",
        "user_input_at",
        "agent_response_at",
        "reviews",
    ]);
    let turns = c.turns.as_deref().unwrap_or_default();
    // A turn of a shape the client does not know has no columns to fill; its index is skipped.
    let typed = turns
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, t.typed()?)));
    for (i, t) in typed {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        // Times as the contract writes them (RFC 3339, UTC, microseconds); text that is not a
        // time as sent.
        let time = |v: &Option<String>| match v.as_deref().map(str::parse::<Timestamp>) {
            Some(Ok(t)) => t.to_rfc3339_micros(),
            _ => text(v),
        };
        let row = vec![
            c.conversation_id.clone(),
            i.to_string(),
            t.turn_id.map(|v| v.to_string()).unwrap_or_default(),
            text(&t.user_input),
            text(&t.agent_response),
            time(&t.user_input_datetime),
            time(&t.agent_response_datetime),
            reviews(t).join("; "),
        ];
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
