//! The Conversations API v3 end to end against `polyai-mock`: every filter, checked against the
//! same conversations listed through the Data API; searches; sampling; cursor paging that stays
//! stable while conversations arrive; resuming by cursor; the errors; tolerant decoding and the
//! request's shape against a scripted server.

mod support;

use std::collections::HashSet;

use polyai_data::models::ConversationSummary;
use polyai_data::models::TurnExt;
use polyai_data::paginate::Position;
use polyai_data::v3::{Conversation, ConversationExt, Project, TurnType};
use polyai_data::{Client, ClientEnv, Error, Region, Timestamp};
use polyai_mock::{ApiKey, MockConfig, MockServer, SANDBOX_KEY};
use serde_json::json;

use support::{Reply, TestServer};

const CONVERSATIONS: u64 = 400;

struct Env {
    server: MockServer,
    client: Client,
    project: Project,
    /// Every conversation through the Data API, newest first.
    reference: Vec<ConversationSummary>,
}

async fn env() -> Env {
    let server = MockServer::start(
        MockConfig::default()
            .conversations(CONVERSATIONS)
            .key(ApiKey::new("scoped", "us").scoped_to(["PROJECT-OTHER"])),
    )
    .await
    .expect("mock starts");
    let client = client(&server, SANDBOX_KEY);
    let agent = server.agent_ids()[0].clone();
    let project = client.workspace(server.account_id()).project(&agent);
    let reference = client
        .agent(&agent)
        .conversations()
        .list()
        .limit(500)
        .all()
        .await
        .expect("Data API listing");
    assert_eq!(reference.len() as u64, CONVERSATIONS);
    Env {
        server,
        client,
        project,
        reference,
    }
}

fn client(server: &MockServer, key: &str) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(server.base_url())
        .sleeper(|_| Box::pin(async {}))
        .build()
        .expect("client")
}

fn ids(items: &[Conversation]) -> Vec<String> {
    items.iter().map(|c| c.id.clone()).collect()
}

/// Ids of the Data API conversations that pass `keep`, newest first.
fn expected(env: &Env, keep: impl Fn(&ConversationSummary) -> bool) -> Vec<String> {
    env.reference
        .iter()
        .filter(|c| keep(c))
        .map(|c| c.conversation_id.clone())
        .collect()
}

fn live(c: &ConversationSummary) -> bool {
    c.client_env.as_deref() == Some("live")
}

async fn all(listing: polyai_data::v3::ListConversations) -> Vec<Conversation> {
    listing.all().await.expect("v3 walk")
}

fn started(c: &ConversationSummary) -> Timestamp {
    c.started_at
        .as_deref()
        .expect("startedAt")
        .parse()
        .expect("a date-time")
}

#[tokio::test]
async fn the_default_listing_is_every_live_conversation_newest_first_by_cursor() {
    let env = env().await;
    let mut pages = env.project.conversations().limit(40).pages();
    let mut got = Vec::new();
    let mut cursors = 0;
    while let Some(page) = pages.try_next().await.expect("page") {
        cursors += usize::from(page.cursor().is_some());
        got.extend(page.into_items());
    }
    assert!(cursors >= 3, "walked {cursors} cursors");
    assert_eq!(ids(&got), expected(&env, live));
    assert!(
        got.iter()
            .all(|c| c.environment == "live" && c.account_id == env.server.account_id())
    );
    assert!(
        got.iter()
            .all(|c| c.turns().len() as i64 == c.num_turns.unwrap_or(-1) && !c.turns().is_empty())
    );
}

#[tokio::test]
async fn time_range_environment_channel_variant_and_progress_filters() {
    let env = env().await;
    // A window in the middle: start inclusive, end exclusive.
    let end = started(&env.reference[50]);
    let start = started(&env.reference[300]);
    let got = all(env.project.conversations().start_time(start).end_time(end)).await;
    let want = expected(&env, |c| live(c) && started(c) >= start && started(c) < end);
    assert!(want.len() > 100);
    assert_eq!(ids(&got), want);

    for (env_filter, name) in [
        (ClientEnv::Sandbox, "sandbox"),
        (ClientEnv::PreRelease, "pre-release"),
        (ClientEnv::Live, "live"),
    ] {
        let got = all(env.project.conversations().client_env(env_filter)).await;
        let want = expected(&env, |c| c.client_env.as_deref() == Some(name));
        assert!(!want.is_empty(), "{name}");
        assert_eq!(ids(&got), want, "{name}");
    }

    let chat = all(env
        .project
        .conversations()
        .channel("CHAT")
        .channel("webchat"))
    .await;
    let want = expected(&env, |c| {
        live(c) && matches!(c.channel.as_deref(), Some("CHAT" | "WEBCHAT"))
    });
    assert!(!want.is_empty());
    assert_eq!(ids(&chat), want);
    let voice = all(env.project.conversations().channel("voice")).await;
    assert_eq!(
        ids(&voice),
        expected(&env, |c| live(c)
            && c.channel.as_deref() == Some("VOICE-SIP"))
    );

    let name = env
        .reference
        .iter()
        .find_map(|c| c.variant_id.clone().filter(|_| live(c)))
        .expect("a conversation with a variant");
    let by_name = all(env.project.conversations().variant_name(&name)).await;
    assert_eq!(
        ids(&by_name),
        expected(&env, |c| live(c)
            && c.variant_id.as_deref() == Some(name.as_str()))
    );
    let id = by_name[0].variant_id.clone().expect("variant id");
    let by_id = all(env.project.conversations().variant_id(&id)).await;
    assert_eq!(ids(&by_id), ids(&by_name));
    assert!(
        by_id
            .iter()
            .all(|c| c.variant_name.as_deref() == Some(name.as_str()))
    );

    let going = all(env
        .project
        .conversations()
        .client_env(ClientEnv::Sandbox)
        .in_progress(true))
    .await;
    let done = all(env
        .project
        .conversations()
        .client_env(ClientEnv::Sandbox)
        .in_progress(false))
    .await;
    let sandbox = |c: &ConversationSummary| c.client_env.as_deref() == Some("sandbox");
    assert_eq!(
        ids(&going),
        expected(&env, |c| sandbox(c) && c.in_progress == Some(true))
    );
    assert_eq!(
        ids(&done),
        expected(&env, |c| sandbox(c) && c.in_progress == Some(false))
    );
    assert!(going.iter().all(|c| c.in_progress));
}

fn transcript(c: &Conversation, side: Option<TurnType>) -> String {
    c.turns()
        .iter()
        .flat_map(|t| {
            let user = side != Some(TurnType::Agent);
            let agent = side != Some(TurnType::User);
            [
                user.then(|| t.user_input.clone().unwrap_or_default()),
                agent.then(|| t.agent_response.clone().unwrap_or_default()),
            ]
        })
        .flatten()
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase()
}

#[tokio::test]
async fn transcript_search_finds_exactly_the_conversations_that_say_it() {
    let env = env().await;
    let everything = all(env.project.conversations()).await;
    for side in [None, Some(TurnType::User), Some(TurnType::Agent)] {
        let mut listing = env.project.conversations().transcript_search("Refund");
        if let Some(side) = side {
            listing = listing.turn_type(side);
        }
        let got = all(listing).await;
        let want: Vec<String> = everything
            .iter()
            .filter(|c| transcript(c, side).contains("refund"))
            .map(|c| c.id.clone())
            .collect();
        assert!(!want.is_empty(), "{side:?}");
        assert_eq!(ids(&got), want, "{side:?}");
    }
}

#[tokio::test]
async fn semantic_search_ranks_the_closest_conversations_first() {
    let env = env().await;
    let got = all(env
        .project
        .conversations()
        .semantic_search("I want my money back, a refund for the double payment"))
    .await;
    assert!(!got.is_empty());
    let first = transcript(&got[0], None);
    assert!(
        first.contains("refund") && first.contains("payment"),
        "{first}"
    );
    let live_ids: HashSet<String> = expected(&env, live).into_iter().collect();
    assert!(got.iter().all(|c| live_ids.contains(&c.id)));
    // Unlike the time order: at least one later result started after an earlier one.
    let times: Vec<Timestamp> = got.iter().filter_map(|c| c.started_at_time()).collect();
    assert!(times.windows(2).any(|w| w[0] < w[1]), "ranked, not by time");
}

#[tokio::test]
async fn random_samples_differ_and_a_sampling_walk_covers_everything_once() {
    let env = env().await;
    let first = env
        .project
        .conversations()
        .sample_random()
        .limit(20)
        .send()
        .await
        .expect("sample");
    let second = env
        .project
        .conversations()
        .sample_random()
        .limit(20)
        .send()
        .await
        .expect("sample");
    assert_eq!(first.items().len(), 20);
    assert_ne!(ids(first.items()), ids(second.items()));
    let walk = all(env.project.conversations().sample_random().limit(30)).await;
    let mut sorted = ids(&walk);
    sorted.sort();
    let mut want = expected(&env, live);
    assert_ne!(ids(&walk), want, "shuffled");
    want.sort();
    assert_eq!(sorted, want);
}

#[tokio::test]
async fn latency_only_when_asked() {
    let env = env().await;
    let page = env
        .project
        .conversations()
        .limit(5)
        .send()
        .await
        .expect("page");
    assert!(
        page.items()
            .iter()
            .flat_map(|c| c.turns())
            .all(|t| t.latency.is_none())
    );
    let page = env
        .project
        .conversations()
        .limit(5)
        .include_latency(true)
        .send()
        .await
        .expect("page");
    let latencies: Vec<f64> = page
        .items()
        .iter()
        .flat_map(|c| c.turns())
        .filter_map(|t| t.latency_seconds())
        .collect();
    assert_eq!(
        latencies.len(),
        page.items().iter().map(|c| c.turns().len()).sum::<usize>()
    );
    assert!(latencies.iter().all(|l| *l >= 0.0) && latencies.iter().any(|l| *l > 0.0));
}

#[tokio::test]
async fn the_limit_rule_and_max_items() {
    let env = env().await;
    let page = env
        .project
        .conversations()
        .client_env(ClientEnv::Sandbox)
        .limit(1000)
        .send()
        .await
        .expect("page");
    assert_eq!(
        ids(page.items()),
        expected(&env, |c| c.client_env.as_deref() == Some("sandbox"))
    );
    assert!(page.cursor().is_none() && page.next_offset().is_none());
    let err = env
        .project
        .conversations()
        .limit(1001)
        .send()
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("1000")),
        "{err}"
    );
    let some = all(env.project.conversations().limit(7).max_items(17)).await;
    assert_eq!(ids(&some), expected(&env, live)[..17]);
}

#[tokio::test]
async fn cursors_stay_put_while_conversations_arrive_and_offsets_do_not() {
    let env = env().await;
    let before = ids(&all(env
        .project
        .conversations()
        .client_env(ClientEnv::Live)
        .limit(25))
    .await);

    // Walk by cursor; five conversations arrive after every page.
    let mut pages = env
        .project
        .conversations()
        .client_env(ClientEnv::Live)
        .limit(25)
        .pages();
    let mut walked = Vec::new();
    while let Some(page) = pages.try_next().await.expect("page") {
        walked.extend(ids(page.items()));
        env.server.add_conversations(5);
    }
    assert_eq!(
        walked, before,
        "a cursor walk neither repeats nor skips nor shows arrivals"
    );
    let arrived = env.server.conversation_count() - CONVERSATIONS;
    assert!(arrived >= 15, "{arrived} arrived during the walk");

    // The same walk by offset drifts: arrivals push seen conversations onto later pages.
    let mut by_offset = Vec::new();
    let mut offset = 0;
    loop {
        let page = env
            .project
            .conversations()
            .client_env(ClientEnv::Live)
            .limit(25)
            .offset(offset)
            .send()
            .await
            .expect("page");
        by_offset.extend(ids(page.items()));
        env.server.add_conversations(5);
        match page.next_offset() {
            Some(next) => offset = next,
            None => break,
        }
    }
    let unique: HashSet<&String> = by_offset.iter().collect();
    assert!(
        unique.len() < by_offset.len(),
        "offset paging repeated nothing"
    );

    // A new walk sees the arrivals first, then everything seen before.
    let after = ids(&all(env.project.conversations().client_env(ClientEnv::Live)).await);
    assert!(after.len() > before.len());
    assert_eq!(after[after.len() - before.len()..], before[..]);
    let newest = env
        .server
        .added_conversation_id(0, env.server.conversation_count() - CONVERSATIONS - 1);
    let data_api = env
        .client
        .agent(env.project.project_id())
        .conversations()
        .list()
        .limit(1)
        .send()
        .await
        .expect("page");
    assert_eq!(
        data_api.items()[0].conversation_id,
        newest,
        "the Data API lists arrivals too"
    );
}

#[tokio::test]
async fn a_walk_resumes_from_a_saved_cursor() {
    let env = env().await;
    let listing = || {
        env.project
            .conversations()
            .transcript_search("order")
            .limit(10)
    };
    let whole = ids(&all(listing()).await);
    let first = listing().send().await.expect("page");
    assert_eq!(first.position(), None, "the first page starts at the start");
    let cursor = first.cursor().expect("more pages").to_owned();
    let rest = ids(&all(listing().cursor(&cursor)).await);
    assert_eq!([ids(first.items()), rest.clone()].concat(), whole);

    // The same from the page's `next()`, saved as JSON and read back.
    let next = first.next().expect("more pages");
    assert_eq!(next.cursor(), Some(cursor.as_str()), "v3 goes on by cursor");
    let saved = serde_json::to_string(&next).expect("json");
    assert!(saved.starts_with(r#"{"cursor":""#), "{saved}");
    let resumed: Position = serde_json::from_str(&saved).expect("a position");
    assert_eq!(ids(&all(listing().from(resumed)).await), rest);

    // An offset position is v3's `offset` parameter; the walk goes on by cursor.
    let mut pages = listing().from(Position::Offset(10)).pages();
    let page = pages.try_next().await.expect("ok").expect("page");
    assert_eq!(page.position(), Some(&Position::Offset(10)));
    assert_eq!(page.next_offset(), Some(20), "the server's next offset");
    assert!(matches!(page.next(), Some(Position::Cursor(_))));
    let mut from_offset = ids(page.items());
    while let Some(page) = pages.try_next().await.expect("ok") {
        from_offset.extend(ids(page.items()));
    }
    assert_eq!(from_offset, whole[10..]);
    // A cursor is bound to its query.
    let err = env
        .project
        .conversations()
        .transcript_search("billing")
        .cursor(&cursor)
        .send()
        .await
        .expect_err("400");
    assert_eq!(err.status(), Some(400));
}

#[tokio::test]
async fn errors_are_typed() {
    let env = env().await;
    let project = env.server.agent_ids()[0].clone();
    let code = |e: &Error| e.as_api().and_then(|a| a.code()).map(str::to_owned);

    let err = env
        .client
        .workspace("ws-nope")
        .project(&project)
        .conversations()
        .send()
        .await
        .expect_err("404");
    assert!(
        err.is_not_found() && code(&err).as_deref() == Some("ACCOUNT_NOT_FOUND"),
        "{err}"
    );
    let err = env
        .client
        .workspace(env.server.account_id())
        .project("PROJECT-NOPE")
        .conversations()
        .send()
        .await
        .expect_err("404");
    assert!(
        err.is_not_found() && code(&err).as_deref() == Some("PROJECT_NOT_FOUND"),
        "{err}"
    );
    let as_key = |key: &str| {
        client(&env.server, key)
            .workspace(env.server.account_id())
            .project(&project)
            .conversations()
            .send()
    };
    let err = as_key("wrong-key").await.expect_err("401");
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("Agent Studio"), "{err}");
    let err = as_key("scoped").await.expect_err("403");
    assert_eq!(err.status(), Some(403));
    let err = env
        .project
        .conversations()
        .cursor("not-a-cursor")
        .send()
        .await
        .expect_err("400");
    assert_eq!(
        code(&err).as_deref(),
        Some("GET_CONVERSATIONS_FILTER_PARSE_ERROR")
    );
    assert!(err.to_string().contains("list_conversations_v3"), "{err}");

    let studio = Client::builder()
        .api_key("k")
        .region(Region::Studio)
        .build()
        .expect("client");
    let err = studio
        .workspace("ws-1")
        .project("P")
        .conversations()
        .send()
        .await
        .expect_err("no host");
    assert!(
        matches!(&err, Error::Config(m) if m.contains("no Conversations API v3 host")),
        "{err}"
    );
}

#[tokio::test]
async fn requests_carry_the_key_and_every_parameter() {
    let server =
        TestServer::start(|_| Reply::json(200, json!({"conversations": [], "cursor": null}))).await;
    let (client, _) = support::client_for(&server, "secret-key");
    let start: Timestamp = "2026-06-02T00:00:00Z".parse().expect("time");
    client
        .workspace("ws-1")
        .project("PROJECT 1")
        .conversations()
        .start_time(start)
        .semantic_search("money back")
        .channel("VOICE-SIP")
        .channel("WEBCHAT")
        .client_env(ClientEnv::Sandbox)
        .variant_id("v/1")
        .in_progress(false)
        .include_latency(true)
        .limit(10)
        .send()
        .await
        .expect("page");
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/v3/ws-1/PROJECT%201/conversations");
    assert_eq!(request.header("x-api-key"), Some("secret-key"));
    assert!(
        request
            .header("x-polyai-correlation-id")
            .is_some_and(|c| c.starts_with("polyai-rs-"))
    );
    assert_eq!(
        request.query,
        "channel=VOICE-SIP&channel=WEBCHAT&client_env=sandbox&in_progress=false&include_latency=true\
         &limit=10&query=money+back&query_type=semantic&start_time=2026-06-02T00%3A00%3A00Z&variant_id=v%2F1"
    );
}

#[tokio::test]
async fn odd_values_of_untyped_fields_never_fail_a_page() {
    let server = TestServer::start(|_| {
        Reply::json(200, json!({
            "conversations": [{
                "id": "CA1", "account_id": "ws-1", "project_id": "P", "environment": "live",
                "started_at": "2026-06-03T14:00:38Z", "channel": "VOICE-SIP", "in_progress": false,
                "state": ["not", "an", "object"],
                "metrics": {"CALL_DURATION": "73", "POINTS": [{"timestamp": "t", "value": "1"}], "N": 5},
                "handoff_reason": null, "num_turns": null, "variant_name": "",
                "turns": [{"user_input": "hi", "latency": {"perceived_latency": 2.5},
                           "entities": [null, {"city": ["Leeds"]}, 3], "barge_in": true}],
                "sentiment": "positive"
            }],
            "cursor": null, "next_offset": null
        }))
    })
    .await;
    let (client, _) = support::client_for(&server, "k");
    let page = client
        .workspace("ws-1")
        .project("P")
        .conversations()
        .send()
        .await
        .expect("decodes");
    let c = &page.items()[0];
    assert_eq!(c.state, Some(json!(["not", "an", "object"])));
    assert!(matches!(
        c.metric("POINTS"),
        Some(polyai_data::v3::Metric::Other(_))
    ));
    assert_eq!(
        c.metric("N"),
        Some(polyai_data::v3::Metric::Other(&json!(5)))
    );
    assert_eq!(c.extra["sentiment"], "positive");
    let turn = &c.turns()[0];
    assert_eq!(turn.latency_seconds(), Some(2.5));
    assert_eq!(turn.entities.as_ref().map(Vec::len), Some(3));
    assert_eq!(turn.extra["barge_in"], true);
    assert!(page.cursor().is_none());
}

/// The generated client is the spec's executable reference: for the same query, polyai-data
/// sends the same path and the same query parameters as `polyai_data_raw`'s
/// `list_conversations_v3` (compared as sets: the order differs).
#[tokio::test]
async fn requests_match_the_generated_client() {
    use polyai_data_raw::conversations_v3::types::{
        ListConversationsV3ClientEnv, ListConversationsV3QueryType, ListConversationsV3TurnType,
    };

    let server =
        TestServer::start(|_| Reply::json(200, json!({"conversations": [], "cursor": null}))).await;
    let (client, _) = support::client_for(&server, "k");
    let start: Timestamp = "2026-06-02T00:00:00Z".parse().expect("time");
    let end: Timestamp = "2026-06-03T00:00:00Z".parse().expect("time");
    client
        .workspace("ws 1")
        .project("P/1")
        .conversations()
        .start_time(start)
        .end_time(end)
        .transcript_search("cancel my plan")
        .turn_type(TurnType::User)
        .channels(["VOICE-SIP", "WEBCHAT"])
        .client_env(ClientEnv::PreRelease)
        .variant_name("Main Line")
        .in_progress(true)
        .include_latency(true)
        .limit(500)
        .cursor("v3.1.2")
        .send()
        .await
        .expect("page");

    let raw = polyai_data_raw::conversations_v3::Client::new_with_client(
        &server.url(),
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        polyai_data_raw::Hooks::send(),
    );
    let channels = vec!["VOICE-SIP".to_owned(), "WEBCHAT".to_owned()];
    raw.list_conversations_v3(
        "ws 1",
        "P/1",
        Some(&channels),
        Some(ListConversationsV3ClientEnv::PreRelease),
        Some("v3.1.2"),
        Some("2026-06-03T00:00:00Z"),
        Some(true),
        Some(true),
        std::num::NonZeroU64::new(500),
        None,
        Some("cancel my plan"),
        Some(ListConversationsV3QueryType::Transcript),
        None,
        Some("2026-06-02T00:00:00Z"),
        Some(ListConversationsV3TurnType::User),
        None,
        Some("Main Line"),
        None,
    )
    .await
    .expect("the generated client's page");

    let requests = server.requests();
    let shape = |r: &support::Recorded| {
        let mut pairs: Vec<&str> = r.query.split('&').collect();
        pairs.sort_unstable();
        (r.method.clone(), r.path.clone(), pairs.join("&"))
    };
    assert_eq!(shape(&requests[0]), shape(&requests[1]));
    assert_eq!(requests[0].path, "/v3/ws%201/P%2F1/conversations");
}
