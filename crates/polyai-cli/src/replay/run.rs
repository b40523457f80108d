//! Replaying one conversation: read it, open a debug-chat session, send its caller turns in
//! order, compare every agent turn, all within the conversation's time limit.

use std::time::{Duration, Instant};

use polyai_data::models::DebugChatResponse;
use polyai_data::record::ConversationRecord;
use polyai_data::{Agent, ChatOptions, ClientEnv};
use serde::Serialize;

use super::compare::{Difference, Kind, Original, Side, compare};
use crate::scenario::run::{ErrorKind, classify, human_duration};

/// A conversation to replay: its id, and its listing record when a listing selected it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The conversation's id.
    pub conversation_id: String,
    /// The record the listing gave (v3: turns inline, no function events).
    pub listed: Option<ConversationRecord>,
}

/// What every replay of a run shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The agent replayed against.
    pub agent: Agent,
    /// Environment of the sessions.
    pub environment: ClientEnv,
    /// `--variant`: the variant of every session (unless `own_variant`).
    pub variant: Option<String>,
    /// `--own-variant`: each conversation against the variant it was recorded on.
    pub own_variant: bool,
    /// `--lang`: the language of every session (else each conversation's own).
    pub language: Option<String>,
    /// `--attribute`s sent with every session.
    pub attributes: Vec<(String, String)>,
    /// Replies at least this similar are the same.
    pub threshold: f64,
    /// Time limit of one conversation's replay.
    pub timeout: Duration,
    /// Stop a conversation's replay at its first divergence.
    pub stop_at_divergence: bool,
}

/// How a conversation's replay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every agent turn compared within the rules.
    Clean,
    /// A turn differed beyond the rules.
    Diverged,
    /// The replay could not be held to the end (and nothing diverged before that).
    Errored,
    /// Not replayed: still in progress, or no transcript.
    Skipped,
}

impl Status {
    /// `CLEAN`, `DIVERGED`, `ERROR` or `SKIPPED`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Clean => "CLEAN",
            Status::Diverged => "DIVERGED",
            Status::Errored => "ERROR",
            Status::Skipped => "SKIPPED",
        }
    }

    /// `clean`, `diverged`, `errored` or `skipped`, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Clean => "clean",
            Status::Diverged => "diverged",
            Status::Errored => "errored",
            Status::Skipped => "skipped",
        }
    }
}

/// Which step of a replay failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Reading the original conversation.
    Read,
    /// The debug-chat session.
    Replay,
}

/// Why a replay stopped before its end.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayError {
    /// The kind of problem (as `chat test` names them).
    pub kind: ErrorKind,
    /// Reading the conversation, or replaying it.
    pub stage: Stage,
    /// The turn being waited for (0: the greeting); `null` while reading.
    pub turn_index: Option<i64>,
    /// One line, with the correlation id when there is one.
    pub message: String,
    /// HTTP status, for HTTP errors.
    pub status: Option<u16>,
    /// API error code, when the answer had one.
    pub code: Option<String>,
    /// Correlation id of the failed call.
    pub correlation_id: Option<String>,
}

impl ReplayError {
    fn from_client(err: &polyai_data::Error, stage: Stage, turn_index: Option<i64>) -> Self {
        let e = classify(err, 0);
        let message = match stage {
            Stage::Read => format!("could not read the conversation: {}", e.message),
            Stage::Replay => e.message,
        };
        ReplayError {
            kind: e.kind,
            stage,
            turn_index,
            message,
            status: e.status,
            code: e.code,
            correlation_id: e.correlation_id,
        }
    }
}

/// One agent turn, original and replayed.
#[derive(Debug, Clone, Serialize)]
pub struct TurnComparison {
    /// The turn's position in the original (0: the greeting).
    pub turn_index: i64,
    /// What the caller said (and the replay sent); `null` for the greeting.
    pub user_input: Option<String>,
    /// What the agent did in the original conversation.
    pub original: Side,
    /// What it did in the replay.
    pub replayed: Side,
    /// How alike the two replies are (0 to 1, three decimals); `null` when a text is missing.
    pub similarity: Option<f64>,
    /// Every difference beyond the rules; empty when the turn replayed within them.
    pub differences: Vec<Difference>,
}

impl TurnComparison {
    /// Whether the turn differs beyond the rules.
    pub fn diverged(&self) -> bool {
        !self.differences.is_empty()
    }

    /// `greeting` or `turn N`.
    pub fn label(&self) -> String {
        turn_label(self.turn_index)
    }
}

/// `greeting` for turn 0, else `turn N`.
pub fn turn_label(turn_index: i64) -> String {
    if turn_index == 0 {
        "greeting".to_owned()
    } else {
        format!("turn {turn_index}")
    }
}

/// Where a conversation first diverged.
#[derive(Debug, Clone, Serialize)]
pub struct FirstDivergence {
    /// The turn (0: the greeting).
    pub turn_index: i64,
    /// What differed there.
    pub kinds: Vec<Kind>,
}

/// The replay of one conversation.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayResult {
    /// The original conversation's id.
    pub conversation_id: String,
    /// How the replay ended.
    pub status: Status,
    /// The debug-chat session, once it exists.
    pub session_id: Option<String>,
    /// Environment of the session.
    pub environment: &'static str,
    /// Variant of the session (`null`: the environment's default).
    pub variant: Option<String>,
    /// Language of the session (`null`: the server's default).
    pub language: Option<String>,
    /// Turns of the original conversation (greeting included).
    pub turn_count: Option<i64>,
    /// Agent turns replayed and compared (greeting included).
    pub turns_replayed: usize,
    /// Caller turns not sent: the replayed agent ended the conversation, or the replay stopped
    /// at its first divergence or at an error.
    pub turns_not_sent: usize,
    /// Wall time of the replay.
    pub duration_ms: u64,
    /// The first turn that differed beyond the rules.
    pub first_divergence: Option<FirstDivergence>,
    /// Why the conversation was not replayed.
    pub skipped_reason: Option<String>,
    /// Why the replay stopped before its end.
    pub error: Option<ReplayError>,
    /// Every agent turn compared, in order.
    pub turns: Vec<TurnComparison>,
    /// The original conversation in the record contract (`null` when it could not be read).
    pub conversation: Option<ConversationRecord>,
}

impl ReplayResult {
    /// The turn of the first divergence.
    pub fn first_diverged_turn(&self) -> Option<&TurnComparison> {
        self.turns.iter().find(|t| t.diverged())
    }

    /// How the replay ran: `session AS_CHAT_…`, `variant "…"`, the environment, the language.
    pub fn how(&self) -> Vec<String> {
        let mut how = Vec::new();
        if let Some(id) = &self.session_id {
            how.push(format!("session {id}"));
        }
        match &self.variant {
            Some(v) => how.push(format!("variant {v:?}")),
            None => how.push("default variant".to_owned()),
        }
        how.push(self.environment.to_owned());
        if let Some(language) = &self.language {
            how.push(language.clone());
        }
        how
    }

    /// What went wrong, one line: the first divergence, the error or why it was skipped.
    pub fn problem(&self) -> Option<String> {
        if let Some(turn) = self.first_diverged_turn() {
            let first = turn.differences.first().map_or_else(String::new, |d| {
                format!("{}: {}", d.kind.as_str(), d.message)
            });
            let more = turn.differences.len().saturating_sub(1);
            return Some(if more > 0 {
                format!("{}: {first} (+{more} more)", turn.label())
            } else {
                format!("{}: {first}", turn.label())
            });
        }
        if let Some(e) = &self.error {
            return Some(match e.turn_index {
                Some(turn) => format!("{}: {}", turn_label(turn), e.message),
                None => e.message.clone(),
            });
        }
        self.skipped_reason.clone()
    }
}

/// What a replay has done so far; kept outside it so a timed-out replay still reports.
#[derive(Default)]
struct Progress {
    record: Option<ConversationRecord>,
    session_id: Option<String>,
    variant: Option<String>,
    language: Option<String>,
    waiting_for: Option<i64>,
    turns: Vec<TurnComparison>,
    caller_turns: usize,
    sent: usize,
}

enum Outcome {
    Done,
    Skipped(String),
    Errored(ReplayError),
}

/// Replays `job` within the time limit.
pub async fn replay(settings: &Settings, job: Job) -> ReplayResult {
    let started = Instant::now();
    let mut progress = Progress {
        record: job.listed.clone(),
        variant: settings.variant.clone(),
        language: settings.language.clone(),
        ..Progress::default()
    };
    let limited =
        tokio::time::timeout(settings.timeout, drive(settings, &job, &mut progress)).await;
    let outcome = limited.unwrap_or_else(|_| {
        let waiting = match progress.waiting_for {
            None => "the conversation".to_owned(),
            Some(0) => "the greeting".to_owned(),
            Some(n) => format!("the reply to turn {n}"),
        };
        Outcome::Errored(ReplayError {
            kind: ErrorKind::Timeout,
            stage: if progress.waiting_for.is_some() {
                Stage::Replay
            } else {
                Stage::Read
            },
            turn_index: progress.waiting_for,
            message: format!(
                "time limit of {} reached while waiting for {waiting}",
                human_duration(settings.timeout)
            ),
            status: None,
            code: None,
            correlation_id: None,
        })
    });
    let diverged = progress.turns.iter().find(|t| t.diverged());
    let first_divergence = diverged.map(|t| FirstDivergence {
        turn_index: t.turn_index,
        kinds: t.differences.iter().map(|d| d.kind).collect(),
    });
    let (status, skipped_reason, error) = match outcome {
        Outcome::Skipped(why) => (Status::Skipped, Some(why), None),
        Outcome::Done if diverged.is_some() => (Status::Diverged, None, None),
        Outcome::Done => (Status::Clean, None, None),
        Outcome::Errored(e) if diverged.is_some() => (Status::Diverged, None, Some(e)),
        Outcome::Errored(e) => (Status::Errored, None, Some(e)),
    };
    ReplayResult {
        conversation_id: job.conversation_id,
        status,
        session_id: progress.session_id,
        environment: settings.environment.as_str(),
        variant: progress.variant,
        language: progress.language,
        turn_count: progress
            .record
            .as_ref()
            .and_then(|r| r.turns.as_ref().map(|t| t.len() as i64).or(r.turn_count)),
        turns_replayed: progress.turns.len(),
        turns_not_sent: if status == Status::Skipped {
            0
        } else {
            progress.caller_turns.saturating_sub(progress.sent)
        },
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        first_divergence,
        skipped_reason,
        error,
        turns: progress.turns,
        conversation: progress.record,
    }
}

async fn drive(settings: &Settings, job: &Job, progress: &mut Progress) -> Outcome {
    let detail = match settings
        .agent
        .conversations()
        .get(job.conversation_id.clone())
        .json()
        .await
    {
        Ok(detail) => detail,
        Err(err) => return Outcome::Errored(ReplayError::from_client(&err, Stage::Read, None)),
    };
    let Some(mut record) = ConversationRecord::from_data_api(&detail) else {
        return Outcome::Errored(ReplayError {
            kind: ErrorKind::BadResponse,
            stage: Stage::Read,
            turn_index: None,
            message: "could not read the conversation: the answer is not a conversation \
                      (no conversationId)"
                .into(),
            status: None,
            code: None,
            correlation_id: None,
        });
    };
    if let Some(listed) = job.listed.clone() {
        record = record.with_details(listed);
    }
    progress.record = Some(record.clone());
    if record.in_progress == Some(true) {
        return Outcome::Skipped("still in progress: its end is not known yet".into());
    }
    let original = Original::new(&record);
    if original.turns().is_empty() {
        return Outcome::Skipped("no transcript to replay".into());
    }
    let greeting = original.has_greeting();
    let caller_turns = &original.turns()[usize::from(greeting)..];
    progress.caller_turns = caller_turns.len();
    if settings.own_variant {
        progress.variant = record.variant_id.clone();
    }
    if settings.language.is_none() {
        progress.language = record.language.clone();
    }
    let mut options = ChatOptions::new(settings.environment);
    if let Some(variant) = &progress.variant {
        options = options.variant(variant.clone());
    }
    if let Some(language) = &progress.language {
        options = options.lang(language.clone());
    }
    for (key, value) in &settings.attributes {
        options = options.integration_attribute(key.clone(), value.clone());
    }
    progress.waiting_for = Some(0);
    let mut session = match settings.agent.debug_chat(options).send().await {
        Ok(session) => session,
        Err(err) => {
            return Outcome::Errored(ReplayError::from_client(&err, Stage::Replay, Some(0)));
        }
    };
    progress.session_id = Some(session.id().to_owned());
    if greeting {
        let reply = session.greeting().as_response().clone();
        let turn = &original.turns()[0];
        if record_turn(settings, progress, &original, turn, None, &reply) {
            return Outcome::Done;
        }
    }
    for turn in caller_turns {
        if session.is_ended() {
            break;
        }
        progress.waiting_for = Some(turn.turn_index);
        let message = turn.user_input.clone().unwrap_or_default();
        let reply = match session.send(message.clone()).await {
            Ok(reply) => reply.into_response(),
            Err(err) => {
                return Outcome::Errored(ReplayError::from_client(
                    &err,
                    Stage::Replay,
                    Some(turn.turn_index),
                ));
            }
        };
        progress.sent += 1;
        if record_turn(settings, progress, &original, turn, Some(message), &reply) {
            break;
        }
    }
    Outcome::Done
}

/// Compares one replayed turn and keeps it; whether the replay should stop there.
fn record_turn(
    settings: &Settings,
    progress: &mut Progress,
    original: &Original,
    turn: &polyai_data::record::TurnRecord,
    user_input: Option<String>,
    reply: &DebugChatResponse,
) -> bool {
    let was = original.side(turn);
    let now = Side::replayed(reply);
    let (similarity, differences) = compare(&was, &now, settings.threshold);
    let comparison = TurnComparison {
        turn_index: turn.turn_index,
        user_input,
        original: was,
        replayed: now,
        similarity,
        differences,
    };
    let stop = settings.stop_at_divergence && comparison.diverged();
    progress.turns.push(comparison);
    stop
}
