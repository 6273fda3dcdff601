#include "dsp/features.hpp"

#include "dsp/simd.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace semg::dsp {

namespace {
constexpr std::array<const char*, kQualityFlagCount> kFlagNames = {
    "empty_spectrum", "flatline",   "clipping", "mains", "motion", "ecg", "gap",
    "low_rate",       "ecg_warmup", "rest"};
} // namespace

const char* quality_flag_name(std::size_t k) noexcept {
    return k < kFlagNames.size() ? kFlagNames[k] : "";
}

std::string quality_to_string(std::uint32_t flags) {
    std::string s;
    for (std::size_t k = 0; k < kFlagNames.size(); ++k) {
        if ((flags & (1u << k)) == 0)
            continue;
        if (!s.empty())
            s += '|';
        s += kFlagNames[k];
    }
    return s.empty() ? "ok" : s;
}

std::uint32_t quality_from_string(const std::string& text) {
    if (text == "ok")
        return QualityOk;
    std::uint32_t flags = 0;
    for (std::size_t start = 0; start <= text.size();) {
        const std::size_t end = std::min(text.find('|', start), text.size());
        const std::string name = text.substr(start, end - start);
        const auto it = std::find_if(kFlagNames.begin(), kFlagNames.end(),
                                     [&](const char* n) { return name == n; });
        if (it == kFlagNames.end())
            throw std::invalid_argument("unknown quality flag '" + name + "'");
        flags |= 1u << static_cast<std::size_t>(it - kFlagNames.begin());
        start = end + 1;
    }
    return flags;
}

SpectralFeatures::SpectralFeatures(const SpectralBand& band, double bin_hz, std::size_t bins)
    : bin_hz_(bin_hz) {
    for (std::size_t k = 0; k < bins; ++k) {
        const double f = static_cast<double>(k) * bin_hz;
        if (f < band.low_hz || f > band.high_hz || f <= 0.0)
            continue;
        if (band.mains_hz > 0.0 && band.exclude_hz > 0.0) {
            const double harmonic = std::round(f / band.mains_hz) * band.mains_hz;
            if (harmonic > 0.0 && std::abs(f - harmonic) <= band.exclude_hz)
                continue;
        }
        bins_.push_back(k);
        freq_hz_.push_back(f);
    }
}

void SpectralFeatures::compute(std::span<const double> psd, EpochFeatures& out) const noexcept {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    double total = 0.0, first_moment = 0.0;
    for (std::size_t j = 0; j < bins_.size(); ++j) {
        const double p = psd[bins_[j]];
        total += p;
        first_moment += freq_hz_[j] * p;
    }
    out.total_power_uv2 = total * bin_hz_;
    if (!(total > 0.0) || !std::isfinite(total)) {
        out.mdf_hz = out.mnf_hz = out.fi_nsm5 = nan;
        out.quality |= EmptySpectrum;
        return;
    }
    out.mnf_hz = first_moment / total;

    // Each bin's power is spread evenly over its width [f - Δf/2, f + Δf/2]; the median is
    // where the cumulative power, linear within the bin that crosses half, reaches half the total.
    // (Placing the cumulative sums at bin centres instead biases a symmetric peak by -Δf/2.)
    const double half = total / 2.0;
    double cumulative = 0.0;
    for (std::size_t j = 0; j < bins_.size(); ++j) {
        const double p = psd[bins_[j]];
        if (cumulative + p >= half) {
            out.mdf_hz = freq_hz_[j] - 0.5 * bin_hz_ + (half - cumulative) / p * bin_hz_;
            break;
        }
        cumulative += p;
    }

    // M_k over frequencies in kHz keeps both sums near 1 in double; the ratio is taken as a
    // difference of logs and rescaled by (1 kHz)^-6.
    double m_minus1 = 0.0, m_5 = 0.0;
    for (std::size_t j = 0; j < bins_.size(); ++j) {
        const double p = psd[bins_[j]];
        const double f = freq_hz_[j] * 1e-3, f2 = f * f;
        m_minus1 += p / f;
        m_5 += p * f2 * f2 * f;
    }
    out.fi_nsm5 = std::exp(std::log(m_minus1) - std::log(m_5) - 6.0 * std::log(1e3));
}

void temporal_features(const float* x, std::size_t n, double sample_rate_hz,
                       EpochFeatures& out) noexcept {
    using namespace simd;
    // Four partial sums let the additions overlap (lane k sums the samples i ≡ k mod 4); the
    // crossing count is a branch-free integer reduction: neighbours of opposite sign have a
    // negative product (a zero never counts).
    Double2 sq01{}, sq23{}, ab01{}, ab23{};
    const Int64x2 magnitude = {INT64_MAX, INT64_MAX}; // clears the sign bit: |v|
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const Float4 f = load4(x + i);
        const Double2 v01 = low_half(f), v23 = high_half(f);
        sq01 += v01 * v01;
        sq23 += v23 * v23;
        ab01 += reinterpret_cast<Double2>(reinterpret_cast<Int64x2>(v01) & magnitude);
        ab23 += reinterpret_cast<Double2>(reinterpret_cast<Int64x2>(v23) & magnitude);
    }
    std::array<double, 4> sq{}, ab{};
    std::memcpy(sq.data(), &sq01, sizeof sq01);
    std::memcpy(sq.data() + 2, &sq23, sizeof sq23);
    std::memcpy(ab.data(), &ab01, sizeof ab01);
    std::memcpy(ab.data() + 2, &ab23, sizeof ab23);
    for (; i < n; ++i) {
        sq[0] += static_cast<double>(x[i]) * x[i];
        ab[0] += std::abs(static_cast<double>(x[i]));
    }
    Int4 negative4{};
    std::size_t j = 1;
    for (; j + 4 <= n; j += 4)
        negative4 -= load4(x + j - 1) * load4(x + j) < 0.0f; // true: -1
    std::array<std::int32_t, 4> negative{};
    std::memcpy(negative.data(), &negative4, sizeof negative4);
    std::size_t crossings = 0;
    for (const std::int32_t count : negative)
        crossings += static_cast<std::size_t>(count);
    for (; j < n; ++j)
        crossings += static_cast<std::size_t>(x[j - 1] * x[j] < 0.0f);
    const double count = static_cast<double>(n);
    out.rms_uv = std::sqrt((sq[0] + sq[1] + sq[2] + sq[3]) / count);
    out.arv_uv = (ab[0] + ab[1] + ab[2] + ab[3]) / count;
    out.zcr_hz = static_cast<double>(crossings) * sample_rate_hz / count;
}

} // namespace semg::dsp
