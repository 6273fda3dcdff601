#!/usr/bin/python3
"""MATLAB v5 fixtures for tests/acquisition/test_mat.cpp, written with scipy.io.savemat
(independently of libmatio, which the reader uses).

  mat_fixtures.py OUT_DIR

Samples are value(c, i) below; the test computes the same formula.
"""
import sys
from pathlib import Path

import numpy as np
import scipy.io

N = 2000


def value(c, i):
    """A few µV of two sines per channel, as a float64 in µV."""
    return 20.0 * np.sin(2 * np.pi * (60 + 10 * c) * i / 1000.0) + 5.0 * c


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    i = np.arange(N)
    emg = np.stack([value(c, i) for c in range(3)])  # channels x samples, µV

    # Generic: channels x samples in volts, no units variable (the RMS rule says volts), labels
    # as a cell array, rate as srate; compressed (MATLAB's default for v7).
    scipy.io.savemat(out / "generic_volts.mat",
                     {"data": emg * 1e-6, "srate": 1000.0,
                      "channels": np.array(["ES L3 L", "ES L3 R", "ES L4 L"], dtype=object)},
                     do_compression=True)
    # Generic: samples x channels in µV with a units variable and a char-matrix of labels; the
    # data named `recording` (the only matrix), rate as SampleRate, int16 data.
    scipy.io.savemat(out / "generic_int16.mat",
                     {"recording": np.round(emg.T).astype(np.int16), "SampleRate": np.array([[1000]]),
                      "labels": np.array(["a", "b", "c"]), "units": "uV"})
    # Single channel as a row vector with units mV per channel and no labels.
    scipy.io.savemat(out / "one_channel.mat", {"emg": emg[:1] * 1e-3, "fs": 1000.0, "units": np.array(["mV"], dtype=object)})

    # Delsys File Utility layout: Data channels x samples in volts, Fs per channel, Channels as
    # a char matrix, Time per channel; rows zero-padded to the longest channel.
    rates = np.array([[2000.0], [1000.0], [1000.0], [100.0], [1000.0]])
    labels = ["Fast: EMG 1", "Left: EMG 2", "Right: EMG 3", "Left: ACC.X 2", "Other: EMG 4"]
    n_real = [2 * N, N, N, N // 10, N]
    data = np.zeros((5, 2 * N))
    time = np.zeros((5, 2 * N))
    for c in range(5):
        data[c, : n_real[c]] = value(c, np.arange(n_real[c])) * 1e-6
        time[c, :] = np.arange(2 * N) / rates[c, 0]  # runs on past the data, as Delsys' does
    data[2, N - 5 : N] = 0.0  # a channel may end in true zeros: the others say where the end is
    scipy.io.savemat(out / "delsys.mat", {"Data": data, "Fs": rates, "Channels": np.array(labels), "Time": time})

    # Cannot tell: two matrices, none named as data, no rate.
    scipy.io.savemat(out / "ambiguous.mat", {"a": emg, "b": emg, "note": "x"})
    # Complex data.
    scipy.io.savemat(out / "complex.mat", {"data": emg + 1j, "fs": 1000.0})
    # Square data without labels.
    scipy.io.savemat(out / "square.mat", {"data": np.zeros((4, 4)), "fs": 1000.0})
    # Labels that fit no dimension; rates per channel of the wrong count; a non-voltage unit.
    scipy.io.savemat(out / "bad_labels.mat", {"data": emg, "fs": 1000.0, "labels": np.array(["a", "b"], dtype=object)})
    scipy.io.savemat(out / "bad_rates.mat", {"data": emg, "fs": np.array([1000.0, 2000.0])})
    scipy.io.savemat(out / "units_g.mat", {"data": emg, "fs": 1000.0, "units": np.array(["uV", "g", "uV"], dtype=object)})
    scipy.io.savemat(out / "nan.mat", {"data": np.where(i == 7, np.nan, emg), "fs": 1000.0})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
