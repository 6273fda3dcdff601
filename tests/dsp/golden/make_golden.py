#!/usr/bin/python3
"""Golden data for tests/dsp from scipy (Debian's python3-scipy). Never edit the output by hand:
run `/usr/bin/python3 tests/dsp/golden/make_golden.py` to regenerate golden.json."""
import json
import pathlib

import numpy as np
from scipy import signal

out = {"butterworth": [], "psd": []}
for kind, order, edges, fs in [
    ("bandpass", 4, [20.0, 450.0], 2048.0),
    ("bandpass", 4, [20.0, 450.0], 1000.0),
    ("bandpass", 2, [10.0, 350.0], 4096.0),
    ("bandpass", 3, [20.0, 112.5], 250.0),
    ("highpass", 4, [30.0], 2048.0),
    ("highpass", 3, [30.0], 1000.0),
    ("lowpass", 5, [100.0], 1000.0),
]:
    wn = edges if len(edges) == 2 else edges[0]
    sos = signal.butter(order, wn, btype=kind, fs=fs, output="sos")
    freqs = np.linspace(1.0, fs / 2 - 1.0, 64)
    _, h = signal.sosfreqz(sos, worN=freqs, fs=fs)
    out["butterworth"].append({"kind": kind, "order": order, "edges_hz": edges, "fs_hz": fs,
                               "freqs_hz": freqs.tolist(), "magnitude": np.abs(h).tolist()})

# A fixed test signal, its sosfilt output and Welch/periodogram PSDs.
fs = 1000.0
t = np.arange(2000) / fs
x = (50 * np.sin(2 * np.pi * 73.3 * t) + 20 * np.sin(2 * np.pi * 211.0 * t)
     + 10 * np.cos(2 * np.pi * 5.0 * t)).astype(np.float32)
for method in ["welch", "periodogram"]:
    seg = x[:1000].astype(np.float64)
    if method == "welch":
        f, p = signal.welch(seg, fs=fs, window="hann", nperseg=250, noverlap=125,
                            detrend="constant", scaling="density")
    else:
        f, p = signal.periodogram(seg, fs=fs, window="hann", detrend="constant", scaling="density")
    out["psd"].append({"method": method, "fs_hz": fs, "segment_s": 0.25, "x": seg.tolist(),
                       "psd": p.tolist()})
sos = signal.butter(4, [20, 450], btype="bandpass", fs=fs, output="sos")
out["sosfilt"] = {"fs_hz": fs, "x": x.astype(np.float64).tolist(),
                  "y": signal.sosfilt(sos, x.astype(np.float64)).tolist()}

# Mains notches: scipy.signal.iirnotch (Q = f0 / bandwidth) coefficients.
out["notch"] = []
for f0, bw, fs in [(50.0, 1.0, 2048.0), (450.0, 1.0, 2048.0), (60.0, 2.0, 1000.0), (150.0, 0.5, 4096.0)]:
    b, a = signal.iirnotch(f0, f0 / bw, fs=fs)
    out["notch"].append({"f0_hz": f0, "bandwidth_hz": bw, "fs_hz": fs, "b": b.tolist(), "a": a.tolist()})

# Least-squares fatigue fits: scipy.stats.linregress and the Student t 97.5 % quantile.
from scipy import stats
fits = []
rng = np.random.default_rng(5)
for n, slope, intercept, noise in [(5, -0.2, 80.0, 1.0), (60, -0.05, 70.0, 3.0), (239, 0.3, 40.0, 0.5)]:
    x = np.arange(n) * 0.5 + 0.5
    y = intercept + slope * x + noise * rng.standard_normal(n)
    r = stats.linregress(x, y)
    t = stats.t.ppf(0.975, n - 2)
    fits.append({"x": x.tolist(), "y": y.tolist(), "slope": r.slope, "intercept": r.intercept,
                 "r2": r.rvalue ** 2, "ci95": [r.slope - t * r.stderr, r.slope + t * r.stderr]})
out["linear_fit"] = fits

path = pathlib.Path(__file__).with_name("golden.json")
path.write_text(json.dumps(out))
print("wrote", path)
