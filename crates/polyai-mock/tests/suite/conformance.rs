//! Conformance: walks every operation of the project's normalized OpenAPI document, on success and
//! error paths, and validates each status, content type and JSON body against what the document
//! declares for it (OpenAPI 3.0 `nullable` is turned into JSON Schema's `null` type first).

use std::collections::BTreeSet;
use std::time::Duration;

use polyai_mock::{ApiKey, MockConfig, SANDBOX_KEY};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Env, start};

/// Answers the mock gives that the document does not declare, each with its reason. Their bodies are
/// still checked against the `Error` schema.
const UNDECLARED: &[(&str, u16, &str)] = &[(
    "send_debug_chat_message",
    410,
    "the wire answers 410 CHAT_CONVERSATION_ENDED once the agent ended the chat",
)];

struct Spec {
    doc: Value,
}

/// Rewrites OpenAPI 3.0 `nullable: true` as JSON Schema, recursively.
fn convert_nullable(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(convert_nullable),
        Value::Object(map) => {
            for child in map.values_mut() {
                convert_nullable(child);
            }
            if map.remove("nullable") != Some(Value::Bool(true)) {
                return;
            }
            if let Some(Value::Array(options)) = map.get_mut("enum")
                && !options.contains(&Value::Null)
            {
                options.push(Value::Null);
            }
            match map.get("type").cloned() {
                Some(Value::String(t)) => {
                    map.insert("type".into(), json!([t, "null"]));
                }
                _ => {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                }
            }
        }
        _ => {}
    }
}

impl Spec {
    fn load() -> Spec {
        Spec::load_file("polyai-data.normalized.json")
    }

    fn load_file(name: &str) -> Spec {
        let dir = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).expect("manifest dir");
        let path = dir.join("../../openapi").join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut doc: Value = serde_json::from_str(&text).expect("spec is JSON");
        convert_nullable(&mut doc["components"]);
        Spec { doc }
    }

    fn operations(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for item in self.doc["paths"].as_object().expect("paths").values() {
            for (method, op) in item.as_object().expect("path item") {
                if method != "parameters" {
                    ids.push(op["operationId"].as_str().expect("operationId").to_string());
                }
            }
        }
        ids
    }

    fn operation(&self, id: &str) -> &Value {
        self.doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|item| item.as_object().expect("path item").values())
            .find(|op| op["operationId"] == id)
            .unwrap_or_else(|| panic!("operation {id} not in the spec"))
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v["$ref"].as_str() {
            Some(r) => self
                .doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling {r}")),
            None => v,
        }
    }

    fn validate(&self, schema: &Value, body: &Value) -> Result<(), String> {
        let mut root = json!({"components": self.doc["components"].clone()});
        root["allOf"] = json!([schema]);
        let validator = jsonschema::validator_for(&root).map_err(|e| format!("bad schema: {e}"))?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Checks one answer of operation `id`.
    fn check(&self, id: &str, status: u16, content_type: &str, body: &[u8]) -> Result<(), String> {
        let op = self.operation(id);
        let declared = op["responses"]
            .get(status.to_string())
            .map(|r| self.resolve(r));
        let Some(response) = declared else {
            if UNDECLARED.iter().any(|(o, s, _)| *o == id && *s == status) {
                let body: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
                return self.validate(&json!({"$ref": "#/components/schemas/Error"}), &body);
            }
            return Err(format!("status {status} is not declared"));
        };
        let Some(content) = response["content"].as_object() else {
            return Ok(());
        };
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let Some(entry) = content.get(media) else {
            return Err(format!(
                "content type {media:?} not declared ({:?})",
                content.keys().collect::<Vec<_>>()
            ));
        };
        if media == "application/json" {
            let body: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
            self.validate(&entry["schema"], &body)
        } else if media == "audio/wav" {
            body.starts_with(b"RIFF")
                .then_some(())
                .ok_or_else(|| "not a WAV".to_string())
        } else {
            Ok(())
        }
    }
}

struct Walker {
    spec: Spec,
    env: Env,
    seen: BTreeSet<(String, u16)>,
    failures: Vec<String>,
}

impl Walker {
    async fn call(
        &mut self,
        id: &str,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut req = self.env.client.request(method, self.env.url(path));
        if let Some(k) = key {
            req = req.header("X-API-KEY", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("sent");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = resp.bytes().await.expect("body");
        if let Err(e) = self.spec.check(id, status, &ct, &bytes) {
            self.failures.push(format!("{id} {path} → {status}: {e}"));
        }
        self.seen.insert((id.to_string(), status));
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}

#[tokio::test]
async fn every_answer_matches_the_normalized_spec() {
    let spec = Spec::load();
    let env = start(
        MockConfig::default()
            .agents(4)
            .key(ApiKey::new("scoped", "us").scoped_to(["PROJECT-ELSEWHERE"])),
    )
    .await;
    let agent = env.agent.clone();
    let k = Some(SANDBOX_KEY);
    let mut w = Walker {
        spec,
        env,
        seen: BTreeSet::new(),
        failures: Vec::new(),
    };
    let a = |rest: &str| format!("/v1/agents/{agent}{rest}");
    let (get, post) = (Method::GET, Method::POST);
    let c0 = w.env.conv(0);
    let rec = w.env.conv(w.env.find_conv(true));
    let norec = w.env.conv(w.env.find_conv(false));
    let chat = a("/debug-chat");
    let (_, send) = w.env.create_chat().await;
    let note = a(&format!("/conversations/{c0}/note"));
    let ann = a(&format!("/conversations/{c0}/annotation"));
    let good_ann =
        json!({"annotations": [{"turnId": 0, "role": "agent", "annotationType": "missing_topic"}]});
    let live = json!({"clientEnv": "live"});

    // One good request per operation, each also sent without a key (401) and with a key scoped to
    // another agent (403).
    let good = [
        (
            "list_conversations",
            &get,
            a("/conversations?limit=3&offset=10"),
            None,
        ),
        (
            "get_conversation",
            &get,
            a(&format!("/conversations/{c0}")),
            None,
        ),
        (
            "get_conversation_audio",
            &get,
            a(&format!("/conversations/{rec}/audio")),
            None,
        ),
        (
            "add_annotations",
            &post,
            ann.clone(),
            Some(good_ann.clone()),
        ),
        (
            "upsert_note",
            &post,
            note.clone(),
            Some(json!({"note": "n"})),
        ),
        ("create_debug_chat", &post, chat.clone(), Some(live.clone())),
        (
            "send_debug_chat_message",
            &post,
            send.clone(),
            Some(json!({"clientEnv": "live", "message": "hi"})),
        ),
    ];
    for (op, method, path, body) in &good {
        for key in [k, None, Some("scoped")] {
            w.call(op, (*method).clone(), path, key, body.clone()).await;
        }
    }
    // Success paths over varied data: every agent's full page, many details.
    for agent_id in w.env.server.agent_ids() {
        let path = format!("/v1/agents/{agent_id}/conversations?limit=200");
        w.call("list_conversations", get.clone(), &path, k, None)
            .await;
    }
    for i in 0..60 {
        let path = a(&format!("/conversations/{}", w.env.conv(i)));
        w.call("get_conversation", get.clone(), &path, k, None)
            .await;
    }
    // Error paths, audio variants, and reads after writes (notes and reviews).
    let cases = [
        (
            "list_conversations",
            &get,
            a("/conversations?limit=0"),
            None,
        ),
        (
            "list_conversations",
            &get,
            "/v1/agents/PROJECT-NOPE/conversations".to_string(),
            None,
        ),
        (
            "list_conversations",
            &get,
            a("/conversations?limit=1"),
            None,
        ),
        ("get_conversation", &get, a("/conversations/CAnope"), None),
        (
            "get_conversation",
            &get,
            a(&format!("/conversations/{c0}")),
            None,
        ),
        (
            "get_conversation_audio",
            &get,
            a(&format!(
                "/conversations/{rec}/audio?direction=user&redacted=true"
            )),
            None,
        ),
        (
            "get_conversation_audio",
            &get,
            a(&format!("/conversations/{rec}/audio?direction=agent")),
            None,
        ),
        (
            "get_conversation_audio",
            &get,
            a(&format!("/conversations/{norec}/audio")),
            None,
        ),
        (
            "get_conversation_audio",
            &get,
            a("/conversations/CAnope/audio"),
            None,
        ),
        (
            "get_conversation_audio",
            &get,
            a(&format!("/conversations/{rec}/audio?direction=x")),
            None,
        ),
        (
            "add_annotations",
            &post,
            ann,
            Some(json!({"annotations": []})),
        ),
        (
            "add_annotations",
            &post,
            a("/conversations/CAnope/annotation"),
            Some(good_ann),
        ),
        ("upsert_note", &post, note, Some(json!({"note": 1}))),
        (
            "upsert_note",
            &post,
            a("/conversations/CAnope/note"),
            Some(json!({"note": "n"})),
        ),
        (
            "create_debug_chat",
            &post,
            chat.clone(),
            Some(json!({"clientEnv": 1})),
        ),
        (
            "create_debug_chat",
            &post,
            chat,
            Some(json!({"clientEnv": "live", "variantId": "nope"})),
        ),
        (
            "send_debug_chat_message",
            &post,
            send.clone(),
            Some(json!({"message": "x"})),
        ),
        (
            "send_debug_chat_message",
            &post,
            a("/debug-chat/AS_CHAT_nope"),
            Some(live),
        ),
    ];
    for (op, method, path, body) in &cases {
        w.call(op, (*method).clone(), path, k, body.clone()).await;
    }
    // A whole chat: topics, a fallback, the goodbye, then 410; a handoff; an idle timeout.
    let (_, send) = w.env.create_chat().await;
    for m in [
        "",
        "what are your opening hours",
        "I was charged twice",
        "where is my order",
        "blah",
        "bye",
        "?",
    ] {
        let body = json!({"clientEnv": "sandbox", "message": m});
        w.call(
            "send_debug_chat_message",
            post.clone(),
            &send,
            k,
            Some(body),
        )
        .await;
    }
    for message in ["let me talk to a person", "hello"] {
        if message == "hello" {
            // The idle timeout, on a server whose sessions expire quickly.
            w.env = start(MockConfig {
                chat_idle_timeout: Duration::from_millis(50),
                ..MockConfig::default()
            })
            .await;
        }
        let (_, path) = w.env.create_chat().await;
        if message == "hello" {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let body = json!({"clientEnv": "live", "message": message});
        w.call(
            "send_debug_chat_message",
            post.clone(),
            &path,
            k,
            Some(body),
        )
        .await;
    }

    assert!(
        w.failures.is_empty(),
        "non-conforming answers:\n{}",
        w.failures.join("\n")
    );
    for status in [200, 400, 404, 410] {
        let seen = ("send_debug_chat_message".to_string(), status);
        assert!(
            w.seen.contains(&seen),
            "no {status} from send_debug_chat_message"
        );
    }
    // Every operation was seen succeeding and failing.
    for op in w.spec.operations() {
        let statuses: Vec<u16> = w
            .seen
            .iter()
            .filter(|(o, _)| *o == op)
            .map(|(_, s)| *s)
            .collect();
        assert!(
            statuses.iter().any(|s| (200..300).contains(s)),
            "{op}: no success in {statuses:?}"
        );
        assert!(
            statuses.iter().any(|s| *s >= 400),
            "{op}: no error in {statuses:?}"
        );
    }
}

#[tokio::test]
async fn injected_failures_use_the_error_schema() {
    let spec = Spec::load();
    let env = start(MockConfig::default()).await;
    let error = json!({"$ref": "#/components/schemas/Error"});
    for status in [429u16, 500, 502, 503] {
        env.server.faults().fail_next(1, status);
        let (got, body) = env.get(&env.agent_path("/conversations")).await;
        assert_eq!(got.as_u16(), status);
        spec.validate(&error, &body).expect("Error schema");
    }
    spec.validate(&error, &json!({"success": true}))
        .expect_err("the validator rejects");
}

/// The v3 listing, on success and error paths, against `conversations-v3.normalized.json`.
#[tokio::test]
async fn every_v3_answer_matches_the_v3_document() {
    let spec = Spec::load_file("conversations-v3.normalized.json");
    let env = start(
        MockConfig::default().key(ApiKey::new("scoped", "us").scoped_to(["PROJECT-ELSEWHERE"])),
    )
    .await;
    let account = env.server.account_id().to_string();
    let agent = env.agent.clone();
    let mut w = Walker {
        spec,
        env,
        seen: BTreeSet::new(),
        failures: Vec::new(),
    };
    let op = "list_conversations_v3";
    let list = |query: &str| format!("/v3/{account}/{agent}/conversations?{query}");
    let first = w
        .call(op, Method::GET, &list("limit=7"), Some(SANDBOX_KEY), None)
        .await;
    let cursor = first["cursor"].as_str().expect("a cursor").to_string();
    assert_eq!(first["conversations"].as_array().map(Vec::len), Some(7));
    let ok = [
        String::new(),
        "limit=3&include_latency=true".into(),
        format!("limit=7&cursor={cursor}"),
        "offset=10&limit=5".into(),
        "query_type=transcript&query=refund&turn_type=user".into(),
        "query_type=transcript&query=Refund&turn_type=agent&limit=2".into(),
        "query_type=semantic&query=money%20back%20for%20a%20double%20payment".into(),
        "sample=random&limit=5".into(),
        "channel=VOICE-SIP&channel=chat&client_env=sandbox".into(),
        "client_env=pre-release&in_progress=false".into(),
        "in_progress=true&client_env=sandbox".into(),
        "variant_name=Main%20Line".into(),
        "variant_id=VAR-00000000".into(),
        "start_time=2026-06-03T12:00:00Z&end_time=2026-06-03T13:00:00%2B00:00".into(),
        "start_time=2030-01-01".into(),
    ];
    for query in &ok {
        w.call(op, Method::GET, &list(query), Some(SANDBOX_KEY), None)
            .await;
    }
    let bad = [
        "limit=0",
        "limit=1001",
        "limit=x",
        "offset=-3",
        "query_type=semantic",
        "query_type=transcript&query=a&sample=random",
        "turn_type=agent",
        "client_env=prod",
        "in_progress=yes",
        "start_time=yesterday",
        "cursor=v3.0.0.0.0000000000000000",
        "variant_id=a&variant_name=b",
    ];
    for query in bad {
        let body = w
            .call(op, Method::GET, &list(query), Some(SANDBOX_KEY), None)
            .await;
        assert_eq!(
            body["error_code"], "GET_CONVERSATIONS_FILTER_PARSE_ERROR",
            "{query}: {body}"
        );
    }
    for (path, key, status) in [
        (list(""), None, 401),
        (list(""), Some("wrong"), 401),
        (list(""), Some("scoped"), 403),
        (
            format!("/v3/ws-nope/{agent}/conversations"),
            Some(SANDBOX_KEY),
            404,
        ),
        (
            format!("/v3/{account}/PROJECT-NOPE/conversations"),
            Some(SANDBOX_KEY),
            404,
        ),
    ] {
        w.call(op, Method::GET, &path, key, None).await;
        assert!(
            w.seen.contains(&(op.to_string(), status)),
            "{path}: no {status}"
        );
    }
    assert!(
        w.failures.is_empty(),
        "non-conforming answers:\n{}",
        w.failures.join("\n")
    );
    for status in [200, 400, 401, 403, 404] {
        assert!(w.seen.contains(&(op.to_string(), status)), "no {status}");
    }
}
