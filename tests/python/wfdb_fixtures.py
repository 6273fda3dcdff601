#!/usr/bin/python3
"""WFDB fixtures for tests/acquisition/test_wfdb.cpp, written with numpy independently of the
reader under test (acquisition/wfdb_source.cpp).

  wfdb_fixtures.py fixtures OUT_DIR
      Small records in every format the reader decodes (16, 61, 80, 212 with an odd number of
      signals, 24, 32), samples from sample(s, i) below, with the header's checksum and initial
      value computed here. The test computes the same formula.
  wfdb_fixtures.py csv HEADER OUT_CSV
      A PhysioNet format-16 record (int16 little-endian, read with numpy.fromfile) as a CSV of
      time_s and one <description>_uV column per signal: (d - baseline) / gain in µV, printed
      exactly (10000 adu/mV is 0.1 µV a step). The CSV route the native reader must equal.
"""
import sys
from pathlib import Path

import numpy as np

N = 1000  # samples per signal


def sample(s, i, bits):
    """Deterministic codes covering the format's range except its invalid (most negative) code."""
    span = (1 << bits) - 1
    return (i * (97 + 13 * s) + 31 * s + (i * i) % 7) % span - ((1 << (bits - 1)) - 1)


def checksum(values):
    v = int(np.sum(np.asarray(values, dtype=np.int64))) & 0xFFFF
    return v - 0x10000 if v >= 0x8000 else v


def pack(fmt, codes):
    """Codes (frame-major, interleaved) to the bytes of a format."""
    c = np.asarray(codes, dtype=np.int64)
    if fmt == 16:
        return c.astype("<i2").tobytes()
    if fmt == 61:
        return c.astype(">i2").tobytes()
    if fmt == 80:
        return (c + 128).astype(np.uint8).tobytes()
    if fmt == 24:
        u = (c & 0xFFFFFF).astype(np.uint32)
        return np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    if fmt == 32:
        return c.astype("<i4").tobytes()
    if fmt == 212:
        u = (c & 0xFFF).astype(np.uint32)
        if len(u) % 2:
            u = np.append(u, 0)
        a, b = u[0::2], u[1::2]
        return np.stack([a & 0xFF, ((a >> 8) & 0x0F) | ((b >> 4) & 0xF0), b & 0xFF], axis=1).astype(np.uint8).tobytes()
    raise ValueError(fmt)


BITS = {16: 16, 61: 16, 80: 8, 24: 24, 32: 32, 212: 12}
# name: (format, signals as (gain spec, ADC zero, description))
RECORDS = {
    "f16": (16, [("200(10)/mV", 0, "ES L3 L"), ("1000/uV", 0, "ES L3 R")]),
    "f61": (61, [("50/mv", 0, "big endian")]),
    "f80": (80, [("2/uV", 0, "eight bit")]),
    "f212": (212, [("400(-7)/mV", -7, "A"), ("200/MV", 0, "B"), ("0/mV", 0, "C")]),
    "f24": (24, [("8388.608/mV", 0, "twenty four")]),
    "f32": (32, [("1e6/V", 5, "thirty two a"), ("2147.483648/mV", 0, "thirty two b")]),
}


def fixtures(out):
    out.mkdir(parents=True, exist_ok=True)
    for name, (fmt, signals) in RECORDS.items():
        bits = BITS[fmt]
        codes = [[sample(s, i, bits) for i in range(N)] for s in range(len(signals))]
        frames = np.array(codes, dtype=np.int64).T.reshape(-1)
        (out / f"{name}.dat").write_bytes(pack(fmt, frames))
        lines = [f"# fixture {name} written by wfdb_fixtures.py", f"{name} {len(signals)} 1000 {N} 12:30:00 01/02/2003"]
        for s, (gain, zero, desc) in enumerate(signals):
            lines.append(f"{name}.dat {fmt} {gain} {bits} {zero} {codes[s][0]} {checksum(codes[s])} 0 {desc}")
        (out / f"{name}.hea").write_text("\n".join(lines) + "\n")


def to_csv(header, out_csv):
    lines = [l for l in Path(header).read_text().splitlines() if l.strip() and not l.startswith("#")]
    name, nsig, fs, nsamp = lines[0].split()[:4]
    nsig, fs, nsamp = int(nsig), float(fs), int(nsamp)
    cols, names = [], []
    for line in lines[1 : 1 + nsig]:
        f = line.split(maxsplit=8)
        assert f[1] == "16", "this helper reads format 16 only"
        gain, units = f[2].split("/")
        baseline = int(f[4])
        if "(" in gain:
            gain, b = gain.rstrip(")").split("(")
            baseline = int(b)
        assert units.lower() == "mv"
        cols.append((float(gain), baseline))
        names.append(f[8] if len(f) > 8 else f"signal{len(names) + 1}")
    d = np.fromfile(Path(header).with_suffix(".dat"), dtype="<i2")[: nsamp * nsig].reshape(nsamp, nsig)
    with open(out_csv, "w") as out:
        out.write("time_s," + ",".join(f"{n}_uV" for n in names) + "\n")
        for i in range(nsamp):
            row = [f"{i / fs:.9f}"]
            for s, (gain, baseline) in enumerate(cols):
                # µV = (d - baseline) / gain * 1000: with gain 10000 an exact tenth.
                row.append(repr(float((int(d[i, s]) - baseline) * 1000 / gain)))
            out.write(",".join(row) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "fixtures":
        fixtures(Path(sys.argv[2]))
    elif sys.argv[1] == "csv":
        to_csv(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"usage: {sys.argv[0]} fixtures DIR | csv HEADER OUT_CSV")
