// Serial protocol parsers: bytes in, frames of float µV out.
//
// One shape for every device protocol (OpenBCI Cyton, ASCII lines, OpenEEG P2, the project's
// own SEMG frame). A parser is pure: it owns no port, no clock and no thread. It is fed byte
// chunks of any size and calls a FrameSink once per decoded frame (one sample instant of every
// channel) and once per gap in the device's sample counter.
//
// Guarantees shared by every parser:
// - feed() never throws on any input and allocates nothing: buffers are sized at construction
//   (ASCII: once more, when the first data line names the channels). Exceptions thrown by the
//   sink itself propagate; sinks should not throw.
// - Chunk invariance: the frames, gaps and counters depend on the byte stream only, never on
//   how it was split into feed() calls. A parser waits for the bytes it needs before deciding.
// - Frame indices count frames since the first decoded frame (index 0), lost frames included:
//   time of a frame = index / sample_rate_hz(). Time comes from the device counter, never from
//   the host clock. A gap is reported before the frame that reveals it, as
//   on_gap(index of the first missing frame, number of missing frames).
// - Counters only grow (until reset()); sum of on_gap() counts == counters().lost_samples.
#pragma once

#include "acquisition/protocols/protocol_id.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace semg::acquisition {

// Health of a byte stream. Every field counts events since construction or reset().
struct ParserCounters {
    std::uint64_t bytes = 0;             // bytes fed
    std::uint64_t frames = 0;            // frames delivered to the sink
    std::uint64_t sync_losses = 0;       // times the parser lost packet alignment and had to hunt
    std::uint64_t skipped_bytes = 0;     // bytes thrown away while hunting for a packet start
    std::uint64_t bad_checksums = 0;     // packets rejected by a CRC (SEMG frame only)
    std::uint64_t bad_lines = 0;         // ASCII lines malformed, of the wrong width, or too long
    std::uint64_t lost_samples = 0;      // frames missing according to the device sample counter
    std::uint64_t gaps = 0;              // gap events (each covers one or more lost frames)
    std::uint64_t counter_resets = 0;    // counter went backwards: device restarted (SEMG)
    std::uint64_t format_mismatches = 0; // packets whose channel count or rate differ, or with
                                         // float32 samples that are not finite (SEMG)

    bool operator==(const ParserCounters&) const = default;
};

// Receives the decoded stream. Called from inside Parser::feed(), on the caller's thread.
class FrameSink {
public:
    virtual ~FrameSink() = default;
    // One sample of every channel, µV. The span is valid only during the call.
    virtual void on_frame(std::uint64_t index, std::span<const float> samples_uv) = 0;
    // `missing` frames are lost, starting at frame index `at_frame`.
    virtual void on_gap(std::uint64_t at_frame, std::uint64_t missing) = 0;
};

class Parser {
public:
    virtual ~Parser() = default;
    virtual std::string_view name() const noexcept = 0;
    // Decodes as much as possible; keeps an incomplete tail for the next call.
    virtual void feed(std::span<const std::uint8_t> bytes, FrameSink& sink) = 0;
    // Forgets partial data, alignment, counters and learnt format (e.g. after reconnecting).
    virtual void reset() noexcept = 0;
    virtual const ParserCounters& counters() const noexcept = 0;
    // Channels per frame; 0 while the stream has not told yet (ASCII, SEMG frame).
    virtual std::size_t channels() const noexcept = 0;
    // 0 while the stream has not told yet (SEMG frame).
    virtual double sample_rate_hz() const noexcept = 0;
    // Channel names where the stream gives them (ASCII header or labels), else "ch1".."chN".
    virtual std::vector<std::string> channel_labels() const;
};

// ---- configuration -------------------------------------------------------------------------

struct CytonConfig {
    double gain = 24.0;            // ADS1299 PGA gain set on the board; scales counts to µV
    bool daisy = false;            // Cyton + Daisy: 16 channels from alternating packets
    double sample_rate_hz = 250.0; // packet rate; the Cyton does not send it (USB dongle: 250)
};

struct AsciiConfig {
    double sample_rate_hz = 0.0;     // required: ASCII devices are often not timer-paced
    double scale_uv_per_count = 1.0; // µV = (value − offset_counts) × scale_uv_per_count
    double offset_counts = 0.0;
    std::size_t max_line_bytes = 4096; // longer lines are dropped and counted as bad
};

struct OpenEegConfig {
    // The P2 packet carries raw 10-bit ADC counts; µV depend on the amplifier's gain, which the
    // protocol does not send. Defaults only centre the counts (1 "µV" per count): set the scale.
    double scale_uv_per_count = 1.0;
    double offset_counts = 512.0;
};

struct SemgFrameConfig {
    std::size_t max_channels = 1024;
    std::size_t max_packet_bytes = std::size_t{256} * 1024; // larger headers are treated as corrupt
};

struct ProtocolConfig {
    Protocol name = Protocol::Semg; // its text: protocol_name(name)
    CytonConfig cyton;
    AsciiConfig ascii;
    OpenEegConfig openeeg;
    SemgFrameConfig semg;
};

// Throws std::invalid_argument for an unknown protocol or an invalid configuration.
std::unique_ptr<Parser> make_parser(const ProtocolConfig& config);

// ---- a sink for tests, tools and offline decoding (allocates) ------------------------------

struct GapEvent {
    std::uint64_t at_frame = 0;
    std::uint64_t missing = 0;
    bool operator==(const GapEvent&) const = default;
};

// Keeps everything: frame indices, interleaved samples (frame by frame) and gaps.
class CollectingSink final : public FrameSink {
public:
    void on_frame(std::uint64_t index, std::span<const float> samples_uv) override {
        if (channels == 0)
            channels = samples_uv.size();
        indices.push_back(index);
        samples_uv_interleaved.insert(samples_uv_interleaved.end(), samples_uv.begin(),
                                      samples_uv.end());
    }
    void on_gap(std::uint64_t at_frame, std::uint64_t missing) override {
        gaps.push_back({at_frame, missing});
    }
    std::size_t frames() const noexcept { return indices.size(); }
    std::span<const float> frame(std::size_t i) const {
        return std::span<const float>(samples_uv_interleaved).subspan(i * channels, channels);
    }

    std::size_t channels = 0;
    std::vector<std::uint64_t> indices;
    std::vector<float> samples_uv_interleaved;
    std::vector<GapEvent> gaps;
};

} // namespace semg::acquisition
