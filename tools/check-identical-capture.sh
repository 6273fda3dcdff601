#!/usr/bin/env bash
# Byte-identity check of `semg capture` for refactors (issue #16), the companion of
# tools/check-identical.sh (which covers simulate and analyze). Each case streams the same seeded
# simulation with `semg simulate --serial` over a socat pty pair into `semg capture`, once with
# each build, and compares raw.bdf, epochs.csv, pairs.csv, summary.json, report.html and the
# capture's messages (stdout and stderr).
#
#   tools/check-identical-capture.sh BEFORE/semg AFTER/semg [WORK_DIR]
#
# Both builds capture into the same paths (the pty links and the output folder are reused, the
# results moved aside afterwards), so paths are equal and need no masking. The simulator is the
# BEFORE build in both runs, so only the capture differs. What legitimately differs per run and
# is masked, nothing else:
#   raw.bdf       header bytes 168-183 (start date and time, dd.mm.yyhh.mm.ss) and the
#                 "Startdate DD-MMM-YYYY" word of the recording field (bytes 88-167): the clock.
#   summary.json  input.sha256 (the hash of raw.bdf, whose header holds the clock), and in
#   report.html   `acquisition`: longest_silence_s and the p50/p99/max of epoch_latency_ms,
#                 processing_latency_ms and queue_latency_ms (host timing). The `epochs` count of
#                 epoch_latency_ms is not masked.
#   stdout        the p50 and p99 of the line "latency of an epoch's result after its last
#                 sample: p50 X ms, p99 Y ms", and X of "longest wait for a frame: X s" (host
#                 timing).
#   stderr, summary.json, report.html: the seconds of "no frame for X s" (the stall case's
#                 messages and stop_reason: host timing).
#   Nothing else (the cases use --live none: the live view shows latencies).
# Exit 0 when everything is identical; 1 with the differing files listed otherwise.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 BEFORE_SEMG AFTER_SEMG [WORK_DIR]" >&2
  exit 2
fi
command -v socat >/dev/null || { echo "$0: needs socat" >&2; exit 2; }
before=$(realpath "$1")
after=$(realpath "$2")
work=$(realpath -m "${3:-$(mktemp -d /tmp/semg-identical-capture.XXXXXX)}")
mkdir -p "$work"

# name|protocol|simulate options|capture options. Each simulation lasts exactly the capture's
# --duration-s (rest, holds, rest), so the capture reads every byte and stops at the frame limit
# on the last frame; "stall" ends early instead (the pty stays open: the stall timeout), and
# "gone" too, with the pty pair closed 0.5 s after the simulator's end (device gone, reconnection
# tried for 1 s). Speed 4: the live
# lane (16 epochs, emptied every 100 ms) never drops at 8 epochs/s, so its drop count is
# compared too.
cases=(
  "semg|semg|--pairs 2 --rest-s 1 --hold-s 10 --seed 21|--duration-s 12"
  "faults|semg|--pairs 2 --rest-s 1 --hold-s 10 --seed 22 --corrupt-rate 0.01 --drop-rate 0.01 --fault-seed 5|--duration-s 12"
  "mains-hp|semg|--pairs 1 --rest-s 1 --hold-s 8 --mains 50 --mains-uv 40 --seed 23|--duration-s 10 --ecg highpass --mains 50"
  "cyton|cyton|--pairs 4 --rest-s 1 --hold-s 12 --seed 24|--duration-s 14"
  "daisy|cyton-daisy|--pairs 8 --rest-s 1 --hold-s 12 --seed 25|--duration-s 14"
  "openeeg|openeeg|--pairs 3 --rest-s 1 --hold-s 10 --seed 26|--duration-s 12"
  "ascii|ascii|--pairs 1 --fs 1000 --rest-s 1 --hold-s 8 --seed 27|--duration-s 10 --fs 1000"
  "cyclic|semg|--pairs 2 --hold-s 6 --rest-s 2 --contraction-count 3 --seed 28|--duration-s 26"
  "ecg|semg|--pairs 2 --rest-s 1 --hold-s 10 --ecg-ratio 1.5 --seed 29|--duration-s 12"
  "short|semg|--pairs 1 --rest-s 0.5 --hold-s 2 --seed 30|--duration-s 3 --epoch-s 4"
  "stall|semg|--pairs 1 --rest-s 1 --hold-s 6 --seed 31|--duration-s 20"
  "gone|semg|--pairs 1 --rest-s 1 --hold-s 6 --seed 32|--duration-s 20 --reconnect-s 1"
)

socat_pid=
cleanup() { [ -n "$socat_pid" ] && kill "$socat_pid" 2>/dev/null || true; }
trap cleanup EXIT

start_pty() {
  rm -f "$work/dev-A" "$work/dev-B"
  socat pty,raw,echo=0,link="$work/dev-A" pty,raw,echo=0,link="$work/dev-B" 2>/dev/null &
  socat_pid=$!
  for _ in $(seq 100); do
    [ -e "$work/dev-A" ] && [ -e "$work/dev-B" ] && return 0
    sleep 0.05
  done
  echo "$0: socat made no pty pair" >&2
  exit 2
}
stop_pty() {
  kill "$socat_pid" 2>/dev/null || true
  wait "$socat_pid" 2>/dev/null || true
  socat_pid=
}

# The masks above, in place on a copy of a run's files.
mask() {  # mask DIR
  /usr/bin/python3 - "$1" <<'EOF'
import pathlib, re, sys
d = pathlib.Path(sys.argv[1])
raw = d / "raw.bdf"
if raw.exists():
    b = bytearray(raw.read_bytes())
    b[168:184] = b"<start date+time"
    rec = bytes(b[88:168])
    rec = re.sub(rb"Startdate \d\d-[A-Z]{3}-\d{4}", b"Startdate <date     >", rec)
    b[88:168] = rec
    raw.write_bytes(bytes(b))
num = r'-?[0-9.eE+-]+|null'
def mask_text(t):
    t = re.sub(r'("sha256"\s*:\s*)"[0-9a-f]{64}"', r'\1"<sha256>"', t)
    t = re.sub(r'("longest_silence_s"\s*:\s*)(' + num + ')', r'\1"<masked>"', t)
    for k in ("epoch_latency_ms", "processing_latency_ms", "queue_latency_ms"):
        def inner(m):
            return re.sub(r'("(?:p50|p99|max)"\s*:\s*)(' + num + ')', r'\1"<masked>"', m.group(0))
        t = re.sub(r'"' + k + r'"\s*:\s*\{[^{}]*\}', inner, t)
    return t
for name in ("summary.json", "report.html"):
    f = d / name
    if f.exists():
        f.write_text(mask_text(f.read_text()))
for name in ("stderr.txt", "summary.json", "report.html"):
    f = d / name
    if f.exists():
        f.write_text(re.sub(r"no frame for [0-9.]+ s", "no frame for <masked> s", f.read_text()))
f = d / "stdout.txt"
if f.exists():
    f.write_text(re.sub(r"(after its last sample: p50 )[0-9.]+( ms, p99 )[0-9.]+( ms)",
                        r"\1<masked>\2<masked>\3", f.read_text()))
    f.write_text(re.sub(r"longest wait for a frame: [0-9.]+ s", "longest wait for a frame: <masked> s",
                        f.read_text()))
EOF
}

status=0
for entry in "${cases[@]}"; do
  IFS='|' read -r name protocol sim_opts cap_opts <<<"$entry"
  # shellcheck disable=SC2086  # the options are word lists on purpose
  labels=$("$before" simulate --print-labels --protocol "$protocol" $sim_opts | head -1)
  for side in before after; do
    bin=$before
    [ $side = after ] && bin=$after
    run="$work/run"
    rm -rf "$run" "$work/$side/$name"
    mkdir -p "$work/$side"
    start_pty
    label_opts=()
    [ "$protocol" != ascii ] && label_opts=(--labels "$labels")
    # shellcheck disable=SC2086
    "$bin" capture --port "$work/dev-B" --protocol "$protocol" "${label_opts[@]}" $cap_opts \
      --live none --out "$run" >"$work/stdout.txt" 2>"$work/stderr.txt" &
    cap_pid=$!
    sleep 0.3
    # shellcheck disable=SC2086
    "$before" simulate --serial "$work/dev-A" --protocol "$protocol" $sim_opts --speed 4 -q \
      >"$work/simulate.txt" 2>&1 &
    sim_pid=$!
    if [ "$name" = gone ]; then
      wait "$sim_pid" || true
      sleep 0.5
      stop_pty
    fi
    cap_rc=0
    wait "$cap_pid" || cap_rc=$?
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    stop_pty
    mkdir -p "$run"
    mv "$work/stdout.txt" "$run/stdout.txt"
    mv "$work/stderr.txt" "$run/stderr.txt"
    echo "$cap_rc" >"$run/exit_code.txt"
    mv "$run" "$work/$side/$name"
    mkdir -p "$work/masked/$side"
    rm -rf "$work/masked/$side/$name"
    cp -r "$work/$side/$name" "$work/masked/$side/$name"
    mask "$work/masked/$side/$name"
  done
  if ! diff -rq "$work/masked/before/$name" "$work/masked/after/$name" >"$work/diff.txt" 2>&1; then
    echo "DIFFERENT: capture $name" >&2
    sed 's/^/  /' "$work/diff.txt" >&2
    status=1
  else
    echo "identical: capture $name ($(ls "$work/after/$name" | tr '\n' ' '))"
  fi
done

if [ $status = 0 ]; then
  echo "identical: ${#cases[@]} captures ($work)"
fi
exit $status
