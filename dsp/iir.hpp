// Butterworth IIR filters as cascaded second-order sections (SOS), designed like scipy's
// butter(order, ..., output='sos') via the bilinear transform with pre-warped edges.
// Units: µV in, µV out. Causal; the group delay is that of the analogue prototype near the
// pass-band centre. Real time: process() is noexcept and allocation-free.
#pragma once

#include "dsp/block.hpp"

#include <array>
#include <stdexcept>
#include <vector>

namespace semg::dsp {

struct Sos {
    std::array<double, 3> b{}; // numerator
    std::array<double, 3> a{}; // denominator, a[0] == 1
};

enum class FilterKind { Lowpass, Highpass, Bandpass };

// Digital Butterworth design; `order` is the prototype order as in scipy.signal.butter, so a
// band-pass of order 4 has 8 poles. Throws std::invalid_argument on edges outside (0, fs/2).
std::vector<Sos> butterworth(FilterKind kind, int order, double low_hz, double high_hz,
                             double sample_rate_hz);

// Second-order IIR notch at f0_hz with −3 dB bandwidth bandwidth_hz, as scipy.signal.iirnotch
// (Q = f0/bandwidth): unit gain away from f0, zero at f0. Throws std::invalid_argument unless
// 0 < f0 < fs/2 and 0 < bandwidth.
Sos notch(double f0_hz, double bandwidth_hz, double sample_rate_hz);
// A notch at every harmonic k·mains_hz (k = 1, 2, ...) up to up_to_hz and below fs/2, each of the
// same bandwidth_hz: the mains comb. Empty when mains_hz or bandwidth_hz is 0.
std::vector<Sos> mains_comb(double mains_hz, double bandwidth_hz, double up_to_hz,
                            double sample_rate_hz);
// Magnitude response |H(f)| of a cascade, for tests and reports.
double magnitude_at(const std::vector<Sos>& sections, double freq_hz, double sample_rate_hz);

// Runs one SOS cascade on every channel (transposed direct form II, double state).
// Channels run side by side in SIMD lanes: 2 (SSE2), 4 (AVX) or 8 (AVX-512) per vector, chosen
// in prepare() from the channel count and what the CPU runs. Every lane does exactly the
// operations of a one-channel loop, without fused multiply-adds, so the output is the same bit for
// bit whatever the width.
class SosFilter {
public:
    static constexpr std::size_t kMaxSections = 12;

    SosFilter() = default;
    explicit SosFilter(std::vector<Sos> sections) : sections_(std::move(sections)) {
        if (sections_.size() > kMaxSections)
            throw std::invalid_argument("too many filter sections");
    }

    void prepare(const StreamSpec& spec); // allocates the state of every channel
    // As prepare(spec), with `lanes` channels per SIMD vector (2, 4 or 8; more than the CPU runs
    // is reduced to what it runs): for tests and benchmarks of each width.
    void prepare(const StreamSpec& spec, std::size_t lanes);
    void process(BlockRef io) noexcept; // in place, any block length
    void reset() noexcept;
    const std::vector<Sos>& sections() const noexcept { return sections_; }
    std::size_t lanes() const noexcept { return lanes_; }
    // The widest lane count this CPU runs (2, 4 or 8 on x86-64).
    static std::size_t native_lanes() noexcept;

private:
    std::vector<Sos> sections_;
    // [group of lanes_ channels][section][z1, z2][lane]; lanes past the last channel stay 0.
    std::vector<double> state_;
    std::size_t channels_ = 0;
    std::size_t lanes_ = 2;
};

// Band-pass for sEMG (default 20-450 Hz, order 4). The upper edge is clamped to 0.45·fs;
// clamped() says whether that happened so the caller can warn.
class Bandpass {
public:
    struct Config {
        double low_hz = 20.0;
        double high_hz = 450.0;
        int order = 4;
    };
    explicit Bandpass(Config config); // throws std::invalid_argument
    void prepare(const StreamSpec& spec);
    void process(BlockRef io) noexcept { filter_.process(io); }
    void reset() noexcept { filter_.reset(); }

    double low_hz() const noexcept { return config_.low_hz; }
    double effective_high_hz() const noexcept { return high_hz_; }
    bool clamped() const noexcept { return clamped_; }
    const SosFilter& filter() const noexcept { return filter_; }

private:
    Config config_;
    double high_hz_ = 0.0;
    bool clamped_ = false;
    SosFilter filter_;
};

} // namespace semg::dsp
