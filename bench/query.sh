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

# GEN_ARGS: extra generator options (e.g. "--accounts 20" for an organization whose calls spread over more
# resources); each set of options gets its own store.
GEN_ARGS="${GEN_ARGS:-}"
SUFFIX=""
[ -n "$GEN_ARGS" ] && SUFFIX="-$(printf '%s' "$GEN_ARGS" | sha256sum | cut -c1-8)"
CORPUS="$ROOT/target/bench-query-corpus-$RECORDS$SUFFIX"
DB="$ROOT/target/bench-query-$RECORDS$SUFFIX.db"
GEN_HASH="$(sha256sum src/bin/trailgraph-gen.rs | cut -c1-16)"
if [ -f "$DB" ] && grep -qs "gen=$GEN_HASH" "$DB.meta"; then
    log "reusing store $DB"
else
    rm -rf "$CORPUS" "$DB" "$DB-wal" "$DB-shm" "$DB.meta"
    log "generating $RECORDS records (CloudTrail + Config) into $CORPUS"
    # shellcheck disable=SC2086
    target/release/trailgraph-gen --out "$CORPUS" --records "$RECORDS" --seed 1 --config $GEN_ARGS
    log "ingesting"
    start=$(date +%s)
    target/release/trailgraph --db "$DB" ingest -q --format json "$CORPUS" > "$DB.ingest.json" || true
    log "ingest took $(( $(date +%s) - start )) s"
    echo "gen=$GEN_HASH" > "$DB.meta"
    rm -rf "$CORPUS" # the store is what is measured; the corpus takes GBs
fi

# BASELINE: another trailgraph binary (e.g. a build of the previous commit) run side by side with this one, case
# by case, on the two "random" lines.
python3 - "$DB" "$RUNS" "${BASELINE:-}" <<'PY'
import json, sqlite3, statistics, subprocess, sys, time
db, runs, baseline = sys.argv[1], int(sys.argv[2]), sys.argv[3]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
events = con.execute("select count(*) from events").fetchone()[0]
one = lambda sql, *p: con.execute(sql, p).fetchone()
# Targets. who-changed: a security group (a typical audited resource) and the bucket with the most Config states
# (the generator changes its policy every few minutes, far more than real buckets). timeline: the IAM user who
# started the most role sessions, over one hour and over one day, and one role session's access key.
sg = one("""select r.resource_id from resources r join config_items c on c.resource = r.id
    where r.type = 'AWS::EC2::SecurityGroup' group by r.id order by count(*) desc limit 1""")[0]
bucket = one("""select r.resource_id from resources r join config_items c on c.resource = r.id
    where r.type = 'AWS::S3::Bucket' group by r.id order by count(*) desc limit 1""")[0]
user_id, user = one("""select p.id, p.arn from sessions s join principals p on p.id = s.issuer_principal_id
    where p.type = 'IAMUser' group by p.id order by count(*) desc limit 1""")
key = one("select access_key_id from sessions where issuer_principal_id = ? order by access_key_id limit 1", user_id)[0]
t0 = one("select min(event_time) from events")[0] // 1000

def iso(sec):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))

def bench(args):
    times = []
    out = None
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(["target/release/trailgraph", "--db", db] + args, capture_output=True, check=True).stdout
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), sorted(times)[max(0, int(len(times) * 0.9) - 1)], json.loads(out)

def peer(sql, params):
    # The floor: the same index lookups as plain SQL in-process, without correlation, actors or JSON.
    times = []
    n = 0
    for _ in range(runs):
        t = time.perf_counter()
        n = len(con.execute(sql, params).fetchall())
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), n

def row(name, m, p, n):
    print(f"{name:<58} {m:>10.1f} {p:>8} {n:>8}")

print(f"store: {events:,} events; {runs} runs each; trailgraph figures are whole processes (start, open, query, JSON out)")
print(f"{'query':<58} {'median ms':>10} {'p90 ms':>8} {'rows':>8}")
# The type is written into the SQL (a constant here, never input), and the partial index's own condition repeated,
# so that SQLite uses the index on resource ids of non-object resources; the subquery keeps the planner from
# scanning event_resources.
calls_on = """select e.id from event_resources er join events e on e.id = er.event
    where er.resource = (select id from resources where type <> 'AWS::S3::Object' and resource_id = ? and type = '{}')
      and er.access = 'target'"""
for label, target, rtype in [("security group", sg, "AWS::EC2::SecurityGroup"), ("busiest bucket", bucket, "AWS::S3::Bucket")]:
    m, p, d = bench(["who-changed", target, "--format", "json"])
    row(f"trailgraph who-changed {label}", m, f"{p:.1f}", len(d["changes"]))
    pm, n = peer(calls_on.format(rtype), (target,))
    row(f"  peer: plain SQL, calls about it (python sqlite3)", pm, "", n)
# A typical audited resource: the median over resources drawn at random (fixed seed) among those with Config
# states and calls, one process per resource.
import random
cands = [f"{r[0]}:{r[1]}" for r in con.execute("""select r.type, r.resource_id from resources r
    where exists (select 1 from config_items c where c.resource = r.id)
      and exists (select 1 from event_resources er where er.resource = r.id and er.access = 'target')
      order by r.id""")]
sample = random.Random(1).sample(cands, min(25, len(cands)))

def timed(binary, args):
    t = time.perf_counter()
    out = subprocess.run([binary, "--db", db] + args, capture_output=True)
    return (time.perf_counter() - t) * 1000, out

def p90(xs):
    return f"{sorted(xs)[max(0, int(len(xs) * 0.9) - 1)]:.1f}"

def both(args, n):
    # This build and the baseline on the same case, taking turns at going first: the first process to touch the
    # store's pages after a while may pay for bringing them back (the machine reclaims idle page cache).
    if not baseline:
        return timed("target/release/trailgraph", args), None
    if n % 2:
        base = timed(baseline, args)[0]
        return timed("target/release/trailgraph", args), base
    this = timed("target/release/trailgraph", args)
    return this, timed(baseline, args)[0]

per, sizes, base = [], [], []
for n, rid in enumerate(sample):
    (ms, out), b = both(["who-changed", rid, "--format", "json"], n)
    per.append(ms)
    if out.returncode == 0:
        sizes.append(len(json.loads(out.stdout)["changes"]))
    if b is not None:
        base.append(b)
row(f"trailgraph who-changed, {len(sample)} random resources (median of them)", statistics.median(per), p90(per),
    int(statistics.median(sizes)) if sizes else 0)
if baseline:
    row("  baseline binary, the same resources side by side", statistics.median(base), p90(base), "")
m, p, d = bench(["who-changed", sg, "--since", iso(t0), "--until", iso(t0 + 86400), "--format", "json"])
row("trailgraph who-changed security group, one day", m, f"{p:.1f}", len(d["changes"]))
for label, args in [("one hour", ["--since", iso(t0), "--until", iso(t0 + 3600)]), ("one day", ["--since", iso(t0), "--until", iso(t0 + 86400)])]:
    m, p, d = bench(["timeline", "--principal", user] + args + ["--format", "json"])
    row(f"trailgraph timeline --principal (sessions followed), {label}", m, f"{p:.1f}", len(d["events"]))
pm, n = peer("select * from events where principal_id = ? and event_time between ? and ?", (user_id, t0 * 1000, (t0 + 3600) * 1000))
row("  peer: plain SQL, own events of that hour (python sqlite3)", pm, "", n)
# A typical principal: the median over every IAM user, each over one hour drawn at random (fixed seed) from the
# span of the store, one process each.
t1 = one("select max(event_time) from events")[0] // 1000
users = [r[0] for r in con.execute("select arn from principals where type = 'IAMUser' and arn is not null order by arn")]
rng = random.Random(2)
per, sizes, base = [], [], []
for arn in users:
    for _ in range(3):
        h = t0 + rng.randrange(0, max(1, (t1 - t0) // 3600)) * 3600
        args = ["timeline", "--principal", arn, "--since", iso(h), "--until", iso(h + 3600), "--format", "json"]
        (ms, out), b = both(args, len(per))
        if out.returncode != 0:
            sys.exit(f"trailgraph {' '.join(args)} failed: {out.stderr.decode()}")
        per.append(ms)
        sizes.append(len(json.loads(out.stdout)["events"]))
        if b is not None:
            base.append(b)
row(f"trailgraph timeline --principal, {len(users)} users x 3 random hours (median)", statistics.median(per),
    p90(per), int(statistics.median(sizes)))
if baseline:
    row("  baseline binary, the same hours side by side", statistics.median(base), p90(base), "")
m, p, d = bench(["timeline", "--access-key", key, "--format", "json"])
row("trailgraph timeline --access-key (one role session)", m, f"{p:.1f}", len(d["events"]))
PY
