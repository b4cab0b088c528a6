#!/usr/bin/env bash
# Share of distinct (eventSource, eventName) pairs of a corpus for which at least one resource is resolved.
# Usage: tools/resource_coverage.sh TRAILGRAPH_BINARY CORPUS_DIR [DB]
# Ingests every folder of CORPUS_DIR into one store (DB, default a temp file), then counts over `events` and
# `event_resources` with Python's sqlite3 module (docs/ingest.md, Resources, has the figures).
set -euo pipefail
bin=$1 corpus=$2 db=${3:-$(mktemp -d)/coverage.db}
for d in "$corpus"/*/; do "$bin" --db "$db" ingest "$d" >/dev/null 2>&1 || true; done
# Python's sqlite3 module: no sqlite3 command needed.
python3 - "$db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
q = lambda sql: c.execute(sql).fetchone()
pairs, hit = q("""WITH pairs AS (
  SELECT e.event_source, e.event_name,
         max(EXISTS (SELECT 1 FROM event_resources r WHERE r.event = e.id)) AS hit
  FROM events e GROUP BY e.event_source, e.event_name)
SELECT count(*), sum(hit) FROM pairs""")
print(f"{pairs} pairs, {hit} with a resource ({100.0 * hit / pairs:.1f} %)")
print("events: %d, with a resource: %d" % q(
    "SELECT count(*), sum(EXISTS (SELECT 1 FROM event_resources r WHERE r.event = e.id)) FROM events e"))
print("resources: %d, types: %d" % q("SELECT count(*), count(DISTINCT type) FROM resources"))
PY
