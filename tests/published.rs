//! Every version PolyAI has published of its two documents, regenerated: the Data API's three and
//! the Conversations API v3's twenty-two, kept verbatim in `tests/fixtures/published/` (their git
//! object ids are checked) and named, with their source commits, in
//! `tests/fixtures/published/index.json`.
//!
//! - Each version regenerates through the pipeline of `cargo xtask generate` with the corrections
//!   checked in today, or fails with the one error its index entry records: the document's
//!   construct the pipeline cannot take, by JSON pointer. A correction with nothing to do in a
//!   version (a `remove` of what it lacks) passes; which ones do is recorded too.
//! - `cargo xtask diff` runs between each version and the next; the whole history is a snapshot.
//! - What each version lacks of the document the client is generated from is listed in
//!   `openapi/README.md`, and this test computes that list with the same diff.
//!
//! All of that runs in-process on the xtask library, in a few seconds. One test then compiles the
//! client of every version that regenerates, as modules of one copy of `polyai-data-raw`: a single
//! build of the two copied crates, not one per version.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use xtask::Layout;
use xtask::diff::{Change, Kind};

#[path = "common/workspace.rs"]
mod workspace;

use workspace::root;

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/published")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    repository: String,
    branch: String,
    /// How the versions were extracted, for people.
    how: String,
    documents: Vec<Document>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    /// The folder of its versions, e.g. `conversations-v3`.
    name: String,
    /// The [`Layout::api`] whose corrections apply to it.
    api: String,
    /// The oldest version whose client `polyai-data` builds against (older ones lack what its calls
    /// name), as `file`.
    polyai_data_builds_from: String,
    /// Oldest first.
    versions: Vec<Version>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Version {
    /// Relative to `tests/fixtures/published/`.
    file: String,
    /// Its path in the repository.
    path: String,
    commit: String,
    /// The commit's author date, RFC 3339.
    date: String,
    /// The file's git object id.
    blob: String,
    subject: String,
    /// `regenerates` or `fails`.
    result: String,
    /// When it regenerates: the overlay actions that had nothing to do in it.
    #[serde(default)]
    nothing_to_do: Option<Vec<usize>>,
    /// When it fails: the error, as `cargo xtask generate` prints it.
    #[serde(default)]
    error: Option<String>,
}

fn index() -> Index {
    let text = std::fs::read_to_string(fixtures().join("index.json")).expect("index.json");
    serde_json::from_str(&text).expect("index.json matches the Index type")
}

fn layout(api: &str) -> Layout {
    layout_in(root(), api)
}

/// The overlay of `document`, and its name as `cargo xtask generate` shows it.
fn overlay(document: &Document) -> (Value, String) {
    let layout = layout(&document.api);
    let name = format!(
        "openapi/{}",
        layout
            .overlay
            .file_name()
            .expect("a file")
            .to_string_lossy()
    );
    (xtask::read_json(&layout.overlay).expect("overlay"), name)
}

/// The version's document as published, parsed (or the error that it is not JSON).
fn parse(version: &Version) -> Result<Value, xtask::SpecError> {
    let text = std::fs::read_to_string(fixtures().join(&version.file)).expect("fixture");
    xtask::parse_json(&text, &version.file)
}

/// What regenerating one version gave, in the index's terms.
#[derive(Debug, PartialEq)]
enum Outcome {
    Regenerates { nothing_to_do: Vec<usize> },
    Fails { error: String },
}

/// Runs the pipeline of `cargo xtask generate` on the version with `overlay`.
fn generate(
    version: &Version,
    overlay: &Value,
    overlay_name: &str,
) -> Result<xtask::Output, xtask::SpecError> {
    parse(version).and_then(|spec| xtask::run(spec, overlay, &version.file, overlay_name))
}

fn regenerate(version: &Version, overlay: &Value, overlay_name: &str) -> Outcome {
    match generate(version, overlay, overlay_name) {
        Ok(output) => {
            assert!(
                output
                    .code
                    .starts_with(&xtask::codegen::header(&version.file, overlay_name)),
                "{}: generated code without its header",
                version.file
            );
            Outcome::Regenerates {
                nothing_to_do: output.nothing_to_do.iter().map(|n| n.action).collect(),
            }
        }
        Err(e) => Outcome::Fails {
            error: e.to_string(),
        },
    }
}

fn expected(version: &Version) -> Outcome {
    match (
        version.result.as_str(),
        &version.nothing_to_do,
        &version.error,
    ) {
        ("regenerates", Some(nothing), None) => Outcome::Regenerates {
            nothing_to_do: nothing.clone(),
        },
        ("fails", None, Some(error)) => Outcome::Fails {
            error: error.clone(),
        },
        _ => panic!(
            "{}: `result` is `regenerates` with `nothing_to_do`, or `fails` with `error`",
            version.file
        ),
    }
}

/// The index names each fixture by date and commit, holds every fixture, and keeps each document's
/// versions in the order they were published.
#[test]
fn the_index_names_every_fixture_and_its_source() {
    let index = index();
    assert_eq!(
        index.repository,
        "https://github.com/PolyAI-LDN/polyai-mintlify-doc"
    );
    assert_eq!(index.branch, "main");
    assert!(index.how.contains("git show"), "{}", index.how);
    let counts: Vec<(&str, usize)> = index
        .documents
        .iter()
        .map(|d| (d.name.as_str(), d.versions.len()))
        .collect();
    assert_eq!(counts, [("data-api", 3), ("conversations-v3", 22)]);
    for document in &index.documents {
        let mut listed: Vec<String> = document.versions.iter().map(|v| v.file.clone()).collect();
        let mut on_disk: Vec<String> = std::fs::read_dir(fixtures().join(&document.name))
            .expect("fixture folder")
            .map(|e| {
                let name = e.expect("entry").file_name().to_string_lossy().into_owned();
                format!("{}/{name}", document.name)
            })
            .collect();
        listed.sort();
        on_disk.sort();
        assert_eq!(listed, on_disk, "every fixture is in the index, once");
        for pair in document.versions.windows(2) {
            assert!(
                pair[0].date < pair[1].date,
                "{} before {}",
                pair[0].file,
                pair[1].file
            );
        }
        for version in &document.versions {
            let hex = |s: &str| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
            assert!(
                hex(&version.commit) && hex(&version.blob),
                "{}",
                version.file
            );
            assert_eq!(
                version.file,
                format!(
                    "{}/{}-{}.json",
                    document.name,
                    &version.date[..10],
                    &version.commit[..7]
                )
            );
            assert!(version.path.starts_with("api-reference/") && !version.subject.is_empty());
            let bytes = std::fs::read(fixtures().join(&version.file)).expect("fixture");
            assert_eq!(
                git_blob_id(&bytes),
                version.blob,
                "{} is not the file PolyAI published (it must stay verbatim)",
                version.file
            );
            expected(version);
        }
    }
}

/// The id git gives a file's content (`git hash-object FILE`): the SHA-1 of `blob LEN\0CONTENT`.
fn git_blob_id(content: &[u8]) -> String {
    let mut message = format!("blob {}\0", content.len()).into_bytes();
    message.extend_from_slice(content);
    let bit_length = (message.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_length.to_be_bytes());
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    for block in message.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
        }
        for (state, value) in h.iter_mut().zip([a, b, c, d, e]) {
            *state = state.wrapping_add(value);
        }
    }
    h.iter().map(|v| format!("{v:08x}")).collect()
}

#[test]
fn git_blob_ids_are_computed_as_git_does() {
    // `printf '' | git hash-object --stdin` and `printf 'hello\n' | git hash-object --stdin`.
    assert_eq!(git_blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    assert_eq!(
        git_blob_id(b"hello\n"),
        "ce013625030ba8dba906f756967f9e9ca394464a"
    );
}

/// Each version regenerates with today's corrections, or fails with the error its entry records.
#[test]
fn every_published_version_regenerates_or_fails_as_recorded() {
    let mut wrong = String::new();
    for document in index().documents {
        let (overlay, overlay_name) = overlay(&document);
        for version in &document.versions {
            let got = regenerate(version, &overlay, &overlay_name);
            if got != expected(version) {
                let _ = writeln!(wrong, "{}: {got:?}", version.file);
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "not as tests/fixtures/published/index.json records:\n{wrong}"
    );
}

/// `openapi/` holds the newest version of each document that regenerates, in PolyAI's structure
/// (its prose may be ours): `cargo xtask diff` finds no structural difference.
#[test]
fn the_checked_in_documents_are_the_newest_that_regenerate() {
    for document in index().documents {
        let newest = document
            .versions
            .iter()
            .rev()
            .find(|v| v.result == "regenerates")
            .expect("a version that regenerates");
        let layout = layout(&document.api);
        let ours = xtask::read_json(&layout.spec).expect("checked-in spec");
        let published = parse(newest).expect("regenerates, so parses");
        let diff = xtask::diff::changelog(&published, &ours, &newest.file, "ours");
        assert!(diff.contains("No structural difference."), "{diff}");
    }
}

/// `cargo xtask diff` from each version to the next, for both documents: PolyAI's history in
/// structure. A version that is not JSON is reported by the pipeline test; the diff bridges it.
#[test]
fn consecutive_versions_diff() {
    let mut history = String::new();
    for document in index().documents {
        let mut previous: Option<(&Version, Value)> = None;
        for version in &document.versions {
            let doc = match parse(version) {
                Ok(doc) => doc,
                Err(e) => {
                    let _ = writeln!(
                        history,
                        "`{}` is left out: {e}. The next diff starts from the version before it.\n",
                        version.file
                    );
                    continue;
                }
            };
            if let Some((old, before)) = &previous {
                history.push_str(&xtask::diff::changelog(
                    before,
                    &doc,
                    &old.file,
                    &version.file,
                ));
                history.push('\n');
            }
            previous = Some((version, doc));
        }
    }
    insta::assert_snapshot!("published_history", history);
}

/// `doc` with every `$ref` to a component schema replaced by the schema, and the schema catalogue
/// dropped: a field is then compared where the client meets it (`response 200 application/json
/// .conversations[].id`), whatever the schema holding it is called in one version or another.
fn inlined(doc: &Value) -> Value {
    fn walk(root: &Value, value: &Value, depth: usize) -> Value {
        match value {
            Value::Object(map) => {
                let target = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .filter(|r| r.starts_with("#/components/schemas/") && depth < 32)
                    .and_then(|r| root.pointer(&r[1..]));
                match target {
                    Some(schema) => walk(root, schema, depth + 1),
                    None => Value::Object(
                        map.iter()
                            .map(|(k, v)| (k.clone(), walk(root, v, depth)))
                            .collect(),
                    ),
                }
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| walk(root, v, depth)).collect())
            }
            other => other.clone(),
        }
    }
    let mut out = walk(doc, doc, 0);
    if let Some(components) = out.get_mut("components").and_then(Value::as_object_mut) {
        components.shift_remove("schemas");
    }
    out
}

/// One line of what a version lacks of the document the client is generated from (both corrected),
/// has otherwise, or has besides, from the diff between them: parameters, fields of the success
/// bodies, fields of the error bodies (all statuses alike), schema names (the generated types'
/// names), and the rest as the diff names it. Grouped by operation where `current` has several.
fn against_client(version: &Value, current: &Value) -> String {
    #[derive(Default)]
    struct Lists {
        parameters: Vec<String>,
        fields: Vec<String>,
        error_fields: Vec<String>,
        other: Vec<String>,
        otherwise: Vec<String>,
    }
    fn push(list: &mut Vec<String>, item: String) {
        if !list.contains(&item) {
            list.push(item);
        }
    }
    let mut sections: BTreeMap<String, Lists> = BTreeMap::new();
    let mut schemas = Vec::new();
    let mut besides = Vec::new();
    for change in xtask::diff::changes(&inlined(version), &inlined(current)) {
        if change.kind == Kind::Removed {
            if change.section == "Operations" {
                push(&mut besides, format!("`{}`", change.item));
            }
            continue;
        }
        let lists = sections.entry(change.section.clone()).or_default();
        // `parameter query cursor` → `cursor`; `response 200 application/json.cursor` → `cursor`.
        let (list, name) = if let Some(rest) = change.item.strip_prefix("parameter ") {
            let name = rest.split_once(' ').map_or(rest, |(_, name)| name);
            (&mut lists.parameters, name.to_owned())
        } else if let Some((status, field)) = change
            .item
            .strip_prefix("response ")
            .and_then(|rest| rest.split_once(' '))
            .and_then(|(status, rest)| rest.split_once('.').map(|(_, field)| (status, field)))
        {
            let list = if status.starts_with('2') {
                &mut lists.fields
            } else {
                &mut lists.error_fields
            };
            (list, field.to_owned())
        } else {
            (&mut lists.other, change.item.clone())
        };
        if change.kind == Kind::Added {
            push(list, format!("`{name}`"));
        } else {
            push(&mut lists.otherwise, otherwise(&name, &change));
        }
    }
    for change in xtask::diff::changes(version, current) {
        let whole_schema = !change.item.contains(['.', '{', '[', ' ']);
        if change.section == "Schemas" && change.kind == Kind::Added && whole_schema {
            push(&mut schemas, format!("`{}`", change.item));
        }
    }
    let operations = current["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.keys())
        .filter(|key| {
            [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&key.as_str())
        })
        .count();
    let mut parts = Vec::new();
    for (section, lists) in sections {
        let mut these = Vec::new();
        for (what, list) in [
            ("parameters ", &lists.parameters),
            ("response fields ", &lists.fields),
            ("error-body fields ", &lists.error_fields),
            ("", &lists.other),
        ] {
            if !list.is_empty() {
                these.push(format!("lacks {what}{}", list.join(", ")));
            }
        }
        if !lists.otherwise.is_empty() {
            these.push(format!("otherwise {}", lists.otherwise.join(", ")));
        }
        let these = these.join("; ");
        if operations > 1 && section != "Schemas" {
            parts.push(format!("`{section}`: {these}"));
        } else {
            parts.push(these);
        }
    }
    if !schemas.is_empty() {
        parts.push(format!("lacks schemas {}", schemas.join(", ")));
    }
    if !besides.is_empty() {
        parts.push(format!("also has {}", besides.join(", ")));
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join("; ")
    }
}

/// `` `limit` (default 5, maximum 5000) ``: what a changed fact is in the old version and not in
/// the new one (`not required` where only the new one requires it).
fn otherwise(name: &str, change: &Change) -> String {
    let split = |d: &Option<String>| -> Vec<String> {
        d.as_deref()
            .unwrap_or("")
            .split(", ")
            .map(str::to_owned)
            .collect()
    };
    let (old, new) = (split(&change.old), split(&change.new));
    let only_old: Vec<&String> = old.iter().filter(|p| !new.contains(p)).collect();
    let keyword = |p: &str| p.split(' ').next().unwrap_or("").to_owned();
    let mut was: Vec<String> = only_old.iter().map(|p| p.to_string()).collect();
    for part in new.iter().filter(|p| !old.contains(p)) {
        if !only_old.iter().any(|o| keyword(o) == keyword(part)) {
            was.push(format!("not {part}"));
        }
    }
    format!("`{name}` ({})", was.join(", "))
}

/// The generated code without its comments (doc comments come from prose).
fn code_lines(code: &str) -> Vec<&str> {
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect()
}

/// The section of `openapi/README.md` listing every published version: generated from the index
/// and the pipeline, and checked here.
fn published_versions_section() -> String {
    let index = index();
    let mut out = String::new();
    for document in &index.documents {
        let (overlay, overlay_name) = overlay(document);
        let layout = layout(&document.api);
        let current = xtask::read_json(&layout.normalized).expect("normalized document");
        let current_code = std::fs::read_to_string(&layout.generated).expect("generated code");
        let normalized = format!(
            "openapi/{}",
            layout
                .normalized
                .file_name()
                .expect("a file")
                .to_string_lossy()
        );
        let _ = writeln!(
            out,
            "\n**{}** (`{}` in the index)\n\n| published (UTC) | commit | result | against `{normalized}`, what the client is generated from |\n|---|---|---|---|",
            title(document),
            document.name
        );
        for version in &document.versions {
            let link = format!(
                "[`{}`]({}/commit/{})",
                &version.commit[..7],
                index.repository,
                version.commit
            );
            let (result, against) = match generate(version, &overlay, &overlay_name) {
                Ok(output) => {
                    let doc: Value =
                        serde_json::from_str(&output.normalized).expect("normalized JSON");
                    let mut against = against_client(&doc, &current);
                    if code_lines(&output.code) == code_lines(&current_code) {
                        against.push_str(" (the same client, doc comments aside)");
                    }
                    if version.file == document.polyai_data_builds_from {
                        against.push_str("; the oldest client `polyai-data` builds against");
                    }
                    ("regenerates".to_owned(), against)
                }
                Err(e) => (format!("fails: {e}"), "—".to_owned()),
            };
            let _ = writeln!(
                out,
                "| {} | {link} | {} | {} |",
                &version.date[..10],
                result.replace('|', "\\|"),
                against.replace('|', "\\|")
            );
        }
    }
    out.push('\n');
    out
}

fn title(document: &Document) -> &'static str {
    match document.api.as_str() {
        "data" => "Data API",
        "conversations-v3" => "Conversations API v3",
        other => panic!("no title for {other}"),
    }
}

const BEGIN: &str = "<!-- published versions: generated by tests/published.rs, do not edit -->";
const END: &str = "<!-- end of published versions -->";

/// `openapi/README.md` lists every published version with its result and what it lacks of the
/// document the client is generated from, exactly as computed here.
#[test]
fn the_readme_lists_every_version_and_what_it_lacks() {
    let readme = std::fs::read_to_string(root().join("openapi/README.md")).expect("README");
    let expected = published_versions_section();
    let listed = readme
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(section, _)| section);
    assert!(
        listed == Some(expected.as_str()),
        "openapi/README.md must hold, between `{BEGIN}` and `{END}`:\n{expected}{END}"
    );
}

/// The client of every version that regenerates compiles, and `polyai-data` builds against the
/// oldest version of each document its index entry names (`polyai_data_builds_from`). Everything
/// goes into one copy of the workspace, built once: each client is a module of `polyai-data-raw`
/// (with the hooks the raw crate implements for its own modules), and the named versions' clients
/// replace the checked-in ones (`generated.rs`, `conversations_v3.rs`) that `polyai-data` calls.
/// The copy builds `polyai-data`, as `tests/regeneration.rs` builds its copy, so the dependencies
/// built for one serve the other.
#[test]
fn every_client_compiles_and_polyai_data_builds_against_the_oldest_it_names() {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("published-clients");
    workspace::copy_workspace(&work, "published");
    let raw = work.join("crates/polyai-data-raw/src");
    let lib = raw.join("lib.rs");
    let mut source = std::fs::read_to_string(&lib).expect("the raw crate's lib.rs");
    assert!(
        source.contains("macro_rules! hooks_for"),
        "polyai-data-raw/src/lib.rs no longer has the `hooks_for!` macro this test uses to give \
         each generated module the raw crate's hooks"
    );
    let index = index();
    let regenerating = index
        .documents
        .iter()
        .flat_map(|d| &d.versions)
        .filter(|v| v.result == "regenerates")
        .count();
    let mut modules = Vec::new();
    let mut replaced = Vec::new();
    for document in &index.documents {
        let (overlay, overlay_name) = overlay(document);
        for version in &document.versions {
            let Ok(output) = generate(version, &overlay, &overlay_name) else {
                continue;
            };
            if version.file == document.polyai_data_builds_from {
                let module = layout_in(&work, &document.api).generated;
                std::fs::write(&module, &output.code).expect("replace the checked-in client");
                replaced.push(version.file.clone());
            }
            let module = format!(
                "published_{}_{}_{}",
                document.name,
                &version.date[..10],
                &version.commit[..7]
            )
            .replace('-', "_");
            std::fs::write(raw.join(format!("{module}.rs")), output.code).expect("write module");
            let _ = write!(
                source,
                "\n#[allow(clippy::all, missing_docs, unused_imports, unreachable_pub, rustdoc::all, dead_code)]\npub mod {module};\nhooks_for!({module}::Client);\n"
            );
            modules.push(module);
        }
    }
    assert_eq!(modules.len(), regenerating, "{modules:#?}");
    assert_eq!(
        replaced,
        index
            .documents
            .iter()
            .map(|d| d.polyai_data_builds_from.clone())
            .collect::<Vec<_>>(),
        "each document's polyai_data_builds_from names a version that regenerates"
    );
    std::fs::write(&lib, source).expect("write lib.rs");
    let build = workspace::cargo(
        &work,
        &["build", "-p", "polyai-data", "--message-format", "short"],
    );
    assert!(
        build.status.success(),
        "a regenerated client does not compile, or polyai-data does not build against {replaced:?}:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
}

/// The layout of `api` in the workspace at `root`.
fn layout_in(root: &Path, api: &str) -> Layout {
    Layout::all(root)
        .into_iter()
        .find(|l| l.api == api)
        .unwrap_or_else(|| panic!("no layout for api {api}"))
}
