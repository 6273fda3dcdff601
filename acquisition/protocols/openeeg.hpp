// OpenEEG P2 (ModularEEG firmware "P2"), 57600 8N1.
//
// Decodes 17-byte packets: 0xA5 0x5A, version 0x02, sample counter (0–255, wraps),
// 6 channels × 10-bit value as big-endian 16-bit words (high byte first), 1 switch byte
// (ignored). Rate: 256 Hz.
// Units: µV = (count − offset_counts) × scale_uv_per_count. The packet carries raw ADC counts;
// the gain of the analogue front end is not sent, so the scale comes from the config.
// Sync: the sync bytes can occur inside data, so a packet is accepted only when its six high
// bytes fit in 10 bits, and while hunting also when the next packet's A5 5A follows it.
// Gaps in the counter are lost packets (a gap of 256 or more aliases).
// Guarantees: see protocol.hpp (never throws on data, no allocation in feed, chunk-invariant).
#pragma once

#include "acquisition/protocols/framing.hpp"
#include "acquisition/protocols/protocol.hpp"

#include <array>

namespace semg::acquisition {

namespace openeeg {
inline constexpr std::size_t packet_bytes = 17;
inline constexpr std::size_t channels = 6;
inline constexpr std::uint8_t sync0 = 0xA5;
inline constexpr std::uint8_t sync1 = 0x5A;
inline constexpr std::uint8_t version = 0x02;
inline constexpr std::uint16_t max_counts = 1023;
inline constexpr double sample_rate_hz = 256.0;
} // namespace openeeg

class OpenEegParser final : public Parser {
public:
    explicit OpenEegParser(OpenEegConfig config); // throws std::invalid_argument (scale)

    std::string_view name() const noexcept override { return protocol_name(Protocol::OpenEeg); }
    void feed(std::span<const std::uint8_t> bytes, FrameSink& sink) override;
    void reset() noexcept override;
    const ParserCounters& counters() const noexcept override { return counters_; }
    std::size_t channels() const noexcept override { return openeeg::channels; }
    double sample_rate_hz() const noexcept override { return openeeg::sample_rate_hz; }

private:
    void on_packet(const std::uint8_t* packet, FrameSink& sink);

    OpenEegConfig config_;
    detail::FixedPacketFramer framer_;
    detail::FrameClock clock_;
    ParserCounters counters_;
    bool have_packet_ = false;
    std::uint8_t last_counter_ = 0;
    std::array<float, openeeg::channels> frame_uv_{};
};

} // namespace semg::acquisition
