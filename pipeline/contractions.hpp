// Contraction segments: given (annotations, --segment) or detected causally from the amplitude
// envelope, Hodges & Bui (1996) style: the envelope is the RMS over all EMG channels in 50 ms
// windows; the threshold is mean + max(k·SD, mean) of the first baseline_s of rest; an onset
// needs min_on_s above the threshold, an offset min_off_s below it; contractions shorter than
// min_duration_s are dropped. The boundary is the first window of the run that confirmed it.
// Causal with a bounded delay (decided_until_s), so capture and files give the same segments.
#pragma once

#include "dsp/block.hpp"

#include <limits>
#include <string>
#include <vector>

namespace semg::pipeline {

struct Contraction {
    double start_s = 0.0;
    double end_s = std::numeric_limits<double>::infinity(); // open while the hold goes on
};

class ContractionDetector {
public:
    struct Config {
        double window_s = 0.05;
        double baseline_s = 1.0;
        double k_sd = 3.0;
        double min_on_s = 1.0;
        double min_off_s = 0.5;
        double min_duration_s = 5.0;
    };
    explicit ContractionDetector(Config config);
    void prepare(double sample_rate_hz);
    // Band-passed EMG, every channel.
    void process(dsp::ConstBlockRef filtered) noexcept;
    // Every time before this is classified for good.
    double decided_until_s() const noexcept;
    // Confirmed contractions (the last may still be open), in order. A contraction still shorter
    // than min_duration_s may yet be dropped: accepted() says whether it has reached it.
    const std::vector<Contraction>& contractions() const noexcept { return contractions_; }
    bool accepted(std::size_t index) const noexcept;
    double threshold_uv() const noexcept { return threshold_uv_; }
    const Config& config() const noexcept { return config_; }

private:
    void on_window(double rms_uv) noexcept;

    Config config_;
    double sample_rate_hz_ = 0.0;
    std::size_t window_frames_ = 0;
    std::size_t filled_ = 0;
    double sum_sq_ = 0.0;
    std::size_t channels_ = 0;
    std::uint64_t windows_ = 0;
    // Baseline statistics of the first windows.
    std::size_t baseline_windows_ = 0;
    double base_sum_ = 0.0, base_sum_sq_ = 0.0;
    double threshold_uv_ = std::numeric_limits<double>::infinity();
    bool active_ = false;
    std::uint64_t run_start_ = 0; // first window of the current run against the state
    std::uint64_t run_length_ = 0;
    std::vector<Contraction> contractions_;
};

} // namespace semg::pipeline
