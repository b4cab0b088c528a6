#!/usr/bin/env bash
# Report benchmark: `trailgraph report` for 10 resources and 3 principals on a 2,000,000-event store.
# Usage: bench/report.sh [RECORDS]   (default 2000000). Results: docs/performance.md#report.
set -euo pipefail

RECORDS="${1:-2000000}"
RUNS="${RUNS:-3}"
case "$RECORDS" in '' | *[!0-9]*) echo "usage: $0 [RECORDS]" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log() { printf '==> %s\n' "$*" >&2; }

log "building (release)"
cargo build --release --bins
BIN="$TARGET/release"

CORPUS="$TARGET/bench-report-corpus-$RECORDS"
DB="$TARGET/bench-report-$RECORDS.db"
GEN_HASH="$(sha256sum src/bin/trailgraph-gen.rs | cut -c1-16)"
if [ -f "$DB" ] && grep -qs "gen=$GEN_HASH" "$DB.meta"; then
    log "reusing store $DB"
else
    rm -rf "$CORPUS" "$DB" "$DB-wal" "$DB-shm" "$DB.meta"
    log "generating $RECORDS records (CloudTrail + Config) into $CORPUS"
    "$BIN/trailgraph-gen" --out "$CORPUS" --records "$RECORDS" --seed 1 --config
    log "ingesting"
    start=$(date +%s)
    "$BIN/trailgraph" --db "$DB" ingest -q --format json "$CORPUS" > "$DB.ingest.json" || true
    log "ingest took $(( $(date +%s) - start )) s"
    echo "gen=$GEN_HASH" > "$DB.meta"
    rm -rf "$CORPUS"
fi

python3 - "$DB" "$RUNS" "$BIN/trailgraph" "$TARGET" <<'PY'
import os, sqlite3, statistics, subprocess, sys, time
db, runs, tg, target = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
events = con.execute("select count(*) from events").fetchone()[0]
# 10 resources an auditor would ask about: the most changed of each audited type (buckets, security groups,
# roles, users, keys, functions...), by the number of AWS Config states; then the 3 principals that made the
# most successful changes to them.
rows = con.execute("""select type, arn, n from (
    select r.type, r.arn, count(*) n, row_number() over (partition by r.type order by count(*) desc, r.id) k
      from config_items ci join resources r on r.id = ci.resource where r.arn is not null group by r.id)
    where k <= 4 order by n desc, arn limit 10""").fetchall()
resources = [a for _, a, _ in rows]
principals = [p for (p,) in con.execute(f"""select p.arn from event_resources er
    join events e on e.id = er.event join resources r on r.id = er.resource join principals p on p.id = e.principal_id
    where er.access = 'target' and e.error_code is null and r.arn in ({",".join("?" * len(resources))})
      and p.arn is not null
    group by p.id order by count(*) desc, p.arn limit 3""", resources)]
args = [tg, "--db", db, "report"]
for r in resources: args += ["--resource", r]
for p in principals: args += ["--principal", p]
out = os.path.join(target, "bench-report.html")
args += ["-o", out]
times, rss = [], []
for _ in range(runs):
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + args, capture_output=True, text=True, check=True)
    times.append(time.perf_counter() - t)
    rss.append(int(p.stderr.strip().splitlines()[-1]))
html = open(out, encoding="utf-8").read()
print(f"store: {events} events")
print("resources:", ", ".join(f"{a} ({n} states)" for _, a, n in rows))
print("principals:", ", ".join(principals))
counts = {k: html.count(v) for k, v in [("changes", '<tr class="change">'), ("failed", '<tr class="failed">'),
          ("timeline", '<tr class="ok">'), ("pictures", '<img class="lineage"')]}
print(f"report: median {statistics.median(times):.2f} s over {runs} runs (min {min(times):.2f}, max {max(times):.2f}), "
      f"peak RSS {max(rss) / 1024:.0f} MB, file {os.path.getsize(out) / 1e6:.2f} MB, "
      f"{counts['changes']} change rows, {counts['failed']} failed rows, {counts['timeline']} ok timeline rows, "
      f"{counts['pictures']} lineage pictures")
PY
