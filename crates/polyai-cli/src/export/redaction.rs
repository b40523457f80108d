//! `--redacted`: the records' personal fields masked before they are written, the recordings
//! asked of PolyAI in their redacted form, and the manifest's `redaction` section saying
//! exactly which is which.
//!
//! The masking rules are [`polyai_data::record::redact`]'s, applied to the record JSON the
//! export writes (Data API, v3, or the record contract), so every shape is masked alike.

use serde_json::{Value, json};

use polyai_data::record::redact::{MASKED_FIELDS, MASKING_VERSION, NOT_MASKED};

/// The manifest's `redaction` section.
pub fn manifest_section(redacted: bool, with_audio: bool) -> Value {
    if !redacted {
        return json!({
            "requested": false,
            "note": "records as PolyAI returns them (phone numbers included); recordings, when saved, as PolyAI serves them to this key (keys without PII permission always get redacted audio)",
        });
    }
    let masked: Vec<Value> = MASKED_FIELDS
        .iter()
        .map(|f| json!({"field": f.field, "data_api": f.data_api, "rule": f.rule}))
        .collect();
    json!({
        "requested": true,
        "server": {
            "recordings": if with_audio {
                "each recording was asked of PolyAI with redacted=true: PolyAI removes the personal data it detects from the audio; this program does not alter it"
            } else {
                "no recordings were saved"
            },
        },
        "masked_locally": {
            "masking_version": MASKING_VERSION,
            "fields": masked,
        },
        "not_redacted": NOT_MASKED,
    })
}
