#!/usr/bin/env bash
# `polyai verify` on a large export with audio: exports N conversations (default 10 000) with their
# details and recordings from the release mock, then runs `polyai verify` (release) under
# /usr/bin/time -v, twice, and prints wall time and peak RSS. The page cache is left alone (it is
# the machine's): the export was just written, so much of it is likely cached on both runs. The export needs about 0.55 GB of disk per 1 000 conversations; it is deleted at the end
# unless KEEP=DIR names where to keep it.
#
#   scripts/bench-verify.sh [N]
set -euo pipefail
source "$(dirname "$0")/mock-lib.sh"
N="${1:-10000}"
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release --locked -p polyai-cli)
POLYAI="$TARGET/release/polyai"
start_mock release --conversations "$N"
OUT="${KEEP:-$WORK/export}"
echo "exporting $N conversations with audio into $OUT"
/usr/bin/time -f "export: %e s wall, %M KiB peak RSS" \
    env POLYAI_API_KEY="$KEY" "$POLYAI" --base-url "$URL" --agent "$AGENT" \
    export --out "$OUT" --with-details --with-audio --concurrency 16 2>&1 | tail -n 2
du -sh "$OUT"
for run in first second; do
    /usr/bin/time -v "$POLYAI" verify "$OUT" >"$WORK/verify.out" 2>"$WORK/time.txt" || true
    tail -n 1 "$WORK/verify.out"
    grep -E "Elapsed \(wall|Maximum resident|Exit status" "$WORK/time.txt" | sed "s/^/  $run: /"
done
