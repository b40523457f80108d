#!/usr/bin/env bash
# Shared by the polyai-mock scripts (schemathesis.sh, bench-mock.sh): paths, and starting/stopping the
# mock server in the background. Source it; do not run it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Absolute: a relative CARGO_TARGET_DIR names a folder from where the script was started.
TARGET="$(realpath -m "${CARGO_TARGET_DIR:-$ROOT/target}")"
AGENT="PROJECT-58RP822I"
KEY="sandbox-key"
WORK="$(mktemp -d)"
# The mock only ever listens on loopback: never send its traffic through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
MOCK_PID=""
URL=""

mock_cleanup() {
    if [[ -n "$MOCK_PID" ]] && kill -0 "$MOCK_PID" 2>/dev/null; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap mock_cleanup EXIT

# start_mock PROFILE [polyai-mock flags...]: builds the binary (debug or release), starts it on a free
# loopback port with agent $AGENT, and sets URL and MOCK_PID.
start_mock() {
    local profile="$1"
    shift
    local flag=()
    [[ "$profile" == release ]] && flag=(--release)
    (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet "${flag[@]}" -p polyai-mock --bin polyai-mock)
    run_mock "$TARGET/$profile/polyai-mock" "$@"
}

# run_mock BINARY [polyai-mock flags...]: starts a built polyai-mock on a free loopback port with agent
# $AGENT (its log in $WORK/mock.log), and sets URL and MOCK_PID once it listens.
run_mock() {
    local binary="$1"
    shift
    "$binary" --port 0 --agent-id "$AGENT" --ready-file "$WORK/url" "$@" >"$WORK/mock.log" 2>&1 &
    MOCK_PID=$!
    for _ in $(seq 1 100); do
        [[ -s "$WORK/url" ]] && break
        kill -0 "$MOCK_PID" 2>/dev/null || { cat "$WORK/mock.log" >&2; return 1; }
        sleep 0.1
    done
    URL="$(cat "$WORK/url")"
}

# measure LABEL COMMAND...: runs COMMAND under GNU time (its output in $WORK/LABEL.log) and prints its
# wall seconds and peak RSS in MiB ("secs MiB"); on failure prints the log and fails.
measure() {
    local label="$1"
    shift
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/$label.log" 2>&1 \
        || { cat "$WORK/$label.log" >&2; return 1; }
    read -r secs kib <"$WORK/time"
    echo "$secs $(( kib / 1024 ))"
}
