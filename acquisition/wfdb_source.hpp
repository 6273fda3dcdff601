// PhysioNet WFDB records: a text header (.hea) and binary signal files (.dat). Debian has no
// WFDB library, so this is a small reader of the single-segment records EMG databases use.
//
// Header (PhysioNet header(5)): '#' lines are comments, kept as notices. The record line is
//   NAME NSIG [FS[/COUNTER[(BASE)]] [NSAMP [BASE_TIME [BASE_DATE]]]]
// (FS defaults to 250 Hz, as in the WFDB library; NSAMP missing: from the file's length). Then
// one line per signal:
//   FILE FORMAT[xSPF][:SKEW][+OFFSET] [GAIN[(BASELINE)][/UNITS] [ADC_RES [ADC_ZERO [INIT
//   [CHECKSUM [BLOCK_SIZE [DESCRIPTION...]]]]]]]
// Formats 16 (int16 LE), 61 (int16 BE), 80 (8-bit offset binary), 212 (two 12-bit samples in 3
// bytes), 24 (int24 LE) and 32 (int32 LE); format 0 (a null signal) is skipped. Signals in one
// file are interleaved a frame at a time; signals may sit in several files. Not read: multi-
// segment records, more than one sample per frame, skew, difference formats (8, 310, 311, ...).
//
// Units: physical = (digital - BASELINE) / GAIN in UNITS; GAIN absent or 0 is the WFDB default
// of 200 per mV, BASELINE defaults to ADC_ZERO, UNITS to mV (case-insensitive: mV, mv, uV, µV,
// V, nV). Converted to µV. A signal whose units are not a voltage (mmHg, bpm) is skipped with
// its reason. WFDB's invalid-sample value (the most negative code of the format) is read as 0 µV
// with a warning counting them.
// Checks: the header's CHECKSUM (16-bit sum of the signal's samples) and INIT (first sample)
// are verified on a first pass over the data and a disagreement is a warning; a file shorter
// than NSAMP is read to its last complete frame with a warning. Streams: memory does not grow
// with the record's length.
#pragma once

#include "acquisition/source.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace semg::acquisition {

struct WfdbSignalSpec {
    std::string file_name;
    int format = 16;
    double gain_adu = 200.0; // ADC units per physical unit (0 or absent: 200)
    bool gain_given = false;
    std::int64_t baseline_adu = 0; // ADC value of 0 physical units
    std::string units = "mV";
    int adc_resolution_bits = 0; // 0: the format's width
    std::int64_t adc_zero = 0;
    std::optional<std::int64_t> initial_value;
    std::optional<std::int64_t> checksum;
    std::int64_t byte_offset = 0;
    std::string description;
    std::size_t line = 0; // in the header, for messages
};

struct WfdbHeader {
    std::string record_name;
    double sample_rate_hz = 250.0;
    bool rate_given = false;
    std::optional<std::uint64_t> samples; // per signal
    std::string base_time, base_date;
    std::vector<WfdbSignalSpec> signals;
    std::vector<std::string> comments;
};

// Parses a header's text; `name` (the file) and the line number prefix every message.
// Throws SourceError naming the line and the field.
WfdbHeader parse_wfdb_header(std::string_view text, const std::string& name);

// Bytes per group of samples of a format, and samples in that group (212: 3 bytes, 2 samples).
struct WfdbPacking {
    std::size_t bytes = 2, samples = 1;
};
// nullopt for a format this reader does not decode.
std::optional<WfdbPacking> wfdb_packing(int format);
// Decodes `count` consecutive samples of `format` from `bytes`, starting at a packing group's
// boundary; `bytes` must hold ceil(count / samples) groups. Pure: for tests and the fuzzer.
void decode_wfdb_samples(int format, const unsigned char* bytes, std::size_t count,
                         std::int32_t* out);
// The code WFDB writes for a missing sample in `format`.
std::int32_t wfdb_invalid_sample(int format);

// The header of a WFDB record given as its .hea, or as a .dat with a .hea beside it; nullopt
// when `path` is neither.
std::optional<std::filesystem::path> wfdb_header_for(const std::filesystem::path& path);

class WfdbSource final : public Source {
public:
    explicit WfdbSource(const std::filesystem::path& header_path); // throws SourceError
    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;

private:
    // One signal file and the signals interleaved in it.
    struct Group {
        std::filesystem::path path;
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{nullptr, &std::fclose};
        int format = 16;
        WfdbPacking packing;
        std::size_t signals = 0;  // interleaved per frame
        std::int64_t offset = 0;  // byte offset of sample 0
        std::uint64_t frames = 0; // complete frames in the file
    };
    struct Channel {              // a signal that is read
        std::size_t group, index; // index within the group's frame
        double scale_uv, baseline_adu;
    };
    // Decodes `frames` frames of group g from its current position into samples_ (frame-major).
    void load(Group& g, std::size_t frames);
    void rewind();

    std::filesystem::path path_;
    SourceInfo info_;
    std::vector<Group> groups_;
    std::vector<Channel> channels_;
    std::uint64_t frames_ = 0;
    std::uint64_t position_ = 0;
    std::vector<std::vector<std::int32_t>> samples_; // per group, a block's frames decoded
    std::vector<unsigned char> bytes_;
};

} // namespace semg::acquisition
