#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) for SECONDS each, JOBS at a time, and prints one line per
# target: executions, seconds, new corpus size and whether it found anything. Not part of CI.
#
#   bench/fuzz.sh [CPU_SECONDS] [TARGET...]      e.g. bench/fuzz.sh 3600          (one CPU-hour per target)
#   JOBS=2 bench/fuzz.sh 600 log_file config
#
# The budget is CPU time (ulimit -t), not wall time, so a target run at low priority beside other work
# (NICE=19, the default) still gets its full CPU-hour; the line printed gives both.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Seeds come from fixtures/ and
# $TRAILGRAPH_CORPUS (default ../shared/corpus) through tools/fuzz_seeds.py; the growing corpus is kept in
# fuzz/corpus/TARGET (not committed). A crash or hang leaves its input in fuzz/artifacts/TARGET: copy it to
# fixtures/fuzz/TARGET/ and the ordinary suite (tests/cases/fuzz_regressions.rs) replays it.
#
# Limits, from issue 14: an input over 1 s is a hang (-timeout=1), inputs stay under 1 MB (-max_len), and memory
# is capped (-rss_limit_mb, -malloc_limit_mb) well above the 4 MB decompression cap the targets read with.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
shift || true
ALL=(log_file config digest gzip time arn public_keys)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")
JOBS="${JOBS:-1}"
LOGDIR="fuzz/logs"
mkdir -p "$LOGDIR"

command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2; exit 2; }
python3 tools/fuzz_seeds.py >&2
(cd fuzz && cargo +nightly fuzz build -O >&2)

run_one() {
    local t="$1" secs="$2" log="fuzz/logs/$1.$(date -u +%Y%m%dT%H%M%SZ).log"
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    local start end rc=0 bin="fuzz/target/x86_64-unknown-linux-gnu/release/$t"
    start=$(date +%s)
    # The fuzz binary itself (not cargo) under the CPU limit; -max_total_time is a wall-clock backstop.
    (cd fuzz && ulimit -t "$secs" && exec nice -n "${NICE:-19}" "../$bin" "corpus/$t" "seeds/$t" \
        -max_total_time=$((secs * 4)) -timeout=1 -max_len=262144 -rss_limit_mb=1024 -malloc_limit_mb=256 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/") >"$log" 2>&1 || rc=$?
    end=$(date +%s)
    local execs cov found
    # The last status line (#N ... cov: C): final stats are not printed when the CPU limit ends the run.
    execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    found=$(ls "fuzz/artifacts/$t" | wc -l)
    # Exit 152 (SIGXCPU) or 137 (the hard CPU limit) is the budget running out: the normal end of a run.
    printf '%s\texecs=%s\tcpu_seconds<=%s\twall_seconds=%s\tcov=%s\tcorpus=%s\tartifacts=%s\texit=%s\tlog=%s\n' \
        "$t" "${execs:-?}" "$secs" "$((end - start))" "${cov:-?}" "$(ls "fuzz/corpus/$t" | wc -l)" "$found" "$rc" "$log"
}
export -f run_one
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c "run_one {} $SECONDS_PER_TARGET"
