//! Hostile servers and hostile input: no panic, no escape, no hang, no unbounded memory.
//! Each test plays a misbehaving server on loopback (see `support`).

mod support;

use std::time::Duration;

use polyai_data::annotations::{Annotation, AnnotationType, Role};
use polyai_data::{Client, Error, TransportKind};
use support::{Body, Recorded, Reply, TestServer, client_for, list_a, wav_header};

/// Longest any of these tests may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(20);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG, future)
        .await
        .unwrap_or_else(|_| panic!("no answer within {HANG:?}: the client hangs"))
}

#[tokio::test]
async fn absurd_retry_after_values_end_the_retries_without_panic() {
    for value in ["99999999999999999999", "1e308", "18446744073709551615"] {
        let server = TestServer::start(move |_: &Recorded| {
            Reply::error(429, "RATE_LIMITED", "slow down").header("retry-after", value)
        })
        .await;
        let (client, delays) = client_for(&server, "k");
        let err = within(list_a(&client).send()).await.expect_err("429");
        assert!(err.is_rate_limited(), "{value}: {err}");
        assert!(
            err.retry_after()
                .is_some_and(|d| d >= Duration::from_secs(u64::MAX)),
            "{value}: {:?}",
            err.retry_after()
        );
        assert!(err.to_string().contains("retry after"), "{err}");
        assert_eq!(
            server.count(),
            1,
            "{value}: a Retry-After beyond the cap is not waited out"
        );
        assert!(delays.lock().expect("lock").is_empty());
    }
}

#[tokio::test]
async fn dot_and_empty_ids_are_refused_before_anything_is_sent() {
    let server = TestServer::start(|r: &Recorded| support::list_reply(r, 3)).await;
    let (client, _) = client_for(&server, "k");
    for id in [".", "..", ""] {
        let err = client
            .agent("A")
            .conversations()
            .get(id)
            .json()
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, Error::InvalidRequest(m) if m.contains("conversation id")),
            "{id:?}: {err}"
        );
        let err = client
            .agent(id)
            .conversations()
            .list()
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, Error::InvalidRequest(m) if m.contains("agent id")),
            "{id:?}: {err}"
        );
        // The v3 listing refuses the same ids the same way: only the id's role differs.
        let v3 = |account: &str, project: &str| {
            client
                .workspace(account)
                .project(project)
                .conversations()
                .send()
        };
        let want = err.to_string().replacen("agent id", "{id}", 1);
        let account = v3(id, "P").await.expect_err("refused").to_string();
        assert_eq!(account.replacen("account id", "{id}", 1), want, "{id:?}");
        let project = v3("ws-1", id).await.expect_err("refused").to_string();
        assert_eq!(project.replacen("project id", "{id}", 1), want, "{id:?}");
        let audio = client.agent("A").audio(id).await.expect_err("refused");
        assert!(matches!(audio, Error::InvalidRequest(_)), "{audio}");
        let note = client.agent("A").note(id, "x").await.expect_err("refused");
        assert!(matches!(note, Error::InvalidRequest(_)), "{note}");
    }
    assert_eq!(server.count(), 0, "a refused id reached the server");
    // Ids the Data API takes, percent-encoded into one segment, v3 takes too.
    for id in [" ", "a/b", "%2e%2e", "a\\b", "é"] {
        let _ = client
            .workspace(id)
            .project(id)
            .conversations()
            .send()
            .await;
    }
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths.len(), 5, "{paths:?}");
    assert!(
        paths
            .iter()
            .all(|p| p.split('/').filter(|s| !s.is_empty()).count() == 4),
        "each id is one segment of /v3/{{account}}/{{project}}/conversations: {paths:?}"
    );
}

#[tokio::test]
async fn every_id_reaches_the_server_as_one_segment() {
    let server = TestServer::start(|_: &Recorded| Reply::error(404, "NOT_FOUND", "no")).await;
    let (client, _) = client_for(&server, "k");
    let cases = [
        ("a/b", "a%2Fb"),
        ("../x", "..%2Fx"),
        ("%2e%2e", "%252e%252e"),
        ("a?b#c", "a%3Fb%23c"),
        ("...", "..."),
        ("é ", "%C3%A9%20"),
        // URL parsers read a bare `\` as `/`: it is encoded.
        ("a\\..", "a%5C.."),
        ("\\", "%5C"),
    ];
    for (id, _) in cases {
        let _ = client.agent("A").conversations().get(id).await;
    }
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    let expected: Vec<String> = cases
        .iter()
        .map(|(_, segment)| format!("/v1/agents/A/conversations/{segment}"))
        .collect();
    assert_eq!(paths, expected);
    let _ = client.agent("x/..").note("c", "n").await;
    assert_eq!(
        server.requests().last().map(|r| r.path.clone()).as_deref(),
        Some("/v1/agents/x%2F../conversations/c/note")
    );
}

fn endless(head: &[u8], announce: Option<u64>) -> Reply {
    Reply::body(
        "application/json",
        Body::Endless {
            head: head.to_vec(),
            piece: 64 * 1024,
            interval: Duration::from_millis(1),
            announce,
        },
    )
}

#[tokio::test]
async fn an_endless_json_body_stops_at_the_limit() {
    let server = TestServer::start(|_: &Recorded| endless(b"{\"conversations\":[", None)).await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.url())
        .max_response_bytes(2 * 1024 * 1024)
        .build()
        .expect("client");
    let err = within(list_a(&client).send()).await.expect_err("too large");
    assert!(
        matches!(err, Error::ResponseTooLarge { limit, .. } if limit == 2 * 1024 * 1024),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("larger than the limit of 2097152 bytes"),
        "{err}"
    );
    assert_eq!(server.count(), 1, "not retried");
}

#[tokio::test]
async fn an_announced_huge_body_is_refused_before_reading() {
    let server =
        TestServer::start(|_: &Recorded| endless(b"{", Some(40 * 1024 * 1024 * 1024))).await;
    let (client, _) = client_for(&server, "k");
    let err = within(list_a(&client).send()).await.expect_err("too large");
    assert!(matches!(err, Error::ResponseTooLarge { .. }), "{err}");
}

/// An audio body: a valid header, then `piece` bytes every `interval`, forever.
fn trickle(piece: usize, interval: Duration) -> Reply {
    Reply::body(
        "audio/wav",
        Body::Endless {
            head: wav_header(u64::from(u32::MAX)),
            piece,
            interval,
            announce: None,
        },
    )
}

async fn save(client: &Client) -> (Error, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let download = within(client.agent("A").audio("CA1").send())
        .await
        .expect("headers");
    let err = within(download.save_to(dir.path().join("a.wav")))
        .await
        .expect_err("fails");
    let files = std::fs::read_dir(dir.path())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    (err, files)
}

#[tokio::test]
async fn a_trickling_recording_fails_under_the_minimum_rate() {
    // One byte every 20 ms is 50 bytes/s: never idle, far below 1000 bytes/s.
    let server = TestServer::start(|_: &Recorded| trickle(1, Duration::from_millis(20))).await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.url())
        .min_download_rate(1000, Duration::from_millis(300))
        .build()
        .expect("client");
    let (err, files) = save(&client).await;
    assert!(
        matches!(&err, Error::Transport { kind: TransportKind::Timeout, message, .. }
            if message.contains("too slow") && message.contains("1000 bytes/s")),
        "{err}"
    );
    assert!(files.is_empty(), "{files:?}");
}

#[tokio::test]
async fn a_steady_endless_recording_fails_at_the_download_timeout() {
    // 64 KiB every 5 ms passes any rate check; only the total deadline stops it.
    let server =
        TestServer::start(|_: &Recorded| trickle(64 * 1024, Duration::from_millis(5))).await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.url())
        .download_timeout(Duration::from_millis(400))
        .build()
        .expect("client");
    let (err, files) = save(&client).await;
    assert!(
        matches!(&err, Error::Transport { kind: TransportKind::Timeout, message, .. }
            if message.contains("did not finish within 400ms")),
        "{err}"
    );
    assert!(files.is_empty(), "{files:?}");
}

#[tokio::test]
async fn riff_headers_without_fmt_and_data_are_not_recordings() {
    for riff_size in [0u32, u32::MAX] {
        let mut body = b"RIFF".to_vec();
        body.extend_from_slice(&riff_size.to_le_bytes());
        body.extend_from_slice(b"WAVE");
        for len in [12, 16] {
            let mut body = body.clone();
            body.resize(len, b'W');
            let server = TestServer::start(move |_: &Recorded| {
                Reply::body("audio/wav", Body::Bytes(body.clone()))
            })
            .await;
            let (client, _) = client_for(&server, "k");
            let (err, files) = save(&client).await;
            assert!(
                matches!(&err, Error::Audio { message, .. } if message.contains("fmt")),
                "{riff_size:#x}/{len}: {err}"
            );
            assert!(files.is_empty(), "{files:?}");
        }
    }
}

#[tokio::test]
async fn failed_mutations_say_whether_they_may_have_been_applied() {
    let server = TestServer::counted(|n, _: &Recorded| match n {
        0 | 1 => Reply::error(502, "BAD_GATEWAY", "upstream failed"),
        _ => Reply::error(400, "VALIDATION", "bad turn"),
    })
    .await;
    let (client, _) = client_for(&server, "k");
    let annotation = [Annotation::new(1, Role::User, AnnotationType::WrongInfo)];
    let applied = client
        .agent("A")
        .annotate("CA1", annotation)
        .await
        .expect_err("502");
    assert!(applied.may_have_been_applied(), "{applied}");
    assert_eq!(server.count(), 1, "annotate is not retried on 502");
    let read = client
        .agent("A")
        .conversations()
        .get("CA1")
        .await
        .expect_err("502, then 400");
    assert!(
        !read.may_have_been_applied(),
        "a read changes nothing: {read}"
    );
    let refused = client
        .agent("A")
        .annotate("CA1", annotation)
        .await
        .expect_err("400");
    assert!(!refused.may_have_been_applied(), "{refused}");
}

#[cfg(unix)]
#[tokio::test]
async fn save_to_writes_into_a_fifo_and_never_replaces_links_or_folders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(|_: &Recorded| Reply::wav(20_000)).await;
    let (client, _) = client_for(&server, "k");
    let download = || async { client.agent("A").audio("CA1").await.expect("headers") };

    // A named pipe: written in place, still a pipe afterwards.
    let fifo = dir.path().join("pipe.wav");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).map(|b| b.len()).unwrap_or(0))
    };
    let saved = within(download().await.save_to(&fifo))
        .await
        .expect("written");
    assert_eq!(saved.bytes, 20_000);
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::symlink_metadata(&fifo).map(|m| m.file_type());
    assert!(kind.is_ok_and(|k| k.is_fifo()), "the pipe was replaced");
    assert_eq!(reader.join().ok(), Some(20_000));

    // A symbolic link: refused, neither replaced nor followed.
    let target = dir.path().join("target.wav");
    std::fs::write(&target, b"keep").expect("write");
    let link = dir.path().join("link.wav");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let err = download().await.save_to(&link).await.expect_err("refused");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()));
    assert_eq!(std::fs::read(&target).ok().as_deref(), Some(&b"keep"[..]));

    // A folder: refused.
    let err = download()
        .await
        .save_to(dir.path())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("directory"), "{err}");

    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["link.wav", "pipe.wav", "target.wav"],
        "no temporary file left"
    );
}
