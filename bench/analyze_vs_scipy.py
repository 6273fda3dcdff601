#!/usr/bin/python3
"""Times `semg analyze` against a vectorised numpy/scipy script doing the same steps, in one run.

The recording is a 16-channel 2048 Hz BDF written by numpy (band-limited noise whose spectrum
compresses over time). Both programs read it, band-pass it (causal Butterworth SOS), cut 1 s
epochs with 50 % overlap, take Welch PSDs, compute MDF/MNF/RMS/ARV and fit MDF over time, and
write a per-epoch CSV. Wall time and peak resident memory of each process are printed, and the
ratio. `--minutes 10 60` also shows whether semg's memory grows with recording length.

    /usr/bin/python3 bench/analyze_vs_scipy.py --semg build/tools/semg --minutes 10 60
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from scipy import signal

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))
import semg_reference as ref  # noqa: E402


def make_recording(path, minutes, fs=2048, channels=16, seed=1):
    """Writes the BDF one minute at a time so the generator itself stays small."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * fs)
    sos = signal.butter(4, [40, 200], btype="bandpass", fs=fs, output="sos")
    x = np.empty((channels, n), dtype=np.float32)
    for c in range(channels):
        x[c] = (60.0 * signal.sosfilt(sos, rng.standard_normal(n))).astype(np.float32)
    sites = [("LT", "T12"), ("LT", "L1"), ("IL", "L2"), ("IL", "L3"), ("ES", "L3"), ("ES", "L4"),
             ("MF", "L4"), ("MF", "L5")]
    labels = [f"{sites[c // 2][0]} {sites[c // 2][1]} {'LR'[c % 2]}" for c in range(channels)]
    ref.write_bdf(path, x, fs, labels)


def run_measured(cmd):
    """Runs cmd under GNU time; returns (wall seconds, peak RSS MiB). (os.wait4's ru_maxrss would
    count the pages a child shares with this large Python process before exec.)"""
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {p.stderr}")
    wall, kib = p.stderr.strip().splitlines()[-1].split()
    return float(wall), float(kib) / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--semg", required=True)
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for minutes in a.minutes:
            bdf = tmp / f"rec_{minutes:g}min.bdf"
            make_recording(bdf, minutes)
            semg = min(run_measured([a.semg, "analyze", "-q", str(bdf), "--out", str(tmp / "semg_out")])
                       for _ in range(a.repeat))
            scipy = min(run_measured(["/usr/bin/python3", str(HERE / "scipy_analyze.py"), str(bdf),
                                      str(tmp / "scipy_epochs.csv")]) for _ in range(a.repeat))
            rows.append((minutes, bdf.stat().st_size / 2**20, semg, scipy))
    print(f"{'minutes':>7} {'file_MiB':>8} {'semg_s':>7} {'semg_MiB':>8} {'scipy_s':>7} {'scipy_MiB':>9} {'speed-up':>8}")
    for minutes, size, (s_t, s_m), (p_t, p_m) in rows:
        print(f"{minutes:>7g} {size:>8.1f} {s_t:>7.2f} {s_m:>8.1f} {p_t:>7.2f} {p_m:>9.1f} {p_t / s_t:>7.1f}x")
    if len(rows) > 1:
        base = rows[0][2][1]
        for minutes, _, (_, s_m), _ in rows[1:]:
            print(f"semg peak memory at {minutes:g} min is {100 * (s_m / base - 1):+.1f} % of {rows[0][0]:g} min")


if __name__ == "__main__":
    main()
