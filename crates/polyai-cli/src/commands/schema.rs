//! `polyai schema`: the JSON Schema of every record `polyai` writes, generated from the types
//! that write them (`schemars`), so the schema and the output cannot drift apart. The same
//! schemas are checked in under `schemas/` (`cargo xtask generate` writes them, `--check`
//! fails when they are stale) and described in `docs/records.md`.

use std::io::Write;
use std::path::Path;

use schemars::schema::RootSchema;

use crate::cli::{OutputFormat, SchemaArgs};
use crate::exit::CliError;
use crate::output::{Table, stdout, stdout_error, write_json};

/// One record `polyai` writes, and where.
struct Entry {
    name: &'static str,
    written_by: &'static str,
    schema: fn() -> RootSchema,
}

/// Every record, by name.
fn entries() -> Vec<Entry> {
    use crate::records::{AddedAnnotations, ChatTurn, SavedNote, SavedRecording, SyncSummary};
    vec![
        Entry {
            name: "conversation",
            written_by: "conversations list -O jsonl (each line), conversations get -O json, export (each line of conversations.jsonl)",
            schema: || schemars::schema_for!(polyai_data::record::ConversationRecord),
        },
        Entry {
            name: "saved-recording",
            written_by: "conversations audio -O json",
            schema: || schemars::schema_for!(SavedRecording),
        },
        Entry {
            name: "added-annotations",
            written_by: "conversations annotate -O json",
            schema: || schemars::schema_for!(AddedAnnotations),
        },
        Entry {
            name: "saved-note",
            written_by: "conversations note -O json",
            schema: || schemars::schema_for!(SavedNote),
        },
        Entry {
            name: "chat-turn",
            written_by: "chat send -O json (an array of them), chat -O jsonl (one per line)",
            schema: || schemars::schema_for!(ChatTurn),
        },
        Entry {
            name: "chat-test-report",
            written_by: "chat test -O json",
            schema: || schemars::schema_for!(crate::scenario::report::Report<'static>),
        },
        Entry {
            name: "chat-test-result",
            written_by: "chat test -O jsonl (one scenario per line, as each ends)",
            schema: || schemars::schema_for!(crate::scenario::run::ScenarioResult),
        },
        Entry {
            name: "reconcile-report",
            written_by: "reconcile -O json",
            schema: || schemars::schema_for!(crate::reconcile::report::ReportRecord<'static>),
        },
        Entry {
            name: "reconcile-finding",
            written_by: "reconcile -O jsonl (one per line), reconcile -O csv (one per row)",
            schema: || schemars::schema_for!(crate::reconcile::report::FindingRecord<'static>),
        },
        Entry {
            name: "sync-summary",
            written_by: "sync -O json",
            schema: || schemars::schema_for!(SyncSummary),
        },
    ]
}

/// Keys a record leaves out when they have no value; every other key is always written (as
/// `null` when the fact is absent), so the schemas require them.
const OMITTED_WHEN_ABSENT: &[&str] = &["raw"];

/// The schema of `entry` as the text written to `schemas/NAME.schema.json`.
fn rendered(entry: &Entry) -> Result<String, CliError> {
    let mut schema = (entry.schema)();
    schema.schema.metadata().id = Some(format!(
        "https://github.com/polyai-rs/polyai-rs/blob/main/schemas/{}.schema.json",
        entry.name
    ));
    let objects = std::iter::once(&mut schema.schema).chain(
        schema.definitions.values_mut().filter_map(|d| match d {
            schemars::schema::Schema::Object(o) => Some(o),
            schemars::schema::Schema::Bool(_) => None,
        }),
    );
    for object in objects {
        if let Some(validation) = object.object.as_deref_mut() {
            let keys: Vec<String> = validation.properties.keys().cloned().collect();
            validation.required.extend(
                keys.into_iter()
                    .filter(|k| !OMITTED_WHEN_ABSENT.contains(&k.as_str())),
            );
        }
    }
    serde_json::to_string_pretty(&schema)
        .map(|text| text + "\n")
        .map_err(|e| CliError::Other(format!("encoding the schema of {}: {e}", entry.name)))
}

/// `polyai schema`.
pub fn run(args: &SchemaArgs, format: OutputFormat) -> Result<(), CliError> {
    let entries = entries();
    if let Some(dir) = &args.write_to {
        return write_all(&entries, dir);
    }
    let mut out = stdout();
    let Some(name) = &args.name else {
        return match format {
            OutputFormat::Json | OutputFormat::Jsonl => {
                let names: Vec<serde_json::Value> = entries
                    .iter()
                    .map(|e| serde_json::json!({"name": e.name, "written_by": e.written_by}))
                    .collect();
                write_json(&mut out, &names)
            }
            _ => {
                let mut table = Table::new(["NAME", "WRITTEN BY"]);
                for e in &entries {
                    table.push(vec![e.name.to_owned(), e.written_by.to_owned()]);
                }
                table.write_as(&mut out, format)
            }
        }
        .map_err(stdout_error);
    };
    let entry = entries.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = entries.iter().map(|e| e.name).collect();
        CliError::Usage(format!(
            "no record is named {name:?}; the records are: {}",
            names.join(", ")
        ))
    })?;
    out.write_all(rendered(entry)?.as_bytes())
        .map_err(stdout_error)
}

/// Writes every schema to `dir/NAME.schema.json` (for `cargo xtask generate`).
fn write_all(entries: &[Entry], dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::file("creating", dir, e))?;
    for entry in entries {
        let path = dir.join(format!("{}.schema.json", entry.name));
        std::fs::write(&path, rendered(entry)?).map_err(|e| CliError::file("writing", &path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_every_schema_is_described_in_the_docs() {
        let docs = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/records.md"),
        )
        .unwrap_or_else(|e| panic!("docs/records.md: {e}"));
        for entry in entries() {
            let schema = serde_json::to_value((entry.schema)()).unwrap_or_default();
            let mut objects = vec![&schema];
            if let Some(defs) = schema.get("definitions").and_then(|d| d.as_object()) {
                objects.extend(defs.values());
            }
            for object in objects {
                for field in object
                    .get("properties")
                    .and_then(|p| p.as_object())
                    .into_iter()
                    .flat_map(|p| p.keys())
                {
                    assert!(
                        docs.contains(&format!("`{field}`")),
                        "{}: field `{field}` is not described in docs/records.md",
                        entry.name
                    );
                }
            }
        }
    }
}
