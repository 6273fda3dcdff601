#include "pipeline/fatigue_fit.hpp"

#include <boost/math/distributions/students_t.hpp>

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace semg::pipeline {

void LinearFitAccumulator::add(double x, double y) noexcept {
    if (n_ == 0) {
        x0_ = x;
        y0_ = y;
    }
    const double dx = x - x0_, dy = y - y0_;
    ++n_;
    sx_ += dx;
    sy_ += dy;
    sxx_ += dx * dx;
    syy_ += dy * dy;
    sxy_ += dx * dy;
}

double LinearFitAccumulator::mean_x() const noexcept {
    return n_ > 0 ? x0_ + sx_ / static_cast<double>(n_) : std::numeric_limits<double>::quiet_NaN();
}

double LinearFitAccumulator::mean_y() const noexcept {
    return n_ > 0 ? y0_ + sy_ / static_cast<double>(n_) : std::numeric_limits<double>::quiet_NaN();
}

LinearFit LinearFitAccumulator::result() const {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    LinearFit fit;
    fit.n = n_;
    fit.initial = fit.slope_per_s = fit.slope_pct_per_s = fit.r2 = nan;
    fit.slope_ci95 = {nan, nan};
    const double n = static_cast<double>(n_);
    const double cxx = sxx_ - sx_ * sx_ / n; // centred sums
    if (n_ < 2 || !(cxx > 0.0))
        return fit;
    const double cyy = syy_ - sy_ * sy_ / n;
    const double cxy = sxy_ - sx_ * sy_ / n;
    fit.slope_per_s = cxy / cxx;
    const double mean_x = x0_ + sx_ / n, mean_y = y0_ + sy_ / n;
    fit.initial = mean_y - fit.slope_per_s * mean_x;
    fit.slope_pct_per_s = 100.0 * fit.slope_per_s / fit.initial;
    if (n_ < 3)
        return fit;
    const double residual = std::max(0.0, cyy - fit.slope_per_s * cxy);
    if (cyy > 0.0)
        fit.r2 = 1.0 - residual / cyy;
    const double se = std::sqrt(residual / (n - 2.0) / cxx);
    const double t = boost::math::quantile(boost::math::students_t(n - 2.0), 0.975);
    fit.slope_ci95 = {fit.slope_per_s - t * se, fit.slope_per_s + t * se};
    return fit;
}

std::string fit_refusal(std::size_t used, std::size_t total, const FitRule& rule) {
    const double share = total > 0 ? static_cast<double>(used) / static_cast<double>(total) : 0.0;
    if (used >= rule.min_epochs && share >= rule.min_share && used > 0)
        return {};
    return fmt::format(
        "{} usable epochs of {} ({:.0f} %); a fit needs at least {} making up {:.0f} % of the "
        "contraction",
        used, total, 100.0 * share, rule.min_epochs, 100.0 * rule.min_share);
}

} // namespace semg::pipeline
