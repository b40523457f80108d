//! Running scenarios: one debug-chat session per run, a time limit per run, a bounded number
//! of sessions at once, and a verdict per scenario.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use polyai_data::chat::ChatOptions;
use polyai_data::models::DebugChatResponse;

use crate::records::ChatTurn;
use polyai_data::{Agent, ClientEnv, Error};
use serde::Serialize;

use super::expect::check;
use super::model::Scenario;

/// A scenario with everything the command line filled in.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario.
    pub scenario: Scenario,
    /// The agent it talks to.
    pub agent: Agent,
    /// Environment of its sessions.
    pub environment: ClientEnv,
    /// Variant of its sessions.
    pub variant: Option<String>,
    /// Language of its sessions.
    pub language: Option<String>,
    /// Time limit of one run.
    pub timeout: Duration,
}

impl Plan {
    fn chat_options(&self) -> ChatOptions {
        let mut options = ChatOptions::new(self.environment);
        if let Some(variant) = &self.variant {
            options = options.variant(variant.clone());
        }
        if let Some(language) = &self.language {
            options = options.lang(language.clone());
        }
        for (key, value) in &self.scenario.attributes {
            options = options.integration_attribute(key.clone(), value.clone());
        }
        options
    }
}

/// How a run or a scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every expectation was met.
    Passed,
    /// A reply broke an expectation, or the agent ended the conversation too early.
    Failed,
    /// The conversation could not be held to the end: session error, time limit, network.
    Errored,
}

impl Status {
    /// `passed`, `failed` or `errored`, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "errored",
        }
    }

    /// `PASS`, `FAIL` or `ERROR`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::Errored => "ERROR",
        }
    }
}

/// Why a run could not be held to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The scenario's time limit passed.
    Timeout,
    /// The server said the session had ended (HTTP 410) without the agent ending it.
    SessionEnded,
    /// The server timed the session out (`CHAT_TIMEOUT`).
    ChatTimeout,
    /// The request got no complete answer.
    Network,
    /// Any other HTTP error (key, agent, variant, server failure).
    Http,
    /// A success answer that did not decode.
    BadResponse,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// `timeout`, `session_ended`, …: the name JSON and JUnit reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::SessionEnded => "session_ended",
            ErrorKind::ChatTimeout => "chat_timeout",
            ErrorKind::Network => "network",
            ErrorKind::Http => "http",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::Other => "other",
        }
    }
}

/// One agent reply and the user message it answered (none for the greeting).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Exchange {
    /// 0 for the greeting, then 1, 2, … for the user turns.
    pub turn: usize,
    /// What the user said.
    pub user: Option<String>,
    /// The agent's reply as sent.
    pub reply: ChatTurn,
}

/// The expectations a reply broke.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Failure {
    /// The turn of the reply (0: the greeting).
    pub turn: usize,
    /// Each broken expectation, one sentence each.
    pub expectations: Vec<String>,
    /// The reply text that broke them.
    pub reply: String,
}

/// Why a run stopped before its end.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunError {
    /// The kind of problem.
    pub kind: ErrorKind,
    /// The turn being waited for (0: the greeting).
    pub turn: usize,
    /// One line, with the correlation id when there is one.
    pub message: String,
    /// HTTP status, for HTTP errors.
    pub status: Option<u16>,
    /// API error code, when the answer had one.
    pub code: Option<String>,
    /// Correlation id of the failed call.
    pub correlation_id: Option<String>,
}

/// One session of a scenario.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunResult {
    /// 1-based run number.
    pub run: u32,
    /// The debug-chat session id, once the session exists.
    pub session_id: Option<String>,
    /// How it ended.
    pub status: Status,
    /// User turns sent and answered.
    pub turns_sent: usize,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// For a failed run.
    pub failure: Option<Failure>,
    /// For an errored run.
    pub error: Option<RunError>,
    /// Every reply received, in order.
    pub transcript: Vec<Exchange>,
}

/// The verdict on one scenario over all its runs.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScenarioResult {
    /// Scenario name.
    pub name: String,
    /// File it is written in.
    pub file: String,
    /// Line of its name.
    pub line: usize,
    /// Agent id.
    pub agent: String,
    /// Environment.
    pub environment: &'static str,
    /// Variant, when one was asked for.
    pub variant: Option<String>,
    /// Language, when one was asked for.
    pub language: Option<String>,
    /// User turns in the scenario.
    pub turns: usize,
    /// Runs made.
    pub repeat: u32,
    /// Runs that had to pass.
    pub must_pass: u32,
    /// Runs that passed.
    pub passed_runs: u32,
    /// The verdict.
    pub status: Status,
    /// Sum of the runs' wall times.
    pub duration_ms: u64,
    /// Each run, in order.
    pub runs: Vec<RunResult>,
}

impl ScenarioResult {
    fn new(plan: &Plan, mut runs: Vec<RunResult>) -> Self {
        runs.sort_by_key(|r| r.run);
        let s = &plan.scenario;
        let (status, passed) = verdict(&runs, s.must_pass);
        ScenarioResult {
            name: s.name.clone(),
            file: s.location.file.clone(),
            line: s.location.line,
            agent: plan.agent.id().to_owned(),
            environment: plan.environment.as_str(),
            variant: plan.variant.clone(),
            language: plan.language.clone(),
            turns: s.turns.len(),
            repeat: s.repeat,
            must_pass: s.must_pass,
            passed_runs: passed,
            status,
            duration_ms: runs.iter().map(|r| r.duration_ms).sum(),
            runs,
        }
    }

    /// The first run that ended as the scenario did, when it did not pass.
    pub fn deciding_run(&self) -> Option<&RunResult> {
        if self.status == Status::Passed {
            return None;
        }
        self.runs.iter().find(|r| r.status == self.status)
    }

    /// What went wrong, one line: the turn, the first broken expectation or the error.
    pub fn problem(&self) -> Option<String> {
        let run = self.deciding_run()?;
        if let Some(f) = &run.failure {
            return Some(format!(
                "{}: {}",
                turn_label(f.turn),
                f.expectations.first().map_or("", String::as_str)
            ));
        }
        run.error
            .as_ref()
            .map(|e| format!("{}: {}", turn_label(e.turn), e.message))
    }

    /// The reply that broke the first expectation, for a failed scenario.
    pub fn breaking_reply(&self) -> Option<&str> {
        self.deciding_run()?
            .failure
            .as_ref()
            .map(|f| f.reply.as_str())
    }
}

/// The scenario's status and its number of passed runs. An error decides the verdict only
/// when the failures alone did not: with `must_pass = 2`, pass + fail + error is an error
/// (the errored run might have passed), fail + fail + error is a failure.
fn verdict(runs: &[RunResult], must_pass: u32) -> (Status, u32) {
    let count = |status| runs.iter().filter(|r| r.status == status).count() as u32;
    let passed = count(Status::Passed);
    let errored = count(Status::Errored);
    let status = if passed >= must_pass {
        Status::Passed
    } else if passed + errored >= must_pass {
        Status::Errored
    } else {
        Status::Failed
    };
    (status, passed)
}

/// `greeting` or `turn N`.
pub fn turn_label(turn: usize) -> String {
    if turn == 0 {
        "greeting".to_owned()
    } else {
        format!("turn {turn}")
    }
}

/// Runs every plan (each `repeat` times), at most `concurrency` sessions at once, and calls
/// `done` as each scenario's last run ends. Results come back in plan order.
/// Runs every plan; stops early when `stop` completes (Ctrl-C), returning the scenarios that
/// finished and the signal.
pub async fn run_suite(
    plans: &[Plan],
    concurrency: usize,
    stop: impl std::future::Future<Output = crate::signals::Signal>,
    mut done: impl FnMut(&ScenarioResult),
) -> (Vec<ScenarioResult>, Option<crate::signals::Signal>) {
    let mut stop = std::pin::pin!(stop);
    let mut interrupted = None;
    let jobs = plans
        .iter()
        .enumerate()
        .flat_map(|(i, p)| (1..=p.scenario.repeat).map(move |run| (i, run)));
    let mut pending: Vec<Vec<RunResult>> = plans.iter().map(|_| Vec::new()).collect();
    let mut results: Vec<Option<ScenarioResult>> = plans.iter().map(|_| None).collect();
    let mut runs = futures_util::stream::iter(jobs)
        .map(|(i, run)| async move { (i, run_once(&plans[i], run).await) })
        .buffer_unordered(concurrency.max(1));
    loop {
        let (i, run) = tokio::select! {
            next = runs.next() => match next {
                Some(next) => next,
                None => break,
            },
            signal = &mut stop => {
                interrupted = Some(signal);
                break;
            }
        };
        pending[i].push(run);
        if pending[i].len() == plans[i].scenario.repeat as usize {
            let result = ScenarioResult::new(&plans[i], std::mem::take(&mut pending[i]));
            done(&result);
            results[i] = Some(result);
        }
    }
    (results.into_iter().flatten().collect(), interrupted)
}

/// What a run has done so far; kept outside the conversation so a timed-out run still
/// reports its transcript.
#[derive(Default)]
struct Progress {
    session_id: Option<String>,
    turn: usize,
    turns_sent: usize,
    transcript: Vec<Exchange>,
}

enum Outcome {
    Passed,
    Failed(Failure),
    Errored(RunError),
}

/// One session of `plan`, within its time limit.
pub async fn run_once(plan: &Plan, run: u32) -> RunResult {
    let started = Instant::now();
    let mut progress = Progress::default();
    let limited = tokio::time::timeout(plan.timeout, converse(plan, &mut progress)).await;
    let outcome = limited.unwrap_or_else(|_| {
        let waiting = match progress.turn {
            0 => "the greeting".to_owned(),
            n => format!("the reply to turn {n}"),
        };
        Outcome::Errored(RunError {
            kind: ErrorKind::Timeout,
            turn: progress.turn,
            message: format!(
                "time limit of {} reached while waiting for {waiting}",
                human_duration(plan.timeout)
            ),
            status: None,
            code: None,
            correlation_id: None,
        })
    });
    let (status, failure, error) = match outcome {
        Outcome::Passed => (Status::Passed, None, None),
        Outcome::Failed(f) => (Status::Failed, Some(f), None),
        Outcome::Errored(e) => (Status::Errored, None, Some(e)),
    };
    RunResult {
        run,
        session_id: progress.session_id,
        status,
        turns_sent: progress.turns_sent,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        failure,
        error,
        transcript: progress.transcript,
    }
}

async fn converse(plan: &Plan, progress: &mut Progress) -> Outcome {
    let scenario = &plan.scenario;
    let mut session = match plan.agent.debug_chat(plan.chat_options()).send().await {
        Ok(session) => session,
        Err(err) => return Outcome::Errored(classify(&err, 0)),
    };
    progress.session_id = Some(session.id().to_owned());
    let greeting = session.greeting().as_response().clone();
    if let Some(failure) = record(progress, 0, None, greeting, &scenario.greeting) {
        return Outcome::Failed(failure);
    }
    for (i, turn) in scenario.turns.iter().enumerate() {
        let n = i + 1;
        if session.is_ended() {
            let reply = progress
                .transcript
                .last()
                .map_or_else(String::new, |e| e.reply.agent_response.clone());
            return Outcome::Failed(Failure {
                turn: n - 1,
                expectations: vec![format!(
                    "the agent ended the conversation, so turn {n} ({:?}) was never sent",
                    turn.user
                )],
                reply,
            });
        }
        progress.turn = n;
        let reply = match session.send(turn.user.clone()).await {
            Ok(reply) => reply.into_response(),
            Err(err) => return Outcome::Errored(classify(&err, n)),
        };
        progress.turns_sent = n;
        if let Some(failure) = record(progress, n, Some(&turn.user), reply, &turn.expect) {
            return Outcome::Failed(failure);
        }
    }
    Outcome::Passed
}

/// Adds a reply to the transcript and checks it.
fn record(
    progress: &mut Progress,
    turn: usize,
    user: Option<&str>,
    reply: DebugChatResponse,
    expect: &super::model::Expect,
) -> Option<Failure> {
    let broken = check(expect, &reply);
    let text = reply.response.clone();
    progress.transcript.push(Exchange {
        turn,
        user: user.map(str::to_owned),
        reply: ChatTurn::from_response(&reply),
    });
    (!broken.is_empty()).then_some(Failure {
        turn,
        expectations: broken,
        reply: text,
    })
}

/// Sorts a client error into what a test report says about it.
pub fn classify(err: &Error, turn: usize) -> RunError {
    let status = err.status();
    let code = err.code().map(str::to_owned);
    let kind = match err {
        Error::ChatEnded { .. } => ErrorKind::SessionEnded,
        Error::Api(_)
            if status == Some(410) || code.as_deref() == Some("CHAT_CONVERSATION_ENDED") =>
        {
            ErrorKind::SessionEnded
        }
        Error::Api(_) if code.as_deref() == Some("CHAT_TIMEOUT") => ErrorKind::ChatTimeout,
        Error::Api(_) => ErrorKind::Http,
        Error::Transport { .. } => ErrorKind::Network,
        Error::Decode(_) => ErrorKind::BadResponse,
        _ => ErrorKind::Other,
    };
    let what = match kind {
        ErrorKind::SessionEnded => "the server ended the session: ",
        ErrorKind::ChatTimeout => "the server timed the session out: ",
        _ => "",
    };
    RunError {
        kind,
        turn,
        message: format!("{what}{err}"),
        status,
        code,
        correlation_id: err.correlation_id().map(str::to_owned),
    }
}

/// `90s`, `2m`, `1m30s`, `500ms`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) if ms.is_multiple_of(1000) => format!("{s}s"),
        (0, _) => format!("{:.1}s", d.as_secs_f64()),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kind_names_are_their_json() {
        use ErrorKind::*;
        for kind in [
            Timeout,
            SessionEnded,
            ChatTimeout,
            Network,
            Http,
            BadResponse,
            Other,
        ] {
            let json = serde_json::to_value(kind).unwrap_or_default();
            assert_eq!(json.as_str(), Some(kind.as_str()));
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(human_duration(Duration::from_secs(45)), "45s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human_duration(Duration::from_secs(120)), "2m");
        assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
    }

    fn runs(statuses: &[Status]) -> Vec<RunResult> {
        statuses
            .iter()
            .zip(1..)
            .map(|(&status, run)| RunResult {
                run,
                session_id: None,
                status,
                turns_sent: 0,
                duration_ms: 0,
                failure: None,
                error: None,
                transcript: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn verdict_over_repeated_runs() {
        use Status::{Errored as E, Failed as F, Passed as P};
        let cases: [(&[Status], u32, Status); 8] = [
            (&[P], 1, P),
            (&[F], 1, F),
            (&[E], 1, E),
            (&[P, F, P], 2, P),
            (&[P, F, F], 2, F),
            // The error could have been the pass that was missing.
            (&[P, F, E], 2, E),
            // Two failures make 2 of 3 impossible whatever the error would have been.
            (&[F, F, E], 2, F),
            (&[P, P, E, E], 2, P),
        ];
        for (statuses, must_pass, want) in cases {
            let (got, _) = verdict(&runs(statuses), must_pass);
            assert_eq!(got, want, "{statuses:?} must_pass {must_pass}");
        }
        assert_eq!(verdict(&runs(&[P, F, P]), 2).1, 2);
    }

    #[test]
    fn turn_labels() {
        assert_eq!(turn_label(0), "greeting");
        assert_eq!(turn_label(3), "turn 3");
    }
}
