#!/usr/bin/env bash
# Integrity benchmark: `trailgraph verify` over a generated, signed CloudTrail tree, against the gunzip + SHA-256
# limit measured in the same run. See bench/README.md.
# Usage: bench/verify.sh [RECORDS]   (default 2000000)
set -euo pipefail

RECORDS="${1:-2000000}"
case "$RECORDS" in '' | *[!0-9]*) echo "usage: $0 [RECORDS]" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log() { printf '==> %s\n' "$*" >&2; }

log "building (release)"
cargo build --release --bins
BIN="$TARGET/release"

# 1. Corpus, cached per size (the same cache as bench/ingest.sh).
CORPUS="$TARGET/bench-corpus-$RECORDS"
META="$CORPUS.meta"
GEN_HASH="$(sha256sum src/bin/trailgraph-gen.rs | cut -c1-16)"
if [ -d "$CORPUS" ] && grep -qs "gen=$GEN_HASH" "$META"; then
    log "reusing corpus $CORPUS"
else
    rm -rf "$CORPUS" "$CORPUS.tmp" "$META"
    log "generating $RECORDS records into $CORPUS"
    "$BIN/trailgraph-gen" --out "$CORPUS.tmp" --records "$RECORDS" --seed 1 2>"$META.tmp"
    cat "$META.tmp" >&2
    echo "$(grep '^files=' "$META.tmp") gen=$GEN_HASH" >"$META"
    rm -f "$META.tmp"
    mv "$CORPUS.tmp" "$CORPUS"
fi

# 2. A signed copy: log files hard-linked (no copy of the data), digests + sidecars written with the TEST key.
SIGNED="$TARGET/bench-verify-$RECORDS"
SIGN_HASH="$(cat src/bin/trailgraph-sign.rs "$META" | sha256sum | cut -c1-16)"
if [ -d "$SIGNED" ] && grep -qs "sign=$SIGN_HASH" "$SIGNED.meta"; then
    log "reusing signed tree $SIGNED"
else
    rm -rf "$SIGNED" "$SIGNED.meta"
    log "signing digests into $SIGNED (TEST key)"
    cp -al "$CORPUS" "$SIGNED"
    "$BIN/trailgraph-sign" sign --key fixtures/integrity/test-key.TEST-ONLY.pem --tree "$SIGNED" \
        --public-keys-out "$SIGNED.keys.json"
    echo "sign=$SIGN_HASH" >"$SIGNED.meta"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/trailgraph-verify-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
now() { date +%s%N; }

# 3. Warm the page cache once (every run below reads from it), then the peers and verify.
log "warming the page cache"
find "$SIGNED" -type f -name '*_CloudTrail_*' -print0 | xargs -0 cat >/dev/null

log "peer: gzip -dc | sha256sum (system tools, one stream)"
t0="$(now)"
find "$SIGNED" -type f -name '*_CloudTrail_*' -print0 | sort -z | xargs -0 gzip -dc | sha256sum >/dev/null
t1="$(now)"
echo "$(((t1 - t0) / 1000))" >"$WORK/zcat.us"

for j in 1 2; do
    log "peer: Rust gunzip + SHA-256 loop, $j thread(s)"
    "$BIN/trailgraph-sign" hash-tree "$SIGNED" --jobs "$j" >"$WORK/hash$j.out"
done

for j in 1 2; do
    log "trailgraph verify --jobs $j"
    rc=0
    t0="$(now)"
    "$BIN/trailgraph" --db "$WORK/absent.db" verify "$SIGNED" --public-keys "$SIGNED.keys.json" \
        --format json --jobs "$j" >"$WORK/verify$j.json" || rc=$?
    t1="$(now)"
    echo "$(((t1 - t0) / 1000))" >"$WORK/verify$j.us"
    if [ "$rc" != 0 ]; then
        echo "error: verify exited $rc (expected 0 on an untampered tree)" >&2
        head -c 2000 "$WORK/verify$j.json" >&2
        exit 1
    fi
done

# 4. Report.
python3 - "$WORK" <<'EOF'
import json, os, sys
work = sys.argv[1]
h1 = dict(kv.split("=") for kv in open(os.path.join(work, "hash1.out")).read().split())
files, comp, raw = int(h1["files"]), int(h1["compressed_bytes"]), int(h1["uncompressed_bytes"])
v = json.load(open(os.path.join(work, "verify1.json")))
assert v["log_bytes"] == raw, (v["log_bytes"], raw)
rows = []
def row(name, secs):
    rows.append((name, f"{secs:.2f}", f"{comp / 1e6 / secs:.1f}", f"{raw / 1e6 / secs:.1f}"))
us = lambda n: int(open(os.path.join(work, n + ".us")).read()) / 1e6
row("gzip -dc | sha256sum (2 processes)", us("zcat"))
for j in (1, 2):
    h = dict(kv.split("=") for kv in open(os.path.join(work, f"hash{j}.out")).read().split())
    row(f"Rust gunzip+SHA-256 loop, {j} thread(s)", float(h["seconds"]))
for j in (1, 2):
    row(f"trailgraph verify --jobs {j}", us(f"verify{j}"))
head = ("run", "seconds", "MB/s compr.", "MB/s uncompr.")
w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
fmt = lambda r: "  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r))
print()
print(f"tree: {files} log files, {comp / 1e6:.1f} MB gzip, {raw / 1e6:.1f} MB uncompressed; "
      f"{sum(v['digests'].values())} digests ({v['digests']['valid']} valid), logs {v['logs']}")
print(fmt(head)); print("  ".join("-" * x for x in w))
for r in rows: print(fmt(r))
print(f"findings: {len(v['findings'])}")
EOF
