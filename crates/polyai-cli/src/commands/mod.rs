//! One module per command family; [`run`] dispatches a parsed command line.

use std::io::Write;

use clap::CommandFactory;
use polyai_data::config::{ConfigFile, Profile};

use crate::cli::{ChatCommand, Cli, Command, ConversationsCommand, OutputFormat};
use crate::exit::CliError;
use crate::output::{Table, write_json, write_json_line};
use crate::session::Session;

pub mod annotate;
pub mod audio;
pub mod config;
pub mod conversations;
#[cfg(feature = "dataset")]
pub mod dataset;
pub mod keygen;
pub mod list;
pub mod reconcile;
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
        return Some(crate::schema::run(args, cli.global.output));
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
    let mut out = crate::output::stdout();
    clap_complete::generate(args.shell, &mut command, "polyai", &mut out);
    Some(Ok(()))
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
            Some(ChatCommand::Send(send)) => {
                crate::chat::run(&ctx, args, Some(&send.messages)).await
            }
            None => crate::chat::run(&ctx, args, None).await,
        },
        Command::Export(args) => crate::export::run(&ctx, args).await,
        Command::Sync(args) => crate::sync::run(&ctx, args).await,
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
