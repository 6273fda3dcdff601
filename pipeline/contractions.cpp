#include "pipeline/contractions.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace semg::pipeline {

ContractionDetector::ContractionDetector(Config config) : config_(config) {
    const auto& c = config_;
    if (!(c.window_s > 0.0 && c.settle_s >= 0.0 && c.rest_window_s >= c.window_s &&
          c.activity_window_s >= c.window_s && c.rest_ratio >= 1.0 && c.activity_fraction >= 0.0 &&
          c.activity_fraction < 1.0 && c.min_on_s >= 0.0 && c.min_off_s >= 0.0 &&
          c.min_duration_s >= 0.0 && c.burst_max_s > 0.0 && c.burst_gap_max_s >= 0.0 &&
          c.min_bursts >= 2))
        throw std::invalid_argument(
            "contraction detector settings: windows must be at least window_s, rest ratio at least 1, activity "
            "fraction in [0, 1), durations non-negative and a series at least 2 bursts");
}

void ContractionDetector::prepare(double sample_rate_hz) {
    window_frames_ = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::lround(config_.window_s * sample_rate_hz)));
    const auto windows_in = [&](double s) {
        return std::max<std::size_t>(1,
                                     static_cast<std::size_t>(std::lround(s / config_.window_s)));
    };
    settle_windows_ = static_cast<std::size_t>(std::lround(config_.settle_s / config_.window_s));
    rest_windows_ = windows_in(config_.rest_window_s);
    activity_windows_ = windows_in(config_.activity_window_s);
    history_.assign(std::max(rest_windows_, activity_windows_), 0.0);
    filled_ = 0;
    sum_sq_ = 0.0;
    windows_ = 0;
    rest_sum_ = activity_sum_ = 0.0;
    seen_ = 0;
    rest_uv_ = threshold_uv_ = std::numeric_limits<double>::infinity();
    activity_uv_ = 0.0;
    active_ = false;
    run_length_ = 0;
    stored_ = false;
    periods_.clear();
    periods_.reserve(kMaxPeriods);
}

void ContractionDetector::process(dsp::ConstBlockRef filtered) noexcept {
    const std::size_t channels = std::max<std::size_t>(1, filtered.channels);
    for (std::size_t i = 0; i < filtered.frames; ++i) {
        for (std::size_t c = 0; c < filtered.channels; ++c) {
            const double v = filtered.channel(c)[i];
            sum_sq_ += v * v;
        }
        if (++filled_ == window_frames_) {
            on_window(std::sqrt(sum_sq_ / static_cast<double>(window_frames_ * channels)));
            filled_ = 0;
            sum_sq_ = 0.0;
        }
    }
}

void ContractionDetector::on_window(double rms_uv) noexcept {
    const std::uint64_t w = windows_++;
    if (w >= settle_windows_ && rms_uv >= kFlatUv) {
        // Moving sums over the last rest_windows_ and activity_windows_ values of the ring.
        const std::size_t size = history_.size();
        if (seen_ >= rest_windows_)
            rest_sum_ -= history_[(seen_ - rest_windows_) % size];
        if (seen_ >= activity_windows_)
            activity_sum_ -= history_[(seen_ - activity_windows_) % size];
        history_[seen_ % size] = rms_uv;
        ++seen_;
        rest_sum_ += rms_uv;
        activity_sum_ += rms_uv;
        if (seen_ >= rest_windows_)
            rest_uv_ = std::min(rest_uv_, rest_sum_ / static_cast<double>(rest_windows_));
        if (seen_ >= activity_windows_)
            activity_uv_ =
                std::max(activity_uv_, activity_sum_ / static_cast<double>(activity_windows_));
        if (std::isfinite(rest_uv_))
            threshold_uv_ =
                std::max(config_.rest_ratio * rest_uv_,
                         rest_uv_ + config_.activity_fraction * (activity_uv_ - rest_uv_));
    }
    // Until the rest level is known every window counts as rest.
    const bool above = rms_uv > threshold_uv_;
    if (above == active_) {
        run_length_ = 0;
        return;
    }
    if (run_length_ == 0)
        run_start_ = w;
    ++run_length_;
    const double run_s = static_cast<double>(run_length_) * config_.window_s;
    const double start_s = static_cast<double>(run_start_) * config_.window_s;
    if (!active_ && run_s >= config_.min_on_s) {
        active_ = true;
        run_length_ = 0;
        stored_ = periods_.size() < periods_.capacity(); // bounded: keep the first kMaxPeriods
        if (stored_)
            periods_.push_back({start_s});
    } else if (active_ && run_s >= config_.min_off_s) {
        active_ = false;
        run_length_ = 0;
        if (stored_)
            periods_.back().end_s = start_s;
        stored_ = false;
    }
}

double ContractionDetector::decided_until_s() const noexcept {
    const double now = static_cast<double>(windows_) * config_.window_s;
    return run_length_ > 0 ? static_cast<double>(run_start_) * config_.window_s : now;
}

std::vector<Contraction> ContractionDetector::contractions() const {
    const double now = decided_until_s();
    const auto duration = [&](const Contraction& p) {
        return (std::isfinite(p.end_s) ? p.end_s : now) - p.start_s;
    };
    const auto burst_like = [&](const Contraction& p) { return duration(p) < config_.burst_max_s; };
    std::vector<Contraction> out;
    for (std::size_t i = 0; i < periods_.size();) {
        // [i, j): burst-like periods, each at most burst_gap_max_s after the previous one.
        std::size_t j = i + 1;
        if (burst_like(periods_[i]))
            while (j < periods_.size() && burst_like(periods_[j]) &&
                   periods_[j].start_s - periods_[j - 1].end_s <= config_.burst_gap_max_s)
                ++j;
        if (burst_like(periods_[i]) && j - i >= config_.min_bursts) {
            out.push_back({periods_[i].start_s, periods_[j - 1].end_s, true, i, j - i});
        } else {
            for (std::size_t k = i; k < j; ++k)
                if (duration(periods_[k]) >= config_.min_duration_s)
                    out.push_back({periods_[k].start_s, periods_[k].end_s, false, k, 1});
        }
        i = j;
    }
    return out;
}

} // namespace semg::pipeline
