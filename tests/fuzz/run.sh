#!/usr/bin/env bash
# Runs the libFuzzer harnesses of a fuzz build (docs/testing.md) for a bounded time each and
# prints one line per harness: executions, rate, corpus, findings. Exit status 1 when any
# harness found something (a crash, a sanitizer report, an undocumented exception, a violated
# invariant, a timeout or running out of memory), unless the finding is listed in
# tests/fuzz/known-findings.txt (a known bug being fixed elsewhere: reported, not failed). Leaks
# in a library's own error path are suppressed by tests/fuzz/lsan.supp.
#
#   tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_HARNESS [HARNESS...]]
#   env FUZZ_JOBS=2 harnesses at once; FUZZ_WORK=BUILD_DIR/fuzz-work for corpora, logs,
#   artifacts (crashing inputs are saved there as <harness>-crash-<sha1>, reproduce with
#   BUILD_DIR/tests/fuzz/<harness> FILE).
#
# Each harness starts from its committed seed corpus (tests/fuzz/corpus/<format>) plus what
# earlier runs in FUZZ_WORK found, with tests/fuzz/dict/<format>.dict where there is one;
# nothing is written to the source tree.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: $0 BUILD_DIR [SECONDS_PER_HARNESS [HARNESS...]]}"
seconds="${2:-60}"
shift $(($# >= 2 ? 2 : 1))
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] ||
  harnesses=(fuzz_edf fuzz_csv fuzz_openbci fuzz_opensignals_txt fuzz_opensignals_h5 fuzz_wfdb fuzz_mat fuzz_montage fuzz_scenario fuzz_bids fuzz_cohort fuzz_cyton fuzz_ascii fuzz_openeeg fuzz_semg)
jobs="${FUZZ_JOBS:-2}"
work="${FUZZ_WORK:-$build/fuzz-work}"
bin="$build/tests/fuzz"
for h in "${harnesses[@]}"; do
  if [ ! -x "$bin/$h" ]; then
    echo "fuzz: $bin/$h is missing (configure with --preset fuzz, build the target fuzzers)" >&2
    exit 2
  fi
done
mkdir -p "$work/logs" "$work/artifacts"
# Leaks inside a library's error path that semg cannot reach (each one documented there).
export LSAN_OPTIONS="suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

run_one() {
  local h="$1" corpus="$work/corpus/$1"
  mkdir -p "$corpus"
  cp -n "$here/corpus/${h#fuzz_}"/* "$corpus/" 2>/dev/null
  local dict=()
  [ -f "$here/dict/${h#fuzz_}.dict" ] && dict=(-dict="$here/dict/${h#fuzz_}.dict")
  # -timeout: an input taking 25 s is a hang (a finding); -rss_limit_mb also caps one malloc.
  local unwind="" asan="${ASAN_OPTIONS:-}" malloc_limit=2048
  case "$h" in
  fuzz_mat | fuzz_opensignals_h5)
    # Into libhdf5. Whole stacks: the frame-pointer walk skips the library's frames, which
    # lsan.supp names (the other harnesses keep the fast walk, 2-3x more executions). And
    # libhdf5 allocates what an object header claims before it reads it (171 GB for 1 kB,
    # seed regress_root_header_171gb.h5), which no check short of parsing all of HDF5 prevents:
    # as in production, an allocation the machine cannot give returns NULL and libhdf5 says the
    # file is unreadable (tests/tools/test_bad_input.cpp, h5_damaged_root_header). Memory that is
    # used (RSS over 2 GB) stays a finding, as do crashes, leaks and sanitizer reports.
    unwind=":fast_unwind_on_malloc=0"
    asan="allocator_may_return_null=1${asan:+:$asan}"
    malloc_limit=1048576
    ;;
  esac
  ASAN_OPTIONS="$asan" LSAN_OPTIONS="$LSAN_OPTIONS$unwind" "$bin/$h" -max_total_time="$seconds" \
    -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb="$malloc_limit" -print_final_stats=1 \
    "${dict[@]}" -artifact_prefix="$work/artifacts/$h-" "$corpus" >"$work/logs/$h.log" 2>&1
  echo $? >"$work/logs/$h.rc"
}

for h in "${harnesses[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  run_one "$h" &
done
wait

status=0
total=0
printf '%-14s %12s %9s %8s  %s\n' harness executions exec/s corpus result
for h in "${harnesses[@]}"; do
  log="$work/logs/$h.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  # A crash ends the run before the final stats: take the last status line instead.
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  corpus=$(find "$work/corpus/$h" -type f | wc -l)
  total=$((total + ${execs:-0}))
  if [ "$(cat "$work/logs/$h.rc")" = 0 ]; then
    result="no finding"
  else
    what=$(grep -m1 -E '^SUMMARY:|fuzz invariant violated|ERROR: libFuzzer' "$log")
    known=""
    while read -r kh pattern; do
      [ "$kh" = "$h" ] && grep -qE -- "$pattern" "$log" && known="$pattern"
    done < <(grep -v '^#' "$here/known-findings.txt" | grep .)
    if [ -n "$known" ]; then
      result="KNOWN finding (known-findings.txt: $known): $what"
    else
      result="FINDING: $what"
      status=1
    fi
    result="$result; input: $(sed -n 's/.*Test unit written to //p' "$log" | tail -1); log: $log"
  fi
  printf '%-14s %12s %9s %8s  %s\n' "$h" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done
echo "fuzz: $total executions in all, $seconds s per harness, $jobs at a time"
exit $status
