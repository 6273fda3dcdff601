// Power spectral density of one epoch: Welch (Hann segments, 50 % overlap, mean removed per
// segment) or one Hann-windowed periodogram, one-sided, density scaling in µV²/Hz, as
// scipy.signal.welch / periodogram with detrend='constant', scaling='density'.
// The FFTW plan is made in prepare() on the control thread; compute() is allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace semg::dsp {

enum class PsdMethod { Welch, Periodogram };
std::string to_string(PsdMethod method);
PsdMethod psd_method_from_string(const std::string& name); // throws std::invalid_argument

// One real-to-complex FFTW transform of n points with its own buffers: input() n values,
// output() n / 2 + 1 complex values as (re, im) pairs. The plan is made in the constructor (on the
// control thread: only fftw_execute is thread-safe); execute() is allocation-free. Copies plan
// their own transform.
class RealFft {
public:
    RealFft() = default;
    explicit RealFft(std::size_t n); // throws std::runtime_error if FFTW cannot plan
    ~RealFft();
    RealFft(const RealFft& other);
    RealFft& operator=(const RealFft& other);
    RealFft(RealFft&& other) noexcept;
    RealFft& operator=(RealFft&& other) noexcept;

    std::size_t size() const noexcept { return n_; }
    double* input() noexcept { return in_; }
    const double* output() const noexcept { return out_; }
    void execute() noexcept;

private:
    void release() noexcept;
    std::size_t n_ = 0;
    double* in_ = nullptr;
    double* out_ = nullptr; // fftw_complex[n / 2 + 1]
    void* plan_ = nullptr;  // fftw_plan
};

class PsdEstimator {
public:
    struct Config {
        PsdMethod method = PsdMethod::Welch;
        double segment_s = 0.25; // Welch segment length; ignored by the periodogram
    };
    explicit PsdEstimator(Config config);

    // Plans for epochs of `epoch_frames` samples. Throws std::invalid_argument if too short.
    void prepare(double sample_rate_hz, std::size_t epoch_frames);
    std::size_t bins() const noexcept { return segment_frames_ / 2 + 1; }
    std::size_t segment_frames() const noexcept { return segment_frames_; }
    double bin_hz() const noexcept {
        return sample_rate_hz_ / static_cast<double>(segment_frames_);
    }
    const Config& config() const noexcept { return config_; }

    // x: epoch_frames samples. psd: bins() values.
    void compute(const float* x, std::span<double> psd) noexcept;

    // The same in two steps, for callers that keep the periodograms of the segments that
    // overlapping epochs share. Segment j of an epoch starts at frame j·step_frames(); there are
    // segments() of them. Their periodograms (|X|², bins() values, unscaled) live in a ring of
    // segments() slots: segment j of the epoch whose first segment is at `origin` in slot
    // (origin + j) % segments(). segment_powers() transforms segments [first, first + count) of
    // the epoch x; psd_from() sums all of them in order and scales, exactly as compute() does.
    std::size_t segments() const noexcept { return segments_; }
    std::size_t step_frames() const noexcept { return step_frames_; }
    void segment_powers(const float* x, std::size_t first, std::size_t count, double* ring,
                        std::uint64_t origin) noexcept;
    void psd_from(const double* ring, std::uint64_t origin, std::span<double> psd) const noexcept;

private:
    template <class T> T* slot(T* ring, std::uint64_t origin, std::size_t j) const noexcept {
        return ring + static_cast<std::size_t>((origin + j) % segments_) * bins();
    }

    Config config_;
    double sample_rate_hz_ = 0.0;
    std::size_t epoch_frames_ = 0;
    std::size_t segment_frames_ = 0;
    std::size_t step_frames_ = 0;
    std::size_t segments_ = 0;
    std::vector<double> window_;
    double scale_ = 0.0;
    RealFft fft_;
    std::vector<double> power_; // compute()'s ring of segment periodograms
};

} // namespace semg::dsp
