#!/usr/bin/env bash
# Proves that the engines analysts use read the datasets `polyai dataset` writes: builds the sandbox's
# dataset with the CLI (an export with details, then `polyai dataset convert`), then reads it with
# DuckDB, pyarrow and Spark (local mode) and checks counts, keys, types (timestamps INT64 microseconds
# UTC) and the join of turns to conversations against the JSONL export of the same data; runs README.md's
# DuckDB query and Spark snippet as written there; then writes the same dataset to s3:// on a moto server
# it starts on loopback and reads it back with pyarrow, and runs the S3 test of the Rust suite
# (crates/polyai-cli/tests/dataset.rs, ignored by a plain `cargo test` because it needs moto_server).
#
# Installs DuckDB, pyarrow, pyspark and moto[server] with every package under them from
# scripts/requirements/readers.txt (pinned, --no-deps: nothing floats) into a virtualenv under the cargo
# target directory; pyspark is built from its sdist with the pinned setuptools and wheel of
# scripts/requirements/readers-build.txt. Spark needs Java 17 or later: the one on PATH when there is
# one, else Debian's openjdk-17-jre-headless at the version pinned below (apt-get, as root).
#
# Environment: CARGO_TARGET_DIR (default: target), PYTHON (default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="$(realpath -m "${CARGO_TARGET_DIR:-$ROOT/target}")"
WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() {
    if [[ -n "$MOTO_PID" ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
# Everything here talks to loopback only.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
started=$SECONDS

# shellcheck source=scripts/readers-env.sh
source "$ROOT/scripts/readers-env.sh"

echo "==> building polyai and the sandbox's dataset"
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --locked -p polyai-cli --bin polyai)
POLYAI="$TARGET/debug/polyai"
cd "$WORK"
"$POLYAI" --sandbox export --out export --env all --with-details 2>/dev/null
"$POLYAI" dataset convert export --to dataset
"$POLYAI" dataset info dataset

echo "==> DuckDB, pyarrow and Spark read the dataset"
"$VENV/bin/python" "$ROOT/scripts/readers/check.py" export/conversations.jsonl dataset "$ROOT/README.md"

echo "==> the same dataset on S3 (moto on loopback)"
PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
ENDPOINT="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('$ENDPOINT')" >/dev/null 2>&1 && break
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$WORK/moto.log" >&2; exit 1; }
    sleep 0.1
done
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
    AWS_ENDPOINT_URL="$ENDPOINT" AWS_ALLOW_HTTP=true
"$VENV/bin/python" -c "import boto3; boto3.client('s3', endpoint_url='$ENDPOINT').create_bucket(Bucket='lake')"
"$POLYAI" dataset convert export --to s3://lake/polyai/calls
"$POLYAI" dataset convert export --to s3://lake/polyai/calls
"$POLYAI" dataset info s3://lake/polyai/calls
"$VENV/bin/python" "$ROOT/scripts/readers/check.py" export/conversations.jsonl dataset "$ROOT/README.md" \
    --s3 "$ENDPOINT" lake polyai/calls
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL AWS_ALLOW_HTTP

echo "==> the Rust S3 test against its own moto_server"
(cd "$ROOT" && MOTO_SERVER="$VENV/bin/moto_server" CARGO_TARGET_DIR="$TARGET" \
    cargo test --quiet --locked -p polyai-cli --test dataset -- --ignored --exact s3_through_moto_is_exact_after_reruns_and_compaction)

echo "==> readers.sh passed in $((SECONDS - started)) s"
