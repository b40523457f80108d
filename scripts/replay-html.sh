#!/usr/bin/env bash
# The HTML report of `polyai chat replay` opened in a real browser: Debian's Chromium, headless.
#
# The `chat_replay` test `html_reports_escape_every_transcript` writes two reports into
# target/replay-html/: `candidate.html`, the sandbox's conversations replayed against the
# `Next Release` variant (divergences of every kind), and `hostile.html`, a conversation whose
# transcript holds `<script>document.title='pwned'</script>` and other markup. Chromium loads
# each one and dumps the DOM it built, which must hold the divergence markers and the script as
# text, no script or image element, and the report's own title (had the script run, the title
# would be 'pwned'); a screenshot of the candidate report checks that it renders.
#
# Chromium comes from Debian's packages, pinned (CHROMIUM_VERSION, from `apt-cache policy
# chromium`) and installed only when no `chromium` is on PATH. Needs root or sudo to install.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian replaces a security update's version when the next one comes: when this pin leaves the
# package lists the script says so; put the version `apt-cache policy chromium` names here.
CHROMIUM_VERSION="${CHROMIUM_VERSION:-156.0.8078.114-1~deb12u1}"
out=target/replay-html
started=$(date +%s%N)

fail() {
  printf 'replay-html: %s\n' "$*" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v chromium >/dev/null 2>&1; then
  as_root apt-get update -qq
  if ! apt-cache policy chromium | grep -qF " $CHROMIUM_VERSION "; then
    fail "chromium $CHROMIUM_VERSION is no longer in the package lists; set CHROMIUM_VERSION (or the pin in this script) to a version \`apt-cache policy chromium\` lists"
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "chromium=$CHROMIUM_VERSION" "chromium-common=$CHROMIUM_VERSION" >/dev/null
fi
chromium --version 2>/dev/null

rm -rf "$out"
mkdir -p "$out"
POLYAI_REPLAY_HTML_DIR="$PWD/$out" cargo test -q -p polyai-cli --locked --test chat_replay \
  html_reports_escape_every_transcript -- --exact

profiles=$(mktemp -d)
trap 'rm -rf "$profiles"' EXIT
browse() {
  # A fresh profile each run; nothing reaches the network.
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$(mktemp -d -p "$profiles")" "$@" 2>/dev/null
}

# has FILE TEXT…: every TEXT is in FILE; lacks FILE TEXT…: none is.
has() {
  local file=$1
  shift
  for text in "$@"; do
    grep -qF -- "$text" "$file" || fail "$file: expected ${text@Q}"
  done
}
lacks() {
  local file=$1
  shift
  for text in "$@"; do
    if grep -qiF -- "$text" "$file"; then fail "$file: unexpected ${text@Q}"; fi
  done
}

browse --dump-dom "file://$PWD/$out/hostile.html" >"$out/hostile.dom"
has "$out/hostile.dom" \
  '<title>polyai chat replay: 1 diverged, 0 errored of 2 conversations</title>' \
  "&lt;script&gt;document.title='pwned'&lt;/script&gt;" \
  '&lt;img src=x onerror=alert(1)&gt;' \
  'class="turn diverged first-divergence"' \
  'data-divergence="text"'
lacks "$out/hostile.dom" '<script' '<img' '>pwned<'

browse --dump-dom "file://$PWD/$out/candidate.html" >"$out/candidate.dom"
has "$out/candidate.dom" \
  '<title>polyai chat replay: ' \
  'class="turn diverged first-divergence"' \
  'data-divergence="function' 'data-divergence="handoff' 'data-divergence="text' \
  'data-status="clean"' 'data-status="diverged"' \
  'no call to lookup_account (the original called it)' \
  'handed off to "Escalations"; the original went to "Front Desk"'
lacks "$out/candidate.dom" '<script'
sections=$(grep -o '<section class="conversation ' "$out/candidate.dom" | wc -l)
[ "$sections" -eq 30 ] || fail "candidate.dom: $sections conversations, expected 30"

browse --window-size=1400,2400 --screenshot="$PWD/$out/candidate.png" \
  "file://$PWD/$out/candidate.html" >/dev/null
size=$(stat -c %s "$out/candidate.png" 2>/dev/null || echo 0)
[ "$size" -gt 20000 ] || fail "candidate.png: $size bytes; the report did not render"

elapsed=$((($(date +%s%N) - started) / 1000000))
printf 'replay-html: both reports render in Chromium, transcripts escaped, no script ran (%d.%03d s)\n' \
  $((elapsed / 1000)) $((elapsed % 1000))
