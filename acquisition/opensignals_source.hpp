// PLUX OpenSignals recordings (biosignalsplux, bioplux, BITalino, ...): the channels whose sensor
// is EMG, converted from ADC counts to µV with the device's EMG transfer function.
//
// Text (.txt): '#' header lines, "# OpenSignals Text File Format[. Version 1]", "# {json}",
// "# EndOfHeader", then one row per sample, fields separated by tabs. The JSON holds one object
// per device (key: its MAC address) with "sampling rate", "device", "column" (the device's
// fields in the row: "nSeq", digital "DI"/"I1".., then the channel labels), "label", "sensor"
// and "resolution" (one per channel). Devices' columns follow one another in "position" order.
// HDF5 (.h5, through Debian's libhdf5): one group per device "/<MAC>" with attributes "sampling
// rate", "resolution", "device", "channels"; "/<MAC>/raw/channel_N" (N x 1 unsigned counts) with
// attributes "label" and "sensor"; "/<MAC>/raw/nSeq". "digital/", "events/", "support/" (the
// viewer's zoom levels) and "plugin/" are not read.
//
// Transfer function (PLUX EMG sensor datasheet; biosignalsnotebooks conversion.raw_to_phy):
// EMG_mV = (ADC / 2^n - 0.5) * VCC_mV / G_EMG, n the channel's resolution in bits:
//   bioplux, bioplux_exp, biosignalsplux, channeller, rachimeter, swifter, ddme_openbanplux:
//     VCC = 3000 mV, G = 1000 (range +-1.5 mV);
//   bitalino: VCC = 3300 mV, G = 1008; bitalino_rev, bitalino_riot: VCC = 3300 mV, G = 1009.
// Another device name gets the biosignalsplux function with a warning. A count outside 0..2^n-1
// is an error (a resolution that does not fit the data).
// Rate: the device's "sampling rate"; EMG channels of a device at another rate than the first
// device with EMG, and every channel whose sensor is not EMG, are skipped with a notice.
// nSeq: a step that is not +1 or its wrap to 0 is reported as lost samples (SequenceGaps, a
// warning); the samples are read as continuous.
#pragma once

#include "acquisition/source.hpp"
#include "acquisition/text_lines.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace semg::acquisition {

struct PluxEmgTransfer {
    double vcc_mv = 3000.0;
    double gain = 1000.0;
    bool known = true; // the device is in the table above
};
PluxEmgTransfer plux_emg_transfer(std::string_view device);
bool plux_is_emg(std::string_view sensor); // "EMG", "emg", "EMG1"...
// The first sample's date and time from a device's "date" ("2017-5-30") and "time"
// ("16:5:52.345") as SourceInfo::start_time ("2017-05-30T16:05:52.345"); nullopt when either is
// not of that form.
std::optional<std::string> plux_start_time(std::string_view date, std::string_view time);

// One EMG channel's scaling: µV = counts * scale_uv + offset_uv; range and step for ChannelInfo.
struct PluxScale {
    double scale_uv = 0.0, offset_uv = 0.0;
    double max_count = 0.0; // 2^n - 1
    static PluxScale make(const PluxEmgTransfer& transfer, int resolution_bits);
    ChannelInfo channel(std::string label) const;
};

class OpenSignalsTextSource final : public Source {
public:
    explicit OpenSignalsTextSource(const std::filesystem::path& path); // throws SourceError
    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;
    static bool recognises(std::string_view head); // "# OpenSignals"

private:
    void parse_header(std::string_view json, std::size_t line);
    void scan();
    bool split(std::string_view line);                          // false for a blank line
    double count(std::size_t field, std::size_t channel) const; // checked, of EMG channel `channel`
    [[noreturn]] void fail(const std::string& what) const;

    std::filesystem::path path_;
    TextLines lines_;
    TextLines::Mark data_;
    std::size_t fields_per_row_ = 0;
    std::vector<std::size_t> emg_fields_;       // field of each EMG channel
    std::vector<PluxScale> scales_;             // of each EMG channel
    std::vector<std::size_t> sequence_fields_;  // nSeq of each device
    std::vector<std::string> sequence_devices_; // for messages
    std::vector<std::string_view> fields_;
    std::uint64_t remaining_ = 0;
    SourceInfo info_;
};

class OpenSignalsH5Source final : public Source {
public:
    explicit OpenSignalsH5Source(const std::filesystem::path& path); // throws SourceError
    ~OpenSignalsH5Source() override;
    OpenSignalsH5Source(const OpenSignalsH5Source&) = delete;
    OpenSignalsH5Source& operator=(const OpenSignalsH5Source&) = delete;
    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;
    static bool recognises(std::string_view head); // the HDF5 signature at offset 0

private:
    struct Channel {
        std::string dataset;  // full path, for messages
        std::int64_t id = -1; // hid_t of the open dataset
        PluxScale scale;
    };
    std::filesystem::path path_;
    std::int64_t file_ = -1; // hid_t
    std::vector<Channel> channels_;
    std::uint64_t position_ = 0;
    std::vector<double> buffer_;
    SourceInfo info_;
};

} // namespace semg::acquisition
