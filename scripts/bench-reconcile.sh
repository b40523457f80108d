#!/usr/bin/env bash
# Benchmarks `polyai reconcile` (release builds) against polyai-mock on loopback, with
# $RECONCILE_CONVERSATIONS (default 100000) conversations a side, every environment:
#   - the Data API against v3;
#   - the same with every Data API detail read (--with-details);
#   - the same with every conversation differing (the mock's --disagree-field total_duration:1), so
#     one finding per conversation is held and printed;
#   - v3 against a Data API export folder and against a v3 sync database of the same conversations.
# Prints wall time and peak RSS (GNU time) of each run as a Markdown table.
#
# Environment: CARGO_TARGET_DIR (default: target), RECONCILE_CONVERSATIONS,
# RECONCILE_CONCURRENCY (details read at once; default 16).
set -euo pipefail

# shellcheck source=scripts/mock-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mock-lib.sh"
N="${RECONCILE_CONVERSATIONS:-100000}"
C="${RECONCILE_CONCURRENCY:-16}"
# Every seeded conversation: they start about every 97 s before 2026-06-03T14:00Z.
WINDOW=(--since 2000-01-01 --until 2026-06-04 --env all)
[[ -x /usr/bin/time ]] || apt-get install -y time >/dev/null

(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release --locked -p polyai-cli --bin polyai)

restart_mock() { # polyai-mock flags
    if [[ -n "$MOCK_PID" ]]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
    fi
    rm -f "$WORK/url"
    start_mock release --conversations "$N" "$@"
    ACCOUNT="$(sed -n 's/^account: //p' "$WORK/mock.log" | head -n 1)"
    [[ -n "$ACCOUNT" ]] || { echo "the mock printed no account id" >&2; cat "$WORK/mock.log" >&2; exit 1; }
}

polyai() {
    env POLYAI_API_KEY="$KEY" "$TARGET/release/polyai" --base-url "$URL" --agent "$AGENT" "$@"
}

run() { # label, polyai arguments
    local label="$1" status=0
    shift
    /usr/bin/time -f '%e %M' -o "$WORK/time" \
        env POLYAI_API_KEY="$KEY" "$TARGET/release/polyai" --base-url "$URL" --agent "$AGENT" \
        --account "$ACCOUNT" reconcile "${WINDOW[@]}" "$@" -O json >"$WORK/report.json" \
        2>"$WORK/reconcile.log" || status=$?
    if [[ "$status" != 0 && "$status" != 13 ]]; then
        cat "$WORK/reconcile.log" >&2
        return 1
    fi
    # GNU time puts "Command exited with non-zero status 13" first.
    read -r secs kib < <(tail -n 1 "$WORK/time")
    printf '| %s | %s s | %.1f MiB | %s | %s |\n' "$label" "$secs" "$(echo "$kib / 1024" | bc -l)" \
        "$status" "$(tail -n 1 "$WORK/reconcile.log")"
}

restart_mock
polyai export --out "$WORK/export" >/dev/null 2>&1
polyai --account "$ACCOUNT" sync --api v3 --db "$WORK/copy.db" >/dev/null 2>&1

echo "| $N conversations a side, every environment | wall | peak RSS | exit | summary line |"
echo "|---|---|---|---|---|"
run "Data API against v3"
run "Data API (every detail, concurrency $C) against v3" --with-details --concurrency "$C"
run "Data API export folder against v3" --against "$WORK/export"
run "v3 sync database against v3" --against "$WORK/copy.db"
restart_mock --disagree-field total_duration:1
run "Data API against v3, every conversation differing" --show 0
