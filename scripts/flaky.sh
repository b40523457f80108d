#!/usr/bin/env bash
# Finds flaky tests: runs every test binary of the workspace (or the ones named) many times under CPU
# contention, and reports each test that ever failed with its failure count.
#
# Contention: a busy loop on every core for the whole run, and more test threads than cores
# (`--test-threads`, default 4 per core), so that timing assumptions that hold on an idle machine
# break here first. Use it before changing CI, and after changing the tests or the code of anything
# concurrent (walks, prefetch, retries, the blocking client, sync, export).
#
# Usage: scripts/flaky.sh [-n RUNS] [-j TEST_THREADS] [--idle] [--features F] [BINARY...] [-- TEST_FILTER...]
#   -n RUNS          runs of each binary (default 20)
#   -j TEST_THREADS  libtest's --test-threads (default 4 x the number of cores)
#   --idle           no busy loops (the test threads alone)
#   --features F     build the tests with these features (e.g. "polyai-data/blocking")
#   BINARY           a package name or package/target, e.g. polyai-store or polyai-store/against_mock
#                    (default: every test binary of the workspace; doc tests are not run)
#   TEST_FILTER      passed to each binary (a test name or part of one; --exact works too)
#
# Output: one line per run of each binary, then a table of failed tests (failures/runs). Logs of every
# failed run are kept in target/flaky/. Exits 1 if any test failed, 2 on a usage or build error.
set -uo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

runs=20
cores=$(nproc 2>/dev/null || echo 2)
threads=$((4 * cores))
busy=1
features=()
selected=()
filter=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -n) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || usage; runs=$2; shift 2 ;;
        -j) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || usage; threads=$2; shift 2 ;;
        --idle) busy=0; shift ;;
        --features) [[ -n "${2:-}" ]] || usage; features=(--features "$2"); shift 2 ;;
        -h|--help) usage ;;
        --) shift; filter=("$@"); break ;;
        -*) echo "flaky.sh: unknown option $1" >&2; usage ;;
        *) selected+=("$1"); shift ;;
    esac
done
command -v jq >/dev/null || { echo "flaky.sh: needs jq (apt-get install jq)" >&2; exit 2; }

logs="${CARGO_TARGET_DIR:-target}/flaky"
rm -rf "$logs"
mkdir -p "$logs"

echo "building the test binaries…" >&2
list="$logs/binaries.tsv"
cargo test --workspace --locked --no-run --message-format=json "${features[@]}" 2>"$logs/build.log" |
    jq -r 'select(.reason == "compiler-artifact" and .executable != null and .profile.test == true)
           | [(.package_id | capture("/(?<dir>[^/#]+)#((?<name>[^@]+)@)?") | .name // .dir),
              .target.name, .executable, (.manifest_path | sub("/Cargo.toml$"; ""))] | @tsv' >"$list"
if [[ ${PIPESTATUS[0]} -ne 0 ]]; then
    echo "flaky.sh: the build failed; see $logs/build.log" >&2
    tail -n 20 "$logs/build.log" >&2
    exit 2
fi

# Keep the binaries the arguments name.
chosen="$logs/chosen.tsv"
: >"$chosen"
while IFS=$'\t' read -r package target exe dir; do
    keep=$(( ${#selected[@]} == 0 ))
    for s in "${selected[@]}"; do
        [[ "$s" == "$package" || "$s" == "$package/$target" ]] && keep=1
    done
    [[ $keep -eq 1 ]] && printf '%s\t%s\t%s\t%s\n' "$package" "$target" "$exe" "$dir" >>"$chosen"
done <"$list"
if [[ ! -s "$chosen" ]]; then
    echo "flaky.sh: no test binary matches ${selected[*]}; the binaries are:" >&2
    cut -f1,2 "$list" | tr '\t' '/' | sed 's/^/  /' >&2
    exit 2
fi

pids=()
stop_busy() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap stop_busy EXIT
trap 'stop_busy; exit 130' INT TERM
if [[ $busy -eq 1 ]]; then
    for _ in $(seq 1 "$cores"); do
        ( while :; do :; done ) &
        pids+=($!)
    done
fi

echo "$(wc -l <"$chosen") binaries x $runs runs, --test-threads=$threads, busy loops on $(( busy * cores )) of $cores cores" >&2
failures="$logs/failures.txt"
: >"$failures"
start=$(date +%s)
for i in $(seq 1 "$runs"); do
    while IFS=$'\t' read -r package target exe dir; do
        name="$package/$target"
        log="$logs/run.log"
        t0=$(date +%s)
        ( cd "$dir" && CARGO_MANIFEST_DIR="$dir" RUST_BACKTRACE=0 \
            "$exe" --test-threads="$threads" "${filter[@]}" ) </dev/null >"$log" 2>&1
        status=$?
        secs=$(( $(date +%s) - t0 ))
        failed=$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$log")
        if [[ $status -eq 0 ]]; then
            printf 'run %d/%d %s: ok in %d s\n' "$i" "$runs" "$name" "$secs"
            continue
        fi
        kept="$logs/$(echo "$name" | tr '/' '_')-run$i.log"
        cp "$log" "$kept"
        if [[ -z "$failed" ]]; then
            failed="(the binary itself: exit $status)"
        fi
        while read -r t; do printf '%s\t%s\n' "$name" "$t" >>"$failures"; done <<<"$failed"
        printf 'run %d/%d %s: FAILED (exit %d) in %d s: %s; log %s\n' "$i" "$runs" "$name" "$status" "$secs" \
            "$(echo "$failed" | paste -sd, -)" "$kept"
    done <"$chosen"
done

echo
echo "$(( $(date +%s) - start )) s; $runs runs of each binary"
if [[ ! -s "$failures" ]]; then
    echo "no test failed"
    exit 0
fi
echo "failed tests (failures/runs):"
sort "$failures" | uniq -c | sort -rn | while read -r count name test; do
    printf '  %3d/%d  %s  %s\n' "$count" "$runs" "$name" "$test"
done
exit 1
