#!/usr/bin/python3
"""Cross-check of `semg analyze` against an independent numpy/scipy computation.

1. The real biceps fatigue recording (../shared/datasets/bsnb-biceps-fatigue/emg_fatigue.csv):
   per-epoch MDF and MNF within 0.5 Hz and RMS within 1 %, and a negative MDF slope.
2. A multichannel BDF written here by numpy (not EDFlib) with known, different spectra.
Part 2 needs nothing from ../shared/datasets and always runs; part 1 is skipped, with a message,
when the recording is absent.
"""
import argparse
import csv
import json
import pathlib
import subprocess
import sys

import numpy as np
from scipy import signal

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import semg_reference as ref  # noqa: E402

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(("PASS " if ok else "FAIL ") + name + (": " + detail if detail else ""))


def read_epochs(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["channel"], []).append(r)
    return rows


def compare(name, semg_rows, reference, c):
    n = len(reference["mdf_hz"][c])
    check(f"{name}: epoch count", len(semg_rows) == n, f"semg {len(semg_rows)}, scipy {n}")
    n = min(n, len(semg_rows))
    for key, tol, rel in [("mdf_hz", 0.5, False), ("mnf_hz", 0.5, False), ("rms_uv", 0.01, True),
                          ("arv_uv", 0.01, True)]:
        ours = np.array([float(r[key]) for r in semg_rows[:n]])
        theirs = reference[key][c][:n]
        err = np.abs(ours - theirs) / (np.abs(theirs) if rel else 1.0)
        worst = int(np.argmax(err))
        check(f"{name}: {key} within {tol}{' relative' if rel else ' Hz'}", bool(np.all(err <= tol)),
              f"worst epoch {worst}: semg {ours[worst]:.4f}, scipy {theirs[worst]:.4f}")
    t = np.array([float(r["t_start_s"]) for r in semg_rows[:n]])
    check(f"{name}: epoch start times", bool(np.allclose(t, reference["t_start_s"][:n], atol=1e-6)))


def run_semg(exe, args):
    # The scipy reference is a plain band-pass + Welch: no ECG removal, no mains exclusion
    # (both on by default in semg analyze, docs/quality.md).
    p = subprocess.run([exe, "analyze", "-q", "--ecg", "off", "--mains", "off", *args], capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr)
    return p.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--semg", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    work = pathlib.Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    fatigue = pathlib.Path(a.shared) / "bsnb-biceps-fatigue" / "emg_fatigue.csv"
    if fatigue.exists():
        check_fatigue_recording(a.semg, work, fatigue)
    else:
        print(f"SKIP part 1: {fatigue} not found (../shared/datasets is present in CI only)")
    check_multichannel_bdf(a.semg, work)

    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


def check_fatigue_recording(exe, work, fatigue):
    """1. Real biceps fatigue recording."""
    out = work / "fatigue.semg"
    rc = run_semg(exe, [str(fatigue), "--select", "emg_mV", "--contractions", "whole", "--out", str(out)])
    check("semg analyze emg_fatigue.csv exits 0", rc == 0)
    data = np.loadtxt(fatigue, delimiter=",", skiprows=1)
    x_uv = (data[:, 2] * 1000.0).astype(np.float32).astype(np.float64)
    reference = ref.analyse(x_uv, 1000.0)
    compare("emg_fatigue", read_epochs(out / "epochs.csv")["emg_mV"], reference, 0)
    summary = json.loads((out / "summary.json").read_text())
    slope = summary["channels"][0]["mdf"]["slope_hz_per_s"]
    t_mid = reference["t_start_s"] + 0.5
    # The rest rule (docs/quality.md), written here from its definition: an epoch without other
    # flags is rest when its RMS is below 2x the lowest and 0.1x the highest RMS so far of such
    # epochs, itself included. The other flags (one epoch here, the band-pass start) are taken
    # from epochs.csv.
    quality = [row for row in csv.DictReader(open(out / "epochs.csv")) if row["channel"] == "emg_mV"]
    rms = reference["rms_uv"][0]
    rest, low, high = [], np.inf, 0.0
    for k, row in enumerate(quality):
        other = [f for f in row["quality"].split("|") if f not in ("ok", "rest")]
        if other:
            rest.append(False)
            continue
        low, high = min(low, rms[k]), max(high, rms[k])
        rest.append(bool(rms[k] < 2 * low and rms[k] < 0.1 * high))
    check("emg_fatigue: the closing rest (~6 s) is rest by the rule", 9 <= sum(rest) <= 13, f"{sum(rest)} epochs")
    check("emg_fatigue: semg flags rest where the rule does",
          [("rest" in row["quality"]) for row in quality] == rest)
    keep = np.array([row["quality"] == "ok" for row in quality])
    ref_slope = np.polyfit(t_mid[keep], reference["mdf_hz"][0][keep], 1)[0]
    check("emg_fatigue: MDF slope is negative", slope < 0, f"{slope:.4f} Hz/s")
    check("emg_fatigue: MDF slope matches numpy polyfit", abs(slope - ref_slope) < 0.005,
          f"semg {slope:.5f}, numpy {ref_slope:.5f} Hz/s")


def check_multichannel_bdf(exe, work):
    """2. Multichannel BDF with known spectra, written by numpy."""
    fs, seconds = 2048, 40
    rng = np.random.default_rng(42)
    labels = ["ES L3 L", "ES L3 R", "MF L5 L", "MF L5 R"]
    x = []
    for lo, hi, amp in [(40, 120, 80.0), (60, 160, 50.0), (30, 250, 120.0), (80, 300, 20.0)]:
        sos = signal.butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos")
        x.append(amp * signal.sosfilt(sos, rng.standard_normal(fs * seconds)) * 3)
    bdf = work / "four_channels.bdf"
    stored = ref.write_bdf(bdf, np.array(x), fs, labels)
    out = work / "four_channels.semg"
    rc = run_semg(exe, [str(bdf), "--contractions", "whole", "--out", str(out)])
    check("semg analyze four_channels.bdf exits 0", rc == 0)
    back, fs_back, labels_back = ref.read_bdf(bdf)
    check("numpy BDF reader reads what it wrote", np.allclose(back, stored) and labels_back == labels)
    reference = ref.analyse(stored.astype(np.float32).astype(np.float64), fs)
    rows = read_epochs(out / "epochs.csv")
    for c, label in enumerate(labels):
        compare(f"bdf {label}", rows.get(label, []), reference, c)


if __name__ == "__main__":
    sys.exit(main())
