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
