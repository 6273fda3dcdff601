#include "acquisition/protocols/cyton.hpp"

#include <cmath>
#include <stdexcept>

namespace semg::acquisition {

namespace {
std::int32_t read_int24_be(const std::uint8_t* p) noexcept {
    const std::uint32_t raw = (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
    // Sign-extend from bit 23 without relying on implementation-defined shifts.
    return static_cast<std::int32_t>(raw ^ 0x800000u) - 0x800000;
}
} // namespace

CytonParser::CytonParser(CytonConfig config) : config_(config), framer_(cyton::packet_bytes, 1) {
    if (!(config_.gain > 0.0) || !std::isfinite(config_.gain))
        throw std::invalid_argument("CytonParser: gain must be positive");
    if (!(config_.sample_rate_hz > 0.0) || !std::isfinite(config_.sample_rate_hz))
        throw std::invalid_argument("CytonParser: sample_rate_hz must be positive");
    uv_per_count_ = cyton::uv_per_count(config_.gain);
}

void CytonParser::feed(std::span<const std::uint8_t> bytes, FrameSink& sink) {
    framer_.feed(
        bytes, counters_,
        [](const std::uint8_t* p) {
            return p[0] == cyton::header && p[32] >= cyton::footer_min &&
                   p[32] <= cyton::footer_max;
        },
        [](const std::uint8_t* p) { return p[0] == cyton::header; },
        [&](const std::uint8_t* p) { on_packet(p, sink); });
}

void CytonParser::on_packet(const std::uint8_t* packet, FrameSink& sink) {
    const std::uint8_t counter = packet[1];
    std::uint64_t missing_packets = 0;
    if (have_packet_) {
        missing_packets =
            detail::missing_mod256(static_cast<std::uint8_t>(last_counter_ + 1), counter);
        packet_position_ += 1 + missing_packets;
    } else {
        packet_position_ = counter; // parity of the position = parity of the counter
        have_packet_ = true;
    }
    last_counter_ = counter;

    const bool daisy_half = config_.daisy && packet_position_ % 2 == 0;
    float* out = frame_uv_.data() + (daisy_half ? cyton::board_channels : 0);
    for (std::size_t c = 0; c < cyton::board_channels; ++c)
        out[c] = static_cast<float>(read_int24_be(packet + 2 + 3 * c) * uv_per_count_);

    if (!config_.daisy) {
        clock_.emit(sink, counters_, missing_packets,
                    std::span<const float>(frame_uv_.data(), cyton::board_channels));
        return;
    }
    if (daisy_half) {
        have_daisy_half_ = true;
        daisy_half_position_ = packet_position_;
        return;
    }
    // Board half: a frame only with the Daisy half just before it; otherwise the frame is lost
    // and the next complete pair reports it as a gap.
    if (!have_daisy_half_ || daisy_half_position_ + 1 != packet_position_) {
        have_daisy_half_ = false;
        return;
    }
    have_daisy_half_ = false;
    const std::uint64_t pair = packet_position_ / 2;
    const std::uint64_t missing_frames = have_frame_ ? pair - next_pair_ : 0;
    have_frame_ = true;
    next_pair_ = pair + 1;
    clock_.emit(sink, counters_, missing_frames, frame_uv_);
}

void CytonParser::reset() noexcept {
    framer_.reset();
    clock_.reset();
    counters_ = {};
    have_packet_ = false;
    last_counter_ = 0;
    packet_position_ = 0;
    have_daisy_half_ = false;
    daisy_half_position_ = 0;
    have_frame_ = false;
    next_pair_ = 0;
}

} // namespace semg::acquisition
