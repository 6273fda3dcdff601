// IMF recovery between successive contractions (pipeline/recovery.hpp) on hand-made fits.
#include "pipeline/recovery.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace semg;

namespace {

pipeline::ContractionResult contraction(double start_s, double end_s, std::vector<double> imf_hz) {
    pipeline::ContractionResult con;
    con.start_s = start_s;
    con.end_s = end_s;
    for (const double imf : imf_hz) {
        pipeline::ChannelFit fit;
        fit.mdf.initial = imf;
        if (std::isnan(imf))
            fit.no_fit_reason = "3 usable epochs of 40"; // withheld: NaN values, with a reason
        con.channels.push_back(fit);
    }
    return con;
}

} // namespace

TEST(ImfRecovery, RatiosToThePreviousAndTheFirstContractionWithTheRestBetween) {
    const double nan = std::nan("");
    pipeline::AnalysisResult result;
    result.labels = {"L", "R", "off"};
    result.contractions = {contraction(10.0, 40.0, {80.0, 70.0, 60.0}),
                           contraction(55.0, 85.0, {72.0, 70.0, nan}),
                           contraction(145.0, 175.0, {76.0, 63.0, 66.0})};
    const auto steps = pipeline::imf_recovery(result);
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_EQ(steps[0].from_index, 0u);
    EXPECT_EQ(steps[0].to_index, 1u);
    EXPECT_DOUBLE_EQ(steps[0].rest_s, 15.0);
    EXPECT_DOUBLE_EQ(steps[1].rest_s, 60.0);
    // By hand: 72/80 = 90 %, 70/70 = 100 %, the withheld fit gives no value.
    EXPECT_DOUBLE_EQ(steps[0].channels[0].pct_of_previous, 90.0);
    EXPECT_DOUBLE_EQ(steps[0].channels[1].pct_of_previous, 100.0);
    EXPECT_TRUE(std::isnan(steps[0].channels[2].imf_hz));
    EXPECT_TRUE(std::isnan(steps[0].channels[2].pct_of_previous));
    EXPECT_EQ(steps[0].channels_with_values, 2u);
    EXPECT_DOUBLE_EQ(steps[0].median_pct_of_previous, 95.0); // mean of the two middle values
    // 76/72, 76/80; 63/70 = 90 %, 63/70; 66 against a withheld fit: none, but 66/60 of the first.
    EXPECT_DOUBLE_EQ(steps[1].channels[0].pct_of_previous, 100.0 * 76.0 / 72.0);
    EXPECT_DOUBLE_EQ(steps[1].channels[0].pct_of_first, 95.0);
    EXPECT_DOUBLE_EQ(steps[1].channels[1].pct_of_first, 90.0);
    EXPECT_TRUE(std::isnan(steps[1].channels[2].pct_of_previous));
    EXPECT_DOUBLE_EQ(steps[1].channels[2].pct_of_first, 110.0);
    EXPECT_EQ(steps[1].channels_with_values, 2u);
    EXPECT_DOUBLE_EQ(steps[1].median_pct_of_first, 95.0); // 95, 90, 110
}

TEST(ImfRecovery, NoStepWithOneContraction) {
    pipeline::AnalysisResult result;
    result.labels = {"L"};
    result.contractions = {contraction(0.0, 30.0, {80.0})};
    EXPECT_TRUE(pipeline::imf_recovery(result).empty());
}
