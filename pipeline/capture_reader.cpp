#include "pipeline/capture_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>

namespace semg::pipeline {

using Clock = CaptureClock;

namespace {

std::size_t next_pow2(std::size_t v) {
    std::size_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

} // namespace

CaptureReader::CaptureReader(const CaptureSettings& settings, DeviceCommands commands,
                             CaptureEventQueue& events)
    : settings_(settings), commands_(std::move(commands)), events_(events),
      parser_(acquisition::make_parser(settings.protocol)),
      assembler_(std::make_unique<acquisition::FrameAssembler>(
          acquisition::FrameAssembler::Config{}, [this](std::size_t n) { on_format(n); },
          [this](const acquisition::AssembledBlock& b) { on_block(b); })) {}

CaptureReader::~CaptureReader() {
    if (transport_)
        transport_->stop();
    close_rings();
}

// ---- session thread ----

void CaptureReader::open() {
    transport_ = std::make_unique<acquisition::SerialTransport>(settings_.serial);
    transport_->start([this](std::span<const std::uint8_t> b) { on_bytes(b); },
                      [this](const std::error_code& ec) { on_end(ec); });
    transport_->send(commands_.start);
}

void CaptureReader::close(bool polite) {
    if (!transport_)
        return;
    transport_->stop(polite ? commands_.stop : std::string());
    transport_.reset();
}

void CaptureReader::begin_reconnect() {
    fill_baseline_pending_ = true;
    mark_frame_time(Clock::now()); // the stall clock restarts with the port
}

std::optional<std::string> CaptureReader::check_fill_at_end() {
    if (!rejection_.empty() || !check_fill(parser_->counters(), 0.0))
        return std::nullopt;
    return rejection_;
}

void CaptureReader::close_rings() noexcept {
    if (dsp_ring_)
        dsp_ring_->close();
    if (recorder_ring_)
        recorder_ring_->close();
}

// ---- health ----

acquisition::ParserCounters CaptureReader::counters() const {
    std::lock_guard lock(counters_mutex_);
    return counters_;
}

double CaptureReader::ring_pct(bool dsp) const noexcept {
    const auto& ring = dsp ? dsp_ring_ : recorder_ring_;
    if (!ring)
        return 0.0;
    return 100.0 * static_cast<double>(ring->size()) / static_cast<double>(ring->capacity());
}

double CaptureReader::silence_s() const {
    const auto ticks = last_frame_ticks_.load(std::memory_order_acquire);
    if (ticks == 0)
        return 0.0;
    return std::chrono::duration<double>(Clock::now() - Clock::time_point(Clock::duration(ticks)))
        .count();
}

// ---- I/O thread ----

void CaptureReader::on_bytes(std::span<const std::uint8_t> bytes) {
    read_time_ = Clock::now();
    parser_->feed(bytes, *assembler_);
    assembler_->flush(); // a frame never waits for the next read
    check_stream(parser_->counters());
    std::lock_guard lock(counters_mutex_);
    counters_ = parser_->counters();
}

void CaptureReader::on_end(const std::error_code& ec) {
    events_.post(CaptureEventKind::DeviceEnded, ec.message());
}

void CaptureReader::mark_frame_time(Clock::time_point t) {
    last_frame_read_ = t;
    last_frame_ticks_.store(t.time_since_epoch().count(), std::memory_order_release);
}

// Bytes that are not the protocol (random data, a wrong baud rate) still pass its checks now and
// then, so they do not stop at the start timeout: they make a recording of noise and fill. Two
// signs reject the stream (docs/capture.md, "Stopping"): sync failures in a row with no frame
// between them (text lines, checksummed frames), and a recording that is mostly gap fill (Cyton,
// whose 8-bit counter makes every false packet a gap).
void CaptureReader::check_stream(const acquisition::ParserCounters& k) {
    const std::uint64_t failures = k.sync_losses + k.bad_checksums + k.bad_lines;
    const bool frames = k.frames > seen_frames_;
    if (frames) {
        // Per read: a read that decoded a frame ends the run of failures.
        failure_streak_ = 0;
        if (last_frame_read_ != Clock::time_point{})
            longest_silence_s_.store(
                std::max(longest_silence_s_.load(),
                         std::chrono::duration<double>(read_time_ - last_frame_read_).count()));
        mark_frame_time(read_time_);
        if (fill_baseline_pending_) {
            // The first frames after a reconnection reveal the outage as one gap: a device that
            // kept counting, not a sign of a wrong stream.
            fill_baseline_pending_ = false;
            fill_base_frames_ = k.frames;
            fill_base_lost_ = k.lost_samples;
        }
    } else {
        failure_streak_ += failures - seen_failures_;
    }
    seen_failures_ = failures;
    seen_frames_ = k.frames;
    const std::string hint =
        fmt::format("is the device sending {} data? check --protocol and --baud",
                    to_string(settings_.protocol.name));
    if (failure_streak_ >= settings_.max_sync_failures) {
        reject(fmt::format("{} sync failures (sync losses, bad checksums, bad lines) with no "
                           "frame between them (--max-sync-failures {}): {}",
                           failure_streak_, settings_.max_sync_failures, hint));
        return;
    }
    check_fill(k, settings_.fill_min_stream_s);
}

// The gap-fill share since the start or the last reconnection, once the stream holds
// min_stream_s of samples. True when it rejects the stream now.
bool CaptureReader::check_fill(const acquisition::ParserCounters& k, double min_stream_s) {
    const double rate_hz = parser_->sample_rate_hz();
    if (fill_baseline_pending_ || !(rate_hz > 0.0))
        return false;
    const std::uint64_t lost = k.lost_samples - fill_base_lost_;
    const std::uint64_t total = k.frames - fill_base_frames_ + lost;
    if (total > 0 && static_cast<double>(total) >= min_stream_s * rate_hz &&
        100.0 * static_cast<double>(lost) > settings_.max_fill_pct * static_cast<double>(total)) {
        if (!rejection_.empty())
            return false;
        reject(fmt::format("{:.1f} % of the {:.1f} s of stream is gap fill (--max-fill-pct "
                           "{}): the sample counter jumps at random; is the device sending "
                           "{} data? check --protocol and --baud",
                           100.0 * static_cast<double>(lost) / static_cast<double>(total),
                           static_cast<double>(total) / rate_hz, settings_.max_fill_pct,
                           to_string(settings_.protocol.name)));
        return true;
    }
    return false;
}

void CaptureReader::reject(const std::string& why) {
    if (!rejection_.empty())
        return;
    rejection_ = why;
    failed_ = true;
    events_.post(CaptureEventKind::StreamRejected, why);
}

void CaptureReader::on_format(std::size_t n) {
    try {
        auto& f = format_;
        f.fs = parser_->sample_rate_hz();
        if (!(f.fs > 0.0) || !std::isfinite(f.fs))
            throw CaptureError("the " + std::string(parser_->name()) +
                               " stream gives no sample rate");
        if (f.fs != std::round(f.fs))
            throw CaptureError(
                fmt::format("the device sends {} Hz: raw.bdf needs a whole number of samples "
                            "per second",
                            f.fs));
        if (settings_.expected_channels && *settings_.expected_channels != n)
            throw CaptureError(fmt::format("the device sends {} channels, --channels says {}", n,
                                           *settings_.expected_channels));
        f.labels = settings_.labels.empty() ? parser_->channel_labels() : settings_.labels;
        if (f.labels.size() != n)
            throw CaptureError(fmt::format("{} labels given for {} channels", f.labels.size(), n));
        for (auto& l : f.labels)
            if (l.size() > 16)
                l.resize(16); // the EDF label field
        f.channels = n;
        const auto range = settings_.range_uv.value_or(default_range_uv(settings_.protocol));
        f.grid.emplace(range.first, range.second);
        // About 5 ms of frames per slot: reads of a fast stream fill it, one frame of a 250 Hz
        // stream does not waste much.
        f.slot_frames = std::clamp<std::size_t>(
            next_pow2(static_cast<std::size_t>(std::ceil(f.fs * 0.005))), 4, 1024);
        assembler_->set_block_frames(f.slot_frames);
        assembler_->set_max_gap_fill_frames(
            static_cast<std::uint64_t>(settings_.max_gap_fill_s * f.fs));
        auto slots_for = [&](double seconds) {
            // Twice the nominal count: slots of small reads are only partly filled.
            return std::max<std::size_t>(
                64, static_cast<std::size_t>(
                        std::ceil(seconds * f.fs / static_cast<double>(f.slot_frames))) *
                        2);
        };
        const auto init = [&f](RawSlot& s) { s.samples.assign(f.channels * f.slot_frames, 0.0f); };
        dsp_ring_ = std::make_unique<SpscRing<RawSlot>>(slots_for(settings_.dsp_ring_s), init);
        recorder_ring_ =
            std::make_unique<SpscRing<RawSlot>>(slots_for(settings_.recorder_ring_s), init);
        if (settings_.duration_s) {
            const double whole_s = std::ceil(*settings_.duration_s - 1e-9);
            stop_at_frame_ = static_cast<std::uint64_t>(std::max(1.0, whole_s) * f.fs);
        }
        mark_frame_time(read_time_); // the stall clock starts with the first frame
        format_ready_.store(true, std::memory_order_release);
        events_.post(CaptureEventKind::FormatReady);
    } catch (const std::exception& e) {
        failed_ = true;
        events_.post(CaptureEventKind::ReaderFailed, e.what());
    }
}

bool CaptureReader::push(SpscRing<RawSlot>& ring, const acquisition::AssembledBlock& b,
                         std::size_t n, std::atomic<std::uint64_t>& overrun) {
    RawSlot* slot = ring.try_claim();
    if (!slot) {
        // Never drop silently: wait for the consumer (the kernel buffers the port meanwhile), and
        // only then count the frames as lost for this consumer.
        const auto deadline = Clock::now() + settings_.block_wait;
        while (!(slot = ring.try_claim()) && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (!slot) {
        overrun += n;
        return false;
    }
    slot->first_frame = b.first_frame;
    slot->frames = n;
    slot->lost_frames = b.lost_frames;
    slot->filled_frames = b.filled_frames;
    slot->arrival = read_time_;
    const std::size_t slot_frames = format_.slot_frames;
    for (std::size_t c = 0; c < format_.channels; ++c)
        std::copy_n(b.samples.channel(c), n, slot->samples.data() + c * slot_frames);
    ring.publish();
    return true;
}

void CaptureReader::on_block(const acquisition::AssembledBlock& b) {
    if (!format_ready_.load(std::memory_order_relaxed) || failed_)
        return;
    const auto fs_frames = static_cast<std::uint64_t>(format_.fs);
    if (stop_at_second_ && !second_limit_set_) {
        // The reader computes the whole-second limit from its own position, so no frame already
        // handed on can lie beyond it.
        const std::uint64_t limit = (b.first_frame + fs_frames - 1) / fs_frames * fs_frames;
        stop_at_frame_ = std::min(stop_at_frame_.load(), limit);
        second_limit_set_ = true;
    }
    const std::uint64_t limit = stop_at_frame_.load();
    auto tell_limit = [&] {
        if (!limit_told_) {
            limit_told_ = true;
            events_.post(CaptureEventKind::LimitReached);
        }
    };
    if (b.first_frame >= limit) {
        tell_limit();
        return;
    }
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(b.samples.frames, limit - b.first_frame));
    const BdfGrid& grid = *format_.grid;
    for (std::size_t c = 0; c < format_.channels; ++c) {
        float* x = b.samples.channel(c);
        for (std::size_t i = 0; i < n; ++i) {
            if (grid.clips(x[i]))
                ++clipped_local_;
            x[i] = grid.quantise(x[i]);
        }
    }
    clipped_.store(clipped_local_, std::memory_order_relaxed);
    // Received before it is handed on: the DSP thread, which takes the marker horizon from this,
    // never sees a sample beyond it.
    frames_received_.store(b.first_frame + n);
    push(*recorder_ring_, b, n, recorder_overrun_);
    push(*dsp_ring_, b, n, dsp_overrun_);
    if (b.first_frame + n >= limit)
        tell_limit();
}

} // namespace semg::pipeline
