#include "acquisition/protocols/encoders.hpp"

#include <boost/crc.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace semg::acquisition {

namespace {

// Round to nearest, saturate; NaN becomes 0 so a simulator glitch cannot make UB.
template <class Int> Int quantise(double counts, double lo, double hi) noexcept {
    if (std::isnan(counts))
        return 0;
    return static_cast<Int>(std::clamp(std::round(counts), lo, hi));
}

void require(bool ok, const char* what) {
    if (!ok)
        throw std::invalid_argument(what);
}

void put_u16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put_u32(std::uint8_t* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u64(std::uint8_t* p, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i)
        p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

void put_cyton_channels(std::uint8_t* p, std::span<const float> uv, double gain) {
    for (std::size_t c = 0; c < cyton::board_channels; ++c) {
        const auto counts = static_cast<std::uint32_t>(cyton_counts(uv[c], gain));
        p[3 * c] = static_cast<std::uint8_t>(counts >> 16);
        p[3 * c + 1] = static_cast<std::uint8_t>(counts >> 8);
        p[3 * c + 2] = static_cast<std::uint8_t>(counts);
    }
}

} // namespace

std::int32_t cyton_counts(double uv, double gain) {
    require(gain > 0.0 && std::isfinite(gain), "cyton: gain must be positive");
    return quantise<std::int32_t>(uv / cyton::uv_per_count(gain), cyton::min_counts,
                                  cyton::max_counts);
}

std::array<std::uint8_t, cyton::packet_bytes> encode_cyton_packet(std::uint8_t counter,
                                                                  std::span<const float> samples_uv,
                                                                  double gain,
                                                                  std::uint8_t footer) {
    require(samples_uv.size() == cyton::board_channels, "encode_cyton_packet: needs 8 samples");
    require(footer >= cyton::footer_min && footer <= cyton::footer_max,
            "encode_cyton_packet: footer must be 0xC0..0xC6");
    std::array<std::uint8_t, cyton::packet_bytes> p{};
    p[0] = cyton::header;
    p[1] = counter;
    put_cyton_channels(p.data() + 2, samples_uv, gain);
    p[32] = footer;
    return p;
}

std::array<std::uint8_t, 2 * cyton::packet_bytes>
encode_cyton_daisy_frame(std::uint8_t even_counter, std::span<const float> samples_uv,
                         double gain) {
    require(samples_uv.size() == 2 * cyton::board_channels,
            "encode_cyton_daisy_frame: needs 16 samples");
    require(even_counter % 2 == 0, "encode_cyton_daisy_frame: counter must be even");
    std::array<std::uint8_t, 2 * cyton::packet_bytes> out{};
    const auto daisy = encode_cyton_packet(even_counter, samples_uv.subspan(8, 8), gain);
    const auto board = encode_cyton_packet(static_cast<std::uint8_t>(even_counter + 1),
                                           samples_uv.subspan(0, 8), gain);
    std::copy(daisy.begin(), daisy.end(), out.begin());
    std::copy(board.begin(), board.end(), out.begin() + cyton::packet_bytes);
    return out;
}

std::array<std::uint8_t, openeeg::packet_bytes>
encode_openeeg_packet(std::uint8_t counter, std::span<const float> samples_uv,
                      const OpenEegConfig& config, std::uint8_t switches) {
    require(samples_uv.size() == openeeg::channels, "encode_openeeg_packet: needs 6 samples");
    require(std::isfinite(config.scale_uv_per_count) && config.scale_uv_per_count != 0.0,
            "encode_openeeg_packet: scale must be finite, non-zero");
    std::array<std::uint8_t, openeeg::packet_bytes> p{};
    p[0] = openeeg::sync0;
    p[1] = openeeg::sync1;
    p[2] = openeeg::version;
    p[3] = counter;
    for (std::size_t c = 0; c < openeeg::channels; ++c) {
        const auto count = quantise<std::uint16_t>(samples_uv[c] / config.scale_uv_per_count +
                                                       config.offset_counts,
                                                   0.0, openeeg::max_counts);
        p[4 + 2 * c] = static_cast<std::uint8_t>(count >> 8);
        p[5 + 2 * c] = static_cast<std::uint8_t>(count);
    }
    p[16] = switches;
    return p;
}

std::string encode_ascii_line(std::span<const float> samples_uv, const AsciiLineFormat& format) {
    require(format.labels.empty() || format.labels.size() == samples_uv.size(),
            "encode_ascii_line: one label per channel");
    require(format.decimals >= 0 && format.decimals <= 9, "encode_ascii_line: decimals 0..9");
    require(std::isfinite(format.scale_uv_per_count) && format.scale_uv_per_count != 0.0,
            "encode_ascii_line: scale must be finite, non-zero");
    std::string line;
    std::array<char, 64> number{};
    for (std::size_t c = 0; c < samples_uv.size(); ++c) {
        if (c > 0)
            line += format.separator;
        if (!format.labels.empty()) {
            line += format.labels[c];
            line += ':';
        }
        const double value = samples_uv[c] / format.scale_uv_per_count + format.offset_counts;
        require(std::isfinite(value) && std::abs(value) < 1e15,
                "encode_ascii_line: value not finite or out of range");
        char* const first = number.data();
        char* const last = first + number.size();
        const auto [end, ec] =
            format.decimals == 0
                ? std::to_chars(first, last, static_cast<long long>(std::round(value)))
                : std::to_chars(first, last, value, std::chars_format::fixed, format.decimals);
        require(ec == std::errc(), "encode_ascii_line: value out of range");
        line.append(first, end);
    }
    line += format.line_end;
    return line;
}

std::string encode_ascii_header(std::span<const std::string> names, char separator,
                                std::string_view line_end) {
    std::string line;
    for (std::size_t c = 0; c < names.size(); ++c) {
        if (c > 0)
            line += separator;
        line += names[c];
    }
    line += line_end;
    return line;
}

void append_semg_packet(std::vector<std::uint8_t>& out, const SemgPacketHeader& header,
                        std::span<const float> samples_uv) {
    const std::size_t sample_bytes = semg_frame::bytes_per_sample(header.format);
    require(sample_bytes > 0, "encode_semg_packet: unknown sample format");
    require(header.channels > 0 && header.frames > 0, "encode_semg_packet: empty packet");
    require(header.sample_rate_mhz > 0, "encode_semg_packet: sample rate must be positive");
    require(samples_uv.size() == std::size_t{header.channels} * header.frames,
            "encode_semg_packet: needs frames × channels samples");
    const bool is_float = header.format == SemgSampleFormat::Float32;
    require(is_float ||
                (std::isfinite(header.scale_uv_per_count) && header.scale_uv_per_count > 0.0f),
            "encode_semg_packet: scale must be positive");

    const std::size_t start = out.size();
    out.resize(start + semg_frame::packet_bytes(header.channels, header.frames, header.format));
    std::uint8_t* p = out.data() + start;
    std::copy(semg_frame::sync.begin(), semg_frame::sync.end(), p);
    p[4] = semg_frame::version;
    p[5] = static_cast<std::uint8_t>(header.format);
    put_u16(p + 6, header.flags);
    put_u16(p + 8, header.channels);
    put_u16(p + 10, header.frames);
    put_u32(p + 12, header.sample_rate_mhz);
    put_u32(p + 16, std::bit_cast<std::uint32_t>(is_float ? 1.0f : header.scale_uv_per_count));
    put_u64(p + 20, header.first_frame);
    boost::crc_ccitt_type header_crc;
    header_crc.process_bytes(p + 4, 24);
    put_u16(p + 28, header_crc.checksum());

    std::uint8_t* s = p + semg_frame::header_bytes;
    const double scale = header.scale_uv_per_count;
    for (const float uv : samples_uv) {
        switch (header.format) {
        case SemgSampleFormat::Int16:
            put_u16(s, static_cast<std::uint16_t>(
                           quantise<std::int16_t>(uv / scale, -32768.0, 32767.0)));
            break;
        case SemgSampleFormat::Int24: {
            const auto counts = static_cast<std::uint32_t>(
                quantise<std::int32_t>(uv / scale, -8388608.0, 8388607.0));
            s[0] = static_cast<std::uint8_t>(counts);
            s[1] = static_cast<std::uint8_t>(counts >> 8);
            s[2] = static_cast<std::uint8_t>(counts >> 16);
            break;
        }
        case SemgSampleFormat::Float32: put_u32(s, std::bit_cast<std::uint32_t>(uv)); break;
        }
        s += sample_bytes;
    }
    const std::size_t crc_at = semg_frame::header_bytes + samples_uv.size() * sample_bytes;
    boost::crc_32_type crc;
    crc.process_bytes(p + 4, crc_at - 4);
    put_u32(p + crc_at, crc.checksum());
}

std::vector<std::uint8_t> encode_semg_packet(const SemgPacketHeader& header,
                                             std::span<const float> samples_uv) {
    std::vector<std::uint8_t> out;
    append_semg_packet(out, header, samples_uv);
    return out;
}

} // namespace semg::acquisition
