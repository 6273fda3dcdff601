#include "acquisition/protocols/openeeg.hpp"

#include <cmath>
#include <stdexcept>

namespace semg::acquisition {

OpenEegParser::OpenEegParser(OpenEegConfig config)
    : config_(config), framer_(openeeg::packet_bytes, 2) {
    if (!std::isfinite(config_.scale_uv_per_count) || config_.scale_uv_per_count == 0.0)
        throw std::invalid_argument("OpenEegParser: scale_uv_per_count must be finite, non-zero");
    if (!std::isfinite(config_.offset_counts))
        throw std::invalid_argument("OpenEegParser: offset_counts must be finite");
}

void OpenEegParser::feed(std::span<const std::uint8_t> bytes, FrameSink& sink) {
    framer_.feed(
        bytes, counters_,
        [](const std::uint8_t* p) {
            if (p[0] != openeeg::sync0 || p[1] != openeeg::sync1 || p[2] != openeeg::version)
                return false;
            for (std::size_t c = 0; c < openeeg::channels; ++c)
                if (p[4 + 2 * c] > (openeeg::max_counts >> 8))
                    return false;
            return true;
        },
        [](const std::uint8_t* p) { return p[0] == openeeg::sync0 && p[1] == openeeg::sync1; },
        [&](const std::uint8_t* p) { on_packet(p, sink); });
}

void OpenEegParser::on_packet(const std::uint8_t* packet, FrameSink& sink) {
    const std::uint8_t counter = packet[3];
    const std::uint64_t missing =
        have_packet_ ? detail::missing_mod256(static_cast<std::uint8_t>(last_counter_ + 1), counter)
                     : 0;
    have_packet_ = true;
    last_counter_ = counter;
    for (std::size_t c = 0; c < openeeg::channels; ++c) {
        const unsigned count = (unsigned{packet[4 + 2 * c]} << 8) | packet[5 + 2 * c];
        frame_uv_[c] =
            static_cast<float>((count - config_.offset_counts) * config_.scale_uv_per_count);
    }
    clock_.emit(sink, counters_, missing, frame_uv_);
}

void OpenEegParser::reset() noexcept {
    framer_.reset();
    clock_.reset();
    counters_ = {};
    have_packet_ = false;
    last_counter_ = 0;
}

} // namespace semg::acquisition
