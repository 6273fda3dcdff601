// Per-epoch sEMG features of one channel.
//   Spectral, over the analysis band (band-pass edges) less any excluded bins:
//     mdf_hz   median frequency: where the cumulative band power reaches half the total, each
//              bin's power spread evenly over its width (linear interpolation within the bin).
//     mnf_hz   mean frequency Σf·P / ΣP.
//     total_power_uv2  Σ P·Δf.
//     fi_nsm5  Dimitrov's spectral index M₋₁/M₅ with M_k = Σ f^k·P·Δf (f in Hz, so ~1e-13),
//              formed as a difference of logs of well-scaled sums.
//   Temporal, on the filtered samples: rms_uv, arv_uv, zcr_hz (sign changes per second).
// A zero or empty spectrum gives NaN spectral features and the EmptySpectrum flag, never 0 Hz.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace semg::dsp {

// Quality flags of a channel epoch; a bit set, shown as names joined by '|' ("ok" when none).
enum QualityFlag : std::uint32_t {
    QualityOk = 0,
    EmptySpectrum = 1u << 0,
};
std::string quality_to_string(std::uint32_t flags);

struct EpochFeatures {
    double rms_uv = 0.0;
    double arv_uv = 0.0;
    double mdf_hz = 0.0;
    double mnf_hz = 0.0;
    double total_power_uv2 = 0.0;
    double zcr_hz = 0.0;
    double fi_nsm5 = 0.0;
    std::uint32_t quality = QualityOk;
};

// Which PSD bins count: those inside [low_hz, high_hz] and not within exclude_hz of a
// multiple of mains_hz (mains_hz = 0: no exclusion).
struct SpectralBand {
    double low_hz = 20.0;
    double high_hz = 450.0;
    double mains_hz = 0.0;
    double exclude_hz = 1.0;
};

// Precomputed bin frequencies and logs for one PSD layout, so that features() only sums.
class SpectralFeatures {
public:
    SpectralFeatures() = default;
    SpectralFeatures(const SpectralBand& band, double bin_hz, std::size_t bins);

    // Fills the spectral members of `out` from one PSD.
    void compute(std::span<const double> psd, EpochFeatures& out) const noexcept;
    std::size_t included_bins() const noexcept { return bins_.size(); }
    double bin_hz() const noexcept { return bin_hz_; }

private:
    std::vector<std::size_t> bins_; // included bin indices, ascending
    std::vector<double> freq_hz_;   // their frequencies
    double bin_hz_ = 0.0;
};

// Temporal features of one epoch of filtered samples.
void temporal_features(const float* x, std::size_t n, double sample_rate_hz,
                       EpochFeatures& out) noexcept;

} // namespace semg::dsp
