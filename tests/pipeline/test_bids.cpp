// BIDS-EMG sidecars (pipeline/bids): file names, *_emg.json and *_channels.tsv parsing with
// their errors, the inheritance principle, the montage a channels.tsv gives, and what a capture
// writes read back by the same parsers. Files are written to a fresh temporary folder.
#include "pipeline/bids.hpp"
#include "tests/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

using namespace semg;
using namespace semg::pipeline;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

template <typename Fn> std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected an exception";
    return {};
}

fs::path fresh_dir(const std::string& name) {
    const auto dir = fs::path(SEMG_BINARY_DIR) / "test_bids" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

void write(const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

acquisition::SourceInfo info_with(const std::vector<std::string>& labels, double fs_hz = 2048.0) {
    acquisition::SourceInfo info;
    info.sample_rate_hz = fs_hz;
    for (const auto& l : labels)
        info.channels.push_back({l, {}, {}, {}});
    return info;
}

const std::string kHeader = "name\ttype\tunits\ttarget_muscle\tside\tlevel\tstatus\n";

} // namespace

TEST(BidsNames, EntitiesSuffixExtension) {
    const auto n = bids::parse_file_name("sub-01_ses-2_task-sorensen_run-1_emg.bdf");
    EXPECT_EQ(n.suffix, "emg");
    EXPECT_EQ(n.extension, ".bdf");
    EXPECT_EQ(n.entity("sub"), "01");
    EXPECT_EQ(n.entity("run"), "1");
    EXPECT_EQ(n.entity("acq"), std::nullopt);
    EXPECT_EQ(n.stem(), "sub-01_ses-2_task-sorensen_run-1");
    EXPECT_EQ(bids::parse_file_name("task-x_channels.tsv").suffix, "channels");
    for (const char* bad : {"rec.bdf", "sub-01_ses_emg.bdf", "sub-01_sub-02_emg.bdf",
                            "sub-0 1_emg.bdf", "sub-01_emg", "sub-01_task-x_e-mg.bdf"})
        EXPECT_EQ(bids::parse_file_name(bad).suffix, "") << bad;
}

TEST(BidsEmgJson, ReadsRateAndMainsAndWarnsOnMissingRequiredFields) {
    const auto full = bids::parse_emg_json(
        R"({"TaskName":"hold","EMGPlacementScheme":"Other","EMGReference":"bipolar",
            "SamplingFrequency":2048,"PowerLineFrequency":50,"RecordingType":"continuous",
            "SoftwareFilters":"n/a"})",
        "x_emg.json");
    EXPECT_EQ(full.sampling_frequency_hz, 2048.0);
    EXPECT_EQ(full.power_line_hz, 50.0);
    EXPECT_EQ(full.task_name, "hold");
    EXPECT_TRUE(full.warnings.empty()) << full.warnings.front();

    const auto partial =
        bids::parse_emg_json(R"({"SamplingFrequency":1000,"PowerLineFrequency":"n/a",
                                                  "EMGPlacementScheme":"Somewhere"})",
                             "y_emg.json");
    EXPECT_EQ(partial.power_line_hz, std::nullopt);
    // 4 missing REQUIRED fields and one bad enum value, each named.
    ASSERT_EQ(partial.warnings.size(), 5u);
    EXPECT_THAT(partial.warnings[0], HasSubstr("EMGPlacementScheme \"Somewhere\""));
    EXPECT_THAT(partial.warnings[1], HasSubstr("REQUIRED field EMGReference is missing"));
}

TEST(BidsEmgJson, BadFilesNameFileAndField) {
    EXPECT_THAT(error_of([] { bids::parse_emg_json("{\"a\":", "f_emg.json"); }),
                HasSubstr("f_emg.json: not valid JSON at byte"));
    // Found by fuzz_bids: a number beyond a double threw nlohmann's out_of_range, uncaught.
    EXPECT_THAT(
        error_of([] { bids::parse_emg_json(R"({"SamplingFrequency": 6e6666})", "f_emg.json"); }),
        HasSubstr("f_emg.json: not valid JSON (")); // names the number
    EXPECT_THAT(error_of([] { bids::parse_emg_json("[1,2]", "f_emg.json"); }),
                HasSubstr("not a JSON object"));
    EXPECT_THAT(
        error_of([] { bids::parse_emg_json(R"({"SamplingFrequency":"fast"})", "f_emg.json"); }),
        HasSubstr("f_emg.json: SamplingFrequency \"fast\" is not a positive number"));
    EXPECT_THAT(
        error_of([] { bids::parse_emg_json(R"({"PowerLineFrequency":-50})", "f_emg.json"); }),
        HasSubstr("PowerLineFrequency -50"));
}

TEST(BidsChannelsTsv, ColumnsInAnyOrderWithOptionalOnes) {
    const auto rows =
        bids::parse_channels_tsv("units\tname\ttype\tinterelectrode_distance\ttarget_muscle\r\n"
                                 "uV\tES L3 L\tEMG\t20\terector spinae\r\n"
                                 "\n"
                                 "V\tECG\tECG\tn/a\tn/a\n",
                                 "c.tsv");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].name, "ES L3 L");
    EXPECT_EQ(rows[0].units, "uV");
    EXPECT_EQ(rows[0].interelectrode_distance_mm, 20.0);
    EXPECT_EQ(rows[1].type, "ECG");
    EXPECT_EQ(rows[1].line, 4u);
    EXPECT_EQ(rows[1].interelectrode_distance_mm, std::nullopt);
}

TEST(BidsChannelsTsv, BadTablesNameFileAndLine) {
    struct Case {
        std::string text, message;
    };
    const std::vector<Case> cases{
        {"", "c.tsv: empty"},
        {"name\ttype\nA\tEMG\n", "c.tsv:1: no column 'units'"},
        {"name,type,units\nA,EMG,uV\n", "no column 'name'"},
        {"name\ttype\tunits\nA\tEMG\n", "c.tsv:2: 2 cells, the header has 3"},
        {"name\ttype\tunits\nA\tEMG\tuV\nA\tEMG\tuV\n", "c.tsv:3: channel 'A' is listed twice"},
        {"name\ttype\tunits\nn/a\tEMG\tuV\n", "c.tsv:2: a channel without a name"},
        {"name\ttype\tunits\tname\n", "column 'name' appears twice"},
        {"name\ttype\tunits\tinterelectrode_distance\nA\tEMG\tuV\t2cm\n",
         "c.tsv:2: channel 'A': interelectrode_distance '2cm'"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_THAT(error_of([&] { bids::parse_channels_tsv(c.text, "c.tsv"); }),
                    HasSubstr(c.message));
    }
}

TEST(BidsMontage, ChannelsTsvGivesSitesTypesAndStatus) {
    // Generic channel names: the sites come only from the table.
    const auto rows =
        bids::parse_channels_tsv(kHeader + "emg1\tEMG\tuV\terector spinae\tleft\tL3\tgood\n"
                                           "emg2\tEMG\tuV\terector spinae\tright\tL3\tgood\n"
                                           "emg3\tEMG\tmV\tleft gluteus medius\tn/a\tL5\tn/a\n"
                                           "emg4\tEMG\tuV\tgluteus medius\tR\tL5\tn/a\n"
                                           "emg5\tEMG\tuV\tmultifidus\tleft\tL5\tbad\n"
                                           "trig\tTRIG\tV\tn/a\tn/a\tn/a\tn/a\n",
                                 "c.tsv");
    std::vector<std::string> notices;
    const auto montage = bids::montage_from_channels(
        rows, "c.tsv", info_with({"emg1", "emg2", "emg3", "emg4", "emg5", "trig"}), notices);
    EXPECT_EQ(montage.source, "c.tsv");
    EXPECT_EQ(montage.channels[0].muscle, "erector_spinae");
    EXPECT_EQ(montage.channels[0].side, Side::Left);
    EXPECT_EQ(montage.channels[0].level, "L3");
    EXPECT_EQ(montage.channels[2].muscle, "gluteus medius");
    EXPECT_EQ(montage.channels[2].side, Side::Left); // from the target_muscle text
    EXPECT_EQ(montage.channels[3].side, Side::Right);
    EXPECT_FALSE(montage.channels[4].is_emg); // status bad
    EXPECT_FALSE(montage.channels[5].is_emg); // type TRIG
    const auto pairs = bilateral_pairs(montage);
    ASSERT_EQ(pairs.size(), 2u);
    EXPECT_EQ(pairs[1].muscle, "gluteus medius");
    ASSERT_EQ(notices.size(), 1u);
    EXPECT_THAT(notices[0], HasSubstr("c.tsv:6: channel 'emg5' has status bad"));
}

TEST(BidsMontage, LabelFillsWhatTheTableDoesNotSay) {
    const auto rows = bids::parse_channels_tsv(
        "name\ttype\tunits\nES L3 L\tEMG\tuV\nES L3 R\tEMG\tuV\n", "c.tsv");
    std::vector<std::string> notices;
    const auto montage =
        bids::montage_from_channels(rows, "c.tsv", info_with({"ES L3 L", "ES L3 R"}), notices);
    EXPECT_EQ(bilateral_pairs(montage).size(), 1u);
    EXPECT_EQ(montage.channels[1].side, Side::Right);
}

TEST(BidsMontage, TableAndRecordingMustAgree) {
    std::vector<std::string> notices;
    const auto rows =
        bids::parse_channels_tsv("name\ttype\tunits\nA\tEMG\tuV\nB\tEMG\tuV\n", "c.tsv");
    EXPECT_THAT(
        error_of([&] { bids::montage_from_channels(rows, "c.tsv", info_with({"A"}), notices); }),
        HasSubstr("c.tsv:3: channel 'B' is not in the recording (its channels: 'A')"));
    EXPECT_THAT(error_of([&] {
                    bids::montage_from_channels(rows, "c.tsv", info_with({"A", "B", "C"}), notices);
                }),
                HasSubstr("c.tsv: no row for the recording's channel 'C'"));
    const auto bad_side =
        bids::parse_channels_tsv("name\ttype\tunits\tside\nA\tEMG\tuV\tup\n", "c.tsv");
    EXPECT_THAT(error_of([&] {
                    bids::montage_from_channels(bad_side, "c.tsv", info_with({"A"}), notices);
                }),
                HasSubstr("c.tsv:2: channel 'A': unknown side 'up'"));
    const auto typo = bids::parse_channels_tsv(
        "name\ttype\tunits\ttarget_muscle\nA\tEMG\tuV\tmultifidis\n", "c.tsv");
    EXPECT_THAT(
        error_of([&] { bids::montage_from_channels(typo, "c.tsv", info_with({"A"}), notices); }),
        HasSubstr("did you mean 'multifidus'?"));
}

TEST(BidsSamplingFrequency, MismatchNamesBoth) {
    bids::EmgSidecar sidecar;
    sidecar.sampling_frequency_hz = 2000.0;
    EXPECT_NO_THROW(bids::check_sampling_frequency(sidecar, "a_emg.json", info_with({"A"}, 2000.0),
                                                   "a_emg.bdf"));
    const std::string message = error_of([&] {
        bids::check_sampling_frequency(sidecar, "a_emg.json", info_with({"A"}, 2048.0),
                                       "a_emg.bdf");
    });
    EXPECT_THAT(message, HasSubstr("a_emg.json: SamplingFrequency 2000 Hz"));
    EXPECT_THAT(message, HasSubstr("a_emg.bdf is sampled at 2048 Hz"));
}

TEST(BidsLayout, RecordingsAndInheritedSidecars) {
    const fs::path root = fresh_dir("layout");
    write(root / "dataset_description.json", R"({"Name":"t","BIDSVersion":"1.11.0"})");
    write(root / "task-hold_emg.json",
          R"({"SamplingFrequency":2048,"PowerLineFrequency":60,"TaskName":"hold"})");
    const fs::path emg = root / "sub-01" / "ses-1" / "emg";
    write(emg / "sub-01_ses-1_task-hold_emg.bdf", "x");
    write(emg / "sub-01_ses-1_task-hold_emg.json", R"({"PowerLineFrequency":50})");
    write(root / "sub-01" / "sub-01_task-hold_channels.tsv", "name\ttype\tunits\n");
    write(root / "sub-02" / "emg" / "sub-02_task-hold_emg.edf", "x");
    write(root / "sub-02" / "emg" / "sub-03_task-hold_emg.edf", "x");  // wrong subject
    write(root / "sub-02" / "anat" / "sub-02_task-hold_emg.edf", "x"); // not emg/
    write(root / "derivatives" / "x" / "sub-01" / "emg" / "sub-01_task-hold_emg.bdf", "x");
    write(root / "sub-01" / "ses-1" / "emg" / "sub-01_ses-1_task-other_emg.json",
          "{}"); // other task

    const auto all = bids::find_recordings(root, root);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].relative, fs::path("sub-01/ses-1/emg"));
    EXPECT_EQ(all[1].name.stem(), "sub-02_task-hold");
    EXPECT_EQ(bids::find_recordings(root, root / "sub-02").size(), 1u);
    EXPECT_EQ(bids::find_root(emg), fs::weakly_canonical(root));

    const auto sidecars = bids::read_sidecars(all[0]);
    ASSERT_EQ(sidecars.files.emg_json.size(), 2u);
    EXPECT_EQ(sidecars.emg.power_line_hz, 50.0);           // the inner file wins key by key
    EXPECT_EQ(sidecars.emg.sampling_frequency_hz, 2048.0); // inherited from the top
    ASSERT_TRUE(sidecars.files.channels_tsv);
    EXPECT_EQ(sidecars.files.channels_tsv->filename(), "sub-01_task-hold_channels.tsv");

    // Two applicable files at one level: an error naming both.
    write(emg / "sub-01_task-hold_emg.json", "{}");
    EXPECT_THAT(error_of([&] { bids::find_sidecars(all[0]); }), HasSubstr("at the same level"));

    const fs::path empty = fresh_dir("empty");
    write(empty / "dataset_description.json", "{}");
    EXPECT_THAT(error_of([&] { bids::find_recordings(empty, empty); }),
                HasSubstr("no BIDS-EMG recording"));
}

TEST(BidsWriting, CaptureSidecarsReadBackAndParticipants) {
    bids::CaptureSidecar c;
    c.task = "hold";
    c.sampling_frequency_hz = 1000.0;
    c.power_line_hz = 60.0;
    c.labels = {"ES L3 L", "ES L3 R", "ECG"};
    c.emg_channel_count = 2;
    c.reference = "bipolar";
    c.placement_description = "SENIAM";
    const auto sidecar = bids::parse_emg_json(bids::emg_json_text(c), "w_emg.json");
    EXPECT_TRUE(sidecar.warnings.empty()) << sidecar.warnings.front();
    EXPECT_EQ(sidecar.sampling_frequency_hz, 1000.0);
    EXPECT_EQ(sidecar.power_line_hz, 60.0);

    const Montage inferred = infer_montage(c.labels);
    const auto rows = bids::parse_channels_tsv(bids::channels_tsv_text(c, inferred), "w.tsv");
    std::vector<std::string> notices;
    const auto montage = bids::montage_from_channels(rows, "w.tsv", info_with(c.labels), notices);
    for (std::size_t i = 0; i < c.labels.size(); ++i) {
        EXPECT_EQ(montage.channels[i].muscle, inferred.channels[i].muscle);
        EXPECT_EQ(montage.channels[i].side, inferred.channels[i].side);
        EXPECT_EQ(montage.channels[i].is_emg, inferred.channels[i].is_emg);
    }

    EXPECT_EQ(bids::participants_with("", "01", "p.tsv"), "participant_id\nsub-01\n");
    EXPECT_EQ(bids::participants_with("participant_id\tage\nsub-01\t30\n", "02", "p.tsv"),
              "participant_id\tage\nsub-01\t30\nsub-02\tn/a\n");
    EXPECT_EQ(bids::participants_with("participant_id\tage\nsub-01\t30\n", "01", "p.tsv"),
              "participant_id\tage\nsub-01\t30\n");
    EXPECT_THAT(error_of([] { bids::participants_with("age\n", "01", "p.tsv"); }),
                HasSubstr("p.tsv:1: the first column must be participant_id"));
    EXPECT_THAT(error_of([] { bids::check_label("0_1", "--subject"); }),
                HasSubstr("--subject '0_1'"));
}
