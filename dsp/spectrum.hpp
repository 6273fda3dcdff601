// Power spectral density of one epoch: Welch (Hann segments, 50 % overlap, mean removed per
// segment) or one Hann-windowed periodogram, one-sided, density scaling in µV²/Hz, as
// scipy.signal.welch / periodogram with detrend='constant', scaling='density'.
// The FFTW plan is made in prepare() on the control thread; compute() is allocation-free.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace semg::dsp {

enum class PsdMethod { Welch, Periodogram };
std::string to_string(PsdMethod method);
PsdMethod psd_method_from_string(const std::string& name); // throws std::invalid_argument

class PsdEstimator {
public:
    struct Config {
        PsdMethod method = PsdMethod::Welch;
        double segment_s = 0.25; // Welch segment length; ignored by the periodogram
    };
    explicit PsdEstimator(Config config);
    ~PsdEstimator();
    PsdEstimator(const PsdEstimator& other);
    PsdEstimator& operator=(const PsdEstimator& other);
    PsdEstimator(PsdEstimator&&) noexcept;
    PsdEstimator& operator=(PsdEstimator&&) noexcept;

    // Plans for epochs of `epoch_frames` samples. Throws std::invalid_argument if too short.
    void prepare(double sample_rate_hz, std::size_t epoch_frames);
    std::size_t bins() const noexcept { return segment_frames_ / 2 + 1; }
    std::size_t segment_frames() const noexcept { return segment_frames_; }
    double bin_hz() const noexcept { return sample_rate_hz_ / static_cast<double>(segment_frames_); }
    const Config& config() const noexcept { return config_; }

    // x: epoch_frames samples. psd: bins() values.
    void compute(const float* x, std::span<double> psd) noexcept;

private:
    struct Plan;
    Config config_;
    double sample_rate_hz_ = 0.0;
    std::size_t epoch_frames_ = 0;
    std::size_t segment_frames_ = 0;
    std::size_t step_frames_ = 0;
    std::vector<double> window_;
    double scale_ = 0.0;
    std::unique_ptr<Plan> plan_;
};

} // namespace semg::dsp
