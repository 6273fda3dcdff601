#!/usr/bin/python3
"""Measurement, not a test: adds 50 or 60 Hz mains (fundamental, 3rd 0.3, 5th 0.1) at 1 and 2 x the EMG
column's RMS to a real CSV recording (../shared/datasets) and prints `semg analyze` (defaults) on each,
against the old handling (no notch, +-1 Hz bins, flagged epochs kept).
Usage: bench/real_mains.py SEMG CSV COLUMN OUTDIR"""
import csv, json, math, subprocess, sys, pathlib
semg, src, col, out = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3], pathlib.Path(sys.argv[4])
rows = list(csv.reader(open(src)))
head, data = rows[0], rows[1:]
ci = head.index(col)
# Mains is a pure tone on the device's sample clock: time from the sample index and the mean rate
# (the Delsys export rounds its timestamps unevenly).
t0 = [float(r[0]) for r in data]
fs = (len(t0) - 1) / (t0[-1] - t0[0])
t = [i / fs for i in range(len(t0))]
x = [float(r[ci]) for r in data]
m = sum(x) / len(x)
rms = math.sqrt(sum((v - m) ** 2 for v in x) / len(x))
def fit(path, extra=()):
    o = out / (path.stem + ("-old" if extra else "") + ".semg")
    subprocess.run([semg, "analyze", "-q", str(path), "--select", col, "--out", str(o), *extra],
                   check=True, capture_output=True)
    s = json.load(open(o / "summary.json"))
    c = s["contractions"][0]["channels"][0]
    mdf = c["mdf"] or {}
    return mdf.get("initial_hz"), mdf.get("slope_hz_per_s"), c.get("flagged_epochs"), c.get("epochs")
print(f"{src.name}: column {col}, RMS {rms:.4g}")
print("  %-22s %10s %12s %10s" % ("case", "IMF_Hz", "slope_Hz/s", "flagged"))
base = fit(src)
print("  %-22s %10.2f %12.4f %7s/%s" % ("as recorded", base[0], base[1], base[2], base[3]))
for f0 in (50.0, 60.0):
    for k in (1.0, 2.0):
        a = k * rms / math.sqrt((1 + 0.09 + 0.01) / 2)
        p = out / f"{src.stem}_m{int(f0)}_{k:g}.csv"
        with open(p, "w", newline="") as fh:
            w = csv.writer(fh); w.writerow(head)
            for r, ti in zip(data, t):
                v = float(r[ci]) + a * (math.sin(2*math.pi*f0*ti) + 0.3*math.sin(2*math.pi*3*f0*ti + 1) + 0.1*math.sin(2*math.pi*5*f0*ti + 2))
                rr = list(r); rr[ci] = repr(v); w.writerow(rr)
        r = fit(p)
        old = fit(p, ("--mains-notch-hz", "0", "--mains-exclude-hz", "1", "--keep-flagged"))
        num = lambda v, f: "withheld" if v is None else format(v, f)  # a fit too few epochs allow
        print("  %-22s %10s %12s %7s/%s   (no notch, ±1 Hz bins, flagged kept: IMF %s, slope %s)" %
              (f"{int(f0)} Hz at {k:g}x EMG RMS", num(r[0], ".2f"), num(r[1], ".4f"), r[2], r[3],
               num(old[0], ".2f"), num(old[1], ".4f")))
