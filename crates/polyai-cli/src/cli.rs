//! The command-line model: global options, commands and their arguments (clap derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use polyai_data::ClientEnv;
use polyai_data::listing::Environments;
use polyai_data::record::Api;

use crate::exit::EXIT_CODES_HELP;

/// `polyai`: every PolyAI Data API task from the terminal.
#[derive(Debug, Parser)]
#[command(
    name = "polyai",
    version,
    about = "Every PolyAI Data API task from the terminal: conversations, recordings, QA annotations, notes, debug chat, a resumable bulk export, a local SQLite copy kept current (sync) and listing checks (reconcile).",
    long_about = None,
    after_help = EXIT_CODES_HELP,
    after_long_help = EXIT_CODES_HELP,
)]
pub struct Cli {
    /// Options every command shares.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments like [`Parser::parse`], except that an option's
    /// environment variable (`POLYAI_BASE_URL`, `POLYAI_REGION`, `POLYAI_AGENT_ID`) that is set
    /// but empty counts as unset: `POLYAI_BASE_URL=` must not override `--region` or conflict
    /// with `--sandbox`.
    pub fn parse_args() -> Cli {
        let command = Cli::command().mut_args(|arg| {
            let empty = arg
                .get_env()
                .is_some_and(|name| std::env::var_os(name).is_some_and(|value| value.is_empty()));
            if empty { arg.env(None) } else { arg }
        });
        let mut matches = hide_unused_globals(command).get_matches();
        Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.exit())
    }

    /// Fails when more than one input wants stdin (e.g. `--api-key-file -` with the chat REPL).
    pub fn check_stdin(&self) -> Result<(), String> {
        let dash = |p: &Option<PathBuf>| p.as_deref() == Some(std::path::Path::new("-"));
        let mut readers = Vec::new();
        if dash(&self.global.api_key_file) {
            readers.push("--api-key-file -");
        }
        match &self.command {
            Command::Chat(chat) if chat.command.is_none() => readers.push("the chat REPL"),
            Command::Chat(ChatArgs {
                command: Some(ChatCommand::Replay(replay)),
                ..
            }) if dash(&replay.ids_file) => readers.push("chat replay --ids -"),
            Command::Conversations(ConversationsCommand::Note(note)) if dash(&note.file) => {
                readers.push("note --file -")
            }
            Command::Conversations(ConversationsCommand::Annotate(a)) if dash(&a.from) => {
                readers.push("annotate --from -")
            }
            Command::Conversations(ConversationsCommand::Get(GetArgs {
                ids, ids_file, ..
            }))
            | Command::Conversations(ConversationsCommand::Audio(AudioArgs {
                ids,
                ids_file,
                ..
            })) if dash(ids_file) || ids.iter().any(|id| id == "-") => {
                readers.push("the ids on stdin (-)")
            }
            _ => {}
        }
        if readers.len() > 1 {
            return Err(format!(
                "{} both read stdin; put the key in a file or in POLYAI_API_KEY",
                readers.join(" and ")
            ));
        }
        Ok(())
    }
}

/// Hides, in the help of the commands that never use them, the global options they ignore (as
/// gh lists only the flags a command takes): connection options for the commands that need no
/// client, download limits for those that download nothing. Each such command gets a hidden
/// copy of the option, which clap then does not propagate over; it parses as before.
fn hide_unused_globals(command: clap::Command) -> clap::Command {
    const NETWORK: [&str; 6] = [
        "sandbox",
        "sandbox_disagree",
        "retries",
        "max_body_mib",
        "min_download_rate",
        "download_timeout",
    ];
    const DOWNLOAD: [&str; 2] = ["min_download_rate", "download_timeout"];
    const TARGET: [&str; 5] = ["region", "base_url", "agent", "account", "api_key_file"];
    let globals: Vec<clap::Arg> = command
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let hidden = |ids: &[&str]| -> Vec<clap::Arg> {
        globals
            .iter()
            .filter(|a| ids.contains(&a.get_id().as_str()))
            .map(|a| a.clone().hide(true))
            .collect()
    };
    let offline: Vec<&str> = NETWORK.iter().chain(&TARGET).copied().collect();
    let mut command = command
        .mut_subcommand("config", |c| c.args(hidden(&NETWORK)))
        .mut_subcommand("schema", |c| c.args(hidden(&offline)))
        .mut_subcommand("verify", |c| c.args(hidden(&offline)))
        .mut_subcommand("keygen", |c| c.args(hidden(&offline)))
        .mut_subcommand("completions", |c| {
            c.args(hidden(&[offline.as_slice(), &["profile"]].concat()))
        })
        .mut_subcommand("chat", |c| c.args(hidden(&DOWNLOAD)))
        .mut_subcommand("reconcile", |c| c.args(hidden(&DOWNLOAD)));
    for name in ["list", "get", "annotate", "note"] {
        command = command.mut_subcommand("conversations", |c| {
            c.mut_subcommand(name, |c| c.args(hidden(&DOWNLOAD)))
        });
    }
    command
}

/// Where to connect, as whom, and how to print. Listed under their own heading in every
/// command's help, apart from the command's own options.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// API region of your key's Agent Studio: us, eu, uk, studio (also us-1, euw-1, uk-1, dev, staging).
    #[arg(long, global = true, env = "POLYAI_REGION", value_name = "REGION")]
    pub region: Option<String>,

    /// Custom API base URL (a proxy or a local polyai-mock); overrides --region.
    #[arg(
        long,
        global = true,
        env = "POLYAI_BASE_URL",
        value_name = "URL",
        conflicts_with = "sandbox"
    )]
    pub base_url: Option<String>,

    /// Agent (Agent Studio "Project ID"), e.g. PROJECT-58RP822I.
    #[arg(long, global = true, env = "POLYAI_AGENT_ID", value_name = "ID")]
    pub agent: Option<String>,

    /// Account (Agent Studio "Workspace ID"), e.g. ws-fd112d8f: lists and exports through the
    /// Conversations API v3 (time ranges, search, sampling, turns inline).
    #[arg(long, global = true, env = "POLYAI_ACCOUNT_ID", value_name = "ID")]
    pub account: Option<String>,

    /// Read the API key from this file ('-' for stdin) instead of POLYAI_API_KEY.
    #[arg(long, global = true, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// Use this profile of the config file (`polyai config list`); without one, the profile
    /// `default` when the file defines it. Flags and environment variables override its values;
    /// --sandbox ignores it.
    #[arg(long, global = true, env = "POLYAI_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Output format.
    #[arg(long, short = 'O', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Run against an embedded mock of the API on 127.0.0.1 (no key, no network needed).
    #[arg(long, global = true)]
    pub sandbox: bool,

    /// With --sandbox: make its Data API and v3 listings disagree, to see what `reconcile`
    /// finds. Comma-separated: drop-v3=F, drop-data=F, duplicate-v3=F, duplicate-data=F,
    /// field=NAME[:F] (F a fraction; NAME started_at, total_duration, channel, environment,
    /// variant_id, handoff, turn_count or in_progress), e.g. drop-v3=0.05,field=total_duration.
    #[arg(long, global = true, value_name = "SPEC", requires = "sandbox")]
    pub sandbox_disagree: Option<polyai_mock::Disagreement>,

    /// Retries of a failed request (429, 500, 502-504, network errors) before giving up.
    #[arg(long, global = true, default_value_t = 3, value_name = "N")]
    pub retries: u32,

    /// Largest JSON answer read, in MiB; a larger one fails instead of filling memory.
    #[arg(long, global = true, default_value_t = 64, value_name = "MIB",
          value_parser = Count::<u64>::at_least(1))]
    pub max_body_mib: u64,

    /// Slowest recording download accepted, in bytes/s averaged over 30 s (0: no minimum).
    #[arg(
        long,
        global = true,
        default_value_t = 1024,
        value_name = "BYTES_PER_S"
    )]
    pub min_download_rate: u64,

    /// Longest a recording download may take in total, in seconds (default: no limit).
    #[arg(long, global = true, value_name = "SECS",
          value_parser = Count::<u64>::at_least(1))]
    pub download_timeout: Option<u64>,

    /// Log requests to stderr (-v: debug, -vv: trace). The API key is never logged.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns and readable views, for people.
    Table,
    /// One pretty-printed JSON document.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, read, download, annotate and note conversations.
    #[command(subcommand, visible_alias = "conv")]
    Conversations(ConversationsCommand),
    /// Chat with an agent (interactive REPL on stdin), `chat send` for scripted turns, or
    /// `chat test` to run scenario files as regression tests.
    Chat(ChatArgs),
    /// Export every conversation of an agent to JSONL (and WAV files), or as Parquet or CSV
    /// dataset tables (--format), resumably.
    Export(ExportArgs),
    /// Keep a local SQLite copy (--db) or a Parquet/CSV dataset (--to) of an agent's conversations
    /// current (incremental, resumable).
    Sync(SyncArgs),
    /// Prove that two listings agree, day by day and field by field: the Data API against the
    /// Conversations API v3, or an API against an earlier export or sync database.
    Reconcile(ReconcileArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Set up a profile of the config file (`config init`), or show them (never a key).
    #[command(subcommand, after_help = CONFIG_HELP)]
    Config(ConfigCommand),
    /// Print the JSON Schema of a record polyai writes (without NAME: list them).
    Schema(SchemaArgs),
    /// Check an export folder against its manifest: every file present, unchanged and listed,
    /// records readable, counts right, SHA256SUMS and (with --pubkey) the signature valid.
    Verify(VerifyArgs),
    /// Make a key pair for signing exports (`export --sign`): minisign's format.
    Keygen(KeygenArgs),
    /// Analytics datasets: Parquet or CSV tables in Hive partitions, on a folder, s3://, gs:// or az://.
    #[cfg(feature = "dataset")]
    #[command(subcommand)]
    Dataset(crate::commands::dataset::DatasetCommand),
}

/// `schema`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every record polyai writes (each conversation of list, get, export and sync, and \
                  every summary) follows one contract, in snake_case, whichever API it came from: \
                  docs/records.md describes it field by field. Example: polyai schema conversation"
)]
pub struct SchemaArgs {
    /// The record, e.g. `conversation` (see `polyai schema`).
    pub name: Option<String>,
    /// Write every schema to DIR/NAME.schema.json (what `cargo xtask generate` runs).
    #[arg(long, value_name = "DIR", hide = true)]
    pub write_to: Option<PathBuf>,
}

/// `verify`.
#[derive(Debug, Args)]
#[command(after_help = VERIFY_HELP)]
pub struct VerifyArgs {
    /// The export folder (the --out of `polyai export`), or a dataset folder (the --to of
    /// `polyai dataset convert`).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Check the manifest's signature (DIR/manifest.json.minisig) with this minisign public key
    /// file (or a file holding its base64 line).
    #[arg(long, value_name = "FILE")]
    pub pubkey: Option<PathBuf>,
}

/// After `polyai verify --help`.
const VERIFY_HELP: &str = "\
Checks, naming the file each time: every file manifest.json lists is present, a regular file
reached through no symbolic link, with the listed size and SHA-256 (read as a stream; progress
on stderr); no other file is in DIR except the export's own manifest.json, SHA256SUMS,
manifest.json.minisig, export.checkpoint.json, export.index.jsonl and export.lock; every line of
conversations.jsonl and failures.jsonl is a JSON object with an id, and every recording a record
names is listed; the counts of conversations, failures and recordings match the manifest;
SHA256SUMS lists the manifest and every file with the same hashes; and with --pubkey, the
manifest's minisign signature and its trusted comment are valid. A manifest path that is
absolute, holds `..` or goes through a symbolic link is refused, never opened.

A dataset folder (_polyai_dataset.json, no manifest.json) is checked against its manifest: every
data file and id list present with its size and SHA-256, each data file's rows (Parquet footer or
CSV lines) as listed, each conversation in one fragment, no unlisted file in the table folders.

Without polyai:  cd DIR && sha256sum -c SHA256SUMS
                 minisign -Vm DIR/manifest.json -p KEY.pub

Exit status: 0 when DIR verifies, 13 when it does not (every problem is listed on stdout;
-O json gives them as JSON), 2 for an unreadable --pubkey, 8 when DIR cannot be opened.";

/// `keygen`.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes FILE, the secret key (mode 0600, unencrypted, minisign's `-W` layout: keep it \
                  private, e.g. in a secrets manager), and FILE.pub, the public key to give \
                  auditors. Neither is overwritten. minisign reads both: `minisign -S -s FILE -m \
                  manifest.json` signs, `minisign -V -p FILE.pub -m manifest.json` verifies. A key \
                  made by `minisign -G -W` works with --sign too; a password-protected one (plain \
                  `minisign -G`) does not, since polyai takes no password: sign its manifests with \
                  `minisign -Sm DIR/manifest.json` instead."
)]
pub struct KeygenArgs {
    /// Where to write the secret key; the public key goes to FILE.pub.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `config …` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Create or update a profile (--profile, default `default`): region, agent, account, and
    /// the API key in a key file readable by you alone. Asks on a terminal.
    #[command(after_help = CONFIG_INIT_HELP)]
    Init,
    /// List the profiles: region or base URL, agent, account and key file.
    #[command(visible_alias = "ls")]
    List,
    /// Show one profile (default: the one in use) and whether its key file is usable.
    Show(ConfigShowArgs),
}

/// `config show`.
#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// The profile (default: --profile, POLYAI_PROFILE, or `default`).
    pub name: Option<String>,
}

/// After `polyai config init --help`.
const CONFIG_INIT_HELP: &str = "\
On a terminal, init asks for each setting not given as a flag (Enter keeps the value shown) and
for the API key, without echoing it. Elsewhere (a script, CI) it asks nothing: give the settings
as flags and the key on stdin, or in POLYAI_API_KEY; the key is never a command-line argument,
where other users and the shell history would see it:

  polyai config init                                    # asks
  polyai --profile eu --region eu --agent PROJECT-58RP822I config init
  pass show polyai/eu | polyai --profile eu --region eu --agent PROJECT-58RP822I \\
      --api-key-file - config init

The key goes to PROFILE.key beside the config file (mode 0600, replaced only when a new key is
given); --api-key-file PATH instead names a key file you keep elsewhere. The profile's table in
the config file is replaced; the rest of the file is kept as it is.";

/// After `polyai config --help`: the file format in brief.
const CONFIG_HELP: &str = "\
The config file is $POLYAI_CONFIG, else $XDG_CONFIG_HOME/polyai/config.toml, else
~/.config/polyai/config.toml:

  [profiles.default]              # used when no profile is named
  region = \"eu\"
  agent = \"PROJECT-58RP822I\"
  api_key_file = \"~/.config/polyai/eu.key\"   # relative paths: from the file's folder

  [profiles.staging]
  base_url = \"https://proxy.example\"
  agent = \"PROJECT-STAGING1\"
  account = \"ws-fd112d8f\"

`polyai config init` writes such a table (and the key file) for you.
Pick one with --profile NAME or POLYAI_PROFILE. Flags win over environment variables, which win
over the profile. The key file must be readable by you alone (chmod 600), as ssh requires of a
private key; the key itself never goes in config.toml.";

/// `conversations …` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConversationsCommand {
    /// List conversations, newest first.
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show one conversation: header, then the transcript turn by turn.
    Get(GetArgs),
    /// Download a conversation's recording (WAV).
    #[command(visible_alias = "get-audio")]
    Audio(AudioArgs),
    /// Flag turns after a QA review.
    Annotate(AnnotateArgs),
    /// Set (create or replace) the conversation's note.
    Note(NoteArgs),
}

/// `conversations list`.
#[derive(Debug, Args)]
#[command(
    after_help = "With an account (--account or POLYAI_ACCOUNT_ID) the list comes from the Conversations API v3, \
                  which also takes the filters below; without one, from the Data API (newest first, --limit and \
                  --offset only). Times are RFC 3339 (2026-06-02T00:00:00Z), a date (2026-06-02, UTC), or an age \
                  such as 90m, 24h, 7d or 2w. v3 lists live conversations unless --env says otherwise. In the \
                  sandbox the v3 filters use the sandbox's own account, and ages count back from its clock \
                  (2026-06-03T14:00:00Z)."
)]
pub struct ListArgs {
    /// Page size (default 50; with --all through the Data API, 1000, the largest page it serves;
    /// at most 1000 through v3).
    #[arg(long, value_parser = Count::<u64>::at_least(1))]
    pub limit: Option<u64>,
    /// Conversations to skip.
    #[arg(long, default_value_t = 0, conflicts_with = "cursor")]
    pub offset: u64,
    /// Every conversation from --offset (or --cursor) on, following pages.
    #[arg(long)]
    pub all: bool,
    /// With --all through the Data API: listing pages fetched at once once the first page has
    /// told the total (printed in order either way).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PAGE_CONCURRENCY, requires = "all",
          value_parser = Count::<u16>::new(1, 64))]
    pub page_concurrency: u16,
    /// Keep each conversation as the API sent it, under the record's `raw` key.
    #[arg(long)]
    pub keep_raw: bool,
    /// With --sample: draw the sample here, from every conversation the listing returns (either
    /// API; bound it with --since), the same one for the same SEED and conversations; printed in
    /// sample order. Without it, a v3 sample is the server's, different each time.
    #[arg(long, value_name = "SEED", requires = "sample", conflicts_with_all = ["all", "cursor", "offset"],
          help_heading = "Sampling")]
    pub seed: Option<u64>,
    /// With --sample: only finished conversations that have a recording (drawn here, as with
    /// --seed; a seed is chosen and printed when none is given). Through v3, each candidate's
    /// recording is asked for, in sample order, until the sample is full.
    #[arg(long, requires = "sample", conflicts_with_all = ["all", "cursor", "offset"],
          help_heading = "Sampling")]
    pub with_recording: bool,
    /// The API and the environments.
    #[command(flatten)]
    pub source: SourceArgs,
    /// The Conversations API v3 filters.
    #[command(flatten)]
    pub v3: V3Filters,
}

impl ListArgs {
    /// Whether the sample is drawn here (`--seed`, `--with-recording`), not by the server.
    pub fn samples_here(&self) -> bool {
        self.v3.sample && (self.seed.is_some() || self.with_recording)
    }
}

/// The help heading of the flags only the Conversations API v3 serves.
pub const V3_HEADING: &str = "Conversations API v3 only (needs --account; in the sandbox, its own)";

/// `--page-concurrency`'s default: the library's.
const DEFAULT_PAGE_CONCURRENCY: u16 = polyai_data::paginate::DEFAULT_CONCURRENCY as u16;

/// Filters only the Conversations API v3 has.
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = V3_HEADING)]
pub struct V3Filters {
    /// Only conversations that started at or after this time (RFC 3339, a date, or an age: 24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only conversations that started before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only conversations whose transcript contains TEXT (with --semantic: ranked by meaning).
    #[arg(long, value_name = "TEXT", conflicts_with = "sample")]
    pub search: Option<String>,
    /// Make --search a semantic search: the closest conversations first.
    #[arg(long, requires = "search")]
    pub semantic: bool,
    /// With --search: only what the user said, or only what the agent said.
    #[arg(long, value_enum, requires = "search", conflicts_with = "semantic")]
    pub side: Option<Side>,
    /// A random sample: the conversations in random order (the first page of --limit N is a sample
    /// of N; with --seed or --with-recording, drawn by polyai on either API).
    #[arg(long)]
    pub sample: bool,
    /// Only this channel, e.g. VOICE-SIP, WEBCHAT or voice (repeatable).
    #[arg(long, value_name = "CHANNEL")]
    pub channel: Vec<String>,
    /// Only conversations of the variant with this name.
    #[arg(long, value_name = "NAME", conflicts_with = "variant_id")]
    pub variant: Option<String>,
    /// Only conversations of this variant id.
    #[arg(long, value_name = "ID")]
    pub variant_id: Option<String>,
    /// Only conversations still going on.
    #[arg(long, conflicts_with = "finished")]
    pub in_progress: bool,
    /// Only finished conversations.
    #[arg(long)]
    pub finished: bool,
    /// Include each turn's latency.
    #[arg(long)]
    pub latency: bool,
    /// Continue from the cursor a previous page printed.
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
}

impl V3Filters {
    /// The flags that only the Conversations API v3 can serve, as typed on the command line.
    pub fn used(&self) -> Vec<&'static str> {
        let mut used = Vec::new();
        let mut flag = |on: bool, name: &'static str| {
            if on {
                used.push(name);
            }
        };
        flag(self.since.is_some(), "--since");
        flag(self.until.is_some(), "--until");
        flag(self.search.is_some(), "--search");
        flag(self.sample, "--sample");
        flag(!self.channel.is_empty(), "--channel");
        flag(self.variant.is_some(), "--variant");
        flag(self.variant_id.is_some(), "--variant-id");
        flag(self.in_progress, "--in-progress");
        flag(self.finished, "--finished");
        flag(self.latency, "--latency");
        flag(self.cursor.is_some(), "--cursor");
        used
    }
}

/// Which side of the turns a transcript search reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Side {
    /// What the user said.
    User,
    /// What the agent said.
    Agent,
}

/// `conversations get`.
#[derive(Debug, Args)]
#[command(after_help = IDS_HELP)]
pub struct GetArgs {
    /// Conversation ids ('-' reads more from stdin, one per line).
    #[arg(value_name = "ID", required_unless_present = "ids_file")]
    pub ids: Vec<String>,
    /// Read conversation ids from FILE, one per line ('-' for stdin; blank lines and lines
    /// starting with # are skipped).
    #[arg(long = "ids", value_name = "FILE")]
    pub ids_file: Option<PathBuf>,
    /// With -O json|jsonl: keep the conversation as the API sent it, under the record's `raw`.
    #[arg(long)]
    pub keep_raw: bool,
}

/// After `get --help` and `audio --help`.
const IDS_HELP: &str = "\
Several ids are shown (or saved) one after the other; a failure is reported and the others go
on (exit status: the first failure's). Ids also come from a file or a pipe:
  polyai conversations list --search refund -O jsonl | jq -r .conversation_id | polyai conversations get -
  polyai conversations audio --ids ids.txt -o recordings/";

/// Which side of the call a recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AudioDirection {
    /// Both sides mixed.
    Combined,
    /// The caller only.
    User,
    /// The agent only.
    Agent,
}

/// `conversations audio`.
#[derive(Debug, Args)]
#[command(after_help = IDS_HELP)]
pub struct AudioArgs {
    /// Conversation ids ('-' reads more from stdin, one per line).
    #[arg(value_name = "ID", required_unless_present = "ids_file")]
    pub ids: Vec<String>,
    /// Read conversation ids from FILE, one per line ('-' for stdin; blank lines and lines
    /// starting with # are skipped).
    #[arg(long = "ids", value_name = "FILE")]
    pub ids_file: Option<PathBuf>,
    /// Which side of the call.
    #[arg(long, value_enum, default_value_t = AudioDirection::Combined)]
    pub direction: AudioDirection,
    /// Ask for the PII-redacted recording.
    #[arg(long)]
    pub redacted: bool,
    /// Where to write the WAV file (its folder is created); `-` for stdout; with several ids,
    /// a folder (ending in /, or one that exists) that gets ID.wav each (default: a file in
    /// the working folder named after the id, made safe: ID.wav for ordinary ids).
    #[arg(long = "out", short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace FILE if it exists (a symbolic link is replaced itself, never followed).
    #[arg(long)]
    pub force: bool,
}

/// Which side of a turn an annotation flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationRole {
    /// The caller's input.
    User,
    /// The agent's response.
    Agent,
}

/// What an annotation reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationKind {
    /// The agent lacked a knowledge-base topic.
    #[value(name = "missing_topic", alias = "missing-topic")]
    MissingTopic,
    /// Speech recognition got the caller wrong.
    #[value(name = "wrong_transcript", alias = "wrong-transcript")]
    WrongTranscript,
    /// The agent said something wrong.
    #[value(name = "wrong_info", alias = "wrong-info")]
    WrongInfo,
}

/// `conversations annotate`.
#[derive(Debug, Args)]
#[command(after_help = ANNOTATE_HELP)]
pub struct AnnotateArgs {
    /// Conversation id (optional with --from FILE when the file has a conversation_id column).
    #[arg(required_unless_present = "from")]
    pub id: Option<String>,
    /// Zero-based turn index (repeatable).
    #[arg(long, value_name = "N")]
    pub turn: Vec<i64>,
    /// Side of the turn (repeatable, one per --turn).
    #[arg(long, value_enum)]
    pub role: Vec<AnnotationRole>,
    /// Issue type (repeatable, one per --turn).
    #[arg(long = "type", value_enum)]
    pub kind: Vec<AnnotationKind>,
    /// Read annotations from a JSON or CSV file ('-' for stdin).
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
}

/// After `polyai conversations annotate --help`: the file layouts.
const ANNOTATE_HELP: &str = "\
Each --turn/--role/--type triple is one annotation; repeat the three flags for more.
Turns are zero-based (0 is the greeting), as `polyai conversations get ID` numbers them.

--from FILE reads annotations from a CSV file with a header row (columns in any order):

  conversation_id,turn,role,type
  CA681f3ad0d037c1884614548178a5bc1b,2,agent,wrong_info
  CA681f3ad0d037c1884614548178a5bc1b,3,user,wrong_transcript
  CA90a1be22f6e0c1c3d8b3c0c8b8a3a1f0,1,agent,missing_topic

or a JSON array of {\"conversation_id\":\"CA…\",\"turn\":2,\"role\":\"agent\",\"type\":\"wrong_info\"}.
role is user or agent; type is missing_topic, wrong_transcript or wrong_info; turnId and
annotation_type are accepted as column names too. conversation_id is optional: without it
every row annotates the ID given on the command line. With it, each conversation the file
names gets its rows (ID may then be left out); a row naming another conversation than ID is
refused before anything is sent. The annotations show in `polyai conversations get ID`.";

/// `conversations note`.
#[derive(Debug, Args)]
pub struct NoteArgs {
    /// Conversation id.
    pub id: String,
    /// The note text.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub text: Option<String>,
    /// Read the note from a file ('-' for stdin).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// The parser of a whole-number option: a number from `min` to `max`, refused with a message
/// that names the option and its range ("--limit must be at least 1") rather than clap's
/// "0 is not in 1..18446744073709551615".
#[derive(Debug, Clone, Copy)]
pub struct Count<T> {
    min: u64,
    max: u64,
    _type: std::marker::PhantomData<fn() -> T>,
}

impl<T> Count<T> {
    /// From `min` to `max`, both included.
    pub const fn new(min: u64, max: u64) -> Self {
        Count {
            min,
            max,
            _type: std::marker::PhantomData,
        }
    }

    /// `min` or more.
    pub const fn at_least(min: u64) -> Self {
        Self::new(min, u64::MAX)
    }

    /// What the option takes, e.g. `at least 1` or `from 1 to 1000`.
    fn range(&self) -> String {
        if self.max == u64::MAX {
            format!("at least {}", self.min)
        } else {
            format!("from {} to {}", self.min, self.max)
        }
    }
}

impl<T> clap::builder::TypedValueParser for Count<T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        let name = arg
            .and_then(clap::Arg::get_long)
            .map_or_else(|| "the value".to_owned(), |long| format!("--{long}"));
        let fail = |why: String| {
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{why}\n")).with_cmd(cmd)
        };
        let number: u64 = text.trim().parse().map_err(|_| {
            fail(format!(
                "{name} takes a whole number {}, not '{text}'",
                self.range()
            ))
        })?;
        if number < self.min || number > self.max {
            return Err(fail(format!(
                "{name} must be {} (got {number})",
                self.range()
            )));
        }
        T::try_from(number).map_err(|_| fail(format!("{name} must be {}", self.range())))
    }
}

/// The parser of a value our library parses (`FromStr` with [`polyai_data::Error`]): its error
/// text as clap's, and `names` listed in help and shell completions.
#[derive(Debug, Clone, Copy)]
pub struct NamesArg<T> {
    names: &'static [&'static str],
    parsed: std::marker::PhantomData<fn() -> T>,
}

/// `--env` of chat and replay: [`ClientEnv`]'s own parser (any case, `prerelease`/`pre_release`
/// too).
pub const ENV_ARG: NamesArg<ClientEnv> = NamesArg {
    names: &["sandbox", "pre-release", "live"],
    parsed: std::marker::PhantomData,
};

/// `--env` of list, export and sync: an environment or `all`.
pub const ENVIRONMENTS_ARG: NamesArg<Environments> = NamesArg {
    names: &["live", "pre-release", "sandbox", "all"],
    parsed: std::marker::PhantomData,
};

impl<T> clap::builder::TypedValueParser for NamesArg<T>
where
    T: std::str::FromStr<Err = polyai_data::Error> + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        text.parse().map_err(|err: polyai_data::Error| {
            let arg = arg.map_or_else(|| "--env".to_owned(), ToString::to_string);
            let why = match err {
                polyai_data::Error::InvalidRequest(why) => why,
                other => other.to_string(),
            };
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value '{text}' for '{arg}': {why}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            self.names
                .iter()
                .map(|name| clap::builder::PossibleValue::new(*name)),
        ))
    }
}

/// The API that lists conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiArg {
    /// The Conversations API v3: PolyAI's documented listing (needs an account).
    V3,
    /// The Data API (deprecated by PolyAI on 2026-07-13).
    #[value(alias = "v1")]
    Data,
}

impl ApiArg {
    /// The record contract's name of this API.
    pub fn api(self) -> Api {
        match self {
            ApiArg::V3 => Api::V3,
            ApiArg::Data => Api::Data,
        }
    }
}

/// Where `conversations list`, `export` and `sync` read: the API and the environments.
#[derive(Debug, Args, Clone, Copy)]
pub struct SourceArgs {
    /// The API that lists: v3 (the Conversations API v3, PolyAI's documented listing; needs
    /// --account or POLYAI_ACCOUNT_ID) or data (the Data API, deprecated by PolyAI).
    #[arg(long, value_enum, default_value_t = ApiArg::V3, env = "POLYAI_API",
          help_heading = "Source")]
    pub api: ApiArg,
    /// The environments read: live, pre-release, sandbox or all.
    #[arg(long = "env", value_name = "ENV", default_value = "live", value_parser = ENVIRONMENTS_ARG,
          env = "POLYAI_ENV", help_heading = "Source")]
    pub environments: Environments,
}

/// `chat` (REPL) and `chat send`.
#[derive(Debug, Args)]
#[command(
    after_help = "The REPL reads one message per line from stdin (a terminal or a pipe) and stops when \
                  the agent ends the conversation, at end of input, or on /quit."
)]
pub struct ChatArgs {
    /// Environment to chat with [default: sandbox].
    #[arg(long, value_parser = ENV_ARG, global = true)]
    pub env: Option<ClientEnv>,
    /// Agent variant.
    #[arg(long, global = true)]
    pub variant: Option<String>,
    /// Language code for input and output, e.g. en-GB.
    #[arg(long, global = true)]
    pub lang: Option<String>,
    /// Show the node trace, retrieved topics and function events of each reply.
    #[arg(long, global = true)]
    pub debug: bool,
    /// One-shot mode.
    #[command(subcommand)]
    pub command: Option<ChatCommand>,
}

/// `chat` subcommands.
#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Send each MESSAGE as one turn and print the replies.
    Send(ChatSendArgs),
    /// Run scenario files (TOML) as regression tests: one debug-chat session per scenario.
    Test(ChatTestArgs),
    /// Replay recorded conversations against an agent variant and report where it now behaves
    /// differently: one debug-chat session per conversation.
    Replay(ChatReplayArgs),
}

/// `chat send`.
#[derive(Debug, Args)]
pub struct ChatSendArgs {
    /// Messages, one turn each.
    #[arg(required = true)]
    pub messages: Vec<String>,
}

/// `chat test`.
#[derive(Debug, Args)]
#[command(after_help = CHAT_TEST_HELP)]
pub struct ChatTestArgs {
    /// Scenario files, or directories searched for *.toml files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also write a JUnit XML report to FILE (its directory is created).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Run only the scenarios whose name contains TEXT, ignoring case (repeatable: any of them).
    #[arg(long, value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Chat sessions at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = Count::<u16>::new(1, 64))]
    pub concurrency: u16,
    /// Time limit of one run of a scenario that sets no `timeout`, e.g. 90s, 2m, 1m30s.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = duration_arg)]
    pub timeout: Duration,
    /// Check the files and list the scenarios that would run, without starting any session.
    #[arg(long)]
    pub list: bool,
}

/// After `polyai chat test --help`: the file format in brief.
const CHAT_TEST_HELP: &str = "\
A scenario file holds one or more scenarios:

  [defaults]                      # optional, for every scenario of the file
  environment = \"pre-release\"     # sandbox | pre-release | live
  language = \"en-GB\"
  timeout = \"90s\"

  [[scenario]]
  name = \"Password reset sends a link\"
  # agent, variant, environment, language, timeout, attributes = { … } also go here
  repeat = 5                      # five sessions…
  must_pass = 4                   # …of which four must pass
  [scenario.greeting]
  contains = \"how can I help\"
  [[scenario.turn]]
  user = \"I forgot my password\"
  contains = [\"reset\", \"link\"]    # all must appear, ignoring case
  not_contains = \"sorry\"
  regex = '(?i)reset (link|code)'
  function = \"send_reset_link\"    # called in this turn (not_function: not called)
  handoff = false                 # true, false or a destination
  ended = false                   # whether the agent ends the conversation

A scenario's own settings win over [defaults], which win over --agent, --env, --variant,
--lang and --timeout. Each scenario stops at the first reply that breaks an expectation.
Exit status: 0 when every scenario passed, 11 when one failed, 12 when none failed but one
could not be run to the end (session error, time limit, network); 2 for a broken file,
which is reported with its line and column before anything runs.";

/// `chat replay`.
#[derive(Debug, Args)]
#[command(after_help = CHAT_REPLAY_HELP)]
pub struct ChatReplayArgs {
    /// Conversation ids to replay (or --ids FILE, or the listing filters below).
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
    /// Read conversation ids from FILE, one per line ('-' for stdin; blank lines and lines
    /// starting with # are skipped).
    #[arg(long = "ids", value_name = "FILE")]
    pub ids_file: Option<PathBuf>,
    /// Only conversations that started at or after this time (RFC 3339, a date, or an age: 24h, 7d).
    #[arg(long, value_name = "TIME", help_heading = "Selecting conversations")]
    pub since: Option<String>,
    /// Only conversations that started before this time (same forms as --since).
    #[arg(long, value_name = "TIME", help_heading = "Selecting conversations")]
    pub until: Option<String>,
    /// Only conversations whose transcript contains TEXT.
    #[arg(long, value_name = "TEXT", help_heading = "Selecting conversations")]
    pub search: Option<String>,
    /// A random sample of the conversations (with --limit N: N of them).
    #[arg(long, help_heading = "Selecting conversations")]
    pub sample: bool,
    /// Conversations to replay at most when selecting by filters [default: 100].
    #[arg(long, value_name = "N", help_heading = "Selecting conversations",
          value_parser = Count::<u64>::new(1, 100_000))]
    pub limit: Option<u64>,
    /// Only conversations recorded in this environment (the listing's default: live).
    #[arg(
        long,
        value_parser = ENV_ARG,
        value_name = "ENV",
        help_heading = "Selecting conversations"
    )]
    pub source_env: Option<ClientEnv>,
    /// Only conversations recorded on the variant with this name.
    #[arg(long, value_name = "NAME", help_heading = "Selecting conversations")]
    pub source_variant: Option<String>,
    /// Replay each conversation against the variant it was recorded on (its variant_id)
    /// instead of --variant: how reproducible the agent is.
    #[arg(long, conflicts_with = "variant")]
    pub own_variant: bool,
    /// Replies at least this similar (0 to 1) are the same reply; 0 compares no text, 1 wants
    /// the same words in the same order.
    #[arg(long, value_name = "X", default_value_t = crate::replay::DEFAULT_THRESHOLD,
          value_parser = threshold_arg)]
    pub threshold: f64,
    /// An integration attribute sent with every session (repeatable), e.g. caller_tier=gold.
    #[arg(long = "attribute", value_name = "KEY=VALUE", value_parser = attribute_arg)]
    pub attributes: Vec<(String, String)>,
    /// Stop replaying a conversation at its first divergence instead of replaying it to the end.
    #[arg(long)]
    pub stop_at_divergence: bool,
    /// Chat sessions at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = Count::<u16>::new(1, 64))]
    pub concurrency: u16,
    /// Time limit of the replay of one conversation, e.g. 90s, 2m, 1m30s.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = duration_arg)]
    pub timeout: Duration,
    /// Also write a JUnit XML report to FILE: one test case per conversation.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write a self-contained HTML report to FILE: original and replayed turns side by side.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write each replayed conversation to DIR as a `chat test` scenario file (its caller turns
    /// and the expectations that held), named after its id.
    #[arg(long, value_name = "DIR")]
    pub save_scenarios: Option<PathBuf>,
}

/// After `polyai chat replay --help`: the rules in brief.
const CHAT_REPLAY_HELP: &str = "\
Examples:
  polyai chat replay CA681f3ad0d037c1884614548178a5bc1b --env pre-release --variant \"Next Release\"
  polyai chat replay --since 7d --source-env live --sample --limit 200 \\
      --env pre-release --variant \"Next Release\" --junit replay.xml --html replay.html
  polyai --sandbox chat replay --since 7d --limit 20 --variant \"Next Release\"

Each conversation (read from the Data API, so its function events come along; selected by the
Conversations API v3 listing when filters are given and an account is known) is replayed in its
own debug-chat session against --env (default: sandbox) and --variant: its caller turns are sent
in order, in its language unless --lang says otherwise. Every agent turn is compared with the
original one:
  function  the functions called (when the source records them)
  handoff   whether the turn handed off, and to which destination
  ended     a replay the agent ends where the original went on
  text      the word similarity of the replies (lower-cased, punctuation and spacing
            ignored): 2*M/T, M the words both share in order, T the words of both;
            below --threshold (default 0.8) the replies differ
A conversation diverges at its first turn that differs. Conversations still in progress are
skipped. Exit status: 0 when every conversation replayed clean, 11 when one diverged, 12 when
none diverged but one could not be replayed (the conversation could not be read, the session
ended (410), time limit, network); 130 on Ctrl-C, after reporting the replays that finished.";

fn threshold_arg(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!(
            "{text:?} is not a similarity from 0 to 1 (e.g. 0.8; 0 compares no text)"
        )),
    }
}

fn attribute_arg(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("{text:?} is not KEY=VALUE (e.g. caller_tier=gold)")),
    }
}

fn duration_arg(text: &str) -> Result<Duration, String> {
    let d = crate::scenario::parse::parse_duration(text)?;
    if d.is_zero() {
        return Err("the time limit must be more than 0".into());
    }
    Ok(d)
}

/// `export`.
#[derive(Debug, Args)]
#[command(
    after_help = "DIR receives conversations.jsonl (one conversation per line), audio/ID.wav with \
                  --with-audio (odd ids get a tagged name; each record says its file in \
                  _export.audioFile), and, once the listing is walked to its end, manifest.json (counts, \
                  options, versions, and each file's size and SHA-256). Conversations that still fail \
                  after retries are listed in failures.jsonl, the run goes on, and it exits 9 \
                  (partial). Run the same command again to resume an interrupted export, or to \
                  retry exactly the failed conversations; after a complete export it appends only \
                  new conversations. One export at a time per DIR: a second one exits 10 at once.\n\n\
                  With an account (--account or POLYAI_ACCOUNT_ID; the sandbox's own with --since or \
                  --until) the export reads the Conversations API v3: each line is the v3 record with \
                  its turns, a page of up to 1000 per request, and an interrupted export resumes from \
                  the saved cursor. --with-details then adds what v3 does not carry (function events, \
                  summary, note, recording URL, ...) from the Data API.\n\n\
                  Beside manifest.json the export writes SHA256SUMS (`cd DIR && sha256sum -c \
                  SHA256SUMS`) and, with --sign KEYFILE, manifest.json.minisig; `polyai verify DIR` \
                  checks them all. --ids FILE / --id ID export exactly those conversations \
                  (selection.txt keeps the list); --redacted masks personal fields of the records \
                  and asks for redacted recordings, and the manifest says what was and was not \
                  redacted."
)]
pub struct ExportArgs {
    /// Output directory (created if missing); with --format parquet or csv also an object
    /// store URL: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// jsonl: records of the one contract in DIR/conversations.jsonl (and WAV files). parquet
    /// or csv: a dataset of four tables (conversations, turns, function_events, metrics) in
    /// Hive partitions TABLE/date=YYYY-MM-DD/, written from the listing as it is read, committed
    /// every --commit-every conversations with the listing position (a killed run resumes; a
    /// rerun adds only what is new or changed), as by `polyai dataset convert`.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// How a --format parquet|csv export writes the dataset.
    #[cfg(feature = "dataset")]
    #[command(flatten)]
    pub dataset: crate::commands::dataset::WriteArgs,
    /// Write each conversation's detail (with turns) instead of its summary. With --format
    /// parquet|csv, a conversation the dataset holds is not read again (`sync --to` reads again
    /// the recent ones).
    #[arg(long)]
    pub with_details: bool,
    /// Also download each recording to DIR/audio/ID.wav (the record's _export.audioFile).
    #[arg(long)]
    pub with_audio: bool,
    /// Mask the personal fields of the records (phone numbers and e-mail addresses in
    /// fromNumber/toNumber and personal function arguments, v3 keypad input: see the README)
    /// and, with --with-audio, download the PII-redacted recordings. Transcripts are not
    /// masked; the manifest's `redaction` section says exactly what was.
    #[arg(long)]
    pub redacted: bool,
    /// Sign manifest.json with this minisign secret key (from `polyai keygen`, or
    /// `minisign -G -W`): writes DIR/manifest.json.minisig. The file must be readable by you
    /// alone (chmod 600).
    #[arg(long, value_name = "KEYFILE")]
    pub sign: Option<PathBuf>,
    /// Export exactly the conversations listed in FILE (one id per line; # comments), each
    /// with its detail; ids that do not exist are reported (exit 9).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["since", "until"])]
    pub ids: Option<PathBuf>,
    /// Export this conversation (repeatable; with or without --ids).
    #[arg(long = "id", value_name = "ID", conflicts_with_all = ["since", "until"])]
    pub id: Vec<String>,
    /// Conversations fetched at once.
    #[arg(long, default_value_t = 8, value_parser = Count::<u16>::new(1, 256))]
    pub concurrency: u16,
    /// Conversations per listing page (default and maximum 1000).
    #[arg(long, value_parser = Count::<u64>::new(1, 1000))]
    pub page_size: Option<u64>,
    /// Data API listing pages fetched at once once the first page has told the total (records
    /// are still written in listing order).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PAGE_CONCURRENCY,
          value_parser = Count::<u16>::new(1, 64))]
    pub page_concurrency: u16,
    /// Only conversations that started at or after this time (RFC 3339, a date, or an age: 24h,
    /// 7d); through the Conversations API v3 only.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only conversations that started before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Through the Conversations API v3 with --since: cut each environment's time range into N
    /// windows holding about as many conversations each (sized from one random page of the
    /// environment; equal slices of time should that sample fail) and walk up to N of them at
    /// once, each with its own cursor (with --env all, N lanes of the environments' windows at
    /// once). The range's end defaults to the run's start time, so it is bounded; without
    /// --since each environment is one window. A resumed run needs the same N, and walks the
    /// same windows.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = Count::<u16>::new(1, 64),
          conflicts_with_all = ["ids", "id"])]
    pub windows: u16,
    /// Keep each conversation's body as the API sent it, under the record's `raw` key.
    #[arg(long)]
    pub keep_raw: bool,
    /// The API and the environments.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// JSON lines: one record of the contract per conversation (docs/records.md).
    Jsonl,
    /// A dataset of Apache Parquet tables.
    Parquet,
    /// A dataset of CSV tables (a header row per file).
    Csv,
}

/// `sync`.
#[derive(Debug, Args)]
#[command(
    after_help = "The first run stores every conversation with its turns and metrics; later runs read \
                  only the new ones (a no-op run reads one listing page, per environment through v3) \
                  and read again those younger than --refresh-days, whose notes and in-progress \
                  state change. Each listing page is committed in one transaction: after an \
                  interruption (even kill -9) the next run goes on where it stopped. One sync per \
                  database at a time (FILE.lock); readers are never blocked (WAL). The README \
                  describes the tables and example queries; each run is a row of sync_runs.\n\n\
                  With an account (--account, POLYAI_ACCOUNT_ID or the profile's account) the sync \
                  reads the Conversations API v3: a request per 1000 conversations, turns inline, \
                  from the newest stored conversation back --overlap, but no function events, \
                  summaries, notes or tags; without one (or with --api v1) the Data API, which \
                  reads each conversation's detail. A database can switch between them.\n\n\
                  Made for cron: quiet unless something fails, one summary line on stderr (a JSON \
                  record on stdout with -O json|jsonl|csv), exit 0 when everything is stored, 9 \
                  when the run finished but some conversations could not be read (they are tried \
                  again next run), 10 when another sync holds the database.\n\n\
                  With --to DIR_OR_URL instead of --db, the sync keeps a dataset (the tables and \
                  partitions of `polyai dataset convert`, Parquet or with --format csv CSV, in a \
                  folder or at s3://, gs://, az://) up to date the same way: the first run writes \
                  every conversation, later runs walk the newest-first listing until a full page \
                  of conversations the dataset holds unchanged, and add what is new or changed \
                  (those younger than --refresh-days are read again; a changed one replaces its \
                  rows). The listing position is committed in the dataset's manifest with the \
                  rows it covers: a killed run goes on from its last commit."
)]
pub struct SyncArgs {
    /// The SQLite database (created if missing).
    #[arg(long, value_name = "FILE", required_unless_present = "to")]
    pub db: Option<PathBuf>,
    /// Keep a dataset instead of a database: a folder (created if missing) or s3://, gs://,
    /// az:// URL.
    #[arg(long, value_name = "DIR_OR_URL", conflicts_with = "db")]
    pub to: Option<String>,
    /// With --to: the dataset's files' format.
    #[arg(long, value_enum, requires = "to")]
    pub format: Option<SyncFormat>,
    /// How a --to sync writes the dataset.
    #[cfg(feature = "dataset")]
    #[command(flatten)]
    pub dataset: crate::commands::dataset::WriteArgs,
    /// Also save each conversation's recording as DIR/ID.wav (created if missing; an id that is
    /// not a plain file name is made safe, as by export), including
    /// those of conversations stored earlier without one. With --db only.
    #[arg(long, value_name = "DIR", conflicts_with = "to")]
    pub with_audio: Option<PathBuf>,
    /// Read stored conversations again when they started less than N days ago (0: never).
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = Count::<u32>::new(0, 3650))]
    pub refresh_days: u32,
    /// Conversations read at once.
    #[arg(long, default_value_t = 8, value_parser = Count::<u16>::new(1, 256))]
    pub concurrency: u16,
    /// Conversations per listing page [default: 250 for the Data API, 1000 for v3 (its most);
    /// with --to 1000 for both].
    #[arg(long, value_parser = Count::<u64>::at_least(1))]
    pub page_size: Option<u64>,
    /// Walk the whole listing, storing anything missing wherever it is (a repair).
    #[arg(long)]
    pub full: bool,
    /// The API and the environments.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Through v3 with --db: start this long before the newest stored conversation, for calls
    /// that reach the listing late (an age: 30m, 2h, 1d) [default: 1h].
    #[arg(long, value_name = "AGE", conflicts_with = "to")]
    pub overlap: Option<String>,
}

/// `sync --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncFormat {
    /// Apache Parquet (the default).
    Parquet,
    /// CSV with a header row.
    Csv,
}

/// Which environments `reconcile` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReconcileEnv {
    /// The live deployment (v3's default).
    Live,
    /// The pre-release deployment.
    PreRelease,
    /// The draft being edited.
    Sandbox,
    /// All three (v3 is walked once per environment).
    All,
}

/// The API `reconcile --against` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReconcileApi {
    /// The Data API (deprecated by PolyAI on 2026-07-13).
    Data,
    /// The Conversations API v3.
    V3,
}

/// `reconcile`.
#[derive(Debug, Args)]
#[command(after_help = RECONCILE_HELP)]
pub struct ReconcileArgs {
    /// Compare conversations that started at or after this time: RFC 3339, a date (midnight in
    /// --tz), or an age (24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: String,
    /// …and before this time (same forms) [default: now].
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Compare one API's listing with what DIR_OR_DB holds: an export folder (`polyai export
    /// --out`), a JSONL file of records, or a sync database (`polyai sync --db`).
    #[arg(long, value_name = "DIR_OR_DB")]
    pub against: Option<PathBuf>,
    /// With --against: the API to list [default: v3 when an account is known, else data].
    #[arg(long, value_enum, requires = "against")]
    pub api: Option<ReconcileApi>,
    /// The environment compared; `all` compares every one.
    #[arg(long, value_enum, default_value_t = ReconcileEnv::Live)]
    pub env: ReconcileEnv,
    /// Days are dates in this time zone: an IANA name (Europe/London, America/New_York) or UTC.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,
    /// Read each Data API conversation's detail (one request each), so turn_count is compared.
    #[arg(long)]
    pub with_details: bool,
    /// Details read at once with --with-details.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = Count::<u16>::new(1, 256))]
    pub concurrency: u16,
    /// The facts compared, by their record contract names, comma-separated [default:
    /// started_at,total_duration,channel,environment,variant_id,turn_count,handoff].
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    pub fields: Vec<String>,
    /// Start times this close are equal (an age: 1s, 2m) [default: exact to the microsecond].
    #[arg(long, value_name = "AGE", default_value = "0s")]
    pub time_tolerance: String,
    /// How far past each end of the window both sides are read, so a conversation whose start
    /// differs across an edge is a started_at difference, not an id on one side only.
    #[arg(long, value_name = "AGE", default_value = "15m")]
    pub edge_margin: String,
    /// Findings listed in the table (-O json, jsonl and csv list every one).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub show: usize,
}

/// After `polyai reconcile --help`.
const RECONCILE_HELP: &str = "\
Lists the agent's conversations of the window through both APIs (the same environment) — or
through one API and DIR_OR_DB — and compares them by id in the record contract's names. Per day
(each conversation's started_at date in --tz): how many each side lists, ids only one side lists,
conversations whose facts differ (field by field), ids a side lists twice, and those apart.

Compared by default: started_at, total_duration, channel, environment, variant_id (the Data
API's variantId may hold the variant's name: either matches) and handoff; turn_count where both
records carry it — the Data API listing has no turns, so it is compared with --with-details
(one detail request per conversation), or against an export or database that holds turns.

Apart, never differences: conversations in progress on either side (or finished on one and in
progress on the other), and those on one side only that started after the other side was read
(its copy taken), less 2 minutes for calls that reach a listing late.

The Data API has no time filter: it is read newest first from the first page that reaches the
window (found by a binary search on offsets) until a whole page is older than it. It lists
every environment; the other environments are left out here. v3 is read per environment.

Examples:
  polyai --sandbox reconcile --since 2026-06-01 --until 2026-06-03
  polyai --sandbox reconcile --since 7d --env all --with-details -O json
  polyai reconcile --since 2026-06-02 --until 2026-06-03 --tz Europe/London
  polyai reconcile --since 2026-06-02 --until 2026-06-03 --against exports/2026-06-02 -O jsonl

Exit status: 0 when the listings agree, 14 when they differ, 9 when they agree but some Data
API details could not be read (compared without turn_count).";

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_model_is_consistent() {
        Cli::command().debug_assert();
        hide_unused_globals(Cli::command()).debug_assert();
    }

    #[test]
    fn hidden_globals_still_parse() {
        let command = hide_unused_globals(Cli::command());
        let matches = command
            .try_get_matches_from(["polyai", "config", "list", "--retries", "5", "-O", "json"])
            .unwrap_or_else(|e| panic!("{e}"));
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cli.global.retries, 5);
        assert_eq!(cli.global.output, OutputFormat::Json);
        let mut command = hide_unused_globals(Cli::command());
        let help = command
            .find_subcommand_mut("config")
            .map(|c| c.render_long_help().to_string())
            .unwrap_or_default();
        assert!(
            help.contains("--profile") && !help.contains("--sandbox"),
            "{help}"
        );
        assert!(!help.contains("--min-download-rate"), "{help}");
    }

    #[test]
    fn counts_name_the_flag_and_the_range() {
        let err = |args: &[&str]| {
            Cli::try_parse_from(args)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let limit = err(&["polyai", "conversations", "list", "--limit", "0"]);
        assert!(
            limit.contains("--limit must be at least 1 (got 0)"),
            "{limit}"
        );
        let page = err(&["polyai", "export", "--out", "x", "--page-size", "5000"]);
        assert!(
            page.contains("--page-size must be from 1 to 1000 (got 5000)"),
            "{page}"
        );
        let word = err(&["polyai", "conversations", "list", "--limit", "ten"]);
        assert!(
            word.contains("--limit takes a whole number at least 1, not 'ten'"),
            "{word}"
        );
        assert!(
            Cli::try_parse_from(["polyai", "chat", "test", "x", "--concurrency", "64"]).is_ok()
        );
    }

    #[test]
    fn env_takes_what_client_env_parses_and_nothing_else() {
        let env = |value: &str| {
            Cli::try_parse_from(["polyai", "conversations", "list", "--env", value]).map(|cli| {
                match cli.command {
                    Command::Conversations(ConversationsCommand::List(list)) => {
                        Some(list.source.environments)
                    }
                    _ => None,
                }
            })
        };
        for (value, want) in [
            ("live", Environments::Only(ClientEnv::Live)),
            ("pre-release", Environments::Only(ClientEnv::PreRelease)),
            ("PRE_RELEASE", Environments::Only(ClientEnv::PreRelease)),
            ("Sandbox", Environments::Only(ClientEnv::Sandbox)),
            ("all", Environments::All),
        ] {
            assert_eq!(env(value).ok().flatten(), Some(want), "{value}");
        }
        let err = env("production")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("production") && err.contains("all, sandbox, pre-release, live"),
            "{err}"
        );
    }

    #[test]
    fn annotate_flags_repeat() {
        let cli = Cli::try_parse_from([
            "polyai",
            "conversations",
            "annotate",
            "CA1",
            "--turn",
            "1",
            "--role",
            "user",
            "--type",
            "wrong_transcript",
            "--turn",
            "2",
            "--role",
            "agent",
            "--type",
            "wrong-info",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Command::Conversations(ConversationsCommand::Annotate(a)) = cli.command else {
            panic!("wrong command");
        };
        assert_eq!(a.turn, [1, 2]);
        assert_eq!(a.role, [AnnotationRole::User, AnnotationRole::Agent]);
        assert_eq!(
            a.kind,
            [AnnotationKind::WrongTranscript, AnnotationKind::WrongInfo]
        );
    }

    #[test]
    fn chat_options_reach_send() {
        let cli = Cli::try_parse_from(["polyai", "chat", "--debug", "send", "hi", "bye"])
            .unwrap_or_else(|e| panic!("{e}"));
        let Command::Chat(chat) = cli.command else {
            panic!("wrong command");
        };
        assert!(chat.debug);
        assert!(
            matches!(chat.command, Some(ChatCommand::Send(ref s)) if s.messages == ["hi", "bye"])
        );
    }

    #[test]
    fn stdin_has_one_reader() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{e}"));
        let both = parse(&["polyai", "--api-key-file", "-", "chat"]);
        assert!(both.check_stdin().is_err());
        let one = parse(&["polyai", "--api-key-file", "-", "chat", "send", "hi"]);
        assert!(one.check_stdin().is_ok());
        let note = parse(&[
            "polyai",
            "--api-key-file",
            "-",
            "conv",
            "note",
            "C",
            "--file",
            "-",
        ]);
        assert!(note.check_stdin().is_err());
        let ids = parse(&["polyai", "--api-key-file", "-", "conv", "get", "CA1", "-"]);
        assert!(ids.check_stdin().is_err());
        let ids = parse(&[
            "polyai",
            "--api-key-file",
            "-",
            "conv",
            "audio",
            "--ids",
            "-",
        ]);
        assert!(ids.check_stdin().is_err());
    }

    #[test]
    fn sandbox_conflicts_with_base_url() {
        let err = Cli::try_parse_from([
            "polyai",
            "--sandbox",
            "--base-url",
            "http://127.0.0.1:1",
            "conversations",
            "list",
        ])
        .err();
        assert!(err.is_some());
    }
}
