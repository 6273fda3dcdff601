// BIDS-EMG through the `semg` command (issue 13): a dataset of 2 subjects x 2 sessions made by
// `semg simulate` with sidecars, analysed from its root in one command, the derivatives tree
// checked; a sidecar that disagrees with its recording; `semg info`; and the sidecars that
// `semg capture --bids-root` writes, checked against BIDS' list of REQUIRED fields.
#include "acquisition/simulator.hpp"
#include "tests/pipeline/test_capture_util.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

using namespace semg;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

std::string read(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(const fs::path& file) {
    std::vector<std::string> lines;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

std::vector<std::string> cells(const std::string& line, char sep = '\t') {
    std::vector<std::string> out;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, sep);)
        out.push_back(cell);
    return out;
}

// The REQUIRED fields of *_emg.json in BIDS 1.11, from bids-standard/bids-specification at
// commit 4523097f4cd94bbd31cb151d07c56e6ba396d83e, src/schema/rules/sidecars/emg.yaml: the
// groups EMGRequired (EMGPlacementScheme, EMGReference, SamplingFrequency, PowerLineFrequency,
// RecordingType, SoftwareFilters) and EMGTaskInformation (TaskName); and
// EMGPlacementSchemeDescription, required there when EMGPlacementScheme is "Other" (the
// group EMGPlacementSchemeDescription), which is what semg capture writes.
const std::vector<std::string> kRequiredEmgJson{
    "EMGPlacementScheme", "EMGReference",    "SamplingFrequency", "PowerLineFrequency",
    "RecordingType",      "SoftwareFilters", "TaskName",          "EMGPlacementSchemeDescription"};
// Same source, src/schema/rules/tabular_data/emg.yaml, EMGChannels: required columns, in this
// order (initial_columns).
const std::vector<std::string> kRequiredChannelColumns{"name", "type", "units"};
// Same source, src/schema/rules/json/dataset.yaml, dataset_description: Name and BIDSVersion;
// src/schema/rules/tabular_data/modality_agnostic.yaml, Participants: participant_id.
const std::vector<std::string> kRequiredDatasetDescription{"Name", "BIDSVersion"};

fs::path fresh_dir(const std::string& name) { return test::fresh_test_dir("test_bids_cli", name); }

// sub-SS/ses-X/emg/sub-SS_ses-X_task-sorensen_emg.bdf from `semg simulate`, with its
// channels.tsv; the labels are the simulator's ("LT L1 L", ...).
fs::path simulate_recording(const fs::path& root, const std::string& sub, const std::string& ses,
                            unsigned seed, const std::string& extra = "") {
    const fs::path emg = root / ("sub-" + sub) / ("ses-" + ses) / "emg";
    fs::create_directories(emg);
    const std::string stem = "sub-" + sub + "_ses-" + ses + "_task-sorensen";
    const fs::path bdf = emg / (stem + "_emg.bdf");
    const auto r = test::run("simulate " + bdf.string() +
                             " --pairs 2 --duration-s 12 --rest-s 1 "
                             "--mains 50 --mains-uv 20 -q --seed " +
                             std::to_string(seed) + " " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    fs::remove(bdf.string() + ".truth.json"); // not a BIDS file
    write(emg / (stem + "_channels.tsv"),
          "name\ttype\tunits\ttarget_muscle\tstatus\n"
          "LT L1 L\tEMG\tuV\tlongissimus\tgood\n"
          "LT L1 R\tEMG\tuV\tlongissimus\tgood\n"
          "IL L3 L\tEMG\tuV\tiliocostalis\tgood\n"
          "IL L3 R\tEMG\tuV\tiliocostalis\t" +
              std::string(sub == "02" && ses == "2" ? "bad" : "good") + "\n");
    return bdf;
}

// 2 subjects x 2 sessions; the task's emg.json at the root, inherited by all four (BIDS'
// inheritance principle), with PowerLineFrequency 50 Hz.
fs::path make_dataset(const fs::path& root) {
    write(root / "dataset_description.json", R"({"Name": "semg test", "BIDSVersion": "1.11.0"})");
    write(root / "participants.tsv", "participant_id\nsub-01\nsub-02\n");
    write(root / "task-sorensen_emg.json",
          R"({"TaskName": "sorensen", "EMGPlacementScheme": "Other",
              "EMGPlacementSchemeDescription": "SENIAM", "EMGReference": "bipolar",
              "SamplingFrequency": 2048, "PowerLineFrequency": 50,
              "RecordingType": "continuous", "SoftwareFilters": "n/a"})");
    unsigned seed = 1;
    for (const std::string sub : {"01", "02"})
        for (const std::string ses : {"1", "2"})
            simulate_recording(root, sub, ses, seed++);
    return root;
}

} // namespace

TEST(BidsCli, DatasetIsAnalysedFromItsRootIntoDerivatives) {
    const fs::path root = make_dataset(fresh_dir("dataset"));
    const auto r = test::run("analyze " + root.string() + " -q");
    ASSERT_EQ(r.exit_code, 0) << r.output;

    const fs::path deriv = root / "derivatives" / "semg";
    const auto description = test::load_json(deriv / "dataset_description.json");
    EXPECT_EQ(description["DatasetType"], "derivative");
    EXPECT_EQ(description["GeneratedBy"][0]["Name"], "semg");
    EXPECT_EQ(description["BIDSVersion"], "1.11.0");
    EXPECT_EQ(description["SourceDatasets"][0]["URL"], "../..");

    // Exactly the four recordings' folders, mirroring sub-*/ses-*/emg, each with its results.
    std::set<std::string> folders;
    for (const auto& e : fs::recursive_directory_iterator(deriv))
        if (e.is_directory() && e.path().filename().string().ends_with("_desc-fatigue"))
            folders.insert(e.path().lexically_relative(deriv).string());
    const std::set<std::string> expected{
        "sub-01/ses-1/emg/sub-01_ses-1_task-sorensen_desc-fatigue",
        "sub-01/ses-2/emg/sub-01_ses-2_task-sorensen_desc-fatigue",
        "sub-02/ses-1/emg/sub-02_ses-1_task-sorensen_desc-fatigue",
        "sub-02/ses-2/emg/sub-02_ses-2_task-sorensen_desc-fatigue"};
    EXPECT_EQ(folders, expected);
    for (const auto& f : expected) {
        SCOPED_TRACE(f);
        for (const char* file : {"epochs.csv", "pairs.csv", "summary.json", "report.html"})
            EXPECT_TRUE(fs::is_regular_file(deriv / f / file)) << file;
        const auto summary = test::load_json(deriv / f / "summary.json");
        const std::string sub = f.substr(4, 2), ses = f.substr(11, 1);
        EXPECT_EQ(summary["bids"]["entities"]["sub"], sub);
        EXPECT_EQ(summary["bids"]["entities"]["ses"], ses);
        EXPECT_EQ(summary["bids"]["entities"]["task"], "sorensen");
        EXPECT_EQ(summary["bids"]["emg_json"][0], "task-sorensen_emg.json");
        EXPECT_EQ(summary["bids"]["montage_from"], "channels.tsv");
        // PowerLineFrequency sets the mains: fixed at 50 Hz, not detected.
        EXPECT_EQ(summary["bids"]["mains_from"], "PowerLineFrequency");
        EXPECT_EQ(summary["settings"]["mains"]["mode"], "fixed")
            << summary["settings"]["mains"].dump();
        EXPECT_EQ(summary["settings"]["mains"]["frequency_hz"], 50.0);
    }
    // status bad in sub-02 ses-2's channels.tsv: that channel is not analysed, and its pair goes.
    const auto epochs = lines_of(deriv / *std::next(expected.begin(), 3) / "epochs.csv");
    ASSERT_GT(epochs.size(), 10u);
    std::set<std::string> channels;
    for (std::size_t i = 1; i < epochs.size(); ++i)
        channels.insert(cells(epochs[i], ',')[2]);
    EXPECT_EQ(channels, (std::set<std::string>{"LT L1 L", "LT L1 R", "IL L3 L"}));
    const auto pairs = lines_of(deriv / *expected.begin() / "pairs.csv");
    std::set<std::string> levels;
    for (std::size_t i = 1; i < pairs.size(); ++i)
        levels.insert(cells(pairs[i], ',')[3]);
    EXPECT_EQ(levels, (std::set<std::string>{"L1", "L3"}));

    // A folder inside the dataset analyses what is below it, into the same derivatives.
    fs::remove_all(deriv);
    const auto one = test::run("analyze " + (root / "sub-02").string() + " -q");
    ASSERT_EQ(one.exit_code, 0) << one.output;
    EXPECT_TRUE(fs::exists(
        deriv / "sub-02/ses-1/emg/sub-02_ses-1_task-sorensen_desc-fatigue/summary.json"));
    EXPECT_FALSE(fs::exists(deriv / "sub-01"));

    // --out moves the derivative dataset.
    const fs::path out = fresh_dir("dataset-out");
    const auto moved = test::run("analyze " + root.string() + " -q --out " + (out / "d").string());
    ASSERT_EQ(moved.exit_code, 0) << moved.output;
    EXPECT_TRUE(
        fs::exists(out / "d/sub-01/ses-2/emg/sub-01_ses-2_task-sorensen_desc-fatigue/epochs.csv"));
    EXPECT_EQ(test::load_json(out / "d/dataset_description.json")["DatasetType"], "derivative");
}

TEST(BidsCli, SidecarThatDisagreesWithItsRecordingIsAnError) {
    const fs::path root = fresh_dir("mismatch");
    write(root / "dataset_description.json", R"({"Name": "t", "BIDSVersion": "1.11.0"})");
    simulate_recording(root, "01", "1", 3);
    const fs::path good = simulate_recording(root, "01", "2", 4);
    write(root / "sub-01/ses-1/emg/sub-01_ses-1_task-sorensen_emg.json",
          R"({"SamplingFrequency": 2000, "PowerLineFrequency": 50})");
    const auto r = test::run("analyze " + root.string() + " -q");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("sub-01_ses-1_task-sorensen_emg.json: SamplingFrequency 2000 Hz, but "),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("sub-01_ses-1_task-sorensen_emg.bdf is sampled at 2048 Hz"),
              std::string::npos)
        << r.output;
    const fs::path deriv = root / "derivatives/semg/sub-01";
    EXPECT_FALSE(fs::exists(deriv / "ses-1")) << "no partial results for the failed recording";
    EXPECT_TRUE(
        fs::exists(deriv / "ses-2/emg/sub-01_ses-2_task-sorensen_desc-fatigue/summary.json"))
        << "the other recording is still analysed";
    // The missing emg.json of the second is a warning naming it, not an error.
    EXPECT_NE(r.output.find(good.filename().string() + ": no *_emg.json sidecar"),
              std::string::npos)
        << r.output;

    // PowerLineFrequency outside 50/60 names the field; a folder outside any dataset is refused.
    write(root / "sub-01/ses-1/emg/sub-01_ses-1_task-sorensen_emg.json",
          R"({"PowerLineFrequency": 400})");
    const auto mains = test::run("analyze " + (root / "sub-01/ses-1").string() + " -q");
    EXPECT_EQ(mains.exit_code, 1);
    EXPECT_NE(mains.output.find("PowerLineFrequency 400 Hz"), std::string::npos) << mains.output;
    const fs::path plain = fresh_dir("not-bids");
    const auto refused = test::run("analyze " + plain.string());
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.output.find("not a BIDS dataset"), std::string::npos) << refused.output;
}

TEST(BidsCli, InfoShowsEveryFileAndNamesTheBadOne) {
    const fs::path root = make_dataset(fresh_dir("info"));
    const fs::path bdf = root / "sub-01/ses-1/emg/sub-01_ses-1_task-sorensen_emg.bdf";
    const fs::path bad = root / "broken.edf";
    write(bad, "0       this is not an EDF header");
    const auto text = test::run("info " + bad.string() + " " + bdf.string());
    EXPECT_EQ(text.exit_code, 1);
    EXPECT_NE(text.output.find("semg: error: " + bad.string() + ": "), std::string::npos)
        << text.output;
    for (const char* shown :
         {"format       bdf+", "start        2000-01-01T00:00:00",
          "14.000 s (28672 samples at 2048 Hz)", "LT L1 L", "-1000 .. 1000", "contraction",
          "channels.tsv", "pair         longissimus L1", "PowerLineFrequency 50 Hz"})
        EXPECT_NE(text.output.find(shown), std::string::npos) << shown << "\n" << text.output;

    const auto json_run = test::run("info --json " + bdf.string() + " " + bad.string());
    EXPECT_EQ(json_run.exit_code, 1);
    // stderr (the error line) comes first, then the document on stdout.
    const auto start = json_run.output.find("{\n");
    ASSERT_NE(start, std::string::npos) << json_run.output;
    const auto j = nlohmann::json::parse(json_run.output.substr(start));
    ASSERT_EQ(j["files"].size(), 2u);
    const auto& f = j["files"][0];
    EXPECT_EQ(f["format"], "bdf+");
    EXPECT_EQ(f["sample_rate_hz"], 2048.0);
    EXPECT_EQ(f["channels"].size(), 4u);
    EXPECT_EQ(f["channels"][0]["unit"], "uV");
    EXPECT_EQ(f["montage"]["pairs"].size(), 2u);
    EXPECT_EQ(f["montage"]["bids"]["power_line_hz"], 50.0);
    EXPECT_TRUE(j["files"][1]["error"].get<std::string>().starts_with(bad.string()));
}

// The sidecars of a capture into a BIDS dataset contain every REQUIRED field, and the dataset
// is then analysed from its root like any other.
TEST(BidsCli, CaptureWritesAValidBidsEmgLayout) {
    SEMG_REQUIRE_SOCAT();
    const fs::path dir = fresh_dir("capture");
    const fs::path root = dir / "ds";
    test::SocatPair pair(dir);
    acquisition::Scenario scenario;
    scenario.sample_rate_hz = 2048.0;
    scenario.pairs = acquisition::default_pairs(2);
    scenario.protocol.rest_before_s = 1.0;
    scenario.protocol.hold_s = 6.0;
    scenario.protocol.rest_after_s = 1.0;
    acquisition::Simulator sim(scenario);
    std::string labels;
    for (const auto& ch : sim.info().channels)
        labels += (labels.empty() ? "" : ",") + ch.label;

    test::Run capture{};
    std::thread runner([&] {
        capture = test::run("capture --port " + pair.host_side() +
                            " --protocol semg --duration-s 8 --labels '" + labels +
                            "' --bids-root " + root.string() +
                            " --subject 07 --session 2 --task hold --mains 50 --live none");
    });
    std::this_thread::sleep_for(300ms);
    acquisition::SerialStreamerConfig dev;
    dev.packets.protocol = acquisition::Protocol::Semg;
    dev.speed = 3.0;
    test::FakeDevice device(sim, pair.device_side(), dev);
    runner.join();
    device.stop();
    ASSERT_EQ(capture.exit_code, 0) << capture.output;

    const fs::path emg = root / "sub-07/ses-2/emg";
    const std::string stem = "sub-07_ses-2_task-hold";
    ASSERT_TRUE(fs::is_regular_file(emg / (stem + "_emg.bdf"))) << capture.output;
    EXPECT_FALSE(fs::exists(emg / "raw.bdf"));

    const auto sidecar = test::load_json(emg / (stem + "_emg.json"));
    for (const auto& field : kRequiredEmgJson)
        EXPECT_TRUE(sidecar.contains(field)) << field;
    EXPECT_EQ(sidecar["TaskName"], "hold");
    EXPECT_EQ(sidecar["SamplingFrequency"], 2048.0);
    EXPECT_EQ(sidecar["PowerLineFrequency"], 50.0);
    EXPECT_EQ(sidecar["RecordingType"], "continuous");
    EXPECT_EQ(sidecar["EMGChannelCount"], 4);
    EXPECT_EQ(sidecar["RecordingDuration"], 8.0);

    const auto tsv = lines_of(emg / (stem + "_channels.tsv"));
    ASSERT_EQ(tsv.size(), 5u);
    const auto header = cells(tsv[0]);
    ASSERT_GE(header.size(), kRequiredChannelColumns.size());
    for (std::size_t i = 0; i < kRequiredChannelColumns.size(); ++i)
        EXPECT_EQ(header[i], kRequiredChannelColumns[i]);
    EXPECT_EQ(cells(tsv[1])[0], "LT L1 L");
    EXPECT_EQ(cells(tsv[1])[1], "EMG");
    // Columns outside the standard are described in the channels.json sidecar.
    const auto described = test::load_json(emg / (stem + "_channels.json"));
    for (const auto& column : header)
        if (column == "level" || column == "side") {
            EXPECT_TRUE(described.contains(column)) << column;
        }

    const auto description = test::load_json(root / "dataset_description.json");
    for (const auto& field : kRequiredDatasetDescription)
        EXPECT_TRUE(description.contains(field)) << field;
    EXPECT_EQ(read(root / "participants.tsv"), "participant_id\nsub-07\n");

    // The live results are in the derivative dataset; analysing the root reproduces them there.
    const fs::path results = root / "derivatives/semg/sub-07/ses-2/emg" / (stem + "_desc-fatigue");
    ASSERT_TRUE(fs::is_regular_file(results / "epochs.csv")) << capture.output;
    const auto live_epochs = read(results / "epochs.csv");
    const auto analyze = test::run("analyze " + root.string() + " -q --mains 50");
    ASSERT_EQ(analyze.exit_code, 0) << analyze.output;
    EXPECT_EQ(test::load_json(results / "summary.json")["bids"]["montage_from"], "channels.tsv");
    EXPECT_EQ(lines_of(results / "epochs.csv").size(), cells(live_epochs, '\n').size());

    // A second capture of the same subject, session and task never overwrites the recording.
    const auto again = test::run("capture --port " + pair.host_side() +
                                 " --protocol semg --duration-s 1 "
                                 "--bids-root " +
                                 root.string() +
                                 " --subject 07 --session 2 --task hold "
                                 "--start-timeout-s 1 --live none");
    EXPECT_EQ(again.exit_code, 3); // an output that cannot be written (README, exit codes)
    EXPECT_NE(again.output.find("exists"), std::string::npos) << again.output;
    const auto no_root = test::run("capture --port x --subject 07 --task hold");
    EXPECT_EQ(no_root.exit_code, 2); // usage
    EXPECT_NE(no_root.output.find("need --bids-root"), std::string::npos) << no_root.output;
}
