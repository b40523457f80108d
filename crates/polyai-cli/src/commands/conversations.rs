//! `conversations get` and `conversations note`.

use std::io::Write;

use polyai_data::models::{Conversation, ConversationExt, Lenient, Turn};

use crate::cli::{GetArgs, NoteArgs, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::output::{Table, duration, or_dash, short_time, write_json, write_json_line, yes_no};
use crate::session::read_text;

/// `conversations get`.
pub async fn get(ctx: &Ctx<'_>, args: &GetArgs) -> Result<(), CliError> {
    let agent = ctx.session.agent()?;
    let request = agent.conversations().get(&args.id);
    match ctx.format {
        // JSON output is the record exactly as the API sent it (nulls and number forms included).
        OutputFormat::Json | OutputFormat::Jsonl => {
            let raw = request.json().await?;
            let mut out = crate::output::stdout();
            if ctx.format == OutputFormat::Json {
                write_json(&mut out, &raw)
            } else {
                write_json_line(&mut out, &raw)
            }
        }
        OutputFormat::Csv | OutputFormat::Table => {
            let conversation = request.await?;
            let mut out = crate::output::stdout();
            if ctx.format == OutputFormat::Csv {
                transcript_csv(&conversation).write_csv(&mut out)
            } else {
                out.write_all(conversation_view(&conversation).as_bytes())
            }
        }
    }
    .map_err(stdout_error)
}

fn transcript_csv(c: &Conversation) -> Table {
    let mut table = Table::new(vec![
        "turn",
        "turnId",
        "userInput",
        "agentResponse",
        "userInputDatetime",
        "agentResponseDatetime",
    ]);
    let turns = c.turns.as_deref().unwrap_or_default();
    // A turn of a shape the client does not know has no columns to fill; its index is skipped.
    let typed = turns
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, t.typed()?)));
    for (i, t) in typed {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        table.push(vec![
            i.to_string(),
            t.turn_id.map(|v| v.to_string()).unwrap_or_default(),
            text(&t.user_input),
            text(&t.agent_response),
            text(&t.user_input_datetime),
            text(&t.agent_response_datetime),
        ]);
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

/// `conversations note`.
pub async fn note(ctx: &Ctx<'_>, args: &NoteArgs) -> Result<(), CliError> {
    let agent = ctx.session.agent()?;
    let text = match (&args.text, &args.file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => read_text(path)?.trim_end().to_owned(),
        (None, None) => return Err(CliError::Usage("give the note TEXT or --file".into())),
    };
    agent.note(&args.id, text.clone()).await?;
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
