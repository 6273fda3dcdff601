// libFuzzer harness for one serial protocol parser, chosen at build time by SEMG_FUZZ_PROTOCOL
// ("cyton" also runs "cyton-daisy"; "ascii", "openeeg", "semg"). The input is the byte stream.
//
// Parsers never throw on data (protocol.hpp), so nothing is caught: any exception is a finding.
// Beyond memory errors, each input checks the stream contract of protocol.hpp:
// - frame indices count up from 0, a gap starts at the next index and covers >= 1 frame,
//   every frame has the same width, every sample is finite;
// - the counters agree with what the sink saw and with the byte count;
// - chunk invariance and reset(): the same bytes fed again after reset(), in small chunks whose
//   sizes come from the input, give exactly the same frames, gaps and counters. (Each input
//   starts after a reset() of the parser the previous input used.)
#include "acquisition/protocols/cyton.hpp"
#include "acquisition/protocols/openeeg.hpp"
#include "acquisition/protocols/protocol.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using semg::acquisition::FrameSink;
using semg::acquisition::ParserCounters;

// Checks the FrameSink contract as events arrive and records them for the comparison.
struct RecordingSink final : FrameSink {
    void on_frame(std::uint64_t index, std::span<const float> uv) override {
        FUZZ_CHECK(index == next);
        if (frames == 0)
            width = uv.size();
        FUZZ_CHECK(uv.size() == width && width > 0);
        for (const float v : uv)
            FUZZ_CHECK(std::isfinite(v));
        events.push_back(index);
        samples.insert(samples.end(), uv.begin(), uv.end());
        next = index + 1;
        ++frames;
    }
    void on_gap(std::uint64_t at_frame, std::uint64_t missing) override {
        FUZZ_CHECK(at_frame == next && missing > 0);
        events.push_back(~at_frame); // gaps and frames in one sequence, told apart by the sign bit
        events.push_back(missing);
        next = at_frame + missing;
        lost += missing;
        ++gaps;
    }
    bool same_as(const RecordingSink& o) const {
        // Bit for bit: the same bytes must decode to the same floats, whatever the chunking.
        return events == o.events && samples.size() == o.samples.size() &&
               (samples.empty() ||
                std::memcmp(samples.data(), o.samples.data(), samples.size() * sizeof(float)) == 0);
    }

    std::vector<std::uint64_t> events;
    std::vector<float> samples;
    std::size_t width = 0;
    std::uint64_t next = 0, frames = 0, lost = 0, gaps = 0;
};

void check(const std::string& protocol, std::size_t min_bytes_per_frame,
           std::span<const std::uint8_t> bytes) {
    // One parser per protocol for the whole run, reset() before each input: construction
    // allocates the parser's buffers (256 KiB for SEMG frames), which would dominate the run.
    static std::map<std::string, std::unique_ptr<semg::acquisition::Parser>> parsers;
    auto& parser = parsers[protocol];
    if (!parser) {
        semg::acquisition::ProtocolConfig config;
        config.name = semg::acquisition::protocol_from_name(protocol);
        config.ascii.sample_rate_hz = 250.0; // the one setting without a default
        parser = semg::acquisition::make_parser(config);
    }
    parser->reset();

    RecordingSink whole;
    parser->feed(bytes, whole);
    const ParserCounters counters = parser->counters();
    FUZZ_CHECK(counters.bytes == bytes.size());
    FUZZ_CHECK(counters.frames == whole.frames);
    FUZZ_CHECK(counters.lost_samples == whole.lost);
    FUZZ_CHECK(counters.gaps == whole.gaps);
    FUZZ_CHECK(counters.frames * min_bytes_per_frame + counters.skipped_bytes <= counters.bytes);
    if (whole.frames > 0)
        FUZZ_CHECK(parser->channels() == whole.width);

    parser->reset();
    FUZZ_CHECK(parser->counters() == ParserCounters{});
    RecordingSink chunked;
    std::uint32_t state = static_cast<std::uint32_t>(bytes.size()) * 2654435761u + 1u;
    for (std::size_t at = 0; at < bytes.size();) {
        state = state * 1664525u + 1013904223u; // chunks of 1..64 bytes
        const std::size_t n = std::min<std::size_t>(1 + (state >> 26), bytes.size() - at);
        parser->feed(bytes.subspan(at, n), chunked);
        at += n;
    }
    FUZZ_CHECK(parser->counters() == counters);
    FUZZ_CHECK(chunked.same_as(whole));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    const std::string protocol = SEMG_FUZZ_PROTOCOL;
    if (protocol == "cyton") {
        check("cyton", semg::acquisition::cyton::packet_bytes, bytes);
        check("cyton-daisy", 2 * semg::acquisition::cyton::packet_bytes, bytes);
    } else if (protocol == "openeeg") {
        check("openeeg", semg::acquisition::openeeg::packet_bytes, bytes);
    } else {
        check(protocol, 2, bytes); // a line or packet of one frame is at least two bytes
    }
    return 0;
}
