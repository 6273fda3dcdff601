#!/usr/bin/env bash
# Byte-identity check for refactors (issue #16): the same inputs through two `semg` builds must
# give the same bytes. Simulates 10 varied recordings with each build (the simulator's output
# itself is compared), analyses each recording and the bundled datasets/sorensen-sim.bdf with
# each build, simulates the scenario files (docs/simulator.md's example, tests/fuzz/corpus/
# scenario) and streams with --serial into a pty (socat) in every protocol, and compares every
# output file and byte.
#
#   tools/check-identical.sh BEFORE/semg AFTER/semg [WORK_DIR]
#
# Typical use: build main into build-before (git worktree or stash), then
#   tools/check-identical.sh build-before/tools/semg build/tools/semg
# Exit 0 when everything is identical; 1 with the differing files listed otherwise. `semg capture`
# has its own script: tools/check-identical-capture.sh.
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

# Scenario files: the example of docs/simulator.md and the fuzz seeds, as given and with options
# on top (an error must be the same error).
mkdir -p "$work/scenarios"
sed -n '/^## Scenario files (TOML)/,$p' "$root/docs/simulator.md" |
  sed -n '/^```toml$/,/^```$/p' | sed '1d;$d' >"$work/scenarios/docs_example.toml"
cp "$root"/tests/fuzz/corpus/scenario/*.toml "$work/scenarios/"
scenarios=0
for file in "$work"/scenarios/*.toml; do
  name=$(basename "$file" .toml)
  for side in before after; do
    bin=$before
    [ $side = after ] && bin=$after
    mkdir -p "$work/$side/scenario"
    out="$work/$side/scenario/$name"
    { "$bin" simulate --scenario "$file" -q "$out.bdf" && echo "exit 0" || echo "exit $?"; } \
      >"$out.log" 2>&1
    { "$bin" simulate --scenario "$file" --hold-s 12 --pairs 1 --ecg-ratio 0.3 -q "$out-over.csv" &&
      echo "exit 0" || echo "exit $?"; } >>"$out.log" 2>&1
    sed -i "s|$work/$side/|WORK/|g" "$out.log"
  done
  scenarios=$((scenarios + 1))
done
compare "$work/before/scenario" "$work/after/scenario" "simulate --scenario"

# --serial: what each protocol sends to a pseudo-terminal at full speed, faults included.
serial_cases=(
  "semg|--protocol semg --hold-s 4 --rest-s 1 --ecg-ratio 0.5 --mains 50"
  "semg-faults|--protocol semg --hold-s 4 --rest-s 1 --corrupt-rate 0.02 --drop-rate 0.02"
  "ascii|--protocol ascii --hold-s 3 --rest-s 1 --pairs 2"
  "cyton|--protocol cyton --no-wait --hold-s 4 --rest-s 1"
  "cyton-daisy|--protocol cyton-daisy --no-wait --hold-s 4 --rest-s 1 --pairs 8"
  "openeeg|--protocol openeeg --hold-s 4 --rest-s 1 --pairs 3 --clip 1:2"
  "scenario|--protocol semg --scenario $work/scenarios/docs_example.toml --hold-s 10"
)
serial=0
if command -v socat >/dev/null; then
  for entry in "${serial_cases[@]}"; do
    IFS='|' read -r name opts <<<"$entry"
    for side in before after; do
      bin=$before
      [ $side = after ] && bin=$after
      mkdir -p "$work/$side/serial"
      dev="$work/$side/$name.pty"
      socat -u "PTY,link=$dev,raw,echo=0" "CREATE:$work/$side/serial/$name.bytes" &
      socat_pid=$!
      for _ in $(seq 50); do [ -e "$dev" ] && break; sleep 0.1; done
      # shellcheck disable=SC2086
      { "$bin" simulate --serial "$dev" --speed 0 $opts -q && echo "exit 0" || echo "exit $?"; } \
        >"$work/$side/serial/$name.log" 2>&1
      sed -i "s|$work/$side/|WORK/|g" "$work/$side/serial/$name.log"
      sleep 1 # socat drains the pty
      kill "$socat_pid" 2>/dev/null
      wait "$socat_pid" 2>/dev/null || true
    done
    serial=$((serial + 1))
  done
  compare "$work/before/serial" "$work/after/serial" "simulate --serial"
else
  echo "check-identical: socat is absent: --serial not compared" >&2
fi

if [ $status = 0 ]; then
  echo "identical: 10 simulations, their analyses and the bundled recording, $scenarios scenario" \
    "files, $serial --serial streams ($work)"
fi
exit $status
