//! `ClientBuilder::from_profile` reads the process environment, so each case runs in a child
//! process (this test binary again, filtered to one test) with its own environment: no test
//! mutates the environment of the parallel ones.

use std::process::Command;

/// Set in the child: the case to run.
const CASE: &str = "POLYAI_TEST_FROM_PROFILE_CASE";

fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("polyai")).expect("mkdir");
    std::fs::write(
        dir.path().join("polyai/config.toml"),
        "[profiles.default]\nbase_url = \"http://127.0.0.1:7\"\napi_key_file = \"k.key\"\n\
         [profiles.other]\nbase_url = \"http://127.0.0.1:8\"\napi_key_file = \"k.key\"\n",
    )
    .expect("config");
    let key = dir.path().join("polyai/k.key");
    std::fs::write(&key, "sk-file\n").expect("key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    dir
}

/// Runs `from_profile_in_a_child` in a child with `env` and the case `case`; returns what the
/// child printed on success, or panics with its output.
fn child(case: &str, env: &[(&str, &str)]) -> String {
    let dir = config_dir();
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "--exact",
        "from_profile_in_a_child",
        "--nocapture",
        "--test-threads=1",
    ]);
    for var in [
        "POLYAI_API_KEY",
        "POLYAI_REGION",
        "POLYAI_BASE_URL",
        "POLYAI_PROFILE",
        "POLYAI_CONFIG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("XDG_CONFIG_HOME", dir.path()).env(CASE, case);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("child runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{case}: {text}");
    text
}

#[test]
fn from_profile_in_a_child() {
    let Ok(case) = std::env::var(CASE) else {
        return; // Only meaningful in a child started by the tests below.
    };
    let name = std::env::var("NAME").ok();
    let built = polyai_data::ClientBuilder::from_profile(name.as_deref()).build();
    match (case.as_str(), built) {
        ("ok", Ok(client)) => println!("BASE={}", client.base_url()),
        ("err", Err(err)) => println!("ERR={err}"),
        (case, other) => panic!("case {case}: {other:?}"),
    }
}

#[test]
fn the_default_profile_is_used_when_none_is_named() {
    assert!(child("ok", &[]).contains("BASE=http://127.0.0.1:7"));
}

#[test]
fn a_name_or_polyai_profile_picks_another() {
    assert!(child("ok", &[("NAME", "other")]).contains("BASE=http://127.0.0.1:8"));
    let out = child("ok", &[("POLYAI_PROFILE", "other")]);
    assert!(out.contains("BASE=http://127.0.0.1:8"), "{out}");
}

#[test]
fn the_environment_beats_the_profile() {
    let out = child("ok", &[("POLYAI_BASE_URL", "http://127.0.0.1:9")]);
    assert!(out.contains("BASE=http://127.0.0.1:9"), "{out}");
    // A region from the environment replaces the profile's base URL.
    let out = child("ok", &[("POLYAI_REGION", "uk")]);
    assert!(out.contains("BASE=https://api.uk.poly.ai"), "{out}");
}

#[test]
fn a_missing_profile_fails_at_build() {
    let out = child("err", &[("NAME", "prod")]);
    assert!(
        out.contains("no profile `prod`") && out.contains("default, other"),
        "{out}"
    );
}
