"""Reads a polyai dataset with DuckDB, pyarrow and Spark and checks it against the JSONL export it
was made from: row counts and keys of every table, column types (timestamps INT64 microseconds in
UTC), the join of turns to conversations, and that what a killed writer leaves in `_polyai/` is
never read. Then runs README.md's DuckDB query and Spark snippet exactly as written there.

Usage: check.py EXPORT_JSONL DATASET_DIR README [--s3 ENDPOINT BUCKET PREFIX]
Exits non-zero on the first mismatch; prints one line per check and a closing 'N passed, 0 failed'.
"""

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import Counter

TABLES = ["conversations", "turns", "function_events", "metrics"]
passed = 0


def check(name, ok, detail=""):
    global passed
    if not ok:
        print(f"FAIL {name} {detail}", flush=True)
        print(f"{passed} passed, 1 failed")
        sys.exit(1)
    passed += 1
    print(f"ok   {name}", flush=True)


def micros(text):
    """RFC 3339 / ISO 8601 (offset or none: UTC) as microseconds since the epoch."""
    if text is None:
        return None
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return round(t.timestamp() * 1_000_000)


def expected_from_export(path):
    """Per table: Counter of rows per conversation id; plus keys and start times."""
    rows = {t: Counter() for t in TABLES}
    turn_keys, started, channels = set(), {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)  # a record of the contract (docs/records.md)
            cid = c["conversation_id"]
            rows["conversations"][cid] += 1
            started[cid] = micros(c.get("started_at") or c.get("created_at"))
            channels[cid] = c.get("channel")
            for i, t in enumerate(c.get("turns") or []):
                if isinstance(t, dict):
                    rows["turns"][cid] += 1
                    turn_keys.add((cid, i))
            rows["function_events"][cid] += sum(
                isinstance(e, dict) for e in c.get("function_events") or []
            )
            rows["metrics"][cid] += sum(isinstance(m, dict) for m in c.get("metrics") or [])
    for t in TABLES:
        rows[t] = +rows[t]  # drop zero counts
    return rows, turn_keys, started, channels


def leave_leftovers(dataset):
    """What a writer killed mid-run may leave: temporaries, staged files, a torn file."""
    junk = {
        "_polyai/tmp/0f0f/turns-g000009-dead.parquet.tmp": b"PAR1 torn",
        "_polyai/staged/turns~date=2026-06-03~part-g000009-dead.parquet.staged": b"PAR1 torn",
        "_polyai/junk.parquet": b"not parquet",
    }
    for rel, data in junk.items():
        path = os.path.join(dataset, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def check_duckdb(dataset, rows, turn_keys, started, channels):
    import duckdb

    con = duckdb.connect()
    scan = lambda t: f"read_parquet('{dataset}/{t}/**/*.parquet', hive_partitioning = true)"
    for t in TABLES:
        got = Counter(dict(con.execute(f"SELECT conversation_id, count(*) FROM {scan(t)} GROUP BY 1").fetchall()))
        check(f"duckdb {t}: {sum(got.values())} rows, {len(got)} conversations", got == rows[t])
    keys = set(con.execute(f"SELECT conversation_id, turn_index FROM {scan('turns')}").fetchall())
    check("duckdb turns: keys (conversation_id, turn_index)", keys == turn_keys)
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {scan('conversations')})").fetchall())
    check("duckdb conversations.started_at is TIMESTAMP WITH TIME ZONE", types["started_at"] == "TIMESTAMP WITH TIME ZONE", types["started_at"])
    check("duckdb conversations.tags is VARCHAR[]", types["tags"] == "VARCHAR[]", types["tags"])
    check("duckdb date partition column is DATE", types["date"] == "DATE", types["date"])
    got = dict(con.execute(f"SELECT conversation_id, epoch_us(started_at) FROM {scan('conversations')}").fetchall())
    check("duckdb started_at equals the export's started_at, to the microsecond", got == started)
    joined = Counter(dict(con.execute(
        f"SELECT c.channel, count(*) FROM {scan('turns')} t JOIN {scan('conversations')} c USING (conversation_id) GROUP BY 1"
    ).fetchall()))
    want = Counter()
    for cid, n in rows["turns"].items():
        want[channels[cid]] += n
    check("duckdb turns JOIN conversations: turns per channel", joined == want, f"{joined} != {want}")
    dates = con.execute(f"SELECT count(*) FROM {scan('turns')} t JOIN {scan('conversations')} c USING (conversation_id) WHERE t.date <> c.date").fetchone()[0]
    check("duckdb every turn is in its conversation's partition", dates == 0)


def check_pyarrow(dataset, rows, started):
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    for t in TABLES:
        table = ds.dataset(f"{dataset}/{t}", format="parquet", partitioning="hive").to_table()
        got = Counter(table.column("conversation_id").to_pylist())
        check(f"pyarrow {t}: {table.num_rows} rows", got == rows[t])
    conv = ds.dataset(f"{dataset}/conversations", format="parquet", partitioning="hive").to_table()
    field = conv.schema.field("started_at").type
    check("pyarrow started_at is timestamp[us, tz=UTC]", field == pa.timestamp("us", tz="UTC"), str(field))
    ints = conv.column("started_at").cast(pa.int64()).to_pylist()
    got = dict(zip(conv.column("conversation_id").to_pylist(), ints))
    check("pyarrow started_at equals the export's started_at, to the microsecond", got == started)
    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(f"{dataset}/turns")
        for name in names
        if name.endswith(".parquet")
    )
    meta = pq.ParquetFile(files[0]).metadata
    column = next(meta.schema.column(i) for i in range(meta.num_columns) if meta.schema.column(i).name == "user_input_at")
    logical = json.loads(column.logical_type.to_json())
    check("parquet user_input_at: INT64", column.physical_type == "INT64", column.physical_type)
    check("parquet user_input_at: TIMESTAMP(MICROS, isAdjustedToUTC=true)",
          logical.get("Type") == "Timestamp" and logical.get("isAdjustedToUTC") is True
          and logical.get("timeUnit") == "microseconds", str(logical))
    kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()}
    check("parquet metadata: polyai.dataset.schema_version and polyai.record.schema_version",
          kv.get("polyai.dataset.schema_version") == "1" and kv.get("polyai.record.schema_version") == "1", str(kv.keys()))


def check_spark(dataset, rows):
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DateType, TimestampType

    spark = SparkSession.builder.master("local[1]").appName("polyai-readers").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    frames = {t: spark.read.parquet(f"{dataset}/{t}") for t in TABLES}
    for t in TABLES:
        got = Counter({r[0]: r[1] for r in frames[t].groupBy("conversation_id").count().collect()})
        check(f"spark {t}: {sum(got.values())} rows", got == rows[t])
    schema = {f.name: f.dataType for f in frames["conversations"].schema.fields}
    check("spark started_at is TimestampType", isinstance(schema["started_at"], TimestampType), str(schema["started_at"]))
    check("spark date partition column is DateType", isinstance(schema["date"], DateType), str(schema["date"]))
    joined = frames["turns"].join(frames["conversations"], "conversation_id").count()
    check("spark turns JOIN conversations keeps every turn", joined == sum(rows["turns"].values()), str(joined))
    return spark


def readme_block(readme, marker, language):
    text = open(readme, encoding="utf-8").read()
    found = re.search(re.escape(marker) + r"\s*```" + language + r"\n(.*?)```", text, re.S)
    if not found:
        print(f"FAIL README.md has no ```{language} block after {marker}")
        sys.exit(1)
    return found.group(1)


def check_readme(workdir, readme):
    import duckdb

    query = readme_block(readme, "<!-- readers.sh: duckdb -->", "sql")
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        result = duckdb.sql(query).fetchall()
        print(duckdb.sql(query))
        check("README DuckDB query runs and answers rows", len(result) > 0)
        snippet = readme_block(readme, "<!-- readers.sh: spark -->", "python")
        run = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=600)
        print(run.stdout)
        check("README Spark snippet runs", run.returncode == 0 and "|" in run.stdout, run.stderr[-2000:])
    finally:
        os.chdir(cwd)


def check_s3(endpoint, bucket, prefix, rows):
    import pyarrow.dataset as ds
    from pyarrow import fs

    s3 = fs.S3FileSystem(access_key="testing", secret_key="testing", region="us-east-1",
                         endpoint_override=endpoint, scheme="http")
    for t in TABLES:
        table = ds.dataset(f"{bucket}/{prefix}/{t}", format="parquet", partitioning="hive", filesystem=s3).to_table()
        got = Counter(table.column("conversation_id").to_pylist())
        check(f"s3 pyarrow {t}: {table.num_rows} rows", got == rows[t])
    listed = [f.path for f in s3.get_file_info(fs.FileSelector(f"{bucket}/{prefix}", recursive=True)) if f.is_file]
    check("s3 the manifest is there", f"{bucket}/{prefix}/_polyai_dataset.json" in listed)
    check("s3 no temporary or staged object is left", not any(p.endswith((".tmp", ".staged")) for p in listed), str(listed[:5]))


def main():
    export, dataset, readme = sys.argv[1:4]
    rows, turn_keys, started, channels = expected_from_export(export)
    check("the export has conversations with turns, function events and metrics", all(rows[t] for t in TABLES))
    if "--s3" in sys.argv:
        endpoint, bucket, prefix = sys.argv[sys.argv.index("--s3") + 1:][:3]
        check_s3(endpoint, bucket, prefix, rows)
        print(f"{passed} passed, 0 failed")
        return
    leave_leftovers(dataset)
    check_duckdb(dataset, rows, turn_keys, started, channels)
    check_pyarrow(dataset, rows, started)
    spark = check_spark(dataset, rows)
    spark.stop()
    check_readme(os.path.dirname(os.path.abspath(dataset)), readme)
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
