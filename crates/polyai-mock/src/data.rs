//! The deterministic data set: agents and conversations derived on demand from the seed.
//!
//! Conversation `i` of agent `a` is a pure function of `(seed, a, i)`: nothing is stored, so a million
//! conversations cost no memory. Index 0 is the newest. Ids encode `(a, i)` through a keyed permutation,
//! so a lookup by id needs no table and unknown ids are recognised.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::{MockConfig, SANDBOX_AGENT};
use crate::prng::{Permutation, Rng, hash};
use crate::script::{self, Behaviour, TOPICS};
use crate::state::Annotation;
use crate::time::Timestamp;

/// "Now" for the generated data: 2026-06-03T14:00:00Z. Conversation 0 starts just before it.
const BASE_SECS: i64 = 1_780_495_200;
/// Mean spacing between consecutive conversations of an agent, in seconds.
const SPACING_SECS: i64 = 97;
/// Index bit of a conversation that arrived after the data set was made ([`Dataset::add_arrivals`]).
pub const ARRIVAL_BIT: u64 = 1 << 47;
/// Index bits of a conversation id.
const INDEX_MASK: u64 = 0xFFFF_FFFF_FFFF;

/// One generated agent (project).
#[derive(Debug, Clone)]
pub struct Agent {
    /// Agent/project id, e.g. `PROJECT-58RP822I`.
    pub id: String,
    /// Business it answers for.
    pub business: &'static str,
    /// Variants it has.
    pub variants: Vec<&'static str>,
}

/// The data set of one server.
#[derive(Debug, Clone)]
pub struct Dataset {
    seed: u64,
    perm: Permutation,
    /// All agents, in index order.
    pub agents: Vec<Agent>,
    /// Conversations per agent.
    pub conversations: u64,
    /// The account (workspace) id every conversation carries.
    pub account_id: String,
    /// Conversations that arrived since the server started, shared by every agent.
    arrived: Arc<AtomicU64>,
    /// Ids that replace the generated ones of the first conversations of every agent.
    id_overrides: Vec<String>,
}

/// A side of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// The caller.
    User,
    /// The AI agent.
    Agent,
}

/// One planned turn: who said what, and when (offsets in milliseconds from the start of the call).
#[derive(Debug, Clone)]
pub struct TurnPlan {
    /// Topic, or `None` for the greeting and small talk.
    pub topic: Option<usize>,
    /// What the caller said (`""` for the greeting turn).
    pub user_input: String,
    /// What the agent answered.
    pub agent_response: String,
    /// Caller speech span, milliseconds from call start (empty for the greeting).
    pub user_span: (u64, u64),
    /// Agent speech span.
    pub agent_span: (u64, u64),
    /// A part of the caller's speech holding personal data, muted in redacted audio.
    pub pii_span: Option<(u64, u64)>,
    /// Whether the caller talked over the agent.
    pub barge_in: bool,
}

/// One derived conversation.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// `CA` + 32 hex digits.
    pub id: String,
    /// Agent index.
    pub agent: usize,
    /// Index within the agent (0 = newest).
    pub index: u64,
    /// Stream seed of this conversation.
    pub seed: u64,
    /// `VOICE-SIP`, `CHAT` or `WEBCHAT`.
    pub channel: &'static str,
    /// `inbound` / `outbound`.
    pub direction: &'static str,
    /// `sandbox`, `pre-release` or `live`.
    pub client_env: &'static str,
    /// Creation (= start) time.
    pub created: Timestamp,
    /// Whether the call is still live.
    pub in_progress: bool,
    /// Seconds so far (in progress) or in total.
    pub total_duration: u64,
    /// Seconds handled by the AI.
    pub polyai_duration: u64,
    /// Transfer target and reason.
    pub handoff: Option<(&'static str, &'static str)>,
    /// Language code.
    pub language: Option<&'static str>,
    /// Variant.
    pub variant: Option<&'static str>,
    /// Tags.
    pub tags: Vec<&'static str>,
    /// Quality score.
    pub poly_score: Option<f64>,
    /// Summary heading and text.
    pub summary: Option<(String, String)>,
    /// Deployment id.
    pub deployment_id: Option<String>,
    /// Whether a recording exists.
    pub has_recording: bool,
    /// Caller id.
    pub from_number: String,
    /// Number dialled.
    pub to_number: String,
    /// First turn id (turn ids are large, consecutive numbers).
    pub turn_id_base: u64,
    /// The turns.
    pub turns: Vec<TurnPlan>,
}

fn agent_id(seed: u64, i: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = Rng::new(&[seed, 0xA6E7, i as u64]);
    let tail: String = (0..8).map(|_| char::from(*rng.pick(ALPHABET))).collect();
    format!("PROJECT-{tail}")
}

fn phone(rng: &mut Rng) -> String {
    format!("+44{:010}", rng.below(10_000_000_000))
}

impl Dataset {
    /// Builds the data set of a configuration.
    pub fn new(config: &MockConfig) -> Self {
        let seed = config.seed;
        let ids: Vec<String> = match &config.agent_ids {
            Some(ids) => ids.clone(),
            None => (0..config.agents)
                .map(|i| match i {
                    0 => SANDBOX_AGENT.to_string(),
                    _ => agent_id(seed, i),
                })
                .collect(),
        };
        let agents = ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| {
                let mut rng = Rng::new(&[seed, 0xB0B, i as u64]);
                let business = *rng.pick(script::BUSINESSES);
                let first = rng.below(script::VARIANTS.len() as u64) as usize;
                let n = 1 + rng.below(2) as usize;
                let variants = (0..n)
                    .map(|k| script::VARIANTS[(first + k) % script::VARIANTS.len()])
                    .collect();
                Agent {
                    id,
                    business,
                    variants,
                }
            })
            .collect();
        let mut rng = Rng::new(&[seed, 0xACC]);
        Dataset {
            seed,
            perm: Permutation::new(seed),
            agents,
            conversations: config.conversations,
            account_id: format!("ws-{}", rng.hex(8)),
            id_overrides: config.conversation_ids.clone().unwrap_or_default(),
            arrived: Arc::new(AtomicU64::new(0)),
        }
    }

    /// "Now" for the data: the moment the seeded conversations were recorded
    /// (2026-06-03T14:00:00Z); conversation 0 started just before it.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_secs(BASE_SECS)
    }

    /// How many conversations arrived since the server started.
    pub fn arrived(&self) -> u64 {
        self.arrived.load(Ordering::SeqCst)
    }

    /// Records `n` new conversations for every agent, each newer than all before it (they start
    /// after [`Dataset::now`], one about every 97 seconds). Returns how many have arrived in all.
    pub fn add_arrivals(&self, n: u64) -> u64 {
        self.arrived.fetch_add(n, Ordering::SeqCst) + n
    }

    /// Conversations per agent once `arrived` have arrived.
    pub fn total(&self, arrived: u64) -> u64 {
        self.conversations + arrived
    }

    /// The index of the conversation at newest-first `position` once `arrived` have arrived:
    /// the arrivals first (newest first), then the seeded conversations `0..`.
    pub fn index_at(&self, position: u64, arrived: u64) -> u64 {
        if position < arrived {
            ARRIVAL_BIT | (arrived - 1 - position)
        } else {
            position - arrived
        }
    }

    /// Index of an agent id.
    pub fn agent_index(&self, id: &str) -> Option<usize> {
        self.agents.iter().position(|a| a.id == id)
    }

    fn check_word(&self, hi: u64) -> u64 {
        hash(&[self.seed, 0xC4EC, hi])
    }

    /// The id of conversation `index` of agent `agent`.
    pub fn conversation_id(&self, agent: usize, index: u64) -> String {
        if let Some(id) = usize::try_from(index)
            .ok()
            .and_then(|i| self.id_overrides.get(i))
        {
            return id.clone();
        }
        let hi = ((agent as u64) << 48) | (index & INDEX_MASK);
        let (l, r) = self.perm.encrypt((hi, self.check_word(hi)));
        format!("CA{l:016x}{r:016x}")
    }

    /// The index of a conversation id within `agent`, if it names one of its conversations.
    pub fn parse_conversation_id(&self, agent: usize, id: &str) -> Option<u64> {
        if let Some(i) = self.id_overrides.iter().position(|o| o == id) {
            return Some(i as u64).filter(|&i| i < self.conversations);
        }
        let hex = id.strip_prefix("CA")?;
        if hex.len() != 32
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let l = u64::from_str_radix(hex.get(..16)?, 16).ok()?;
        let r = u64::from_str_radix(hex.get(16..)?, 16).ok()?;
        let (hi, check) = self.perm.decrypt((l, r));
        if check != self.check_word(hi) || (hi >> 48) as usize != agent {
            return None;
        }
        let index = hi & INDEX_MASK;
        let known = if index & ARRIVAL_BIT != 0 {
            index & !ARRIVAL_BIT < self.arrived()
        } else {
            // A replaced id no longer names its conversation.
            index < self.conversations && index >= self.id_overrides.len() as u64
        };
        known.then_some(index)
    }

    /// The first draws of conversation `index`: channel, direction, environment and start time.
    fn head(rng: &mut Rng, index: u64) -> (&'static str, &'static str, &'static str, Timestamp) {
        let channel = match rng.below(20) {
            0..=14 => "VOICE-SIP",
            15..=17 => "CHAT",
            _ => "WEBCHAT",
        };
        let direction = if channel == "VOICE-SIP" && rng.chance(0.2) {
            "outbound"
        } else {
            "inbound"
        };
        let client_env = match rng.below(20) {
            0..=11 => "live",
            12..=16 => "sandbox",
            _ => "pre-release",
        };
        let jitter_us = rng.below(SPACING_SECS as u64 * 1_000_000 - 1) as i64;
        let slot = if index & ARRIVAL_BIT != 0 {
            BASE_SECS + (index & !ARRIVAL_BIT) as i64 * SPACING_SECS
        } else {
            BASE_SECS - (index as i64 + 1) * SPACING_SECS
        };
        let created = Timestamp::from_secs(slot).plus_micros(jitter_us);
        (channel, direction, client_env, created)
    }

    fn rng(&self, agent: usize, index: u64) -> (u64, Rng) {
        let cseed = hash(&[self.seed, 0xC0, agent as u64, index]);
        (cseed, Rng::new(&[cseed]))
    }

    /// When conversation `index` of `agent` started (cheaper than deriving all of it).
    pub fn started(&self, agent: usize, index: u64) -> Timestamp {
        Self::head(&mut self.rng(agent, index).1, index).3
    }

    /// Derives conversation `index` of agent `agent`.
    pub fn conversation(&self, agent: usize, index: u64) -> Conversation {
        let (cseed, mut rng) = self.rng(agent, index);
        let business = self
            .agents
            .get(agent)
            .map(|a| a.business)
            .unwrap_or(script::BUSINESSES[0]);
        let variants: &[&'static str] = self
            .agents
            .get(agent)
            .map(|a| a.variants.as_slice())
            .unwrap_or(&[]);

        let (channel, direction, client_env, created) = Self::head(&mut rng, index);
        let voice = channel == "VOICE-SIP";
        let in_progress = index < 4 && rng.chance(0.5);

        // Turns.
        let n_turns = 2 + rng.below(9) as usize;
        let mut turns = Vec::with_capacity(n_turns);
        let mut t_ms: u64 = 300;
        let mut handoff = None;
        let handoff_wanted = rng.chance(0.2);
        // Every agent turn is what the scripted agent answers to its caller turn (as a debug chat
        // under the conversation's own variant would), so a replay of the conversation is clean.
        let key = script::answer_key(self.seed, agent);
        for k in 0..n_turns {
            let (user_input, drawn) = if k == 0 {
                (String::new(), None)
            } else if handoff_wanted && k == n_turns - 1 {
                let t = TOPICS.len() - 1;
                let user = rng.pick(TOPICS[t].user_lines).to_string();
                (user, Some(TOPICS[t].agent_lines))
            } else if k == n_turns - 1 && n_turns > 2 {
                let user = "No, that's everything, thanks. Bye".to_string();
                (user, Some(script::GOODBYE_LINES))
            } else {
                let t = rng.below(TOPICS.len() as u64 - 1) as usize;
                let user = rng.pick(TOPICS[t].user_lines).to_string();
                (user, Some(TOPICS[t].agent_lines))
            };
            // The draw that once chose the agent's line independently of the caller's, kept so
            // every later draw (and with it the rest of the data set) stays as it was.
            if let Some(lines) = drawn {
                let _ = rng.pick(lines);
            }
            let (topic, agent_response, handoff_to) = if k == 0 {
                (None, script::greeting(business), None)
            } else {
                let answer = script::answer(key, k as u64, &user_input, Behaviour::Recorded);
                (answer.topic, answer.text.to_string(), answer.handoff)
            };
            let user_ms = if k == 0 {
                0
            } else {
                800 + 60 * user_input.len() as u64 + rng.below(700)
            };
            let user_span = (t_ms, t_ms + user_ms);
            let pii_span = (user_ms > 1500 && rng.chance(0.35)).then(|| {
                let start = user_span.0 + 300 + rng.below(user_ms / 2);
                (start, (start + 600 + rng.below(900)).min(user_span.1))
            });
            let gap = if k == 0 { 0 } else { 400 + rng.below(900) };
            let agent_ms = 900 + 55 * agent_response.len() as u64 + rng.below(600);
            let agent_span = (user_span.1 + gap, user_span.1 + gap + agent_ms);
            t_ms = agent_span.1 + 200 + rng.below(800);
            if let Some(destination) = handoff_to {
                // The destination once drawn here is the agent's own now; the draw is kept.
                let _ = rng.pick(script::HANDOFF_DESTINATIONS);
                handoff = Some((destination, *rng.pick(script::HANDOFF_REASONS)));
            }
            turns.push(TurnPlan {
                topic,
                user_input,
                agent_response,
                user_span,
                agent_span,
                pii_span,
                barge_in: k > 0 && rng.chance(0.1),
            });
        }
        if in_progress {
            // Only the turns so far.
            let keep = 1 + rng.below(turns.len() as u64) as usize;
            turns.truncate(keep);
            handoff = None;
        }
        let talk_secs = turns
            .last()
            .map(|t| t.agent_span.1)
            .unwrap_or(1000)
            .div_ceil(1000);
        let total_duration = talk_secs.max(1);
        let polyai_duration = if handoff.is_some() {
            total_duration.saturating_sub(rng.below(total_duration / 3 + 1))
        } else {
            total_duration
        };
        let language = match rng.below(10) {
            0 => None,
            1..=5 => Some("en-US"),
            6..=8 => Some("en-GB"),
            _ => Some("es-ES"),
        };
        let variant = if variants.is_empty() || rng.chance(0.4) {
            None
        } else {
            Some(*rng.pick(variants))
        };
        let mut tags = Vec::new();
        if rng.chance(0.15) {
            tags.push(*rng.pick(script::TAGS));
        }
        let poly_score =
            (!in_progress && rng.chance(0.7)).then(|| (rng.range(10, 100) as f64) / 10.0);
        let summary = (!in_progress && rng.chance(0.8)).then(|| {
            let topic = turns
                .iter()
                .find_map(|t| t.topic)
                .map(|t| TOPICS[t].name)
                .unwrap_or("General enquiry");
            (
                topic.to_string(),
                format!(
                    "The caller contacted {business} about {}. The agent handled {} turn(s){}.",
                    topic.to_lowercase(),
                    turns.len(),
                    if handoff.is_some() {
                        " and transferred the call"
                    } else {
                        ""
                    }
                ),
            )
        });
        let deployment_id = rng.chance(0.7).then(|| rng.uuid());
        let has_recording = voice && !in_progress && rng.chance(0.9);
        let (from_number, to_number) = if voice {
            let caller = phone(&mut rng);
            let line = phone(&mut rng);
            if direction == "inbound" {
                (caller, line)
            } else {
                (line, caller)
            }
        } else {
            (
                format!("user-{}@example.com", rng.hex(6)),
                "polyai".to_string(),
            )
        };
        let turn_id_base = 700_000_000 + rng.below(200_000_000);
        Conversation {
            id: self.conversation_id(agent, index),
            agent,
            index,
            seed: cseed,
            channel,
            direction,
            client_env,
            created,
            in_progress,
            total_duration,
            polyai_duration,
            handoff,
            language,
            variant,
            tags,
            poly_score,
            summary,
            deployment_id,
            has_recording,
            from_number,
            to_number,
            turn_id_base,
            turns,
        }
    }
}

/// `{heading, content}`: the object the wire sends as `shortSummary`.
#[derive(Debug, Clone, Serialize)]
pub struct ShortSummary<'a> {
    /// Title line.
    pub heading: &'a str,
    /// Summary text.
    pub content: &'a str,
}

/// A conversation as the list operation sends it (camelCase, with the wire's nulls).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary<'a> {
    conversation_id: &'a str,
    account_id: &'a str,
    project_id: &'a str,
    created_at: String,
    started_at: String,
    finished_at: Option<String>,
    channel: &'static str,
    from_number: &'a str,
    to_number: &'a str,
    language: Option<&'static str>,
    variant_id: Option<&'static str>,
    client_env: &'static str,
    total_duration: u64,
    polyai_duration: u64,
    duration: u64,
    in_progress: bool,
    handoff: bool,
    handoff_destination: Option<&'static str>,
    handoff_reason: Option<&'static str>,
    direction: &'static str,
    tags: &'a [&'static str],
    poly_score: Option<f64>,
    short_summary: Option<ShortSummary<'a>>,
    deployment_id: Option<&'a str>,
    note: Option<&'a str>,
    audio_url: Option<String>,
}

impl Conversation {
    /// End time, if the call has finished.
    pub fn finished(&self) -> Option<Timestamp> {
        (!self.in_progress).then(|| {
            self.created
                .plus_micros(self.total_duration as i64 * 1_000_000)
        })
    }

    /// The wire's `ConversationSummaryResponse`, ready to serialize.
    pub fn summary<'a>(
        &'a self,
        project_id: &'a str,
        account_id: &'a str,
        note: Option<&'a str>,
    ) -> Summary<'a> {
        let created = self.created.iso_offset();
        Summary {
            conversation_id: &self.id,
            account_id,
            project_id,
            started_at: created.clone(),
            created_at: created,
            finished_at: self.finished().map(Timestamp::iso_offset),
            channel: self.channel,
            from_number: &self.from_number,
            to_number: &self.to_number,
            language: self.language,
            variant_id: self.variant,
            client_env: self.client_env,
            total_duration: self.total_duration,
            polyai_duration: self.polyai_duration,
            duration: self.total_duration,
            in_progress: self.in_progress,
            handoff: self.handoff.is_some(),
            handoff_destination: self.handoff.map(|h| h.0),
            handoff_reason: self.handoff.map(|h| h.1),
            direction: self.direction,
            tags: &self.tags,
            poly_score: self.poly_score,
            short_summary: self
                .summary
                .as_ref()
                .map(|(heading, content)| ShortSummary { heading, content }),
            deployment_id: self.deployment_id.as_deref(),
            note,
            audio_url: self
                .has_recording
                .then(|| format!("conversations/{}/audio", self.id)),
        }
    }

    /// The wire's `ConversationSummaryResponse` object as JSON.
    pub fn summary_json(&self, project_id: &str, account_id: &str, note: Option<&str>) -> Value {
        serde_json::to_value(self.summary(project_id, account_id, note)).unwrap_or(Value::Null)
    }

    fn at(&self, ms: u64) -> Timestamp {
        self.created.plus_micros(ms as i64 * 1000)
    }

    /// The wire's `ConversationDetailResponse` object (summary fields plus turns, metrics, events).
    pub fn detail_json(
        &self,
        project_id: &str,
        account_id: &str,
        note: Option<&str>,
        annotations: &[Annotation],
    ) -> Value {
        let mut obj = match self.summary_json(project_id, account_id, note) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let lang = self.language.unwrap_or("");
        let mut events = Map::new();
        let mut turns = Vec::with_capacity(self.turns.len());
        for (k, turn) in self.turns.iter().enumerate() {
            let mut rng = Rng::new(&[self.seed, 0x7E, k as u64]);
            let turn_id = self.turn_id_base + k as u64;
            let topic = turn.topic.map(|t| &TOPICS[t]);
            let mut compact = Vec::new();
            if let Some((function_id, name, arg)) = topic.and_then(|t| t.function) {
                let start = self.at(turn.user_span.1 + 50);
                let duration = 200
                    + rng.below(if topic.is_some_and(|t| t.slow) {
                        5000
                    } else {
                        800
                    });
                let value = format!("{}-{}", arg.replace('_', "-"), rng.hex(6));
                let is_handoff = name == "transfer_call";
                let handoff = self
                    .handoff
                    .filter(|_| is_handoff)
                    .map(|(_, reason)| json!({"reason": reason, "type": "transfer"}));
                let utterance = rng.chance(0.3).then(|| turn.agent_response.clone());
                compact.push(json!({
                    "arguments": {arg: value},
                    "duration": duration,
                    "function_id": function_id,
                    "name": name,
                    "utterance": utterance.clone().unwrap_or_default(),
                }));
                let state_changes = rng
                    .chance(0.5)
                    .then(|| json!({"added": {arg: value}, "removed": [], "updated": {}}));
                let event = json!({
                    "id": rng.uuid(),
                    "conversation_id": self.id,
                    "turn_id": turn_id,
                    "function_id": function_id,
                    "function_version": null,
                    "name": name,
                    "arguments": {arg: value},
                    "start_time": start.rfc1123(),
                    "duration": duration,
                    "content": null,
                    "error": null,
                    "handoff": handoff,
                    "hangup": if is_handoff { Value::Bool(true) } else { Value::Null },
                    "llm_request_id": rng.chance(0.5).then(|| rng.uuid()),
                    "logs": null,
                    "state_changes": state_changes,
                    "transition": null,
                    "utterance": utterance,
                    "variant_id_change": null,
                });
                events.insert(k.to_string(), Value::Array(vec![event]));
            }
            let reviews: Vec<Value> = annotations
                .iter()
                .filter(|a| a.turn_id == k as u64)
                .map(|a| json!({"role": a.role, "annotation_type": a.annotation_type}))
                .collect();
            let user_url = if self.has_recording && k > 0 {
                format!("conversations/{}/turns/{k}/audio", self.id)
            } else {
                String::new()
            };
            turns.push(json!({
                "turn_id": turn_id,
                "user_input": turn.user_input,
                "user_input_datetime": self.at(turn.user_span.0).iso_offset(),
                "user_input_dtmf": "",
                "user_input_dtmf_finish_key": "",
                "user_input_audio_url": user_url,
                "agent_response": turn.agent_response,
                "agent_response_datetime": self.at(turn.agent_span.0).iso_offset(),
                "asr_lang_code": lang,
                "tts_lang_code": lang,
                "translated_user_input": turn.user_input,
                "english_agent_response": turn.agent_response,
                "barge_in": turn.barge_in,
                "latency": {
                    "label": null,
                    "perceived_latency": (turn.agent_span.0.saturating_sub(turn.user_span.1)) as f64 / 1000.0 + rng.unit(),
                    "perceived_latency_percentile_1d": null,
                },
                "llm_requests": [],
                "metadata": {
                    "asr_corrected_user_input": turn.user_input,
                    "current_node": topic.map_or(if k == 0 { "start" } else { "small_talk" }, |t| t.node),
                    "entities": [],
                    "function_events": compact,
                    "retrieved_topics": topic.map(|t| vec![t.name]).unwrap_or_default(),
                    "safety": {"filters_triggered": {"provider": "azure"}},
                    "top_transcripts": if k == 0 { json!([]) } else { json!([{"intents": [], "text": turn.user_input}]) },
                },
                "reviews": reviews,
                "entities": null,
                "intents": null,
                "is_ood": null,
                "is_silence": null,
            }));
        }
        let end = self.at(self.total_duration * 1000).iso_naive();
        let mut metrics = Map::new();
        metrics.insert(
            "CALL_DURATION".into(),
            json!([{"timestamp": end, "value": self.total_duration.to_string()}]),
        );
        metrics.insert(
            "TOTAL_AGENT_TURNS".into(),
            json!([{"timestamp": end, "value": self.turns.len().to_string()}]),
        );
        if let Some((_, reason)) = self.handoff {
            metrics.insert(
                "HANDOFF_REASON".into(),
                json!([{"timestamp": end, "value": reason}]),
            );
        }
        if let Some(v) = self.variant {
            metrics.insert(
                "VARIANT_ID".into(),
                json!([{"timestamp": self.created.iso_naive(), "value": v}]),
            );
        }
        obj.insert("turns".into(), Value::Array(turns));
        obj.insert("metrics".into(), Value::Object(metrics));
        obj.insert("functionEvents".into(), Value::Object(events));
        Value::Object(obj)
    }
}

/// A turn as the v3 listing sends it.
#[derive(Debug, Clone, Serialize)]
pub struct V3Turn<'a> {
    user_input: &'a str,
    user_input_dtmf: &'static str,
    user_input_datetime: String,
    agent_response: &'a str,
    agent_response_datetime: String,
    translated_user_input: &'a str,
    english_agent_response: &'a str,
    intents: Vec<&'static str>,
    entities: [(); 0],
    is_ood: bool,
    is_silence: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency: Option<f64>,
}

/// The custom metrics of a v3 conversation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct V3Metrics {
    call_duration: String,
    total_agent_turns: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    handoff_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<Vec<&'static str>>,
}

/// The dialogue state of a v3 conversation.
#[derive(Debug, Clone, Serialize)]
struct V3State {
    last_node: &'static str,
    topics: Vec<&'static str>,
}

/// A conversation as the v3 listing sends it: `ConversationSummaryResponse`, snake_case, turns
/// inline, empty strings rather than nulls.
#[derive(Debug, Clone, Serialize)]
pub struct V3Conversation<'a> {
    id: &'a str,
    account_id: &'a str,
    project_id: &'a str,
    variant_id: String,
    variant_name: &'static str,
    environment: &'static str,
    started_at: String,
    channel: &'static str,
    from_number: &'a str,
    to_number: &'a str,
    in_progress: bool,
    num_turns: usize,
    total_duration: u64,
    polyai_duration: u64,
    handoff: bool,
    handoff_reason: &'static str,
    handoff_destination: &'static str,
    num_silences: usize,
    num_ood: u64,
    metrics: V3Metrics,
    state: V3State,
    turns: Vec<V3Turn<'a>>,
}

impl Conversation {
    /// The v3 listing's `ConversationSummaryResponse`; each turn carries `latency` (seconds) only
    /// with `include_latency`.
    pub fn v3<'a>(
        &'a self,
        project_id: &'a str,
        account_id: &'a str,
        include_latency: bool,
    ) -> V3Conversation<'a> {
        let turns: Vec<V3Turn<'a>> = self
            .turns
            .iter()
            .enumerate()
            .map(|(k, turn)| V3Turn {
                user_input: &turn.user_input,
                user_input_dtmf: "",
                user_input_datetime: self.at(turn.user_span.0).iso_offset(),
                agent_response: &turn.agent_response,
                agent_response_datetime: self.at(turn.agent_span.0).iso_offset(),
                translated_user_input: &turn.user_input,
                english_agent_response: &turn.agent_response,
                intents: turn.topic.map(|t| vec![TOPICS[t].node]).unwrap_or_default(),
                entities: [],
                is_ood: false,
                is_silence: k > 0 && turn.user_input.is_empty(),
                latency: include_latency
                    .then(|| turn.agent_span.0.saturating_sub(turn.user_span.1) as f64 / 1000.0),
            })
            .collect();
        let topics: Vec<&'static str> = self
            .turns
            .iter()
            .filter_map(|t| t.topic.map(|t| TOPICS[t].name))
            .collect();
        let last_node = self
            .turns
            .iter()
            .rev()
            .find_map(|t| t.topic.map(|t| TOPICS[t].node))
            .unwrap_or("start");
        V3Conversation {
            id: &self.id,
            account_id,
            project_id,
            variant_id: self.variant.map(crate::v3::variant_id).unwrap_or_default(),
            variant_name: self.variant.unwrap_or_default(),
            environment: self.client_env,
            started_at: self.created.iso_offset(),
            channel: self.channel,
            from_number: &self.from_number,
            to_number: &self.to_number,
            in_progress: self.in_progress,
            num_turns: self.turns.len(),
            total_duration: self.total_duration,
            polyai_duration: self.polyai_duration,
            handoff: self.handoff.is_some(),
            handoff_reason: self.handoff.map(|h| h.1).unwrap_or_default(),
            handoff_destination: self.handoff.map(|h| h.0).unwrap_or_default(),
            num_silences: turns.iter().filter(|t| t.is_silence).count(),
            num_ood: 0,
            metrics: V3Metrics {
                call_duration: self.total_duration.to_string(),
                total_agent_turns: self.turns.len().to_string(),
                handoff_reason: self.handoff.map(|h| h.1),
                topic: (topics.len() > 1).then(|| topics.clone()),
            },
            state: V3State { last_node, topics },
            turns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_strangers() {
        let ds = Dataset::new(&MockConfig::default().conversations(1_000_000));
        for i in [0, 1, 999_999] {
            let id = ds.conversation_id(1, i);
            assert_eq!(id.len(), 34);
            assert_eq!(ds.parse_conversation_id(1, &id), Some(i));
            assert_eq!(ds.parse_conversation_id(0, &id), None);
        }
        assert_eq!(
            ds.parse_conversation_id(0, "CA00000000000000000000000000000000"),
            None
        );
        assert_eq!(
            ds.parse_conversation_id(0, &ds.conversation_id(0, 1_000_000)),
            None
        );
    }

    #[test]
    fn newest_first() {
        let ds = Dataset::new(&MockConfig::default());
        let a = ds.conversation(0, 5);
        let b = ds.conversation(0, 6);
        assert!(a.created > b.created);
    }
}
