#!/usr/bin/env bash
# Benchmarks writing a dataset straight from the API against the JSONL export of the same data, side by
# side from one polyai-mock of $DATASET_CONVERSATIONS (default 1 000 000) conversations (release builds,
# loopback, the Conversations API v3, every environment: turns inline, no detail requests). Each round
# runs, in turn, into empty folders:
#   jsonl    polyai export --env all --out DIR                              (the yardstick)
#   parquet  polyai export --env all --format parquet --out DIR             (four tables, by date)
#   sync     polyai sync --env all --to DIR                                  (the same walk, as a sync)
# and prints wall time and peak RSS (GNU time) of each, and the ratios parquet/jsonl and sync/jsonl
# (issue 27's goal: a dataset sync within 1.2x of the JSONL export). Then a second sync of the same
# dataset (nothing new: one page per environment).
#
# Environment: CARGO_TARGET_DIR (default: target), DATASET_CONVERSATIONS, DATASET_ROUNDS (default 3),
# DATASET_WORK (default: a temporary folder).
set -euo pipefail

# shellcheck source=scripts/mock-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mock-lib.sh"
# shellcheck source=scripts/bench-dataset/setup.sh
source "$ROOT/scripts/bench-dataset/setup.sh"
run_mock "$TARGET/release/polyai-mock" --conversations "$N"
ACCOUNT="$(sed -n 's/^account: //p' "$WORK/mock.log" | head -n 1)"
export POLYAI_API_KEY="$KEY"
run=("$POLYAI" --base-url "$URL" --agent "$AGENT" --account "$ACCOUNT")

echo "$N conversations (v3, every environment)"
echo "| round | JSONL export | export --format parquet | sync --to | parquet / JSONL | sync / JSONL |"
echo "|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
    clear_outputs "$DATA/jsonl" "$DATA/parquet" "$DATA/sync"
    read -r j_s j_m < <(measure jsonl "${run[@]}" export --env all --out "$DATA/jsonl")
    read -r p_s p_m < <(measure parquet "${run[@]}" export --env all --format parquet --out "$DATA/parquet")
    read -r s_s s_m < <(measure sync "${run[@]}" sync --env all --to "$DATA/sync")
    printf '| %s | %s s, %s MiB | %s s, %s MiB | %s s, %s MiB | %.2f× | %.2f× |\n' "$round" "$j_s" "$j_m" \
        "$p_s" "$p_m" "$s_s" "$s_m" "$(echo "$p_s / $j_s" | bc -l)" "$(echo "$s_s / $j_s" | bc -l)"
done
read -r n_s n_m < <(measure again "${run[@]}" sync --env all --to "$DATA/sync")
echo
echo "second sync, nothing new: $n_s s, $n_m MiB; $(tail -n 1 "$WORK/again.log")"
echo "jsonl:   $(du -sm "$DATA/jsonl" | cut -f1) MiB; $(tail -n 1 "$WORK/jsonl.log")"
echo "parquet: $(du -sm "$DATA/parquet" | cut -f1) MiB; $(tail -n 1 "$WORK/parquet.log")"
echo "sync:    $(du -sm "$DATA/sync" | cut -f1) MiB; $(tail -n 1 "$WORK/sync.log")"
