// Left/right imbalance and contractions against simulated recordings with known truth.
#include "acquisition/simulator.hpp"
#include "pipeline/analysis.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace semg;

namespace {

pipeline::AnalysisResult analyse(acquisition::Simulator& sim,
                                 pipeline::AnalysisSettings settings = {}) {
    pipeline::FatigueAnalysis analysis(std::move(settings));
    analysis.prepare(sim.info(), [](const std::string&) {});
    dsp::Block block(sim.info().channels.size(), 8192);
    while (const std::size_t n = sim.read(block.capacity_ref())) {
        block.set_frames(n);
        analysis.process(block.cref(), {});
    }
    return analysis.finish();
}

double ai_truth(double lr_ratio) { return 100.0 * (lr_ratio - 1.0) / (lr_ratio + 1.0); }

} // namespace

TEST(Bilateral, RecoversAmplitudeAsymmetryAndSlopeDifference) {
    acquisition::Scenario s;
    s.protocol.hold_s = 120.0;
    s.pairs = acquisition::default_pairs(2);
    s.pairs[0].lr_ratio = 1.35; // left stronger
    s.pairs[0].mdf_slope_pct_per_s = {-0.45, -0.25};
    s.pairs[1].lr_ratio = 0.8; // right stronger
    s.pairs[1].mdf_slope_pct_per_s = {-0.2, -0.35};
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        s.seed = seed;
        acquisition::Simulator sim(s);
        const auto r = analyse(sim);
        ASSERT_EQ(r.pairs.size(), 2u);
        ASSERT_EQ(r.contractions.size(), 1u) << r.contraction_source;
        for (std::size_t p = 0; p < 2; ++p) {
            const auto& fit = r.contractions[0].pairs[p];
            const double slope_difference =
                s.pairs[p].mdf_slope_pct_per_s[0] - s.pairs[p].mdf_slope_pct_per_s[1];
            EXPECT_NEAR(fit.ai_mean_pct, ai_truth(s.pairs[p].lr_ratio), 3.0)
                << "pair " << p << " seed " << seed;
            EXPECT_NEAR(fit.lr_rms_ratio, s.pairs[p].lr_ratio, 0.05 * s.pairs[p].lr_ratio);
            EXPECT_EQ(std::signbit(fit.mdf_slope_difference_pct_per_s),
                      std::signbit(slope_difference));
            EXPECT_NEAR(fit.mdf_slope_difference_pct_per_s, slope_difference, 0.05)
                << "pair " << p << " seed " << seed;
            EXPECT_EQ(fit.flagged, std::abs(ai_truth(s.pairs[p].lr_ratio)) > 10.0);
        }
        EXPECT_EQ(r.contractions[0].channels[0].jasa, pipeline::Jasa::Fatigue);
    }
}

TEST(Bilateral, DetectsTwoContractionsInRestHoldRestHold) {
    // Each contraction has its own fit: the initial MDF (IMF) is that of a fresh muscle in both,
    // not the fatigued one at the end of the first (about 8 Hz lower after 30 s at -0.3 %/s).
    // Tolerances: the IMF error of this analysis on this scenario, measured over seeds 1-20
    // (2 contractions x 4 channels each, 160 fits): bias +0.8 Hz, scatter 1.65 Hz per fit. Each
    // fit must sit within 4 sd of the bias; the mean of the 32 fits of seeds 1-4 within 3 standard
    // errors (sd / sqrt(32) = 0.88 Hz), so a 2 Hz shift of MDF fails (one seed's 8 fits, 1.75 Hz,
    // would not reliably see it).
    constexpr double kImfBiasHz = 0.8, kImfSdHz = 1.65;
    double sum_error_hz = 0.0;
    std::size_t fits = 0;
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        acquisition::Scenario s;
        s.seed = seed;
        s.pairs = acquisition::default_pairs(2);
        s.protocol.contractions = 2;
        s.protocol.hold_s = 30.0;
        s.protocol.rest_before_s = 4.0;
        s.protocol.rest_between_s = 10.0;
        s.protocol.rest_after_s = 4.0;
        acquisition::Simulator sim(s);
        pipeline::AnalysisSettings settings;
        settings.contractions = pipeline::ContractionMode::Detect;
        const auto r = analyse(sim, settings);
        ASSERT_EQ(r.contractions.size(), 2u) << r.contraction_source << " seed " << seed;
        for (std::size_t k = 0; k < 2; ++k) {
            EXPECT_NEAR(r.contractions[k].start_s, sim.contractions()[k].start_s, 0.5)
                << "contraction " << k;
            EXPECT_NEAR(r.contractions[k].end_s, sim.contractions()[k].end_s, 0.5)
                << "contraction " << k;
            for (std::size_t c = 0; c < sim.channels().size(); ++c) {
                const auto& ch = r.contractions[k].channels[c];
                EXPECT_GT(ch.epochs, 50u);
                const double error_hz = ch.mdf.initial - sim.channels()[c].mdf0_hz;
                EXPECT_NEAR(error_hz, kImfBiasHz, 4.0 * kImfSdHz)
                    << "seed " << seed << " contraction " << k << " channel " << c;
                EXPECT_LT(ch.mdf.slope_per_s, 0.0);
                sum_error_hz += error_hz;
                ++fits;
            }
        }
    }
    EXPECT_NEAR(sum_error_hz / static_cast<double>(fits), kImfBiasHz,
                3.0 * kImfSdHz / std::sqrt(static_cast<double>(fits)));
}

TEST(Bilateral, RestEpochsAreLeftOutOfTheFit) {
    acquisition::Scenario s;
    s.pairs = acquisition::default_pairs(1);
    s.protocol.hold_s = 40.0;
    s.protocol.rest_before_s = 10.0;
    s.protocol.rest_after_s = 10.0;
    acquisition::Simulator sim(s);
    pipeline::AnalysisSettings settings;
    settings.contractions = pipeline::ContractionMode::Detect;
    const auto r = analyse(sim, settings);
    ASSERT_EQ(r.contractions.size(), 1u);
    const auto& ch = r.contractions[0].channels[0];
    EXPECT_LE(ch.epochs, 79u); // (40 s - 1 s epoch) / 0.5 s + 1
    EXPECT_GE(ch.epochs, 75u);
    EXPECT_NEAR(ch.rms.initial, sim.channels()[0].rms0_uv, 0.1 * sim.channels()[0].rms0_uv);
}

TEST(Bilateral, MvcNormalisesAmplitudeAndAsymmetry) {
    acquisition::Scenario s;
    s.pairs = acquisition::default_pairs(1);
    s.pairs[0].lr_ratio = 1.5;
    s.protocol.hold_s = 20.0;
    acquisition::Simulator sim(s);
    pipeline::AnalysisSettings settings;
    // References proportional to each side's strength: %MVC equal, AI on %MVC near zero.
    settings.mvc_rms_uv = {sim.channels()[0].rms0_uv * 2.0, sim.channels()[1].rms0_uv * 2.0};
    const auto r = analyse(sim, settings);
    EXPECT_TRUE(r.mvc);
    EXPECT_NEAR(r.contractions[0].pairs[0].ai_mean_pct, 0.0, 3.0);
    EXPECT_NEAR(r.contractions[0].pairs[0].lr_rms_ratio, 1.5, 0.08);
}
