#!/usr/bin/env python3
"""Runs trailgraph's Athena SQL for real, without Athena: sqlglot transpiles it from Trino (Athena's engine) to
DuckDB, and DuckDB runs it over a local trail folder exposed as the tables of `trailgraph athena-ddl`
(athena_tables.py).

Usage: athena_on_duckdb.py TRAIL_DIR TABLE [CONFIG_TABLE] < SQL
prints {"transpiled": ..., "rows": [[path, used, issued], ...]}
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import duckdb  # noqa: E402

import athena_tables  # noqa: E402

trail, table = sys.argv[1], sys.argv[2]
config_table = sys.argv[3] if len(sys.argv) > 3 else None
athena_sql = sys.stdin.read()
duck_sql = athena_tables.transpile(athena_sql)

con = duckdb.connect()
con.execute("SET threads TO 2")
athena_tables.cloudtrail_view(con, trail, table)
if config_table:
    athena_tables.config_view(con, trail, config_table)
rows = con.execute(duck_sql).fetchall()
print(json.dumps({"transpiled": duck_sql, "rows": sorted([list(r) for r in rows], key=lambda r: [x or "" for x in r])}))
