// The project's own binary frame ("SEMG", version 1), for programmable bench amplifiers.
// Layout, CRCs and examples: docs/protocol.md.
//
// Decodes packets of `frames` × `channels` samples (int16, int24 or float32, little-endian,
// interleaved frame by frame) with a 64-bit counter of the first frame.
// Units: integer samples × the header's scale (µV per count); float32 samples are µV.
// Format: the stream is the single truth. The first valid packet fixes channel count and rate;
// later packets that disagree are dropped and counted (format_mismatches): the sinks downstream
// were sized for the first. The sample format and scale may change from packet to packet.
// A float32 packet holding a NaN or infinity is dropped the same way (its frames are a gap).
// Sync: scan for the sync word; a header must pass its sanity checks and CRC-16, the packet its
// CRC-32. A failed CRC is counted (bad_checksums), one byte skipped and the scan resumed, so a
// corrupt length can never swallow good packets that follow.
// Counter: a forward jump is a gap (lost_samples, on_gap); a backward jump is a device restart
// (counter_resets): time keeps running from the last frame, no gap is reported.
// Guarantees: see protocol.hpp (never throws on data, no allocation in feed, chunk-invariant).
#pragma once

#include "acquisition/protocols/framing.hpp"
#include "acquisition/protocols/protocol.hpp"

#include <array>

namespace semg::acquisition {

enum class SemgSampleFormat : std::uint8_t { Int16 = 1, Int24 = 2, Float32 = 3 };

namespace semg_frame {
inline constexpr std::array<std::uint8_t, 4> sync = {0x53, 0x45, 0x4D, 0x47}; // "SEMG"
inline constexpr std::uint8_t version = 1;
inline constexpr std::size_t header_bytes = 30; // sync to header CRC inclusive
inline constexpr std::size_t crc_bytes = 4;
inline constexpr std::size_t max_channels = 65535;

std::size_t bytes_per_sample(SemgSampleFormat format) noexcept; // 0 for an unknown code
// Whole packet: header, samples, CRC-32.
std::size_t packet_bytes(std::size_t channels, std::size_t frames,
                         SemgSampleFormat format) noexcept;
} // namespace semg_frame

// The fields of one packet header (what the encoder writes and the parser reads).
struct SemgPacketHeader {
    SemgSampleFormat format = SemgSampleFormat::Int24;
    std::uint16_t flags = 0; // reserved: written 0, ignored when read
    std::uint16_t channels = 0;
    std::uint16_t frames = 0;          // frames in this packet
    std::uint32_t sample_rate_mhz = 0; // millihertz: 4096 Hz = 4'096'000
    float scale_uv_per_count = 1.0f;   // integer formats; written 1 for float32
    std::uint64_t first_frame = 0;     // device counter of the packet's first frame
};

class SemgFrameParser final : public Parser {
public:
    explicit SemgFrameParser(SemgFrameConfig config = {}); // throws std::invalid_argument

    std::string_view name() const noexcept override { return protocol_name(Protocol::Semg); }
    void feed(std::span<const std::uint8_t> bytes, FrameSink& sink) override;
    void reset() noexcept override;
    const ParserCounters& counters() const noexcept override { return counters_; }
    std::size_t channels() const noexcept override { return channels_; }
    double sample_rate_hz() const noexcept override { return sample_rate_mhz_ / 1000.0; }

private:
    enum class HeaderStatus { Ok, Malformed, BadChecksum };
    HeaderStatus read_header(const std::uint8_t* p, SemgPacketHeader& h) const noexcept;
    std::size_t consume(std::span<const std::uint8_t> window, FrameSink& sink);
    void on_packet(const SemgPacketHeader& h, const std::uint8_t* samples, FrameSink& sink);

    SemgFrameConfig config_;
    detail::ByteWindow window_;
    detail::FrameClock clock_;
    ParserCounters counters_;
    std::vector<float> frame_uv_; // capacity max_channels
    bool locked_ = false;
    std::size_t channels_ = 0;
    std::uint32_t sample_rate_mhz_ = 0;
    bool have_counter_ = false;
    std::uint64_t next_counter_ = 0;
};

} // namespace semg::acquisition
