#!/usr/bin/python3
"""Times `semg analyze` against a vectorised numpy/scipy script doing the same steps, in one run.

The recording is a 16-channel 2048 Hz BDF+ made by `semg simulate` (8 bilateral pairs, one
hold). Both programs read it, band-pass it (causal Butterworth SOS), cut 1 s
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

HERE = pathlib.Path(__file__).resolve().parent


def make_recording(semg, path, minutes):
    """A 16-channel (8 pairs) 2048 Hz BDF+ from the simulator: one hold filling the recording
    with a slow fatigue rate, so the spectrum stays physiological for an hour."""
    hold_s = minutes * 60 - 10
    subprocess.run([semg, "simulate", "-q", str(path), "--pairs", "8", "--fs", "2048", "--rest-s", "5",
                    "--hold-s", f"{hold_s:g}", "--fatigue-pct-per-s", "0.01"], check=True)


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
    ap.add_argument("--scipy-max-minutes", type=float, default=10.0,
                    help="longer recordings are run by semg only (scipy needs ~11 GB for 60 min)")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for minutes in a.minutes:
            bdf = tmp / f"rec_{minutes:g}min.bdf"
            make_recording(a.semg, bdf, minutes)
            semg = min(run_measured([a.semg, "analyze", "-q", str(bdf), "--out", str(tmp / "semg_out")])
                       for _ in range(a.repeat))
            scipy = None
            if minutes <= a.scipy_max_minutes:
                scipy = min(run_measured(["/usr/bin/python3", str(HERE / "scipy_analyze.py"), str(bdf),
                                          str(tmp / "scipy_epochs.csv")]) for _ in range(a.repeat))
            rows.append((minutes, bdf.stat().st_size / 2**20, semg, scipy))
    print(f"{'minutes':>7} {'file_MiB':>8} {'semg_s':>7} {'semg_MiB':>8} {'scipy_s':>7} {'scipy_MiB':>9} {'speed-up':>8}")
    for minutes, size, (s_t, s_m), scipy in rows:
        if scipy is None:
            print(f"{minutes:>7g} {size:>8.1f} {s_t:>7.2f} {s_m:>8.1f} {'-':>7} {'-':>9} {'-':>8}")
        else:
            p_t, p_m = scipy
            print(f"{minutes:>7g} {size:>8.1f} {s_t:>7.2f} {s_m:>8.1f} {p_t:>7.2f} {p_m:>9.1f} {p_t / s_t:>7.1f}x")
    if len(rows) > 1:
        base = rows[0][2][1]
        for minutes, _, (_, s_m), _ in rows[1:]:
            print(f"semg peak memory at {minutes:g} min is {100 * (s_m / base - 1):+.1f} % of {rows[0][0]:g} min")


if __name__ == "__main__":
    main()
