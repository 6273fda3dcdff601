#include "pipeline/recovery.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace semg::pipeline {
namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// The IMF of a channel's fit, NaN where the fit is withheld or has no positive start value.
double imf_of(const ContractionResult& contraction, std::size_t channel) {
    if (channel >= contraction.channels.size())
        return nan;
    const auto& fit = contraction.channels[channel];
    const double imf = fit.mdf.initial;
    return fit.no_fit_reason.empty() && std::isfinite(imf) && imf > 0.0 ? imf : nan;
}

double percent(double value, double reference) {
    return std::isfinite(value) && std::isfinite(reference) ? 100.0 * value / reference : nan;
}

double median(std::vector<double> values) {
    std::erase_if(values, [](double v) { return !std::isfinite(v); });
    if (values.empty())
        return nan;
    std::sort(values.begin(), values.end());
    const std::size_t mid = values.size() / 2;
    return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

} // namespace

std::vector<ImfRecoveryStep> imf_recovery(const AnalysisResult& result) {
    std::vector<ImfRecoveryStep> steps;
    const auto& cons = result.contractions;
    for (std::size_t k = 0; k + 1 < cons.size(); ++k) {
        ImfRecoveryStep step;
        step.from_index = k;
        step.to_index = k + 1;
        step.rest_s = cons[k + 1].start_s - cons[k].end_s;
        std::vector<double> of_previous, of_first;
        for (std::size_t c = 0; c < result.labels.size(); ++c) {
            ImfRecoveryChannel ch;
            ch.imf_hz = imf_of(cons[k + 1], c);
            ch.pct_of_previous = percent(ch.imf_hz, imf_of(cons[k], c));
            ch.pct_of_first = percent(ch.imf_hz, imf_of(cons.front(), c));
            if (std::isfinite(ch.pct_of_previous))
                ++step.channels_with_values;
            of_previous.push_back(ch.pct_of_previous);
            of_first.push_back(ch.pct_of_first);
            step.channels.push_back(ch);
        }
        step.median_pct_of_previous = median(std::move(of_previous));
        step.median_pct_of_first = median(std::move(of_first));
        steps.push_back(std::move(step));
    }
    return steps;
}

} // namespace semg::pipeline
