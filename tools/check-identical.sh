#!/usr/bin/env bash
# Byte-identity check for refactors (issue #16): the same inputs through two `semg` builds must
# give the same bytes. Simulates 10 varied recordings with each build (the simulator's output
# itself is compared), analyses each recording and the bundled datasets/sorensen-sim.bdf with
# each build, and compares every output file.
#
#   tools/check-identical.sh BEFORE/semg AFTER/semg [WORK_DIR]
#
# Typical use: build main into build-before (git worktree or stash), then
#   tools/check-identical.sh build-before/tools/semg build/tools/semg
# Exit 0 when everything is identical; 1 with the differing files listed otherwise.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 BEFORE_SEMG AFTER_SEMG [WORK_DIR]" >&2
  exit 2
fi
before=$(realpath "$1")
after=$(realpath "$2")
work=${3:-$(mktemp -d /tmp/semg-identical.XXXXXX)}
# The session log of the newer build goes here, not into ~/.local/share (docs/history.md).
export SEMG_DB="$work/sessions.sqlite"
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"

# name|simulate options|analyze options: clean, mains, ECG, noise and wander, electrode faults,
# several contractions, a low-rate board, one pair at a high rate, CSV output, fixed fatigue.
cases=(
  "clean|--hold-s 20 --seed 3|"
  "mains50|--hold-s 20 --mains 50 --mains-uv 40 --seed 4|"
  "mains60|--hold-s 15 --mains 60 --fs 1000 --seed 5|--mains 60"
  "ecg|--hold-s 25 --ecg-ratio 1.5 --seed 6|"
  "noisy|--hold-s 20 --noise-snr-db 12 --wander-uv 30 --seed 7|"
  "faults|--hold-s 20 --flatline 1:8 --clip 2:10 --seed 8|"
  "cyclic|--hold-s 8 --rest-s 4 --contraction-count 4 --seed 9|"
  "lowrate|--hold-s 20 --fs 250 --pairs 2 --seed 10|"
  "onepair|--hold-s 20 --fs 4096 --pairs 1 --fatigue-pct-per-s 0.3 --imbalance 1.4 --seed 11|"
  "csv|--hold-s 15 --pairs 2 --ecg-ratio 0.8 --mains 50 --seed 12|--mains 50"
)

status=0
compare() {  # compare DIR_A DIR_B LABEL
  if ! diff -rq "$1" "$2" >"$work/diff.txt" 2>&1; then
    echo "DIFFERENT: $3" >&2
    sed 's/^/  /' "$work/diff.txt" >&2
    status=1
  fi
}

for entry in "${cases[@]}"; do
  IFS='|' read -r name sim_opts ana_opts <<<"$entry"
  ext=bdf
  [ "$name" = csv ] && ext=csv
  for side in before after; do
    bin=$before
    [ $side = after ] && bin=$after
    mkdir -p "$work/$side/sim"
    # shellcheck disable=SC2086  # the options are word lists on purpose
    "$bin" simulate $sim_opts -q "$work/$side/sim/$name.$ext"
  done
  compare "$work/before/sim" "$work/after/sim" "simulate $name"
  for side in before after; do
    bin=$before
    [ $side = after ] && bin=$after
    rm -rf "$work/$side/out-$name"
    # The analysis of the same input (the "before" simulation) by both builds.
    # shellcheck disable=SC2086
    "$bin" analyze "$work/before/sim/$name.$ext" $ana_opts --out "$work/$side/out-$name" -q || true
  done
  compare "$work/before/out-$name" "$work/after/out-$name" "analyze $name"
done

for side in before after; do
  bin=$before
  [ $side = after ] && bin=$after
  rm -rf "$work/$side/out-bundled"
  "$bin" analyze "$root/datasets/sorensen-sim.bdf" --out "$work/$side/out-bundled" -q
done
compare "$work/before/out-bundled" "$work/after/out-bundled" "analyze datasets/sorensen-sim.bdf"

if [ $status = 0 ]; then
  echo "identical: 10 simulations, their analyses and the bundled recording ($work)"
fi
exit $status
