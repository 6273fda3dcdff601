// Streams a Source to a serial port in a device protocol, paced by the sample clock, with
// optional injected faults: the fake device behind `semg simulate --serial`, the pty tests and
// bench/bench_capture.
//
// PacketStream (pure: no I/O, no clock) turns the source into the bytes of successive packets:
//   cyton        one 33-byte packet per frame, 8 channels (fewer are padded with 0 µV)
//   cyton-daisy  two packets per frame, 16 channels
//   openeeg      one 17-byte P2 packet per frame, 6 channels
//   ascii        one text line per frame (a header line with the labels first, spaces as '_')
//   semg         SEMG frames of `semg_frames_per_packet` frames (default about 4 ms)
// Faults, decided per packet with a seeded generator (never on the first or the last packet, so
// that a receiver can see every one of them):
//   drop     the packet is not sent. Receivers with a sample counter (cyton, openeeg, semg) see
//            its frames as lost; ASCII has no counter and cannot.
//   corrupt  one byte is changed so that the protocol can detect it: semg — a sample or CRC-32
//            byte (exactly one bad_checksums); cyton — the footer; openeeg — the version byte;
//            ascii — one digit becomes '#' (one bad_lines). Undetectable corruption (a
//            flipped Cyton data bit) is what these formats cannot protect against anyway.
// StreamStats count both, so a test can check a receiver's counters exactly. Daisy faults act
// on whole frames (both packets).
//
// SerialStreamer writes the packets to a SerialTransport at the source's sample rate × speed
// and, for the Cyton protocols, behaves like the board: waits for 'b', stops at 's'.
#pragma once

#include "acquisition/protocols/encoders.hpp"
#include "acquisition/serial_port.hpp"
#include "acquisition/source.hpp"

#include <cstdint>
#include <functional>
#include <random>
#include <stop_token>
#include <string>
#include <vector>

namespace semg::acquisition {

struct StreamFaults {
    double corrupt_rate = 0.0; // probability per packet, [0, 1)
    double drop_rate = 0.0;    // probability per packet, [0, 1); corrupt + drop < 1
    std::uint64_t seed = 1;
};

struct PacketStreamConfig {
    Protocol protocol = Protocol::Semg;
    double cyton_gain = 24.0;
    OpenEegConfig openeeg;
    int ascii_decimals = 3;   // µV with this many decimals
    bool ascii_header = true; // first line: the channel labels
    SemgSampleFormat semg_format = SemgSampleFormat::Int24;
    float semg_scale_uv_per_count = 0.02f;  // int24: ±167 mV
    std::size_t semg_frames_per_packet = 0; // 0: about 4 ms of frames, at least 1
    StreamFaults faults;
};

struct StreamStats {
    std::uint64_t frames = 0;            // frames taken from the source
    std::uint64_t packets = 0;           // packets made (sent, corrupted or dropped)
    std::uint64_t bytes = 0;             // bytes of the packets sent
    std::uint64_t corrupted_packets = 0; // sent with one detectable bad byte
    std::uint64_t dropped_packets = 0;   // not sent
    std::uint64_t lost_frames = 0;       // frames in corrupted or dropped packets
    std::uint64_t lost_runs =
        0; // runs of consecutive bad packets: the gaps a receiver with a counter reports
};

class PacketStream {
public:
    // Throws std::invalid_argument: unknown protocol, too many channels for it, bad rates.
    PacketStream(Source& source, PacketStreamConfig config);

    struct Packet {
        std::span<const std::uint8_t> bytes; // valid until the next call
        std::uint64_t end_frame = 0;         // frames of the source covered so far
    };
    // The next packet to send (dropped packets are skipped); false at the end of the source.
    bool next(Packet& packet);
    const StreamStats& stats() const noexcept { return stats_; }
    std::size_t frames_per_packet() const noexcept { return frames_per_packet_; }
    std::size_t channels() const noexcept { return channels_; }
    double sample_rate_hz() const noexcept { return sample_rate_hz_; }

private:
    std::size_t available() const noexcept { return (end_ - begin_) / channels_; }
    void fill(std::size_t frames);
    void encode(const float* frames_uv, std::size_t n);
    void corrupt();

    Source& source_;
    PacketStreamConfig config_;
    std::size_t source_channels_ = 0;
    std::size_t channels_ = 0; // on the wire (padded for fixed-width protocols)
    double sample_rate_hz_ = 0.0;
    std::size_t frames_per_packet_ = 1;
    dsp::Block block_;
    std::vector<float> frames_; // interleaved frame by frame, [begin_, end_) valid
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    bool source_done_ = false;
    std::vector<std::uint8_t> bytes_;
    std::uint64_t next_frame_ = 0;
    bool header_sent_ = false;
    bool previous_lost_ = false;
    std::mt19937_64 rng_;
    StreamStats stats_;
};

struct SerialStreamerConfig {
    PacketStreamConfig packets;
    double speed = 1.0; // 1: real time; 2: twice as fast; 0: as fast as the port takes it
    // Protocols with start commands (Cyton): wait for 'b' before streaming and end at 's', like
    // the board.
    bool wait_for_start_command = true;
    std::size_t max_pending_bytes = 256 * 1024; // back-pressure on the port's write queue
};

class SerialStreamer {
public:
    SerialStreamer(Source& source, SerialStreamerConfig config); // throws std::invalid_argument
    // Streams until the source ends, `stop` is requested, the device side sends 's' (Cyton) or
    // the port fails. The transport must not have been started; run() starts it and stops it
    // (after its queue has drained) before returning.
    StreamStats run(SerialTransport& port, std::stop_token stop = {});
    // Called from run() about every 100 ms with the statistics so far.
    std::function<void(const StreamStats&)> on_progress;

private:
    PacketStream packets_;
    SerialStreamerConfig config_;
};

} // namespace semg::acquisition
