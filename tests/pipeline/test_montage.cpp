// Montage: label inference (realistic label styles, ambiguous labels rejected), the TOML file
// (good and bad files written to a temporary directory) and bilateral pairing.
#include "pipeline/montage.hpp"
#include "tests/alloc_counter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace semg::pipeline {
namespace {

using ::testing::HasSubstr;

// The message of the std::invalid_argument that fn throws; fails the test when it throws none.
template <typename Fn> std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const std::invalid_argument& error) {
        return error.what();
    }
    ADD_FAILURE() << "expected std::invalid_argument";
    return {};
}

struct LabelCase {
    std::string label;
    std::string muscle;
    std::string level;
    Side side;
};

// Each label is inferred on its own, so every case must be readable without context.
const std::vector<LabelCase> label_cases{
    {"ES L3 L", "erector_spinae", "L3", Side::Left},
    {"ES_L3_R", "erector_spinae", "L3", Side::Right},
    {"L3 ES left", "erector_spinae", "L3", Side::Left},
    {"Left Erector Spinae L3", "erector_spinae", "L3", Side::Left},
    {"erector_spinae_L4_right", "erector_spinae", "L4", Side::Right},
    {"LT L1 Lt", "longissimus", "L1", Side::Left},
    {"Longissimus L1 right", "longissimus", "L1", Side::Right},
    {"Rt LT T10", "longissimus", "T10", Side::Right},
    {"LG-L1-R", "longissimus", "L1", Side::Right},
    {"IL-L3-L", "iliocostalis", "L3", Side::Left},
    {"ILC L2 Rt", "iliocostalis", "L2", Side::Right},
    {"Iliocostalis lumborum L2 left", "iliocostalis", "L2", Side::Left},
    {"MF L5 R", "multifidus", "L5", Side::Right},
    {"multifidus_L5_left", "multifidus", "L5", Side::Left},
    {"R MF L5", "multifidus", "L5", Side::Right},
    {"mf.l5.l", "multifidus", "L5", Side::Left},
    {"ESL4R", "erector_spinae", "L4", Side::Right},
    {"ESL3L", "erector_spinae", "L3", Side::Left},
    {"L ES L4", "erector_spinae", "L4", Side::Left},
    {"L_ES_L3", "erector_spinae", "L3", Side::Left},
    {"T12 ES L", "erector_spinae", "T12", Side::Left},
    {"erector spinae L3/L4 right", "erector_spinae", "L3-L4", Side::Right},
    {"ES L3-4 L", "erector_spinae", "L3-L4", Side::Left},
    {"ES l5/s1 dx", "erector_spinae", "L5-S1", Side::Right},
    {"EMG L ES L3", "erector_spinae", "L3", Side::Left},
    {"EMG1 (ES L3 R)", "erector_spinae", "L3", Side::Right},
    {"Paraspinal L4 Left", "erector_spinae", "L4", Side::Left},
    {"Longissimus thoracis L1 sin", "longissimus", "L1", Side::Left},
    {"es_l3_r", "erector_spinae", "L3", Side::Right},
    {"ES L sx", "erector_spinae", "", Side::Left},
    {"RT10ES", "erector_spinae", "T10", Side::Right},
    {"Left", "", "", Side::Left},
    {"EMG R", "", "", Side::Right},
};

TEST(InferMontage, RealisticLabelStyles) {
    for (const auto& c : label_cases) {
        SCOPED_TRACE(c.label);
        Montage montage;
        ASSERT_NO_THROW(montage = infer_montage({c.label}));
        ASSERT_EQ(montage.channels.size(), 1u);
        const auto& site = montage.channels[0];
        EXPECT_EQ(site.label, c.label);
        EXPECT_TRUE(site.is_emg);
        EXPECT_EQ(site.muscle, c.muscle);
        EXPECT_EQ(site.level, c.level);
        EXPECT_EQ(to_string(site.side), to_string(c.side));
    }
}

TEST(InferMontage, FullBilateralRecordingKeepsOrder) {
    const std::vector<std::string> labels{"ES L3 L", "ES L3 R", "MF L5 L",
                                          "MF L5 R", "ECG",     "Acc X"};
    const auto montage = infer_montage(labels);
    ASSERT_EQ(montage.channels.size(), labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i)
        EXPECT_EQ(montage.channels[i].label, labels[i]);
    EXPECT_FALSE(montage.channels[4].is_emg);
    EXPECT_FALSE(montage.channels[5].is_emg);
    EXPECT_EQ(montage.index_of("MF L5 R"), std::optional<std::size_t>(3));
    EXPECT_EQ(montage.index_of("nope"), std::nullopt);
}

TEST(InferMontage, NonEmgLabels) {
    const std::vector<std::string> labels{"ECG",    "EKG lead II", "AccX",
                                          "ACC X",  "Gyro Z",      "EDF Annotations",
                                          "Status", "Trigger",     "ES L3 L"};
    const auto montage = infer_montage(labels);
    for (std::size_t i = 0; i + 1 < labels.size(); ++i) {
        SCOPED_TRACE(labels[i]);
        EXPECT_FALSE(montage.channels[i].is_emg);
        EXPECT_EQ(montage.channels[i].side, Side::Unknown);
    }
    EXPECT_TRUE(montage.channels.back().is_emg);
}

TEST(InferMontage, GenericLabelsHaveNoSite) {
    // Real labels from the shared data sets: no side anywhere, so nothing can be paired.
    const std::vector<std::string> labels{
        "EMG1", "ch2", "emg_mV", "Spinale: EMG 2", "Retto Addominale: EMG 1", "acc1"};
    const auto montage = infer_montage(labels);
    for (std::size_t i = 0; i < 5; ++i) {
        SCOPED_TRACE(labels[i]);
        EXPECT_TRUE(montage.channels[i].is_emg);
        EXPECT_EQ(montage.channels[i].muscle, "");
        EXPECT_EQ(montage.channels[i].level, "");
        EXPECT_EQ(montage.channels[i].side, Side::Unknown);
    }
    EXPECT_FALSE(montage.channels[5].is_emg);
    EXPECT_TRUE(bilateral_pairs(montage).empty());
}

TEST(InferMontage, MuscleWithoutAnySideIsKept) {
    // A one-sided pilot recording: the site is known, the side is not stated by any label.
    const auto montage = infer_montage({"ES L3", "Multifidus L5"});
    EXPECT_EQ(montage.channels[0].muscle, "erector_spinae");
    EXPECT_EQ(montage.channels[1].level, "L5");
    EXPECT_EQ(montage.channels[1].side, Side::Unknown);
}

struct AmbiguousCase {
    std::vector<std::string> labels;
    std::string bad_label; // must appear in the message
};

TEST(InferMontage, AmbiguousLabelsAreRejected) {
    const std::vector<AmbiguousCase> cases{
        {{"ES L3 L", "ES L3"}, "ES L3"},               // no side while others have one
        {{"ES L3 L", "EMG5"}, "EMG5"},                 // generic among sided labels
        {{"L1", "L2", "R1", "R2"}, "L1"},              // level L1 or left channel 1?
        {{"S1"}, "S1"},                                // level S1 or sensor 1?
        {{"ES L R"}, "ES L R"},                        // two sides
        {{"lt_l1_r"}, "lt_l1_r"},                      // lower-case lt is a side, not LT
        {{"ES MF L5 L"}, "ES MF L5 L"},                // two muscles
        {{"ES L3 L4 L"}, "ES L3 L4 L"},                // two levels, not written as a range
        {{"ES L4-3 L"}, "ES L4-3 L"},                  // a range running upwards
        {{"Biceps L"}, "Biceps L"},                    // an unknown word next to a side
        {{"ES L3 L", "ES_L3_L"}, "ES_L3_L"},           // two channels on one site
        {{"EMG L", "EMG R", "EMG L 2"}, "EMG L 2"},    // same, with no muscle or level
        {{"ES L3 L", "ES L3 R", "ES L4 R", "x"}, "x"}, // last of many
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.bad_label);
        const std::string message = error_of([&] { infer_montage(c.labels); });
        EXPECT_THAT(message, HasSubstr("'" + c.bad_label + "'"));
        EXPECT_THAT(message, HasSubstr("--montage FILE"));
        EXPECT_THAT(message, HasSubstr("docs/montage.md"));
    }
}

// Found while fuzzing (tests/fuzz/fuzz_montage spent its time here): reading a glued word tried
// every substring as a piece, each copied and lower-cased, so the work grew with the cube of the
// label's length (a corrupt CSV header, an ASCII device's 4 kB line). Work is counted in heap
// allocations, which do not depend on the machine: before the fix 978,185 and 503,473 for the
// second and third labels, after it at most 5,007; the bound leaves 10x headroom over that.
TEST(InferMontage, LongGluedWordsAreReadInLinearWork) {
    const std::string digits(1000, '7');
    for (const std::string& label :
         {std::string(1000, 'x'), "ES" + std::string(1000, 'l'), "MFL5ch" + digits + "R", digits}) {
        SCOPED_TRACE(label.substr(0, 8) + "... (" + std::to_string(label.size()) + " characters)");
        const test::AllocationCounter allocations;
        try {
            (void)infer_montage({label});
        } catch (const std::invalid_argument&) {
        }
        EXPECT_LT(allocations.count(), 50'000u);
    }
    // A glued number is still read whole, at any length.
    const auto montage = infer_montage({"MFL5ch" + digits + "R"});
    EXPECT_EQ(montage.channels[0].muscle, "multifidus");
    EXPECT_EQ(montage.channels[0].level, "L5");
    EXPECT_EQ(montage.channels[0].side, Side::Right);
}

TEST(InferMontage, AmbiguityMessagesSayWhy) {
    EXPECT_THAT(error_of([] { infer_montage({"L1", "R1"}); }), HasSubstr("left channel 1"));
    EXPECT_THAT(error_of([] { infer_montage({"ES L R"}); }), HasSubstr("two sides"));
    EXPECT_THAT(error_of([] {
                    infer_montage({"ES L3 L", "ES_L3_L"});
                }),
                HasSubstr("same site as 'ES L3 L'"));
    EXPECT_THAT(error_of([] { infer_montage({"Biceps L"}); }),
                HasSubstr("unrecognised word 'Biceps'"));
}

// Issue 13: a clear side and level with a muscle word outside the vocabulary no longer stops the
// analysis; the word becomes a free-text muscle and pairs with its mirror label.
TEST(InferMontage, UnknownMuscleWordWithSideAndLevelIsFreeText) {
    const std::vector<std::string> labels{"LONG L1 L", "long_L1_R", "GLUT L5 R",     "GLUT L5 L",
                                          "ES L3 L",   "ES L3 R",   "Glut Max T12 L"};
    const auto montage = infer_montage(labels);
    EXPECT_EQ(montage.channels[0].muscle, "long");
    EXPECT_EQ(montage.channels[0].level, "L1");
    EXPECT_EQ(montage.channels[0].side, Side::Left);
    EXPECT_EQ(montage.channels[1].muscle, "long");
    EXPECT_EQ(montage.channels[1].side, Side::Right);
    EXPECT_EQ(montage.channels[2].muscle, "glut");
    EXPECT_EQ(montage.channels[2].level, "L5");
    EXPECT_EQ(montage.channels[6].muscle, "glut max");
    EXPECT_EQ(montage.channels[4].muscle, "erector_spinae");

    // One notice per free-text label, naming it and the word kept.
    ASSERT_EQ(montage.notices.size(), 5u);
    EXPECT_THAT(montage.notices[0], HasSubstr("'LONG L1 L'"));
    EXPECT_THAT(montage.notices[0], HasSubstr("free-text muscle 'long'"));
    EXPECT_THAT(montage.notices[4], HasSubstr("'Glut Max'"));

    const auto pairs = bilateral_pairs(montage);
    ASSERT_EQ(pairs.size(), 3u); // long L1, glut L5 (left is channel 3), ES L3; glut max alone
    EXPECT_EQ(pairs[0].left, 0u);
    EXPECT_EQ(pairs[0].right, 1u);
    EXPECT_EQ(pairs[0].muscle, "long");
    EXPECT_EQ(pairs[1].left, 3u);
    EXPECT_EQ(pairs[1].right, 2u);
    EXPECT_EQ(pairs[1].muscle, "glut");
    EXPECT_EQ(pairs[2].muscle, "erector_spinae");

    // A known vocabulary gives no notice.
    EXPECT_TRUE(infer_montage({"ES L3 L", "ES L3 R"}).notices.empty());
}

TEST(InferMontage, FreeTextMuscleNeedsSideAndLevelAndNoTypo) {
    // Without a level the word may be anything ("Biceps L" above); without a side likewise.
    EXPECT_THAT(error_of([] { infer_montage({"GLUT L5"}); }),
                HasSubstr("unrecognised word 'GLUT'"));
    EXPECT_THAT(error_of([] { infer_montage({"GLUT R"}); }), HasSubstr("unrecognised word 'GLUT'"));
    // A known muscle next to an unknown word is still an unknown word, not a second muscle.
    EXPECT_THAT(error_of([] { infer_montage({"ES foo L3 L"}); }),
                HasSubstr("unrecognised word 'foo'"));
    // A misspelt paraspinal name would silently break its pair: rejected, with the fix.
    const std::string typo = error_of([] { infer_montage({"multifidis L5 L", "MF L5 R"}); });
    EXPECT_THAT(typo, HasSubstr("'multifidis L5 L'"));
    EXPECT_THAT(typo, HasSubstr("did you mean 'multifidus'?"));
    // Two free-text channels on one site are still a duplicated site.
    EXPECT_THAT(error_of([] {
                    infer_montage({"GLUT L5 L", "glut L5 L"});
                }),
                HasSubstr("same site as 'GLUT L5 L'"));
}

// ---- Montage files ----------------------------------------------------------------------------

class MontageFile : public ::testing::Test {
protected:
    std::filesystem::path write(const std::string& text) {
        std::ofstream(path_) << text;
        return path_;
    }
    void TearDown() override { std::filesystem::remove(path_); }

private:
    std::filesystem::path path_ =
        std::filesystem::temp_directory_path() /
        ("semg_test_montage_" +
         std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".toml");
};

const std::vector<std::string> recording{"EMG 1", "EMG 2", "EMG 3", "EMG 4", "ECG"};

TEST_F(MontageFile, TablesOfChannels) {
    const auto file = write(R"(
description = "Sorensen hold, SENIAM sites"
[defaults]
electrode_size_mm = 10
inter_electrode_distance_mm = 20

[channels."EMG 1"]
muscle = "erector_spinae"
level = "L3"
side = "left"

[channels."EMG 2"]
muscle = "ES"
level = "l3"
side = "Right"
inter_electrode_distance_mm = 25.5

[channels."EMG 3"]
muscle = "Longissimus"
level = "L1/L2"
side = "l"

[channels."EMG 4"]
muscle = "gluteus_medius"
side = "midline"

[channels.ECG]
type = "ecg"
)");
    const auto montage = load_montage(file, recording);
    ASSERT_EQ(montage.channels.size(), 5u);
    EXPECT_EQ(montage.source, file.string());
    const auto& es_left = montage.channels[0];
    EXPECT_EQ(es_left.label, "EMG 1");
    EXPECT_EQ(es_left.muscle, "erector_spinae");
    EXPECT_EQ(es_left.level, "L3");
    EXPECT_EQ(es_left.side, Side::Left);
    EXPECT_EQ(es_left.electrode_size_mm, std::optional(10.0));
    EXPECT_EQ(es_left.inter_electrode_distance_mm, std::optional(20.0));
    EXPECT_EQ(montage.channels[1].muscle, "erector_spinae");
    EXPECT_EQ(montage.channels[1].side, Side::Right);
    EXPECT_EQ(montage.channels[1].inter_electrode_distance_mm, std::optional(25.5));
    EXPECT_EQ(montage.channels[2].muscle, "longissimus");
    EXPECT_EQ(montage.channels[2].level, "L1-L2");
    EXPECT_EQ(montage.channels[3].muscle, "gluteus_medius"); // free text kept
    EXPECT_EQ(montage.channels[3].level, "");
    EXPECT_EQ(montage.channels[3].side, Side::Midline);
    EXPECT_FALSE(montage.channels[4].is_emg);
    EXPECT_EQ(montage.channels[4].electrode_size_mm, std::nullopt);

    const auto pairs = bilateral_pairs(montage);
    ASSERT_EQ(pairs.size(), 1u);
    EXPECT_EQ(pairs[0].left, 0u);
    EXPECT_EQ(pairs[0].right, 1u);
    EXPECT_EQ(pairs[0].muscle, "erector_spinae");
    EXPECT_EQ(pairs[0].level, "L3");
}

TEST_F(MontageFile, ArrayOfChannelsInAnyOrder) {
    const auto file = write(R"(
[[channel]]
label = "EMG 3"
muscle = "multifidus"
level = "L5"
side = "right"

[[channel]]
label = "EMG 1"
muscle = "MF"
level = "L5"
side = "left"
electrode_size_mm = 8

[[channel]]
label = "EMG 2"
type = "other"

[[channel]]
label = "EMG 4"
type = "acc"
)");
    // "ECG" needs no entry: its label says it is not EMG.
    const auto montage = load_montage(file, recording);
    EXPECT_EQ(montage.channels[0].muscle, "multifidus");
    EXPECT_EQ(montage.channels[0].electrode_size_mm, std::optional(8.0));
    EXPECT_EQ(montage.channels[2].side, Side::Right);
    EXPECT_FALSE(montage.channels[1].is_emg);
    EXPECT_FALSE(montage.channels[3].is_emg);
    EXPECT_FALSE(montage.channels[4].is_emg);
    const auto pairs = bilateral_pairs(montage);
    ASSERT_EQ(pairs.size(), 1u);
    EXPECT_EQ(pairs[0].left, 0u);
    EXPECT_EQ(pairs[0].right, 2u);
}

struct BadFile {
    std::string name;
    std::string toml;
    std::vector<std::string> expected; // substrings of the message
};

TEST_F(MontageFile, BadFilesAreRejectedWithFileAndReason) {
    const std::string others = R"(
[channels."EMG 2"]
type = "other"
[channels."EMG 3"]
type = "other"
[channels."EMG 4"]
type = "other"
)";
    const std::vector<BadFile> cases{
        {"syntax error",
         "[channels.\"EMG 1\"]\nmuscle = \"ES\"\nside = left\n",
         {":3:", "TOML syntax error"}},
        {"unknown channel",
         R"([channels."EMG 9"]
muscle = "ES")" +
             others,
         {":1:", "'EMG 9' is not in the recording", "'EMG 1'"}},
        {"missing channel", others, {"recording channel 'EMG 1' is not in the montage"}},
        {"two missing",
         "[channels.\"EMG 4\"]\ntype = \"other\"\n",
         {"'EMG 1', 'EMG 2', 'EMG 3' are not in the montage"}},
        {"unknown side",
         "[channels.\"EMG 1\"]\nside = \"lft\"\n" + others,
         {":2:", "'EMG 1'", "unknown side 'lft'"}},
        {"muscle typo",
         "[channels.\"EMG 1\"]\nmuscle = \"longisimus\"\n" + others,
         {":2:", "'EMG 1'", "unknown muscle 'longisimus'", "did you mean 'longissimus'"}},
        {"unknown level",
         "[channels.\"EMG 1\"]\nlevel = \"L7\"\n" + others,
         {":2:", "'EMG 1'", "unknown level 'L7'"}},
        {"upward range",
         "[channels.\"EMG 1\"]\nlevel = \"L4-L3\"\n" + others,
         {"unknown level 'L4-L3'"}},
        {"unknown type", "[channels.\"EMG 1\"]\ntype = \"eeg\"\n" + others, {"unknown type 'eeg'"}},
        {"unknown key",
         "[channels.\"EMG 1\"]\nlvl = \"L3\"\n" + others,
         {":2:", "unknown key 'lvl'"}},
        {"negative size",
         "[channels.\"EMG 1\"]\nelectrode_size_mm = -4\n" + others,
         {"electrode_size_mm must be a positive number"}},
        {"side not a string",
         "[channels.\"EMG 1\"]\nside = 1\n" + others,
         {"side must be a string"}},
        {"described twice",
         "[channels.\"EMG 1\"]\nside = \"left\"\n[[channel]]\nlabel = \"EMG 1\"\n" + others,
         {"'EMG 1' is described twice"}},
        {"array without label", "[[channel]]\nside = \"left\"\n" + others, {"needs label"}},
        {"unknown table",
         "[chanels.\"EMG 1\"]\nside = \"left\"\n" + others,
         {"unexpected 'chanels'"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto file = write(c.toml);
        const std::string message = error_of([&] { load_montage(file, recording); });
        EXPECT_THAT(message, HasSubstr(file.string()));
        for (const auto& part : c.expected)
            EXPECT_THAT(message, HasSubstr(part));
        EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
    }
}

TEST(MontageFileMissing, NamesTheFile) {
    EXPECT_THAT(error_of([] { load_montage("/nonexistent/montage.toml", {"EMG 1"}); }),
                HasSubstr("/nonexistent/montage.toml: cannot open"));
}

// ---- Pairs and description --------------------------------------------------------------------

TEST(BilateralPairs, OrderedByLeftChannelWithUnpairedLeftOut) {
    const auto montage =
        infer_montage({"MF L5 R", "ES L3 R", "ES L3 L", "LT L1 L", "MF L5 L", "ILC L2 R", "ECG"});
    const auto pairs = bilateral_pairs(montage);
    ASSERT_EQ(pairs.size(), 2u);
    EXPECT_EQ(pairs[0].left, 2u);
    EXPECT_EQ(pairs[0].right, 1u);
    EXPECT_EQ(pairs[0].muscle, "erector_spinae");
    EXPECT_EQ(pairs[0].level, "L3");
    EXPECT_EQ(pairs[1].left, 4u);
    EXPECT_EQ(pairs[1].right, 0u);
    EXPECT_EQ(pairs[1].muscle, "multifidus");
}

TEST(BilateralPairs, LevelMustMatch) {
    EXPECT_TRUE(bilateral_pairs(infer_montage({"ES L3 L", "ES L4 R"})).empty());
    EXPECT_EQ(bilateral_pairs(infer_montage({"Left", "Right"})).size(), 1u);
}

TEST(BilateralPairs, DuplicatedSiteIsAnError) {
    // A montage file may put two electrodes on one site; pairing them is then ambiguous.
    Montage montage;
    montage.source = "test.toml";
    montage.channels = {{"A", "erector_spinae", "L3", Side::Left, true, {}, {}},
                        {"B", "erector_spinae", "L3", Side::Right, true, {}, {}},
                        {"C", "erector_spinae", "L3", Side::Right, true, {}, {}}};
    const std::string two_rights = error_of([&] { bilateral_pairs(montage); });
    EXPECT_THAT(two_rights, HasSubstr("'B' and 'C'"));
    EXPECT_THAT(two_rights, HasSubstr("'A' would be in two bilateral pairs"));

    montage.channels[2].side = Side::Left;
    const std::string two_lefts = error_of([&] { bilateral_pairs(montage); });
    EXPECT_THAT(two_lefts, HasSubstr("'A' and 'C'"));
    EXPECT_THAT(two_lefts, HasSubstr("'B' would be in two bilateral pairs"));

    montage.channels[2].is_emg = false; // not EMG: never paired
    EXPECT_EQ(bilateral_pairs(montage).size(), 1u);
}

TEST(Describe, TableOfChannels) {
    auto montage = infer_montage({"ES L3 L", "ECG", "EMG R"});
    const std::string text = describe(montage);
    EXPECT_THAT(text, HasSubstr("inferred from channel labels"));
    EXPECT_THAT(text, HasSubstr("label    muscle          level  side"));
    EXPECT_THAT(text, HasSubstr("ES L3 L  erector_spinae  L3     left\n"));
    EXPECT_THAT(text, HasSubstr("ECG      (not EMG)\n"));
    EXPECT_THAT(text, HasSubstr("EMG R    -               -      right\n"));
    EXPECT_THAT(text, ::testing::Not(HasSubstr("electrodes")));

    montage.channels[0].electrode_size_mm = 10;
    montage.channels[0].inter_electrode_distance_mm = 20;
    EXPECT_THAT(describe(montage), HasSubstr("left   10 mm, 20 mm apart"));
}

} // namespace
} // namespace semg::pipeline
