//! `polyai`: every PolyAI Data API task from the terminal. See `polyai --help`.

#![warn(missing_docs)]
// Output goes through `output` only (it allows these for itself).
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod allocator;
mod archive;
mod cli;
mod commands;
mod exit;
mod export;
mod output;
mod progress;
mod reconcile;
mod records;
mod replay;
mod scenario;
mod session;
mod signals;
mod source;
mod when;

use std::process::ExitCode;

use crate::cli::{ChatCommand, Cli, Command, GlobalArgs};
use crate::exit::{CliError, Exit, Target};
use crate::session::Session;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    init_tracing(cli.global.verbose);
    if let Err(message) = cli.check_stdin() {
        return finish(Err(CliError::Usage(message)), &Target::default());
    }
    if let Some(result) = commands::run_offline(&cli) {
        return finish(result, &Target::default());
    }
    if let Command::Export(args) = &cli.command
        && args.format == cli::ExportFormat::Jsonl
    {
        allocator::for_streaming();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return finish(
                Err(CliError::Other(format!("cannot start: {e}"))),
                &Target::default(),
            );
        }
    };
    let code = runtime.block_on(async {
        // Handlers first, so a signal that arrives while the session opens is seen. The
        // export installs its own, to save its checkpoint, sync its own, to mark its run
        // interrupted and print its summary, and `chat test` and `chat replay` their own, to
        // report what finished (until then a signal stops them at once).
        let own_handler = matches!(
            &cli.command,
            Command::Export(_)
                | Command::Sync(_)
                | Command::Chat(cli::ChatArgs {
                    command: Some(ChatCommand::Replay(_) | ChatCommand::Test(_)),
                    ..
                })
        );
        let stop = (!own_handler).then(signals::interrupted);
        let session = match Session::open(&cli.global).await {
            Ok(session) => session,
            Err(err) => return finish(Err(err), &fallback_target(&cli.global)),
        };
        let result = match stop {
            None => commands::run(&cli, &session).await,
            Some(stop) => tokio::select! {
                result = commands::run(&cli, &session) => result,
                signal = stop => Err(CliError::Interrupted(signal, "interrupted".into())),
            },
        };
        finish(result, session.target())
    });
    // Without waiting for blocking reads: the chat REPL's read of a terminal (or a pipe left
    // open) would otherwise hold the exit after Ctrl-C until the next line arrives.
    runtime.shutdown_background();
    code
}

/// Prints the error (one line) and its hint on stderr, and picks the exit code.
fn finish(result: Result<(), CliError>, target: &Target) -> ExitCode {
    let Err(err) = result else {
        return ExitCode::from(Exit::Ok.code());
    };
    if let CliError::File { path, source, .. } = &err
        && path.as_os_str() == "<stdout>"
        && source.kind() == std::io::ErrorKind::BrokenPipe
    {
        return ExitCode::from(Exit::Ok.code());
    }
    crate::output::note!("polyai: error: {err}");
    if let Some(hint) = exit::hint(&err, target) {
        crate::output::note!("polyai: hint: {hint}");
    }
    ExitCode::from(err.exit().code())
}

/// Hint context when the session could not even be built.
fn fallback_target(global: &GlobalArgs) -> Target {
    Target {
        host: global.base_url.clone().unwrap_or_default(),
        region: global.region.clone(),
        agent: global.agent.clone(),
    }
}

/// `-v` logs the client's calls at debug level, `-vv` at trace level, to stderr.
fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_writer(crate::output::stdio::stderr)
        .with_max_level(level)
        .init();
}
