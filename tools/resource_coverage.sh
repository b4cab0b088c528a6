#!/usr/bin/env bash
# Share of distinct (eventSource, eventName) pairs of a corpus for which at least one resource is resolved.
# Usage: tools/resource_coverage.sh TRAILGRAPH_BINARY CORPUS_DIR [DB]
# Ingests every folder of CORPUS_DIR into one store (DB, default a temp file), then counts over `events` and
# `event_resources` with sqlite3 (docs/ingest.md, Resources, has the figures).
set -euo pipefail
bin=$1 corpus=$2 db=${3:-$(mktemp -d)/coverage.db}
for d in "$corpus"/*/; do "$bin" --db "$db" ingest "$d" >/dev/null 2>&1 || true; done
sqlite3 "$db" "
WITH pairs AS (
  SELECT e.event_source, e.event_name,
         max(EXISTS (SELECT 1 FROM event_resources r WHERE r.event = e.id)) AS hit
  FROM events e GROUP BY e.event_source, e.event_name)
SELECT count(*) || ' pairs, ' || sum(hit) || ' with a resource (' || printf('%.1f', 100.0 * sum(hit) / count(*)) || ' %)'
FROM pairs;
SELECT 'events: ' || count(*) || ', with a resource: ' || sum(EXISTS (SELECT 1 FROM event_resources r WHERE r.event = e.id))
FROM events e;
SELECT 'resources: ' || count(*) || ', types: ' || count(DISTINCT type) FROM resources;"
