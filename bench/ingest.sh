#!/usr/bin/env bash
# Ingest benchmark: trailgraph vs DuckDB over a generated CloudTrail corpus. See bench/README.md.
# Usage: bench/ingest.sh [RECORDS]   (default 2000000)
set -euo pipefail

RECORDS="${1:-2000000}"
case "$RECORDS" in '' | *[!0-9]*) echo "usage: $0 [RECORDS]" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '==> %s\n' "$*" >&2; }

# GNU time gives wall time and peak RSS.
if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing GNU time"
        apt-get install -y -q time >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q time >/dev/null; }
    else
        echo "error: /usr/bin/time (GNU time) is missing: install the 'time' package" >&2
        exit 2
    fi
fi

log "building (release)"
cargo build --release --bins

# 1. Corpus, cached per size. The .meta file (outside the corpus, so ingest never sees it) marks it complete.
# The generator's source hash is part of the key: a changed generator regenerates.
CORPUS="$ROOT/target/bench-corpus-$RECORDS"
META="$CORPUS.meta"
GEN_HASH="$(sha256sum src/bin/trailgraph-gen.rs | cut -c1-16)"
if [ -d "$CORPUS" ] && grep -qs "gen=$GEN_HASH" "$META"; then
    log "reusing corpus $CORPUS"
else
    rm -rf "$CORPUS" "$CORPUS.tmp" "$META"
    log "generating $RECORDS records into $CORPUS"
    target/release/trailgraph-gen --out "$CORPUS.tmp" --records "$RECORDS" --seed 1 2>"$META.tmp"
    cat "$META.tmp" >&2
    echo "$(grep '^files=' "$META.tmp") gen=$GEN_HASH" >"$META"
    rm -f "$META.tmp"
    mv "$CORPUS.tmp" "$CORPUS"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/trailgraph-bench.XXXXXX")"
if [ -n "${KEEP:-}" ]; then log "keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi

# Runs "$@" under GNU time (peak RSS in $WORK/$name.time, wall time in $WORK/$name.us), stdout to $WORK/$name.out. Exit code 1 (problems found)
# is reported but not fatal; anything else is.
timed() {
    local name="$1"
    shift
    local rc=0 t0 t1
    t0="$(date +%s%N)"
    /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" || rc=$?
    t1="$(date +%s%N)"
    echo "$(((t1 - t0) / 1000))" >"$WORK/$name.us" # GNU time's wall clock only has 10 ms resolution
    if [ "$rc" = 1 ]; then
        log "warning: $name exited 1 (problems found), see its summary below"
    elif [ "$rc" != 0 ]; then
        echo "error: $name failed (exit $rc)" >&2
        cat "$WORK/$name.out" "$WORK/$name.time" >&2
        exit 1
    fi
}

# 2. trailgraph, fresh database.
log "trailgraph ingest (fresh database)"
timed trailgraph target/release/trailgraph --db "$WORK/trailgraph.db" ingest -q "$CORPUS"

# 3. Same ingest again on the unchanged tree (every source is already known).
log "trailgraph re-ingest (unchanged tree)"
timed reingest target/release/trailgraph --db "$WORK/trailgraph.db" ingest -q "$CORPUS"

# 4. DuckDB, fresh python process, database file in the temp dir. The peer is pinned: a different release loads at a
# different speed (1.x was about twice as slow as 2.0.1), so the figures name the version they were measured against.
DUCKDB_VERSION="${DUCKDB_VERSION:-2.0.1}"
if [ "$(python3 -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null)" != "$DUCKDB_VERSION" ]; then
    log "installing duckdb $DUCKDB_VERSION (pip)"
    python3 -m pip install -q "duckdb==$DUCKDB_VERSION" 2>/dev/null ||
        python3 -m pip install -q --break-system-packages "duckdb==$DUCKDB_VERSION"
fi
log "duckdb $(python3 -c 'import duckdb; print(duckdb.__version__)'), threads $(nproc)"
cat >"$WORK/duck.py" <<'EOF'
import os, sys, duckdb
db, pattern = sys.argv[1], sys.argv[2]
con = duckdb.connect(db)
con.execute(f"SET threads = {os.cpu_count()}")
con.execute(
    "CREATE TABLE t AS SELECT r.* FROM (SELECT unnest(Records) AS r FROM read_json(?, "
    "maximum_object_size=268435456, union_by_name=true))",
    [pattern],
)
print(con.execute("SELECT count(*) FROM t").fetchone()[0])
con.close()
EOF
log "duckdb load"
# One '**' only: DuckDB rejects several in one pattern. This also matches AWSLogs/o-org/ACCOUNT/... layouts.
timed duckdb python3 "$WORK/duck.py" "$WORK/duck.duckdb" "$CORPUS/AWSLogs/**/*_CloudTrail_*.json.gz"

# 5. Report.
DUCKDB_PRINTED="$(python3 -c 'import duckdb; print(duckdb.__version__)')" python3 - "$META" "$WORK" <<'EOF'
import json, os, re, sys
meta_path, work = sys.argv[1], sys.argv[2]
meta = dict(kv.split("=", 1) for kv in open(meta_path).read().split())
records, comp, raw = int(meta["records"]), int(meta["compressed_bytes"]), int(meta["uncompressed_bytes"])

def timing(name):
    text = open(os.path.join(work, name + ".time")).read()
    secs = max(int(open(os.path.join(work, name + ".us")).read()) / 1e6, 1e-6)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return secs, rss / 1024

rows = []
def row(tool, n, name):
    secs, rss = timing(name)
    rows.append((tool, f"{n:,}", f"{secs:.2f}", f"{n / secs:,.0f}", f"{comp / 1e6 / secs:.1f}", f"{raw / 1e6 / secs:.1f}", f"{rss:.0f}"))
    return secs

first = row("trailgraph ingest", records, "trailgraph")
duck_count = int(open(os.path.join(work, "duckdb.out")).read().split()[-1])
row("duckdb read_json", duck_count, "duckdb")
again = row("trailgraph re-ingest", records, "reingest")

head = ("tool", "records", "seconds", "records/s", "MB/s compr.", "MB/s uncompr.", "peak RSS MB")
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
print()
print(f"corpus: {meta['files']} files, {records:,} records ({int(meta['distinct']):,} distinct + "
      f"{int(meta['redelivered']):,} re-delivered), {comp / 1e6:.1f} MB gzip, {raw / 1e6:.1f} MB JSON")
print(fmt(head))
print("  ".join("-" * w for w in widths))
for r in rows:
    print(fmt(r))
print(f"re-ingest of the unchanged tree took {again / first * 100:.1f}% of the first ingest")
print(f"duckdb count(*) = {duck_count:,}: {'OK' if duck_count == records else 'MISMATCH, expected %d' % records}")
try:
    s = json.load(open(os.path.join(work, "trailgraph.out")))
    print("trailgraph ingest summary: " + ", ".join(f"{k}={s[k]}" for k in
          ("records", "events_new", "events_duplicate", "files_failed") if k in s))
except (ValueError, OSError):
    pass
size = lambda *ps: sum(os.path.getsize(p) for p in ps if os.path.exists(p)) / 1e6
tg = os.path.join(work, "trailgraph.db")
tg_mb = size(tg, tg + '-wal', tg + '-shm')
duck_mb = size(os.path.join(work, 'duck.duckdb'), os.path.join(work, 'duck.duckdb.wal'))
duck_secs = timing("duckdb")[0]
print(f"duckdb version {os.environ.get('DUCKDB_PRINTED', '?')}")
print(f"time: duckdb {duck_secs:.2f} s / trailgraph {first:.2f} s = {duck_secs / first:.2f}x (goal >= 1.0, aim 1.5)")
print(f"store: trailgraph {tg_mb:.1f} MB, duckdb {duck_mb:.1f} MB = {tg_mb / max(duck_mb, 1e-9):.2f}x (goal <= 2.5)")
print()
EOF

if [ -n "${STATS:-}" ]; then target/release/trailgraph --db "$WORK/trailgraph.db" stats --format json; fi
