#include "pipeline/fatigue_fit.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace semg;

TEST(LinearFit, MatchesScipyLinregress) {
    const auto g = test::load_json(SEMG_SOURCE_DIR "/tests/dsp/golden/golden.json");
    for (const auto& c : g["linear_fit"]) {
        const auto x = c["x"].get<std::vector<double>>();
        const auto y = c["y"].get<std::vector<double>>();
        pipeline::LinearFitAccumulator acc;
        for (std::size_t i = 0; i < x.size(); ++i)
            acc.add(x[i], y[i]);
        const auto fit = acc.result();
        const double slope = c["slope"], intercept = c["intercept"];
        EXPECT_EQ(fit.n, x.size());
        EXPECT_NEAR(fit.slope_per_s, slope, 1e-10 * (1 + std::abs(slope)));
        EXPECT_NEAR(fit.initial, intercept, 1e-9 * std::abs(intercept));
        EXPECT_NEAR(fit.slope_pct_per_s, 100.0 * slope / intercept, 1e-8);
        EXPECT_NEAR(fit.r2, c["r2"].get<double>(), 1e-10);
        EXPECT_NEAR(fit.slope_ci95[0], c["ci95"][0].get<double>(), 1e-9);
        EXPECT_NEAR(fit.slope_ci95[1], c["ci95"][1].get<double>(), 1e-9);
    }
}

TEST(LinearFit, ExactLineAndDegenerateCases) {
    pipeline::LinearFitAccumulator acc;
    for (int i = 0; i < 10; ++i)
        acc.add(1000.0 + i, 70.0 - 0.35 * (1000.0 + i));
    auto fit = acc.result();
    EXPECT_NEAR(fit.slope_per_s, -0.35, 1e-12);
    EXPECT_NEAR(fit.r2, 1.0, 1e-12);
    EXPECT_NEAR(fit.slope_ci95[1] - fit.slope_ci95[0], 0.0, 1e-9);

    pipeline::LinearFitAccumulator one;
    one.add(0.0, 5.0);
    EXPECT_TRUE(std::isnan(one.result().slope_per_s));
    EXPECT_TRUE(std::isnan(pipeline::LinearFitAccumulator{}.result().initial));
    pipeline::LinearFitAccumulator two;
    two.add(0.0, 5.0);
    two.add(1.0, 6.0);
    EXPECT_DOUBLE_EQ(two.result().slope_per_s, 1.0);
    EXPECT_TRUE(std::isnan(two.result().slope_ci95[0])); // no degrees of freedom left
}

TEST(FitRule, WithholdsAFitFromTooFewEpochsOrTooSmallAShare) {
    const pipeline::FitRule rule; // 10 epochs making up 50 %
    EXPECT_TRUE(pipeline::fit_refusal(10, 20, rule).empty());
    EXPECT_TRUE(pipeline::fit_refusal(200, 250, rule).empty());
    const auto few = pipeline::fit_refusal(2, 3, rule); // a line through 2 epochs
    EXPECT_NE(few.find("2 usable epochs of 3"), std::string::npos) << few;
    EXPECT_NE(few.find("at least 10"), std::string::npos) << few;
    const auto share = pipeline::fit_refusal(20, 200, rule); // 90 % flagged
    EXPECT_NE(share.find("20 usable epochs of 200 (10 %)"), std::string::npos) << share;
    EXPECT_FALSE(
        pipeline::fit_refusal(0, 0, {0, 0.0}).empty()); // nothing to fit, whatever the rule
}

TEST(LinearFit, MeansOfThePoints) {
    pipeline::LinearFitAccumulator acc;
    EXPECT_TRUE(std::isnan(acc.mean_x()));
    for (double x : {10.0, 11.0, 15.0})
        acc.add(x, 2.0 * x);
    EXPECT_DOUBLE_EQ(acc.mean_x(), 12.0);
    EXPECT_DOUBLE_EQ(acc.mean_y(), 24.0);
}
