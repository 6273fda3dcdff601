#include "acquisition/serial_stream.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace semg::acquisition {
namespace {

std::size_t wire_channels(Protocol protocol, std::size_t source_channels) {
    const auto& t = traits(protocol); // throws for a value outside the enum
    const std::size_t fixed = t.wire_channels;
    if (fixed == 0)
        return source_channels;
    if (source_channels > fixed)
        throw std::invalid_argument(std::string(t.name) + " carries " + std::to_string(fixed) +
                                    " channels; the source has " + std::to_string(source_channels));
    return fixed;
}

} // namespace

PacketStream::PacketStream(Source& source, PacketStreamConfig config)
    : source_(source), config_(std::move(config)), rng_(config_.faults.seed) {
    const auto& info = source_.info();
    source_channels_ = info.channels.size();
    sample_rate_hz_ = info.sample_rate_hz;
    if (source_channels_ == 0)
        throw std::invalid_argument("stream: the source has no channels");
    if (!(sample_rate_hz_ > 0.0) || !std::isfinite(sample_rate_hz_))
        throw std::invalid_argument("stream: the source has no sample rate");
    channels_ = wire_channels(config_.protocol, source_channels_);
    const auto& f = config_.faults;
    if (!(f.corrupt_rate >= 0.0 && f.drop_rate >= 0.0 && f.corrupt_rate + f.drop_rate < 1.0))
        throw std::invalid_argument(
            "stream: corrupt and drop rates must be >= 0 with a sum below 1");
    if (config_.protocol == Protocol::Semg) {
        if (source_channels_ > semg_frame::max_channels)
            throw std::invalid_argument("stream: too many channels for the SEMG frame");
        if (sample_rate_hz_ * 1000.0 > 4.0e9)
            throw std::invalid_argument("stream: sample rate too high for the SEMG frame");
        frames_per_packet_ =
            config_.semg_frames_per_packet > 0
                ? config_.semg_frames_per_packet
                : std::max<std::size_t>(
                      1, static_cast<std::size_t>(std::lround(sample_rate_hz_ * 0.004)));
        frames_per_packet_ = std::min<std::size_t>(frames_per_packet_, 65535);
    }
    if (config_.protocol == Protocol::Ascii &&
        (config_.ascii_decimals < 0 || config_.ascii_decimals > 9))
        throw std::invalid_argument("stream: ASCII decimals must be 0 to 9");
    block_ = dsp::Block(source_channels_, 1024);
}

void PacketStream::fill(std::size_t frames) {
    while (available() < frames && !source_done_) {
        const std::size_t n = source_.read(block_.capacity_ref());
        if (n == 0) {
            source_done_ = true;
            break;
        }
        const std::size_t need = n * channels_;
        if (end_ + need > frames_.size()) {
            if (begin_ > 0) {
                std::memmove(frames_.data(), frames_.data() + begin_,
                             (end_ - begin_) * sizeof(float));
                end_ -= begin_;
                begin_ = 0;
            }
            if (end_ + need > frames_.size())
                frames_.resize(end_ + need);
        }
        float* dst = frames_.data() + end_;
        for (std::size_t i = 0; i < n; ++i, dst += channels_) {
            for (std::size_t c = 0; c < source_channels_; ++c)
                dst[c] = block_.channel(c)[i];
            std::fill(dst + source_channels_, dst + channels_, 0.0f);
        }
        end_ += need;
    }
}

void PacketStream::encode(const float* frames_uv, std::size_t n) {
    const auto p = config_.protocol;
    if (p == Protocol::Semg) {
        SemgPacketHeader h;
        h.format = config_.semg_format;
        h.channels = static_cast<std::uint16_t>(channels_);
        h.frames = static_cast<std::uint16_t>(n);
        h.sample_rate_mhz = static_cast<std::uint32_t>(std::llround(sample_rate_hz_ * 1000.0));
        h.scale_uv_per_count = config_.semg_scale_uv_per_count;
        h.first_frame = next_frame_;
        append_semg_packet(bytes_, h, std::span<const float>(frames_uv, n * channels_));
        return;
    }
    for (std::size_t i = 0; i < n; ++i) {
        const std::span<const float> frame(frames_uv + i * channels_, channels_);
        const std::uint64_t index = next_frame_ + i;
        if (p == Protocol::Cyton) {
            const auto packet = encode_cyton_packet(static_cast<std::uint8_t>(index & 0xFF), frame,
                                                    config_.cyton_gain);
            bytes_.insert(bytes_.end(), packet.begin(), packet.end());
        } else if (p == Protocol::CytonDaisy) {
            const auto packets = encode_cyton_daisy_frame(
                static_cast<std::uint8_t>((2 * index) & 0xFF), frame, config_.cyton_gain);
            bytes_.insert(bytes_.end(), packets.begin(), packets.end());
        } else if (p == Protocol::OpenEeg) {
            const auto packet = encode_openeeg_packet(static_cast<std::uint8_t>(index & 0xFF),
                                                      frame, config_.openeeg);
            bytes_.insert(bytes_.end(), packet.begin(), packet.end());
        } else { // ascii
            AsciiLineFormat format;
            format.decimals = config_.ascii_decimals;
            const std::string line = encode_ascii_line(frame, format);
            bytes_.insert(bytes_.end(), line.begin(), line.end());
        }
    }
}

void PacketStream::corrupt() {
    const auto p = config_.protocol;
    if (p == Protocol::Semg) {
        // A sample or CRC-32 byte: the header still passes, the packet CRC fails (one
        // bad_checksums), whatever the value.
        std::uniform_int_distribution<std::size_t> where(semg_frame::header_bytes,
                                                         bytes_.size() - 1);
        std::uniform_int_distribution<int> flip(1, 255);
        bytes_[where(rng_)] ^= static_cast<std::uint8_t>(flip(rng_));
    } else if (p == Protocol::Cyton || p == Protocol::CytonDaisy) {
        bytes_[cyton::packet_bytes - 1] = 0x00; // no longer a footer
    } else if (p == Protocol::OpenEeg) {
        // The version byte: the packet fails, while its sync bytes still confirm the previous
        // packet for a parser that is hunting (a broken sync would cost that packet too).
        bytes_[2] = 0x00;
    } else { // ascii: a digit of the data line (the header goes with the first packet only)
        std::vector<std::size_t> digits;
        for (std::size_t i = 0; i < bytes_.size(); ++i)
            if (bytes_[i] >= '0' && bytes_[i] <= '9')
                digits.push_back(i);
        if (digits.empty())
            return;
        std::uniform_int_distribution<std::size_t> pick(0, digits.size() - 1);
        bytes_[digits[pick(rng_)]] = '#';
    }
}

bool PacketStream::next(Packet& packet) {
    for (;;) {
        // One packet of look-ahead tells whether this is the last packet.
        fill(2 * frames_per_packet_);
        const std::size_t avail = available();
        if (avail == 0)
            return false;
        const std::size_t n = std::min(frames_per_packet_, avail);
        const bool last = source_done_ && avail <= frames_per_packet_;
        const bool first = stats_.packets == 0;
        bytes_.clear();
        if (config_.protocol == Protocol::Ascii && config_.ascii_header && !header_sent_) {
            std::vector<std::string> labels;
            // Spaces separate values in ASCII lines: "ES L4 L" is sent as "ES_L4_L".
            for (const auto& ch : source_.info().channels) {
                std::string label = ch.label;
                std::replace(label.begin(), label.end(), ' ', '_');
                std::replace(label.begin(), label.end(), '\t', '_');
                std::replace(label.begin(), label.end(), ',', '_');
                labels.push_back(label);
            }
            const std::string header = encode_ascii_header(labels);
            bytes_.insert(bytes_.end(), header.begin(), header.end());
            header_sent_ = true;
        }
        encode(frames_.data() + begin_, n);
        begin_ += n * channels_;
        next_frame_ += n;
        ++stats_.packets;
        stats_.frames += n;

        // Always draw, so that the fault pattern does not depend on where the stream ends.
        const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        const auto& f = config_.faults;
        const bool may_fault = !first && !last;
        const bool drop = may_fault && u < f.drop_rate;
        const bool bad = may_fault && !drop && u < f.drop_rate + f.corrupt_rate;
        if (drop || bad) {
            stats_.lost_frames += n;
            if (!previous_lost_)
                ++stats_.lost_runs;
        }
        previous_lost_ = drop || bad;
        if (drop) {
            ++stats_.dropped_packets;
            continue;
        }
        if (bad) {
            corrupt();
            ++stats_.corrupted_packets;
        }
        stats_.bytes += bytes_.size();
        packet = {std::span<const std::uint8_t>(bytes_), next_frame_};
        return true;
    }
}

SerialStreamer::SerialStreamer(Source& source, SerialStreamerConfig config)
    : packets_(source, config.packets), config_(std::move(config)) {
    if (!(config_.speed >= 0.0) || !std::isfinite(config_.speed))
        throw std::invalid_argument("stream: speed must be >= 0");
}

StreamStats SerialStreamer::run(SerialTransport& port, std::stop_token stop) {
    using clock = std::chrono::steady_clock;
    // A device with start commands (the Cyton) waits for them and stops at its stop command.
    const bool cyton = !traits(config_.packets.protocol).start_commands.empty();
    std::atomic<bool> started{!(cyton && config_.wait_for_start_command)};
    std::atomic<bool> stop_command{false};
    std::atomic<bool> port_gone{false};
    port.start(
        [&](std::span<const std::uint8_t> bytes) {
            if (!cyton)
                return;
            for (const std::uint8_t b : bytes) {
                if (b == static_cast<std::uint8_t>(cyton::command_start_streaming))
                    started = true;
                if (b == static_cast<std::uint8_t>(cyton::command_stop_streaming) && started)
                    stop_command = true;
            }
        },
        [&](const std::error_code&) { port_gone = true; });
    auto halted = [&] { return stop.stop_requested() || stop_command || port_gone; };
    while (!started && !halted())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));

    const auto t0 = clock::now();
    auto last_progress = t0;
    PacketStream::Packet packet;
    while (!halted() && packets_.next(packet)) {
        if (config_.speed > 0.0) {
            const double due_s =
                static_cast<double>(packet.end_frame) / packets_.sample_rate_hz() / config_.speed;
            std::this_thread::sleep_until(t0 + std::chrono::duration_cast<clock::duration>(
                                                   std::chrono::duration<double>(due_s)));
        }
        while (port.pending_bytes() > config_.max_pending_bytes && !halted())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        port.send(std::string(packet.bytes.begin(), packet.bytes.end()));
        const auto now = clock::now();
        if (on_progress && now - last_progress > std::chrono::milliseconds(100)) {
            on_progress(packets_.stats());
            last_progress = now;
        }
    }
    // Let the queue drain (a receiver may be slower than us at the very end).
    const auto deadline = clock::now() + std::chrono::seconds(5);
    while (port.pending_bytes() > 0 && !port_gone && !stop.stop_requested() &&
           clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    port.stop();
    if (on_progress)
        on_progress(packets_.stats());
    return packets_.stats();
}

} // namespace semg::acquisition
