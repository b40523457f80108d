//! Applies an [OpenAPI Overlay 1.0](https://spec.openapis.org/overlay/v1.0.0.html) document: a list of
//! actions, each selecting nodes with a JSONPath (RFC 9535) `target` and either merging an `update` into
//! them or removing them.
//!
//! Merging follows the Overlay specification: objects merge recursively, an update replaces any other
//! value, and an update aimed at an array is appended to it.
//!
//! An `update` whose target selects nothing is an error, because with a new upstream document it
//! means the correction no longer applies and must be reviewed — unless the action says
//! `"x-optional": true`: a correction that fills in what older versions of the document lack, and so
//! selects nothing in the versions that have it. A `remove` whose target selects nothing has nothing
//! to do: what it removes is already absent (PolyAI adds and drops operations between versions), so
//! it passes and is reported as a [`NothingToDo`] for the caller to show.

use std::fmt;

use serde_json::Value;
use serde_json_path::JsonPath;

use crate::error::SpecError;

/// A `remove` action whose target selects nothing in the document: it passed with nothing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NothingToDo {
    /// The overlay file, as named to [`apply`].
    pub overlay: String,
    /// The action's index in the overlay's `actions`.
    pub action: usize,
    /// The action's JSONPath target.
    pub target: String,
}

impl fmt::Display for NothingToDo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} action {}: remove selects nothing in this document; nothing to do",
            self.overlay, self.action
        )
    }
}

/// Applies every action of `overlay` to `doc`, in order, and returns the `remove` actions that
/// selected nothing (in action order).
///
/// `name` names the overlay file in error messages; pointers in errors point into the overlay.
pub fn apply(doc: &mut Value, overlay: &Value, name: &str) -> Result<Vec<NothingToDo>, SpecError> {
    let err = |pointer: &str, reason: String| SpecError::new(name, pointer, reason);
    match overlay.get("overlay").and_then(Value::as_str) {
        Some(v) if v.starts_with("1.") => {}
        Some(v) => {
            return Err(err(
                "/overlay",
                format!("overlay version {v} is not supported; write 1.0.x"),
            ));
        }
        None => {
            return Err(err(
                "",
                "not an overlay: the `overlay` version field is missing".into(),
            ));
        }
    }
    let actions = overlay
        .get("actions")
        .and_then(Value::as_array)
        .ok_or_else(|| err("/actions", "an overlay needs an `actions` array".into()))?;

    let mut nothing_to_do = Vec::new();
    for (index, action) in actions.iter().enumerate() {
        let at = format!("/actions/{index}");
        let target = action
            .get("target")
            .and_then(Value::as_str)
            .ok_or_else(|| err(&at, "the action has no `target` string".into()))?;
        let path = JsonPath::parse(target).map_err(|e| {
            err(
                &format!("{at}/target"),
                format!("`{target}` is not a valid JSONPath: {e}"),
            )
        })?;
        let remove = match action.get("remove") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(err(
                    &format!("{at}/remove"),
                    "`remove` must be true or false".into(),
                ));
            }
        };
        let update = action.get("update");
        if remove == update.is_some() {
            return Err(err(
                &at,
                "an action needs exactly one of `update` or `remove: true`".into(),
            ));
        }

        let mut pointers: Vec<String> = path
            .query_located(doc)
            .locations()
            .map(|location| location.to_json_pointer())
            .collect();
        // `x-optional: true` marks a correction for older versions of the document (it adds what
        // they lack), so selecting nothing in a newer one is expected rather than a sign of drift.
        let optional = match action.get("x-optional") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(err(
                    &format!("{at}/x-optional"),
                    "`x-optional` must be true or false".into(),
                ));
            }
        };
        if pointers.is_empty() && remove {
            // What the action removes is already absent: the document is as the action leaves it.
            nothing_to_do.push(NothingToDo {
                overlay: name.to_owned(),
                action: index,
                target: target.to_owned(),
            });
            continue;
        }
        if pointers.is_empty() && optional {
            continue;
        }
        if pointers.is_empty() {
            let what = action
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("(no description)");
            return Err(err(
                &format!("{at}/target"),
                format!(
                    "`{target}` selects nothing in the spec; the upstream document changed, so review this correction: {what}"
                ),
            ));
        }

        if let Some(update) = update {
            for pointer in &pointers {
                // The pointer came from querying this same document a moment ago.
                if let Some(node) = doc.pointer_mut(pointer) {
                    merge(node, update);
                }
            }
        } else {
            // Remove later siblings first so that array indexes stay valid.
            pointers.sort_by(|a, b| b.cmp(a));
            for pointer in &pointers {
                remove_at(doc, pointer).map_err(|reason| err(&format!("{at}/target"), reason))?;
            }
        }
    }
    Ok(nothing_to_do)
}

/// Merges `update` into `target` the way Overlay 1.0 defines it.
fn merge(target: &mut Value, update: &Value) {
    match (target, update) {
        (Value::Object(target), Value::Object(update)) => {
            for (key, value) in update {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(update)) => target.extend(update.iter().cloned()),
        (Value::Array(target), update) => target.push(update.clone()),
        (target, update) => *target = update.clone(),
    }
}

/// Removes the value at `pointer` from its parent object or array.
fn remove_at(doc: &mut Value, pointer: &str) -> Result<(), String> {
    let (parent, last) = pointer
        .rsplit_once('/')
        .ok_or_else(|| "the whole document cannot be removed".to_owned())?;
    let key = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.shift_remove(&key);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index: usize = key
                .parse()
                .map_err(|_| format!("`{key}` is not an array index"))?;
            if index < items.len() {
                items.remove(index);
            }
            Ok(())
        }
        _ => Err(format!("nothing to remove at {pointer}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn overlay(actions: Value) -> Value {
        json!({ "overlay": "1.0.0", "info": { "title": "t", "version": "1" }, "actions": actions })
    }

    #[test]
    fn merges_objects_replaces_scalars_and_appends_to_arrays() {
        let mut doc = json!({ "a": { "b": 1, "c": { "d": 2 } }, "list": [1] });
        let ov = overlay(json!([
            { "target": "$.a", "update": { "b": 10, "c": { "e": 3 } } },
            { "target": "$.list", "update": 2 }
        ]));
        apply(&mut doc, &ov, "o").unwrap();
        assert_eq!(
            doc,
            json!({ "a": { "b": 10, "c": { "d": 2, "e": 3 } }, "list": [1, 2] })
        );
    }

    #[test]
    fn removes_every_selected_node() {
        let mut doc = json!({ "p": { "x": 1, "y": 2, "z": 3 }, "arr": [1, 2, 3, 4] });
        let ov = overlay(json!([
            { "target": "$.p['x','z']", "remove": true },
            { "target": "$.arr[?@ > 1]", "remove": true }
        ]));
        apply(&mut doc, &ov, "o").unwrap();
        assert_eq!(doc, json!({ "p": { "y": 2 }, "arr": [1] }));
    }

    #[test]
    fn a_target_that_selects_nothing_is_an_error_naming_the_action() {
        let mut doc = json!({});
        let ov = overlay(json!([{ "target": "$.nope", "update": {}, "description": "why" }]));
        let e = apply(&mut doc, &ov, "o").unwrap_err();
        assert_eq!(e.pointer, "/actions/0/target");
        assert!(
            e.reason.contains("selects nothing") && e.reason.contains("why"),
            "{e}"
        );
    }

    #[test]
    fn a_remove_that_selects_nothing_has_nothing_to_do() {
        let mut doc = json!({ "paths": { "/v3": {} } });
        let ov = overlay(json!([
            { "target": "$.paths['/v1/a','/v1/b']", "remove": true, "description": "why" },
            { "target": "$.paths['/v3']", "update": { "x": 1 } },
            { "target": "$.paths['/v1/c']", "remove": true }
        ]));
        let nothing = apply(&mut doc, &ov, "openapi/o.overlay.json").expect("removes pass");
        assert_eq!(doc, json!({ "paths": { "/v3": { "x": 1 } } }));
        assert_eq!(nothing.iter().map(|n| n.action).collect::<Vec<_>>(), [0, 2]);
        assert_eq!(nothing[0].target, "$.paths['/v1/a','/v1/b']");
        assert_eq!(
            nothing[0].to_string(),
            "openapi/o.overlay.json action 0: remove selects nothing in this document; nothing to do"
        );
        // A remove that selects some of its names removes those and reports nothing.
        let mut doc = json!({ "paths": { "/v1/a": {}, "/v3": {} } });
        let ov = overlay(json!([{ "target": "$.paths['/v1/a','/v1/b']", "remove": true }]));
        assert_eq!(apply(&mut doc, &ov, "o").expect("applies"), []);
        assert_eq!(doc, json!({ "paths": { "/v3": {} } }));
    }

    #[test]
    fn an_update_that_selects_nothing_still_fails_unless_optional() {
        let ov = |optional: bool| {
            overlay(json!([
                { "target": "$.gone", "remove": true },
                { "target": "$.nope", "update": { "x": 1 }, "x-optional": optional, "description": "why" }
            ]))
        };
        let mut doc = json!({ "a": {} });
        let e = apply(&mut doc, &ov(false), "o").unwrap_err();
        assert_eq!(e.pointer, "/actions/1/target");
        assert!(
            e.reason.contains("selects nothing") && e.reason.contains("why"),
            "{e}"
        );
        let nothing =
            apply(&mut doc, &ov(true), "o").expect("an optional update may select nothing");
        assert_eq!(nothing.len(), 1, "only the remove is reported: {nothing:?}");
        assert_eq!(doc, json!({ "a": {} }));
    }

    #[test]
    fn an_optional_action_may_select_nothing() {
        let mut doc = json!({ "a": {} });
        let ov = overlay(json!([
            { "target": "$.nope", "update": { "x": 1 }, "x-optional": true },
            { "target": "$.a", "update": { "y": 2 }, "x-optional": true }
        ]));
        apply(&mut doc, &ov, "o").expect("optional actions apply where they match");
        assert_eq!(doc, json!({ "a": { "y": 2 } }));
        let ov = overlay(json!([{ "target": "$.a", "update": {}, "x-optional": "yes" }]));
        let e = apply(&mut doc, &ov, "o").unwrap_err();
        assert_eq!(e.pointer, "/actions/0/x-optional");
    }

    #[test]
    fn malformed_actions_are_rejected() {
        let mut doc = json!({ "a": 1 });
        for (actions, pointer) in [
            (json!([{ "update": {} }]), "/actions/0"),
            (
                json!([{ "target": "$[", "update": {} }]),
                "/actions/0/target",
            ),
            (json!([{ "target": "$.a" }]), "/actions/0"),
            (
                json!([{ "target": "$.a", "remove": true, "update": {} }]),
                "/actions/0",
            ),
        ] {
            let e = apply(&mut doc, &overlay(actions), "o").unwrap_err();
            assert_eq!(e.pointer, pointer, "{e}");
        }
        let e = apply(&mut doc, &json!({ "overlay": "2.0.0", "actions": [] }), "o").unwrap_err();
        assert_eq!(e.pointer, "/overlay");
    }
}
