#!/usr/bin/env bash
# Cohort throughput (issue 14; docs/cohort.md): N simulated recordings of 16 channels x 2048 Hz x
# 3 min (8 bilateral pairs, one 170 s hold declining 0.25 %/s), analysed with `semg analyze DIR --out R --jobs 1`
# and `--jobs 2`. Prints recordings/min for each, the ratio, and the peak resident memory of
# the process (GNU time); then the whole cohort through the vectorised numpy/scipy script
# (bench/scipy_analyze.py, the same steps) one file at a time, as a lab script would run it.
# Not a test: the figures depend on the machine and its load.
# Between the two, two independent `--jobs 1` processes on half the cohort each: what the machine
# itself gives two workers (its ceiling for the --jobs 2 ratio).
#   bench/cohort_bench.sh BUILD_DIR [N=120] [WORK=BUILD_DIR/cohort-bench]
# SEMG_BENCH_SKIP_SCIPY=1 leaves out the scipy run (about 5 minutes).
set -euo pipefail
build="${1:?usage: $0 BUILD_DIR [N] [WORK]}"
n="${2:-120}"
work="${3:-$build/cohort-bench}"
# The session log (docs/history.md) of the benchmark runs: beside its results.
export SEMG_DB="$work/sessions.sqlite"
semg="$build/tools/semg"
data="$work/data-$n"
if [ ! -f "$data/complete" ]; then
  rm -rf "$data"
  for ((i = 0; i < n; i++)); do
    folder="$data/sub-$(printf %03d $((i / 3 + 1)))/ses-$((i % 3 + 1))"
    mkdir -p "$folder"
    "$semg" simulate "$folder/hold.bdf" --fs 2048 --pairs 8 --hold-s 170 --rest-s 5 --fatigue-pct-per-s 0.25 --seed $((i + 1)) -q
  done
  touch "$data/complete"
fi
declare -A seconds
for jobs in 1 2; do
  out="$work/results-$n-j$jobs"
  rm -rf "$out"
  /usr/bin/time -f "%e %M %U %S" -o "$work/time-j$jobs" \
    "$semg" analyze "$data" --out "$out" --pattern '{subject}/{session}/{task}.bdf' --jobs "$jobs" -q || true
  read -r s kb user sys < "$work/time-j$jobs"
  seconds[$jobs]=$s
  awk -v n="$n" -v s="$s" -v kb="$kb" -v j="$jobs" -v cpu="$(awk -v u="$user" -v y="$sys" 'BEGIN { print u + y }')" \
    'BEGIN { printf "--jobs %d: %d recordings in %.1f s = %.1f recordings/min, peak RSS %.0f MB, CPU %.1f s (%.2f cores busy)\n", j, n, s, 60 * n / s, kb / 1024, cpu, cpu / s }'
done
cmp -s "$work/results-$n-j1/fits.csv" "$work/results-$n-j2/fits.csv" && echo "tables: identical" || echo "tables: DIFFER"
awk -v a="${seconds[1]}" -v b="${seconds[2]}" 'BEGIN { printf "speed-up --jobs 2 / --jobs 1: %.2fx\n", a / b }'
# The machine's own ceiling: two independent `--jobs 1` processes, each on half of the cohort
# (two manifests), at the same time. Nothing is shared between them but the cores, caches, memory
# and disk: if they are no faster than one `--jobs 2` process, the limit is the machine, not semg.
printf 'path\n' | tee "$work/half-0.tsv" > "$work/half-1.tsv"
i=0
for f in $(find "$data" -name '*.bdf' | sort); do
  echo "$f" >> "$work/half-$((i % 2)).tsv"
  i=$((i + 1))
done
rm -rf "$work/results-half-0" "$work/results-half-1"
start=$(date +%s.%N)
for h in 0 1; do
  "$semg" analyze "@$work/half-$h.tsv" --out "$work/results-half-$h" --jobs 1 -q &
done
wait
end=$(date +%s.%N)
awk -v n="$n" -v s="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" -v a="${seconds[1]}" \
  'BEGIN { printf "two independent --jobs 1 processes, half each: %.1f s = %.1f recordings/min, %.2fx --jobs 1 (the machine'"'"'s ceiling)\n", s, 60 * n / s, a / s }'
if [ "${SEMG_BENCH_SKIP_SCIPY:-0}" = 1 ]; then exit 0; fi
here="$(cd "$(dirname "$0")" && pwd)"
start=$(date +%s.%N)
for f in $(find "$data" -name '*.bdf' | sort); do
  /usr/bin/python3 "$here/scipy_analyze.py" "$f" "$work/scipy-epochs.csv"
done
end=$(date +%s.%N)
awk -v n="$n" -v s="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" -v a="${seconds[1]}" -v b="${seconds[2]}" \
  'BEGIN { printf "scipy one file at a time: %.1f s = %.1f recordings/min (semg --jobs 1 %.1fx, --jobs 2 %.1fx faster)\n", s, 60 * n / s, s / a, s / b }'
