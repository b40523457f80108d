//! Profiles: `config.toml` under `XDG_CONFIG_HOME` (or `POLYAI_CONFIG`), `--profile` /
//! `POLYAI_PROFILE`, precedence flag > environment > profile, `polyai config list|show`. Each
//! test runs `polyai` as a child process with its own temporary config folder.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Mock, polyai, stderr, stdout};

/// A temporary `$XDG_CONFIG_HOME` holding `polyai/config.toml` and key files.
struct ConfigDir {
    dir: tempfile::TempDir,
}

impl ConfigDir {
    fn new(config: &str) -> ConfigDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("polyai")).expect("mkdir");
        std::fs::write(dir.path().join("polyai/config.toml"), config).expect("config");
        ConfigDir { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join("polyai").join(name)
    }

    /// Writes a key file with `mode`.
    fn key(&self, name: &str, key: &str, mode: u32) {
        let path = self.file(name);
        std::fs::write(&path, format!("{key}\n")).expect("key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        #[cfg(not(unix))]
        let _ = mode;
    }

    /// `polyai ARGS` with this config folder, `env` set, and no key in the environment.
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = polyai();
        cmd.env("XDG_CONFIG_HOME", self.dir.path());
        // The profiles name no account: the Data API's listing.
        cmd.env("POLYAI_API", "data").env("POLYAI_ENV", "all");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(args).output().expect("polyai runs")
    }
}

fn mock_profile(mock: &Mock, name: &str) -> String {
    format!(
        "[profiles.{name}]\nbase_url = \"{}\"\nagent = \"{}\"\napi_key_file = \"mock.key\"\n",
        mock.server().base_url(),
        mock.agent()
    )
}

fn assert_lists(out: &Output, n: usize) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    let csv = stdout(out);
    assert_eq!(csv.lines().count(), n + 1, "{csv}");
}

#[test]
fn the_default_profile_supplies_url_agent_and_key() {
    let mock = Mock::with_conversations(3);
    let config = ConfigDir::new(&mock_profile(&mock, "default"));
    config.key("mock.key", mock.server().key().expect("key"), 0o600);
    let out = config.run(&[], &["-O", "csv", "conversations", "list"]);
    assert_lists(&out, 3);
    // The same file through POLYAI_CONFIG, from anywhere.
    let path = config.file("config.toml");
    let mut cmd = polyai();
    cmd.env("POLYAI_CONFIG", &path)
        .env("POLYAI_API", "data")
        .env("POLYAI_ENV", "all");
    let out = cmd
        .args(["-O", "csv", "conversations", "list"])
        .output()
        .expect("runs");
    assert_lists(&out, 3);
}

#[test]
fn flags_beat_the_environment_which_beats_the_profile() {
    let mock = Mock::with_conversations(2);
    let key = mock.server().key().expect("key").to_owned();
    // The profile points nowhere useful: an unreachable port, an unknown agent, a wrong key.
    let config = ConfigDir::new(
        "[profiles.work]\nbase_url = \"http://127.0.0.1:9\"\nagent = \"PROJECT-NOPE\"\n\
         api_key_file = \"wrong.key\"\n",
    );
    config.key("wrong.key", "wrong-key", 0o600);
    let base = mock.server().base_url();
    let agent = mock.agent();
    let list = ["-O", "csv", "conversations", "list"];
    // Environment over profile, for each value.
    let env = [
        ("POLYAI_PROFILE", "work"),
        ("POLYAI_BASE_URL", base.as_str()),
        ("POLYAI_AGENT_ID", agent.as_str()),
        ("POLYAI_API_KEY", key.as_str()),
    ];
    assert_lists(&config.run(&env, &list), 2);
    // Flags over profile.
    let key_file = config.file("right.key");
    config.key("right.key", &key, 0o600);
    let key_path = key_file.to_string_lossy().into_owned();
    let flags = [
        "--profile",
        "work",
        "--base-url",
        &base,
        "--agent",
        &agent,
        "--api-key-file",
        &key_path,
    ];
    assert_lists(&config.run(&[], &[&flags[..], &list[..]].concat()), 2);
    // Flags over environment: a wrong agent in the environment, the right one as a flag.
    let env = [
        ("POLYAI_PROFILE", "work"),
        ("POLYAI_BASE_URL", base.as_str()),
        ("POLYAI_AGENT_ID", "PROJECT-NOPE"),
        ("POLYAI_API_KEY", key.as_str()),
    ];
    assert_lists(
        &config.run(&env, &[&["--agent", &agent][..], &list[..]].concat()),
        2,
    );
    // With only the profile's values the wrong key is refused: the profile was used.
    let out = config.run(
        &[
            ("POLYAI_BASE_URL", base.as_str()),
            ("POLYAI_AGENT_ID", agent.as_str()),
        ],
        &[&["--profile", "work"][..], &list[..]].concat(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn configuration_mistakes_exit_2_naming_the_file_and_the_fix() {
    let config = ConfigDir::new("[profiles.default]\nregoin = \"eu\"\n");
    let out = config.run(&[], &["conversations", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("config.toml") && err.contains("regoin"),
        "{err}"
    );

    let config = ConfigDir::new("[profiles.a]\nregion = \"eu\"\n");
    let out = config.run(&[("POLYAI_PROFILE", "prod")], &["conversations", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no profile `prod`"),
        "{}",
        stderr(&out)
    );

    let config = ConfigDir::new("[profiles.default]\napi_key_file = \"missing.key\"\n");
    let out = config.run(&[], &["--agent", "A", "conversations", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.key"), "{}", stderr(&out));

    let mut cmd = polyai();
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nowhere/config.toml");
    cmd.env("POLYAI_CONFIG", &missing);
    let out = cmd.args(["conversations", "list"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("POLYAI_CONFIG"), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused() {
    let mock = Mock::with_conversations(1);
    let config = ConfigDir::new(&mock_profile(&mock, "default"));
    config.key("mock.key", mock.server().key().expect("key"), 0o644);
    let out = config.run(&[], &["conversations", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("mock.key") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains(mock.server().key().expect("key")), "{err}");
}

#[test]
fn config_list_and_show_never_print_a_key() {
    let secret = "sk-do-not-print-me";
    let config = ConfigDir::new(
        "[profiles.default]\nregion = \"eu\"\nagent = \"PROJECT-1\"\napi_key_file = \"k.key\"\n\
         [profiles.staging]\nbase_url = \"http://127.0.0.1:9\"\naccount = \"ws-1\"\n",
    );
    config.key("k.key", secret, 0o600);
    let out = config.run(&[], &["config", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = stdout(&out);
    assert!(!list.contains(secret), "{list}");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[1].starts_with("default") && lines[1].contains('*'),
        "{list}"
    );
    assert!(
        lines[1].contains("k.key") && lines[1].ends_with("ok"),
        "{list}"
    );
    assert!(
        lines[2].starts_with("staging") && lines[2].ends_with("none"),
        "{list}"
    );

    let out = config.run(
        &[("POLYAI_PROFILE", "staging")],
        &["-O", "json", "config", "list"],
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(json[1]["name"], "staging");
    assert_eq!(json[1]["inUse"], true);
    assert_eq!(json[0]["inUse"], false);

    let out = config.run(&[], &["-O", "json", "config", "show"]);
    let show = stdout(&out);
    assert!(!show.contains(secret), "{show}");
    let json: serde_json::Value = serde_json::from_str(&show).expect("json");
    assert_eq!(json["name"], "default");
    assert_eq!(json["region"], "eu");
    assert_eq!(json["apiKeyFileStatus"], "ok");

    let out = config.run(&[], &["config", "show", "staging"]);
    let show = stdout(&out);
    assert!(
        show.contains("http://127.0.0.1:9") && show.contains("ws-1"),
        "{show}"
    );
    let out = config.run(&[], &["config", "show", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("it defines default, staging"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn chat_test_list_shows_the_profile_agent_unless_a_flag_names_one() {
    let config = ConfigDir::new("[profiles.default]\nagent = \"AGENT-FROM-PROFILE\"\n");
    let scenarios = config.file("s.toml");
    std::fs::write(
        &scenarios,
        "[[scenario]]\nname = \"greets\"\n[[scenario.turn]]\nuser = \"hi\"\n",
    )
    .expect("scenario file");
    let file = scenarios.to_str().expect("utf-8 path");
    let out = config.run(&[], &["-O", "jsonl", "chat", "test", "--list", file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"agent\":\"AGENT-FROM-PROFILE\""),
        "{}",
        stdout(&out)
    );
    let out = config.run(
        &[],
        &[
            "--agent", "FLAG", "-O", "jsonl", "chat", "test", "--list", file,
        ],
    );
    assert!(
        stdout(&out).contains("\"agent\":\"FLAG\""),
        "{}",
        stdout(&out)
    );
}
