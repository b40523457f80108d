//! The generation pipeline behind `cargo xtask generate`:
//!
//! 1. read one API's upstream-form spec (e.g. `openapi/polyai-data.json`, OpenAPI 3.1) and our
//!    corrections to it (e.g. `openapi/corrections.overlay.json`, OpenAPI Overlay 1.0);
//! 2. [`overlay::apply`] the corrections (a `remove` with nothing to remove passes and is reported
//!    in [`Output::nothing_to_do`]);
//! 3. [`downconvert::to_openapi_30`]: OpenAPI 3.1 → 3.0.3, which progenitor 0.15 reads (a 3.0
//!    document passes through, checked);
//! 4. [`validate::validate`]: refs resolve, unique operationIds, one success and one error body type
//!    per operation, supported media types; parse into the generator's model;
//! 5. [`codegen::generate`]: progenitor, then prettyplease and rustfmt.
//!
//! The pipeline runs once per API of [`Layout::all`]; each has its own four files.
//!
//! Every failure is a [`SpecError`] naming the document, a JSON pointer and the reason.

pub mod codegen;
pub mod diff;
pub mod downconvert;
pub mod error;
pub mod overlay;
pub mod validate;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use error::SpecError;

/// Where the pipeline reads and writes for one API, relative to the workspace root.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Short name of the API, e.g. `data`.
    pub api: &'static str,
    /// The upstream-form OpenAPI 3.1 document.
    pub spec: PathBuf,
    /// Our corrections, an Overlay 1.0 document.
    pub overlay: PathBuf,
    /// The corrected, down-converted 3.0.3 document, checked in for review.
    pub normalized: PathBuf,
    /// The generated raw client.
    pub generated: PathBuf,
}

impl Layout {
    /// The Data API (`/v1/agents/...`), rooted at `root`: the raw crate's top-level module.
    pub fn new(root: &Path) -> Self {
        Layout {
            api: "data",
            spec: root.join("openapi/polyai-data.json"),
            overlay: root.join("openapi/corrections.overlay.json"),
            normalized: root.join("openapi/polyai-data.normalized.json"),
            generated: root.join("crates/polyai-data-raw/src/generated.rs"),
        }
    }

    /// The Conversations API v3 (`/v3/{account_id}/{project_id}/conversations`), rooted at `root`:
    /// the raw crate's `conversations_v3` module.
    pub fn conversations_v3(root: &Path) -> Self {
        Layout {
            api: "conversations-v3",
            spec: root.join("openapi/conversations-v3.json"),
            overlay: root.join("openapi/conversations-v3.overlay.json"),
            normalized: root.join("openapi/conversations-v3.normalized.json"),
            generated: root.join("crates/polyai-data-raw/src/conversations_v3.rs"),
        }
    }

    /// Every API the workspace generates, in the order `cargo xtask generate` runs them.
    pub fn all(root: &Path) -> Vec<Self> {
        vec![Layout::new(root), Layout::conversations_v3(root)]
    }
}

/// What the pipeline produces.
#[derive(Debug, Clone)]
pub struct Output {
    /// The normalized 3.0.3 document as pretty JSON with a trailing newline.
    pub normalized: String,
    /// The generated Rust source.
    pub code: String,
    /// The overlay's `remove` actions that selected nothing in this document: passed, nothing done.
    /// `cargo xtask generate` prints one line for each.
    pub nothing_to_do: Vec<overlay::NothingToDo>,
}

/// Reads a JSON file, naming it in errors.
pub fn read_json(path: &Path) -> Result<Value, SpecError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| SpecError::new(&name, "", format!("cannot read it: {e}")))?;
    parse_json(&text, &name)
}

/// Parses the text of a document called `name`. Text that is not JSON is an error at the JSON
/// pointer of the object or array where it stops being JSON, with the parser's reason, line and
/// column (e.g. `at /paths/~1x/get/parameters: not valid JSON: trailing comma at line 141 column 9`).
pub fn parse_json(text: &str, name: &str) -> Result<Value, SpecError> {
    serde_json::from_str(text).map_err(|e| {
        let offset = byte_offset(text, e.line(), e.column());
        SpecError::new(
            name,
            pointer_at(text, offset),
            format!("not valid JSON: {e}"),
        )
    })
}

/// The byte offset of serde_json's 1-based `line` and `column` (a column counts bytes).
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(text.len())
}

/// The JSON pointer of the object or array open at `offset` in `text`, and of the member being read
/// when the offset falls on an object member's value. The text before `offset` is taken as JSON;
/// what follows it may not be.
fn pointer_at(text: &str, offset: usize) -> String {
    enum Open {
        /// The member whose value is being read, if its key has been read.
        Object(Option<String>),
        /// How many items came before the one being read.
        Array(usize),
    }
    let mut open: Vec<Open> = Vec::new();
    let bytes = text.as_bytes();
    let end = offset.min(bytes.len());
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let key_expected = matches!(open.last(), Some(Open::Object(None)));
                if key_expected && i < end {
                    let raw = text.get(start..=i).unwrap_or("\"\"");
                    let key =
                        serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned());
                    if let Some(last) = open.last_mut() {
                        *last = Open::Object(Some(key));
                    }
                }
            }
            b'{' => open.push(Open::Object(None)),
            b'[' => open.push(Open::Array(0)),
            b'}' | b']' => {
                open.pop();
            }
            b',' => match open.last_mut() {
                Some(Open::Object(key)) => *key = None,
                Some(Open::Array(index)) => *index += 1,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    let last = open.len().saturating_sub(1);
    let mut pointer = String::new();
    for (depth, frame) in open.iter().enumerate() {
        match frame {
            Open::Object(Some(key)) => pointer = error::push(&pointer, key),
            // The innermost array's item is named only when the offset is inside one.
            Open::Array(index) if depth < last => {
                pointer = error::push(&pointer, &index.to_string())
            }
            _ => {}
        }
    }
    pointer
}

/// Applies the corrections and down-converts: the document the generator and the tests read, and
/// the `remove` actions that had nothing to do in it.
pub fn normalize(
    mut spec: Value,
    overlay: &Value,
    spec_name: &str,
    overlay_name: &str,
) -> Result<(Value, Vec<overlay::NothingToDo>), SpecError> {
    let nothing_to_do = overlay::apply(&mut spec, overlay, overlay_name)?;
    downconvert::to_openapi_30(&mut spec, spec_name)?;
    Ok((spec, nothing_to_do))
}

/// Runs the whole pipeline on in-memory documents.
pub fn run(
    spec: Value,
    overlay: &Value,
    spec_name: &str,
    overlay_name: &str,
) -> Result<Output, SpecError> {
    let (normalized, nothing_to_do) = normalize(spec, overlay, spec_name, overlay_name)?;
    let name = format!("{spec_name} (corrected, as OpenAPI 3.0.3)");
    let parsed = validate::validate(&normalized, &name)?;
    let code = codegen::generate(&parsed, &name, &codegen::header(spec_name, overlay_name))?;
    let mut text = serde_json::to_string_pretty(&normalized)
        .map_err(|e| SpecError::new(&name, "", format!("cannot serialize: {e}")))?;
    text.push('\n');
    Ok(Output {
        normalized: text,
        code,
        nothing_to_do,
    })
}

/// Runs the pipeline on the files of `layout`.
pub fn run_files(layout: &Layout) -> Result<Output, SpecError> {
    let spec = read_json(&layout.spec)?;
    let overlay = read_json(&layout.overlay)?;
    run(
        spec,
        &overlay,
        &display(&layout.spec),
        &display(&layout.overlay),
    )
}

fn display(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| format!("openapi/{}", n.to_string_lossy()),
    )
}

#[cfg(test)]
mod tests {
    use super::parse_json;

    #[test]
    fn text_that_is_not_json_is_located_by_pointer_line_and_column() {
        let text = "{\n  \"paths\": {\n    \"/a/{id}\": {\n      \"parameters\": [\n        {\"name\": \"id\"},\n      ],\n";
        let e = parse_json(text, "doc.json").unwrap_err();
        assert_eq!(e.pointer, "/paths/~1a~1{id}/parameters");
        assert_eq!(
            e.reason,
            "not valid JSON: trailing comma at line 6 column 7"
        );
        assert_eq!(
            e.to_string(),
            "doc.json at /paths/~1a~1{id}/parameters: not valid JSON: trailing comma at line 6 column 7"
        );
        for (text, pointer) in [
            ("{ \"openapi\": ", "/openapi"),
            ("{\"a\": [1, {\"b\\\"c\": tru}]}", "/a/1/b\"c"),
            ("{\"a\": 1,}", ""),
            ("[1, 2", ""),
            ("nope", ""),
        ] {
            let e = parse_json(text, "d").unwrap_err();
            assert_eq!(e.pointer, pointer, "{text}: {e}");
            assert!(e.reason.starts_with("not valid JSON: "), "{e}");
        }
        assert!(parse_json("{\"a\": [1]}", "d").is_ok());
    }
}
