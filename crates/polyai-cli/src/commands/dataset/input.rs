//! The input of `dataset convert`: JSONL lines read on one thread, parsed into records (and
//! fingerprinted) on others, handed back in input order.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use polyai_data::record::ConversationRecord;
use serde_json::Value;

use crate::exit::CliError;

/// Conversations per batch handed between threads.
const BATCH: usize = 256;

/// A batch of parsed lines with their fingerprints, or the first error in it.
pub(super) type Parsed = Result<Vec<(ConversationRecord, u64)>, CliError>;

/// A batch of lines to parse: the number of its first line, the lines, and where its result
/// goes.
type Work = (u64, Vec<Vec<u8>>, SyncSender<Parsed>);

/// The JSONL to read: `-` (stdin), a file, or an export folder's `conversations.jsonl`.
pub(super) fn open_input(path: &Path) -> Result<(Box<dyn Read + Send>, String), CliError> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin()), "<stdin>".into()));
    }
    let file = if path.is_dir() {
        path.join("conversations.jsonl")
    } else {
        path.to_owned()
    };
    let opened = std::fs::File::open(&file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound && path.is_dir() {
            CliError::Usage(format!(
                "{} has no conversations.jsonl: give an export folder (polyai export --out DIR) or a JSONL file",
                path.display()
            ))
        } else {
            CliError::file("reading", &file, e)
        }
    })?;
    Ok((Box::new(opened), file.display().to_string()))
}

/// Reads lines on one thread and parses them on others. Each batch's result comes through
/// its own receiver, and the receivers come in input order (so a conversation listed twice
/// ends as its last line says); at most a few batches are in flight, whichever parser is
/// slow, so memory does not grow with the input.
pub(super) fn spawn_parsers(
    input: Box<dyn Read + Send>,
    shown: String,
) -> Receiver<Receiver<Parsed>> {
    let parsers = std::env::var("POLYAI_DATASET_PARSERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 16);
    // The order queue bounds the batches alive (read, parsed or being parsed, not yet
    // written): enough to keep every parser busy, few enough to keep memory flat.
    let (work_tx, work_rx) = sync_channel::<Work>(parsers);
    let (order_tx, order_rx) = sync_channel::<Receiver<Parsed>>(parsers + 2);
    let work_rx = Arc::new(Mutex::new(work_rx));
    for _ in 0..parsers {
        let work_rx = Arc::clone(&work_rx);
        let shown = shown.clone();
        std::thread::spawn(move || {
            loop {
                let next = work_rx.lock().ok().and_then(|rx| rx.recv().ok());
                let Some((first_line, lines, result)) = next else {
                    break;
                };
                let parsed = lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| !l.trim_ascii().is_empty())
                    .map(|(i, line)| {
                        parse_line(line, &shown, first_line + i as u64).map(|r| {
                            let fingerprint = polyai_dataset::fingerprint(&r);
                            (r, fingerprint)
                        })
                    })
                    .collect();
                // The receiving end gone means the writer stopped: nothing to do.
                let _ = result.send(parsed);
            }
        });
    }
    std::thread::spawn(move || read_lines(input, &shown, &work_tx, &order_tx));
    order_rx
}

/// Frees written batches on a thread of its own: a batch of records is thousands of strings,
/// and freeing them took about a sixth of the writer's thread, the one every conversion waits
/// on, while the parsers had time to spare.
pub(super) struct Dropper(Option<SyncSender<Vec<(ConversationRecord, u64)>>>);

impl Dropper {
    pub(super) fn spawn() -> Dropper {
        let (tx, rx) = sync_channel::<Vec<(ConversationRecord, u64)>>(4);
        let spawned = std::thread::Builder::new()
            .name("polyai-drop".into())
            .spawn(move || rx.iter().for_each(drop));
        // Without the thread, batches are freed where they are.
        Dropper(spawned.is_ok().then_some(tx))
    }

    /// Hands `batch` to the thread (or frees it here, should that thread be gone).
    pub(super) fn drop(&self, batch: Vec<(ConversationRecord, u64)>) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(batch);
        }
    }
}

fn read_lines(
    input: Box<dyn Read + Send>,
    shown: &str,
    work: &SyncSender<Work>,
    order: &SyncSender<Receiver<Parsed>>,
) {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut line_no = 1u64;
    loop {
        let first = line_no;
        let mut lines = Vec::with_capacity(BATCH);
        let mut failed = None;
        while lines.len() < BATCH {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    line_no += 1;
                    lines.push(line);
                }
                Err(e) => {
                    failed = Some(CliError::file("reading", shown, e));
                    break;
                }
            }
        }
        let (result_tx, result_rx) = sync_channel(1);
        if let Some(err) = failed {
            let _ = result_tx.send(Err(err));
            let _ = order.send(result_rx);
            return;
        }
        if lines.is_empty() {
            return;
        }
        if order.send(result_rx).is_err() || work.send((first, lines, result_tx)).is_err() {
            return;
        }
    }
}

/// One line as a record: in the contract already (`conversation_id`), a Data API
/// conversation (`conversationId`) or a v3 record (`id`). An export's `_export.audioFile`
/// becomes `audio_file`. A v3 export line is read straight into the record; the others, and
/// lines the typed reader leaves alone, through a `Value` (which gives the same record, or
/// says what is wrong with the line).
fn parse_line(line: &[u8], file: &str, number: u64) -> Result<ConversationRecord, CliError> {
    // What `polyai export` writes: a record of the contract, its id first. Read straight into
    // the record; a line that does not read falls through to the checks below, which say why.
    // The line is checked as UTF-8 once, whole (faster than string by string).
    if line.starts_with(br#"{"conversation_id":"#)
        && let Ok(text) = std::str::from_utf8(line)
        && let Ok(record) = serde_json::from_str::<ConversationRecord>(text)
    {
        return Ok(record);
    }
    if let Some(record) = ConversationRecord::from_v3_export_line(line) {
        return Ok(record);
    }
    let bad = |what: String| {
        CliError::Usage(format!(
            "{file}:{number}: {what}; every line must be one conversation as `polyai export` writes it (a cut last line: run the export again to finish it)"
        ))
    };
    let value: Value = serde_json::from_slice(line).map_err(|e| bad(format!("not JSON ({e})")))?;
    let Some(object) = value.as_object() else {
        return Err(bad("not a JSON object".into()));
    };
    let mut record = if object.contains_key("conversation_id") {
        serde_json::from_value::<ConversationRecord>(value.clone())
            .map_err(|e| bad(format!("not a conversation record ({e})")))?
    } else if object.contains_key("conversationId") {
        ConversationRecord::from_data_api(&value)
            .ok_or_else(|| bad("its conversationId is not a string".into()))?
    } else if object.contains_key("id") {
        ConversationRecord::from_v3(&value).ok_or_else(|| bad("its id is not a string".into()))?
    } else {
        return Err(bad("no conversation_id, conversationId or id".into()));
    };
    if record.audio_file.is_none()
        && let Some(audio) = object
            .get("_export")
            .and_then(|e| e.get("audioFile"))
            .and_then(Value::as_str)
    {
        record.audio_file = Some(audio.to_owned());
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_shape_is_read_and_bad_lines_name_their_place() {
        let data = br#"{"conversationId":"CA1","startedAt":"2026-06-03T14:00:00Z","_export":{"audioFile":"audio/CA1.wav"}}"#;
        let record = parse_line(data, "f.jsonl", 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.audio_file.as_deref(), Some("audio/CA1.wav"));
        let v3 =
            parse_line(br#"{"id":"CA2","turns":[]}"#, "f", 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v3.api, polyai_data::record::Api::V3);
        let contract = serde_json::to_vec(&v3).unwrap_or_default();
        let again = parse_line(&contract, "f", 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, v3);
        for (line, want) in [
            (
                &b"{\"conversationId\": 7}"[..],
                "f.jsonl:9: its conversationId is not a string",
            ),
            (b"[1]", "f.jsonl:9: not a JSON object"),
            (b"{\"conver", "f.jsonl:9: not JSON"),
            (b"{}", "f.jsonl:9: no conversation_id"),
        ] {
            let err = parse_line(line, "f.jsonl", 9)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.starts_with(want), "{err}");
        }
    }
}
