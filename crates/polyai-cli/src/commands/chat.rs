//! `chat`: an interactive debug-chat REPL on stdin, and `chat send` for scripted turns.

use std::io::{IsTerminal, Write};

use polyai_data::ClientEnv;
use polyai_data::chat::{ChatOptions, ChatReply, ChatSession};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cli::{ChatArgs, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::output::{write_json, write_json_line};
use crate::records::ChatTurn;

/// REPL commands that leave the session.
const QUIT: [&str; 3] = ["/quit", "/exit", "/q"];

/// What `/help` prints in the REPL.
const REPL_HELP: &str = "\
commands (anything else is sent to the agent):
  /help      this list
  /metadata  the last reply's node trace, topics, function events and handoff
  /reset     end this session and start a new one (greeting included)
  /quit      leave (also /exit, /q, Ctrl-D)
  //text     send \"/text\" to the agent";

/// `chat` (the REPL, when `script` is `None`) and `chat send`.
pub async fn run(
    ctx: &Ctx<'_>,
    args: &ChatArgs,
    script: Option<&[String]>,
) -> Result<(), CliError> {
    let agent = ctx.session.agent()?;
    let env = args.env.unwrap_or(ClientEnv::Sandbox);
    let mut options = ChatOptions::new(env);
    if let Some(variant) = &args.variant {
        options = options.variant(variant.clone());
    }
    if let Some(lang) = &args.lang {
        options = options.lang(lang.clone());
    }
    let start = async || {
        agent
            .debug_chat(options.clone())
            .send()
            .await
            .map_err(|err| {
                CliError::unconfirmed(
                    err,
                    || "the start of a debug chat session".into(),
                    || "polyai conversations list --limit 5".into(),
                )
            })
    };
    let mut session = start().await?;
    let mut printer = Printer::new(ctx.format, args.debug);
    if ctx.format == OutputFormat::Table {
        match script {
            Some(_) => crate::output::note!("debug chat {} ({env})", session.id()),
            None => crate::output::note!(
                "debug chat {} ({env}); /help lists the commands (/metadata, /reset), /quit leaves",
                session.id()
            ),
        }
    }
    printer.reply(session.greeting())?;
    let result = match script {
        Some(messages) => scripted(&mut session, &mut printer, messages).await,
        None => repl(&mut session, &mut printer, start).await,
    };
    printer.finish()?;
    result
}

/// Sends one message; a failure that may have reached the agent says how to look.
async fn send(session: &mut ChatSession, message: &str) -> Result<ChatReply, CliError> {
    let id = session.id().to_owned();
    session.send(message.to_owned()).await.map_err(|err| {
        CliError::unconfirmed(
            err,
            || format!("the message {message:?} to chat {id}"),
            || format!("polyai conversations get {id}"),
        )
    })
}

/// Sends each message as one turn; stops early when the agent ends the conversation.
async fn scripted(
    session: &mut ChatSession,
    printer: &mut Printer,
    messages: &[String],
) -> Result<(), CliError> {
    for message in messages {
        if session.is_ended() {
            break;
        }
        printer.user(message)?;
        let reply = send(session, message).await?;
        printer.reply(&reply)?;
    }
    Ok(())
}

/// Reads one message per line until end of input, `/quit`, or the agent ends the conversation;
/// lines starting with `/` are commands ([`REPL_HELP`]). `start` opens a new session (`/reset`).
async fn repl(
    session: &mut ChatSession,
    printer: &mut Printer,
    start: impl AsyncFn() -> Result<ChatSession, CliError>,
) -> Result<(), CliError> {
    let interactive = std::io::stdin().is_terminal();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut last: Option<ChatReply> = None;
    while !session.is_ended() {
        if interactive {
            crate::output::stdio::prompt("you> ");
        }
        let Some(line) = lines
            .next_line()
            .await
            .map_err(|e| CliError::file("reading", "<stdin>", e))?
        else {
            break;
        };
        let message = line.trim();
        if message.is_empty() {
            continue;
        }
        let message = match message.strip_prefix('/') {
            // `//text` sends `/text`.
            Some(rest) if rest.starts_with('/') => rest,
            Some(_) if QUIT.contains(&message) => break,
            Some(command) => {
                match command.split_whitespace().next().unwrap_or_default() {
                    "help" | "h" | "?" => crate::output::note!("{REPL_HELP}"),
                    "metadata" | "meta" | "m" => match &last {
                        Some(reply) => printer.metadata(reply)?,
                        None => crate::output::note!(
                            "no reply yet: /metadata shows the last reply's details"
                        ),
                    },
                    "reset" => {
                        *session = start().await?;
                        last = None;
                        crate::output::note!("new debug chat {}", session.id());
                        printer.reply(session.greeting())?;
                    }
                    other => crate::output::note!(
                        "unknown command /{other}: /help lists them (//{other} sends \"/{other}\" to the agent)"
                    ),
                }
                continue;
            }
            None => message,
        };
        if !interactive {
            printer.user(message)?;
        }
        let reply = send(session, message).await?;
        printer.reply(&reply)?;
        last = Some(reply);
    }
    Ok(())
}

/// Prints turns in the chosen format: a transcript for people, JSON for machines.
struct Printer {
    format: OutputFormat,
    debug: bool,
    replies: Vec<ChatTurn>,
}

impl Printer {
    fn new(format: OutputFormat, debug: bool) -> Self {
        Printer {
            format,
            debug,
            replies: Vec::new(),
        }
    }

    /// Echoes the user's line (only in the transcript, for scripted input).
    fn user(&mut self, message: &str) -> Result<(), CliError> {
        if self.format == OutputFormat::Table {
            let mut out = crate::output::stdout();
            writeln!(out, "you>   {message}").map_err(stdout_error)?;
        }
        Ok(())
    }

    fn reply(&mut self, reply: &ChatReply) -> Result<(), CliError> {
        let mut out = crate::output::stdout();
        match self.format {
            OutputFormat::Table => {
                out.write_all(reply_view(reply, self.debug).as_bytes())
                    .map_err(stdout_error)?;
                out.flush().map_err(stdout_error)
            }
            OutputFormat::Json => {
                self.replies.push(ChatTurn::of(reply));
                Ok(())
            }
            OutputFormat::Jsonl | OutputFormat::Csv => {
                write_json_line(&mut out, &ChatTurn::of(reply)).map_err(stdout_error)?;
                out.flush().map_err(stdout_error)
            }
        }
    }

    /// `/metadata`: the debug details of `reply` (in the transcript, whatever --debug says).
    fn metadata(&mut self, reply: &ChatReply) -> Result<(), CliError> {
        let mut out = crate::output::stdout();
        match self.format {
            OutputFormat::Table => {
                let details = debug_view(reply);
                let details = if details.is_empty() {
                    "       (no details: no node, topic, function or handoff)\n".to_owned()
                } else {
                    details
                };
                out.write_all(details.as_bytes()).map_err(stdout_error)?;
            }
            _ => {
                write_json_line(&mut out, &ChatTurn::of(reply)).map_err(stdout_error)?;
            }
        }
        out.flush().map_err(stdout_error)
    }

    fn finish(&mut self) -> Result<(), CliError> {
        if self.format == OutputFormat::Json {
            let mut out = crate::output::stdout();
            write_json(&mut out, &self.replies).map_err(stdout_error)?;
        }
        Ok(())
    }
}

/// The transcript view of one agent turn, with the debug details when asked for.
fn reply_view(reply: &ChatReply, debug: bool) -> String {
    let mut text = format!("agent> {}\n", reply.text());
    if debug {
        text.push_str(&debug_view(reply));
    }
    if reply.is_ended() {
        text.push_str("(the agent ended the conversation)\n");
    }
    text
}

/// The debug details of a reply, one indented line each (empty when it has none).
fn debug_view(reply: &ChatReply) -> String {
    let mut text = String::new();
    {
        let meta = reply.metadata();
        let pad = "       ";
        if !meta.node_trace.is_empty() {
            text.push_str(&format!("{pad}nodes: {}\n", meta.node_trace.join(" → ")));
        } else if !meta.current_node.is_empty() {
            text.push_str(&format!("{pad}node: {}\n", meta.current_node));
        }
        let topics = meta.retrieved_topics.as_deref().unwrap_or_default();
        if !topics.is_empty() {
            text.push_str(&format!("{pad}topics: {}\n", topics.join(", ")));
        }
        if let Some(cited) = meta.cited_topic.as_deref().filter(|c| !c.is_empty()) {
            text.push_str(&format!("{pad}cited: {cited}\n"));
        }
        for event in &meta.function_events {
            let Some(event) = event.typed() else {
                // An event of a shape the client does not know: shown as sent.
                let raw = event.raw().map(ToString::to_string).unwrap_or_default();
                text.push_str(&format!("{pad}function event: {raw}\n"));
                continue;
            };
            let args = serde_json::to_string(&event.arguments).unwrap_or_default();
            let took = event
                .duration
                .as_ref()
                .and_then(serde_json::Number::as_f64)
                .map(|ms| format!(" ({ms:.0} ms)"))
                .unwrap_or_default();
            text.push_str(&format!(
                "{pad}function: {} {args}{took}\n",
                event.name.as_deref().unwrap_or("?")
            ));
        }
        if let Some(to) = meta
            .handoff_destination
            .as_deref()
            .filter(|h| !h.is_empty())
        {
            text.push_str(&format!("{pad}handoff: {to}\n"));
        }
        if reply.is_delayed() {
            text.push_str(&format!("{pad}(delayed response)\n"));
        }
    }
    text
}
