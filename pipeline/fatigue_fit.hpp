// Least-squares line y = initial + slope·x over a contraction (x: s from segment start), from
// running sums so memory does not grow with recording length. Gives the initial value
// (intercept), slope per second, slope in %/s of the initial value, r² and the two-sided 95 %
// confidence interval of the slope (Student t, n − 2 degrees of freedom).
#pragma once

#include <array>
#include <cstddef>
#include <string>

namespace semg::pipeline {

struct LinearFit {
    std::size_t n = 0;
    double initial = 0.0;               // NaN when n < 2
    double slope_per_s = 0.0;           // NaN when n < 2
    double slope_pct_per_s = 0.0;       // 100·slope/initial
    double r2 = 0.0;                    // NaN when n < 3 or y is constant
    std::array<double, 2> slope_ci95{}; // NaN when n < 3
};

class LinearFitAccumulator {
public:
    void add(double x, double y) noexcept;
    LinearFit result() const;
    std::size_t count() const noexcept { return n_; }
    // Means of the points added (NaN without points): a burst's point in a fit across bursts.
    double mean_x() const noexcept;
    double mean_y() const noexcept;

private:
    std::size_t n_ = 0;
    // Sums of deviations from the first point keep the arithmetic well conditioned.
    double x0_ = 0.0, y0_ = 0.0;
    double sx_ = 0.0, sy_ = 0.0, sxx_ = 0.0, syy_ = 0.0, sxy_ = 0.0;
};

// A fit is reported only from enough data: at least min_epochs usable epochs (unflagged, finite
// MDF) making up at least min_share of the epochs of the contraction. A line through 2-4 epochs
// (most of them flagged) gives slopes of tens of %/s and an initial MDF far outside the EMG
// band; such a fit is withheld with a reason rather than reported.
struct FitRule {
    std::size_t min_epochs = 10;
    double min_share = 0.5;
};

// Empty when `used` of `total` epochs satisfy the rule, else the reason the fit is withheld,
// e.g. "3 usable epochs of 40 (7 %); a fit needs at least 10 making up 50 % of the contraction".
std::string fit_refusal(std::size_t used, std::size_t total, const FitRule& rule);

} // namespace semg::pipeline
