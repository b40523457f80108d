//! Recordings: WAV validity and length, directions, redaction, errors and bounded-memory streaming.

use futures_util::StreamExt;
use polyai_mock::{ApiKey, MockConfig, SampleRate};
use reqwest::{Method, StatusCode};

use crate::common::{Env, assert_error, rss_kib, start, start_default};

pub async fn fetch(
    env: &Env,
    index: u64,
    query: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let id = env.conv(index);
    let resp = env
        .req(
            Method::GET,
            &env.agent_path(&format!("/conversations/{id}/audio{query}")),
        )
        .send()
        .await
        .expect("sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn samples(wav: &[u8]) -> Vec<i16> {
    wav[44..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

async fn duration_of(env: &Env, index: u64) -> u64 {
    let id = env.conv(index);
    let (_, body) = env
        .get(&env.agent_path(&format!("/conversations/{id}")))
        .await;
    body["totalDuration"].as_u64().expect("duration")
}

#[tokio::test]
async fn wav_is_valid_and_as_long_as_the_call() {
    for (rate, hz) in [(SampleRate::Hz8000, 8000u32), (SampleRate::Hz16000, 16000)] {
        let env = start(MockConfig {
            sample_rate: rate,
            ..MockConfig::default()
        })
        .await;
        let i = env.find_conv(true);
        let (status, headers, wav) = fetch(&env, i, "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "audio/wav");
        assert_eq!(
            headers["content-length"].to_str().ok(),
            Some(wav.len().to_string().as_str())
        );
        assert_eq!(&wav[0..4], b"RIFF");
        assert_eq!(le32(&wav, 4) as usize, wav.len() - 8);
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(le32(&wav, 16), 16);
        assert_eq!(le16(&wav, 20), 1, "PCM");
        assert_eq!(le16(&wav, 22), 1, "mono");
        assert_eq!(le32(&wav, 24), hz);
        assert_eq!(le32(&wav, 28), hz * 2);
        assert_eq!(le16(&wav, 32), 2);
        assert_eq!(le16(&wav, 34), 16);
        assert_eq!(&wav[36..40], b"data");
        assert_eq!(le32(&wav, 40) as usize, wav.len() - 44);
        let seconds = duration_of(&env, i).await;
        assert_eq!((wav.len() - 44) as u64, seconds * u64::from(hz) * 2);
    }
}

#[tokio::test]
async fn directions_differ_and_redaction_bleeps_pii() {
    let env = start_default().await;
    let (mut checked, mut identical) = (0, 0);
    for i in 0..200 {
        if !env.server.has_recording(0, i) {
            continue;
        }
        let (_, _, combined) = fetch(&env, i, "?direction=combined&redacted=false").await;
        let (_, _, user) = fetch(&env, i, "?direction=user").await;
        let (_, _, agent) = fetch(&env, i, "?direction=agent").await;
        assert_ne!(combined, user);
        assert_ne!(combined, agent);
        assert_ne!(user, agent);
        let (_, _, redacted) = fetch(&env, i, "?redacted=true").await;
        assert_eq!(redacted.len(), combined.len());
        assert_eq!(redacted[..44], combined[..44], "same header");
        if redacted == combined {
            identical += 1; // no caller turn yet (a call in progress)
            continue;
        }
        let (raw, red) = (samples(&combined), samples(&redacted));
        let changed = raw.iter().zip(&red).filter(|(a, b)| a != b).count();
        assert!(
            red.iter().all(|s| s.unsigned_abs() <= 16384),
            "the tone stays within its amplitude"
        );
        assert!(
            changed > 8000 / 2,
            "at least half a second replaced, got {changed}"
        );
        checked += 1;
        if checked == 5 {
            break;
        }
    }
    assert_eq!(checked, 5, "five calls with recordings checked");
    assert!(
        identical <= 1,
        "redaction shows in nearly every call: {identical} identical"
    );
}

#[tokio::test]
async fn keys_without_pii_access_always_get_redacted_audio() {
    let env = start(MockConfig::default().key(ApiKey::new("nopii", "us").without_pii())).await;
    let i = env.find_conv(true);
    let (_, _, redacted) = fetch(&env, i, "?redacted=true").await;
    let id = env.conv(i);
    let resp = env
        .client
        .get(env.url(&env.agent_path(&format!("/conversations/{id}/audio?redacted=false"))))
        .header("x-api-key", "nopii")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.bytes().await.expect("body").to_vec(), redacted);
}

#[tokio::test]
async fn audio_errors() {
    let env = start_default().await;
    let i = env.find_conv(false);
    let id = env.conv(i);
    let (status, body) = env
        .get(&env.agent_path(&format!("/conversations/{id}/audio")))
        .await;
    assert_error(status, &body, 404, "CONVERSATIONS_RECORDING_NOT_FOUND");
    let (status, body) = env
        .get(&env.agent_path("/conversations/CAnope/audio"))
        .await;
    assert_error(status, &body, 404, "CONVERSATIONS_NOT_FOUND");
    let j = env.find_conv(true);
    let id = env.conv(j);
    for q in ["?direction=both", "?redacted=yes", "?redacted="] {
        let (status, body) = env
            .get(&env.agent_path(&format!("/conversations/{id}/audio{q}")))
            .await;
        assert_error(status, &body, 400, "CONVERSATIONS_VALIDATION_FAILED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_recordings_stream_in_bounded_memory() {
    const BYTES: u64 = 200 * 1024 * 1024;
    let env = start(MockConfig {
        audio_bytes_override: Some(BYTES),
        ..MockConfig::default()
    })
    .await;
    let i = env.find_conv(true);
    let id = env.conv(i);
    let before = rss_kib();
    let resp = env
        .req(
            Method::GET,
            &env.agent_path(&format!("/conversations/{id}/audio")),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.content_length(), Some(BYTES + 44));
    let mut stream = resp.bytes_stream();
    let mut total = 0u64;
    let mut peak = before;
    while let Some(chunk) = stream.next().await {
        total += chunk.expect("chunk").len() as u64;
        if total % (16 << 20) < 65_536 {
            peak = peak.max(rss_kib());
        }
    }
    assert_eq!(total, BYTES + 44);
    let growth_mib = peak.saturating_sub(before) / 1024;
    assert!(
        growth_mib < 64,
        "RSS grew {growth_mib} MiB while streaming 200 MiB"
    );
}
