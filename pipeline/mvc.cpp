#include "pipeline/mvc.hpp"
#include "dsp/text.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>

namespace semg::pipeline {

std::vector<double> mvc_reference_rms(acquisition::Source& source,
                                      const std::vector<std::string>& labels,
                                      const dsp::Bandpass::Config& band,
                                      std::optional<std::pair<double, double>> segment_s,
                                      double window_s) {
    const auto& info = source.info();
    std::vector<std::size_t> index;
    for (const auto& label : labels) {
        auto it = std::find_if(info.channels.begin(), info.channels.end(),
                               [&](const auto& ch) { return ch.label == label; });
        if (it == info.channels.end())
            throw std::invalid_argument("the MVC recording has no channel '" + label +
                                        "': it must have the same channels as the analysed one");
        index.push_back(static_cast<std::size_t>(it - info.channels.begin()));
    }
    const double fs = info.sample_rate_hz;
    dsp::Bandpass bandpass(band);
    bandpass.prepare({fs, info.channels.size()});
    const auto step = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(0.05 * fs)));
    const auto steps_per_window = static_cast<std::size_t>(std::lround(window_s / 0.05));
    const auto first =
        static_cast<std::uint64_t>(segment_s ? std::llround(segment_s->first * fs) : 0);
    const auto last = segment_s ? static_cast<std::uint64_t>(std::llround(segment_s->second * fs))
                                : std::numeric_limits<std::uint64_t>::max();

    std::vector<double> best(labels.size(), 0.0), partial(labels.size(), 0.0),
        window_sum(labels.size(), 0.0);
    std::vector<std::deque<double>> steps(labels.size());
    std::size_t in_step = 0;
    std::uint64_t position = 0;
    bool full = false;
    dsp::Block block(info.channels.size(), 4096);
    while (position < last) {
        const std::size_t n = source.read(block.capacity_ref());
        if (n == 0)
            break;
        block.set_frames(n);
        bandpass.process(block.ref());
        for (std::size_t i = 0; i < n && position < last; ++i, ++position) {
            if (position < first)
                continue;
            for (std::size_t c = 0; c < labels.size(); ++c) {
                const double v = block.channel(index[c])[i];
                partial[c] += v * v;
            }
            if (++in_step < step)
                continue;
            in_step = 0;
            for (std::size_t c = 0; c < labels.size(); ++c) {
                steps[c].push_back(partial[c]);
                window_sum[c] += partial[c];
                partial[c] = 0.0;
                if (steps[c].size() > steps_per_window) {
                    window_sum[c] -= steps[c].front();
                    steps[c].pop_front();
                }
                if (steps[c].size() == steps_per_window) {
                    full = true;
                    best[c] =
                        std::max(best[c], std::sqrt(window_sum[c] /
                                                    static_cast<double>(steps_per_window * step)));
                }
            }
        }
    }
    if (!full)
        throw std::invalid_argument("the MVC recording or segment is shorter than one " +
                                    dsp::format_number(window_s) + " s window");
    for (std::size_t c = 0; c < labels.size(); ++c)
        if (!(best[c] > 0.0))
            throw std::invalid_argument("MVC reference of channel '" + labels[c] + "' is zero");
    return best;
}

std::vector<double> mvc_reference_rms_for(acquisition::Source& mvc,
                                          const acquisition::SourceInfo& analysed,
                                          const AnalysisSettings& settings,
                                          std::optional<std::pair<double, double>> segment_s) {
    // A probe analysis names the channels; its warnings are the real analysis's to give.
    FatigueAnalysis probe(settings);
    probe.prepare(analysed, [](const std::string&) {});
    return mvc_reference_rms(mvc, probe.labels(), settings.band, segment_s);
}

} // namespace semg::pipeline
