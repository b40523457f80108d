#!/usr/bin/env bash
# Benchmarks `polyai sync` (release builds) against polyai-mock on loopback: a first sync of
# $SYNC_CONVERSATIONS (default 100000) conversations with their details, then a second run with
# nothing new. Prints wall time and peak RSS (GNU time) of each run as a Markdown table.
#
# Environment: CARGO_TARGET_DIR (default: target), SYNC_CONVERSATIONS, SYNC_CONCURRENCY (default 8).
set -euo pipefail

# shellcheck source=scripts/mock-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mock-lib.sh"
N="${SYNC_CONVERSATIONS:-100000}"
C="${SYNC_CONCURRENCY:-8}"
[[ -x /usr/bin/time ]] || apt-get install -y time >/dev/null

(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release --locked -p polyai-cli --bin polyai)
start_mock release --conversations "$N"
DB="$WORK/bench.db"

run() { # label, extra flags
    local label="$1"
    shift
    /usr/bin/time -f '%e %M' -o "$WORK/time" \
        env POLYAI_API_KEY="$KEY" "$TARGET/release/polyai" --base-url "$URL" --agent "$AGENT" \
        sync --db "$DB" --concurrency "$C" "$@" >/dev/null 2>"$WORK/sync.log" \
        || { cat "$WORK/sync.log" >&2; return 1; }
    read -r secs kib <"$WORK/time"
    printf '| %s | %s s | %.1f MiB | %s |\n' "$label" "$secs" "$(echo "$kib / 1024" | bc -l)" \
        "$(tail -n 1 "$WORK/sync.log")"
}

echo "| $N conversations, concurrency $C | wall | peak RSS | summary line |"
echo "|---|---|---|---|"
run "first sync"
run "second sync (refresh window 0 days)" --refresh-days 0
run "second sync (default 2-day refresh window)"
printf '\ndatabase: %s MiB\n' "$(du -m "$DB" | cut -f1)"
