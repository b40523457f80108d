#!/usr/bin/env bash
# Builds and runs a throwaway crate OUTSIDE this workspace that depends on polyai-data exactly as
# README.md says (a git dependency on github.com/polyai-rs/polyai-rs). CI cannot reach GitHub, so git
# is told to fetch that URL from this clone instead (the committed HEAD, as a user would get it).
# The crate's main starts polyai-mock in-process and makes real calls through polyai-data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Absolute (a relative CARGO_TARGET_DIR names a folder from where the script was started).
target=$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")
url=https://github.com/polyai-rs/polyai-rs
grep -qF "polyai-data = { git = \"$url\" }" "$root/README.md" \
  || { echo "README.md no longer shows the git dependency line this script checks" >&2; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/consumer/src"
cat >"$dir/consumer/Cargo.toml" <<TOML
[package]
name = "polyai-consumer-check"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
polyai-data = { git = "$url" }
polyai-mock = { git = "$url" }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
TOML
cat >"$dir/consumer/src/main.rs" <<'RS'
use polyai_mock::{MockConfig, MockServer, SANDBOX_AGENT, SANDBOX_KEY};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::start(MockConfig::default()).await?;
    let client = polyai_data::Client::builder()
        .api_key(SANDBOX_KEY)
        .base_url(server.base_url())
        .build()?;
    let agent = client.agent(SANDBOX_AGENT);
    let mut list = agent.conversations().list().limit(2).max_items(3).stream();
    let mut ids = Vec::new();
    while let Some(c) = list.try_next().await? {
        ids.push(c.conversation_id);
    }
    assert_eq!(ids.len(), 3, "max_items(3) over pages of 2 gives three conversations");
    let detail = agent.conversations().get(&ids[0]).await?;
    assert_eq!(detail.conversation_id, ids[0]);
    println!("consumer: listed {} conversations and read {}", ids.len(), ids[0]);
    server.shutdown().await;
    Ok(())
}
RS
# The workspace's lock file as a starting point: the same crates.io versions, so the build is
# deterministic and mostly reuses compiled dependencies.
cp "$root/Cargo.lock" "$dir/consumer/Cargo.lock"

export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="url.file://$root.insteadOf" GIT_CONFIG_VALUE_0="$url"
export CARGO_NET_GIT_FETCH_WITH_CLI=true
cd "$dir/consumer"
# The workspace target directory: the consumer's units have their own hashes (another source,
# other features), so sharing it rebuilds nothing of the workspace and reuses what matches.
export CARGO_TARGET_DIR="$target"
cargo run --quiet
