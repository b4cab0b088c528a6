#!/usr/bin/env bash
# The wide pass of `collect --via spark` beside a full `ingest` and DuckDB, on the same generated organization
# trail (docs/scale.md). Prints, for each: seconds, records per second over the window, and what it produced.
#
#   bench/via.sh [RECORDS] [SCOPE...]       e.g. bench/via.sh 1000000 --resource sg-97c4fba9d9eb95324
#   LINEAGE=1 bench/via.sh 1000000 --resource s3://acme-export/orders/2024-05-06/0000_part_00
#
# With LINEAGE=1 the corpus also holds the designed pipelines of fixtures/lineage (in $BENCH_DIR/RECORDS-lineage),
# and the `lineage SCOPE --both` answers of the full store and the slice are compared (the lineage rounds' proof).
#
# Needs: a release build with the aws feature for collect (TG_VIA, default target/debug/trailgraph, which is enough:
# Spark does the wide pass), a release build for ingest (TG, default target/release/trailgraph), pyspark and Java
# 17, and `pip install duckdb`. The corpus is made once under $BENCH_DIR (default /tmp/tg-via-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS="${1:-1000000}"
shift || true
SCOPE=("$@")
[ ${#SCOPE[@]} -eq 0 ] && SCOPE=(--resource sg-97c4fba9d9eb95324)
DIR="${BENCH_DIR:-/tmp/tg-via-bench}/$RECORDS${LINEAGE:+-lineage}"
TG="${TG:-target/release/trailgraph}"
TG_VIA="${TG_VIA:-target/debug/trailgraph}"
GEN="${GEN:-target/release/trailgraph-gen}"
[ -x "$GEN" ] || GEN=target/debug/trailgraph-gen
if [ ! -d "$DIR/AWSLogs" ]; then
    "$GEN" --out "$DIR" --records "$RECORDS" --accounts 20 --org o-testorg1 --config >&2
    if [ -n "${LINEAGE:-}" ]; then
        mkdir -p "$DIR/AWSLogs/o-testorg1"
        cp -r fixtures/lineage/AWSLogs/* "$DIR/AWSLogs/o-testorg1/"
    fi
fi
files=$(find "$DIR/AWSLogs" -path '*/CloudTrail/*' -name '*.json.gz' | wc -l)
bytes=$(find "$DIR/AWSLogs" -path '*/CloudTrail/*' -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
python3 -c "import duckdb, pyspark; print('duckdb', duckdb.__version__, ' pyspark', pyspark.__version__)"
echo "corpus: $RECORDS records, $files CloudTrail files, $bytes bytes gzip; scope: ${SCOPE[*]}"

rm -f "$DIR/full.db"*
start=$(date +%s.%N)
"$TG" --db "$DIR/full.db" ingest -q --format json "$DIR/AWSLogs" >/dev/null
end=$(date +%s.%N)
python3 -c "s=$end-$start; print(f'ingest (whole tree):        {s:7.1f} s  {$RECORDS/s:9.0f} records/s')"

rm -f "$DIR/via.db"*
"$TG_VIA" --db "$DIR/via.db" collect "$DIR" --via spark --spark-master 'local[2]' "${SCOPE[@]}" \
    --format json -q > "$DIR/via.json"
python3 - "$DIR/via.json" "$RECORDS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[2])
r1 = s["rounds"][0]
t = s["totals"]
print(f"spark round 1 (wide pass):  {r1['seconds']:7.1f} s  {n / r1['seconds']:9.0f} records/s  "
      f"{r1['bytes_scanned']} bytes scanned, {r1['files_matched']} files matched")
print(f"spark all rounds:           {t['engine_seconds']:7.1f} s  {t['rounds']} rounds; fetched {t['files_fetched']} "
      f"of {t['files_in_window']} files; run {s['seconds']:.1f} s with Spark's start")
PY

python3 - "$DIR" "$RECORDS" "${SCOPE[1]}" <<'PY'
import duckdb, sys, time
d, n, needle = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if needle.startswith("s3://"):  # an object is looked for by its key, as round 1 does
    needle = needle[5:].split("/", 1)[-1] or needle[5:]
con = duckdb.connect()
con.execute("SET threads TO 2")
t = time.time()
rows = con.execute(
    """SELECT DISTINCT filename FROM (
         SELECT filename, unnest(json_extract(json, '$.Records[*]')) AS r
         FROM read_json_objects(?, filename = true, maximum_object_size = 1000000000))
       WHERE contains(coalesce(json_extract(r, '$.requestParameters')::VARCHAR, ''), ?)
          OR contains(coalesce(json_extract(r, '$.responseElements')::VARCHAR, ''), ?)
          OR contains(coalesce(json_extract(r, '$.resources')::VARCHAR, ''), ?)""",
    [f"{d}/AWSLogs/*/*/CloudTrail/*/*/*/*/*.json.gz", needle, needle, needle]).fetchall()
s = time.time() - t
print(f"duckdb same filter:         {s:7.1f} s  {n / s:9.0f} records/s  {len(rows)} files matched")
PY

if [ -n "${LINEAGE:-}" ]; then
    "$TG" --db "$DIR/full.db" lineage "${SCOPE[1]}" --both --format json > "$DIR/lineage-full.json"
    "$TG" --db "$DIR/via.db" lineage "${SCOPE[1]}" --both --format json > "$DIR/lineage-via.json"
    if cmp -s "$DIR/lineage-full.json" "$DIR/lineage-via.json"; then
        echo "lineage ${SCOPE[1]} --both: the slice answers as the full store ($(wc -c < "$DIR/lineage-via.json") bytes)"
    else
        echo "lineage ${SCOPE[1]} --both: the slice answers DIFFERENTLY from the full store" >&2
        exit 1
    fi
fi
