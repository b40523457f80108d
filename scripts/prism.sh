#!/usr/bin/env bash
# Runs the `polyai` CLI, every command, against Prism (@stoplight/prism-cli) mocking
# openapi/polyai-data.json — PolyAI's document as published, without our corrections — first in static
# mode (the document's examples, or values derived from its schemas), then in dynamic mode (responses
# generated from the schemas: random shapes within what the document allows, e.g. `null` items where it
# declares `items: {}`, arbitrary keys in untyped objects).
#
# Pass criteria, independent of what the generator draws:
#   - 0 request violations: Prism validates every request the CLI sends against the document (path,
#     method, parameters, body, the X-API-KEY security scheme) and reports violations in an
#     `sl-violations` header, which the proxy records;
#   - 0 failed commands: every command exits 0, except that a recording fails the client's WAV check
#     (Prism's audio body is not a WAV file), which must be that check's error;
#   - at least PRISM_RUNS (default 100) dynamic responses for each of the seven operations.
# Deterministic: Prism's generator is reseeded per request from a `Prefer: seed=<PRISM_SEED>-<n>` header
# that scripts/prism/seed-proxy.mjs adds (n counts requests), so a run always sees the same responses.
# Bounded: a fixed number of commands, each under a timeout; Prism and the proxy listen on 127.0.0.1 only.
#
# Prism and its dependencies are installed from scripts/prism/package-lock.json (every package pinned,
# `npm ci`) under the cargo target directory; the install is redone when the lock file changes.
#
# Environment: CARGO_TARGET_DIR (default: target), PRISM_RUNS (default 100), PRISM_SEED (default
# polyai-rs), PRISM_TIMEOUT (seconds per command, default 60). Needs node (>= 18.20) and npm.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Absolute: a relative CARGO_TARGET_DIR names a folder from where the script was started.
TARGET="$(realpath -m "${CARGO_TARGET_DIR:-$ROOT/target}")"
PRISM_HOME="$TARGET/prism"
SPEC="$ROOT/openapi/polyai-data.json"
RUNS="${PRISM_RUNS:-100}"
SEED="${PRISM_SEED:-polyai-rs}"
STEP_TIMEOUT="${PRISM_TIMEOUT:-60}"
AGENT="PROJECT-58RP822I"
WORK="$(mktemp -d)"
# Everything here is on loopback: never through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "prism.sh: $tool is required" >&2; exit 1; }
done

if [[ ! -x "$PRISM_HOME/node_modules/.bin/prism" ]] ||
    ! cmp -s "$ROOT/scripts/prism/package-lock.json" "$PRISM_HOME/package-lock.json"; then
    echo "==> installing Prism from scripts/prism/package-lock.json into $PRISM_HOME"
    rm -rf "$PRISM_HOME"
    mkdir -p "$PRISM_HOME"
    cp "$ROOT/scripts/prism/package.json" "$ROOT/scripts/prism/package-lock.json" "$PRISM_HOME/"
    (cd "$PRISM_HOME" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
PRISM="$PRISM_HOME/node_modules/.bin/prism"
echo "==> Prism $("$PRISM" --version), node $(node --version)"

echo "==> building polyai"
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --locked --quiet -p polyai-cli --bin polyai)
POLYAI="$TARGET/debug/polyai"

# wait_for FILE PATTERN PID: until FILE holds PATTERN (60 s at most, and only while PID lives).
wait_for() {
    for _ in $(seq 1 600); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || { cat "$1" >&2; return 1; }
        sleep 0.1
    done
    echo "prism.sh: timed out waiting for $2 in $1" >&2
    return 1
}

# start MODE (static|dynamic): Prism on a free loopback port behind the seeding proxy; sets BASE.
start() {
    local mode="$1" flag=() seed=static port
    [[ "$mode" == dynamic ]] && flag=(--dynamic) && seed="$SEED"
    port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
    "$PRISM" mock "${flag[@]}" --host 127.0.0.1 --port "$port" --errors "$SPEC" >"$WORK/prism-$mode.log" 2>&1 &
    PIDS+=($!)
    wait_for "$WORK/prism-$mode.log" "Prism is listening" "$!"
    : >"$WORK/requests-$mode.log"
    node "$ROOT/scripts/prism/seed-proxy.mjs" "http://127.0.0.1:$port" "$WORK/requests-$mode.log" "$seed" \
        >"$WORK/proxy-$mode.port" 2>"$WORK/proxy-$mode.log" &
    PIDS+=($!)
    wait_for "$WORK/proxy-$mode.port" "[0-9]" "$!"
    BASE="http://127.0.0.1:$(head -n1 "$WORK/proxy-$mode.port")"
}

COMMANDS=0
FAILED=0
DECODE_FAILURES=0
WAV_REJECTED=0
# cli KIND ARGS...: runs `polyai ARGS` against BASE; KIND `audio` may fail only with the WAV check.
# Prism mocks the Data API document: the listings read it (`--api data`) over every environment.
cli() {
    local kind="$1" status=0
    shift
    COMMANDS=$((COMMANDS + 1))
    timeout "$STEP_TIMEOUT" env -u POLYAI_ACCOUNT_ID -u POLYAI_REGION POLYAI_API_KEY=prism-key \
        POLYAI_API=data POLYAI_ENV=all \
        "$POLYAI" --base-url "$BASE" --agent "$AGENT" --retries 0 "$@" \
        <"${STDIN:-/dev/null}" >"$WORK/out" 2>"$WORK/err" || status=$?
    if [[ $status -eq 0 ]]; then
        return 0
    fi
    if [[ "$kind" == audio ]] && grep -q "invalid audio for conversation" "$WORK/err"; then
        WAV_REJECTED=$((WAV_REJECTED + 1))
        return 0
    fi
    FAILED=$((FAILED + 1))
    grep -q "could not decode response" "$WORK/err" && DECODE_FAILURES=$((DECODE_FAILURES + 1))
    if [[ $FAILED -le 20 ]]; then
        echo "FAILED (exit $status): polyai $*" >&2
        head -c 2000 "$WORK/err" >&2
        echo >&2
    fi
}

# The operation each request path belongs to.
OPERATIONS="list_conversations get_conversation get_conversation_audio add_annotations upsert_note create_debug_chat send_debug_chat_message"
classify() {
    awk '{
        p = $3
        if (p ~ /^\/v1\/agents\/[^\/]+\/conversations$/) op = "list_conversations"
        else if (p ~ /^\/v1\/agents\/[^\/]+\/conversations\/[^\/]+\/audio$/) op = "get_conversation_audio"
        else if (p ~ /^\/v1\/agents\/[^\/]+\/conversations\/[^\/]+\/annotation$/) op = "add_annotations"
        else if (p ~ /^\/v1\/agents\/[^\/]+\/conversations\/[^\/]+\/note$/) op = "upsert_note"
        else if (p ~ /^\/v1\/agents\/[^\/]+\/conversations\/[^\/]+$/) op = "get_conversation"
        else if (p ~ /^\/v1\/agents\/[^\/]+\/debug-chat$/) op = "create_debug_chat"
        else if (p ~ /^\/v1\/agents\/[^\/]+\/debug-chat\/[^\/]+$/) op = "send_debug_chat_message"
        else op = "unknown:" p
        print op, $4, ($5 == "-" ? 0 : 1)
    }' "$1"
}
# responses LOG OP: how many 2xx responses OP got.
responses() { classify "$1" | awk -v op="$2" '$1 == op && $2 ~ /^2/ { n++ } END { print n + 0 }'; }
# violations LOG: requests Prism found invalid, answered with an error status, or sent elsewhere.
violations() { classify "$1" | awk '$3 == 1 || $2 !~ /^2/ || $1 ~ /^unknown/ { n++ } END { print n + 0 }'; }
chat_sends() { responses "$WORK/requests-dynamic.log" send_debug_chat_message; }

every_command() {
    local i="$1" id="CA$1"
    local roles=(user agent) kinds=(missing_topic wrong_transcript wrong_info)
    cli list conversations list --limit $((i % 50 + 1)) --offset $((i % 7))
    cli get conversations get "$id"
    cli audio conversations audio "$id" --direction agent --redacted --out "$WORK/$id.wav" --force
    cli annotate conversations annotate "$id" --turn $((i % 5)) \
        --role "${roles[$((i % 2))]}" --type "${kinds[$((i % 3))]}"
    cli note conversations note "$id" "called back ($i)"
    cli chat chat send --debug "hello $i" "thanks, bye"
    if ((i % 4 == 0)); then
        # The records as sent, too.
        cli list -O json conversations list --limit 3
        cli get -O json conversations get "$id"
        cli chat -O jsonl chat send "and JSON"
    fi
}

echo "==> static mode"
start static
every_command 0
cli list -O jsonl conversations list --all --limit 10
cli list -O csv conversations list
printf '[{"turn": 0, "role": "agent", "type": "wrong_info"}]' >"$WORK/annotations.json"
cli annotate conversations annotate CA0 --from "$WORK/annotations.json"
printf 'from a file\n' >"$WORK/note.txt"
cli note conversations note CA0 --file "$WORK/note.txt"
printf 'hello\n/quit\n' >"$WORK/stdin"
STDIN="$WORK/stdin" cli chat chat --debug
cli export export --out "$WORK/export" --with-details --page-size 5
cli completions completions bash
static_violations="$(violations "$WORK/requests-static.log")"
static_requests="$(wc -l <"$WORK/requests-static.log")"

echo "==> dynamic mode ($RUNS runs, seed $SEED)"
start dynamic
for i in $(seq 1 "$RUNS"); do
    every_command "$i"
done
# A session the agent ends at once sends no message: chat on until RUNS messages were answered.
extra=0
while (($(chat_sends) < RUNS && extra < 5 * RUNS)); do
    extra=$((extra + 1))
    cli chat chat send "more $extra" "and more"
done
dynamic_violations="$(violations "$WORK/requests-dynamic.log")"
dynamic_requests="$(wc -l <"$WORK/requests-dynamic.log")"

echo
echo "Prism summary (seed $SEED)"
printf '  %-26s %8s\n' "operation" "dynamic responses"
short=0
for op in $OPERATIONS; do
    n="$(responses "$WORK/requests-dynamic.log" "$op")"
    printf '  %-26s %8d\n' "$op" "$n"
    ((n >= RUNS)) || short=$((short + 1))
done
echo "  requests: $static_requests static, $dynamic_requests dynamic"
echo "  request violations: $static_violations static, $dynamic_violations dynamic"
echo "  commands: $COMMANDS run, $FAILED failed ($DECODE_FAILURES decode failures), $WAV_REJECTED recordings rejected by the WAV check"

if ((static_violations + dynamic_violations > 0)); then
    echo "prism.sh: requests Prism rejected:" >&2
    classify "$WORK/requests-static.log" | awk '$3 == 1 || $2 !~ /^2/ || $1 ~ /^unknown/' | head -n 10 >&2
    classify "$WORK/requests-dynamic.log" | awk '$3 == 1 || $2 !~ /^2/ || $1 ~ /^unknown/' | head -n 10 >&2
    grep -v ' - *$' "$WORK/requests-static.log" "$WORK/requests-dynamic.log" | head -n 10 >&2 || true
fi
if ((static_violations + dynamic_violations + FAILED + short > 0)); then
    echo "prism.sh: FAILED" >&2
    exit 1
fi
echo "prism.sh: ok"
