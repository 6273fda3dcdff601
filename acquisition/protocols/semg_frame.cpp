#include "acquisition/protocols/semg_frame.hpp"

#include <boost/crc.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace semg::acquisition {

namespace {

std::uint16_t read_u16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t read_u32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
           (std::uint32_t{p[3]} << 24);
}
std::uint64_t read_u64(const std::uint8_t* p) noexcept {
    return std::uint64_t{read_u32(p)} | (std::uint64_t{read_u32(p + 4)} << 32);
}

bool is_sync(const std::uint8_t* p) noexcept {
    return std::memcmp(p, semg_frame::sync.data(), semg_frame::sync.size()) == 0;
}

} // namespace

std::size_t semg_frame::bytes_per_sample(SemgSampleFormat format) noexcept {
    switch (format) {
    case SemgSampleFormat::Int16: return 2;
    case SemgSampleFormat::Int24: return 3;
    case SemgSampleFormat::Float32: return 4;
    }
    return 0;
}

std::size_t semg_frame::packet_bytes(std::size_t channels, std::size_t frames,
                                     SemgSampleFormat format) noexcept {
    return header_bytes + channels * frames * bytes_per_sample(format) + crc_bytes;
}

SemgFrameParser::SemgFrameParser(SemgFrameConfig config)
    : config_(config),
      // Room for the largest valid packet plus fresh input, so the framing always progresses.
      window_(config.max_packet_bytes + 4096) {
    if (config_.max_channels < 1 || config_.max_channels > semg_frame::max_channels)
        throw std::invalid_argument("SemgFrameParser: max_channels must be in [1, 65535]");
    if (config_.max_packet_bytes < semg_frame::packet_bytes(1, 1, SemgSampleFormat::Float32) ||
        config_.max_packet_bytes > (std::size_t{64} << 20))
        throw std::invalid_argument("SemgFrameParser: max_packet_bytes must be in [38, 64 MiB]");
    frame_uv_.reserve(config_.max_channels);
}

void SemgFrameParser::feed(std::span<const std::uint8_t> bytes, FrameSink& sink) {
    counters_.bytes += bytes.size();
    window_.feed(bytes, counters_,
                 [&](std::span<const std::uint8_t> w) { return consume(w, sink); });
}

SemgFrameParser::HeaderStatus SemgFrameParser::read_header(const std::uint8_t* p,
                                                           SemgPacketHeader& h) const noexcept {
    if (p[4] != semg_frame::version)
        return HeaderStatus::Malformed;
    h.format = static_cast<SemgSampleFormat>(p[5]);
    h.flags = read_u16(p + 6);
    h.channels = read_u16(p + 8);
    h.frames = read_u16(p + 10);
    h.sample_rate_mhz = read_u32(p + 12);
    h.scale_uv_per_count = std::bit_cast<float>(read_u32(p + 16));
    h.first_frame = read_u64(p + 20);
    const std::size_t sample_bytes = semg_frame::bytes_per_sample(h.format);
    if (sample_bytes == 0 || h.channels == 0 || h.channels > config_.max_channels ||
        h.frames == 0 || h.sample_rate_mhz == 0)
        return HeaderStatus::Malformed;
    if (h.format != SemgSampleFormat::Float32 &&
        !(std::isfinite(h.scale_uv_per_count) && h.scale_uv_per_count > 0.0f))
        return HeaderStatus::Malformed;
    if (semg_frame::packet_bytes(h.channels, h.frames, h.format) > config_.max_packet_bytes)
        return HeaderStatus::Malformed;
    // Checked before waiting for the payload: a corrupt length must not stall the stream.
    boost::crc_ccitt_type crc;
    crc.process_bytes(p + 4, 24);
    if (crc.checksum() != read_u16(p + 28))
        return HeaderStatus::BadChecksum;
    return HeaderStatus::Ok;
}

std::size_t SemgFrameParser::consume(std::span<const std::uint8_t> w, FrameSink& sink) {
    std::size_t pos = 0;
    const auto reject = [&] {
        if (locked_) {
            locked_ = false;
            ++counters_.sync_losses;
        }
        ++pos;
        ++counters_.skipped_bytes;
    };
    for (;;) {
        if (w.size() - pos < semg_frame::sync.size())
            break;
        if (!locked_) {
            // Hunt: skip to the next sync word, keeping a tail that may be its beginning.
            const std::size_t last = w.size() - semg_frame::sync.size();
            std::size_t i = pos;
            while (i <= last) {
                const void* hit = std::memchr(w.data() + i, semg_frame::sync[0], last - i + 1);
                if (hit == nullptr) {
                    i = last + 1;
                    break;
                }
                i = static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - w.data());
                if (is_sync(w.data() + i))
                    break;
                ++i;
            }
            counters_.skipped_bytes += i - pos;
            pos = i;
            if (pos > last)
                break;
        } else if (!is_sync(w.data() + pos)) {
            locked_ = false;
            ++counters_.sync_losses;
            continue;
        }
        const std::uint8_t* p = w.data() + pos;
        if (w.size() - pos < semg_frame::header_bytes)
            break;
        SemgPacketHeader h;
        const HeaderStatus status = read_header(p, h);
        if (status != HeaderStatus::Ok) {
            if (status == HeaderStatus::BadChecksum)
                ++counters_.bad_checksums;
            reject();
            continue;
        }
        const std::size_t total = semg_frame::packet_bytes(h.channels, h.frames, h.format);
        if (w.size() - pos < total)
            break;
        boost::crc_32_type crc;
        crc.process_bytes(p + 4, total - 4 - semg_frame::crc_bytes);
        if (crc.checksum() != read_u32(p + total - semg_frame::crc_bytes)) {
            ++counters_.bad_checksums;
            reject();
            continue;
        }
        locked_ = true;
        on_packet(h, p + semg_frame::header_bytes, sink);
        pos += total;
    }
    return pos;
}

void SemgFrameParser::on_packet(const SemgPacketHeader& h, const std::uint8_t* samples,
                                FrameSink& sink) {
    // A float32 NaN or infinity passes both CRCs but is no sample: the packet is dropped like one
    // of another format (its frames show up as a gap), before it can fix the stream's format.
    if (h.format == SemgSampleFormat::Float32) {
        const std::size_t count = std::size_t{h.channels} * h.frames;
        for (std::size_t i = 0; i < count; ++i)
            if (!std::isfinite(std::bit_cast<float>(read_u32(samples + 4 * i)))) {
                ++counters_.format_mismatches;
                return;
            }
    }
    if (channels_ == 0) {
        channels_ = h.channels;
        sample_rate_mhz_ = h.sample_rate_mhz;
        frame_uv_.resize(channels_); // within the reserved capacity
    } else if (h.channels != channels_ || h.sample_rate_mhz != sample_rate_mhz_) {
        ++counters_.format_mismatches;
        return;
    }
    std::uint64_t missing = 0;
    if (have_counter_) {
        if (h.first_frame >= next_counter_)
            missing = h.first_frame - next_counter_;
        else
            ++counters_.counter_resets;
    }
    have_counter_ = true;
    next_counter_ = h.first_frame + h.frames;

    const double scale = h.scale_uv_per_count;
    const std::uint8_t* s = samples;
    for (std::size_t f = 0; f < h.frames; ++f) {
        switch (h.format) {
        case SemgSampleFormat::Int16:
            for (std::size_t c = 0; c < channels_; ++c, s += 2)
                frame_uv_[c] = static_cast<float>(static_cast<std::int16_t>(read_u16(s)) * scale);
            break;
        case SemgSampleFormat::Int24:
            for (std::size_t c = 0; c < channels_; ++c, s += 3) {
                const std::uint32_t raw =
                    std::uint32_t{s[0]} | (std::uint32_t{s[1]} << 8) | (std::uint32_t{s[2]} << 16);
                const std::int32_t counts = static_cast<std::int32_t>(raw ^ 0x800000u) - 0x800000;
                frame_uv_[c] = static_cast<float>(counts * scale);
            }
            break;
        case SemgSampleFormat::Float32:
            for (std::size_t c = 0; c < channels_; ++c, s += 4)
                frame_uv_[c] = std::bit_cast<float>(read_u32(s));
            break;
        }
        clock_.emit(sink, counters_, f == 0 ? missing : 0, frame_uv_);
    }
}

void SemgFrameParser::reset() noexcept {
    window_.clear();
    clock_.reset();
    counters_ = {};
    locked_ = false;
    channels_ = 0;
    sample_rate_mhz_ = 0;
    have_counter_ = false;
    next_counter_ = 0;
}

} // namespace semg::acquisition
