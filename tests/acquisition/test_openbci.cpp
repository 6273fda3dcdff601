// OpenBCI GUI text exports: v3/v4 and v5/v6 files written here from the GUI's documented layout
// (OpenBCI_GUI DataWriterODF: "%OpenBCI Raw EXG Data", "%Number of channels = ", "%Sample Rate =
// ... Hz", "%Board = OpenBCI_GUI$Board...", a column header of the board's channel names ending
// in "Timestamp (Formatted)", rows of Java doubles), malformed files, content sniffing, and the
// shared Ganglion recordings against the CSV route (issue 13, criterion 1).
#include "acquisition/file_source.hpp"
#include "acquisition/openbci_source.hpp"
#include "tests/acquisition/epoch_compare.hpp"
#include "tests/acquisition/reader_test_util.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

using namespace semg;
using acquisition::OpenBciSource;
using acquisition::SourceError;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() { return test::scratch_dir("semg_openbci_"); }

fs::path write(const std::string& name, const std::string& text) {
    return test::write_file(temp_dir(), name, text);
}

std::vector<std::vector<float>> read_all(acquisition::Source& source) {
    return test::read_all(source, 3);
}

std::string error_of(const fs::path& path) { return test::error_of<OpenBciSource>(path); }

const std::string kV3 =
    "%OpenBCI Raw EEG Data\r\n%\r\n%Sample Rate = 200.0 Hz\r\n%First Column = SampleIndex\r\n"
    "%Last Column = Timestamp \r\n%Other Columns = EEG data in microvolts followed by Accel "
    "Data (in G) interleaved with Aux Data\r\n";

std::string v3_rows(int first, int n, int wrap_after = 200) {
    std::ostringstream s;
    for (int i = 0; i < n; ++i) {
        const int index = (first + i) % (wrap_after + 1);
        s << index << ", " << -40.5 + i << ", " << 13.25 * i
          << ", 0.00, 0.00, 0.000, 0.000, 0.000, 11:02:46." << 100 + i << "\r\n";
    }
    return s.str();
}

// A Cyton export of the v5/v6 GUI: 8 EXG channels, accelerometer, "Other", analog, timestamp,
// marker and formatted timestamp columns; numbers as Java prints doubles.
const std::string kV6Header =
    "%OpenBCI Raw EXG Data\n%Number of channels = 8\n%Sample Rate = 250 Hz\n%Board = OpenBCI_GUI$BoardCytonSerial\n"
    "Sample Index, EXG Channel 0, EXG Channel 1, EXG Channel 2, EXG Channel 3, EXG Channel 4, EXG Channel 5, "
    "EXG Channel 6, EXG Channel 7, Accel Channel 0, Accel Channel 1, Accel Channel 2, Other, Other, Other, "
    "Other, Other, Other, Other, Analog Channel 0, Analog Channel 1, Analog Channel 2, Timestamp, Marker "
    "Channel, Timestamp (Formatted)\n";

std::string v6_row(int index, double base, const std::string& unix_s = "1.615912345123E9") {
    std::ostringstream s;
    s << index << ".0";
    for (int c = 0; c < 8; ++c)
        s << ", " << base + c;
    s << ", 0.0, 0.0, 0.0, 192.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, " << unix_s
      << ", 0.0, 2021-03-16 12:34:56.789\n";
    return s.str();
}

} // namespace

TEST(OpenBci, V3GanglionLayoutRateUnitsAndSkippedColumns) {
    const auto path = write("v3.txt", kV3 + v3_rows(0, 10));
    OpenBciSource source(path);
    const auto& info = source.info();
    EXPECT_EQ(info.format, "openbci-txt");
    EXPECT_EQ(source.generation(), "v3/v4");
    EXPECT_EQ(info.sample_rate_hz, 200.0);
    ASSERT_EQ(info.channels.size(), 4u);
    EXPECT_EQ(info.channels[0].label, "ch1");
    EXPECT_EQ(info.channels[3].label, "ch4");
    ASSERT_TRUE(info.total_frames);
    EXPECT_EQ(*info.total_frames, 10u);
    std::vector<std::string> skipped;
    for (const auto& s : info.skipped)
        skipped.push_back(s.label);
    EXPECT_EQ(skipped, (std::vector<std::string>{"index", "acc1", "acc2", "acc3", "time of day"}));
    EXPECT_TRUE(info.warnings.empty());
    const auto x = read_all(source);
    ASSERT_EQ(x[0].size(), 10u);
    EXPECT_FLOAT_EQ(x[0][0], -40.5f); // µV as written
    EXPECT_FLOAT_EQ(x[0][9], -31.5f);
    EXPECT_FLOAT_EQ(x[1][4], 53.0f);
    EXPECT_EQ(x[2][7], 0.0f);
}

TEST(OpenBci, V3ChannelCountFromHeaderAndNoTimeColumn) {
    // An older Cyton export: "%Number of channels", no time of day column.
    const auto path = write(
        "v3_cyton.txt", "%OpenBCI Raw EEG Data\n%Number of channels = 2\n%Sample Rate = 250.0 Hz\n"
                        "0, 1.5, 2.5, 0.1, 0.2, 0.3\n1, 3.5, 4.5, 0.1, 0.2, 0.3\n");
    OpenBciSource source(path);
    ASSERT_EQ(source.info().channels.size(), 2u);
    EXPECT_EQ(source.info().sample_rate_hz, 250.0);
    EXPECT_EQ(source.info().skipped.size(), 4u); // index, acc1..acc3
    const auto x = read_all(source);
    EXPECT_FLOAT_EQ(x[1][1], 4.5f);
}

TEST(OpenBci, V6CytonColumnHeaderBoardAndSkippedColumns) {
    std::string text = kV6Header;
    for (int i = 0; i < 6; ++i)
        text += v6_row(i, 10.0 * i);
    const auto path = write("v6.txt", text);
    OpenBciSource source(path);
    const auto& info = source.info();
    EXPECT_EQ(source.generation(), "v5/v6");
    EXPECT_EQ(source.board(), "BoardCytonSerial");
    EXPECT_EQ(info.sample_rate_hz, 250.0);
    ASSERT_EQ(info.channels.size(), 8u);
    EXPECT_EQ(info.channels[0].label, "EXG Channel 0");
    EXPECT_EQ(info.channels[7].label, "EXG Channel 7");
    EXPECT_EQ(info.skipped.size(), 25u - 8u);
    EXPECT_EQ(info.skipped.front().label, "Sample Index");
    EXPECT_EQ(info.skipped.back().label, "Timestamp (Formatted)");
    EXPECT_TRUE(info.warnings.empty()) << info.warnings.front();
    ASSERT_FALSE(info.notices.empty());
    EXPECT_NE(info.notices.front().find("board BoardCytonSerial"), std::string::npos);
    const auto x = read_all(source);
    ASSERT_EQ(x[3].size(), 6u);
    EXPECT_FLOAT_EQ(x[3][5], 53.0f);
}

TEST(OpenBci, V6JavaScientificTimestampsAndWrapOfTheIndex) {
    // Java prints Unix times as 1.615912345123E9; the Cyton index wraps 255 -> 0 without a loss;
    // a timestamp step of 1.5 s is a pause.
    std::string text = kV6Header;
    for (int i = 0; i < 300; ++i) {
        std::ostringstream t;
        t << std::setprecision(13) << 1.615912345123 + i * 0.004e-9 + (i >= 290 ? 1.5e-9 : 0.0)
          << "E9";
        text += v6_row(i % 256, 1.0, t.str());
    }
    OpenBciSource source(write("v6_wrap.txt", text));
    const auto& w = source.info().warnings;
    EXPECT_EQ(*source.info().total_frames, 300u);
    ASSERT_EQ(w.size(), 2u);
    EXPECT_NE(w[0].find("line 296: the timestamp jumps 1.50"), std::string::npos) << w[0];
    EXPECT_NE(w[1].find("0 samples lost in all"), std::string::npos) << w[1];
}

TEST(OpenBci, LostSamplesAndPausesAreWarningsNamingTheLine) {
    // Rows 0..4, then index 8 (3 lost) at line 12 and on to 200, then a wrap from 200 that skips
    // to 2 (2 lost) with a time-of-day pause of 29.7 s at line 205.
    std::string text = kV3 + v3_rows(0, 5) + v3_rows(8, 193);
    text += "2, 1.0, 1.0, 0.00, 0.00, 0.000, 0.000, 0.000, 11:03:16.000\r\n";
    OpenBciSource source(write("gaps.txt", text));
    const auto& w = source.info().warnings;
    ASSERT_EQ(w.size(), 3u) << (w.empty() ? "" : w.front());
    EXPECT_NE(w[0].find("line 12: sample index 4 then 8 (3 samples lost by the index)"),
              std::string::npos)
        << w[0];
    EXPECT_NE(
        w[1].find(
            "line 205: sample index 200 then 2 (2 samples lost by the index, which wraps after 200) "
            "and the time of day jumps 29.708 s"),
        std::string::npos)
        << w[1];
    EXPECT_NE(w[2].find("2 places"), std::string::npos) << w[2];
    EXPECT_NE(w[2].find("5 samples lost in all"), std::string::npos) << w[2];
    EXPECT_EQ(*source.info().total_frames, 199u); // read as continuous: every row is a sample
}

TEST(OpenBci, MalformedFilesGiveOneMessageNamingFileAndLine) {
    struct Case {
        const char* name;
        std::string text;
        std::string expected;
    };
    const std::vector<Case> cases{
        {"no_rate.txt", "%OpenBCI Raw EEG Data\n0, 1, 2, 3, 4, 5, 6, 7, 11:00:00.000\n",
         "line 2: no '%Sample Rate"},
        {"bad_rate.txt", "%OpenBCI Raw EEG Data\n%Sample Rate = fast Hz\n0, 1, 2, 3, 4, 5, 6, 7\n",
         "line 2: sample rate 'fast Hz'"},
        {"header_only.txt", "%OpenBCI Raw EEG Data\n%Sample Rate = 200.0 Hz\n",
         "header without data rows"},
        {"bad_value.txt", kV3 + v3_rows(0, 2) + "2, -4x, 1, 0, 0, 0, 0, 0, 11:02:47.000\r\n",
         "line 9: column 2 ('ch1'): '-4x' is not a number"},
        {"short_row.txt", kV3 + v3_rows(0, 2) + "2, 1, 1, 0, 0, 0\r\n",
         "line 9: 6 fields, expected 9 (the first row's)"},
        {"bad_index.txt", kV3 + "0.5, 1, 2, 0, 0, 0, 0, 0, 11:02:47.000\r\n",
         "line 7: sample index '0.5'"},
        {"bad_time.txt",
         kV3 + "0, 1, 2, 0, 0, 0, 0, 0, 11:02:47.000\r\n1, 1, 2, 0, 0, 0, 0, 0, 25:99\r\n",
         "line 8: column 'time of day': '25:99' is not a time of day"},
        {"no_exg.txt",
         "%OpenBCI Raw EXG Data\n%Sample Rate = 250 Hz\nSample Index, Other, Timestamp\n0, 1, 2\n",
         "line 3: the column header names no 'EXG Channel' column"},
        {"v6_short.txt", kV6Header + "0.0, 1.0\n",
         "line 6: 2 fields, expected 25 (the column header's)"},
        {"huge.txt", kV3 + "0, 1e300, 2, 0, 0, 0, 0, 0, 11:02:47.000\r\n",
         "line 7: column 'ch1': 1e300 is beyond a float"},
        {"nan.txt", kV3 + "0, nan, 2, 0, 0, 0, 0, 0, 11:02:47.000\r\n",
         "line 7: column 2 ('ch1'): 'nan' is not a number"},
    };
    for (const auto& c : cases) {
        const auto path = write(c.name, c.text);
        const std::string message = error_of(path);
        EXPECT_NE(message.find(path.string() + ": "), std::string::npos)
            << c.name << ": " << message;
        EXPECT_NE(message.find(c.expected), std::string::npos) << c.name << ": " << message;
    }
}

TEST(OpenBci, ChosenByContentWhateverTheExtension) {
    const auto txt = write("rec.txt", kV3 + v3_rows(0, 4));
    EXPECT_EQ(acquisition::open_file_source(txt)->info().format, "openbci-txt");
    const auto csv = write("rec.csv", kV3 + v3_rows(0, 4));
    EXPECT_EQ(acquisition::open_file_source(csv)->info().format, "openbci-txt");
    const auto other = write("rec.dat", kV6Header + v6_row(0, 1.0));
    EXPECT_EQ(acquisition::open_file_source(other)->info().format, "openbci-txt");
    const auto bom = write("bom.txt", "\xEF\xBB\xBF" + kV6Header + v6_row(0, 1.0));
    EXPECT_EQ(acquisition::open_file_source(bom)->info().channels.size(), 8u);
    try {
        acquisition::open_file_source(txt, {.sample_rate_hz = 250.0});
        ADD_FAILURE() << "--fs accepted";
    } catch (const SourceError& e) {
        EXPECT_NE(std::string(e.what()).find("--fs cannot override the OpenBCI GUI header rate"),
                  std::string::npos);
    }
    // A plain CSV still goes to the CSV reader.
    const auto plain = write("plain.txt", "time_s,emg_uV\n0,1\n0.001,2\n0.002,3\n");
    EXPECT_EQ(acquisition::open_file_source(plain)->info().format, "csv");
}

// Issue 13, criterion 1: each shared OpenBCI recording read natively gives the per-epoch MDF and
// RMS of the CSV route (the same rows with the '%' lines, index, accelerometer and time columns
// cut and a header added, read with --fs 200). The CSV carries the file's own decimal text, so
// both routes hold the same float samples; the analysis is deterministic (FFTW_ESTIMATE plans),
// so the results are identical. Measured: 0 difference on all four files. Tolerance: 1e-12
// relative, i.e. equality up to the last bits, so any change in a sample fails.
TEST(OpenBciRealData, NativeEqualsCsvRoutePerEpoch) {
    const auto folder = test::shared_datasets() / "openbci-ganglion-mi-emg";
    if (!fs::exists(folder))
        GTEST_SKIP() << folder << " not found";
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(folder)) {
        const auto name = entry.path().filename().string();
        if (!name.starts_with("OpenBCI-RAW-"))
            continue;
        ++files;
        std::ifstream in(entry.path());
        std::ofstream csv(temp_dir() / (name + ".csv"));
        csv << "ch1,ch2,ch3,ch4\n";
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '%')
                continue;
            std::stringstream row(line);
            std::string field, out;
            std::getline(row, field, ','); // index
            for (int c = 0; c < 4; ++c) {
                std::getline(row, field, ',');
                out += (c ? "," : "") + field.substr(field.find_first_not_of(' '));
            }
            csv << out << "\n";
        }
        csv.close();
        auto native = acquisition::open_file_source(entry.path());
        auto via_csv =
            acquisition::open_file_source(temp_dir() / (name + ".csv"), {.sample_rate_hz = 200.0});
        ASSERT_EQ(native->info().format, "openbci-txt");
        ASSERT_EQ(native->info().total_frames, via_csv->info().total_frames) << name;
        const auto a = test::epoch_series(*native), b = test::epoch_series(*via_csv);
        const auto d = test::compare(a, b);
        std::printf("%s: %zu channel-epochs, max relative difference MDF %.3g, RMS %.3g\n",
                    name.c_str(), d.epochs, d.mdf_rel, d.rms_rel);
        EXPECT_GT(d.epochs, 100u) << name;
        EXPECT_LE(d.mdf_rel, 1e-12) << name;
        EXPECT_LE(d.rms_rel, 1e-12) << name;
    }
    EXPECT_EQ(files, 4u);
}
