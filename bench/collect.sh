#!/usr/bin/env bash
# Collect benchmark: `trailgraph collect s3://...` of a generated tree (CloudTrail + Config) from a local moto S3
# server on loopback, then a second, incremental run. See docs/performance.md (section "collect").
# Usage: bench/collect.sh [RECORDS]   (default 200000). Needs python3 with moto[server] (.ci/run installs it).
set -euo pipefail

RECORDS="${1:-200000}"
case "$RECORDS" in '' | *[!0-9]*) echo "usage: $0 [RECORDS]" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log() { printf '==> %s\n' "$*" >&2; }

log "building (release, --features aws)"
cargo build --release --features aws --bins
BIN="$TARGET/release"

TREE="$TARGET/bench-collect-$RECORDS"
GEN_HASH="$(sha256sum src/bin/trailgraph-gen.rs | cut -c1-16)"
if [ -d "$TREE" ] && grep -qs "gen=$GEN_HASH" "$TREE.meta"; then
    log "reusing tree $TREE"
else
    rm -rf "$TREE" "$TREE.tmp" "$TREE.meta"
    log "generating $RECORDS records (with Config) into $TREE"
    "$BIN/trailgraph-gen" --out "$TREE.tmp" --records "$RECORDS" --seed 1 --config 2>"$TREE.meta.tmp"
    cat "$TREE.meta.tmp" >&2
    echo "gen=$GEN_HASH" >"$TREE.meta"
    rm -f "$TREE.meta.tmp"
    mv "$TREE.tmp" "$TREE"
fi
FILES=$(find "$TREE" -type f | wc -l)
BYTES=$(find "$TREE" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')

WORK="$(mktemp -d "${TMPDIR:-/tmp}/trailgraph-collect-bench.XXXXXX")"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null || true; wait $MOTO 2>/dev/null || true; rm -rf "$WORK"' EXIT
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),1)" 2>/dev/null && break
    sleep 0.2
done

log "uploading $FILES objects ($BYTES bytes) to moto"
python3 - "$URL" "$TREE" <<'PY'
import os, sys, boto3
from concurrent.futures import ThreadPoolExecutor
url, root = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket="bench-trail")
paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
def put(p):
    s3.put_object(Bucket="bench-trail", Key=os.path.relpath(p, root), Body=open(p, "rb").read())
with ThreadPoolExecutor(8) as ex:
    list(ex.map(put, paths))
PY

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
now() { date +%s%N; }
DB="$WORK/collect.db"
t0=$(now)
"$BIN/trailgraph" --db "$DB" collect s3://bench-trail --endpoint-url "$URL" --format json -q >"$WORK/first.json"
t1=$(now)
"$BIN/trailgraph" --db "$DB" collect s3://bench-trail --endpoint-url "$URL" --format json -q >"$WORK/second.json"
t2=$(now)
LOCAL="$WORK/local.db"
t3=$(now)
"$BIN/trailgraph" --db "$LOCAL" ingest "$TREE" --format json -q >"$WORK/local.json"
t4=$(now)

python3 - "$WORK" "$t0" "$t1" "$t2" "$t3" "$t4" "$RECORDS" <<'PY'
import json, sys
w, t0, t1, t2, t3, t4, records = sys.argv[1], *map(int, sys.argv[2:7]), sys.argv[7]
a = json.load(open(f"{w}/first.json")); b = json.load(open(f"{w}/second.json")); l = json.load(open(f"{w}/local.json"))
s1, s2, sl = (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t4 - t3) / 1e9
print(f"records {records}: {a['objects_fetched']} objects, {a['bytes_fetched']/1e6:.1f} MB")
print(f"first collect   {s1:7.2f} s  {a['objects_fetched']/s1:8.1f} objects/s  {a['bytes_fetched']/1e6/s1:6.2f} MB/s  "
      f"events {a['ingest']['events_new']}  config items {a['ingest']['config_items_new']}")
print(f"second collect  {s2:7.2f} s  fetched {b['objects_fetched']}, skipped {b['objects_skipped']}, "
      f"list requests {b['list_requests']}")
print(f"local ingest    {sl:7.2f} s  (same tree from disk, for comparison)  events {l['events_new']}")
assert a["ingest"]["events_new"] == l["events_new"], "collect and local ingest disagree"
assert b["objects_fetched"] == 0
PY
