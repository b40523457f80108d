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

# Removes the folders given, then waits until ext4 no longer counts their inodes as recently
# deleted (30 s with a journal): until then each new file's inode is found by a slow scan past
# them (`recently_deleted` in the kernel), which cost the side that wrote next ~17% of its time
# and made the runs' order matter.
clear_outputs() {
    rm -rf "$@"
    sync
    sleep "${DATASET_SETTLE_SECONDS:-31}"
}
