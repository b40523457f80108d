//! The blocking client against `polyai-mock`, which runs on a runtime of its own (two worker
//! threads) while the tests call from plain threads: every operation, walks, audio, errors, and
//! calls from inside an async runtime.

#![cfg(feature = "blocking")]

use std::io::Read;

use polyai_data::annotations::{Annotation, AnnotationType, Role};
use polyai_data::audio::Direction;
use polyai_data::chat::ChatOptions;
use polyai_data::{ClientEnv, Error};
use polyai_mock::{MockConfig, MockServer, SANDBOX_KEY};

/// The mock on its own runtime, and an async client on that runtime to compare with.
struct Mock {
    server: MockServer,
    rt: tokio::runtime::Runtime,
}

impl Mock {
    fn start(conversations: u64) -> Mock {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let server = rt
            .block_on(MockServer::start(
                MockConfig::default().conversations(conversations),
            ))
            .expect("mock starts");
        Mock { server, rt }
    }

    fn builder(&self) -> polyai_data::ClientBuilder {
        polyai_data::Client::builder()
            .api_key(SANDBOX_KEY)
            .base_url(self.server.base_url())
            .sleeper(|_| Box::pin(async {}))
    }

    fn blocking(&self) -> polyai_data::blocking::Client {
        self.builder().build_blocking().expect("blocking client")
    }

    fn agent_id(&self) -> String {
        self.server.agent_ids()[0].clone()
    }

    /// Runs a call of the async client (given with its handle on the first agent) on the mock's
    /// runtime.
    fn run_async<T>(
        &self,
        call: impl AsyncFnOnce(polyai_data::Client, polyai_data::Agent) -> T,
    ) -> T {
        let client = self.builder().build().expect("async client");
        let agent = client.agent(self.agent_id());
        self.rt.block_on(call(client, agent))
    }

    /// A conversation of the first agent that has a recording.
    fn with_recording(&self, conversations: u64) -> String {
        let index = (0..conversations)
            .find(|i| self.server.has_recording(0, *i))
            .expect("the mock seeds recordings");
        self.server.conversation_id(0, index)
    }
}

fn ids(items: &[polyai_data::models::ConversationSummary]) -> Vec<String> {
    items.iter().map(|c| c.conversation_id.clone()).collect()
}

#[test]
fn a_walk_yields_every_conversation_once_in_order() {
    let mock = Mock::start(237);
    let agent = mock.blocking().agent(mock.agent_id());
    let expected = mock.run_async(async |_, agent| agent.conversations().list().all().await);
    let expected = ids(&expected.expect("async walk"));
    assert_eq!(expected.len(), 237);

    // Iterating the builder: pages of 50, prefetched.
    let walked: Vec<String> = agent
        .conversations()
        .list()
        .limit(50)
        .into_iter()
        .map(|c| c.map(|c| c.conversation_id))
        .collect::<Result<_, _>>()
        .expect("blocking walk");
    assert_eq!(walked, expected);

    // The pages themselves, without prefetch.
    let pages = agent
        .conversations()
        .list()
        .limit(50)
        .prefetch(false)
        .pages()
        .collect::<Result<Vec<_>, _>>()
        .expect("pages");
    let offsets: Vec<u64> = pages.iter().filter_map(|p| p.offset()).collect();
    assert_eq!(offsets, [0, 50, 100, 150, 200]);
    assert!(pages.iter().all(|p| p.count() == Some(237)));
    let from_pages: Vec<String> = pages.iter().flat_map(|p| ids(p.items())).collect();
    assert_eq!(from_pages, expected);

    // Bounded walks, one page, collected.
    let first: Vec<String> = agent
        .conversations()
        .list()
        .offset(30)
        .max_items(7)
        .items()
        .map(|c| c.map(|c| c.conversation_id))
        .collect::<Result<_, _>>()
        .expect("bounded walk");
    assert_eq!(first, expected[30..37]);
    let page = agent
        .conversations()
        .list()
        .limit(10)
        .send()
        .expect("one page");
    assert_eq!(ids(page.items()), expected[..10]);
    assert_eq!(page.next_offset(), Some(10));
    let all = agent.conversations().list().all().expect("all");
    assert_eq!(ids(&all), expected);
    let raw = agent
        .conversations()
        .list()
        .limit(3)
        .send_json()
        .expect("json page");
    assert_eq!(raw.items()[0]["conversationId"], expected[0].as_str());
}

#[test]
fn get_returns_the_same_conversation_as_the_async_client() {
    let mock = Mock::start(10);
    let id = mock.server.conversation_id(0, 3);
    let agent = mock.blocking().agent(mock.agent_id());
    let expected = mock
        .run_async(async |_, agent| agent.conversations().get(&id).json().await)
        .expect("async detail");

    let detail = agent.conversations().get(&id).send().expect("detail");
    assert_eq!(detail.conversation_id, id);
    assert_eq!(
        detail.turns.as_ref().map(Vec::len),
        Some(mock.server.turn_count(0, 3))
    );
    assert_eq!(
        agent.conversations().get(&id).json().expect("json"),
        expected
    );
    let bytes = agent.conversations().get(&id).json_bytes().expect("bytes");
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).expect("one JSON value");
    assert_eq!(parsed, expected);
    let (_, meta) = agent
        .conversations()
        .get(&id)
        .correlation_id("blocking-get-1")
        .send_with_meta()
        .expect("with meta");
    assert_eq!(meta.status(), 200);
    assert_eq!(meta.correlation_id(), "blocking-get-1");
}

#[test]
fn audio_written_by_the_blocking_client_is_the_mock_recording() {
    let mock = Mock::start(20);
    let id = mock.with_recording(20);
    let agent = mock.blocking().agent(mock.agent_id());
    let expected = mock
        .run_async(async |_, agent| {
            let download = agent.audio(&id).direction(Direction::Agent).send().await?;
            download.bytes().await
        })
        .expect("async recording");
    assert!(expected.len() > 44 && expected.starts_with(b"RIFF"));
    let dir = tempfile::tempdir().expect("tempdir");

    // Into a `std::io::Write` (a file here), chunk by chunk.
    let path = dir.path().join("written.wav");
    let mut file = std::fs::File::create(&path).expect("create");
    let download = agent
        .audio(&id)
        .direction(Direction::Agent)
        .send()
        .expect("download");
    assert_eq!(download.content_length(), Some(expected.len() as u64));
    assert_eq!(download.conversation_id(), id);
    let written = download.write_to(&mut file).expect("written");
    drop(file);
    assert_eq!(written, expected.len() as u64);
    assert_eq!(std::fs::read(&path).expect("read back"), expected);

    // Saved (checked, renamed into place), from the request and from the download.
    let saved = agent
        .audio(&id)
        .direction(Direction::Agent)
        .save_to(dir.path().join("saved.wav"))
        .expect("saved");
    assert_eq!(saved.bytes, expected.len() as u64);
    assert_eq!(std::fs::read(&saved.path).expect("read back"), expected);
    let progress = std::sync::Arc::new(std::sync::Mutex::new(0));
    let seen = progress.clone();
    let saved = agent
        .audio(&id)
        .direction(Direction::Agent)
        .send()
        .expect("download")
        .save_to_with_progress(dir.path().join("progress.wav"), move |p| {
            *seen.lock().expect("lock") = p.received;
        })
        .expect("saved with progress");
    assert_eq!(*progress.lock().expect("lock"), saved.bytes);

    // As a `std::io::Read`.
    let mut read = Vec::new();
    agent
        .audio(&id)
        .direction(Direction::Agent)
        .send()
        .expect("download")
        .into_reader()
        .read_to_end(&mut read)
        .expect("read");
    assert_eq!(read, expected);
}

#[test]
fn a_truncated_recording_fails_the_write_with_the_async_error() {
    let mock = Mock::start(20);
    let id = mock.with_recording(20);
    let agent = mock.blocking().agent(mock.agent_id());
    mock.server.faults().truncate_body(true);
    let mut out = Vec::new();
    let err = agent
        .audio(&id)
        .no_retry()
        .send()
        .and_then(|download| download.write_to(&mut out))
        .expect_err("a truncated body is an error");
    assert!(
        matches!(err, Error::Audio { .. } | Error::Transport { .. }),
        "{err:?}"
    );
}

#[test]
fn error_answers_are_the_same_typed_errors() {
    let mock = Mock::start(10);
    let client = mock.blocking();
    let agent = client.agent(mock.agent_id());

    let missing = agent
        .conversations()
        .get("CA-does-not-exist")
        .send()
        .expect_err("404");
    let expected = mock
        .run_async(async |_, agent| agent.conversations().get("CA-does-not-exist").await)
        .expect_err("async 404");
    assert!(missing.is_not_found(), "{missing}");
    assert_eq!(missing.status(), expected.status());
    assert_eq!(missing.code(), expected.code());
    assert!(missing.correlation_id().is_some());

    let wrong_key = mock
        .builder()
        .api_key("not-a-key")
        .build_blocking()
        .expect("client");
    let err = wrong_key
        .agent(mock.agent_id())
        .conversations()
        .list()
        .send()
        .expect_err("401");
    assert!(err.is_unauthorized(), "{err}");
    assert!(err.to_string().contains("Agent Studio"), "{err}");
    let err = wrong_key
        .agent(mock.agent_id())
        .conversations()
        .list()
        .into_iter()
        .next()
        .and_then(Result::err)
        .expect("a walk yields the 401");
    assert!(err.is_unauthorized(), "{err}");

    mock.server.faults().fail_next(1, 503);
    let err = agent
        .annotate(
            mock.server.conversation_id(0, 0),
            [Annotation::new(0, Role::Agent, AnnotationType::WrongInfo)],
        )
        .send()
        .expect_err("a 503 on a non-idempotent call is reported");
    assert_eq!(err.status(), Some(503));
    assert!(err.may_have_been_applied());

    let err = agent
        .annotate(mock.server.conversation_id(0, 0), [])
        .send()
        .expect_err("empty");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

#[test]
fn notes_annotations_and_debug_chat_round_trip() {
    let mock = Mock::start(10);
    let agent = mock.blocking().agent(mock.agent_id());
    let id = mock.server.conversation_id(0, 1);

    agent.note(&id, "checked, blocking").send().expect("note");
    let detail = agent.conversations().get(&id).send().expect("detail");
    assert_eq!(detail.note.as_deref(), Some("checked, blocking"));
    let ((), meta) = agent
        .annotate(
            &id,
            [Annotation::new(0, Role::User, AnnotationType::MissingTopic)],
        )
        .send_with_meta()
        .expect("annotate");
    assert!((200..300).contains(&meta.status()));

    let mut chat = agent
        .debug_chat(ChatOptions::new(ClientEnv::Sandbox))
        .send()
        .expect("chat");
    assert!(!chat.greeting().text().is_empty());
    assert!(chat.id().starts_with("AS_CHAT_"), "{}", chat.id());
    let reply = chat.send("hello").expect("reply");
    assert!(!reply.text().is_empty());
    assert_eq!(reply.conversation_id(), chat.id());
}

#[test]
fn the_v3_listing_walks_every_conversation_by_cursor() {
    let mock = Mock::start(130);
    let client = mock.blocking();
    let account = mock.server.account_id().to_owned();
    let project = client.workspace(&account).project(mock.agent_id());
    assert_eq!(project.agent().id(), mock.agent_id());
    let expected: Vec<String> = mock
        .run_async(async |client, _| {
            client
                .workspace(&account)
                .project(mock.agent_id())
                .conversations()
                .all()
                .await
        })
        .expect("async v3 walk")
        .into_iter()
        .map(|c| c.id)
        .collect();
    // The server's default filters (live conversations) leave some out; enough for three pages.
    assert!(expected.len() > 50, "{}", expected.len());

    let walked: Vec<String> = project
        .conversations()
        .limit(25)
        .into_iter()
        .map(|c| c.map(|c| c.id))
        .collect::<Result<_, _>>()
        .expect("blocking v3 walk");
    assert_eq!(walked, expected);
    let pages = project
        .conversations()
        .limit(25)
        .pages()
        .collect::<Result<Vec<_>, _>>()
        .expect("pages");
    let sizes: Vec<usize> = pages.iter().map(|p| p.items().len()).collect();
    let expected_sizes: Vec<usize> = expected.chunks(25).map(<[String]>::len).collect();
    assert_eq!(sizes, expected_sizes);
    let (last, full) = pages.split_last().expect("pages");
    assert!(full.iter().all(|p| p.cursor().is_some()));
    assert_eq!(last.cursor(), None);

    // One page, resumed from its cursor, gives the next page.
    let first = project
        .conversations()
        .limit(25)
        .send()
        .expect("first page");
    let cursor = first.cursor().expect("more pages").to_owned();
    let second = project
        .conversations()
        .limit(25)
        .cursor(cursor)
        .send()
        .expect("second page");
    let second: Vec<&str> = second.items().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(second, expected[25..50]);

    // A request the async client refuses is refused the same way.
    let err = project
        .conversations()
        .limit(0)
        .send()
        .expect_err("limit 0 is refused");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

#[test]
fn one_client_serves_many_threads() {
    let mock = Mock::start(40);
    let client = mock.blocking();
    let agent_id = mock.agent_id();
    let expected: Vec<String> = (0..8).map(|i| mock.server.conversation_id(0, i)).collect();
    let fetched: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = expected
            .iter()
            .map(|id| {
                let agent = client.agent(&agent_id);
                scope.spawn(move || {
                    let walked = agent.conversations().list().limit(7).items().count();
                    assert_eq!(walked, 40);
                    agent
                        .conversations()
                        .get(id)
                        .send()
                        .map(|c| c.conversation_id)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread").expect("detail"))
            .collect()
    });
    assert_eq!(fetched, expected);
}

#[tokio::test]
async fn inside_a_current_thread_runtime_a_call_fails_clearly_and_drop_is_quiet() {
    let client = polyai_data::blocking::Client::builder()
        .api_key("key")
        .base_url("http://127.0.0.1:9")
        .build_blocking()
        .expect("building inside a runtime is fine");
    let agent = client.agent("PROJECT-1");
    let err = agent
        .conversations()
        .get("CA1")
        .send()
        .expect_err("refused");
    assert!(matches!(err, Error::BlockingInAsync), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("async `polyai_data::Client`"), "{message}");
    assert!(message.contains("spawn_blocking"), "{message}");
    let first = agent.conversations().list().into_iter().next();
    assert!(
        matches!(first, Some(Err(Error::BlockingInAsync))),
        "{first:?}"
    );
    drop(agent);
    drop(client); // no panic: the runtime is dropped on its own thread
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_spawn_blocking_it_works_and_in_a_task_it_is_refused() {
    // The mock runs on this very runtime: blocking one of its workers could deadlock it.
    let server = MockServer::start(MockConfig::default().conversations(12))
        .await
        .expect("mock");
    let client = polyai_data::Client::builder()
        .api_key(SANDBOX_KEY)
        .base_url(server.base_url())
        .build_blocking()
        .expect("client");
    let agent = client.agent(server.agent_ids()[0].clone());

    let in_task = agent.clone();
    let refused = tokio::spawn(async move { in_task.conversations().list().send().map(|_| ()) })
        .await
        .expect("task");
    assert!(
        matches!(refused, Err(Error::BlockingInAsync)),
        "{refused:?}"
    );

    let walked = tokio::task::spawn_blocking(move || agent.conversations().list().limit(5).all())
        .await
        .expect("spawn_blocking")
        .expect("walk from spawn_blocking");
    assert_eq!(walked.len(), 12);
    server.shutdown().await;
}

#[test]
fn a_callback_on_the_runtime_thread_cannot_block_it() {
    let mock = Mock::start(20);
    let id = mock.with_recording(20);
    let client = mock.blocking();
    let agent = client.agent(mock.agent_id());
    let inner = agent.clone();
    let nested = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = nested.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    agent
        .audio(&id)
        .send()
        .expect("download")
        .save_to_with_progress(dir.path().join("a.wav"), move |_| {
            let mut slot = seen.lock().expect("lock");
            if slot.is_none() {
                *slot = Some(inner.conversations().list().send().map(|_| ()));
            }
        })
        .expect("saved");
    let nested = nested.lock().expect("lock").take().expect("progress ran");
    assert!(matches!(nested, Err(Error::BlockingInAsync)), "{nested:?}");
}

#[test]
fn a_panic_in_a_callback_reaches_the_caller_and_the_client_keeps_working() {
    let mock = Mock::start(20);
    let id = mock.with_recording(20);
    let client = mock.blocking();
    let agent = client.agent(mock.agent_id());
    let dir = tempfile::tempdir().expect("tempdir");
    let download = agent.audio(&id).send().expect("download");
    let path = dir.path().join("a.wav");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        download.save_to_with_progress(&path, |_| panic!("progress callback failed"))
    }))
    .expect_err("the callback's panic is resumed on the caller's thread");
    assert_eq!(
        panicked.downcast_ref::<&str>(),
        Some(&"progress callback failed")
    );
    assert!(!path.exists(), "no partial file is left");
    assert_eq!(
        std::fs::read_dir(dir.path()).map(Iterator::count).ok(),
        Some(0)
    );
    let page = agent
        .conversations()
        .list()
        .limit(5)
        .send()
        .expect("still works");
    assert_eq!(page.items().len(), 5);
}

#[test]
fn in_a_multi_thread_runtimes_block_on_a_call_blocks_that_thread_only() {
    let mock = Mock::start(12);
    let client = mock.blocking();
    let agent = client.agent(mock.agent_id());
    // What the body of a default `#[tokio::main]` is: a future in a multi-thread `block_on`.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let walked = rt.block_on(async move {
        let ticker = tokio::spawn(async { tokio::task::yield_now().await });
        let walked = agent.conversations().list().limit(5).all();
        ticker.await.expect("the runtime's worker went on");
        walked
    });
    assert_eq!(walked.expect("walk").len(), 12);
    rt.block_on(async move {
        drop(client); // dropped inside the runtime: no panic
    });
}
