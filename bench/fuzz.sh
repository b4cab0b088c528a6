#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) until each has used SECONDS of CPU time, JOBS at a time, and
# prints one line per target: executions, CPU and wall seconds, coverage, corpus size and whether it found anything.
# Not part of CI.
#
#   bench/fuzz.sh [SECONDS] [TARGET...]      e.g. bench/fuzz.sh 3600          (one CPU-hour per target)
#   JOBS=2 bench/fuzz.sh 600 log_file config
#
# The budget is CPU time, the kernel's accounting of the fuzzer and every process it forked: libFuzzer only knows
# wall time (-max_total_time), so a target is run in slices of the CPU time it still lacks until the budget is
# spent (beside a build, a niced fuzzer gets less than a core and its wall time runs longer). NICE (default 10)
# lowers the fuzzers' priority beside other work. Each slice resumes from the corpus the last one left.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Seeds come from fixtures/ and
# $TRAILGRAPH_CORPUS (default ../shared/corpus) through tools/fuzz_seeds.py; the growing corpus is kept in
# fuzz/corpus/TARGET (not committed). A crash or hang leaves its input in fuzz/artifacts/TARGET: copy it to
# fixtures/fuzz/TARGET/ and the ordinary suite (tests/cases/fuzz_regressions.rs) replays it.
#
# Limits, from issue 14: an input over 1 s is a hang (-timeout=1, confirmed by a replay alone), inputs stay under
# 1 MB (-max_len), and memory is capped (-rss_limit_mb, -malloc_limit_mb) well above the 4 MB decompression cap the
# targets read with.
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
    local t="$1" budget="$2"
    local bin="fuzz/target/x86_64-unknown-linux-gnu/release/$t"
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    local start end rc=0 cpu_total=0 execs_total=0 slices=0 out cpu execs cov="" log logs=""
    start=$(date +%s)
    while [ "$cpu_total" -lt "$budget" ]; do
        local left=$((budget - cpu_total))
        [ "$left" -lt 30 ] && left=30
        log="fuzz/logs/$t.$(date -u +%Y%m%dT%H%M%SZ).log"
        # Fork mode with timeouts ignored: libFuzzer's timeout is wall-clock time, and a run at low priority beside
        # other work can see a 10 ms input take over a second. Every timeout is kept as an artifact and replayed
        # alone below; only one that is still over a second then is a hang. Crashes and running out of memory stop
        # the run. The CPU seconds are those of the fuzzer and every process it forked (waited children).
        out=$(cd fuzz && python3 - "$t" "$left" "../$log" "${NICE:-10}" <<'PY'
import resource, subprocess, sys
t, secs, log, nice = sys.argv[1:5]
with open(log, "wb") as out:
    rc = subprocess.run(
        ["nice", "-n", nice, f"target/x86_64-unknown-linux-gnu/release/{t}", f"corpus/{t}", f"seeds/{t}",
         "-fork=1", "-ignore_timeouts=1", f"-max_total_time={secs}", "-timeout=1", "-max_len=262144",
         "-rss_limit_mb=1024", "-malloc_limit_mb=256", "-print_final_stats=1", f"-artifact_prefix=artifacts/{t}/"],
        stdout=out, stderr=subprocess.STDOUT).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(int(r.ru_utime + r.ru_stime), rc)
PY
) || true
        rc=${out#* }
        cpu=${out% *}
        # Fork mode prints "#N: cov: C ft: F corp: ... exec/s: E oom/timeout/crash: O/T/C time: S" lines.
        execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
        local c
        c=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
        [ -n "$c" ] && cov=$c
        cpu_total=$((cpu_total + ${cpu:-0}))
        execs_total=$((execs_total + ${execs:-0}))
        slices=$((slices + 1))
        logs="$logs $log"
        # A crash or an out-of-memory stops the target: its input is in fuzz/artifacts/TARGET. Exit 70 is libFuzzer's
        # for "timeouts were seen" (fork mode reports them even when ignored): those are judged by the replay below.
        [ "$rc" = "0" ] || [ "$rc" = "70" ] || break
        # A slice that used no CPU (the binary failed to start) would loop for ever.
        [ "${cpu:-0}" -gt 0 ] || break
    done
    end=$(date +%s)
    local hangs=0 spurious=0 a
    # slow-unit-* are inputs libFuzzer saw take over 10 s of wall time (-report_slow_units): judged the same way.
    # The judge is the CPU time of a replay alone (the kernel's accounting, as for the budget), not its wall time: a
    # replay at the fuzzers' low priority beside a build can wait seconds for the CPU. Over one CPU second, or not
    # done in 60 s of wall time, is a hang.
    for a in fuzz/artifacts/"$t"/timeout-* fuzz/artifacts/"$t"/slow-unit-*; do
        [ -e "$a" ] || continue
        if python3 -c 'import resource, subprocess, sys
try:
    subprocess.run(sys.argv[1:4], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
except subprocess.TimeoutExpired:
    sys.exit(1)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.exit(0 if r.ru_utime + r.ru_stime <= 1.0 else 1)' "$bin" -runs=1 "$a"; then
            spurious=$((spurious + 1)); mkdir -p "fuzz/artifacts/$t/spurious"; mv "$a" "fuzz/artifacts/$t/spurious/"
        else
            hangs=$((hangs + 1))
        fi
    done
    local found
    found=$(find "fuzz/artifacts/$t" -maxdepth 1 -type f | wc -l)
    printf '%s\texecs=%s\tcpu_seconds=%s\twall_seconds=%s\tslices=%s\tcov=%s\tcorpus=%s\tartifacts=%s\thangs=%s\tspurious_timeouts=%s\texit=%s\tlogs=%s\n' \
        "$t" "$execs_total" "$cpu_total" "$((end - start))" "$slices" "${cov:-?}" "$(ls "fuzz/corpus/$t" | wc -l)" "$found" "$hangs" "$spurious" "$rc" "${logs# }"
}
export -f run_one
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c "run_one {} $SECONDS_PER_TARGET"
