#!/usr/bin/env bash
# Benchmarks `polyai dataset convert` against DuckDB's own JSON-to-Parquet conversion, side by side on
# the same JSONL: the Conversations API v3 export (turns inline) of $DATASET_CONVERSATIONS (default
# 1 000 000) conversations from polyai-mock (release builds, loopback). Each round runs, in turn:
#   ours    polyai dataset convert EXPORT --to DIR --no-fsync      (four tables, partitioned by date)
#   duckdb  two COPY (SELECT … FROM read_json(…)) TO … (FORMAT parquet, COMPRESSION zstd,
#           PARTITION_BY (date)): conversations and turns (scripts/bench-dataset/duckdb-copy.sql)
# and prints wall time and peak RSS (GNU time) of each, and the ratio ours/duckdb per round. Ours also
# writes function_events and metrics (the export's metrics: one row per value), DuckDB does not.
#
# Environment: CARGO_TARGET_DIR (default: target), DATASET_CONVERSATIONS, DATASET_ROUNDS (default 3),
# DATASET_WORK (default: a temporary folder; the export is kept there between runs when given).
set -euo pipefail

# shellcheck source=scripts/mock-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mock-lib.sh"
# shellcheck source=scripts/readers-env.sh
source "$ROOT/scripts/readers-env.sh"
# shellcheck source=scripts/bench-dataset/setup.sh
source "$ROOT/scripts/bench-dataset/setup.sh"
EXPORT="$DATA/export-$N.jsonl"
if [[ ! -s "$EXPORT" ]]; then
    run_mock "$TARGET/release/polyai-mock" --conversations "$N"
    ACCOUNT="$(sed -n 's/^account: //p' "$WORK/mock.log" | head -n 1)"
    rm -f "$EXPORT.part"
    for env in live pre-release sandbox; do
        rm -rf "$DATA/export-$env"
        POLYAI_API_KEY="$KEY" "$POLYAI" --base-url "$URL" --agent "$AGENT" --account "$ACCOUNT" \
            export --since 2000-01-01 --env "$env" --out "$DATA/export-$env" 2>"$WORK/export.log" \
            || { cat "$WORK/export.log" >&2; exit 1; }
        cat "$DATA/export-$env/conversations.jsonl" >>"$EXPORT.part"
        rm -rf "$DATA/export-$env"
    done
    mv "$EXPORT.part" "$EXPORT"
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=""
fi
echo "export: $(wc -l <"$EXPORT") conversations, $(du -m "$EXPORT" | cut -f1) MiB ($EXPORT)"

echo "| round | ours: wall | ours: peak RSS | DuckDB: wall | DuckDB: peak RSS | ours / DuckDB |"
echo "|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
    clear_outputs "$DATA/ours" "$DATA/duck"
    read -r ours_s ours_m < <(measure ours "$POLYAI" dataset convert "$EXPORT" --to "$DATA/ours" --no-fsync)
    read -r duck_s duck_m < <(measure duckdb "$VENV/bin/python" "$ROOT/scripts/bench-dataset/duckdb_copy.py" "$EXPORT" "$DATA/duck")
    printf '| %s | %s s | %s MiB | %s s | %s MiB | %.2f× |\n' "$round" "$ours_s" "$ours_m" "$duck_s" "$duck_m" \
        "$(echo "$ours_s / $duck_s" | bc -l)"
done
# DuckDB reads the fields its SQL names and NULL for any other: a field renamed in the export would
# make its side fast and empty. Its output must hold every conversation with its id, and its turns.
read -r duck_rows duck_ids duck_turns < <("$VENV/bin/python" - "$DATA/duck" <<'PY'
import sys

import duckdb

out = sys.argv[1]
con = duckdb.connect()
rows, ids = con.execute(
    f"SELECT count(*), count(conversation_id) FROM read_parquet('{out}/conversations/**/*.parquet')"
).fetchone()
(turns,) = con.execute(
    f"SELECT count(user_input_at) FROM read_parquet('{out}/turns/**/*.parquet')"
).fetchone()
print(rows, ids, turns)
PY
)
echo
echo "duckdb wrote $duck_rows conversations ($duck_ids with an id) and $duck_turns turns with a time"
if [[ "$duck_ids" != "$N" || "$duck_turns" == 0 ]]; then
    echo "DuckDB's side read the wrong fields (scripts/bench-dataset/duckdb-copy.sql): its figures mean nothing" >&2
    exit 1
fi
echo "ours:   $(du -sm "$DATA/ours" | cut -f1) MiB; $(tail -n 1 "$WORK/ours.log")"
echo "duckdb: $(du -sm "$DATA/duck" | cut -f1) MiB"
"$POLYAI" dataset info "$DATA/ours"
