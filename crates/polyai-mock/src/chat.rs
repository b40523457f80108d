//! Debug-chat sessions and the small scripted agent that answers them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::errors::{ApiError, codes};
use crate::prng::{Rng, hash};
use crate::script::{self, Answer, Behaviour};
use crate::time::Timestamp;

/// Sessions kept at most; the idlest expired ones are dropped first when full.
const MAX_SESSIONS: usize = 10_000;

/// The `clientEnv` values the API knows.
pub const CLIENT_ENVS: &[&str] = &["sandbox", "pre-release", "live"];

#[derive(Debug)]
struct Session {
    agent: usize,
    last_active: Instant,
    ended: bool,
    turns: u64,
    state: Map<String, Value>,
    node_trace: Vec<String>,
    behaviour: Behaviour,
    asr: String,
    tts: String,
}

/// Parameters of a create request, already validated.
#[derive(Debug, Clone, Default)]
pub struct CreateParams {
    /// Caller-chosen session id.
    pub conversation_id: Option<String>,
    /// Input language.
    pub asr_lang_code: Option<String>,
    /// Output language.
    pub tts_lang_code: Option<String>,
    /// The variant asked for (already checked to be one the agent has): see
    /// [`script::Behaviour::of`].
    pub variant_id: Option<String>,
}

/// Parameters of a send request, already validated.
#[derive(Debug, Clone, Default)]
pub struct SendParams {
    /// The user's utterance.
    pub message: String,
    /// Input language override.
    pub asr_lang_code: Option<String>,
    /// Output language override.
    pub tts_lang_code: Option<String>,
}

/// All live debug-chat sessions of a server.
#[derive(Debug)]
pub struct ChatSessions {
    sessions: Mutex<HashMap<String, Session>>,
    counter: AtomicU64,
    seed: u64,
    timeout: Duration,
}

fn function_event(id: &str, answer: &Answer, slow: bool, rng: &mut Rng) -> Option<Value> {
    let (function_id, name, arg) = answer.function?;
    let value = match answer.handoff {
        Some(destination) => destination.to_string(),
        None => format!("{}-{}", arg.replace('_', "-"), rng.hex(6)),
    };
    let handoff = answer.handoff.is_some();
    let duration = 150.0 + rng.below(if slow { 4000 } else { 600 }) as f64;
    Some(json!({
        "id": "",
        "conversation_id": id,
        "turn_id": null,
        "function_id": function_id,
        "function_version": "",
        "name": name,
        "arguments": {arg: value},
        "start_time": Timestamp::from_secs(1_780_495_200).rfc1123(),
        "duration": duration,
        "content": null,
        "error": null,
        "handoff": if handoff { json!({"reason": "CALLER_REQUESTED_HUMAN", "type": "transfer"}) } else { Value::Null },
        "hangup": handoff,
        "llm_request_id": null,
        "logs": null,
        "state_changes": {"added": {arg: value}, "removed": [], "updated": {}},
        "transition": null,
        "utterance": null,
        "variant_id_change": null,
    }))
}

impl ChatSessions {
    /// An empty session table; `seed` drives ids and answers, `timeout` is the idle limit.
    pub fn new(seed: u64, timeout: Duration) -> Self {
        ChatSessions {
            sessions: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            seed,
            timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of sessions held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts a session for agent `agent` and returns the greeting (`201` body). The session
    /// answers as [`Behaviour::of`] its variant says.
    pub fn create(
        &self,
        agent: usize,
        business: &str,
        params: CreateParams,
    ) -> Result<Value, ApiError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = match params.conversation_id {
            Some(id) => id,
            None => {
                let mut rng = Rng::new(&[self.seed, 0xC4A7, n]);
                format!("AS_CHAT_{}", rng.uuid())
            }
        };
        let mut sessions = self.lock();
        if sessions.contains_key(&id) {
            return Err(ApiError::schema(format!(
                "conversationId {id:?} is already in use"
            )));
        }
        if sessions.len() >= MAX_SESSIONS {
            let timeout = self.timeout;
            sessions.retain(|_, s| !s.ended && s.last_active.elapsed() <= timeout);
            if sessions.len() >= MAX_SESSIONS {
                let oldest = sessions
                    .iter()
                    .min_by_key(|(_, s)| s.last_active)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    sessions.remove(&k);
                }
            }
        }
        let session = Session {
            agent,
            last_active: Instant::now(),
            ended: false,
            turns: 0,
            state: Map::new(),
            node_trace: vec!["start".to_string()],
            behaviour: Behaviour::of(params.variant_id.as_deref()),
            asr: params.asr_lang_code.unwrap_or_else(|| "en-US".into()),
            tts: params.tts_lang_code.unwrap_or_else(|| "en-US".into()),
        };
        let body = json!({
            "conversationId": id,
            "userInput": "",
            "response": script::greeting(business),
            "metadata": {
                "state": {},
                "currentNode": "start",
                "nodeTrace": session.node_trace,
                "metrics": {},
                "functionEvents": [],
                "handoffDestination": "",
                "retrievedTopics": [],
                "retrievedSources": [],
                "citedTopic": "",
                "inFlow": null,
                "inStep": null,
                "llmRequests": [],
                "asrLangCode": session.asr,
                "ttsLangCode": session.tts,
            },
            "conversationEnded": false,
            "delayedResponse": false,
        });
        sessions.insert(id, session);
        Ok(body)
    }

    /// Sends one user message into session `id` of agent `agent` and returns the reply (`200` body).
    pub fn send(&self, agent: usize, id: &str, params: SendParams) -> Result<Value, ApiError> {
        let mut sessions = self.lock();
        let s = sessions
            .get_mut(id)
            .filter(|s| s.agent == agent)
            .ok_or_else(ApiError::conversation_not_found)?;
        if s.ended {
            return Err(ApiError::new(
                StatusCode::GONE,
                codes::CHAT_CONVERSATION_ENDED,
                "Chat conversation ended",
            ));
        }
        if s.last_active.elapsed() > self.timeout {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::CHAT_TIMEOUT,
                "Chat session exceeded the timeout limit.",
            ));
        }
        s.last_active = Instant::now();
        s.turns += 1;
        if let Some(a) = params.asr_lang_code {
            s.asr = a;
        }
        if let Some(t) = params.tts_lang_code {
            s.tts = t;
        }
        let mut rng = Rng::new(&[
            hash(&[self.seed, 0x5E4D]),
            hash(&[id.len() as u64]),
            s.turns,
        ]);
        for b in id.bytes() {
            rng = Rng::new(&[rng.next_u64(), u64::from(b)]);
        }
        let message = params.message;
        let answer = script::answer(
            script::answer_key(self.seed, agent),
            s.turns,
            &message,
            s.behaviour,
        );
        let topic = answer.topic.and_then(|t| script::TOPICS.get(t));
        let mut events = Vec::new();
        let mut retrieved: Vec<&str> = Vec::new();
        let mut cited = "";
        let mut delayed = false;
        let handoff_destination = answer.handoff.unwrap_or("");
        if answer.ends {
            s.ended = true;
        }
        if let Some(topic) = topic {
            retrieved.push(topic.name);
            cited = topic.name;
            if let Some(ev) = function_event(id, &answer, topic.slow, &mut rng) {
                if let Some((_, _, arg)) = answer.function {
                    let v = ev["arguments"][arg].clone();
                    s.state.insert(arg.to_string(), v);
                }
                events.push(ev);
            }
            delayed = topic.slow && rng.chance(0.5);
            s.state
                .insert("last_topic".into(), Value::String(topic.name.into()));
        }
        let (response, node) = (answer.text, answer.node);
        s.node_trace.push(node.to_string());
        s.state.insert("turn_count".into(), Value::from(s.turns));
        let mut metrics = Map::new();
        if !cited.is_empty() {
            metrics.insert("TOPIC".into(), Value::String(cited.into()));
        }
        Ok(json!({
            "conversationId": id,
            "userInput": message,
            "response": response,
            "metadata": {
                "state": s.state,
                "currentNode": node,
                "nodeTrace": s.node_trace,
                "metrics": metrics,
                "functionEvents": events,
                "handoffDestination": handoff_destination,
                "retrievedTopics": retrieved,
                "retrievedSources": retrieved.iter().map(|t| format!("kb://topics/{}", t.to_lowercase().replace(' ', "-"))).collect::<Vec<_>>(),
                "citedTopic": cited,
                "inFlow": null,
                "inStep": null,
                "llmRequests": [],
                "asrLangCode": s.asr,
                "ttsLangCode": s.tts,
            },
            "conversationEnded": s.ended,
            "delayedResponse": delayed,
        }))
    }
}
