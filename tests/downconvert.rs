//! The OpenAPI 3.1 → 3.0.3 down-converter: a snapshot of its output on a document that uses every
//! construct it handles, and the errors it gives for constructs 3.0 cannot express.

use serde_json::{Value, json};
use xtask::downconvert::to_openapi_30;

fn fixture() -> Value {
    let text = include_str!("fixtures/openapi31/every_construct.json");
    serde_json::from_str(text).expect("fixture is valid JSON")
}

#[test]
fn converts_every_31_construct() {
    let mut doc = fixture();
    to_openapi_30(&mut doc, "every_construct.json").expect("converts");
    insta::assert_json_snapshot!("every_construct_as_303", doc);
}

#[test]
fn the_converted_fixture_parses_as_openapi_30() {
    let mut doc = fixture();
    to_openapi_30(&mut doc, "every_construct.json").expect("converts");
    xtask::validate::validate(&doc, "every_construct.json").expect("a valid 3.0 document");
}

#[test]
fn converting_twice_changes_nothing() {
    let mut once = fixture();
    to_openapi_30(&mut once, "f").expect("converts");
    let mut twice = once.clone();
    to_openapi_30(&mut twice, "f").expect("a 3.0 document passes through");
    assert_eq!(once, twice);
}

fn minimal(schema: Value) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": { "title": "t", "version": "1" },
        "paths": {},
        "components": { "schemas": { "S": schema } }
    })
}

#[test]
fn unsupported_constructs_name_their_pointer_and_a_fix() {
    let cases = [
        (
            json!({ "type": "array", "prefixItems": [{ "type": "string" }] }),
            "/components/schemas/S/prefixItems",
            "tuple",
        ),
        (
            json!({ "if": { "type": "string" }, "then": {} }),
            "/components/schemas/S/if",
            "oneOf",
        ),
        (
            json!({ "type": "object", "unevaluatedProperties": false }),
            "/components/schemas/S/unevaluatedProperties",
            "additionalProperties",
        ),
        (
            json!({ "type": "object", "patternProperties": { "^x": {} } }),
            "/components/schemas/S/patternProperties",
            "additionalProperties",
        ),
        (
            json!({ "$defs": { "A": {} } }),
            "/components/schemas/S/$defs",
            "components/schemas",
        ),
        (
            json!({ "type": "object", "properties": { "a~b/c": { "dependentRequired": {} } } }),
            "/components/schemas/S/properties/a~0b~1c/dependentRequired",
            "no OpenAPI 3.0 form",
        ),
        (
            json!({ "type": "array", "items": [{ "type": "string" }] }),
            "/components/schemas/S/items",
            "tuple",
        ),
        (
            json!({ "$ref": "other.json#/components/schemas/X" }),
            "/components/schemas/S/$ref",
            "bundle",
        ),
        (
            json!({ "type": [] }),
            "/components/schemas/S/type",
            "accepts nothing",
        ),
        (
            json!({ "type": 7 }),
            "/components/schemas/S/type",
            "string or an array",
        ),
        (
            json!({ "type": "number", "exclusiveMinimum": "1" }),
            "/components/schemas/S/exclusiveMinimum",
            "must be a number",
        ),
        (
            json!({ "anyOf": [{ "type": "string" }], "type": ["string", "integer"] }),
            "/components/schemas/S/type",
            "fold",
        ),
        (
            json!("a string"),
            "/components/schemas/S",
            "object or a boolean",
        ),
    ];
    for (schema, pointer, hint) in cases {
        let mut doc = minimal(schema.clone());
        let e = to_openapi_30(&mut doc, "spec.json").expect_err(&schema.to_string());
        assert_eq!(e.pointer, pointer, "{schema}: {e}");
        assert!(
            e.reason.contains(hint),
            "{schema}: `{e}` should mention `{hint}`"
        );
        assert!(e.to_string().starts_with("spec.json at "), "{e}");
    }
}

#[test]
fn other_openapi_versions_are_refused() {
    for (doc, pointer) in [
        (json!({ "openapi": "2.0" }), "/openapi"),
        (json!({ "swagger": "2.0" }), "/openapi"),
        (json!([1, 2]), "/openapi"),
    ] {
        let mut doc = doc;
        let e = to_openapi_30(&mut doc, "spec.json").expect_err("refused");
        assert_eq!(e.pointer, pointer, "{e}");
    }
}
