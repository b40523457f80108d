#!/usr/bin/env bash
# Archives checked by other tools: `sha256sum -c` and `minisign -V` accept what
# `polyai export --sign` writes, `polyai verify` accepts what `minisign -S` signs (with a key of
# `minisign -G -W`, which `export --sign` also takes), and a tampered byte fails verify (exit 13).
# Installs Debian's minisign when absent (pinned); `--install` does only that (CI runs it before
# the tests, whose minisign_interoperates_both_ways needs it). Run from CI after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

MINISIGN_VERSION=0.11-1 # `apt-cache policy minisign` on Debian bookworm
if ! command -v minisign >/dev/null 2>&1; then
  echo "installing minisign $MINISIGN_VERSION"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "minisign=$MINISIGN_VERSION" >/dev/null
fi
minisign -v
if [ "${1:-}" = "--install" ]; then
  exit 0
fi

polyai=${POLYAI:-target/debug/polyai}
if [ ! -x "$polyai" ]; then
  cargo build --locked -q -p polyai-cli
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }

"$polyai" keygen --out "$work/ours.key" >/dev/null
"$polyai" --sandbox export --out "$work/e" --with-details --with-audio --redacted \
  --sign "$work/ours.key" 2>/dev/null
(cd "$work/e" && sha256sum -c --quiet --strict SHA256SUMS) && ok "sha256sum -c SHA256SUMS"
minisign -Vm "$work/e/manifest.json" -p "$work/ours.key.pub" >/dev/null && ok "minisign -V of an export --sign"
"$polyai" verify "$work/e" --pubkey "$work/ours.key.pub" >/dev/null && ok "polyai verify --pubkey"

minisign -G -W -s "$work/theirs.key" -p "$work/theirs.pub" >/dev/null
minisign -S -s "$work/theirs.key" -m "$work/e/manifest.json" -t "signed by minisign" >/dev/null
"$polyai" verify "$work/e" --pubkey "$work/theirs.pub" | grep -q "signed by minisign" \
  && ok "polyai verify of a minisign -S signature"
chmod 600 "$work/theirs.key"
"$polyai" --sandbox export --out "$work/f" --sign "$work/theirs.key" 2>/dev/null
minisign -Vm "$work/f/manifest.json" -p "$work/theirs.pub" >/dev/null && ok "export --sign with a minisign -G -W key"

wav=$(find "$work/e/audio" -name '*.wav' | sort | sed -n 1p)
printf 'X' | dd of="$wav" bs=1 seek=100 conv=notrunc status=none
set +e
report=$("$polyai" verify "$work/e" --pubkey "$work/ours.key.pub" 2>/dev/null)
code=$?
set -e
if [ "$code" -ne 13 ] || ! grep -q "FAIL  audio/$(basename "$wav"): SHA-256" <<<"$report"; then
  echo "a tampered recording was not reported (exit $code):"
  echo "$report"
  echo "archive interop: $passed passed, 1 failed"
  exit 1
fi
ok "a tampered byte fails verify, naming the file"
echo "archive interop: $passed passed, 0 failed"
