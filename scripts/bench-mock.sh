#!/usr/bin/env bash
# Benchmarks polyai-mock from a second process with wrk: requests per second for list (limit=50) and get,
# and audio streaming throughput. Prints a Markdown table. Loopback only; every run is bounded in time.
#
# Environment: CARGO_TARGET_DIR (default: target), BENCH_SECS (default 10), BENCH_CONNS (default 32).
set -euo pipefail

# shellcheck source=scripts/mock-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mock-lib.sh"
SECS="${BENCH_SECS:-10}"
CONNS="${BENCH_CONNS:-32}"

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null); }
command -v curl >/dev/null || apt-get install -y curl >/dev/null

start_mock release --conversations 1000000 --audio-bytes 1073741824
BASE="$URL/v1/agents/$AGENT"
CONV="$(curl -s -H "X-API-KEY: $KEY" "$BASE/conversations?limit=50" | python3 -c 'import json,sys; print([c["conversationId"] for c in json.load(sys.stdin)["conversations"] if c["audioUrl"]][0])')"

rps() { # label url
    local out
    out="$(wrk -t2 -c"$CONNS" -d"${SECS}s" -H "X-API-KEY: $KEY" "$2")"
    local req lat
    req="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    lat="$(awk '/Latency/ {print $2; exit}' <<<"$out")"
    printf '| %s | %s | %s |\n' "$1" "$req" "$lat"
}

echo "| scenario | requests/s | mean latency |"
echo "|---|---|---|"
rps "list, limit=50, offset=0" "$BASE/conversations?limit=50"
rps "list, limit=50, offset=999950 (1M conversations)" "$BASE/conversations?limit=50&offset=999950"
rps "get one conversation" "$BASE/conversations/$CONV"
rps "unknown conversation (404 envelope)" "$BASE/conversations/CA00000000000000000000000000000000"

echo
echo "| audio (1 GiB WAV) | throughput |"
echo "|---|---|"
speed="$(curl -s -o /dev/null -H "X-API-KEY: $KEY" -w '%{speed_download}' "$BASE/conversations/$CONV/audio")"
python3 -c "print(f'| one stream, curl | {float($speed)/1048576:.0f} MiB/s |')"
rss="$(awk '/VmHWM/ {print $2}' "/proc/$MOCK_PID/status")"
echo "| server peak RSS after all runs | $((rss / 1024)) MiB |"
