//! `cargo xtask diff OLD NEW`: what changed between two versions of an OpenAPI document, for people.
//!
//! Only structure counts: operations, parameters, request and response bodies, component schemas
//! (fields added or removed; type, format, nullability, enum values, defaults, bounds and
//! requiredness changed), servers and security schemes. Prose (`description`, `summary`, `example`,
//! `examples`, `title`) is ignored, and so is the layout of the document: a parameter or response
//! declared inline or through `#/components/...` is the same parameter or response, and OpenAPI 3.1's
//! `type: [T, "null"]` is the same as 3.0's `type: T, nullable: true`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every structural fact of a document, keyed by where it is (`GET /path › parameter query limit`).
type Facts = BTreeMap<String, String>;

/// What happened to one structural fact between two versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Only the new version has it.
    Added,
    /// Only the old version has it.
    Removed,
    /// Both have it, described differently.
    Changed,
}

/// One line of the changelog: a fact (`item`) of a `section` (an operation, `Schemas`, …) that was
/// added, removed or changed, with its description in the old and the new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `Operations`, `Schemas`, `Servers`, `Security`, or an operation such as `GET /v1/x`.
    pub section: String,
    /// The fact within the section, e.g. `parameter query limit` or `Page.count`.
    pub item: String,
    /// Added, removed or changed.
    pub kind: Kind,
    /// Its description in the old version (none when added).
    pub old: Option<String>,
    /// Its description in the new version (none when removed).
    pub new: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (old, new) = (
            self.old.as_deref().unwrap_or(""),
            self.new.as_deref().unwrap_or(""),
        );
        match self.kind {
            Kind::Added => write!(f, "added: `{}` ({new})", self.item),
            Kind::Removed => write!(f, "removed: `{}` ({old})", self.item),
            Kind::Changed => write!(f, "changed: `{}`: {old} → {new}", self.item),
        }
    }
}

/// The structural changes from `old` to `new`: removed and changed facts in the order of their
/// keys, then added ones.
pub fn changes(old: &Value, new: &Value) -> Vec<Change> {
    let (before, after) = (facts(old), facts(new));
    let mut out = Vec::new();
    let change = |key: &str, kind, old: Option<&String>, new: Option<&String>| {
        let (section, item) = split(key);
        Change {
            section,
            item,
            kind,
            old: old.cloned(),
            new: new.cloned(),
        }
    };
    for (key, was) in &before {
        match after.get(key) {
            None => out.push(change(key, Kind::Removed, Some(was), None)),
            Some(now) if now != was => out.push(change(key, Kind::Changed, Some(was), Some(now))),
            Some(_) => {}
        }
    }
    for (key, now) in &after {
        if !before.contains_key(key) {
            out.push(change(key, Kind::Added, None, Some(now)));
        }
    }
    out
}

/// The Markdown changelog from `old` to `new`; says so when there is no structural difference.
///
/// ```
/// let old = serde_json::json!({"openapi": "3.1.0", "info": {"version": "1"}, "paths": {}});
/// let mut new = old.clone();
/// new["paths"]["/v1/ping"] = serde_json::json!({"get": {"responses": {"200": {"description": "ok"}}}});
/// let text = xtask::diff::changelog(&old, &new, "old.json", "new.json");
/// assert!(text.contains("added: `GET /v1/ping`"));
/// ```
pub fn changelog(old: &Value, new: &Value, old_name: &str, new_name: &str) -> String {
    let version = |d: &Value| {
        d.pointer("/info/version")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let mut out = format!(
        "# Structural changes: `{old_name}` ({}) → `{new_name}` ({})\n\n",
        version(old),
        version(new)
    );
    let mut sections: BTreeMap<String, Vec<Change>> = BTreeMap::new();
    for change in changes(old, new) {
        sections
            .entry(change.section.clone())
            .or_default()
            .push(change);
    }
    if sections.is_empty() {
        out.push_str("No structural difference.\n");
        return out;
    }
    for (section, lines) in sections {
        let _ = writeln!(out, "## {section}\n");
        for line in lines {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }
    out
}

/// `section › item` → (`section`, `item`).
fn split(key: &str) -> (String, String) {
    match key.split_once(" › ") {
        Some((section, item)) => (section.to_owned(), item.to_owned()),
        None => ("Document".to_owned(), key.to_owned()),
    }
}

fn facts(doc: &Value) -> Facts {
    let mut f = Facts::new();
    for (i, server) in array(doc.get("servers")).iter().enumerate() {
        let url = server.get("url").and_then(Value::as_str).unwrap_or("?");
        f.insert(format!("Servers › {url}"), format!("server {}", i + 1));
    }
    if let Some(Value::Object(schemes)) = doc.pointer("/components/securitySchemes") {
        for (name, scheme) in schemes {
            let scheme = resolve(doc, scheme);
            let mut parts = Vec::new();
            for k in ["type", "in", "name", "scheme", "bearerFormat"] {
                if let Some(v) = scheme.get(k).and_then(Value::as_str) {
                    parts.push(format!("{k} {v}"));
                }
            }
            f.insert(format!("Security › scheme {name}"), parts.join(", "));
        }
    }
    if let Some(security) = doc.get("security") {
        f.insert("Security › required".into(), security.to_string());
    }
    if let Some(Value::Object(paths)) = doc.get("paths") {
        for (path, item) in paths {
            let item = resolve(doc, item);
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let op_name = format!("{} {path}", method.to_uppercase());
                f.insert(format!("Operations › {op_name}"), "operation".into());
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    f.insert(format!("{op_name} › operationId"), id.to_owned());
                }
                // Path-level parameters apply unless the operation redeclares them.
                let mut params: BTreeMap<String, &Value> = BTreeMap::new();
                for p in array(item.get("parameters"))
                    .iter()
                    .chain(array(op.get("parameters")))
                {
                    let p = resolve(doc, p);
                    let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
                    let place = p.get("in").and_then(Value::as_str).unwrap_or("?");
                    params.insert(format!("parameter {place} {name}"), p);
                }
                for (label, p) in params {
                    let required = p.get("required").and_then(Value::as_bool) == Some(true);
                    let schema = p.get("schema").cloned().unwrap_or(Value::Null);
                    let mut shape = describe(&schema);
                    shape.push_str(if required { ", required" } else { ", optional" });
                    f.insert(format!("{op_name} › {label}"), shape);
                }
                if let Some(body) = op.get("requestBody") {
                    let body = resolve(doc, body);
                    let required = body.get("required").and_then(Value::as_bool) == Some(true);
                    f.insert(
                        format!("{op_name} › request body"),
                        if required { "required" } else { "optional" }.into(),
                    );
                    content(body, &format!("{op_name} › request"), &mut f);
                }
                if let Some(Value::Object(responses)) = op.get("responses") {
                    for (status, response) in responses {
                        let response = resolve(doc, response);
                        f.insert(format!("{op_name} › response {status}"), "declared".into());
                        content(response, &format!("{op_name} › response {status}"), &mut f);
                        if let Some(Value::Object(headers)) = response.get("headers") {
                            for (name, header) in headers {
                                let header = resolve(doc, header);
                                let schema = header.get("schema").cloned().unwrap_or(Value::Null);
                                f.insert(
                                    format!("{op_name} › response {status} header {name}"),
                                    describe(&schema),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(Value::Object(schemas)) = doc.pointer("/components/schemas") {
        for (name, schema) in schemas {
            f.insert(format!("Schemas › {name}"), describe(schema));
            fields(schema, &format!("Schemas › {name}"), &mut f);
        }
    }
    f
}

/// The media types of a request body or response, and the fields of each body.
fn content(holder: &Value, at: &str, f: &mut Facts) {
    if let Some(Value::Object(media)) = holder.get("content") {
        for (media_type, m) in media {
            let schema = m.get("schema").cloned().unwrap_or(Value::Null);
            let key = format!("{at} {media_type}");
            f.insert(key.clone(), describe(&schema));
            fields(&schema, &key, f);
        }
    }
}

/// Records the shape of every property, item and map value reachable inline from `schema`
/// (`$ref`s are named, not followed: the referenced schema is listed under Schemas).
fn fields(schema: &Value, at: &str, f: &mut Facts) {
    // A bare `$ref` is named, not followed; a `$ref` with siblings has structure of its own.
    if schema.get("$ref").is_some() && schema.as_object().is_some_and(|o| o.len() == 1) {
        return;
    }
    let required: Vec<&str> = array(schema.get("required"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if let Some(Value::Object(props)) = schema.get("properties") {
        for (name, prop) in props {
            let key = format!("{at}.{name}");
            let mut shape = describe(prop);
            if required.contains(&name.as_str()) {
                shape.push_str(", required");
            }
            f.insert(key.clone(), shape);
            fields(prop, &key, f);
        }
    }
    if let Some(items) = schema.get("items") {
        let key = format!("{at}[]");
        f.insert(key.clone(), describe(items));
        fields(items, &key, f);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        let key = format!("{at}{{*}}");
        f.insert(key.clone(), describe(extra));
        fields(extra, &key, f);
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        for (i, arm) in array(schema.get(combinator)).iter().enumerate() {
            let key = format!("{at} {combinator}[{i}]");
            f.insert(key.clone(), describe(arm));
            fields(arm, &key, f);
        }
    }
}

/// One line for the structural keywords of a schema, 3.0 and 3.1 spellings made alike.
fn describe(schema: &Value) -> String {
    let Some(obj) = schema.as_object() else {
        return match schema {
            Value::Bool(true) | Value::Null => "any".into(),
            Value::Bool(false) => "nothing".into(),
            other => other.to_string(),
        };
    };
    let mut parts = Vec::new();
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        parts.push(format!("→ {}", r.rsplit('/').next().unwrap_or(r)));
    }
    let mut nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
    let mut types: Vec<String> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    };
    if types.iter().any(|t| t == "null") && types.len() > 1 {
        types.retain(|t| t != "null");
        nullable = true;
    }
    if !types.is_empty() {
        parts.push(types.join(" | "));
    }
    if let Some(format) = obj.get("format").and_then(Value::as_str) {
        parts.push(format!("format {format}"));
    }
    if let Some(media) = obj.get("contentMediaType").and_then(Value::as_str) {
        parts.push(format!("media {media}"));
    }
    for k in [
        "enum",
        "const",
        "default",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
    ] {
        if let Some(v) = obj.get(k) {
            parts.push(format!("{k} {v}"));
        }
    }
    if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
        parts.push("closed".into());
    }
    if nullable {
        parts.push("nullable".into());
    }
    if parts.is_empty() {
        "any".into()
    } else {
        parts.join(", ")
    }
}

/// Follows a local `$ref` to `#/components/...` (for parameters, responses, bodies, headers).
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..16 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with("#/") => match doc.pointer(&r[1..]) {
                Some(target) => node = target,
                None => return node,
            },
            _ => return node,
        }
    }
    node
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(paths: Value, schemas: Value) -> Value {
        json!({"openapi": "3.1.0", "info": {"version": "1"}, "paths": paths,
               "components": {"schemas": schemas}})
    }

    #[test]
    fn prose_and_layout_are_not_changes() {
        let inline = doc(
            json!({"/a/{id}": {"parameters": [{"name": "id", "in": "path", "required": true,
                     "description": "one", "schema": {"type": "string"}}],
                    "get": {"summary": "x", "responses": {"200": {"description": "ok",
                      "content": {"application/json": {"schema": {"type": ["string", "null"]}}}}}}}}),
            json!({}),
        );
        let mut by_ref = doc(
            json!({"/a/{id}": {"parameters": [{"$ref": "#/components/parameters/id"}],
                    "get": {"summary": "y", "responses": {"200": {"$ref": "#/components/responses/ok"}}}}}),
            json!({}),
        );
        by_ref["components"]["parameters"] = json!({"id": {"name": "id", "in": "path",
            "required": true, "description": "two", "schema": {"type": "string"}}});
        by_ref["components"]["responses"] = json!({"ok": {"description": "fine",
            "content": {"application/json": {"schema": {"type": "string", "nullable": true}}}}});
        let text = changelog(&inline, &by_ref, "a", "b");
        assert!(text.contains("No structural difference."), "{text}");
    }

    #[test]
    fn every_kind_of_change_is_listed() {
        let old = doc(
            json!({"/a": {"get": {"parameters": [{"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1}}],
                    "responses": {"200": {"description": "", "content": {"application/json":
                      {"schema": {"$ref": "#/components/schemas/Page"}}}}}}}}),
            json!({"Page": {"type": "object", "required": ["count"], "properties": {
                "count": {"type": "integer"}, "kind": {"type": "string", "enum": ["a", "b"]},
                "gone": {"type": "string"}}}}),
        );
        let new = doc(
            json!({"/a": {"get": {"parameters": [{"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                     {"name": "cursor", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "", "content": {"application/json":
                      {"schema": {"$ref": "#/components/schemas/Page"}}}},
                      "404": {"description": ""}}}},
                   "/b": {"post": {"responses": {"201": {"description": ""}}}}}),
            json!({"Page": {"type": "object", "properties": {
                "count": {"type": ["integer", "null"]}, "kind": {"type": "string", "enum": ["a", "b", "c"]},
                "next": {"type": "string"}}}}),
        );
        let text = changelog(&old, &new, "old", "new");
        for expected in [
            "added: `POST /b`",
            "changed: `parameter query limit`: integer, minimum 1, optional → integer, minimum 1, maximum 1000, optional",
            "added: `parameter query cursor`",
            "added: `response 404`",
            "changed: `Page.count`: integer, required → integer, nullable",
            "changed: `Page.kind`: string, enum [\"a\",\"b\"] → string, enum [\"a\",\"b\",\"c\"]",
            "removed: `Page.gone`",
            "added: `Page.next`",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert!(!text.contains("No structural difference"));
    }
}
