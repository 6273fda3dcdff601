// The reader of `semg capture`: bytes from the serial port to sample slots in two rings.
//
// Thread: semg-serial, the Asio I/O thread of the SerialTransport (on_bytes, on_format, on_block,
// on_end). The session thread calls open() / close() and, while no transport runs (before the
// first open, between a device's end and the reconnection, after close()), may use the rest.
// Owns: the transport, the protocol parser, the FrameAssembler, the stream's format (rate,
// channels, labels, BDF grid, slot size: fixed by the first frame), the reader -> DSP and reader
// -> recorder SPSC rings (the producer end), the frame limit, the stream checks (sync-failure
// streak, gap-fill share) and the counters the health line shows.
// Tells the session through the event queue: FormatReady, ReaderFailed, StreamRejected,
// DeviceEnded, LimitReached. Never waits on the disk or the DSP except when a ring is full
// (settings.block_wait, then the frames are counted as an overrun of that ring: never silent).
#pragma once

#include "acquisition/protocol_source.hpp"
#include "acquisition/serial_port.hpp"
#include "pipeline/capture.hpp"
#include "pipeline/capture_events.hpp"
#include "pipeline/capture_ring.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace semg::pipeline {

using CaptureClock = std::chrono::steady_clock;

// One slot of a reader ring: up to `slot_frames` frames, planar.
struct RawSlot {
    std::uint64_t first_frame = 0;
    std::size_t frames = 0;
    std::uint64_t lost_frames = 0;      // a device gap before this slot (filled with zeros in it)
    std::uint64_t filled_frames = 0;    // of those, filled (the rest is beyond max_gap_fill_s)
    CaptureClock::time_point arrival{}; // the read that delivered the slot
    std::vector<float> samples;         // planar, channels × slot capacity
};

// The stream as the first frame fixed it; constant once FormatReady is posted.
struct StreamFormat {
    double fs = 0.0;
    std::size_t channels = 0;
    std::size_t slot_frames = 0;
    std::vector<std::string> labels; // at most 16 characters (the EDF label field)
    std::optional<BdfGrid> grid;

    // One slot of 0 µV on the BDF grid: what a lost frame becomes, for the recorder and the
    // analysis alike (allocates: made once, before the worker's loop).
    dsp::Block zero_block() const {
        dsp::Block zeros(channels, slot_frames);
        const float zero = grid->quantise(0.0f);
        for (std::size_t c = 0; c < channels; ++c)
            std::fill_n(zeros.channel(c), slot_frames, zero);
        return zeros;
    }
};

// What the protocol asks of the device (pipeline/capture.cpp knows the protocols).
struct DeviceCommands {
    std::string start; // sent at every open (Cyton: `b`)
    std::string stop;  // sent at a polite close (Cyton: `s`)
    // A reconnection loses the samples sent meanwhile without a count (no or a short counter).
    bool reconnect_loss_uncounted = false;
};

class CaptureReader {
public:
    CaptureReader(const CaptureSettings& settings, DeviceCommands commands,
                  CaptureEventQueue& events);
    ~CaptureReader(); // stops the transport, closes the rings

    // ---- session thread ----
    // Opens the port and sends the protocol's start commands; throws acquisition::SerialError.
    void open();
    // Stops the transport (polite: with the protocol's stop commands); no-op without one.
    void close(bool polite);
    bool has_transport() const noexcept { return transport_ != nullptr; }
    const DeviceCommands& commands() const noexcept { return commands_; }
    // After a device's end, before open(): the next frames set the gap-fill baseline (the outage
    // is one legitimate gap) and the stall clock restarts now.
    void begin_reconnect();
    // The first stop request: the stream ends at the next whole second of samples.
    void stop_at_next_second() noexcept { stop_at_second_ = true; }
    // No transport: pushes out the frames the assembler holds.
    void flush() { assembler_->flush(); }
    // No transport: the gap-fill check at the end, whatever the stream's length (slow noise can
    // stall before it makes fill_min_stream_s). Returns the rejection, if this one rejects.
    std::optional<std::string> check_fill_at_end();
    void close_rings() noexcept;
    acquisition::ParserCounters final_counters() const { return parser_->counters(); }
    std::uint64_t filled_frames() const { return assembler_->filled_frames(); }
    std::uint64_t unfilled_frames() const { return assembler_->unfilled_frames(); }

    // ---- after FormatReady (any thread) ----
    bool format_ready() const noexcept { return format_ready_.load(std::memory_order_acquire); }
    const StreamFormat& format() const noexcept { return format_; }
    SpscRing<RawSlot>& dsp_ring() noexcept { return *dsp_ring_; }
    SpscRing<RawSlot>& recorder_ring() noexcept { return *recorder_ring_; }

    // ---- health (any thread) ----
    std::uint64_t frames_received() const noexcept { return frames_received_.load(); }
    acquisition::ParserCounters counters() const;
    std::uint64_t clipped() const noexcept { return clipped_.load(std::memory_order_relaxed); }
    std::uint64_t recorder_overrun() const noexcept { return recorder_overrun_.load(); }
    std::uint64_t dsp_overrun() const noexcept { return dsp_overrun_.load(); }
    double ring_pct(bool dsp) const noexcept;
    // Host time since the last frame arrived; 0 before the first.
    double silence_s() const;
    double longest_silence_s() const noexcept { return longest_silence_s_.load(); }

private:
    void on_bytes(std::span<const std::uint8_t> bytes);
    void on_end(const std::error_code& ec);
    void on_format(std::size_t channels);
    void on_block(const acquisition::AssembledBlock& b);
    void mark_frame_time(CaptureClock::time_point t);
    void check_stream(const acquisition::ParserCounters& k);
    bool check_fill(const acquisition::ParserCounters& k, double min_stream_s);
    void reject(const std::string& why);
    bool push(SpscRing<RawSlot>& ring, const acquisition::AssembledBlock& b, std::size_t n,
              std::atomic<std::uint64_t>& overrun);

    const CaptureSettings& settings_;
    const DeviceCommands commands_;
    CaptureEventQueue& events_;
    std::unique_ptr<acquisition::Parser> parser_;
    std::unique_ptr<acquisition::FrameAssembler> assembler_;
    std::unique_ptr<acquisition::SerialTransport> transport_;

    // I/O thread (the session's while no transport runs)
    CaptureClock::time_point read_time_{};
    bool failed_ = false; // rejected, or the format is unusable: nothing more is handed on
    bool second_limit_set_ = false;
    bool limit_told_ = false;
    std::uint64_t clipped_local_ = 0;
    std::uint64_t seen_failures_ = 0, seen_frames_ = 0, failure_streak_ = 0;
    bool fill_baseline_pending_ = false;
    std::uint64_t fill_base_frames_ = 0, fill_base_lost_ = 0;
    std::string rejection_;
    CaptureClock::time_point last_frame_read_{};

    // Written by the I/O thread before format_ready_ (release), read after it (acquire).
    std::atomic<bool> format_ready_{false};
    StreamFormat format_;
    std::unique_ptr<SpscRing<RawSlot>> dsp_ring_;
    std::unique_ptr<SpscRing<RawSlot>> recorder_ring_;

    // Shared with other threads, each written by one side only.
    std::atomic<bool> stop_at_second_{false}; // session -> reader
    std::atomic<std::uint64_t> stop_at_frame_{std::numeric_limits<std::uint64_t>::max()};
    std::atomic<std::uint64_t> frames_received_{0};
    std::atomic<std::uint64_t> recorder_overrun_{0};
    std::atomic<std::uint64_t> dsp_overrun_{0};
    std::atomic<std::uint64_t> clipped_{0};
    std::atomic<double> longest_silence_s_{0.0};
    std::atomic<CaptureClock::rep> last_frame_ticks_{0}; // last_frame_read_, for the session
    mutable std::mutex counters_mutex_;
    acquisition::ParserCounters counters_; // guarded by counters_mutex_
};

} // namespace semg::pipeline
