//! One module per command family; [`run`] dispatches a parsed command line.

use std::io::Write;

use clap::CommandFactory;
use polyai_data::config::{ConfigFile, Profile};

use crate::cli::{ChatCommand, Cli, Command, ConversationsCommand, OutputFormat};
use crate::exit::CliError;
use crate::output::{Table, stdout_error, write_json, write_json_line};
use crate::session::Session;

pub mod annotate;
pub mod audio;
pub mod chat;
pub mod config;
pub mod conversations;
#[cfg(feature = "dataset")]
pub mod dataset;
pub mod keygen;
pub mod list;
pub mod reconcile;
pub mod sample;
pub mod schema;
pub mod sync;
pub mod v3;
pub mod verify;

/// What every command gets: the session and the output format.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Client, agent and target.
    pub session: &'a Session,
    /// `--output`.
    pub format: OutputFormat,
}

impl Ctx<'_> {
    /// Prints a record in the machine formats (pretty JSON, one line, or a one-row CSV of
    /// its top-level fields); the table format is the caller's business.
    pub fn write_record(
        &self,
        out: &mut impl Write,
        record: &impl serde::Serialize,
    ) -> std::io::Result<()> {
        let record = serde_json::to_value(record).map_err(std::io::Error::other)?;
        match self.format {
            OutputFormat::Json => write_json(out, &record),
            OutputFormat::Jsonl | OutputFormat::Table => write_json_line(out, &record),
            OutputFormat::Csv => {
                let Some(object) = record.as_object() else {
                    return write_json_line(out, &record);
                };
                let mut table = Table::new(object.keys().cloned());
                table.push(
                    object
                        .values()
                        .map(|v| match v {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Null => String::new(),
                            other => other.to_string(),
                        })
                        .collect(),
                );
                table.write_csv(out)
            }
        }
    }
}

/// Runs the command that needs no client (`completions`, `config`, `schema`, `verify`,
/// `keygen`, `chat test --list`), if it is one.
pub fn run_offline(cli: &Cli) -> Option<Result<(), CliError>> {
    if let Command::Chat(chat) = &cli.command
        && let Some(ChatCommand::Test(test)) = &chat.command
        && test.list
    {
        // The agent a run would use: the flag (or POLYAI_AGENT), else the profile's.
        let listed = ConfigFile::load_default()
            .and_then(|config| {
                let from_profile = config
                    .select(cli.global.profile.as_deref())?
                    .and_then(Profile::agent)
                    .map(str::to_owned);
                Ok(cli.global.agent.clone().or(from_profile))
            })
            .map_err(CliError::from)
            .and_then(|agent| {
                crate::scenario::list(cli.global.output, chat, agent.as_deref(), test)
            });
        return Some(listed);
    }
    if let Command::Config(command) = &cli.command {
        return Some(config::run(&cli.global, command));
    }
    if let Command::Schema(args) = &cli.command {
        return Some(schema::run(args, cli.global.output));
    }
    if let Command::Verify(args) = &cli.command {
        return Some(verify::run(cli.global.output, args));
    }
    if let Command::Keygen(args) = &cli.command {
        return Some(keygen::run(cli.global.output, args));
    }
    #[cfg(feature = "dataset")]
    if let Command::Dataset(command) = &cli.command {
        return Some(dataset::run(&cli.global, command));
    }
    let Command::Completions(args) = &cli.command else {
        return None;
    };
    let mut command = Cli::command();
    // Generated into memory: clap_complete panics when its writer fails (a closed stdout).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "polyai", &mut script);
    let mut out = crate::output::stdout();
    Some(
        out.write_all(&script)
            .and_then(|()| out.flush())
            .map_err(stdout_error),
    )
}

/// Runs a command that talks to the API.
pub async fn run(cli: &Cli, session: &Session) -> Result<(), CliError> {
    let ctx = Ctx {
        session,
        format: cli.global.output,
    };
    match &cli.command {
        Command::Conversations(command) => match command {
            ConversationsCommand::List(args) => list::run(&ctx, args).await,
            ConversationsCommand::Get(args) => conversations::get(&ctx, args).await,
            ConversationsCommand::Audio(args) => audio::download(&ctx, args).await,
            ConversationsCommand::Annotate(args) => annotate::annotate(&ctx, args).await,
            ConversationsCommand::Note(args) => conversations::note(&ctx, args).await,
        },
        Command::Chat(args) => match &args.command {
            Some(ChatCommand::Test(test)) => crate::scenario::run(&ctx, args, test).await,
            Some(ChatCommand::Replay(replay)) => crate::replay::run(&ctx, args, replay).await,
            Some(ChatCommand::Send(send)) => chat::run(&ctx, args, Some(&send.messages)).await,
            None => chat::run(&ctx, args, None).await,
        },
        Command::Export(args) => crate::export::run(&ctx, args).await,
        Command::Sync(args) => sync::run(&ctx, args).await,
        Command::Reconcile(args) => reconcile::run(&ctx, args).await,
        Command::Completions(_)
        | Command::Config(_)
        | Command::Schema(_)
        | Command::Verify(_)
        | Command::Keygen(_) => run_offline(cli).unwrap_or(Ok(())),
        #[cfg(feature = "dataset")]
        Command::Dataset(_) => run_offline(cli).unwrap_or(Ok(())),
    }
}

/// Longest conversation id accepted from the command line or a file of ids.
pub(crate) const MAX_ID_CHARS: usize = 512;

/// Conversation ids from the arguments (`-` among them: more from stdin) and `--ids FILE`
/// (`-`: stdin), one per line, blank lines and `# comments` skipped; trimmed, each once, in
/// order. An id with spaces or control characters is refused, naming where it was read.
pub fn collect_ids(
    args: &[String],
    file: Option<&std::path::Path>,
) -> Result<Vec<String>, CliError> {
    let mut all: Vec<(String, String)> = Vec::new();
    let read_lines = |path: &std::path::Path, all: &mut Vec<(String, String)>| {
        let text = crate::session::read_text(path)?;
        let name = if path.as_os_str() == "-" {
            "<stdin>".to_owned()
        } else {
            path.display().to_string()
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                all.push((line.to_owned(), format!("{name}:{}", n + 1)));
            }
        }
        Ok::<(), CliError>(())
    };
    let mut stdin_read = false;
    for id in args {
        if id == "-" {
            if !std::mem::replace(&mut stdin_read, true) {
                read_lines(std::path::Path::new("-"), &mut all)?;
            }
        } else {
            all.push((id.clone(), "the command line".to_owned()));
        }
    }
    if let Some(path) = file {
        if path.as_os_str() == "-" && stdin_read {
            return Err(CliError::Usage(
                "- and --ids - both read stdin: give the ids once".into(),
            ));
        }
        read_lines(path, &mut all)?;
    }
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for (id, place) in all {
        let id = id.trim().to_owned();
        if id.is_empty()
            || id.chars().count() > MAX_ID_CHARS
            || id.contains(char::is_whitespace)
            || id.contains(char::is_control)
        {
            return Err(CliError::Usage(format!(
                "{place}: {:?} is not a conversation id (one id per line, no spaces)",
                crate::output::truncate(&id, 80)
            )));
        }
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    if ids.is_empty() && (stdin_read || file.is_some()) {
        return Err(CliError::Usage(
            "no conversation id was read (one per line; # starts a comment)".into(),
        ));
    }
    Ok(ids)
}

/// Runs `run` for each id in turn. With one id its error is the command's; with several, each
/// failure is reported on stderr as it happens (with its hint) and the others go on; the
/// command then fails with [`CliError::Several`], whose exit code is the first failure's.
pub async fn each_id(
    ctx: &Ctx<'_>,
    ids: &[String],
    mut run: impl AsyncFnMut(&str) -> Result<(), CliError>,
) -> Result<(), CliError> {
    if let [id] = ids {
        return run(id).await;
    }
    let mut failed = 0;
    let mut first = None;
    for id in ids {
        if let Err(err) = run(id).await {
            // A closed stdout ends the command: nothing more can be shown.
            if matches!(&err, CliError::File { path, .. } if path.as_os_str() == "<stdout>") {
                return Err(err);
            }
            crate::output::note!("polyai: error: {id}: {err}");
            if let Some(hint) = crate::exit::hint(&err, ctx.session.target()) {
                crate::output::note!("polyai: hint: {hint}");
            }
            failed += 1;
            first.get_or_insert(err);
        }
    }
    match first {
        None => Ok(()),
        Some(first) => Err(CliError::Several {
            failed,
            total: ids.len(),
            first: Box::new(first),
        }),
    }
}

/// Says, in the sandbox, that what a command just saved (`what`: `this note`, `these
/// annotations`) lives only as long as the process: the embedded mock starts from its
/// recording each time.
pub fn sandbox_forgets(ctx: &Ctx<'_>, what: &str) {
    if ctx.session.is_sandbox() {
        crate::output::note!(
            "polyai: the sandbox forgets {what} when the command ends (each --sandbox run \
             starts from the same recorded data; run polyai-mock and point --base-url at it to \
             keep them); against a real agent they are kept"
        );
    }
}
