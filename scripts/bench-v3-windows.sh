#!/usr/bin/env bash
# Benchmarks `polyai export` through the Conversations API v3 (release builds) against polyai-mock
# on loopback with 20 ms latency per answer: $WINDOWS_CONVERSATIONS (default 100000) conversations
# with their turns, every environment, walked in one window per environment (`--windows 1`, the
# environments one after another) and in $WINDOWS_N (default 8) windows at once. Prints wall time
# CPU time (user + system) and peak RSS (GNU time) of each run, and the mock's CPU time meanwhile, as a
# Markdown table, then the ratio.
#
# The range is a year and the conversations fill its last ~4 months, so the windows are sized from
# a sample (equal slices of time would leave most of them empty).
#
# Environment: CARGO_TARGET_DIR (default: target), WINDOWS_CONVERSATIONS, WINDOWS_N,
# WINDOWS_LATENCY_MS (default 20), WINDOWS_ENV (default all; live: one environment).
set -euo pipefail

# shellcheck source=scripts/mock-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mock-lib.sh"
N="${WINDOWS_CONVERSATIONS:-100000}"
W="${WINDOWS_N:-8}"
LATENCY="${WINDOWS_LATENCY_MS:-20}"
ENVIRONMENTS="${WINDOWS_ENV:-all}"
[[ -x /usr/bin/time ]] || apt-get install -y time >/dev/null

(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release --locked -p polyai-cli --bin polyai)
start_mock release --conversations "$N" --latency-ms "$LATENCY"
ACCOUNT="$(sed -n 's/^account: //p' "$WORK/mock.log" | head -n 1)"
[[ -n "$ACCOUNT" ]] || { echo "the mock printed no account id" >&2; cat "$WORK/mock.log" >&2; exit 1; }

# The mock's conversations start before 2026-06-03T14:00:00Z, one every 97 s on average: a year
# back holds every one of them.
SINCE="2025-06-01T00:00:00Z"
UNTIL="2026-06-04T00:00:00Z"

# CPU seconds (user + system) the mock has used so far.
mock_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$MOCK_PID/stat"
}

run() { # windows
    local windows="$1" out="$WORK/export-$1" mock_before
    mock_before="$(mock_cpu)"
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" \
        env POLYAI_API_KEY="$KEY" "$TARGET/release/polyai" --base-url "$URL" --agent "$AGENT" \
        --account "$ACCOUNT" export --api v3 --env "$ENVIRONMENTS" --out "$out" --since "$SINCE" \
        --until "$UNTIL" --windows "$windows" >/dev/null 2>"$WORK/export.log" \
        || { cat "$WORK/export.log" >&2; return 1; }
    read -r secs kib user sys <"$WORK/time"
    echo "$secs" >"$WORK/secs-$windows"
    printf '| `--windows %s` | %s s | %.1f s | %.1f s | %.1f MiB | %s lines | %s |\n' "$windows" \
        "$secs" "$(echo "$user + $sys" | bc -l)" "$(echo "$(mock_cpu) - $mock_before" | bc -l)" \
        "$(echo "$kib / 1024" | bc -l)" \
        "$(wc -l <"$out/conversations.jsonl")" "$(tail -n 1 "$WORK/export.log")"
}

echo "| $N conversations, --env $ENVIRONMENTS, ${LATENCY} ms latency | wall | polyai CPU | mock CPU | peak RSS | journal | summary line |"
echo "|---|---|---|---|---|---|---|"
run 1
run "$W"
echo
printf '%s windows at once are %.2f× as fast as one (%s cores, load average %s)\n' "$W" \
    "$(echo "$(cat "$WORK/secs-1") / $(cat "$WORK/secs-$W")" | bc -l)" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
