"""Independent reference for semg's analysis, written with numpy/scipy (Debian's python3-scipy).

Same settings as semg's defaults: causal 4th-order Butterworth band-pass (scipy.signal.butter,
sosfilt), 1 s epochs with 50 % overlap, Welch PSD (Hann, 0.25 s segments, 50 % overlap,
constant detrend, density scaling), MDF where the cumulative band power reaches half, each bin's power spread
evenly over its width. Also a minimal BDF writer/reader (24-bit), independent of EDFlib.
"""
import numpy as np
from scipy import signal


def write_bdf(path, data_uv, fs, labels, phys_range_uv=100000.0):
    """data_uv: channels x samples float array; fs integer; one-second data records."""
    data_uv = np.asarray(data_uv, dtype=np.float64)
    ns, n = data_uv.shape
    fs = int(fs)
    records = n // fs
    dig_min, dig_max = -8388608, 8388607
    pmin, pmax = -phys_range_uv, phys_range_uv
    scale = (dig_max - dig_min) / (pmax - pmin)
    digital = np.clip(np.round((data_uv[:, : records * fs] - pmin) * scale) + dig_min, dig_min, dig_max)
    digital = digital.astype(np.int64)

    def field(text, width):
        b = str(text).encode("ascii")
        assert len(b) <= width
        return b + b" " * (width - len(b))

    hdr = b"\xffBIOSEMI" + field("X X X X", 80) + field("Startdate X X X X", 80)
    hdr += field("01.01.26", 8) + field("00.00.00", 8) + field(256 * (ns + 1), 8)
    hdr += field("24BIT", 44) + field(records, 8) + field(1, 8) + field(ns, 4)
    hdr += b"".join(field(l, 16) for l in labels)
    hdr += b"".join(field("AgAgCl electrode", 80) for _ in labels)
    hdr += b"".join(field("uV", 8) for _ in labels)
    hdr += b"".join(field(f"{pmin:g}", 8) for _ in labels)
    hdr += b"".join(field(f"{pmax:g}", 8) for _ in labels)
    hdr += b"".join(field(dig_min, 8) for _ in labels)
    hdr += b"".join(field(dig_max, 8) for _ in labels)
    hdr += b"".join(field("", 80) for _ in labels)
    hdr += b"".join(field(fs, 8) for _ in labels)
    hdr += b"".join(field("", 32) for _ in labels)
    # Records: for each record, each signal's fs samples, 3 bytes little-endian.
    d = digital.reshape(ns, records, fs).transpose(1, 0, 2).reshape(-1) & 0xFFFFFF
    raw = np.stack([d & 0xFF, (d >> 8) & 0xFF, (d >> 16) & 0xFF], axis=1).astype(np.uint8)
    with open(path, "wb") as f:
        f.write(hdr)
        f.write(raw.tobytes())
    return (digital.astype(np.float64) - dig_min) / scale + pmin  # what a reader gets back


def read_bdf(path):
    """Returns (data_uv channels x samples, fs, labels) of a BDF/BDF+ file's equal-rate signals."""
    with open(path, "rb") as f:
        head = f.read(256)
        ns = int(head[252:256])
        records = int(head[236:244])
        duration = float(head[244:252])
        sig = f.read(256 * ns)
        data = np.frombuffer(f.read(), dtype=np.uint8)

    def col(offset, width):
        return [sig[offset + i * width: offset + (i + 1) * width].decode("latin1").strip() for i in range(ns)]

    labels = col(0, 16)
    o = 16 * ns + 80 * ns
    dims = col(o, 8); o += 8 * ns
    pmin = np.array(col(o, 8), float); o += 8 * ns
    pmax = np.array(col(o, 8), float); o += 8 * ns
    dmin = np.array(col(o, 8), float); o += 8 * ns
    dmax = np.array(col(o, 8), float); o += 8 * ns
    o += 80 * ns
    spr = np.array(col(o, 8), int)
    rec_bytes = 3 * spr.sum()
    data = data[: records * rec_bytes].reshape(records, rec_bytes)
    out, start = [], 0
    keep = [i for i in range(ns) if labels[i] != "BDF Annotations"]
    fs = spr[keep[0]] / duration
    for i in range(ns):
        chunk = data[:, 3 * start: 3 * (start + spr[i])].reshape(records, spr[i], 3).astype(np.int32)
        start += spr[i]
        if i not in keep:
            continue
        v = chunk[..., 0] | (chunk[..., 1] << 8) | (chunk[..., 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v).reshape(-1).astype(np.float64)
        unit = {"uV": 1.0, "mV": 1e3, "V": 1e6}.get(dims[i], 1.0)
        out.append(((v - dmin[i]) * (pmax[i] - pmin[i]) / (dmax[i] - dmin[i]) + pmin[i]) * unit)
    return np.array(out), fs, [labels[i] for i in keep]


def analyse(x_uv, fs, band=(20.0, 450.0), order=4, epoch_s=1.0, overlap=0.5, segment_s=0.25):
    """x_uv: channels x samples. Returns dict of arrays (channels x epochs)."""
    x_uv = np.atleast_2d(np.asarray(x_uv, dtype=np.float64))
    high = min(band[1], 0.45 * fs)
    sos = signal.butter(order, [band[0], high], btype="bandpass", fs=fs, output="sos")
    y = signal.sosfilt(sos, x_uv, axis=1).astype(np.float32).astype(np.float64)
    n_epoch = int(round(epoch_s * fs))
    hop = int(round(n_epoch * (1 - overlap)))
    count = (y.shape[1] - n_epoch) // hop + 1
    idx = np.arange(count)[:, None] * hop + np.arange(n_epoch)[None, :]
    epochs = y[:, idx]  # channels x epochs x samples
    nperseg = min(int(round(segment_s * fs)), n_epoch)
    f, p = signal.welch(epochs, fs=fs, window="hann", nperseg=nperseg, noverlap=nperseg // 2,
                        detrend="constant", scaling="density", axis=-1)
    inband = (f >= band[0]) & (f <= high) & (f > 0)
    fb, pb = f[inband], p[..., inband]
    total = pb.sum(-1)
    cum = np.cumsum(pb, -1)
    half = total[..., None] / 2
    j = np.argmax(cum >= half, axis=-1)
    prev_cum = np.take_along_axis(np.concatenate([np.zeros(cum.shape[:-1] + (1,)), cum], -1), j[..., None], -1)[..., 0]
    pj = np.take_along_axis(pb, j[..., None], -1)[..., 0]
    df = f[1] - f[0]
    mdf = fb[j] - df / 2 + (half[..., 0] - prev_cum) / pj * df
    mnf = (pb * fb).sum(-1) / total
    rms = np.sqrt((epochs ** 2).mean(-1))
    t_start = np.arange(count) * hop / fs
    return {"t_start_s": t_start, "t_end_s": t_start + n_epoch / fs, "mdf_hz": mdf, "mnf_hz": mnf,
            "rms_uv": rms, "arv_uv": np.abs(epochs).mean(-1), "total_power_uv2": total * (f[1] - f[0])}
