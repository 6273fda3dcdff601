// Mean and scatter of an estimator's errors against the simulator's truth, for tests whose
// tolerance is derived from the estimator's measured error: the bias (mean error) and the
// standard deviation of single fits, measured once on clean data and written into the test as
// constants; a run then checks its mean error against bias ± 3 standard errors (sd / sqrt(n)) and
// each fit against bias ± 4 sd. See tests/pipeline/test_validation.cpp's header for the method.
#pragma once

#include <cmath>
#include <cstddef>
#include <ostream>

namespace semg::test {

class ErrorStats {
public:
    void add(double error) {
        ++n_;
        const double d = error - mean_;
        mean_ += d / static_cast<double>(n_);
        m2_ += d * (error - mean_);
    }
    std::size_t n() const { return n_; }
    double mean() const { return mean_; }
    double sd() const { return n_ > 1 ? std::sqrt(m2_ / static_cast<double>(n_ - 1)) : 0.0; }

private:
    std::size_t n_ = 0;
    double mean_ = 0.0;
    double m2_ = 0.0; // Welford: sum of squared deviations from the running mean
};

inline std::ostream& operator<<(std::ostream& os, const ErrorStats& s) {
    return os << "n " << s.n() << ", mean " << s.mean() << ", sd " << s.sd();
}

// Half-width of the band a mean of n errors must stay in around the measured bias: 3 standard
// errors of single fits with standard deviation sd.
inline double three_standard_errors(double sd, std::size_t n) {
    return 3.0 * sd / std::sqrt(static_cast<double>(n));
}

} // namespace semg::test
