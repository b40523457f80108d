//! Persistence of notes and annotations across restarts.

use polyai_mock::MockConfig;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::start;

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("polyai-mock-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("state.json");
    let _ = std::fs::remove_file(&file);
    let config = MockConfig::default().state_file(&file);

    let env = start(config.clone()).await;
    let id = env.conv(2);
    let (status, _) = env
        .post(
            &env.agent_path(&format!("/conversations/{id}/note")),
            json!({"note": "persist me"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = env
        .post(
            &env.agent_path(&format!("/conversations/{id}/annotation")),
            json!({"annotations": [{"turnId": 0, "role": "user", "annotationType": "missing_topic"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    env.server.shutdown().await;
    assert!(file.exists());
    assert!(
        !dir.join("state.json.tmp").exists(),
        "temporary file renamed away"
    );

    let env = start(config).await;
    let (_, detail) = env
        .get(&env.agent_path(&format!("/conversations/{id}")))
        .await;
    assert_eq!(detail["note"], "persist me");
    assert_eq!(
        detail["turns"][0]["reviews"],
        json!([{"role": "user", "annotation_type": "missing_topic"}])
    );
    env.server.shutdown().await;

    std::fs::write(&file, "{not json").expect("write");
    assert!(
        polyai_mock::MockServer::start(MockConfig::default().state_file(&file))
            .await
            .is_err()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh, empty folder under the system temp dir for one test.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "polyai-mock-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn a_failed_save_leaves_memory_unchanged() {
    let dir = temp_dir("failed-save");
    let file = dir.join("state.json");
    let env = start(MockConfig::default().state_file(&file)).await;
    let id = env.conv(1);
    // The folder vanishes under the running server: every save now fails.
    std::fs::remove_dir_all(&dir).expect("remove folder");
    let (status, _) = env
        .post(
            &env.agent_path(&format!("/conversations/{id}/note")),
            json!({"note": "not saved"}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _) = env
        .post(
            &env.agent_path(&format!("/conversations/{id}/annotation")),
            json!({"annotations": [{"turnId": 0, "role": "user", "annotationType": "missing_topic"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (_, detail) = env
        .get(&env.agent_path(&format!("/conversations/{id}")))
        .await;
    assert_eq!(detail["note"], serde_json::Value::Null, "{detail}");
    assert_eq!(env.server.state(), polyai_mock::StateData::default());
    env.server.shutdown().await;
}

#[tokio::test]
async fn a_second_server_on_the_same_file_refuses_to_start() {
    let dir = temp_dir("locked");
    let file = dir.join("state.json");
    let env = start(MockConfig::default().state_file(&file)).await;
    let second = polyai_mock::MockServer::start(MockConfig::default().state_file(&file)).await;
    let err = second.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        err.contains("in use by another") && err.contains("state.json"),
        "{err}"
    );
    env.server.shutdown().await;
    // Released on shutdown: the next server starts.
    let env = start(MockConfig::default().state_file(&file)).await;
    env.server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_stale_temporary_file_does_not_block_saving() {
    let dir = temp_dir("stale-tmp");
    let file = dir.join("state.json");
    // What a crashed writer with a fixed temporary name would leave behind, here a folder.
    std::fs::create_dir(dir.join("state.json.tmp")).expect("stale tmp");
    let env = start(MockConfig::default().state_file(&file)).await;
    let id = env.conv(0);
    let (status, _) = env
        .post(
            &env.agent_path(&format!("/conversations/{id}/note")),
            json!({"note": "saved"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    env.server.shutdown().await;
    let saved = std::fs::read_to_string(&file).expect("state file");
    assert!(saved.contains("saved"), "{saved}");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".tmp") && name != "state.json.tmp")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn malformed_state_and_missing_folders_are_refused_at_start() {
    let dir = temp_dir("malformed");
    let file = dir.join("state.json");
    for (text, expected) in [
        ("[]", "must be a JSON object"),
        ("42", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("{not json", "is not valid"),
        (r#"{"notes": []}"#, "is not valid"),
    ] {
        std::fs::write(&file, text).expect("write");
        let err = polyai_mock::MockServer::start(MockConfig::default().state_file(&file))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(expected), "{text}: {err}");
    }
    let missing = dir.join("no-such-folder").join("state.json");
    let err = polyai_mock::MockServer::start(MockConfig::default().state_file(&missing))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("no-such-folder") && err.contains("does not exist"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
