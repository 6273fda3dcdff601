#!/usr/bin/python3
"""The numpy/scipy side of bench/analyze_vs_scipy.py: the same steps as `semg analyze`,
vectorised over channels and epochs. Usage: scipy_analyze.py INPUT.bdf EPOCHS.csv"""
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "python"))
import semg_reference as ref  # noqa: E402

data, fs, labels = ref.read_bdf(sys.argv[1])
r = ref.analyse(data.astype(np.float32), fs)
t_mid = r["t_start_s"] + 0.5
with open(sys.argv[2], "w") as out:
    out.write("t_start_s,t_end_s,channel,rms_uv,arv_uv,mdf_hz,mnf_hz,total_power_uv2\n")
    for c, label in enumerate(labels):
        block = np.column_stack([r["t_start_s"], r["t_end_s"], r["rms_uv"][c], r["arv_uv"][c],
                                 r["mdf_hz"][c], r["mnf_hz"][c], r["total_power_uv2"][c]])
        for row in block:
            out.write(f"{row[0]:.6f},{row[1]:.6f},{label},{row[2]:.7g},{row[3]:.7g},{row[4]:.7g},"
                      f"{row[5]:.7g},{row[6]:.7g}\n")
        np.polyfit(t_mid, r["mdf_hz"][c], 1, full=True)
