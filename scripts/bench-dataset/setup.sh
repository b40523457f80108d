#!/usr/bin/env bash
# Shared by scripts/bench-dataset.sh and scripts/bench-dataset-sync.sh (after mock-lib.sh): their
# settings (N, ROUNDS, DATA), GNU time, and one release build of polyai and polyai-mock (built
# alone, polyai-mock would unify other features and rebuild half of its dependencies), as POLYAI.
# Source it; do not run it.

N="${DATASET_CONVERSATIONS:-1000000}"
ROUNDS="${DATASET_ROUNDS:-3}"
DATA="${DATASET_WORK:-$WORK}"
mkdir -p "$DATA"
[[ -x /usr/bin/time ]] || apt-get install -y time >/dev/null

(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release --locked -p polyai-cli --bin polyai \
    -p polyai-mock --bin polyai-mock)
POLYAI="$TARGET/release/polyai"
