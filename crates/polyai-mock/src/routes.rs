//! The HTTP surface: the seven operations, the middleware around them and the fallbacks.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::audio::{AudioPlan, Direction};
use crate::auth::{authenticate, authorize_agent};
use crate::chat::{CLIENT_ENVS, ChatSessions, CreateParams, SendParams};
use crate::config::{ApiKey, MockConfig};
use crate::data::{Conversation, Dataset, Summary};
use crate::disagree::DataSlots;
use crate::errors::{ApiError, CORRELATION_ID, codes, fresh_correlation_id, json_response};
use crate::faults::{Faults, apply_body_fault};
use crate::state::{Annotation, Store};

/// Request header carrying the caller's correlation id; echoed in the response and in `error_id`.
pub const CORRELATION_HEADER: &str = "x-polyai-correlation-id";

/// Longest note accepted, in characters.
const MAX_NOTE_CHARS: usize = 10_000;
/// Most annotations accepted in one request.
const MAX_ANNOTATIONS: usize = 1_000;

/// Shared state of all handlers.
#[derive(Debug)]
pub(crate) struct AppState {
    pub config: MockConfig,
    /// Sampling walks started so far (each gets its own shuffle).
    pub samples: std::sync::atomic::AtomicU64,
    /// Where the Data API listing's positions come from while it disagrees with v3 (computed
    /// when first needed, again when conversations arrive or the disagreement changes).
    pub data_slots: std::sync::Mutex<Option<DataSlots>>,
    pub data: Dataset,
    pub store: Store,
    pub chats: ChatSessions,
    pub faults: Faults,
}

type Shared = State<Arc<AppState>>;

/// Builds the router with all middleware.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route(
            "/v1/agents/{agent_id}/conversations",
            get(list_conversations),
        )
        .route(
            "/v1/agents/{agent_id}/conversations/{conversation_id}",
            get(get_conversation),
        )
        .route(
            "/v1/agents/{agent_id}/conversations/{conversation_id}/audio",
            get(get_audio),
        )
        .route(
            "/v1/agents/{agent_id}/conversations/{conversation_id}/annotation",
            post(mutate::<Annotations>),
        )
        .route(
            "/v1/agents/{agent_id}/conversations/{conversation_id}/note",
            post(mutate::<Note>),
        )
        .route("/v1/agents/{agent_id}/debug-chat", post(create_debug_chat))
        .route(
            "/v3/{account_id}/{project_id}/conversations",
            get(crate::v3::list_conversations_v3),
        )
        .route(
            "/v1/agents/{agent_id}/debug-chat/{conversation_id}",
            post(send_debug_chat_message),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), fault_layer))
        .layer(middleware::from_fn(gateway_layer))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        codes::NOT_FOUND,
        "No route matches this path.",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::METHOD_NOT_ALLOWED,
        "Method not allowed for this path.",
    )
}

fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .map_or_else(fresh_correlation_id, str::to_string)
}

/// Outermost layer: correlation id, and the headers PolyAI's Kong gateway adds.
async fn gateway_layer(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = correlation_id(req.headers());
    let mut resp = CORRELATION_ID.scope(id.clone(), next.run(req)).await;
    let elapsed = started.elapsed().as_millis().to_string();
    let h = resp.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    put(CORRELATION_HEADER, &id);
    put(
        "x-kong-request-id",
        &fresh_correlation_id().replace('-', ""),
    );
    put("x-kong-upstream-latency", &elapsed);
    put("x-kong-proxy-latency", "0");
    put("via", "1.1 kong/3.12.0.4-enterprise-edition");
    put("access-control-allow-origin", "*");
    put("server", "gunicorn");
    resp
}

/// Fault injection, inside the gateway layer so injected errors still carry the correlation id.
async fn fault_layer(State(state): Shared, req: Request, next: Next) -> Response {
    let decision = state.faults.decide();
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    if let Some(early) = decision.early {
        return apply_body_fault(early, decision.body);
    }
    let resp = next.run(req).await;
    apply_body_fault(resp, decision.body)
}

// ---------------------------------------------------------------------------------------------
// Extraction helpers: every rejection becomes a 400 envelope.

pub(crate) fn path_error(e: PathRejection) -> ApiError {
    ApiError::validation(format!("Invalid path parameter: {}", e.body_text()))
}

pub(crate) fn query_pairs(
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::validation(format!("Invalid query string: {}", e.body_text())))
}

fn query_value<'q>(pairs: &'q [(String, String)], name: &str) -> Option<&'q str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A non-negative integer query parameter; values past `u64::MAX` saturate (the spec sets no maximum).
fn int_param(
    pairs: &[(String, String)],
    name: &str,
    default: u64,
    min: u64,
) -> Result<u64, ApiError> {
    let Some(raw) = query_value(pairs, name) else {
        return Ok(default);
    };
    let digits = raw.trim();
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    let value = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<u64>().unwrap_or(u64::MAX)
    } else if digits
        .strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::validation(format!(
            "Query parameter {name:?} must be at least {min}, got {raw}."
        )));
    } else {
        return Err(ApiError::validation(format!(
            "Query parameter {name:?} must be an integer, got {raw:?}."
        )));
    };
    if value < min {
        return Err(ApiError::validation(format!(
            "Query parameter {name:?} must be at least {min}, got {value}."
        )));
    }
    Ok(value)
}

fn json_body(
    body: Result<Bytes, BytesRejection>,
    error: fn(String) -> ApiError,
) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|e| error(format!("Invalid request body: {}", e.body_text())))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| error(format!("Request body is not valid JSON: {e}")))?;
    match value {
        Value::Object(m) => Ok(m),
        other => Err(error(format!(
            "Request body must be a JSON object, got {}.",
            kind(&other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An optional string field (absent → `None`; the spec declares none of them nullable).
fn opt_string(
    body: &Map<String, Value>,
    field: &str,
    error: fn(String) -> ApiError,
) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(error(format!(
            "{field} must be a string, got {}.",
            kind(other)
        ))),
    }
}

fn opt_object(
    body: &Map<String, Value>,
    field: &str,
    error: fn(String) -> ApiError,
) -> Result<(), ApiError> {
    match body.get(field) {
        None | Some(Value::Object(_)) => Ok(()),
        Some(other) => Err(error(format!(
            "{field} must be an object, got {}.",
            kind(other)
        ))),
    }
}

fn client_env(body: &Map<String, Value>) -> Result<String, ApiError> {
    let env = opt_string(body, "clientEnv", ApiError::schema)?
        .ok_or_else(|| ApiError::schema("clientEnv is required."))?;
    if CLIENT_ENVS.contains(&env.as_str()) {
        Ok(env)
    } else {
        Err(ApiError::schema(format!(
            "clientEnv must be one of sandbox, pre-release, live; got {env:?}."
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Access checks shared by the handlers.

pub(crate) struct Access<'s> {
    pub(crate) agent: usize,
    pub(crate) agent_id: &'s str,
    pub(crate) key: &'s ApiKey,
}

/// How an operation answers an agent that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnknownAgent {
    /// 404 `PROJECT_NOT_FOUND` (operations whose spec declares a 404).
    NotFound,
    /// 403 `ACCOUNT_INSUFFICIENT_PERMISSIONS` (list and create-chat, whose spec declares no 404).
    Forbidden,
}

pub(crate) fn access<'s>(
    state: &'s AppState,
    headers: &HeaderMap,
    agent_id: &str,
    unknown: UnknownAgent,
) -> Result<Access<'s>, ApiError> {
    let key = authenticate(headers, &state.config.keys, &state.config.region)?;
    authorize_agent(key, agent_id)?;
    let agent = state
        .data
        .agent_index(agent_id)
        .ok_or_else(|| match unknown {
            UnknownAgent::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                codes::PROJECT_NOT_FOUND,
                format!("Project {agent_id:?} not found."),
            ),
            UnknownAgent::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                codes::ACCOUNT_INSUFFICIENT_PERMISSIONS,
                format!("The API key has no access to project {agent_id:?}."),
            ),
        })?;
    Ok(Access {
        agent,
        agent_id: &state.data.agents[agent].id,
        key,
    })
}

/// Authentication, agent and conversation lookup shared by the per-conversation operations.
fn target<'s>(
    state: &'s AppState,
    headers: &HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(Access<'s>, Conversation), ApiError> {
    let Path((agent_id, conversation_id)) = path.map_err(path_error)?;
    let access = access(state, headers, &agent_id, UnknownAgent::NotFound)?;
    let index = state
        .data
        .parse_conversation_id(access.agent, &conversation_id)
        .ok_or_else(ApiError::conversation_not_found)?;
    let conversation = state.data.conversation(access.agent, index);
    Ok((access, conversation))
}

// ---------------------------------------------------------------------------------------------
// Handlers.

async fn list_conversations(
    State(state): Shared,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(agent_id) = path.map_err(path_error)?;
    let access = access(&state, &headers, &agent_id, UnknownAgent::Forbidden)?;
    let pairs = query_pairs(query)?;
    let limit = int_param(&pairs, "limit", 50, 1)?;
    let offset = int_param(&pairs, "offset", 0, 0)?;
    let arrived = state.data.arrived();
    let page = limit.min(state.config.max_page);
    let (positions, total) = data_api_page(&state, access.agent, arrived, offset, page);
    let conversations: Vec<Conversation> = positions
        .into_iter()
        .map(|p| {
            let index = state.data.index_at(p, arrived);
            state.data.conversation(access.agent, index)
        })
        .collect();
    let notes: Vec<Option<String>> = conversations
        .iter()
        .map(|c| state.store.note(&c.id))
        .collect();
    let page = ListPage {
        conversations: conversations
            .iter()
            .zip(&notes)
            .map(|(c, note)| c.summary(access.agent_id, &state.data.account_id, note.as_deref()))
            .collect(),
        count: total,
        limit: page,
        offset,
    };
    Ok(json_response(StatusCode::OK, &page))
}

/// The listing positions of the Data API page at `offset` (at most `limit`) and the listing's
/// `count`: positions `offset..` as they are, or, while the listings disagree
/// ([`crate::disagree`]), the slots left after dropping and duplicating conversations.
fn data_api_page(
    state: &AppState,
    agent: usize,
    arrived: u64,
    offset: u64,
    limit: u64,
) -> (Vec<u64>, u64) {
    let positions = state.data.total(arrived);
    let disagree = state.faults.disagreement();
    if !disagree.changes_data() {
        let start = offset.min(positions);
        let end = start.saturating_add(limit).min(positions);
        return ((start..end).collect(), positions);
    }
    let seed = state.config.seed;
    let index_at = |p: u64| state.data.index_at(p, arrived);
    let mut cached = state.data_slots.lock().unwrap_or_else(|e| e.into_inner());
    if !cached
        .as_ref()
        .is_some_and(|s| s.fits(&disagree, agent, arrived))
    {
        *cached = Some(DataSlots::compute(
            &disagree, seed, agent, arrived, positions, index_at,
        ));
    }
    match cached.as_ref() {
        Some(slots) => (
            slots.page(&disagree, seed, positions, index_at, offset, limit),
            slots.total,
        ),
        None => (Vec::new(), 0),
    }
}

/// `GetConversationsResponse`.
#[derive(Serialize)]
struct ListPage<'a> {
    conversations: Vec<Summary<'a>>,
    count: u64,
    limit: u64,
    offset: u64,
}

async fn get_conversation(
    State(state): Shared,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (access, c) = target(&state, &headers, path)?;
    let note = state.store.note(&c.id);
    let annotations = state.store.annotations(&c.id);
    let mut detail = c.detail_json(
        access.agent_id,
        &state.data.account_id,
        note.as_deref(),
        &annotations,
    );
    if state.faults.detail_ids_upper()
        && let Some(hex) = c.id.strip_prefix("CA")
    {
        detail["conversationId"] = Value::String(format!("CA{}", hex.to_ascii_uppercase()));
    }
    Ok(json_response(StatusCode::OK, &detail))
}

async fn get_audio(
    State(state): Shared,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (access, c) = target(&state, &headers, path)?;
    let pairs = query_pairs(query)?;
    let direction = match query_value(&pairs, "direction") {
        None => Direction::Combined,
        Some(raw) => raw.parse().map_err(|()| {
            ApiError::validation(format!(
                "direction must be one of combined, user, agent; got {raw:?}."
            ))
        })?,
    };
    let redacted = match query_value(&pairs, "redacted") {
        None => false,
        Some(raw) if raw.eq_ignore_ascii_case("true") => true,
        Some(raw) if raw.eq_ignore_ascii_case("false") => false,
        Some(raw) => {
            return Err(ApiError::validation(format!(
                "redacted must be true or false; got {raw:?}."
            )));
        }
    };
    if !c.has_recording {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            codes::CONVERSATIONS_RECORDING_NOT_FOUND,
            "Audio recording not found for this conversation.",
        ));
    }
    let plan = AudioPlan::new(
        &c,
        state.config.sample_rate,
        direction,
        redacted || !access.key.pii_access,
        state.config.audio_bytes_override,
    );
    let len = plan.content_length();
    let mut resp = Response::new(Body::from_stream(plan.stream()));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}.wav\"", c.id)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn success(status: StatusCode) -> Response {
    json_response(status, &json!({"success": true}))
}

fn parse_annotations(body: &Map<String, Value>, turns: usize) -> Result<Vec<Annotation>, ApiError> {
    let items = match body.get("annotations") {
        None | Some(Value::Null) => return Err(ApiError::validation("annotations is required.")),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "annotations must be an array, got {}.",
                kind(other)
            )));
        }
    };
    if items.is_empty() {
        return Err(ApiError::validation(
            "annotations must contain at least one item.",
        ));
    }
    if items.len() > MAX_ANNOTATIONS {
        return Err(ApiError::validation(format!(
            "annotations may contain at most {MAX_ANNOTATIONS} items."
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let bad = |what: String| ApiError::validation(format!("annotations[{i}]: {what}"));
            let obj = item
                .as_object()
                .ok_or_else(|| bad(format!("must be an object, got {}.", kind(item))))?;
            let turn_id = match obj.get("turnId") {
                None | Some(Value::Null) => return Err(bad("turnId is required.".into())),
                Some(Value::Number(n)) => n
                    .as_u64()
                    .ok_or_else(|| bad(format!("turnId must be a non-negative integer, got {n}.")))?,
                Some(other) => return Err(bad(format!("turnId must be an integer, got {}.", kind(other)))),
            };
            if turn_id >= turns as u64 {
                return Err(bad(format!(
                    "turnId {turn_id} is out of range: the conversation has {turns} turns (0-based)."
                )));
            }
            let role = match obj.get("role") {
                Some(Value::String(r)) if r == "user" || r == "agent" => r.clone(),
                Some(other) => return Err(bad(format!("role must be \"user\" or \"agent\", got {other}."))),
                None => return Err(bad("role is required.".into())),
            };
            let annotation_type = match obj.get("annotationType") {
                Some(Value::String(t))
                    if ["missing_topic", "wrong_transcript", "wrong_info"].contains(&t.as_str()) =>
                {
                    t.clone()
                }
                Some(other) => {
                    return Err(bad(format!(
                        "annotationType must be one of missing_topic, wrong_transcript, wrong_info; got {other}."
                    )));
                }
                None => return Err(bad("annotationType is required.".into())),
            };
            Ok(Annotation {
                turn_id,
                role,
                annotation_type,
            })
        })
        .collect()
}

fn storage_error(e: crate::state::StateError) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        codes::INTERNAL_ERROR,
        format!("Could not save state: {e}"),
    )
}

/// A per-conversation mutation: validates the JSON body and stores what it carries.
trait Mutation {
    fn apply(state: &AppState, c: &Conversation, body: &Map<String, Value>)
    -> Result<(), ApiError>;
}

/// `addAnnotations`.
enum Annotations {}

impl Mutation for Annotations {
    fn apply(
        state: &AppState,
        c: &Conversation,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let items = parse_annotations(body, c.turns.len())?;
        state
            .store
            .add_annotations(&c.id, items)
            .map_err(storage_error)
    }
}

/// `upsertNote`.
enum Note {}

impl Mutation for Note {
    fn apply(
        state: &AppState,
        c: &Conversation,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let note = opt_string(body, "note", ApiError::validation)?
            .ok_or_else(|| ApiError::validation("note is required."))?;
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(ApiError::validation(format!(
                "note may be at most {MAX_NOTE_CHARS} characters."
            )));
        }
        state.store.set_note(&c.id, note).map_err(storage_error)
    }
}

/// The handler of the per-conversation mutations: looks the conversation up, reads the JSON
/// body, applies `M` and answers `201 {"success": true}`.
async fn mutate<M: Mutation>(
    State(state): Shared,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (_, c) = target(&state, &headers, path)?;
    let body = json_body(body, ApiError::validation)?;
    M::apply(&state, &c, &body)?;
    Ok(success(StatusCode::CREATED))
}

async fn create_debug_chat(
    State(state): Shared,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(agent_id) = path.map_err(path_error)?;
    let access = access(&state, &headers, &agent_id, UnknownAgent::Forbidden)?;
    let body = json_body(body, ApiError::schema)?;
    client_env(&body)?;
    let conversation_id = opt_string(&body, "conversationId", ApiError::schema)?;
    if let Some(id) = &conversation_id
        && (id.is_empty() || id.len() > 200 || id.chars().any(|c| c.is_control() || c == '/'))
    {
        return Err(ApiError::schema(
            "conversationId must be 1 to 200 characters without '/' or control characters.",
        ));
    }
    let asr_lang_code = opt_string(&body, "asrLangCode", ApiError::schema)?;
    let tts_lang_code = opt_string(&body, "ttsLangCode", ApiError::schema)?;
    opt_string(&body, "channel", ApiError::schema)?;
    opt_object(&body, "integrationAttributes", ApiError::schema)?;
    let agent = &state.data.agents[access.agent];
    let variant_id = opt_string(&body, "variantId", ApiError::schema)?;
    // Every agent also has the candidate variant, which no seeded conversation ran on.
    if let Some(variant) = &variant_id
        && !agent.variants.contains(&variant.as_str())
        && variant != crate::script::CANDIDATE_VARIANT
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::CHAT_DRAFT_NOT_EXIST,
            "The draft you are attempting to chat with does not exist.",
        ));
    }
    let reply = state.chats.create(
        access.agent,
        agent.business,
        CreateParams {
            conversation_id,
            asr_lang_code,
            tts_lang_code,
            variant_id,
        },
    )?;
    Ok(json_response(StatusCode::CREATED, &reply))
}

async fn send_debug_chat_message(
    State(state): Shared,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path((agent_id, conversation_id)) = path.map_err(path_error)?;
    let access = access(&state, &headers, &agent_id, UnknownAgent::NotFound)?;
    let body = json_body(body, ApiError::schema)?;
    client_env(&body)?;
    let message = opt_string(&body, "message", ApiError::schema)?.unwrap_or_default();
    let asr_lang_code = opt_string(&body, "asrLangCode", ApiError::schema)?;
    let tts_lang_code = opt_string(&body, "ttsLangCode", ApiError::schema)?;
    opt_object(&body, "metadata", ApiError::schema)?;
    let reply = state.chats.send(
        access.agent,
        &conversation_id,
        SendParams {
            message,
            asr_lang_code,
            tts_lang_code,
        },
    )?;
    Ok(json_response(StatusCode::OK, &reply))
}
