// Issue 13, criterion 1: a recording analysed in its native format gives the per-epoch MDF and
// RMS of the CSV route. Runs the project's analysis (pipeline::FatigueAnalysis, default settings
// unless given) on a source and keeps every epoch's MDF and RMS per channel.
#pragma once

#include "acquisition/source.hpp"
#include "pipeline/analysis.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace semg::test {

struct EpochSeries {
    std::vector<std::vector<double>> mdf_hz, rms_uv; // [channel][epoch]
};

inline EpochSeries epoch_series(acquisition::Source& source,
                                const pipeline::AnalysisSettings& settings = {}) {
    pipeline::FatigueAnalysis analysis{settings};
    analysis.prepare(source.info(), [](const std::string&) {});
    EpochSeries out;
    const auto observe = [&](const dsp::EpochFrame& frame, const pipeline::EpochDerived&) {
        out.mdf_hz.resize(frame.channels.size());
        out.rms_uv.resize(frame.channels.size());
        for (std::size_t c = 0; c < frame.channels.size(); ++c) {
            out.mdf_hz[c].push_back(frame.channels[c].mdf_hz);
            out.rms_uv[c].push_back(frame.channels[c].rms_uv);
        }
    };
    dsp::Block block(source.info().channels.size(), 4096);
    while (const std::size_t n = source.read(block.capacity_ref())) {
        block.set_frames(n);
        analysis.process(block.cref(), observe);
    }
    analysis.flush(observe);
    analysis.finish();
    return out;
}

// Largest difference between two series, relative to the value (NaN in both counts as equal;
// NaN in one only as infinite). Checks that the epochs line up.
struct SeriesDifference {
    double mdf_rel = 0.0, rms_rel = 0.0;
    double mdf_hz = 0.0, rms_uv = 0.0; // largest absolute differences
    std::size_t epochs = 0;
};

inline SeriesDifference compare(const EpochSeries& a, const EpochSeries& b) {
    SeriesDifference d;
    EXPECT_EQ(a.mdf_hz.size(), b.mdf_hz.size());
    const auto rel = [](double x, double y) {
        if (std::isnan(x) && std::isnan(y))
            return 0.0;
        if (std::isnan(x) || std::isnan(y))
            return std::numeric_limits<double>::infinity();
        return std::abs(x - y) / std::max({std::abs(x), std::abs(y), 1e-12});
    };
    for (std::size_t c = 0; c < std::min(a.mdf_hz.size(), b.mdf_hz.size()); ++c) {
        EXPECT_EQ(a.mdf_hz[c].size(), b.mdf_hz[c].size()) << "channel " << c;
        const std::size_t n = std::min(a.mdf_hz[c].size(), b.mdf_hz[c].size());
        d.epochs += n;
        for (std::size_t e = 0; e < n; ++e) {
            d.mdf_rel = std::max(d.mdf_rel, rel(a.mdf_hz[c][e], b.mdf_hz[c][e]));
            d.rms_rel = std::max(d.rms_rel, rel(a.rms_uv[c][e], b.rms_uv[c][e]));
            if (!std::isnan(a.mdf_hz[c][e]) && !std::isnan(b.mdf_hz[c][e]))
                d.mdf_hz = std::max(d.mdf_hz, std::abs(a.mdf_hz[c][e] - b.mdf_hz[c][e]));
            d.rms_uv = std::max(d.rms_uv, std::abs(a.rms_uv[c][e] - b.rms_uv[c][e]));
        }
    }
    return d;
}

} // namespace semg::test
