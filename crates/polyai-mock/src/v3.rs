//! The Conversations API v3 listing, `GET /v3/{account_id}/{project_id}/conversations`, served
//! from the same seeded conversations as the Data API.
//!
//! - **Order**: newest first by start time. Semantic search orders by score (best first, then
//!   newest); `sample=random` by a seeded shuffle, a fresh one per sampling walk.
//! - **Time range**: `start_time <= started_at < end_time`, each RFC 3339 (a time without an offset,
//!   or a bare date, is read as UTC).
//! - **Filters**: `channel` (repeatable; matches the channel or its family before the `-`, any
//!   case, so `voice` matches `VOICE-SIP`), `client_env` (default `live`, as documented),
//!   `variant_id` or `variant_name` (not both), `in_progress`.
//! - **Retrieval modes** (at most one): `query_type=transcript` keeps conversations whose turns
//!   contain `query` (any case; only the user's or the agent's side with `turn_type`);
//!   `query_type=semantic` ranks conversations by how many words of `query` their turns and
//!   topics share (a mock's stand-in for vector search); `sample=random`.
//! - **Paging**: `limit` 1..=1000 (default 1000; anything else is a 400); `offset`, answered
//!   with `next_offset` while more follow; or `cursor`. A cursor pins the conversations that
//!   existed when the walk began, so conversations that arrive during it never shift, repeat or
//!   appear in later pages; it is bound to its query (a cursor used with other filters, or
//!   altered, is a 400).
//! - **Disagreement**: by default every conversation is as the Data API lists it; a
//!   [`Disagreement`](crate::disagree::Disagreement) leaves some out, sends some twice (never
//!   split across pages) or changes facts, and the filters see the changed facts.
//! - **Errors**: 401 without a valid key, 403 for a key scoped to other projects, 404 for an
//!   unknown account or project, 400 `GET_CONVERSATIONS_FILTER_PARSE_ERROR` for any bad
//!   parameter or combination.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::data::{Conversation, Dataset, V3Conversation};
use crate::disagree::Disagreement;
use crate::errors::{ApiError, codes, json_response};
use crate::prng::{hash, text_hash};
use crate::routes::{AppState, UnknownAgent, access, path_error, query_pairs};
use crate::script::TOPICS;

/// Largest and default page size.
pub const MAX_LIMIT: u64 = 1000;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::GET_CONVERSATIONS_FILTER_PARSE_ERROR,
        message,
    )
}

/// Which side of a turn transcript search looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    User,
    Agent,
}

/// The retrieval mode of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    All,
    Transcript { needle: String, side: Option<Side> },
    Semantic { words: Vec<String> },
    Sample,
}

impl Mode {
    fn tag(&self) -> u64 {
        match self {
            Mode::All => 1,
            Mode::Transcript { .. } => 2,
            Mode::Semantic { .. } => 3,
            Mode::Sample => 4,
        }
    }

    /// Whether the order is the time order (so a cursor can hold a position in it).
    fn in_time_order(&self) -> bool {
        matches!(self, Mode::All | Mode::Transcript { .. })
    }
}

/// A parsed, validated request.
#[derive(Debug)]
struct ListQuery {
    mode: Mode,
    start: Option<i64>,
    end: Option<i64>,
    channels: Vec<String>,
    env: String,
    variant_id: Option<String>,
    variant_name: Option<String>,
    in_progress: Option<bool>,
    include_latency: bool,
    limit: u64,
    offset: Option<u64>,
    cursor: Option<String>,
    /// Hash of everything that selects or orders conversations (not the paging).
    fingerprint: u64,
}

/// The position a cursor holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    /// Conversations arrived when the walk began: the walk sees only those.
    arrived: u64,
    /// Next newest-first position (time order) or next rank (semantic, sample).
    next: u64,
    /// Shuffle of a sampling walk.
    sample_seed: u64,
}

impl Cursor {
    fn check(&self, data_seed: u64, agent: usize, fingerprint: u64) -> u64 {
        hash(&[
            data_seed,
            0xC025,
            agent as u64,
            fingerprint,
            self.arrived,
            self.next,
            self.sample_seed,
        ])
    }

    fn encode(&self, data_seed: u64, agent: usize, fingerprint: u64) -> String {
        format!(
            "v3.{:x}.{:x}.{:x}.{:016x}",
            self.arrived,
            self.next,
            self.sample_seed,
            self.check(data_seed, agent, fingerprint)
        )
    }

    fn decode(
        text: &str,
        data_seed: u64,
        agent: usize,
        fingerprint: u64,
    ) -> Result<Self, ApiError> {
        let malformed =
            || bad("cursor is malformed: pass the `cursor` value of the previous page unchanged.");
        let parts: Vec<&str> = text.split('.').collect();
        let [version, arrived, next, seed, check] = parts.as_slice() else {
            return Err(malformed());
        };
        let hex = |s: &str| u64::from_str_radix(s, 16).map_err(|_| malformed());
        if *version != "v3" || check.len() != 16 {
            return Err(malformed());
        }
        let cursor = Cursor {
            arrived: hex(arrived)?,
            next: hex(next)?,
            sample_seed: hex(seed)?,
        };
        if hex(check)? != cursor.check(data_seed, agent, fingerprint) {
            return Err(bad(
                "cursor does not belong to this query: keep every filter as on the first page, or start again without a cursor.",
            ));
        }
        Ok(cursor)
    }
}

fn parse_bool(name: &str, raw: &str) -> Result<bool, ApiError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(format!("{name} must be true or false, got {raw:?}."))),
    }
}

fn parse_count(name: &str, raw: &str) -> Result<u64, ApiError> {
    let digits = raw.trim();
    if digits.starts_with('-')
        && digits[1..].bytes().all(|b| b.is_ascii_digit())
        && digits.len() > 1
    {
        return Err(bad(format!("{name} must not be negative, got {raw}.")));
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!("{name} must be an integer, got {raw:?}.")));
    }
    Ok(digits.parse::<u64>().unwrap_or(u64::MAX))
}

/// An RFC 3339 time in microseconds since the epoch; a time without offset or a bare date is UTC.
fn parse_time(name: &str, raw: &str) -> Result<i64, ApiError> {
    let text = raw.trim();
    let micros = |t: jiff::Timestamp| t.as_microsecond();
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(micros(t));
    }
    let utc = jiff::tz::Offset::UTC;
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>()
        && let Ok(t) = utc.to_timestamp(dt)
    {
        return Ok(micros(t));
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>()
        && let Ok(t) = utc.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
    {
        return Ok(micros(t));
    }
    Err(bad(format!(
        "{name} must be an ISO 8601 date-time such as 2026-06-02T00:00:00Z, got {raw:?}."
    )))
}

/// Lower-case words of `text` without the commonest English ones, a plural `s` dropped.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    const STOP: &[&str] = &[
        "a", "an", "and", "are", "be", "can", "do", "for", "i", "i'd", "i'm", "in", "is", "it",
        "me", "my", "of", "on", "or", "please", "that", "the", "to", "was", "we", "what", "you",
        "your",
    ];
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty() && !STOP.contains(&w.as_str()))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.len() > 3 && !stem.ends_with('s') => stem.to_owned(),
            _ => w,
        })
}

impl ListQuery {
    fn parse(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
        let one = |name: &str| -> Option<&str> {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let query = one("query");
        let side = match one("turn_type") {
            None => None,
            Some("user") => Some(Side::User),
            Some("agent") => Some(Side::Agent),
            Some(other) => {
                return Err(bad(format!(
                    "turn_type must be user or agent, got {other:?}."
                )));
            }
        };
        let mode = match (one("query_type"), one("sample")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "query_type and sample exclude each other: search or sample, not both.",
                ));
            }
            (None, Some("random")) => Mode::Sample,
            (None, Some(other)) => {
                return Err(bad(format!("sample must be random, got {other:?}.")));
            }
            (Some(kind), None) => {
                let text = query
                    .map(str::trim)
                    .filter(|q| !q.is_empty())
                    .ok_or_else(|| bad(format!("query_type={kind} needs a non-empty query.")))?;
                match kind {
                    "transcript" => Mode::Transcript {
                        needle: text.to_lowercase(),
                        side,
                    },
                    "semantic" => {
                        let words: Vec<String> =
                            words(text).collect::<HashSet<_>>().into_iter().collect();
                        if words.is_empty() {
                            return Err(bad(format!("query {text:?} has no words to search for.")));
                        }
                        let mut words = words;
                        words.sort();
                        Mode::Semantic { words }
                    }
                    other => {
                        return Err(bad(format!(
                            "query_type must be transcript or semantic, got {other:?}."
                        )));
                    }
                }
            }
            (None, None) => Mode::All,
        };
        if query.is_some() && !matches!(mode, Mode::Transcript { .. } | Mode::Semantic { .. }) {
            return Err(bad("query needs query_type (transcript or semantic)."));
        }
        if side.is_some() && !matches!(mode, Mode::Transcript { .. }) {
            return Err(bad("turn_type only applies to query_type=transcript."));
        }
        let start = one("start_time")
            .map(|t| parse_time("start_time", t))
            .transpose()?;
        let end = one("end_time")
            .map(|t| parse_time("end_time", t))
            .transpose()?;
        if let (Some(start), Some(end)) = (start, end)
            && start > end
        {
            return Err(bad("start_time is after end_time."));
        }
        let mut channels = Vec::new();
        for (_, value) in pairs.iter().filter(|(k, _)| k == "channel") {
            let value = value.trim();
            if value.is_empty() {
                return Err(bad("channel must not be empty."));
            }
            channels.push(value.to_ascii_uppercase());
        }
        channels.sort();
        channels.dedup();
        let env = match one("client_env") {
            None => "live".to_owned(),
            Some(env @ ("sandbox" | "pre-release" | "live")) => env.to_owned(),
            Some(other) => {
                return Err(bad(format!(
                    "client_env must be sandbox, pre-release or live, got {other:?}."
                )));
            }
        };
        let variant_id = one("variant_id").map(str::to_owned);
        let variant_name = one("variant_name").map(str::to_owned);
        if variant_id.is_some() && variant_name.is_some() {
            return Err(bad("give variant_id or variant_name, not both."));
        }
        let in_progress = one("in_progress")
            .map(|v| parse_bool("in_progress", v))
            .transpose()?;
        let include_latency = one("include_latency")
            .map(|v| parse_bool("include_latency", v))
            .transpose()?
            .unwrap_or(false);
        let limit = match one("limit") {
            None => MAX_LIMIT,
            Some(raw) => {
                let limit = parse_count("limit", raw)?;
                if !(1..=MAX_LIMIT).contains(&limit) {
                    return Err(bad(format!(
                        "limit must be between 1 and {MAX_LIMIT}, got {raw}."
                    )));
                }
                limit
            }
        };
        let offset = one("offset")
            .map(|o| parse_count("offset", o))
            .transpose()?;
        let cursor = one("cursor").map(str::to_owned);
        if offset.is_some() && cursor.is_some() {
            return Err(bad("pass cursor or offset, not both."));
        }
        let mut key = format!(
            "{}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}",
            mode.tag(),
            start,
            end,
            channels,
            env,
            variant_id,
            variant_name,
            in_progress
        );
        match &mode {
            Mode::Transcript { needle, side } => key.push_str(&format!("|{needle}|{side:?}")),
            Mode::Semantic { words } => key.push_str(&format!("|{words:?}")),
            Mode::All | Mode::Sample => {}
        }
        Ok(ListQuery {
            fingerprint: text_hash(&key),
            mode,
            start,
            end,
            channels,
            env,
            variant_id,
            variant_name,
            in_progress,
            include_latency,
            limit,
            offset,
            cursor,
        })
    }

    /// Whether `c` passes the filters (and, for transcript search, contains the text).
    fn keeps(&self, c: &Conversation) -> bool {
        if c.client_env != self.env {
            return false;
        }
        if let Some(want) = self.in_progress
            && c.in_progress != want
        {
            return false;
        }
        if !self.channels.is_empty() {
            let family = c.channel.split('-').next().unwrap_or(c.channel);
            if !self
                .channels
                .iter()
                .any(|ch| ch.eq_ignore_ascii_case(c.channel) || ch.eq_ignore_ascii_case(family))
            {
                return false;
            }
        }
        if let Some(id) = &self.variant_id
            && c.variant.map(variant_id).as_deref() != Some(id.as_str())
        {
            return false;
        }
        if let Some(name) = &self.variant_name
            && c.variant != Some(name.as_str())
        {
            return false;
        }
        match &self.mode {
            Mode::Transcript { needle, side } => c.turns.iter().any(|t| {
                let user =
                    side != &Some(Side::Agent) && t.user_input.to_lowercase().contains(needle);
                let agent =
                    side != &Some(Side::User) && t.agent_response.to_lowercase().contains(needle);
                user || agent
            }),
            _ => true,
        }
    }
}

/// The v3 `variant_id` of a variant name: a stable opaque id.
pub fn variant_id(name: &str) -> String {
    format!("VAR-{:08x}", text_hash(name) as u32)
}

/// How well `c` matches the query words: two points per word said in a turn, one per word only
/// among the keywords of a topic it touched.
fn semantic_score(c: &Conversation, query: &[String]) -> u64 {
    let mut said: HashSet<String> = HashSet::new();
    let mut topics: HashSet<String> = HashSet::new();
    for turn in &c.turns {
        said.extend(words(&turn.user_input));
        said.extend(words(&turn.agent_response));
        if let Some(topic) = turn.topic.map(|t| &TOPICS[t]) {
            topics.extend(words(topic.name));
            topics.extend(topic.keywords.iter().flat_map(|k| words(k)));
        }
    }
    query
        .iter()
        .map(|w| {
            if said.contains(w) {
                2
            } else {
                u64::from(topics.contains(w))
            }
        })
        .sum()
}

/// The first position in `0..len` where `pred` turns false (`pred` true on a prefix).
fn partition_point(len: u64, pred: impl Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `GetConversationsResponse`.
#[derive(serde::Serialize)]
struct V3Page<'a> {
    conversations: Vec<V3Conversation<'a>>,
    cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_offset: Option<u64>,
}

/// One page: the conversations, and the position after them if more follow.
struct Selection {
    items: Vec<Conversation>,
    next: Option<u64>,
}

/// Walks one agent's conversations for one query.
struct Walk<'a> {
    data: &'a Dataset,
    agent: usize,
    arrived: u64,
    query: &'a ListQuery,
    /// How this listing disagrees with the Data API's (usually not at all).
    disagree: &'a Disagreement,
    seed: u64,
}

impl Walk<'_> {
    /// The conversation at `position` as v3 reports it, and how many times it lists it (0: left
    /// out, 2: sent twice; see [`crate::disagree`]).
    fn at(&self, position: u64) -> (Conversation, u64) {
        let index = self.data.index_at(position, self.arrived);
        let mut c = self.data.conversation(self.agent, index);
        if self.disagree.is_off() {
            return (c, 1);
        }
        let copies = self.disagree.v3_copies(self.seed, self.agent, index);
        let variants = self
            .data
            .agents
            .get(self.agent)
            .map(|a| a.variants.as_slice())
            .unwrap_or(&[]);
        self.disagree.apply_v3(self.seed, &mut c, variants);
        (c, copies)
    }

    /// Positions whose start time is in the query's range.
    fn range(&self) -> (u64, u64) {
        let total = self.data.total(self.arrived);
        let started = |p: u64| {
            self.data
                .started(self.agent, self.data.index_at(p, self.arrived))
                .micros
        };
        let lo = self
            .query
            .end
            .map_or(0, |end| partition_point(total, |p| started(p) >= end));
        let hi = self.query.start.map_or(total, |start| {
            partition_point(total, |p| started(p) >= start)
        });
        (lo, hi.max(lo))
    }

    /// Time order from position `from` (cursor) or after skipping `skip` matches (offset).
    fn in_time_order(&self, from: Option<u64>, skip: u64, limit: u64) -> Selection {
        let (lo, hi) = self.range();
        let mut position = from.unwrap_or(lo).max(lo);
        let mut skipped = 0;
        let mut items = Vec::new();
        while position < hi {
            let (c, mut copies) = self.at(position);
            position += 1;
            if copies == 0 || !self.query.keeps(&c) {
                continue;
            }
            if skipped < skip {
                let here = (skip - skipped).min(copies);
                skipped += here;
                copies -= here;
                if copies == 0 {
                    continue;
                }
            }
            let room = limit - items.len() as u64;
            // A page ends before a conversation it cannot hold whole (both copies of one sent
            // twice), so the next page starts with it.
            if room == 0 || (copies > room && !items.is_empty()) {
                return Selection {
                    items,
                    next: Some(position - 1),
                };
            }
            for _ in 1..copies.min(room) {
                items.push(c.clone());
            }
            items.push(c);
        }
        Selection { items, next: None }
    }

    /// Ranked order (semantic score, or a shuffle: [`shuffled`](Self::shuffled)), from rank
    /// `from`.
    fn ranked(&self, from: u64, limit: u64, sample_seed: u64) -> Selection {
        let (lo, hi) = self.range();
        let Mode::Semantic { words } = &self.query.mode else {
            return self.shuffled(lo..hi, from, limit, sample_seed);
        };
        let mut ranked: Vec<(u64, u64, Conversation)> = (lo..hi)
            .filter_map(|p| {
                let (c, copies) = self.at(p);
                if copies == 0 || !self.query.keeps(&c) {
                    return None;
                }
                let score = semantic_score(&c, words);
                let key = (score > 0).then_some(u64::MAX - score)?;
                Some((key, p, c))
            })
            .collect();
        ranked.sort_by_key(|(key, position, _)| (*key, *position));
        let total = ranked.len() as u64;
        let end = from.saturating_add(limit).min(total);
        let items = ranked
            .into_iter()
            .skip(from.min(total) as usize)
            .take((end - from.min(total)) as usize)
            .map(|(_, _, c)| c)
            .collect();
        Selection {
            items,
            next: (end < total).then_some(end),
        }
    }

    /// The shuffle of `sample=random` from rank `from`: the same order as ranking every
    /// conversation by its key, but a key needs only the conversation's index, so conversations
    /// are derived in key order and only until the page is full (a sample of a million costs a
    /// sort of keys, not a million conversations).
    fn shuffled(
        &self,
        positions: std::ops::Range<u64>,
        from: u64,
        limit: u64,
        sample_seed: u64,
    ) -> Selection {
        let mut order: Vec<(u64, u64)> = positions
            .map(|p| {
                let index = self.data.index_at(p, self.arrived);
                (hash(&[sample_seed, index]), p)
            })
            .collect();
        order.sort_unstable();
        let (mut rank, mut items) = (0u64, Vec::new());
        for (_, p) in order {
            let (c, copies) = self.at(p);
            if copies == 0 || !self.query.keeps(&c) {
                continue;
            }
            if rank >= from {
                if items.len() as u64 == limit {
                    return Selection {
                        items,
                        next: Some(rank),
                    };
                }
                items.push(c);
            }
            rank += 1;
        }
        Selection { items, next: None }
    }
}

/// `GET /v3/{account_id}/{project_id}/conversations`.
pub(crate) async fn list_conversations_v3(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path((account_id, project_id)) = path.map_err(path_error)?;
    let access = access(&state, &headers, &project_id, UnknownAgent::NotFound)?;
    if account_id != state.data.account_id {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            codes::ACCOUNT_NOT_FOUND,
            format!("Account {account_id:?} not found."),
        ));
    }
    let pairs = query_pairs(query).map_err(|e| bad(e.message))?;
    let query = ListQuery::parse(&pairs)?;
    let data_seed = state.config.seed;
    let cursor = query
        .cursor
        .as_deref()
        .map(|text| Cursor::decode(text, data_seed, access.agent, query.fingerprint))
        .transpose()?;
    let arrived_now = state.data.arrived();
    let arrived = cursor.map_or(arrived_now, |c| c.arrived);
    if arrived > arrived_now || cursor.is_some_and(|c| c.next > state.data.total(arrived)) {
        return Err(bad(
            "cursor is malformed: it points past the end of the data.",
        ));
    }
    let sample_seed = match (&query.mode, cursor) {
        (Mode::Sample, Some(c)) => c.sample_seed,
        (Mode::Sample, None) => hash(&[
            data_seed,
            0x5A3,
            state.samples.fetch_add(1, Ordering::SeqCst),
        ]),
        _ => 0,
    };
    let disagree = state.faults.disagreement();
    let walk = Walk {
        data: &state.data,
        agent: access.agent,
        arrived,
        query: &query,
        disagree: &disagree,
        seed: data_seed,
    };
    let offset = query.offset.unwrap_or(0);
    let selection = if query.mode.in_time_order() {
        walk.in_time_order(cursor.map(|c| c.next), offset, query.limit)
    } else {
        let from = cursor.map_or(offset, |c| c.next);
        walk.ranked(from, query.limit, sample_seed)
    };
    let len = selection.items.len() as u64;
    let next_cursor = selection.next.map(|next| {
        Cursor {
            arrived,
            next,
            sample_seed,
        }
        .encode(data_seed, access.agent, query.fingerprint)
    });
    let body = V3Page {
        conversations: selection
            .items
            .iter()
            .map(|c| {
                c.v3(
                    access.agent_id,
                    &state.data.account_id,
                    query.include_latency,
                )
            })
            .collect(),
        cursor: next_cursor,
        next_offset: (cursor.is_none() && selection.next.is_some()).then_some(offset + len),
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_times_in_three_forms() {
        let z = parse_time("t", "2026-06-03T14:00:00Z").ok();
        assert_eq!(z, Some(1_780_495_200_000_000));
        assert_eq!(parse_time("t", "2026-06-03T15:00:00+01:00").ok(), z);
        assert_eq!(parse_time("t", "2026-06-03T14:00:00").ok(), z);
        assert_eq!(
            parse_time("t", "2026-06-03").ok(),
            Some(1_780_444_800_000_000)
        );
        assert!(parse_time("t", "yesterday").is_err());
    }

    #[test]
    fn rejects_bad_combinations() {
        for q in [
            &[("query_type", "transcript")][..],
            &[("query_type", "semantic"), ("query", "  ")],
            &[
                ("query_type", "transcript"),
                ("query", "x"),
                ("sample", "random"),
            ],
            &[("query", "refund")],
            &[("turn_type", "user")],
            &[
                ("query_type", "semantic"),
                ("query", "x"),
                ("turn_type", "user"),
            ],
            &[("variant_id", "a"), ("variant_name", "b")],
            &[("limit", "0")],
            &[("limit", "1001")],
            &[("limit", "ten")],
            &[("offset", "-1")],
            &[("offset", "1"), ("cursor", "x")],
            &[("client_env", "prod")],
            &[("in_progress", "maybe")],
            &[
                ("start_time", "2026-06-03T00:00:00Z"),
                ("end_time", "2026-06-02T00:00:00Z"),
            ],
            &[("channel", "")],
            &[("sample", "all")],
        ] {
            let err = ListQuery::parse(&pairs(q)).err();
            assert!(
                err.as_ref()
                    .is_some_and(|e| e.code == codes::GET_CONVERSATIONS_FILTER_PARSE_ERROR),
                "{q:?}: {err:?}"
            );
        }
        assert!(ListQuery::parse(&pairs(&[("limit", "1000"), ("offset", "0")])).is_ok());
    }

    #[test]
    fn cursors_are_bound_to_their_query() {
        let cursor = Cursor {
            arrived: 3,
            next: 250,
            sample_seed: 9,
        };
        let text = cursor.encode(42, 0, 7);
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
        assert_eq!(Cursor::decode(&text, 42, 0, 7).ok(), Some(cursor));
        assert!(Cursor::decode(&text, 42, 0, 8).is_err());
        assert!(Cursor::decode(&text, 42, 1, 7).is_err());
        assert!(Cursor::decode(&text.replace("v3.3.", "v3.4."), 42, 0, 7).is_err());
        assert!(Cursor::decode("garbage", 42, 0, 7).is_err());
    }

    #[test]
    fn semantic_words_drop_filler() {
        let w: Vec<String> =
            words("I'd like my MONEY back, please! Two payments; business").collect();
        assert_eq!(w, ["like", "money", "back", "two", "payment", "business"]);
    }
}
