#!/usr/bin/env bash
# Runs `.ci/run` N times in a row (default 10) to find flaky steps: the first run builds, the later ones
# reuse the build, so each later run costs what CI's tests, schemathesis and the other checks cost.
# Every run's output is kept in target/ci-repeat/run-K.log; the summary names each failed run, its time
# and the failing tests or step, and the script exits non-zero if any run failed.
#
# Usage: scripts/ci-repeat.sh [N]        (run it on a clean clone to see what CI sees)
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/ci-repeat.sh [N]  (N a positive number of runs)" >&2; exit 2; }
logs="${CARGO_TARGET_DIR:-target}/ci-repeat"
mkdir -p "$logs"

failed=0
for i in $(seq 1 "$runs"); do
    log="$logs/run-$i.log"
    start=$(date +%s)
    CI=true bash .ci/run </dev/null >"$log" 2>&1
    status=$?
    secs=$(( $(date +%s) - start ))
    totals=$(grep -E '^tests: [0-9]+ passed' "$log" | tail -n 1)
    if [[ $status -eq 0 ]]; then
        printf 'run %d/%d: passed in %d s (%s)\n' "$i" "$runs" "$secs" "${totals:-no totals}"
    else
        failed=$((failed + 1))
        printf 'run %d/%d: FAILED (exit %d) in %d s; log %s\n' "$i" "$runs" "$status" "$secs" "$log"
        grep -E '^== |^test .* FAILED$|^---- |panicked at|Runtime Error|FAILED' "$log" | tail -n 20 | sed 's/^/    /'
    fi
done
printf '%d of %d runs passed\n' "$((runs - failed))" "$runs"
[[ $failed -eq 0 ]]
