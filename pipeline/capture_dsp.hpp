// The DSP worker of `semg capture`: the analysis of every sample, epochs.csv and pairs.csv.
//
// Thread: semg-dsp (start() .. join()); the constructor, open_outputs() and everything after
// join() run on the session thread, which then owns the analysis (finish(), the CSV files).
// Owns: the FatigueAnalysis (the same object and code as `semg analyze`), the epochs.csv and
// pairs.csv writers, the per-epoch latency histograms and the arrival times of recent reads.
// Takes: slots from the reader -> DSP ring (consumer end; a jump in frame numbers is a ring
// overrun, analysed as 0 µV with the gap flag, as the recorder writes it), its share of the
// marker book. Gives: each epoch's rows and the running fits to the direct subscribers and a
// LiveEpoch to the live lane of the event queue; DspFailed when the analysis throws.
#pragma once

#include "pipeline/analysis.hpp"
#include "pipeline/capture.hpp"
#include "pipeline/capture_events.hpp"
#include "pipeline/capture_marks.hpp"
#include "pipeline/capture_reader.hpp"
#include "pipeline/output_dir.hpp"
#include "pipeline/results.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace semg::pipeline {

// Per-epoch latency, 0.05 ms bins up to 2 s: no allocation on the DSP thread.
class LatencyHistogram {
public:
    void add(double ms) noexcept;
    LatencyStats stats() const;

private:
    static constexpr double kBinMs = 0.05;
    double quantile(double q) const;
    std::vector<std::uint32_t> bins_ = std::vector<std::uint32_t>(40000, 0);
    std::size_t count_ = 0;
    double max_ = 0.0;
};

class CaptureDsp {
public:
    // Prepares the analysis (throws as FatigueAnalysis::prepare does). `running_fits`: compute
    // the current contraction's fits for each live epoch (a view shows them).
    CaptureDsp(AnalysisSettings settings, const acquisition::SourceInfo& info,
               const std::function<void(const std::string&)>& warn, const StreamFormat& format,
               SpscRing<RawSlot>& ring, CaptureMarks& marks, CaptureEventQueue& events,
               bool running_fits);
    ~CaptureDsp(); // joins (the ring must be closed first)
    CaptureDsp(const CaptureDsp&) = delete;
    CaptureDsp& operator=(const CaptureDsp&) = delete;

    // Session thread, before start().
    const FatigueAnalysis& analysis() const noexcept { return *analysis_; }
    void open_outputs(OutputDir& out);
    // The input as the running fits' summaries give it (with a subscriber of the fits).
    void set_fits_input(InputFacts facts) { fits_input_ = std::move(facts); }
    void start();
    void join();

    // Any thread: frames analysed so far (the health line's DSP lag).
    std::uint64_t frames_done() const noexcept { return frames_done_.load(); }

    // Session thread, after join().
    FatigueAnalysis& finished_analysis() noexcept { return *analysis_; }
    void close_outputs() {
        epochs_csv_.reset();
        pairs_csv_.reset();
    }
    LatencyStats epoch_latency() const { return latency_.stats(); }
    LatencyStats processing_latency() const { return processing_latency_.stats(); }
    LatencyStats queue_latency() const { return queue_latency_.stats(); }

private:
    void main();
    void on_epoch(const dsp::EpochFrame& f, const EpochDerived& d);
    void publish_fits();
    void take_marks();
    CaptureClock::time_point arrival_of(std::uint64_t frame) const noexcept;

    const StreamFormat& format_;
    SpscRing<RawSlot>& ring_;
    CaptureMarks& marks_;
    CaptureEventQueue& events_;
    const bool running_fits_;
    std::optional<FatigueAnalysis> analysis_;
    std::optional<EpochsCsvWriter> epochs_csv_;
    std::optional<PairsCsvWriter> pairs_csv_;
    std::optional<InputFacts> fits_input_;
    bool failed_ = false;
    std::uint64_t epochs_ = 0, fits_published_ = 0;
    std::vector<std::pair<double, double>> marks_taken_;
    LatencyHistogram latency_; // last input sample of the epoch read -> epoch emitted
    // The read whose samples made the analysis emit the epoch -> the epoch emitted ...
    LatencyHistogram processing_latency_;
    // ... -> the DSP thread starting on those samples (the rings and the wake-up only).
    LatencyHistogram queue_latency_;
    CaptureClock::time_point current_arrival_{};
    CaptureClock::time_point current_start_{};
    // When the reads that delivered recent samples arrived: (end frame of a slot, arrival). The
    // analysis may hold samples back (its ECG stage delays the stream by a fixed amount), so an
    // epoch's last sample can lie some slots back.
    std::vector<std::pair<std::uint64_t, CaptureClock::time_point>> arrivals_ =
        std::vector<std::pair<std::uint64_t, CaptureClock::time_point>>(8192);
    std::uint64_t arrivals_count_ = 0;
    bool flushing_ = false; // the end: no latency for the epochs pushed out by flush()
    std::atomic<std::uint64_t> frames_done_{0};
    std::jthread thread_;
};

} // namespace semg::pipeline
