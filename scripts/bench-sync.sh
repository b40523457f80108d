#!/usr/bin/env bash
# Benchmarks `polyai sync` (release builds) against polyai-mock on loopback: a first sync of
# $SYNC_CONVERSATIONS (default 100000) conversations, then a second run with nothing new, through
# the Data API (each detail read) and/or the Conversations API v3 (turns inline, by cursor). Prints
# wall time and peak RSS (GNU time) of each run as a Markdown table.
#
# Environment: CARGO_TARGET_DIR (default: target), SYNC_CONVERSATIONS, SYNC_CONCURRENCY (default 8),
# SYNC_API (v1, v3 or both; default both).
set -euo pipefail

# shellcheck source=scripts/mock-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mock-lib.sh"
N="${SYNC_CONVERSATIONS:-100000}"
C="${SYNC_CONCURRENCY:-8}"
API="${SYNC_API:-both}"
case "$API" in v1 | v3 | both) ;; *) echo "SYNC_API must be v1, v3 or both, not $API" >&2; exit 2 ;; esac
[[ -x /usr/bin/time ]] || apt-get install -y time >/dev/null

(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release --locked -p polyai-cli --bin polyai)
start_mock release --conversations "$N"
ACCOUNT="$(sed -n 's/^account: //p' "$WORK/mock.log" | head -n 1)"
[[ -n "$ACCOUNT" ]] || { echo "the mock printed no account id" >&2; cat "$WORK/mock.log" >&2; exit 1; }

run() { # api, label, extra flags
    local api="$1" label="$2"
    shift 2
    /usr/bin/time -f '%e %M' -o "$WORK/time" \
        env POLYAI_API_KEY="$KEY" "$TARGET/release/polyai" --base-url "$URL" --agent "$AGENT" \
        --account "$ACCOUNT" sync --api "$api" --db "$WORK/bench-$api.db" --concurrency "$C" "$@" \
        >/dev/null 2>"$WORK/sync.log" \
        || { cat "$WORK/sync.log" >&2; return 1; }
    read -r secs kib <"$WORK/time"
    printf '| %s | %s s | %.1f MiB | %s |\n' "$api: $label" "$secs" "$(echo "$kib / 1024" | bc -l)" \
        "$(tail -n 1 "$WORK/sync.log")"
}

echo "| $N conversations, concurrency $C | wall | peak RSS | summary line |"
echo "|---|---|---|---|"
for api in v1 v3; do
    [[ "$API" == both || "$API" == "$api" ]] || continue
    run "$api" "first sync"
    run "$api" "second sync (refresh window 0 days)" --refresh-days 0
    run "$api" "second sync (default 2-day refresh window)"
done
echo
for db in "$WORK"/bench-*.db; do
    printf 'database %s: %s MiB\n' "$(basename "$db")" "$(du -m "$db" | cut -f1)"
done
