//! Checks a 3.0 document against what progenitor 0.15 can generate from, so that a bad spec fails with
//! a pointer and a reason instead of a panic inside the generator.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{SpecError, push};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Validates `doc` and parses it into the generator's OpenAPI model.
pub fn validate(doc: &Value, name: &str) -> Result<openapiv3::OpenAPI, SpecError> {
    let err = |pointer: &str, reason: String| SpecError::new(name, pointer, reason);
    check_refs(doc, doc, "", name)?;

    let mut operation_ids: BTreeMap<String, String> = BTreeMap::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let item_at = push("/paths", path);
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                let at = push(&item_at, method);
                let id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .filter(|id| !id.trim().is_empty())
                    .ok_or_else(|| {
                        err(&at, "the operation has no `operationId`; add one in the corrections overlay".into())
                    })?;
                if let Some(first) = operation_ids.insert(id.to_owned(), at.clone()) {
                    return Err(err(
                        &push(&at, "operationId"),
                        format!("operationId `{id}` is also used at {first}"),
                    ));
                }
                check_request_body(doc, op, &at, name)?;
                check_responses(doc, op, &at, name)?;
            }
        }
    }

    serde_path_to_error::deserialize::<_, openapiv3::OpenAPI>(doc).map_err(|e| {
        // The parser's untagged enums (`$ref` or item) hide where inside them it failed: parse the
        // parts one by one to find the innermost one it rejects.
        let (pointer, reason) = narrow(doc).unwrap_or_else(|| {
            (
                path_to_pointer(&e.path().to_string()),
                e.inner().to_string(),
            )
        });
        err(
            &pointer,
            format!("the OpenAPI 3.0 parser rejects this: {reason}"),
        )
    })
}

/// Finds the innermost response, parameter, operation, path item or schema the parser rejects.
fn narrow(doc: &Value) -> Option<(String, String)> {
    fn failure<T: serde::de::DeserializeOwned>(
        value: &Value,
        at: &str,
    ) -> Option<(String, String)> {
        serde_path_to_error::deserialize::<_, T>(value)
            .err()
            .map(|e| {
                let inner = path_to_pointer(&e.path().to_string());
                (format!("{at}{inner}"), e.inner().to_string())
            })
    }
    fn entries(value: Option<&Value>) -> impl Iterator<Item = (&String, &Value)> {
        value.and_then(Value::as_object).into_iter().flatten()
    }
    use openapiv3::{Operation, Parameter, PathItem, ReferenceOr, Response, Schema};
    for (path, item) in entries(doc.get("paths")) {
        let item_at = push("/paths", path);
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let at = push(&item_at, method);
            for (status, response) in entries(op.get("responses")) {
                let here = push(&push(&at, "responses"), status);
                if let Some(found) = failure::<ReferenceOr<Response>>(response, &here) {
                    return Some(failure::<Response>(response, &here).unwrap_or(found));
                }
            }
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            for (i, param) in params.enumerate() {
                let here = push(&push(&at, "parameters"), &i.to_string());
                if let Some(found) = failure::<ReferenceOr<Parameter>>(param, &here) {
                    return Some(failure::<Parameter>(param, &here).unwrap_or(found));
                }
            }
            if let Some(found) = failure::<Operation>(op, &at) {
                return Some(found);
            }
        }
        if let Some(found) = failure::<PathItem>(item, &item_at) {
            return Some(found);
        }
    }
    for (name, schema) in entries(doc.pointer("/components/schemas")) {
        let here = push("/components/schemas", name);
        if let Some(found) = failure::<ReferenceOr<Schema>>(schema, &here) {
            return Some(failure::<Schema>(schema, &here).unwrap_or(found));
        }
    }
    None
}

fn check_refs(root: &Value, value: &Value, at: &str, name: &str) -> Result<(), SpecError> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let target = reference.strip_prefix('#').map(|p| root.pointer(p));
                if !matches!(target, Some(Some(_))) {
                    return Err(SpecError::new(
                        name,
                        push(at, "$ref"),
                        format!("`{reference}` does not resolve"),
                    ));
                }
            }
            for (key, sub) in map {
                check_refs(root, sub, &push(at, key), name)?;
            }
        }
        Value::Array(items) => {
            for (i, sub) in items.iter().enumerate() {
                check_refs(root, sub, &push(at, &i.to_string()), name)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Follows a `$ref` (already checked to resolve) to the object it names.
fn resolve<'a>(root: &'a Value, value: &'a Value) -> &'a Value {
    let mut value = value;
    for _ in 0..16 {
        match value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(pointer) => match root.pointer(pointer) {
                Some(target) => value = target,
                None => return value,
            },
            None => return value,
        }
    }
    value
}

fn check_request_body(root: &Value, op: &Value, at: &str, name: &str) -> Result<(), SpecError> {
    let Some(body) = op.get("requestBody") else {
        return Ok(());
    };
    let at = push(at, "requestBody");
    let content = resolve(root, body)
        .get("content")
        .and_then(Value::as_object);
    let media: Vec<&String> = content.map(|c| c.keys().collect()).unwrap_or_default();
    if media.len() > 1 {
        return Err(SpecError::new(
            name,
            push(&at, "content"),
            format!(
                "the generator takes one request media type, this body offers {media:?}; keep one in the corrections"
            ),
        ));
    }
    if let Some(m) = media.first().filter(|m| m.starts_with("multipart/")) {
        return Err(SpecError::new(
            name,
            push(&push(&at, "content"), m),
            format!("request media type `{m}` is not supported by the generator"),
        ));
    }
    Ok(())
}

/// What a response's body decodes into, as far as the generator is concerned.
#[derive(Debug, PartialEq)]
enum BodyKind {
    None,
    Json(Value),
    Bytes,
}

fn check_responses(root: &Value, op: &Value, at: &str, name: &str) -> Result<(), SpecError> {
    let Some(responses) = op.get("responses").and_then(Value::as_object) else {
        return Err(SpecError::new(
            name,
            at,
            "the operation declares no `responses`",
        ));
    };
    let mut success: Option<(String, BodyKind)> = None;
    let mut failure: Option<(String, BodyKind)> = None;
    for (status, response) in responses {
        let here = push(&push(at, "responses"), status);
        let kind = body_kind(root, resolve(root, response), &here, name)?;
        let slot = if status.starts_with('2') {
            &mut success
        } else {
            &mut failure
        };
        match slot {
            Some((first, first_kind)) if *first_kind != kind => {
                let class = if status.starts_with('2') {
                    "success"
                } else {
                    "error"
                };
                return Err(SpecError::new(
                    name,
                    here,
                    format!(
                        "every {class} response of an operation must have the same body type; this one differs from {first}"
                    ),
                ));
            }
            Some(_) => {}
            None => *slot = Some((here, kind)),
        }
    }
    Ok(())
}

fn body_kind(root: &Value, response: &Value, at: &str, name: &str) -> Result<BodyKind, SpecError> {
    let Some(content) = response
        .get("content")
        .and_then(Value::as_object)
        .filter(|c| !c.is_empty())
    else {
        return Ok(BodyKind::None);
    };
    let json: Vec<(&String, &Value)> = content.iter().filter(|(m, _)| is_json(m)).collect();
    if !json.is_empty() && json.len() < content.len() {
        return Err(SpecError::new(
            name,
            push(at, "content"),
            "a response offers JSON and non-JSON bodies; the generator would silently pick JSON, so keep one",
        ));
    }
    match json.first() {
        Some((_, media)) => {
            let schema = media.get("schema").cloned().unwrap_or(Value::Null);
            let resolved = match schema.get("$ref") {
                Some(_) => schema,
                None => resolve(root, &schema).clone(),
            };
            Ok(BodyKind::Json(resolved))
        }
        None => Ok(BodyKind::Bytes),
    }
}

fn is_json(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or("").trim();
    essence == "application/json" || essence.ends_with("+json")
}

/// Turns serde_path_to_error's `a.b[0].c` into `/a/b/0/c`.
fn path_to_pointer(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    let mut pointer = String::new();
    for segment in path.split('.') {
        let mut rest = segment;
        while let Some(open) = rest.find('[') {
            if open > 0 {
                pointer = push(&pointer, &rest[..open]);
            }
            let close = rest[open..].find(']').map_or(rest.len(), |c| open + c);
            pointer = push(&pointer, rest[open + 1..close].trim_matches('"'));
            rest = rest.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            pointer = push(&pointer, rest);
        }
    }
    pointer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_error_paths_to_pointers() {
        assert_eq!(
            path_to_pointer("paths./v1/x.get.responses"),
            "/paths/~1v1~1x/get/responses"
        );
        assert_eq!(path_to_pointer("a.b[2].c"), "/a/b/2/c");
        assert_eq!(path_to_pointer("."), "");
    }
}
