//! `chat test`: scenario regression tests for agent variants.
//!
//! A scenario file (TOML, see [`parse`]) holds scripted conversations and what each agent
//! reply must look like; a directory of them is a suite. Every run of a scenario is its own
//! debug-chat session ([`run`]); the results are printed as they come and summed up at the
//! end ([`report`]), optionally as JUnit XML for CI ([`junit`]). The exit code says whether
//! everything passed (0), something failed (11) or something could not be run (12).

pub mod expect;
pub mod junit;
pub mod load;
pub mod model;
pub mod parse;
pub mod report;
pub mod run;

use std::io::Write;
use std::time::Instant;

use polyai_data::ClientEnv;

use crate::cli::{ChatArgs, ChatTestArgs, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::output::{Table, or_dash, write_json, write_json_line};
use model::Scenario;
use report::Summary;
use run::{Plan, human_duration, run_suite};

/// Reads, checks and filters the suite; a usage error listing every mistake otherwise.
fn suite(args: &ChatTestArgs) -> Result<Vec<Scenario>, CliError> {
    let scenarios = load::load(&args.paths).map_err(|e| CliError::Usage(load::describe(&e)))?;
    let kept = load::filter(scenarios, &args.filter);
    if kept.is_empty() {
        return Err(CliError::Usage(format!(
            "no scenario name contains {}; `polyai chat test --list PATH…` lists them",
            args.filter
                .iter()
                .map(|f| format!("{f:?}"))
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    Ok(kept)
}

/// `chat test`: runs the suite and reports; `Err(CliError::Tests)` when a scenario did not pass.
pub async fn run(ctx: &Ctx<'_>, chat: &ChatArgs, args: &ChatTestArgs) -> Result<(), CliError> {
    let scenarios = suite(args)?;
    let default_agent = ctx.session.agent().ok();
    let mut plans = Vec::with_capacity(scenarios.len());
    let mut agentless = Vec::new();
    for scenario in scenarios {
        let agent = match &scenario.agent {
            Some(id) => ctx.session.client().agent(id.clone()),
            None => match &default_agent {
                Some(agent) => agent.clone(),
                None => {
                    agentless.push(format!("{} ({})", scenario.name, scenario.location));
                    continue;
                }
            },
        };
        plans.push(Plan {
            agent,
            environment: scenario
                .environment
                .or(chat.env)
                .unwrap_or(ClientEnv::Sandbox),
            variant: scenario.variant.clone().or_else(|| chat.variant.clone()),
            language: scenario.language.clone().or_else(|| chat.lang.clone()),
            timeout: scenario.timeout.unwrap_or(args.timeout),
            scenario,
        });
    }
    if !agentless.is_empty() {
        return Err(CliError::Usage(format!(
            "no agent id for {}: pass --agent ID, set POLYAI_AGENT_ID, or write `agent = \"…\"` in the file",
            agentless.join(", ")
        )));
    }
    if let Some(path) = &args.junit {
        // Fail before any session when the report could not be written anyway.
        junit::prepare(path)?;
    }
    let timestamp = timestamp();
    let started = Instant::now();
    let bar = crate::progress::scenarios(plans.len() as u64);
    // JSON Lines stream: a line per scenario as it ends, for whoever reads along.
    let streaming = ctx.format == OutputFormat::Jsonl;
    let mut written = Ok(());
    let stop = crate::signals::interrupted();
    let (results, interrupted) = run_suite(&plans, usize::from(args.concurrency), stop, |result| {
        bar.suspend(|| crate::output::note!("{}", report::progress_line(result)));
        bar.inc(1);
        if streaming && written.is_ok() {
            let mut out = crate::output::stdout();
            written = write_json_line(&mut out, result).and_then(|()| out.flush());
        }
    })
    .await;
    bar.finish_and_clear();
    written.map_err(stdout_error)?;
    let summary = Summary::of(&results, started.elapsed());
    if !streaming {
        let mut out = crate::output::stdout();
        report::write(&mut out, ctx.format, &results, &summary).map_err(stdout_error)?;
        out.flush().map_err(stdout_error)?;
    }
    if let Some(path) = &args.junit {
        junit::write(path, &junit::render(&results, &summary, &timestamp))?;
        crate::output::note!("JUnit report: {}", path.display());
    }
    if let Some(signal) = interrupted {
        let scenarios = |n: usize| format!("{n} scenario{}", if n == 1 { "" } else { "s" });
        return Err(CliError::Interrupted(
            signal,
            format!(
                "interrupted: {} of {} finished and reported above ({} passed, {} failed, {} \
                 errored); {} not finished",
                summary.total,
                scenarios(plans.len()),
                summary.passed,
                summary.failed,
                summary.errored,
                plans.len() - summary.total
            ),
        ));
    }
    if summary.failed + summary.errored > 0 {
        return Err(CliError::Tests {
            total: summary.total,
            failed: summary.failed,
            errored: summary.errored,
        });
    }
    Ok(())
}

/// `chat test --list`: checks the files and prints the scenarios that would run, with the
/// settings they would run with; no client, no session.
pub fn list(
    format: OutputFormat,
    chat: &ChatArgs,
    agent: Option<&str>,
    args: &ChatTestArgs,
) -> Result<(), CliError> {
    let scenarios = suite(args)?;
    let env = chat.env.unwrap_or(ClientEnv::Sandbox);
    let rows: Vec<serde_json::Value> = scenarios
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "file": s.location.file,
                "line": s.location.line,
                "agent": s.agent.as_deref().or(agent),
                "environment": s.environment.unwrap_or(env).as_str(),
                "variant": s.variant.as_ref().or(chat.variant.as_ref()),
                "language": s.language.as_ref().or(chat.lang.as_ref()),
                "turns": s.turns.len(),
                "repeat": s.repeat,
                "must_pass": s.must_pass,
                "timeout_ms": s.timeout.unwrap_or(args.timeout).as_millis() as u64,
            })
        })
        .collect();
    let mut out = crate::output::stdout();
    let written = match format {
        OutputFormat::Json => write_json(&mut out, &rows),
        OutputFormat::Jsonl => rows.iter().try_for_each(|r| write_json_line(&mut out, r)),
        OutputFormat::Table | OutputFormat::Csv => {
            let text = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            let mut table = Table::new([
                "SCENARIO",
                "FILE",
                "AGENT",
                "ENVIRONMENT",
                "VARIANT",
                "LANGUAGE",
                "TURNS",
                "RUNS",
                "TIMEOUT",
            ])
            // The free text is the scenario's name.
            .flexible(Some(0));
            for (s, r) in scenarios.iter().zip(&rows) {
                table.push(vec![
                    s.name.clone(),
                    s.location.to_string(),
                    or_dash(Some(&text(&r["agent"]))),
                    text(&r["environment"]),
                    or_dash(Some(&text(&r["variant"]))),
                    or_dash(Some(&text(&r["language"]))),
                    s.turns.len().to_string(),
                    if s.repeat > 1 {
                        format!("{} of {}", s.must_pass, s.repeat)
                    } else {
                        "1".to_owned()
                    },
                    human_duration(s.timeout.unwrap_or(args.timeout)),
                ]);
            }
            if format == OutputFormat::Csv {
                table.write_csv(&mut out)
            } else {
                table.write_aligned(&mut out)
            }
        }
    };
    written.map_err(stdout_error)
}

/// Now, as JUnit writes it: `2026-08-01T10:00:00` (UTC).
fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}
