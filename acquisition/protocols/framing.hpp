// Internal building blocks shared by the parsers: a fixed byte window, the frame clock that
// turns device counters into frame indices and gaps, and fixed-size packet framing.
// Nothing here allocates after construction.
#pragma once

#include "acquisition/protocols/protocol.hpp"

#include <algorithm>
#include <cstring>

namespace semg::acquisition::detail {

// Frame indices and gap events: the one place where lost frames become part of the time axis.
class FrameClock {
public:
    void emit(FrameSink& sink, ParserCounters& counters, std::uint64_t missing,
              std::span<const float> samples_uv) {
        if (missing > 0) {
            counters.lost_samples += missing;
            ++counters.gaps;
            sink.on_gap(next_index_, missing);
            next_index_ += missing;
        }
        ++counters.frames;
        sink.on_frame(next_index_++, samples_uv);
    }
    void reset() noexcept { next_index_ = 0; }

private:
    std::uint64_t next_index_ = 0;
};

// Holds the undecoded tail of the stream in a buffer of fixed capacity. Input is copied in as
// pieces that fit, so a feed() of any size never grows the buffer.
class ByteWindow {
public:
    explicit ByteWindow(std::size_t capacity) : buffer_(capacity) {}

    // consume(window) decodes what it can from the front and returns the bytes it is done with.
    // It must make progress once the window is full (capacity > the longest packet).
    template <class Consume>
    void feed(std::span<const std::uint8_t> bytes, ParserCounters& counters, Consume&& consume) {
        do {
            // Compact only when the input does not fit behind the tail: small reads of a fast
            // stream then do not move a partial packet again and again.
            if (begin_ == end_) {
                begin_ = end_ = 0;
            } else if (begin_ > 0 && buffer_.size() - end_ < bytes.size()) {
                std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
                end_ -= begin_;
                begin_ = 0;
            }
            const std::size_t n = std::min(bytes.size(), buffer_.size() - end_);
            if (n > 0)
                std::memcpy(buffer_.data() + end_, bytes.data(), n);
            bytes = bytes.subspan(n);
            end_ += n;
            const std::size_t used =
                consume(std::span<const std::uint8_t>(buffer_.data() + begin_, end_ - begin_));
            begin_ += used;
            if (used == 0 && end_ - begin_ == buffer_.size()) {
                // Defensive: a consumer that cannot progress on a full window would stall the
                // stream for ever; dropping the window keeps the parser alive and says so.
                counters.skipped_bytes += buffer_.size();
                ++counters.sync_losses;
                begin_ = end_;
            }
        } while (!bytes.empty());
    }
    void clear() noexcept { begin_ = end_ = 0; }

private:
    std::vector<std::uint8_t> buffer_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

// Fixed-size packets recognised only by a few marker bytes (Cyton, OpenEEG P2), where the
// marker values can also occur inside sample data.
// Locked: the packet where the previous one ended is accepted if its markers are valid.
// Hunting (at start and after a loss): a packet is accepted only when its markers are valid
// AND the next packet's header follows it, which makes locking onto data bytes unlikely.
// The decision waits for those bytes, so it depends on the stream, not on the chunking.
class FixedPacketFramer {
public:
    FixedPacketFramer(std::size_t packet_bytes, std::size_t confirm_bytes)
        : packet_bytes_(packet_bytes), confirm_bytes_(confirm_bytes),
          window_(std::max<std::size_t>(4096, 4 * (packet_bytes + confirm_bytes))) {}

    // is_packet(const uint8_t* p): the packet_bytes at p look like a packet.
    // is_header(const uint8_t* p): the confirm_bytes at p look like the start of a packet.
    // on_packet(const uint8_t* p): an accepted packet.
    template <class IsPacket, class IsHeader, class OnPacket>
    void feed(std::span<const std::uint8_t> bytes, ParserCounters& counters, IsPacket&& is_packet,
              IsHeader&& is_header, OnPacket&& on_packet) {
        counters.bytes += bytes.size();
        window_.feed(bytes, counters, [&](std::span<const std::uint8_t> w) {
            std::size_t pos = 0;
            for (;;) {
                const std::size_t avail = w.size() - pos;
                const std::uint8_t* p = w.data() + pos;
                if (locked_) {
                    if (avail < packet_bytes_)
                        break;
                    if (is_packet(p)) {
                        on_packet(p);
                        pos += packet_bytes_;
                        continue;
                    }
                    locked_ = false;
                    ++counters.sync_losses;
                }
                if (avail < packet_bytes_ + confirm_bytes_)
                    break;
                if (is_packet(p) && is_header(p + packet_bytes_)) {
                    locked_ = true;
                    on_packet(p);
                    pos += packet_bytes_;
                    continue;
                }
                ++pos;
                ++counters.skipped_bytes;
            }
            return pos;
        });
    }
    void reset() noexcept {
        window_.clear();
        locked_ = false;
    }

private:
    std::size_t packet_bytes_;
    std::size_t confirm_bytes_;
    ByteWindow window_;
    bool locked_ = false;
};

// Sequence counters of 8 bits (Cyton, OpenEEG): frames missing between two packets. A gap of
// 256 or more packets aliases; at 250 Hz that is over a second of silence on the link.
inline std::uint64_t missing_mod256(std::uint8_t expected, std::uint8_t got) noexcept {
    return static_cast<std::uint8_t>(got - expected);
}

} // namespace semg::acquisition::detail
