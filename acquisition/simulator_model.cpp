// The simulator's spectral model and random streams (see simulator_model.hpp).
#include "acquisition/simulator_model.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace semg::acquisition {

std::uint64_t sim::splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

namespace {

// ---- spectral model: numerical integration ------------------------------------------------------

constexpr double integration_step_hz = 0.1;

// Cumulative band power on a fine grid and the frequency where it reaches `fraction`.
struct BandIntegral {
    double total = 0.0;
    double mnf_hz = 0.0;
    double mdf_hz = 0.0;
};

BandIntegral integrate_band(double fl_hz, double fh_hz, double low_hz, double high_hz) {
    const auto n = static_cast<std::size_t>(std::ceil((high_hz - low_hz) / integration_step_hz));
    const double h = (high_hz - low_hz) / static_cast<double>(n);
    // Trapezoid: cell k spans [f_k, f_k + h].
    std::vector<double> cell(n);
    double prev = shwedyk_psd(low_hz, fl_hz, fh_hz);
    double total = 0.0, moment = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        const double f1 = low_hz + h * static_cast<double>(k + 1);
        const double p1 = shwedyk_psd(f1, fl_hz, fh_hz);
        cell[k] = 0.5 * (prev + p1) * h;
        total += cell[k];
        moment += 0.5 * ((f1 - h) * prev + f1 * p1) * h;
        prev = p1;
    }
    BandIntegral r;
    r.total = total;
    r.mnf_hz = total > 0.0 ? moment / total : std::numeric_limits<double>::quiet_NaN();
    r.mdf_hz = std::numeric_limits<double>::quiet_NaN();
    if (!(total > 0.0))
        return r;
    const double half = 0.5 * total;
    double cum = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        if (cum + cell[k] >= half) {
            const double f0 = low_hz + h * static_cast<double>(k);
            r.mdf_hz = f0 + h * (half - cum) / cell[k];
            break;
        }
        cum += cell[k];
    }
    return r;
}

} // namespace

double shwedyk_psd(double f_hz, double fl_hz, double fh_hz) noexcept {
    const double f2 = f_hz * f_hz;
    const double fh2 = fh_hz * fh_hz;
    const double d = f2 + fh2;
    return fh2 * fh2 * f2 / ((f2 + fl_hz * fl_hz) * d * d);
}

double model_mdf_hz(double fl_hz, double fh_hz, double low_hz, double high_hz) {
    return integrate_band(fl_hz, fh_hz, low_hz, high_hz).mdf_hz;
}

double model_mnf_hz(double fl_hz, double fh_hz, double low_hz, double high_hz) {
    return integrate_band(fl_hz, fh_hz, low_hz, high_hz).mnf_hz;
}

double model_band_fraction(double fl_hz, double fh_hz, double low_hz, double high_hz,
                           double nyquist_hz) {
    const double all = integrate_band(fl_hz, fh_hz, 0.0, nyquist_hz).total;
    return all > 0.0 ? integrate_band(fl_hz, fh_hz, low_hz, high_hz).total / all : 0.0;
}

namespace {
// The MDF in [low_hz, high_hz] of the spectrum whose MDF in [low_hz, reference_high_hz] is
// mdf_hz (bisection on log f_l; the model MDF rises with f_l).
double mdf_in_band(double mdf_hz, double fh_over_fl, double low_hz, double reference_high_hz,
                   double high_hz) {
    double a = std::log(0.1), b = std::log(5000.0);
    for (int i = 0; i < 80; ++i) {
        const double m = 0.5 * (a + b);
        const double fl = std::exp(m);
        if (model_mdf_hz(fl, fh_over_fl * fl, low_hz, reference_high_hz) < mdf_hz)
            a = m;
        else
            b = m;
    }
    const double fl = std::exp(0.5 * (a + b));
    return model_mdf_hz(fl, fh_over_fl * fl, low_hz, high_hz);
}
} // namespace

PairSpec pair_in_band(const PairSpec& pair, const ModelSpec& model, double high_hz,
                      double reference_s) {
    PairSpec out = pair;
    if (!(high_hz < model.band_high_hz))
        return out;
    for (std::size_t side = 0; side < 2; ++side) {
        const double mdf0 = pair.mdf0_hz[side];
        const double slope = pair.mdf_slope_pct_per_s[side];
        const double end = mdf0 * (1.0 + slope / 100.0 * reference_s);
        const double narrow0 =
            mdf_in_band(mdf0, model.fh_over_fl, model.band_low_hz, model.band_high_hz, high_hz);
        const double narrow_end =
            mdf_in_band(end, model.fh_over_fl, model.band_low_hz, model.band_high_hz, high_hz);
        out.mdf0_hz[side] = narrow0;
        out.mdf_slope_pct_per_s[side] = 100.0 * (narrow_end / narrow0 - 1.0) / reference_s;
    }
    return out;
}

} // namespace semg::acquisition
