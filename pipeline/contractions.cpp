#include "pipeline/contractions.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace semg::pipeline {

ContractionDetector::ContractionDetector(Config config) : config_(config) {
    if (!(config_.window_s > 0.0 && config_.baseline_s >= config_.window_s && config_.min_on_s >= 0.0 &&
          config_.min_off_s >= 0.0 && config_.min_duration_s >= 0.0))
        throw std::invalid_argument("contraction detector settings must be positive");
}

void ContractionDetector::prepare(double sample_rate_hz) {
    sample_rate_hz_ = sample_rate_hz;
    window_frames_ = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(config_.window_s * sample_rate_hz)));
    baseline_windows_ = static_cast<std::size_t>(std::lround(config_.baseline_s / config_.window_s));
    filled_ = 0;
    sum_sq_ = 0.0;
    windows_ = 0;
    base_sum_ = base_sum_sq_ = 0.0;
    threshold_uv_ = std::numeric_limits<double>::infinity();
    active_ = false;
    run_length_ = 0;
    contractions_.clear();
    contractions_.reserve(64);
}

void ContractionDetector::process(dsp::ConstBlockRef filtered) noexcept {
    channels_ = filtered.channels;
    for (std::size_t i = 0; i < filtered.frames; ++i) {
        for (std::size_t c = 0; c < filtered.channels; ++c) {
            const double v = filtered.channel(c)[i];
            sum_sq_ += v * v;
        }
        if (++filled_ == window_frames_) {
            on_window(std::sqrt(sum_sq_ / static_cast<double>(window_frames_ * std::max<std::size_t>(1, channels_))));
            filled_ = 0;
            sum_sq_ = 0.0;
        }
    }
}

void ContractionDetector::on_window(double rms_uv) noexcept {
    const std::uint64_t w = windows_++;
    if (w < baseline_windows_) {
        base_sum_ += rms_uv;
        base_sum_sq_ += rms_uv * rms_uv;
        if (w + 1 == baseline_windows_) {
            const double n = static_cast<double>(baseline_windows_);
            const double mean = base_sum_ / n;
            const double sd = std::sqrt(std::max(0.0, base_sum_sq_ / n - mean * mean));
            threshold_uv_ = mean + std::max(config_.k_sd * sd, mean);
        }
        return;
    }
    const bool above = rms_uv > threshold_uv_;
    if (above == active_) {
        run_length_ = 0;
        return;
    }
    if (run_length_ == 0) run_start_ = w;
    ++run_length_;
    const double run_s = static_cast<double>(run_length_) * config_.window_s;
    const double start_s = static_cast<double>(run_start_) * config_.window_s;
    if (!active_ && run_s >= config_.min_on_s) {
        active_ = true;
        run_length_ = 0;
        if (contractions_.size() == contractions_.capacity()) return; // bounded: keep the first 64
        contractions_.push_back({start_s});
    } else if (active_ && run_s >= config_.min_off_s) {
        active_ = false;
        run_length_ = 0;
        if (contractions_.empty()) return;
        contractions_.back().end_s = start_s;
        if (start_s - contractions_.back().start_s < config_.min_duration_s) contractions_.pop_back();
    }
}

double ContractionDetector::decided_until_s() const noexcept {
    const double now = static_cast<double>(windows_) * config_.window_s;
    if (windows_ <= baseline_windows_) return now;
    return run_length_ > 0 ? static_cast<double>(run_start_) * config_.window_s : now;
}

bool ContractionDetector::accepted(std::size_t index) const noexcept {
    if (index >= contractions_.size()) return false;
    const auto& c = contractions_[index];
    const double end = std::isfinite(c.end_s) ? c.end_s : decided_until_s();
    return end - c.start_s >= config_.min_duration_s;
}

} // namespace semg::pipeline
