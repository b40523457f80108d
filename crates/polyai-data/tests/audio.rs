//! Audio downloads: streaming, `AsyncRead`, checked atomic saves, truncation.

mod support;

use futures_util::StreamExt;
use polyai_data::Error;
use std::time::Duration;

use support::{Body, Recorded, Reply, TestServer, client_for};
use tokio::io::AsyncReadExt;

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn save_to_writes_the_whole_file_and_reports_progress() {
    let server = TestServer::start(|_: &Recorded| Reply::wav(300_000)).await;
    let (client, _) = client_for(&server, "k");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("call.wav");
    let mut last = None;
    let saved = client
        .agent("A")
        .audio("CA1")
        .await
        .expect("download")
        .save_to_with_progress(&target, |p| last = Some(p))
        .await
        .expect("saved");
    assert_eq!(saved.bytes, 300_000);
    assert_eq!(saved.path, target);
    assert_eq!(
        std::fs::metadata(&target).map(|m| m.len()).ok(),
        Some(300_000)
    );
    let progress = last.expect("progress called");
    assert_eq!(
        (progress.received, progress.total),
        (300_000, Some(300_000))
    );
    assert_eq!(files_in(dir.path()), ["call.wav"], "no temporary file left");
}

/// Serves `body` as the recording, saves it to a fresh directory (optionally over an existing
/// file), and returns the error with the directory's files afterwards.
async fn failed_save(body: Body, existing: Option<&[u8]>) -> (Error, Vec<String>, Option<Vec<u8>>) {
    let server = TestServer::start(move |_: &Recorded| Reply {
        body: body.clone(),
        ..Reply::wav(0)
    })
    .await;
    let (client, _) = client_for(&server, "k");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("call.wav");
    if let Some(bytes) = existing {
        std::fs::write(&target, bytes).expect("write");
    }
    let err = client
        .agent("A")
        .audio("CA1")
        .await
        .expect("headers")
        .save_to(&target)
        .await
        .expect_err("the save must fail");
    let left = std::fs::read(&target).ok();
    (err, files_in(dir.path()), left)
}

#[tokio::test]
async fn truncated_body_is_an_error_and_leaves_no_file() {
    let cut = Body::Wav {
        len: 100_000,
        announce: Some(250_000),
    };
    let (err, files, _) = failed_save(cut, None).await;
    assert!(
        err.is_retryable() || matches!(err, Error::Audio { .. }),
        "{err}"
    );
    assert!(files.is_empty(), "{files:?}");
}

#[tokio::test]
async fn riff_size_larger_than_the_body_is_caught_without_content_length_mismatch() {
    // Content-Length matches what is sent, but the RIFF header declares more: a cut file.
    let mut body = support::wav_header(1008);
    body.resize(500, 0);
    let (err, files, _) = failed_save(Body::Bytes(body), None).await;
    assert!(
        matches!(err, Error::Audio { ref message, .. } if message.contains("1008")),
        "{err}"
    );
    assert!(files.is_empty(), "{files:?}");
}

#[tokio::test]
async fn non_wav_body_is_rejected() {
    let html = Body::Bytes(b"<html>proxy login</html>".to_vec());
    let (err, files, _) = failed_save(html, None).await;
    assert!(err.to_string().contains("not a WAV file"), "{err}");
    assert!(files.is_empty(), "{files:?}");
}

#[tokio::test]
async fn existing_file_is_untouched_by_a_failed_download() {
    let cut = Body::Wav {
        len: 10_000,
        announce: Some(20_000),
    };
    let (_, files, left) = failed_save(cut, Some(b"previous")).await;
    assert_eq!(left.as_deref(), Some(&b"previous"[..]));
    assert_eq!(files, ["call.wav"]);
}

#[tokio::test]
async fn bytes_stream_and_async_read() {
    let server = TestServer::start(|_: &Recorded| Reply::wav(200_000)).await;
    let (client, _) = client_for(&server, "k");
    let mut stream = client
        .agent("A")
        .audio("CA1")
        .await
        .expect("download")
        .bytes_stream();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk.expect("chunk").len();
    }
    assert_eq!(total, 200_000);

    let mut reader = client
        .agent("A")
        .audio("CA1")
        .await
        .expect("download")
        .into_async_read();
    let mut head = [0u8; 12];
    reader.read_exact(&mut head).await.expect("read");
    assert_eq!(&head[..4], b"RIFF");
    assert_eq!(&head[8..], b"WAVE");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).await.expect("read");
    assert_eq!(rest.len() + 12, 200_000);
}

#[tokio::test]
async fn truncated_stream_surfaces_an_error() {
    let server = TestServer::start(|_: &Recorded| Reply {
        body: Body::Wav {
            len: 1000,
            announce: Some(5000),
        },
        ..Reply::wav(0)
    })
    .await;
    let (client, _) = client_for(&server, "k");
    let result = client
        .agent("A")
        .audio("CA1")
        .await
        .expect("headers")
        .bytes()
        .await;
    assert!(result.is_err());
}

#[tokio::test]
async fn missing_recording_is_a_404_api_error() {
    let server = TestServer::start(|_: &Recorded| {
        Reply::error(
            404,
            "CONVERSATIONS_RECORDING_NOT_FOUND",
            "Audio recording not found for this conversation.",
        )
    })
    .await;
    let (client, _) = client_for(&server, "k");
    let err = client.agent("A").audio("CA1").await.expect_err("404");
    assert!(err.is_not_found());
    assert_eq!(err.code(), Some("CONVERSATIONS_RECORDING_NOT_FOUND"));
}

#[tokio::test]
async fn stalled_body_hits_the_idle_timeout() {
    // Announce 10 000 bytes, send 1 000, then keep the connection open without sending.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let mut body =
                b"HTTP/1.1 200 OK\r\ncontent-length: 10000\r\ncontent-type: audio/wav\r\n\r\nRIFF"
                    .to_vec();
            body.extend_from_slice(&10_000u32.to_le_bytes());
            body.extend_from_slice(b"WAVE");
            body.resize(body.len() + 988, 0);
            let _ = s.write_all(&body).await;
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
    });
    let client = polyai_data::Client::builder()
        .api_key("k")
        .base_url(format!("http://{addr}"))
        .idle_timeout(std::time::Duration::from_millis(200))
        .build()
        .expect("client");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = client
        .agent("A")
        .audio("CA1")
        .await
        .expect("headers")
        .save_to(dir.path().join("a.wav"))
        .await
        .expect_err("idle");
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: polyai_data::TransportKind::Timeout,
                ..
            }
        ),
        "{err}"
    );
    assert!(files_in(dir.path()).is_empty());
    task.abort();
}

/// A recording that announces 200 000 bytes, sends 70 000 and closes.
fn broken_recording() -> Reply {
    Reply {
        body: Body::Wav {
            len: 70_000,
            announce: Some(200_000),
        },
        ..Reply::wav(0)
    }
}

#[tokio::test]
async fn a_recording_whose_body_breaks_is_fetched_again() {
    let server = TestServer::counted(|call, _: &Recorded| {
        if call < 2 {
            broken_recording()
        } else {
            Reply::wav(200_000)
        }
    })
    .await;
    let (client, delays) = client_for(&server, "k");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("call.wav");
    let saved = client
        .agent("A")
        .audio("CA1")
        .save_to(&target)
        .await
        .expect("third fetch completes");
    assert_eq!(saved.bytes, 200_000);
    assert_eq!(server.count(), 3);
    assert_eq!(
        delays.lock().expect("lock").len(),
        2,
        "backoff between fetches"
    );
    assert_eq!(files_in(dir.path()), ["call.wav"]);

    // With no attempts left the break is returned, and no file is left.
    let server = TestServer::start(|_: &Recorded| broken_recording()).await;
    let (client, _) = client_for(&server, "k");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = client
        .agent("A")
        .audio("CA1")
        .retry(polyai_data::retry::RetryPolicy::default().max_attempts(2))
        .save_to(dir.path().join("call.wav"))
        .await
        .expect_err("always broken");
    assert!(
        matches!(err, Error::Audio { .. } | Error::Transport { .. }),
        "{err}"
    );
    assert_eq!(server.count(), 2);
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );

    // A 404 is not fetched again.
    let server = TestServer::start(|_: &Recorded| {
        Reply::error(404, "CONVERSATIONS_RECORDING_NOT_FOUND", "no audio")
    })
    .await;
    let (client, _) = client_for(&server, "k");
    let err = client
        .agent("A")
        .audio("CA1")
        .save_to(dir.path().join("call.wav"))
        .await
        .expect_err("404");
    assert!(err.is_not_found());
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_save_dropped_at_its_first_step_leaves_no_empty_part_file() {
    let server = TestServer::start(|_: &Recorded| broken_recording()).await;
    let (client, _) = client_for(&server, "k");
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..20 {
        let download = client.agent("A").audio("CA1").await.expect("head");
        let save = download.save_to(dir.path().join(format!("{i}.wav")));
        // Poll once (the temporary file is created in this first step), then drop the save.
        let _ = tokio::time::timeout(Duration::ZERO, save).await;
    }
    // Let any file creation still pending on the blocking pool run.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}
