//! Down-converts an OpenAPI 3.1 document to the OpenAPI 3.0.3 that progenitor 0.15 accepts.
//!
//! | 3.1 construct | 3.0.3 result |
//! |---|---|
//! | `openapi: 3.1.x`, `jsonSchemaDialect`, `webhooks`, `info.summary`, `info.license.identifier`, `components.pathItems` | `openapi: 3.0.3`, the others dropped |
//! | `type: [T, "null"]` | `type: T, nullable: true` |
//! | `type: [T, U, ...]` | `anyOf` of one schema per type |
//! | `type: "null"` alone | `nullable: true, enum: [null]` |
//! | `anyOf`/`oneOf` with `{type: "null"}` arms | the arms dropped, `nullable: true`; a lone `$ref` arm becomes `allOf: [$ref]`, a lone inline arm is merged in |
//! | `$ref` with sibling keywords | annotations (`description`, `summary`, `title`, `examples`, `$comment`) dropped; anything else wraps the ref in `allOf` |
//! | numeric `exclusiveMinimum`/`exclusiveMaximum` | `minimum`/`maximum` + boolean |
//! | `const: v` | `enum: [v]` |
//! | `examples: [..]` in a schema | `example` (the first one) |
//! | `contentEncoding: base64` / `contentMediaType` on a string | `format: byte` / `format: binary` |
//! | boolean schemas `true` / `false` | `{}` / `{not: {}}` |
//! | `$schema`, `$id`, `$anchor`, `$comment` | dropped |
//!
//! Constructs with no 3.0 equivalent that would change what a type accepts are errors naming their
//! JSON pointer: `prefixItems`, `if`/`then`/`else`, `dependentSchemas`, `dependentRequired`,
//! `unevaluatedProperties`, `unevaluatedItems`, `patternProperties`, `propertyNames`, `contains`,
//! `$defs`, `$dynamicRef`, `$dynamicAnchor`, `$recursiveRef`, array-form `items`, and references to
//! other files. A 3.0.x document passes through with only the checks applied.

use serde_json::{Map, Value, json};

use crate::error::{SpecError, push};

const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "prefixItems",
        "tuple schemas have no OpenAPI 3.0 form; describe the array with `items`",
    ),
    (
        "if",
        "conditional schemas have no OpenAPI 3.0 form; use `oneOf`",
    ),
    (
        "then",
        "conditional schemas have no OpenAPI 3.0 form; use `oneOf`",
    ),
    (
        "else",
        "conditional schemas have no OpenAPI 3.0 form; use `oneOf`",
    ),
    ("dependentSchemas", "has no OpenAPI 3.0 form"),
    ("dependentRequired", "has no OpenAPI 3.0 form"),
    (
        "unevaluatedProperties",
        "has no OpenAPI 3.0 form; use `additionalProperties`",
    ),
    ("unevaluatedItems", "has no OpenAPI 3.0 form"),
    (
        "patternProperties",
        "has no OpenAPI 3.0 form; use `additionalProperties`",
    ),
    ("propertyNames", "has no OpenAPI 3.0 form"),
    ("contains", "has no OpenAPI 3.0 form"),
    (
        "$defs",
        "move these schemas to `components/schemas` and reference them there",
    ),
    ("$dynamicRef", "dynamic references have no OpenAPI 3.0 form"),
    (
        "$dynamicAnchor",
        "dynamic references have no OpenAPI 3.0 form",
    ),
    (
        "$recursiveRef",
        "recursive references have no OpenAPI 3.0 form",
    ),
];

const DROPPED_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "minContains",
    "maxContains",
];
const REF_ANNOTATIONS: &[&str] = &[
    "description",
    "summary",
    "title",
    "examples",
    "example",
    "$comment",
];

/// Down-converts `doc` in place. `name` names the document in errors.
pub fn to_openapi_30(doc: &mut Value, name: &str) -> Result<(), SpecError> {
    let version = doc
        .get("openapi")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            SpecError::new(
                name,
                "/openapi",
                "not an OpenAPI document: `openapi` version is missing",
            )
        })?
        .to_owned();
    let converter = Converter { name };
    if version.starts_with("3.0.") {
        return converter.document(doc, false);
    }
    if !version.starts_with("3.1.") {
        return Err(SpecError::new(
            name,
            "/openapi",
            format!(
                "OpenAPI {version} is not supported; the generator reads 3.0.x and this tool converts 3.1.x"
            ),
        ));
    }
    converter.document(doc, true)
}

struct Converter<'a> {
    name: &'a str,
}

impl Converter<'_> {
    fn err(&self, pointer: &str, reason: impl Into<String>) -> SpecError {
        SpecError::new(self.name, pointer, reason)
    }

    fn document(&self, doc: &mut Value, from_31: bool) -> Result<(), SpecError> {
        let root = doc
            .as_object_mut()
            .ok_or_else(|| self.err("", "the document must be a JSON object"))?;
        if from_31 {
            root.insert("openapi".into(), json!("3.0.3"));
            root.shift_remove("jsonSchemaDialect");
            root.shift_remove("webhooks");
            if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
                info.shift_remove("summary");
                if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
                    license.shift_remove("identifier");
                }
            }
            if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
                components.shift_remove("pathItems");
            }
            root.entry("paths").or_insert_with(|| json!({}));
        }

        if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
            for (path, item) in paths.iter_mut() {
                self.path_item(item, &push("/paths", path))?;
            }
        }
        if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
            let at = "/components";
            for_each_entry(components, "schemas", at, |v, p| self.schema(v, &p))?;
            for_each_entry(components, "parameters", at, |v, p| self.parameter(v, &p))?;
            for_each_entry(components, "headers", at, |v, p| self.parameter(v, &p))?;
            for_each_entry(components, "responses", at, |v, p| self.response(v, &p))?;
            for_each_entry(components, "requestBodies", at, |v, p| {
                self.content_holder(v, &p)
            })?;
        }
        Ok(())
    }

    fn path_item(&self, item: &mut Value, at: &str) -> Result<(), SpecError> {
        let Some(item) = item.as_object_mut() else {
            return Err(self.err(at, "a path item must be an object"));
        };
        self.reference(item, at)?;
        for (key, value) in item.iter_mut() {
            let here = push(at, key);
            match key.as_str() {
                "parameters" => self.parameter_list(value, &here)?,
                "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace" => {
                    self.operation(value, &here)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn operation(&self, op: &mut Value, at: &str) -> Result<(), SpecError> {
        let Some(op) = op.as_object_mut() else {
            return Err(self.err(at, "an operation must be an object"));
        };
        if let Some(params) = op.get_mut("parameters") {
            self.parameter_list(params, &push(at, "parameters"))?;
        }
        if let Some(body) = op.get_mut("requestBody") {
            self.content_holder(body, &push(at, "requestBody"))?;
        }
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            for (status, response) in responses.iter_mut() {
                self.response(response, &push(&push(at, "responses"), status))?;
            }
        }
        Ok(())
    }

    fn parameter_list(&self, params: &mut Value, at: &str) -> Result<(), SpecError> {
        let Some(params) = params.as_array_mut() else {
            return Err(self.err(at, "`parameters` must be an array"));
        };
        for (i, param) in params.iter_mut().enumerate() {
            self.parameter(param, &push(at, &i.to_string()))?;
        }
        Ok(())
    }

    /// A parameter or a header: both carry a `schema` or a `content` map.
    fn parameter(&self, param: &mut Value, at: &str) -> Result<(), SpecError> {
        let Some(param) = param.as_object_mut() else {
            return Err(self.err(at, "a parameter must be an object"));
        };
        self.reference(param, at)?;
        if let Some(schema) = param.get_mut("schema") {
            self.schema(schema, &push(at, "schema"))?;
        }
        self.content(param, at)
    }

    fn response(&self, response: &mut Value, at: &str) -> Result<(), SpecError> {
        let Some(obj) = response.as_object_mut() else {
            return Err(self.err(at, "a response must be an object"));
        };
        if let Some(headers) = obj.get_mut("headers").and_then(Value::as_object_mut) {
            for (name, header) in headers.iter_mut() {
                self.parameter(header, &push(&push(at, "headers"), name))?;
            }
        }
        self.content_holder(response, at)
    }

    /// A request body or response: an optional reference, and a `content` map of media types.
    fn content_holder(&self, holder: &mut Value, at: &str) -> Result<(), SpecError> {
        let Some(holder) = holder.as_object_mut() else {
            return Err(self.err(at, "must be an object"));
        };
        self.reference(holder, at)?;
        self.content(holder, at)
    }

    fn content(&self, holder: &mut Map<String, Value>, at: &str) -> Result<(), SpecError> {
        if let Some(content) = holder.get_mut("content").and_then(Value::as_object_mut) {
            for (media, media_type) in content.iter_mut() {
                let here = push(&push(at, "content"), media);
                if let Some(schema) = media_type.get_mut("schema") {
                    self.schema(schema, &push(&here, "schema"))?;
                }
            }
        }
        Ok(())
    }

    /// Checks that a `$ref` outside a schema is local; 3.1 lets `summary`/`description` sit beside it.
    fn reference(&self, obj: &mut Map<String, Value>, at: &str) -> Result<(), SpecError> {
        if let Some(reference) = obj.get("$ref") {
            self.local_ref(reference, at)?;
            obj.retain(|k, _| k == "$ref");
        }
        Ok(())
    }

    fn local_ref(&self, reference: &Value, at: &str) -> Result<(), SpecError> {
        match reference.as_str() {
            Some(r) if r.starts_with("#/") => Ok(()),
            Some(r) => Err(self.err(
                &push(at, "$ref"),
                format!("`{r}` refers outside this document; bundle it into `components` first"),
            )),
            None => Err(self.err(&push(at, "$ref"), "`$ref` must be a string")),
        }
    }

    fn schema(&self, schema: &mut Value, at: &str) -> Result<(), SpecError> {
        match schema {
            Value::Bool(true) => {
                *schema = json!({});
                return Ok(());
            }
            Value::Bool(false) => {
                *schema = json!({ "not": {} });
                return Ok(());
            }
            Value::Object(_) => {}
            _ => return Err(self.err(at, "a schema must be an object or a boolean")),
        }
        let Value::Object(obj) = schema else {
            return Ok(());
        };

        for (keyword, hint) in UNSUPPORTED {
            if obj.contains_key(*keyword) {
                return Err(self.err(
                    &push(at, keyword),
                    format!("`{keyword}` is not supported: {hint}"),
                ));
            }
        }
        for keyword in DROPPED_KEYWORDS {
            obj.shift_remove(*keyword);
        }

        if let Some(reference) = obj.get("$ref") {
            self.local_ref(reference, at)?;
            obj.retain(|k, _| !REF_ANNOTATIONS.contains(&k.as_str()));
            if obj.len() > 1 {
                let reference = obj.shift_remove("$ref").unwrap_or(Value::Null);
                let all_of = obj.entry("allOf").or_insert_with(|| json!([]));
                match all_of.as_array_mut() {
                    Some(list) => list.insert(0, json!({ "$ref": reference })),
                    None => return Err(self.err(&push(at, "allOf"), "`allOf` must be an array")),
                }
            } else {
                return Ok(());
            }
        }

        if let Some(value) = obj.shift_remove("const") {
            obj.insert("enum".into(), json!([value]));
        }
        if let Some(examples) = obj.shift_remove("examples") {
            match examples {
                Value::Array(list) => {
                    if let Some(first) = list.into_iter().next() {
                        obj.entry("example").or_insert(first);
                    }
                }
                _ => {
                    return Err(self.err(
                        &push(at, "examples"),
                        "`examples` in a schema must be an array",
                    ));
                }
            }
        }
        self.exclusive_bound(obj, at, "exclusiveMinimum", "minimum")?;
        self.exclusive_bound(obj, at, "exclusiveMaximum", "maximum")?;
        if obj
            .shift_remove("contentEncoding")
            .is_some_and(|encoding| encoding == "base64")
        {
            obj.entry("format").or_insert(json!("byte"));
        }
        if obj.shift_remove("contentMediaType").is_some()
            && obj.get("type") == Some(&json!("string"))
        {
            obj.entry("format").or_insert(json!("binary"));
        }

        self.type_list(obj, at)?;
        self.null_arms(obj, at, "anyOf")?;
        self.null_arms(obj, at, "oneOf")?;

        // Recurse into subschemas.
        if let Some(props) = obj.get_mut("properties") {
            let Some(props) = props.as_object_mut() else {
                return Err(self.err(&push(at, "properties"), "`properties` must be an object"));
            };
            for (name, sub) in props.iter_mut() {
                self.schema(sub, &push(&push(at, "properties"), name))?;
            }
        }
        if let Some(items) = obj.get_mut("items") {
            if items.is_array() {
                return Err(self.err(
                    &push(at, "items"),
                    "array-form `items` (a tuple) has no OpenAPI 3.0 form",
                ));
            }
            self.schema(items, &push(at, "items"))?;
        }
        if let Some(extra) = obj
            .get_mut("additionalProperties")
            .filter(|extra| !extra.is_boolean())
        {
            self.schema(extra, &push(at, "additionalProperties"))?;
        }
        if let Some(not) = obj.get_mut("not") {
            self.schema(not, &push(at, "not"))?;
        }
        for keyword in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = obj.get_mut(keyword) {
                let Some(list) = list.as_array_mut() else {
                    return Err(
                        self.err(&push(at, keyword), format!("`{keyword}` must be an array"))
                    );
                };
                for (i, sub) in list.iter_mut().enumerate() {
                    self.schema(sub, &push(&push(at, keyword), &i.to_string()))?;
                }
            }
        }
        Ok(())
    }

    fn exclusive_bound(
        &self,
        obj: &mut Map<String, Value>,
        at: &str,
        exclusive: &str,
        inclusive: &str,
    ) -> Result<(), SpecError> {
        match obj.get(exclusive) {
            None | Some(Value::Bool(_)) => Ok(()),
            Some(Value::Number(bound)) => {
                let bound = bound.clone();
                obj.insert(inclusive.into(), Value::Number(bound));
                obj.insert(exclusive.into(), json!(true));
                Ok(())
            }
            Some(_) => Err(self.err(
                &push(at, exclusive),
                format!("`{exclusive}` must be a number"),
            )),
        }
    }

    fn type_list(&self, obj: &mut Map<String, Value>, at: &str) -> Result<(), SpecError> {
        let types = match obj.get("type") {
            Some(Value::Array(types)) => types.clone(),
            Some(Value::String(t)) if t == "null" => vec![json!("null")],
            Some(Value::String(_)) | None => return Ok(()),
            Some(_) => {
                return Err(self.err(
                    &push(at, "type"),
                    "`type` must be a string or an array of strings",
                ));
            }
        };
        let mut names = Vec::new();
        for (i, t) in types.iter().enumerate() {
            match t.as_str() {
                Some(name) if !names.contains(&name) => names.push(name),
                Some(_) => {}
                None => {
                    return Err(self.err(
                        &push(&push(at, "type"), &i.to_string()),
                        "a type name must be a string",
                    ));
                }
            }
        }
        let nullable = names.contains(&"null");
        names.retain(|t| *t != "null");
        obj.shift_remove("type");
        if nullable {
            obj.insert("nullable".into(), json!(true));
        }
        match names.as_slice() {
            [] if nullable => {
                obj.insert("enum".into(), json!([null]));
            }
            [] => return Err(self.err(&push(at, "type"), "an empty type list accepts nothing")),
            [one] => {
                obj.insert("type".into(), json!(one));
            }
            many => {
                if obj.contains_key("anyOf") {
                    return Err(self.err(
                        &push(at, "type"),
                        "a list of several types beside `anyOf` has no OpenAPI 3.0 form; fold the types into the `anyOf`",
                    ));
                }
                let arms: Vec<Value> = many.iter().map(|t| json!({ "type": t })).collect();
                obj.insert("anyOf".into(), Value::Array(arms));
            }
        }
        Ok(())
    }

    fn null_arms(
        &self,
        obj: &mut Map<String, Value>,
        at: &str,
        keyword: &str,
    ) -> Result<(), SpecError> {
        let Some(arms) = obj.get_mut(keyword) else {
            return Ok(());
        };
        let Some(list) = arms.as_array_mut() else {
            return Err(self.err(&push(at, keyword), format!("`{keyword}` must be an array")));
        };
        let before = list.len();
        list.retain(|arm| !is_null_schema(arm));
        if list.len() == before {
            return Ok(());
        }
        obj.insert("nullable".into(), json!(true));
        let remaining = obj
            .get(keyword)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match remaining.as_slice() {
            [] => {
                obj.shift_remove(keyword);
                obj.insert("enum".into(), json!([null]));
            }
            [single] if single.get("$ref").is_some() => {
                obj.shift_remove(keyword);
                if obj.contains_key("allOf") {
                    return Err(self.err(
                        &push(at, keyword),
                        "cannot fold a nullable reference beside an existing `allOf`",
                    ));
                }
                obj.insert("allOf".into(), json!([single]));
            }
            [Value::Object(single)]
                if single
                    .keys()
                    .all(|k| !obj.contains_key(k) || k == "description") =>
            {
                let single = single.clone();
                obj.shift_remove(keyword);
                for (k, v) in single {
                    obj.entry(k).or_insert(v);
                }
                // The folded arm may itself carry 3.1 constructs.
                self.type_list(obj, at)?;
            }
            _ => {}
        }
        Ok(())
    }
}

fn is_null_schema(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(types)) => types.iter().all(|t| t == "null"),
        _ => {
            schema.get("enum") == Some(&json!([null])) || schema.get("const") == Some(&Value::Null)
        }
    }
}

fn for_each_entry(
    parent: &mut Map<String, Value>,
    section: &str,
    at: &str,
    mut f: impl FnMut(&mut Value, String) -> Result<(), SpecError>,
) -> Result<(), SpecError> {
    if let Some(entries) = parent.get_mut(section).and_then(Value::as_object_mut) {
        let here = push(at, section);
        for (name, value) in entries.iter_mut() {
            f(value, push(&here, name))?;
        }
    }
    Ok(())
}
