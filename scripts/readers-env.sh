# Sourced by scripts/readers.sh and scripts/bench-dataset.sh (with ROOT and TARGET set): the pinned
# virtualenv of the dataset readers under $TARGET/readers-venv (DuckDB, pyarrow, pyspark, moto[server],
# every package from scripts/requirements/readers.txt with --no-deps; pyspark built from its sdist with
# the pinned setuptools and wheel of scripts/requirements/readers-build.txt), and Java 17 or later for
# Spark: the one on PATH, else Debian's openjdk-17-jre-headless at the version pinned here. Sets VENV.

VENV="$TARGET/readers-venv"
REQUIREMENTS="$ROOT/scripts/requirements/readers.txt"
BUILD_REQUIREMENTS="$ROOT/scripts/requirements/readers-build.txt"
JRE_PACKAGE="openjdk-17-jre-headless"
JRE_VERSION="17.0.19+10-1~deb12u2"

# The environment is rebuilt whenever a requirements file changes (copies are kept inside the venv).
if ! "$VENV/bin/python" -c 'import duckdb, pyarrow, pyspark, moto' >/dev/null 2>&1 \
    || ! cat "$BUILD_REQUIREMENTS" "$REQUIREMENTS" | cmp -s - "$VENV/requirements.txt"; then
    echo "==> installing the readers from $REQUIREMENTS into $VENV"
    rm -rf "$VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps)
    "${pip[@]}" --only-binary :all: -r "$BUILD_REQUIREMENTS"
    "${pip[@]}" --only-binary :all: --no-binary pyspark --no-build-isolation -r "$REQUIREMENTS"
    "$VENV/bin/python" -m pip check
    cat "$BUILD_REQUIREMENTS" "$REQUIREMENTS" >"$VENV/requirements.txt"
fi

# Java for Spark: 17 or later.
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }
if ! command -v java >/dev/null 2>&1 || [[ "$(java_major)" -lt 17 ]]; then
    echo "==> installing $JRE_PACKAGE=$JRE_VERSION (Debian) for Spark"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$JRE_PACKAGE=$JRE_VERSION" >/dev/null \
        || { echo "readers.sh: $JRE_PACKAGE $JRE_VERSION is not offered any more:" >&2
             apt-cache policy "$JRE_PACKAGE" >&2; exit 1; }
fi
echo "==> java $(java_major), $("$VENV/bin/python" -c 'import duckdb, pyarrow, pyspark; print(f"duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}, pyspark {pyspark.__version__}")')"

