#!/usr/bin/env bash
# Fuzzes the polyai-mock server against the project's normalized OpenAPI documents with schemathesis: the
# Data API (openapi/polyai-data.normalized.json) and the Conversations API v3
# (openapi/conversations-v3.normalized.json), one after the other; both must pass.
#
# Installs schemathesis and every package under it from scripts/requirements/schemathesis.txt (all pinned,
# installed with --no-deps, so a new release of hypothesis or any other dependency cannot change CI) into a
# virtualenv under the cargo target directory, builds and starts the mock on a free loopback port, runs
# schemathesis with the sandbox key, a fixed seed and a bounded number of examples, stops the mock and
# exits non-zero on any failure.
#
# Environment: CARGO_TARGET_DIR (default: target), ST_MAX_EXAMPLES (default 50), ST_SEED (default 42; set
# another to explore other generated cases), PYTHON (default python3), MOCK_FLAGS (extra polyai-mock flags).
set -euo pipefail

# shellcheck source=scripts/mock-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mock-lib.sh"
SPEC="$ROOT/openapi/polyai-data.normalized.json"
SPEC_V3="$ROOT/openapi/conversations-v3.normalized.json"
VENV="$TARGET/schemathesis-venv"
REQUIREMENTS="$ROOT/scripts/requirements/schemathesis.txt"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-50}"
SEED="${ST_SEED:-42}"

for spec in "$SPEC" "$SPEC_V3"; do
    [[ -f "$spec" ]] || { echo "schemathesis.sh: $spec not found" >&2; exit 1; }
done

# The environment is rebuilt whenever the requirements file changes (its copy is kept inside the venv).
# A venv copied or moved with its target folder keeps scripts that point at the old path: check it runs.
if ! "$VENV/bin/st" --version >/dev/null 2>&1 || ! cmp -s "$REQUIREMENTS" "$VENV/requirements.txt"; then
    echo "==> installing schemathesis from $REQUIREMENTS into $VENV"
    rm -rf "$VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary :all: \
        -r "$REQUIREMENTS"
    "$VENV/bin/python" -m pip check
    cp "$REQUIREMENTS" "$VENV/requirements.txt"
fi

echo "==> building and starting polyai-mock"
# MOCK_FLAGS adds polyai-mock flags, e.g. MOCK_FLAGS="--fail-fraction 0.2" to see the run fail.
# shellcheck disable=SC2086
start_mock debug --conversations 300 --chat-timeout 3600 ${MOCK_FLAGS:-}
ACCOUNT="$(sed -n 's/^account: //p' "$WORK/mock.log")"
echo "    $URL (account $ACCOUNT, agent $AGENT)"

# Known conversation ids and a live chat session, so that generated requests reach the success paths.
"$VENV/bin/python" - "$URL" "$AGENT" "$KEY" "$WORK/schemathesis.toml" <<'PY'
import json, sys, urllib.error, urllib.request

url, agent, key, out = sys.argv[1:]

def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method, headers={"X-API-KEY": key, "Content-Type": "application/json"},
                                 data=None if body is None else json.dumps(body).encode())
    for attempt in range(50):  # injected faults (MOCK_FLAGS) may fail some of these
        try:
            with urllib.request.urlopen(req) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as e:
            if e.code < 429 or attempt == 49:
                raise

page = call("GET", f"/v1/agents/{agent}/conversations?limit=300")
ids = [c["conversationId"] for c in page["conversations"]]
chats = [call("POST", f"/v1/agents/{agent}/debug-chat", {"clientEnv": "sandbox"})["conversationId"] for _ in range(20)]
with open(out, "w") as f:
    f.write(f'[parameters]\n"path.agentId" = "{agent}"\n')
    f.write('"path.conversationId" = { dictionary = "ids", probability = 0.8 }\n')
    f.write(f'[dictionaries.ids]\nvalues = {json.dumps(ids[:200] + chats)}\n')
PY
# The v3 listing: the real account and project most of the time, so that generated filters reach the data.
cat >"$WORK/schemathesis-v3.toml" <<TOML
[parameters]
"path.account_id" = "$ACCOUNT"
"path.project_id" = "$AGENT"
TOML

# positive_data_acceptance is left out on purpose: the mock also enforces rules the schema cannot express
# (a turnId must index an existing turn, clientEnv must be sandbox/pre-release/live, a variantId must
# exist; on v3, query_type needs a query and excludes sample, turn_type needs a transcript search, a cursor
# must be one the server issued for the same query) and answers them with the documented 400, which that
# check would count as a rejection.
# One worker: with two, hypothesis (which describes filter lambdas by parsing their source with `ast`) hits
# a CPython 3.11 race between threads ("AST constructor recursion depth mismatch") about one run in six.
# A fixed seed and no example database make every run generate the same cases.
status=0
cd "$WORK" # schemathesis keeps a cache folder in the working directory
# The key goes in the header named as the document's security scheme names it: schemathesis matches the name
# exactly when it checks that a request without the key is refused.
run_schemathesis() { # SPEC CONFIG KEY-HEADER
    echo "==> running schemathesis on $(basename "$1") (max $MAX_EXAMPLES examples per operation, seed $SEED)"
    "$VENV/bin/st" --config-file "$2" run "$1" \
        --url "$URL" \
        --header "$3: $KEY" \
        --checks all \
        --exclude-checks positive_data_acceptance \
        --max-examples "$MAX_EXAMPLES" \
        --phases examples,coverage,fuzzing \
        --workers 1 \
        --seed "$SEED" \
        --generation-database none \
        --request-timeout 10 \
        --no-color || status=$?
}
run_schemathesis "$SPEC" "$WORK/schemathesis.toml" X-API-KEY
run_schemathesis "$SPEC_V3" "$WORK/schemathesis-v3.toml" x-api-key

if [[ $status -ne 0 ]]; then
    echo "schemathesis.sh: schemathesis reported failures (exit $status)" >&2
    tail -n 20 "$WORK/mock.log" >&2 || true
fi
exit "$status"
