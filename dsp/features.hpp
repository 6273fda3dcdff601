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

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace semg::dsp {

// Quality flags of a channel epoch; a bit set, shown as names joined by '|' ("ok" when none).
// The rules and default thresholds are in dsp/quality.hpp and docs/quality.md.
enum QualityFlag : std::uint32_t {
    QualityOk = 0,
    EmptySpectrum = 1u << 0,    // "empty_spectrum": no power in the analysis band
    Flatline = 1u << 1,         // "flatline": electrode off or amplifier stuck
    Clipping = 1u << 2,         // "clipping": samples at the ADC rails or flat-topped extremes
    MainsDominant = 1u << 3,    // "mains": power line harmonics carry much of the band power
    MotionArtefact = 1u << 4,   // "motion": raw 1-20 Hz power large against the band power
    EcgContamination = 1u << 5, // "ecg": beat-synchronous ECG energy left in the analysed signal
    SampleGap = 1u << 6,        // "gap": the source lost samples inside the epoch
    LowSampleRate = 1u << 7,    // "low_rate": reserved; a low rate is recorded per recording
    EcgWarmup = 1u << 8,        // "ecg_warmup": the ECG canceller was still learning (template)
    Rest = 1u << 9, // "rest": the channel is at its noise floor, the muscle is not working
};
inline constexpr std::size_t kQualityFlagCount = 10;
// Name of bit k (0 <= k < kQualityFlagCount), as in the quality column.
const char* quality_flag_name(std::size_t k) noexcept;
std::string quality_to_string(std::uint32_t flags);
// Inverse of quality_to_string; throws std::invalid_argument on an unknown name.
std::uint32_t quality_from_string(const std::string& text);

// Per-epoch measurements behind the quality flags (raw = before any filter).
// NaN where a measurement does not apply (e.g. ecg_share before the first beats are learnt).
struct QualityMetrics {
    double raw_sd_uv = 0.0;            // SD of the raw samples
    double longest_run_fraction = 0.0; // longest run of identical raw samples / epoch length
    double clipped_fraction = 0.0;     // raw samples at a rail or in flat-topped extremes / length
    double lf_ratio = 0.0;             // raw power in 1-20 Hz / analysed band power
    double mains_share = 0.0;          // power at 50 or 60 Hz harmonics / analysed band power
    double mains_raw_ratio = 0.0;      // the same harmonics' power in the raw samples / that power
    double ecg_share = 0.0;            // beat-synchronous ECG energy / analysed energy
    std::uint32_t gaps = 0;            // sample gaps reported inside the epoch
};

struct EpochFeatures {
    double rms_uv = 0.0;
    double arv_uv = 0.0;
    double mdf_hz = 0.0;
    double mnf_hz = 0.0;
    double total_power_uv2 = 0.0;
    double zcr_hz = 0.0;
    double fi_nsm5 = 0.0;
    std::uint32_t quality = QualityOk;
    QualityMetrics metrics{}; // filled by the analysis pipeline (dsp::QualityAnalyzer)
};

// Which PSD bins count: those inside [low_hz, high_hz] and not within exclude_hz of a
// multiple of mains_hz (mains_hz = 0 or exclude_hz = 0: no exclusion).
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
