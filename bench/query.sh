#!/usr/bin/env bash
# Query benchmark: who-changed and timeline --principal on a large store. See bench/README.md.
# Usage: bench/query.sh [RECORDS]   (default 10000000)
set -euo pipefail

RECORDS="${1:-10000000}"
RUNS="${RUNS:-21}"
case "$RECORDS" in '' | *[!0-9]*) echo "usage: $0 [RECORDS]" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '==> %s\n' "$*" >&2; }

log "building (release)"
cargo build --release --bins

CORPUS="$ROOT/target/bench-query-corpus-$RECORDS"
DB="$ROOT/target/bench-query-$RECORDS.db"
GEN_HASH="$(sha256sum src/bin/trailgraph-gen.rs | cut -c1-16)"
if [ -f "$DB" ] && grep -qs "gen=$GEN_HASH" "$DB.meta"; then
    log "reusing store $DB"
else
    rm -rf "$CORPUS" "$DB" "$DB-wal" "$DB-shm" "$DB.meta"
    log "generating $RECORDS records (CloudTrail + Config) into $CORPUS"
    target/release/trailgraph-gen --out "$CORPUS" --records "$RECORDS" --seed 1 --config
    log "ingesting"
    start=$(date +%s)
    target/release/trailgraph --db "$DB" ingest -q --format json "$CORPUS" > "$DB.ingest.json" || true
    log "ingest took $(( $(date +%s) - start )) s"
    echo "gen=$GEN_HASH" > "$DB.meta"
    rm -rf "$CORPUS" # the store is what is measured; the corpus takes GBs
fi

python3 - "$DB" "$RUNS" <<'PY'
import json, sqlite3, statistics, subprocess, sys, time
db, runs = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
events = con.execute("select count(*) from events").fetchone()[0]
# Targets: the bucket with the most Config states, and the IAM user who started the most sessions.
bucket = con.execute("""select r.resource_id from resources r join config_items c on c.resource = r.id
    where r.type = 'AWS::S3::Bucket' group by r.id order by count(*) desc limit 1""").fetchone()[0]
user_id, user = con.execute("""select p.id, p.arn from sessions s join principals p on p.id = s.issuer_principal_id
    where p.type = 'IAMUser' group by p.id order by count(*) desc limit 1""").fetchone()

def bench(args):
    times = []
    out = None
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(["target/release/trailgraph", "--db", db] + args, capture_output=True, check=True).stdout
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), sorted(times)[int(len(times) * 0.9) - 1], out

def peer(sql, params):
    # The floor: the same index lookups as plain SQL in-process, without correlation, actors or JSON.
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        rows = con.execute(sql, params).fetchall()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), len(rows)

print(f"store: {events:,} events; bucket {bucket}; principal {user}; {runs} runs each, whole process (start, open, query, JSON)")
print(f"{'query':<52} {'median ms':>10} {'p90 ms':>8} {'rows':>8}")
m, p, out = bench(["who-changed", bucket, "--format", "json"])
d = json.loads(out)
print(f"{'trailgraph who-changed ' + bucket:<52} {m:>10.1f} {p:>8.1f} {len(d['changes']):>8}")
pm, n = peer("""select e.* from event_resources er join events e on e.id = er.event join resources r on r.id = er.resource
    where r.key_hash = ? and r.key = ? and er.access in ('target','write') and e.read_only = 0""",
    (con.execute("select key_hash from resources where resource_id = ? and type = 'AWS::S3::Bucket'", (bucket,)).fetchone()[0],
     "AWS::S3::Bucket|||" + bucket))
print(f"{'peer: plain SQL, calls on the bucket (python sqlite3)':<52} {pm:>10.1f} {'':>8} {n:>8}")
m, p, out = bench(["timeline", "--principal", user, "--format", "json"])
d = json.loads(out)
print(f"{'trailgraph timeline --principal (follows sessions)':<52} {m:>10.1f} {p:>8.1f} {len(d['events']):>8}")
pm, n = peer("select * from events where principal_id = ? order by event_time", (user_id,))
print(f"{'peer: plain SQL, own events only (python sqlite3)':<52} {pm:>10.1f} {'':>8} {n:>8}")
PY
