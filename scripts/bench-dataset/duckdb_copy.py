"""Runs DuckDB's own conversion of a v3 JSONL export to Parquet (duckdb-copy.sql beside this file):
`duckdb.py JSONL OUT_DIR`. Two COPY (SELECT … FROM read_json(…)) TO … (FORMAT parquet) statements,
conversations and turns, zstd, partitioned by the UTC start date, as polyai's dataset is."""

import os
import sys

import duckdb

jsonl, out = sys.argv[1:3]
os.makedirs(out, exist_ok=True)
con = duckdb.connect()
con.execute(f"SET VARIABLE jsonl = '{jsonl}'")
con.execute(f"SET VARIABLE out = '{out}'")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "duckdb-copy.sql")) as f:
    con.execute(f.read())
