#!/usr/bin/env bash
# Lineage benchmark: 3-hop upstream and downstream lineage on a large store. See bench/README.md.
# Usage: bench/lineage.sh [RECORDS]   (default 10000000). Reuses the store bench/query.sh builds.
set -euo pipefail

RECORDS="${1:-10000000}"
RUNS="${RUNS:-11}"
# PEER_RUNS: runs of the recursive-SQL peer (default 1; it takes about two minutes on 10M events).
case "$RECORDS" in '' | *[!0-9]*) echo "usage: $0 [RECORDS]" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DB="$ROOT/target/bench-query-$RECORDS.db"
GEN_HASH="$(sha256sum src/bin/trailgraph-gen.rs | cut -c1-16)"
if ! { [ -f "$DB" ] && grep -qs "gen=$GEN_HASH" "$DB.meta"; }; then
    RUNS=1 bash bench/query.sh "$RECORDS" >/dev/null
fi
cargo build --release --bins

python3 - "$DB" "$RUNS" "${PEER_RUNS:-1}" <<'PY'
import json, sqlite3, statistics, subprocess, sys, time
db, runs, peer_runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
events = con.execute("select count(*) from events").fetchone()[0]
one = lambda sql, *p: con.execute(sql, p).fetchone()

# Targets: an object a Glue job run wrote (its upstream goes through the run's reads: a 3-hop pipeline question),
# an object such a run read (its downstream, following medium-or-better derivations), and the object read most
# often (its downstream fans out through long-lived user sessions: the edge limit bounds it).
glue_out = one("""select r.resource_id from sessions s join principals p on p.id = s.issuer_principal_id
    join events e on e.access_key_id = s.access_key_id join event_resources er on er.event = e.id
    join resources r on r.id = er.resource
    where p.key = 'service:glue.amazonaws.com' and e.event_name = 'PutObject' and er.access = 'write'
      and r.type = 'AWS::S3::Object' order by e.id limit 1""")[0]
glue_in = one("""select r.resource_id from sessions s join principals p on p.id = s.issuer_principal_id
    join events e on e.access_key_id = s.access_key_id join event_resources er on er.event = e.id
    join resources r on r.id = er.resource
    where p.key = 'service:glue.amazonaws.com' and e.event_name = 'GetObject' and er.access = 'read'
      and r.type = 'AWS::S3::Object' order by e.id limit 1""")[0]
hot = one("""select r.resource_id from event_resources er join resources r on r.id = er.resource
    where r.type = 'AWS::S3::Object' and er.access = 'read' group by r.id order by count(*) desc, r.id limit 1""")[0]

def bench(args):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(["target/release/trailgraph", "--db", db] + args, capture_output=True, check=True).stdout
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), sorted(times)[max(0, int(len(times) * 0.9) - 1)], json.loads(out)

# The peer: the same three hops as one recursive SQL query over the `flows` view (python sqlite3, in-process):
# writes of the dataset, then reads of the same access key before each write, three times. No actor contexts,
# no confidence, no evidence: the floor of the lookups.
PEER = """
with recursive hop(res, t, depth) as (
  select r.id, 9223372036854775807, 0 from resources r where r.type = 'AWS::S3::Object' and r.resource_id = ?
  union
  select rr.resource, re.event_time, hop.depth + 1
    from hop
    join event_resources w on w.resource = hop.res and w.access = 'write'
    join events we on we.id = w.event and we.event_time < hop.t
    join events re on re.access_key_id = we.access_key_id and re.event_time between we.event_time - 86400000 and we.event_time - 1
    join event_resources rr on rr.event = re.id and rr.access = 'read'
   where hop.depth < 3
)
select count(*) from hop"""

def peer(target):
    # One run by default (PEER_RUNS): the naive recursive query takes minutes on 10M events.
    times, n = [], 0
    for _ in range(peer_runs):
        t = time.perf_counter()
        n = con.execute(PEER, (target,)).fetchone()[0]
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), n

print(f"store: {events:,} events; {runs} runs each; trailgraph figures are whole processes (start, open, walk, JSON out)")
print(f"{'query':<78} {'median ms':>10} {'p90 ms':>8} {'edges':>8}")
for label, target, args in [
        ("Glue output, --upstream --depth 3", glue_out, ["--upstream"]),
        ("Glue input, --downstream --depth 3 --min-confidence medium", glue_in, ["--downstream", "--min-confidence", "medium"]),
        ("most-read object, --downstream --depth 3 (limit 50,000 edges)", hot, ["--downstream"]),
        ("Glue input, --consumers --depth 3 --min-confidence medium (blast radius)", glue_in,
         ["--consumers", "--min-confidence", "medium"]),
        ("Glue input, --consumers --depth 3 (blast radius, all confidences)", glue_in, ["--consumers"]),
        ("most-read object, --consumers --depth 3 (blast radius, limit 50,000 edges)", hot, ["--consumers"]),
        ("Glue output, --upstream --paths --depth 3", glue_out, ["--upstream", "--paths"])]:
    m, p, d = bench(["lineage", f"s3://{target}"] + args + ["--depth", "3", "--format", "json"])
    trunc = " (truncated)" if d.get("truncated") else ""
    extra = ""
    if "consumers" in d:
        extra = f" consumers={len(d['consumers'])}"
    if "paths" in d:
        extra += f" paths={len(d['paths'])}"
    if d.get("chokepoints"):
        extra += f" chokepoints={len(d['chokepoints'])}"
    print(f"{'trailgraph lineage ' + label:<78} {m:>10.1f} {p:>8.1f} {len(d['edges']):>8}{trunc}{extra}")
    if args == ["--upstream"]:
        pm, n = peer(target)
        print(f"{'  peer: recursive SQL, 3 hops of writes and same-key reads (python sqlite3)':<78} {pm:>10.1f} {'':>8} {n:>8}")
PY
