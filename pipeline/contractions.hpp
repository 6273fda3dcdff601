// Contraction segments: given (annotations, --segment) or detected causally from the amplitude
// envelope (docs/contractions.md). The envelope is the RMS over all EMG channels of the recording
// (whatever channels are analysed, so that --channels never moves a segment) in 50 ms windows.
// Thresholds adapt to the recording instead of assuming that it starts at rest:
//   rest level     = the lowest mean envelope over rest_window_s seen so far,
//   activity level = the highest mean envelope over activity_window_s seen so far,
//   threshold      = max(rest_ratio x rest, rest + activity_fraction x (activity - rest)),
// both levels ignoring the first settle_s (the band-pass start-up transient of a DC offset) and
// windows below kFlatUv (a flat input is not rest). An activity period starts after min_on_s
// above the threshold and ends after min_off_s below it (Hodges & Bui 1996 style); its boundary
// is the first window of the run that confirmed it. Periods are grouped into contractions:
//   - a series of at least min_bursts periods, each shorter than burst_max_s and at most
//     burst_gap_max_s apart, is one contraction of repeated bursts (cyclic or dynamic work),
//     fitted across bursts with one point per burst;
//   - any other period of at least min_duration_s is a sustained contraction (a hold);
//   - shorter lone periods are dropped.
// Causal with a bounded delay (decided_until_s), so capture and files give the same segments;
// process() is noexcept and allocation-free.
#pragma once

#include "dsp/block.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace semg::pipeline {

struct Contraction {
    double start_s = 0.0;
    double end_s = std::numeric_limits<double>::infinity(); // open while the hold goes on
    // Detected: the activity periods [first_period, first_period + periods) of
    // ContractionDetector::periods() it is made of: one for a hold, several for repeated bursts.
    // Given segments (annotations, --segment, whole recording) have periods == 0.
    bool bursts = false;
    std::size_t first_period = 0;
    std::size_t periods = 0;
};

class ContractionDetector {
public:
    struct Config {
        double window_s = 0.05;
        double settle_s = 0.5;
        double rest_window_s = 0.25;
        double activity_window_s = 1.0;
        double rest_ratio = 2.0;
        double activity_fraction = 0.1;
        double min_on_s = 1.0;
        double min_off_s = 0.5;
        double min_duration_s = 5.0;
        double burst_max_s = 10.0;
        double burst_gap_max_s = 5.0;
        std::size_t min_bursts = 5;
    };
    // Activity periods kept (the first ones; later ones are ignored): bounded memory.
    static constexpr std::size_t kMaxPeriods = 4096;
    // Windows whose RMS is below this are a flat input, not rest: they set no level.
    static constexpr double kFlatUv = 0.01;

    explicit ContractionDetector(Config config); // throws std::invalid_argument
    void prepare(double sample_rate_hz);
    // Band-passed EMG, every EMG channel of the recording.
    void process(dsp::ConstBlockRef filtered) noexcept;
    // Every time before this is classified for good.
    double decided_until_s() const noexcept;
    // Activity periods confirmed so far (the last may still be open), in order.
    const std::vector<Contraction>& periods() const noexcept { return periods_; }
    // The contractions the periods make so far (grouping above). A hold still shorter than
    // min_duration_s, or a series still shorter than min_bursts, is not (yet) among them.
    std::vector<Contraction> contractions() const;
    bool accepted(std::size_t index) const { return index < contractions().size(); }
    double threshold_uv() const noexcept { return threshold_uv_; }
    double rest_uv() const noexcept { return rest_uv_; }
    double activity_uv() const noexcept { return activity_uv_; }
    const Config& config() const noexcept { return config_; }

private:
    void on_window(double rms_uv) noexcept;

    Config config_;
    std::size_t window_frames_ = 0;
    std::size_t filled_ = 0;
    double sum_sq_ = 0.0;
    std::uint64_t windows_ = 0;
    std::size_t settle_windows_ = 0;
    // Moving sums of the last rest_windows_ and activity_windows_ envelope values.
    std::size_t rest_windows_ = 0, activity_windows_ = 0;
    std::vector<double> history_; // ring of the last activity_windows_ values
    double rest_sum_ = 0.0, activity_sum_ = 0.0;
    std::size_t seen_ = 0; // windows after settling in the ring
    double rest_uv_ = std::numeric_limits<double>::infinity();
    double activity_uv_ = 0.0;
    double threshold_uv_ = std::numeric_limits<double>::infinity();
    bool active_ = false;
    std::uint64_t run_start_ = 0; // first window of the current run against the state
    std::uint64_t run_length_ = 0;
    bool stored_ = false; // the period going on is in periods_ (false once kMaxPeriods is reached)
    std::vector<Contraction> periods_;
};

} // namespace semg::pipeline
