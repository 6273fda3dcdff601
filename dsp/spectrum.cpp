#include "dsp/spectrum.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace semg::dsp {

std::string to_string(PsdMethod method) {
    return method == PsdMethod::Welch ? "welch" : "periodogram";
}

PsdMethod psd_method_from_string(const std::string& name) {
    if (name == "welch") return PsdMethod::Welch;
    if (name == "periodogram") return PsdMethod::Periodogram;
    throw std::invalid_argument("PSD method must be welch or periodogram, got '" + name + "'");
}

// FFTW buffers and plan; only fftw_execute is thread-safe, so plans are made in prepare().
struct PsdEstimator::Plan {
    explicit Plan(std::size_t size)
        : in(fftw_alloc_real(size)), out(fftw_alloc_complex(size / 2 + 1)),
          plan(fftw_plan_dft_r2c_1d(static_cast<int>(size), in, out, FFTW_ESTIMATE)) {
        if (!in || !out || !plan) throw std::runtime_error("FFTW could not plan a transform");
    }
    ~Plan() {
        fftw_destroy_plan(plan);
        fftw_free(in);
        fftw_free(out);
    }
    Plan(const Plan&) = delete;
    Plan& operator=(const Plan&) = delete;

    double* in;
    fftw_complex* out;
    fftw_plan plan;
};

PsdEstimator::PsdEstimator(Config config) : config_(config) {
    if (config_.method == PsdMethod::Welch && !(config_.segment_s > 0.0))
        throw std::invalid_argument("Welch segment length must be positive");
}
PsdEstimator::~PsdEstimator() = default;
PsdEstimator::PsdEstimator(PsdEstimator&&) noexcept = default;
PsdEstimator& PsdEstimator::operator=(PsdEstimator&&) noexcept = default;
PsdEstimator::PsdEstimator(const PsdEstimator& other) : config_(other.config_) {
    if (other.plan_) prepare(other.sample_rate_hz_, other.epoch_frames_);
}
PsdEstimator& PsdEstimator::operator=(const PsdEstimator& other) {
    if (this != &other) *this = PsdEstimator(other);
    return *this;
}

void PsdEstimator::prepare(double sample_rate_hz, std::size_t epoch_frames) {
    sample_rate_hz_ = sample_rate_hz;
    epoch_frames_ = epoch_frames;
    segment_frames_ = config_.method == PsdMethod::Welch
                          ? static_cast<std::size_t>(std::lround(config_.segment_s * sample_rate_hz))
                          : epoch_frames;
    segment_frames_ = std::min(segment_frames_, epoch_frames);
    if (segment_frames_ < 8)
        throw std::invalid_argument("PSD segment of " + std::to_string(segment_frames_) +
                                    " samples is too short");
    step_frames_ = segment_frames_ - segment_frames_ / 2;
    // Periodic Hann, as scipy.signal.get_window('hann', n).
    window_.resize(segment_frames_);
    double power = 0.0;
    for (std::size_t i = 0; i < segment_frames_; ++i) {
        window_[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) /
                                          static_cast<double>(segment_frames_));
        power += window_[i] * window_[i];
    }
    scale_ = 1.0 / (sample_rate_hz * power);
    plan_ = std::make_unique<Plan>(segment_frames_);
}

void PsdEstimator::compute(const float* x, std::span<double> psd) noexcept {
    const std::size_t n = segment_frames_, n_bins = bins();
    std::fill(psd.begin(), psd.begin() + static_cast<long>(n_bins), 0.0);
    std::size_t segments = 0;
    for (std::size_t start = 0; start + n <= epoch_frames_; start += step_frames_) {
        double mean = 0.0;
        for (std::size_t i = 0; i < n; ++i) mean += x[start + i];
        mean /= static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) plan_->in[i] = (x[start + i] - mean) * window_[i];
        fftw_execute(plan_->plan);
        for (std::size_t k = 0; k < n_bins; ++k)
            psd[k] += plan_->out[k][0] * plan_->out[k][0] + plan_->out[k][1] * plan_->out[k][1];
        ++segments;
    }
    const double scale = scale_ / static_cast<double>(segments);
    for (std::size_t k = 0; k < n_bins; ++k) {
        const bool edge = k == 0 || (n % 2 == 0 && k == n_bins - 1);
        psd[k] *= edge ? scale : 2.0 * scale;
    }
}

} // namespace semg::dsp
