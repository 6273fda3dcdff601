// One interface for file, serial and simulated sources: blocks of float µV out.
#pragma once

#include "dsp/block.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace semg::acquisition {

struct ChannelInfo {
    std::string label;
    // Physical range of the ADC in µV, where the format knows it (EDF/BDF). Used for clipping
    // flags.
    std::optional<double> physical_min_uv;
    std::optional<double> physical_max_uv;
    // One digital step in µV, where known.
    std::optional<double> resolution_uv;
};

struct Annotation {
    double onset_s = 0.0;
    double duration_s = -1.0; // < 0: no duration
    std::string text;
};

// A signal of the file that is not analysed, e.g. an accelerometer at another sample rate.
struct SkippedSignal {
    std::string label;
    double sample_rate_hz = 0.0;
    std::string reason;
};

struct SourceInfo {
    std::string format;          // "bdf+", "edf", "csv", ...
    double sample_rate_hz = 0.0; // the header is the single truth
    std::vector<ChannelInfo> channels;
    std::optional<std::uint64_t> total_frames; // known for files
    std::vector<Annotation> annotations;
    std::vector<std::string> notices; // things the user should hear about (skipped signals, ...)
    // Input read differently from what it says (a record count from the file's length, dropped
    // annotations, ...): shown as warnings.
    std::vector<std::string> warnings;
    std::vector<SkippedSignal> skipped;
    // Date and time of the first sample as the file states it, ISO 8601 local time without a
    // zone ("2000-01-01T00:00:00"); empty where the format has none.
    std::optional<std::string> start_time;

    dsp::StreamSpec spec() const { return {sample_rate_hz, channels.size()}; }
};

// A source failed: the message names the problem and the place (file, line, channel).
class SourceError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Source {
public:
    virtual ~Source() = default;
    virtual const SourceInfo& info() const = 0;
    // Fills up to out.frames frames of every channel; returns the frames written, 0 at the end.
    // Throws SourceError on malformed input.
    virtual std::size_t read(dsp::BlockRef out) = 0;
};

} // namespace semg::acquisition
