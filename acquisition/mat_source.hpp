// MATLAB .mat files (v4, v5 and v7.3/HDF5) through Debian's libmatio. Which variables are the
// data, the rate, the labels and the units (docs/formats.md):
//
// - Data: a real numeric 2-D matrix (double, single or integer; a vector is one channel). The
//   variable named Data, data, emg, EMG, signals or signal; else the only numeric matrix that is
//   not a rate, time, label or unit variable. Orientation: the dimension whose length equals
//   the number of labels holds the channels; without labels (or when both match), the longer
//   dimension is time.
// - Rate: a numeric variable named fs, Fs, FS, srate, sampling_rate, SampleRate, sample_rate,
//   sample_rate_hz, fs_hz or sampling_frequency (any case): one value for every channel, or one
//   per channel. None: --fs gives it; both: an error (the file is the truth).
// - Labels: channels, Channels, labels, channel_names (any case): a char matrix (one name per
//   row, padding trimmed) or a cell array of strings. None: ch1, ch2, ...
// - Units: units or unit: one string for all channels or one per channel (V, mV, uV, µV, nV;
//   another unit skips the channel). None: the Delsys export is in volts; otherwise a channel
//   whose RMS about its mean is below 0.01 is volts, else µV (the CSV reader's rule), and a
//   notice says which.
// - EMG channels: when some labels contain "EMG", the others (ACC, GYRO, ...) are skipped. With
//   rates per channel, the rate group with the most EMG channels is kept (ties: the faster) and
//   the others are listed as skipped, with the reason.
// - Delsys EMGworks / Delsys File Utility export (variables Data, Fs, Channels, Time): Data is
//   channels × samples in volts, Fs per channel, Channels a char matrix, and every row is padded
//   with zeros to the longest channel's length. The padding is cut: the kept channels end at
//   their last non-zero sample, or where their Time row stops increasing, whichever is first;
//   a notice says how much was cut. Time's first step is checked against Fs.
// When the data or the rate cannot be told, the error lists every variable (name, class, size).
// The data variable is read whole (at most max_data_bytes) into memory as float µV at open.
#pragma once

#include "acquisition/source.hpp"

#include <filesystem>
#include <optional>
#include <vector>

namespace semg::acquisition {

// True when the file starts with a MATLAB v5 or v7.3 header ("MATLAB 5.0 MAT-file" /
// "MATLAB 7.3 MAT-file"); v4 files have no header and are recognised by their .mat extension.
bool looks_like_mat(const std::filesystem::path& path);

class MatSource final : public Source {
public:
    struct Options {
        std::optional<double> sample_rate_hz; // for a file without a rate variable
    };
    // The largest data variable read into memory, in the file's class.
    static constexpr std::size_t max_data_bytes = std::size_t{1} << 30;

    MatSource(const std::filesystem::path& path, Options options); // throws SourceError
    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;

private:
    SourceInfo info_;
    std::vector<std::vector<float>> samples_uv_; // per kept channel
    std::size_t position_ = 0;
};

} // namespace semg::acquisition
