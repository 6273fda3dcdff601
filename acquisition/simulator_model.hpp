// The simulator's signal model, apart from the source that plays it (simulator.hpp) and the
// contamination added on top (simulator_contamination.hpp):
//   - the Shwedyk et al. (1977) EMG spectrum P(f) ∝ f_h⁴ f² / ((f² + f_l²)(f² + f_h²)²) and its
//     median and mean frequency within a band (numerical integration, 0.1 Hz trapezoid);
//   - pair_in_band, the same muscle seen through a narrower band;
//   - the per-channel parameters and contraction intervals a Simulator derives from a scenario;
//   - the deterministic random streams every part draws from (std::mt19937_64 and Box–Muller,
//     one stream per (seed, stream id), so enabling one contamination leaves the rest alone).
// The integration functions allocate (configuration time); Random does not.
#pragma once

#include "acquisition/simulator_scenario.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>

namespace semg::acquisition {

// Shwedyk model PSD, scaled to f_h⁴ f² / ((f² + f_l²)(f² + f_h²)²) (unit µV²/Hz up to a factor).
double shwedyk_psd(double f_hz, double fl_hz, double fh_hz) noexcept;

// Median and mean frequency of the model PSD within [low_hz, high_hz] (numerical integration).
double model_mdf_hz(double fl_hz, double fh_hz, double low_hz, double high_hz);
double model_mnf_hz(double fl_hz, double fh_hz, double low_hz, double high_hz);
// Share of the power of the model below nyquist_hz that lies inside [low_hz, high_hz].
double model_band_fraction(double fl_hz, double fh_hz, double low_hz, double high_hz,
                           double nyquist_hz);

// The same muscle seen by a slower board: `pair`'s MDF₀ and MDF slopes, given for the band
// [model.band_low_hz, model.band_high_hz], as the model MDF in the narrower [band_low_hz,
// high_hz] (high_hz < band_high_hz, the clamp at 0.45·fs). MDF₀ maps through the f_l that gives
// it in the full band; a slope maps so that the narrow-band MDF after reference_s of fatigue is
// the image of the full-band MDF then (a straight line through both ends). Used by
// `semg simulate` for its default pairs below 1 kHz, where 70-80 Hz lies above the band.
PairSpec pair_in_band(const PairSpec& pair, const ModelSpec& model, double high_hz,
                      double reference_s = 100.0);

struct Contraction {
    double start_s = 0.0;
    double end_s = 0.0;
};

// Per-channel model parameters derived from the scenario.
struct ChannelModel {
    std::string label;
    std::string muscle;
    std::string level;
    Side side = Side::Left;
    std::size_t pair = 0;
    double mdf0_hz = 0.0;
    double mdf_slope_pct_per_s = 0.0;
    double rms0_uv = 0.0;
    double rms_slope_pct_per_s = 0.0;
    double fl0_hz = 0.0; // Shwedyk corner frequencies at F = 0
    double fh0_hz = 0.0;
    double ecg_peak_uv = 0.0; // 0 without ECG
};

namespace sim {

inline constexpr double two_pi = 2.0 * std::numbers::pi;

std::uint64_t splitmix64(std::uint64_t x) noexcept;

// Independent stream ids, so that enabling one contamination leaves every other signal alone.
enum StreamId : std::uint64_t {
    EcgStream = 0x10,
    MainsStream = 0x11,
    WanderStream = 0x12,
    EmgStream = 0x1000,      // + channel
    BaselineStream = 0x2000, // + channel
    SnrStream = 0x3000,      // + channel
};

// std::mt19937_64 with Box–Muller on top: the same numbers on every standard library.
class Random {
public:
    Random(std::uint64_t seed, std::uint64_t stream)
        : engine_(splitmix64(seed ^ splitmix64(stream))) {}

    double uniform() noexcept { // [0, 1)
        return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    }
    double normal() noexcept {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double u1 = (static_cast<double>(engine_() >> 11) + 1.0) * 0x1.0p-53; // (0, 1]
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(two_pi * u2);
        has_spare_ = true;
        return r * std::cos(two_pi * u2);
    }

private:
    std::mt19937_64 engine_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

} // namespace sim
} // namespace semg::acquisition
