// acquisition/anatomy: sides, vertebral levels and muscle names, and that what the simulator
// writes with them is what the montage reads.
#include "acquisition/anatomy.hpp"
#include "acquisition/simulator.hpp"
#include "pipeline/montage.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using namespace semg::acquisition;

TEST(Anatomy, LevelsRunFromT1ToS1) {
    EXPECT_EQ(parse_single_level("T1"), 0);
    EXPECT_EQ(parse_single_level("t12"), 11);
    EXPECT_EQ(parse_single_level("L1"), level_ordinal_l1);
    EXPECT_EQ(parse_single_level("L5"), 16);
    EXPECT_EQ(parse_single_level("S1"), 17);
    for (const char* not_a_level : {"C7", "S2", "L6", "T13", "L0", "L", "L03x", ""})
        EXPECT_FALSE(parse_single_level(not_a_level)) << not_a_level;
    for (int ordinal = 0; ordinal <= 17; ++ordinal)
        EXPECT_EQ(parse_single_level(level_name(ordinal)), ordinal);
}

TEST(Anatomy, RangesRunDownwards) {
    EXPECT_EQ(normalise_level("l3"), "L3");
    EXPECT_EQ(normalise_level("L3-L4"), "L3-L4");
    EXPECT_EQ(normalise_level("L3 / 4"), "L3-L4");
    EXPECT_EQ(normalise_level("L5-S1"), "L5-S1");
    EXPECT_EQ(normalise_level("T12-L1"), "T12-L1");
    EXPECT_FALSE(normalise_level("L4-L3"));
    EXPECT_FALSE(normalise_level("L3-L3"));
    EXPECT_FALSE(normalise_level("L3-x"));
    EXPECT_EQ(level_top_ordinal("L3-L4"), parse_single_level("L3"));
    EXPECT_FALSE(level_top_ordinal("L4-L3"));
}

TEST(Anatomy, SidesAndMuscles) {
    EXPECT_EQ(to_string(Side::Left), "left");
    EXPECT_EQ(to_string(Side::Midline), "midline");
    EXPECT_EQ(side_letter(Side::Right), "R");
    EXPECT_EQ(side_from_name("l"), Side::Left);
    EXPECT_EQ(side_from_name(""), Side::Unknown);
    EXPECT_FALSE(side_from_name("lt")); // a label word, not a file value
    EXPECT_EQ(muscle_key("  Erector -- Spinae"), "erector_spinae");
    for (const auto& m : paraspinal_muscles) {
        EXPECT_EQ(paraspinal_muscle(muscle_key(m.abbreviation)), m.id) << m.abbreviation;
        EXPECT_EQ(paraspinal_muscle(muscle_key(m.name)), m.id) << m.name;
        EXPECT_EQ(muscle_name(std::string(m.abbreviation)), m.name);
        EXPECT_EQ(muscle_name(std::string(m.id)), m.name);
    }
    EXPECT_EQ(muscle_name("glut max"), "glut max");
    EXPECT_EQ(paraspinal_typo("longisimus"), "longissimus");
    EXPECT_FALSE(paraspinal_typo("longissimus"));
    EXPECT_FALSE(paraspinal_typo("glut"));
}

// The labels `semg simulate` writes read back, through the montage's label inference, as the
// sites the simulator meant: the same muscle, level and side, and one pair per simulated pair.
TEST(Anatomy, SimulatorLabelsReadBackAsTheirSites) {
    Scenario s;
    s.pairs = default_pairs(max_default_pairs);
    s.pairs.push_back(s.pairs[0]);
    s.pairs.back().level = "L3-L4";
    const auto labels = s.labels();
    const auto montage = semg::pipeline::infer_montage(labels);
    ASSERT_EQ(montage.channels.size(), labels.size());
    for (std::size_t c = 0; c < labels.size(); ++c) {
        const auto& pair = s.pairs[c / 2];
        const auto& site = montage.channels[c];
        EXPECT_EQ(site.muscle, paraspinal_muscle(muscle_key(pair.muscle))) << labels[c];
        EXPECT_EQ(site.level, normalise_level(pair.level)) << labels[c];
        EXPECT_EQ(site.side, c % 2 == 0 ? Side::Left : Side::Right) << labels[c];
    }
    EXPECT_EQ(semg::pipeline::bilateral_pairs(montage).size(), s.pairs.size());
}

// The ECG's level gain counts segments below L1 on the same scale.
TEST(Anatomy, EcgLevelGainCountsSegmentsBelowL1) {
    EcgSpec ecg;
    ecg.ratio = 0.5;
    ecg.level_decay = 0.2;
    const double at_l1 = sim::Ecg::peak_uv(ecg, 100.0, Side::Left, "L1");
    EXPECT_DOUBLE_EQ(at_l1, 50.0);
    EXPECT_DOUBLE_EQ(sim::Ecg::peak_uv(ecg, 100.0, Side::Left, "T12"), 50.0 * std::exp(0.2));
    EXPECT_DOUBLE_EQ(sim::Ecg::peak_uv(ecg, 100.0, Side::Left, "S1"), 50.0 * std::exp(-1.0));
    EXPECT_DOUBLE_EQ(sim::Ecg::peak_uv(ecg, 100.0, Side::Left, "L3-L4"),
                     sim::Ecg::peak_uv(ecg, 100.0, Side::Left, "L3"));
    EXPECT_DOUBLE_EQ(sim::Ecg::peak_uv(ecg, 100.0, Side::Right, "L1"), 50.0 * ecg.right_gain);
}

} // namespace
