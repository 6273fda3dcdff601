#include "dsp/spectrum.hpp"

#include <fftw3.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <utility>

namespace semg::dsp {

std::string to_string(PsdMethod method) {
    return method == PsdMethod::Welch ? "welch" : "periodogram";
}

PsdMethod psd_method_from_string(const std::string& name) {
    if (name == "welch")
        return PsdMethod::Welch;
    if (name == "periodogram")
        return PsdMethod::Periodogram;
    throw std::invalid_argument("PSD method must be welch or periodogram, got '" + name + "'");
}

namespace {
// FFTW's planner keeps global state: plans are made and destroyed under one lock, so that
// recordings can be analysed on several threads (`semg analyze --jobs`). fftw_execute is
// thread-safe and takes no lock.
std::mutex& fftw_planner_mutex() {
    static std::mutex m;
    return m;
}
} // namespace

RealFft::RealFft(std::size_t n) : n_(n) {
    in_ = fftw_alloc_real(n);
    auto* out = fftw_alloc_complex(n / 2 + 1);
    out_ = reinterpret_cast<double*>(out);
    if (in_ && out) {
        const std::lock_guard lock(fftw_planner_mutex());
        plan_ = fftw_plan_dft_r2c_1d(static_cast<int>(n), in_, out, FFTW_ESTIMATE);
    }
    if (!in_ || !out || !plan_) {
        release();
        throw std::runtime_error("FFTW could not plan a transform");
    }
}

RealFft::~RealFft() { release(); }

void RealFft::release() noexcept {
    if (plan_) {
        const std::lock_guard lock(fftw_planner_mutex());
        fftw_destroy_plan(static_cast<fftw_plan>(plan_));
    }
    fftw_free(in_);
    fftw_free(out_);
    plan_ = nullptr;
    in_ = out_ = nullptr;
    n_ = 0;
}

RealFft::RealFft(const RealFft& other) {
    if (other.plan_)
        *this = RealFft(other.n_);
}

RealFft& RealFft::operator=(const RealFft& other) {
    if (this != &other)
        *this = RealFft(other);
    return *this;
}

RealFft::RealFft(RealFft&& other) noexcept
    : n_(std::exchange(other.n_, 0)), in_(std::exchange(other.in_, nullptr)),
      out_(std::exchange(other.out_, nullptr)), plan_(std::exchange(other.plan_, nullptr)) {}

RealFft& RealFft::operator=(RealFft&& other) noexcept {
    if (this != &other) {
        release();
        n_ = std::exchange(other.n_, 0);
        in_ = std::exchange(other.in_, nullptr);
        out_ = std::exchange(other.out_, nullptr);
        plan_ = std::exchange(other.plan_, nullptr);
    }
    return *this;
}

void RealFft::execute() noexcept { fftw_execute(static_cast<fftw_plan>(plan_)); }

PsdEstimator::PsdEstimator(Config config) : config_(config) {
    if (config_.method == PsdMethod::Welch && !(config_.segment_s > 0.0))
        throw std::invalid_argument("Welch segment length must be positive");
}

void PsdEstimator::prepare(double sample_rate_hz, std::size_t epoch_frames) {
    sample_rate_hz_ = sample_rate_hz;
    epoch_frames_ = epoch_frames;
    segment_frames_ =
        config_.method == PsdMethod::Welch
            ? static_cast<std::size_t>(std::lround(config_.segment_s * sample_rate_hz))
            : epoch_frames;
    segment_frames_ = std::min(segment_frames_, epoch_frames);
    if (segment_frames_ < 8)
        throw std::invalid_argument("PSD segment of " + std::to_string(segment_frames_) +
                                    " samples is too short");
    step_frames_ = segment_frames_ - segment_frames_ / 2;
    segments_ = (epoch_frames_ - segment_frames_) / step_frames_ + 1;
    // Periodic Hann, as scipy.signal.get_window('hann', n).
    window_.resize(segment_frames_);
    double power = 0.0;
    for (std::size_t i = 0; i < segment_frames_; ++i) {
        window_[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) /
                                          static_cast<double>(segment_frames_));
        power += window_[i] * window_[i];
    }
    scale_ = 1.0 / (sample_rate_hz * power);
    fft_ = RealFft(segment_frames_);
    power_.assign(segments_ * bins(), 0.0);
}

void PsdEstimator::segment_powers(const float* x, std::size_t first, std::size_t count,
                                  double* ring, std::uint64_t origin) noexcept {
    const std::size_t n = segment_frames_, n_bins = bins();
    // The segment means, several at a time: each is still summed in sample order (the result
    // does not depend on how many are taken together), but their additions overlap.
    constexpr std::size_t kLanes = 4;
    for (std::size_t done = 0; done < count; done += kLanes) {
        const std::size_t lanes = std::min(kLanes, count - done);
        std::array<const float*, kLanes> seg{};
        std::array<double, kLanes> sum{};
        for (std::size_t j = 0; j < kLanes; ++j)
            seg[j] = x + (first + done + std::min(j, lanes - 1)) * step_frames_;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < kLanes; ++j)
                sum[j] += seg[j][i];
        for (std::size_t j = 0; j < lanes; ++j) {
            const double mean = sum[j] / static_cast<double>(n);
            double* in = fft_.input();
            for (std::size_t i = 0; i < n; ++i)
                in[i] = (seg[j][i] - mean) * window_[i];
            fft_.execute();
            const double* out = fft_.output();
            double* p = slot(ring, origin, first + done + j);
            for (std::size_t k = 0; k < n_bins; ++k)
                p[k] = out[2 * k] * out[2 * k] + out[2 * k + 1] * out[2 * k + 1];
        }
    }
}

void PsdEstimator::psd_from(const double* ring, std::uint64_t origin,
                            std::span<double> psd) const noexcept {
    const std::size_t n_bins = bins();
    double* __restrict out = psd.data();
    const double* first = slot(ring, origin, 0);
    std::copy(first, first + n_bins, out); // |X|² is never -0: as 0 + |X|² in compute()
    for (std::size_t j = 1; j < segments_; ++j) {
        const double* __restrict p = slot(ring, origin, j);
        for (std::size_t k = 0; k < n_bins; ++k)
            out[k] += p[k];
    }
    // Mean over the segments, density scaling, one-sided: DC and Nyquist count once.
    const double scale = scale_ / static_cast<double>(segments_);
    const std::size_t last = segment_frames_ % 2 == 0 ? n_bins - 1 : n_bins;
    out[0] *= scale;
    for (std::size_t k = 1; k < last; ++k)
        out[k] *= 2.0 * scale;
    if (last < n_bins)
        out[last] *= scale;
}

void PsdEstimator::compute(const float* x, std::span<double> psd) noexcept {
    segment_powers(x, 0, segments_, power_.data(), 0);
    psd_from(power_.data(), 0, psd);
}

} // namespace semg::dsp
