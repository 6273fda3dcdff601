// The one event queue of `semg capture`: how the reader, the DSP worker, the recorder, the marker
// inputs and the signal thread tell the session what happened, and how the terminal view and the
// dashboard follow the capture. Samples never pass through it (they go through the SPSC rings of
// capture_reader.hpp).
//
// Three lanes, one object:
//   control events   post() from any thread -> wait() on the session thread. Lossless, FIFO,
//                    a few per second at most (format known, device gone, stop requested, a
//                    worker failed, markers changed, ...). The session turns them into its own
//                    state; no flag is shared between threads.
//   live epochs      publish_epoch() on the DSP thread -> pop_epoch() on the session thread,
//                    which hands them to the subscribers. A slow terminal must never hold up the
//                    analysis: the lane keeps 16 epochs and drops the oldest, counted
//                    (epochs_dropped(), `live_view_dropped_epochs`).
//   direct           publish_rows() / publish_fits() on the DSP thread call the subscribers that
//                    are thread-safe and never wait (the dashboard, which has its own drop-oldest
//                    hand-over to its thread: pipeline/dashboard.hpp) as the rows are written.
// Subscribers (CaptureSubscriber) are registered on the session thread before the workers start
// and stay until they have been joined.
#pragma once

#include "pipeline/capture_ring.hpp"
#include "pipeline/capture_view.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace semg::pipeline {

enum class CaptureEventKind {
    FormatReady,    // reader: the first frame fixed the rate, channels and the rings
    ReaderFailed,   // reader: the stream cannot be recorded (text: why)
    StreamRejected, // reader: the bytes are not the protocol (text: why)
    DeviceEnded,    // reader: the port closed or failed (text: the system's message)
    LimitReached,   // reader: the frame limit (duration, or the whole second after a stop)
    RecorderFailed, // recorder (text: why)
    DspFailed,      // DSP worker (text: why)
    Warning,        // any worker: a message for the user (text)
    StopRequested,  // signal thread (text: the reason)
    MarksChanged,   // marker inputs: the marker book changed, redraw it
    Resized,        // signal thread: the terminal changed size
};

struct CaptureEvent {
    CaptureEventKind kind;
    std::string text;
};

// What the terminal view and the dashboard implement; every method has a default that ignores it.
class CaptureSubscriber {
public:
    enum class Topic { Epochs, Marks, Messages, Stalls, Fits };
    virtual ~CaptureSubscriber() = default;
    virtual bool wants(Topic) const { return false; }

    // ---- direct, on the DSP thread: must not block, lock for long or throw ----
    // The epoch's rows, the very text just written to epochs.csv and pairs.csv.
    virtual void epoch_rows(std::uint64_t /*index*/, std::string_view /*epochs_rows*/,
                            std::string_view /*pairs_rows*/) {}
    // The running fits as summary.json would give them (Topic::Fits), every few epochs.
    virtual void fits(nlohmann::ordered_json /*summary*/) {}

    // ---- queued, on the session thread ----
    virtual void started(const nlohmann::ordered_json& /*header*/) {}
    virtual void epoch(const LiveEpoch& /*e*/, const CaptureHealth& /*h*/) {}
    // Health every health_period() (zero: never), and at once when a stall begins (Topic::Stalls).
    virtual std::chrono::milliseconds health_period() const { return {}; }
    virtual void health(const CaptureHealth& /*h*/) {}
    virtual void stall(const CaptureHealth& /*h*/) {}
    virtual void marks(const std::vector<std::string>& /*new_lines*/, const LiveMarks& /*m*/) {}
    virtual void message(const std::string& /*text*/) {} // Topic::Messages: "semg: ..." lines
    // The capture has stopped (every thread joined), with the last health ...
    virtual void stopped(const CaptureHealth& /*last*/) {}
    // ... and its results were written (summary.json) or not (error).
    virtual void finished(const std::optional<nlohmann::ordered_json>& /*summary*/,
                          const std::string& /*error*/) {}
};

class CaptureEventQueue {
public:
    // ---- control events ----
    void post(CaptureEventKind kind, std::string text = {}) {
        {
            std::lock_guard lock(mutex_);
            events_.push_back({kind, std::move(text)});
        }
        cv_.notify_one();
    }
    // Session thread: waits up to `timeout` for an event, then moves every queued one to `out`
    // (cleared first), oldest first.
    void wait(std::chrono::milliseconds timeout, std::vector<CaptureEvent>& out) {
        out.clear();
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, timeout, [&] { return !events_.empty(); });
        out.swap(events_);
    }

    // ---- subscribers (session thread, before the workers start) ----
    void subscribe(CaptureSubscriber& s) { subscribers_.push_back(&s); }
    const std::vector<CaptureSubscriber*>& subscribers() const noexcept { return subscribers_; }
    bool wanted(CaptureSubscriber::Topic t) const {
        for (const auto* s : subscribers_)
            if (s->wants(t))
                return true;
        return false;
    }

    // ---- live epochs ----
    // Session thread, once the analysis knows its channels: preallocates the 16 slots.
    void open_epoch_lane(const std::function<void(LiveEpoch&)>& init) {
        epochs_ = std::make_unique<DropOldestRing<LiveEpoch>>(16, init);
    }
    bool epoch_lane_open() const noexcept { return epochs_ != nullptr; }
    template <class Fill> void publish_epoch(Fill&& fill) { epochs_->push(fill); }
    template <class Take> bool pop_epoch(Take&& take) { return epochs_ && epochs_->pop(take); }
    std::uint64_t epochs_dropped() const { return epochs_ ? epochs_->dropped() : 0; }

    // ---- direct ----
    void publish_rows(std::uint64_t index, std::string_view epochs_rows,
                      std::string_view pairs_rows) {
        for (auto* s : subscribers_)
            s->epoch_rows(index, epochs_rows, pairs_rows);
    }
    // `make` runs only when a subscriber wants the fits (it costs a snapshot of the analysis).
    void publish_fits(const std::function<nlohmann::ordered_json()>& make) {
        if (!wanted(CaptureSubscriber::Topic::Fits))
            return;
        const auto summary = make();
        for (auto* s : subscribers_)
            if (s->wants(CaptureSubscriber::Topic::Fits))
                s->fits(summary);
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<CaptureEvent> events_; // guarded by mutex_
    std::vector<CaptureSubscriber*> subscribers_;
    std::unique_ptr<DropOldestRing<LiveEpoch>> epochs_;
};

} // namespace semg::pipeline
