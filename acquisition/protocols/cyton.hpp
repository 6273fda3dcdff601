// OpenBCI Cyton (and Cyton + Daisy) over the USB dongle, 115200 8N1.
//
// Decodes 33-byte packets: 0xA0, sample counter (0–255, wraps), 8 channels × 24-bit two's
// complement MSB first, 6 aux bytes (accelerometer or other; ignored), footer 0xC0–0xC6.
// Units: µV = counts × 4.5 V / gain / (2²³ − 1) × 1e6, gain from the config (the board does
// not send it). Rate: 250 Hz; Daisy mode 125 Hz with 16 channels.
// Daisy: packets alternate; an even counter carries the Daisy's channels 9–16 and the
// following odd counter the board's channels 1–8. A pair makes one 16-channel frame; a half
// without its partner is dropped and shows up as a lost frame.
// Sync: 0xA0 also occurs inside data, so a packet is accepted only with a valid footer where
// it ends, and while hunting also a 0xA0 where the next packet starts (see FixedPacketFramer).
// Gaps in the counter are lost packets (a gap of 256 or more aliases).
// Guarantees: see protocol.hpp (never throws on data, no allocation in feed, chunk-invariant).
#pragma once

#include "acquisition/protocols/framing.hpp"
#include "acquisition/protocols/protocol.hpp"

#include <array>

namespace semg::acquisition {

namespace cyton {
inline constexpr std::size_t packet_bytes = 33;
inline constexpr std::size_t board_channels = 8;
inline constexpr std::uint8_t header = 0xA0;
inline constexpr std::uint8_t footer_min = 0xC0;
inline constexpr std::uint8_t footer_max = 0xC6;
inline constexpr std::int32_t max_counts = (1 << 23) - 1;
inline constexpr std::int32_t min_counts = -(1 << 23);

// Single-character commands sent to the board.
inline constexpr char command_start_streaming = 'b';
inline constexpr char command_stop_streaming = 's';
inline constexpr char command_soft_reset = 'v';
inline constexpr char command_8_channels = 'c';  // ignore a fitted Daisy
inline constexpr char command_16_channels = 'C'; // use the Daisy

// One count in µV at this PGA gain: 4.5 V reference over 2²³ − 1 steps.
inline double uv_per_count(double gain) noexcept { return 4.5 / gain / max_counts * 1e6; }
} // namespace cyton

class CytonParser final : public Parser {
public:
    explicit CytonParser(CytonConfig config); // throws std::invalid_argument (gain, rate)

    std::string_view name() const noexcept override {
        return protocol_name(config_.daisy ? Protocol::CytonDaisy : Protocol::Cyton);
    }
    void feed(std::span<const std::uint8_t> bytes, FrameSink& sink) override;
    void reset() noexcept override;
    const ParserCounters& counters() const noexcept override { return counters_; }
    std::size_t channels() const noexcept override {
        return config_.daisy ? 2 * cyton::board_channels : cyton::board_channels;
    }
    double sample_rate_hz() const noexcept override {
        return config_.daisy ? config_.sample_rate_hz / 2.0 : config_.sample_rate_hz;
    }

private:
    void on_packet(const std::uint8_t* packet, FrameSink& sink);

    CytonConfig config_;
    double uv_per_count_ = 0.0;
    detail::FixedPacketFramer framer_;
    detail::FrameClock clock_;
    ParserCounters counters_;
    bool have_packet_ = false;
    std::uint8_t last_counter_ = 0;
    std::uint64_t packet_position_ = 0; // unwrapped packet counter
    // Daisy pairing
    bool have_daisy_half_ = false;
    std::uint64_t daisy_half_position_ = 0;
    bool have_frame_ = false;
    std::uint64_t next_pair_ = 0; // pair number (packet_position / 2) expected next
    std::array<float, 2 * cyton::board_channels> frame_uv_{};
};

} // namespace semg::acquisition
