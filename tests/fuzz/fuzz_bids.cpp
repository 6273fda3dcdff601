// libFuzzer harness: the BIDS-EMG sidecar parsers (pipeline/bids.hpp). The input is read both as
// a *_emg.json and as a *_channels.tsv; a table that parses is turned into a montage for a
// recording with its channel names (every row, then all but the last), and the montage paired.
// Documented failure: std::invalid_argument (and std::runtime_error from the rate check) with a
// one-line message.
#include "pipeline/bids.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bids = semg::pipeline::bids;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto sidecar = bids::parse_emg_json(text, "fuzz_emg.json");
        if (sidecar.sampling_frequency_hz)
            FUZZ_CHECK(*sidecar.sampling_frequency_hz > 0.0);
        if (sidecar.power_line_hz)
            FUZZ_CHECK(*sidecar.power_line_hz > 0.0);
        semg::acquisition::SourceInfo info;
        info.sample_rate_hz = 2048.0;
        bids::check_sampling_frequency(sidecar, "fuzz_emg.json", info, "fuzz_emg.bdf");
    } catch (const std::invalid_argument&) {
    } catch (const std::runtime_error&) {
    }
    std::vector<bids::ChannelRow> rows;
    try {
        rows = bids::parse_channels_tsv(text, "fuzz_channels.tsv");
    } catch (const std::invalid_argument&) {
        return 0;
    }
    for (const bool all : {true, false}) {
        semg::acquisition::SourceInfo info;
        info.sample_rate_hz = 2048.0;
        for (std::size_t i = 0; i < rows.size() - (all || rows.empty() ? 0 : 1); ++i)
            info.channels.push_back({rows[i].name, {}, {}, {}});
        try {
            std::vector<std::string> notices;
            const auto montage =
                bids::montage_from_channels(rows, "fuzz_channels.tsv", info, notices);
            FUZZ_CHECK(montage.channels.size() == info.channels.size());
            for (const auto& pair : semg::pipeline::bilateral_pairs(montage))
                FUZZ_CHECK(pair.left < info.channels.size() && pair.right < info.channels.size());
        } catch (const std::invalid_argument&) {
        }
    }
    return 0;
}
