//! `chat replay`: recorded conversations replayed against an agent variant, with the
//! differences shown and gated.
//!
//! The conversations are named by id or selected by a listing ([`select`]); each is read from
//! the Data API in the record contract, then replayed in its own debug-chat session, its caller
//! turns sent in order, and every agent turn compared with the original ([`compare`], text by
//! [`similarity`]) — at most `--concurrency` at once, each within `--timeout` ([`run`]). The
//! results are printed as they come and summed up at the end ([`report`]), optionally as JUnit
//! ([`junit`]), as an HTML report ([`html`]) and as `chat test` scenario files ([`save`]).
//! Exit codes follow `chat test`: 11 when a conversation diverged, 12 when none did but one
//! could not be replayed; Ctrl-C stops starting replays, drops those in flight (the API has
//! no call that closes a session: dropping it is all there is) and reports what finished.

pub mod compare;
pub mod html;
pub mod junit;
pub mod report;
pub mod run;
pub mod save;
pub mod select;
pub mod similarity;

use std::io::{ErrorKind as IoErrorKind, Write};
use std::path::Path;
use std::time::Instant;

use futures_util::StreamExt;
use polyai_data::ClientEnv;

use crate::cli::{ChatArgs, ChatReplayArgs, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::{terminal_width, write_json_line};
use crate::scenario::junit::{prepare_report, write as write_file};
use crate::signals::Signal;
use report::Summary;
use run::{ReplayResult, Settings};

pub use similarity::DEFAULT_THRESHOLD;

/// Stdout, written until it turns out to be closed (a pipe whose reader left): then the rest
/// is dropped quietly and the run goes on to its reports and exit code.
struct Stdout {
    closed: bool,
}

impl Stdout {
    fn write(
        &mut self,
        f: impl FnOnce(&mut std::io::StdoutLock<'_>) -> std::io::Result<()>,
    ) -> Result<(), CliError> {
        if self.closed {
            return Ok(());
        }
        let mut out = crate::output::stdout();
        match f(&mut out).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == IoErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(crate::output::stdout_error(e)),
        }
    }
}

/// A line on stderr; nothing (and no panic) when stderr is closed.
fn note(line: &str) {
    crate::output::note!("{line}");
}

/// `chat replay`: replays, reports, and `Err` when a conversation did not replay clean or
/// the run was interrupted.
pub async fn run(ctx: &Ctx<'_>, chat: &ChatArgs, args: &ChatReplayArgs) -> Result<(), CliError> {
    // Handlers first: from here on Ctrl-C stops the run and reports what finished.
    let mut stop = std::pin::pin!(crate::signals::interrupted());
    let agent = ctx.session.agent()?;
    // Fail before any session when a report could not be written anyway.
    if let Some(path) = &args.junit {
        prepare_report(path, "--junit", "chat-replay.xml")?;
    }
    if let Some(path) = &args.html {
        prepare_report(path, "--html", "chat-replay.html")?;
    }
    if let Some(dir) = &args.save_scenarios {
        save::prepare(dir)?;
    }
    let jobs = tokio::select! {
        jobs = select::jobs(ctx, args) => jobs?,
        signal = &mut stop => {
            return Err(CliError::Interrupted(signal, "interrupted while selecting conversations; nothing was replayed".into()));
        }
    };
    let settings = Settings {
        agent: agent.clone(),
        environment: chat.env.map(ClientEnv::from).unwrap_or(ClientEnv::Sandbox),
        variant: chat.variant.clone(),
        own_variant: args.own_variant,
        language: chat.lang.clone(),
        attributes: args.attributes.clone(),
        threshold: args.threshold,
        timeout: args.timeout,
        stop_at_divergence: args.stop_at_divergence,
    };
    let started_at = jiff::Timestamp::now();
    let mut summary = Summary {
        agent_id: agent.id().to_owned(),
        environment: settings.environment.as_str(),
        variant: settings.variant.clone(),
        own_variant: settings.own_variant,
        threshold: settings.threshold,
        similarity_measure: "word_ratio",
        total: jobs.len(),
        clean: 0,
        diverged: 0,
        errored: 0,
        skipped: 0,
        not_finished: 0,
        interrupted: false,
        sessions: 0,
        started_at: started_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        duration_ms: 0,
    };
    let started = Instant::now();
    let bar = crate::progress::replays(jobs.len() as u64);
    let streaming = ctx.format == OutputFormat::Jsonl;
    let mut stdout = Stdout { closed: false };
    // Results in the order the conversations were named, as they finish.
    let mut results: Vec<Option<ReplayResult>> = jobs.iter().map(|_| None).collect();
    let mut interrupted: Option<Signal> = None;
    {
        let settings = &settings;
        let mut replays = futures_util::stream::iter(jobs.into_iter().enumerate())
            .map(|(i, job)| async move { (i, run::replay(settings, job).await) })
            .buffer_unordered(usize::from(args.concurrency));
        loop {
            tokio::select! {
                next = replays.next() => {
                    let Some((i, result)) = next else { break };
                    bar.suspend(|| note(&report::progress_line(&result)));
                    bar.inc(1);
                    if streaming {
                        stdout.write(|out| write_json_line(out, &result))?;
                    }
                    results[i] = Some(result);
                }
                signal = &mut stop => {
                    interrupted = Some(signal);
                    break;
                }
            }
        }
        // Dropping the stream drops the replays in flight and their sessions.
    }
    bar.finish_and_clear();
    let results: Vec<ReplayResult> = results.into_iter().flatten().collect();
    summary.interrupted = interrupted.is_some();
    summary.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    summary.count(&results);
    if !streaming {
        let width = terminal_width();
        stdout.write(|out| report::write(out, ctx.format, &results, &summary, width))?;
    } else {
        note(&summary.line());
    }
    if let Some(path) = &args.junit {
        let timestamp = started_at.strftime("%Y-%m-%dT%H:%M:%S").to_string();
        write_file(path, &junit::render(&results, &summary, &timestamp))?;
        note(&format!("JUnit report: {}", path.display()));
    }
    if let Some(path) = &args.html {
        write_file(path, &html::render(&results, &summary))?;
        note(&format!("HTML report: {}", path.display()));
    }
    if let Some(dir) = &args.save_scenarios {
        let context = save::Context {
            environment: summary.environment,
            own_variant: settings.own_variant,
            attributes: &settings.attributes,
            started_at: &summary.started_at,
        };
        let written = save::write_all(dir, &results, &context)?;
        note(&saved_line(dir, written.len(), results.len()));
    }
    if let Some(signal) = interrupted {
        return Err(CliError::Interrupted(
            signal,
            format!(
                "interrupted: {} of {} conversations replayed and reported; {} not finished",
                results.len(),
                summary.total,
                summary.not_finished
            ),
        ));
    }
    if summary.diverged + summary.errored > 0 {
        return Err(CliError::Replay {
            total: summary.total,
            diverged: summary.diverged,
            errored: summary.errored,
        });
    }
    Ok(())
}

fn saved_line(dir: &Path, written: usize, replayed: usize) -> String {
    let skipped = replayed - written;
    let mut line = format!(
        "{written} scenario file{} in {}",
        if written == 1 { "" } else { "s" },
        dir.display()
    );
    if skipped > 0 {
        line.push_str(&format!(
            " ({skipped} conversation{} not replayed to a scenario: errored or skipped)",
            if skipped == 1 { "" } else { "s" }
        ));
    }
    line
}
