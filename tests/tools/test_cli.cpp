// `semg analyze` end to end: bad input gives one clear line, a non-zero exit and no output.
#include "acquisition/edf.hpp"
#include "pipeline/results.hpp"
#include "pipeline/version.hpp"
#include "report/report.hpp"

#include "tests/error_stats.hpp"
#include "tests/test_util.hpp"
#include <edflib.h>

#include <boost/math/distributions/students_t.hpp>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>

using namespace semg;
namespace fs = std::filesystem;

namespace {

using test::Run;
using test::run;

acquisition::EdfWriterConfig bdf_config(int fs, std::vector<std::string> labels) {
    acquisition::EdfWriterConfig c;
    c.sample_rate_hz = fs;
    c.labels = std::move(labels);
    return c;
}

class Cli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::path(SEMG_BINARY_DIR) / "test_cli" /
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    fs::path write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name) << text;
        return dir_ / name;
    }
    // A CSV with a time column: `seconds` of two channels at 1 kHz.
    fs::path csv(const std::string& name, double seconds, std::size_t bad_row = 0,
                 const std::string& bad_value = "") {
        std::ofstream out(dir_ / name);
        out << "time_s,left_uV,right_mV\n";
        const auto a = test::white_noise(static_cast<std::size_t>(seconds * 1000), 50.0, 1);
        const auto b = test::white_noise(a.size(), 0.05, 2);
        for (std::size_t i = 0; i < a.size(); ++i) {
            out << static_cast<double>(i) / 1000.0 << ',' << a[i] << ',';
            if (i + 2 == bad_row)
                out << bad_value; // file line numbers start at 1 with the header
            else
                out << b[i];
            out << '\n';
        }
        return dir_ / name;
    }
    void expect_failure(const std::string& args, const std::string& message) {
        const auto r = run(args + " --out " + (dir_ / "out").string());
        EXPECT_NE(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find(message), std::string::npos)
            << "missing '" << message << "' in: " << r.output;
        EXPECT_FALSE(fs::exists(dir_ / "out")) << "partial output left behind";
        const auto lines = std::count(r.output.begin(), r.output.end(), '\n');
        EXPECT_LE(lines, 2) << r.output;
    }
    fs::path dir_;
};

} // namespace

TEST_F(Cli, AnalyzesCsvAndWritesBothFilesWithTheDocumentedColumns) {
    // 6 s: 11 epochs, above the 10 a fit needs (FitRule).
    const auto input = csv("ok.csv", 6.0);
    const auto r = run("analyze " + input.string() + " --out " + (dir_ / "out").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("right_mV"), std::string::npos);
    std::ifstream epochs(dir_ / "out" / "epochs.csv");
    std::string header;
    std::getline(epochs, header);
    EXPECT_EQ(
        header,
        "t_start_s,t_end_s,channel,rms_uv,arv_uv,mdf_hz,mnf_hz,total_power_uv2,zcr_hz,fi_nsm5,quality,"
        "side,muscle,level,rms_pct_mvc");
    const auto summary = test::load_json(dir_ / "out" / "summary.json");
    EXPECT_EQ(summary["input"]["sample_rate_hz"], 1000.0);
    EXPECT_EQ(summary["input"]["sha256"].get<std::string>().size(), 64u);
    EXPECT_EQ(summary["channels"].size(), 2u);
    EXPECT_EQ(summary["channels"][1]["epochs"], 11);
    // mV are converted to µV: both channels are near 50 µV RMS before filtering.
    EXPECT_NEAR(summary["channels"][1]["rms"]["initial_uv"].get<double>(),
                summary["channels"][0]["rms"]["initial_uv"].get<double>(), 10.0);
    for (const char* key :
         {"band_hz", "filter", "mains", "epoch_s", "overlap", "window", "psd", "mdf_definition"})
        EXPECT_TRUE(summary["settings"].contains(key)) << key;
    for (const char* key :
         {"initial_hz", "slope_hz_per_s", "slope_pct_per_s", "r2", "slope_ci95_hz_per_s"})
        EXPECT_TRUE(summary["channels"][0]["mdf"].contains(key)) << key;
}

TEST_F(Cli, DefaultOutputFolderIsNextToTheInput) {
    const auto input = csv("rec.csv", 3.0);
    const auto r = run("analyze -q " + input.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(fs::exists(dir_ / "rec.semg" / "epochs.csv"));
}

TEST_F(Cli, MissingFile) {
    expect_failure("analyze " + (dir_ / "nope.bdf").string(), "nope.bdf: no such file");
}

TEST_F(Cli, TextInNumericColumnNamesFileLineAndColumn) {
    const auto input = csv("text.csv", 3.0, 1234, "abc");
    expect_failure("analyze " + input.string(),
                   "text.csv:1234: column 'right_mV': 'abc' is not a number");
}

TEST_F(Cli, NanSample) {
    const auto input = csv("nan.csv", 3.0, 2500, "nan");
    expect_failure("analyze " + input.string(), "nan.csv:2500: column 'right_mV': nan sample");
}

TEST_F(Cli, ZeroChannels) {
    const auto input = write("empty.csv", "time_s\n0\n0.001\n0.002\n");
    expect_failure("analyze " + input.string(), "no signal columns");
}

TEST_F(Cli, FewerSamplesThanOneEpoch) {
    const auto input = csv("short.csv", 0.5);
    expect_failure("analyze " + input.string(), "shorter than one epoch");
}

TEST_F(Cli, NoTimeColumnNeedsFs) {
    const auto input = write("nofs.csv", "a_uV,b_uV\n1,2\n3,4\n");
    expect_failure("analyze " + input.string(), "give the sample rate with --fs");
}

// A time column and --fs: the time column wins; a --fs that disagrees by more than 0.1 % is an
// error (it used to override the time column silently), unless --force-fs says to use it.
TEST_F(Cli, FsDisagreeingWithTheTimeColumnNeedsForceFs) {
    const auto input = csv("fs.csv", 3.0);
    expect_failure(
        "analyze " + input.string() + " --fs 2000",
        "fs.csv: --fs 2000 Hz disagrees with the time column 'time_s' (1000 Hz from 3000 timestamps)");
    expect_failure("analyze " + input.string() + " --force-fs", "--force-fs requires --fs");
    // Not -q: that leaves warnings and errors only, and this is a notice.
    const auto r = run("analyze " + input.string() + " --fs 2000 --force-fs --out " +
                       (dir_ / "forced").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("--force-fs: 2000 Hz from --fs; the time column 'time_s' is not read"),
              std::string::npos)
        << r.output;
    EXPECT_EQ(test::load_json(dir_ / "forced" / "summary.json")["input"]["sample_rate_hz"], 2000.0);
}

// A FIFO blocked the reader and /dev/zero named .csv grew it without bound: both are refused at
// once (run under `timeout` and a memory limit so that a regression fails instead of hanging).
TEST_F(Cli, FifoAndDeviceAreRefused) {
    const auto fifo = dir_ / "fifo.csv", zero = dir_ / "zero.csv";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    fs::create_symlink("/dev/zero", zero);
    for (const auto& path : {fifo, zero}) {
        const std::string cmd = "ulimit -v 4000000; timeout 30 " + std::string(SEMG_EXE) +
                                " analyze " + path.string() + " --out " + (dir_ / "out").string() +
                                " 2>&1";
        FILE* pipe = ::popen(cmd.c_str(), "r");
        std::string out;
        std::array<char, 4096> buf{};
        while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe))
            out.append(buf.data(), n);
        const int status = ::pclose(pipe);
        EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1) << out;
        EXPECT_NE(out.find(path.filename().string() + ": not a regular file"), std::string::npos)
            << out;
        EXPECT_FALSE(fs::exists(dir_ / "out"));
    }
    expect_failure("analyze -", "-: standard input is not read");
}

TEST_F(Cli, HelpStatesTheCsvUnitAndRateRules) {
    const auto r = run("analyze --help");
    for (const char* rule :
         {"_uV", "_mV", "_V", "below 0.01", "least-squares", "--force-fs", "decimal comma"})
        EXPECT_NE(r.output.find(rule), std::string::npos) << rule << " missing in:\n" << r.output;
}

TEST_F(Cli, BandAboveNyquist) {
    const auto input = csv("band.csv", 3.0);
    expect_failure("analyze " + input.string() + " --band 480:600", "above 0.45 x the sample rate");
}

TEST_F(Cli, UnknownOptionAndBadValues) {
    const auto input = csv("opts.csv", 3.0);
    expect_failure("analyze " + input.string() + " --bogus", "--bogus");
    expect_failure("analyze " + input.string() + " --mains 55",
                   "--mains must be auto, 50, 60 or off");
    expect_failure("analyze " + input.string() + " --psd fft", "welch or periodogram");
    expect_failure("analyze " + input.string() + " --segment 10:20", "outside the recording");
}

TEST_F(Cli, TruncatedBdf) {
    const auto path = dir_ / "cut.bdf";
    {
        acquisition::EdfWriter writer(path, bdf_config(1000, {"ES L3 L", "ES L3 R"}));
        auto block =
            test::make_block({test::white_noise(10000, 50, 1), test::white_noise(10000, 50, 2)});
        writer.write(block.cref());
        writer.close();
    }
    fs::resize_file(path, fs::file_size(path) - 5000);
    expect_failure("analyze " + path.string(), "cut.bdf: not a valid EDF/BDF file");
}

// A BDF+ left by a killed capture: record count -1 and a partial last record. `semg analyze`
// reads the complete records with one warning and leaves the file as it was.
TEST_F(Cli, KilledCaptureBdfIsReadFromItsLengthWithAWarning) {
    const auto path = dir_ / "killed.bdf";
    {
        acquisition::EdfWriter writer(path, bdf_config(1000, {"ES L3 L", "ES L3 R"}));
        auto block =
            test::make_block({test::white_noise(10000, 50, 1), test::white_noise(10000, 50, 2)});
        writer.write(block.cref());
        writer.close();
    }
    const std::size_t header_bytes = 256 * 4; // two signals and the annotation signal
    const std::size_t record_bytes = (fs::file_size(path) - header_bytes) / 10;
    {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(236);
        f << "-1      ";
    }
    fs::resize_file(path, header_bytes + 6 * record_bytes + record_bytes / 3);
    const auto size = fs::file_size(path);
    // --contractions whole: white noise has no contraction to detect (that would warn too).
    const auto r = run("analyze -q " + path.string() + " --contractions whole --out " +
                       (dir_ / "out").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("warning: " + path.string() + ": number of data records is -1"),
              std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("warning:", r.output.find("warning:") + 1), std::string::npos)
        << "one warning only: " << r.output;
    EXPECT_EQ(fs::file_size(path), size) << "the input was modified";
    const auto summary = test::load_json(dir_ / "out" / "summary.json");
    EXPECT_DOUBLE_EQ(summary["input"]["duration_s"].get<double>(),
                     6.0); // 6 complete records of 1 s
}

// A contraction annotation whose onset is before the recording starts is dropped with a warning
// naming it, so asking for annotated contractions fails instead of fitting an empty span.
TEST_F(Cli, ContractionAnnotationOutsideTheRecordingIsNamedAndNotUsed) {
    const auto path = dir_ / "onset.bdf";
    {
        acquisition::EdfWriter writer(path, bdf_config(1000, {"ES L3 L", "ES L3 R"}));
        auto block =
            test::make_block({test::white_noise(10000, 50, 1), test::white_noise(10000, 50, 2)});
        writer.write(block.cref());
        writer.annotate({1.5, 2.0, "contraction"});
        writer.close();
    }
    { // Make the onset negative in the TAL itself: "+1.5000" becomes "-1.5000".
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        const std::string bytes{std::istreambuf_iterator<char>(f),
                                std::istreambuf_iterator<char>()};
        const auto at = bytes.find("+1.5000\x15");
        ASSERT_NE(at, std::string::npos);
        f.seekp(static_cast<std::streamoff>(at));
        f.put('-');
    }
    expect_failure("analyze " + path.string() + " --contractions annotations",
                   "no 'contraction' annotations");
    const auto r = run("analyze -q " + path.string() + " --contractions annotations");
    EXPECT_NE(r.output.find("ignoring 1 annotation with an onset outside the recording (0 to 10 "
                            "s): 'contraction' at "
                            "-1.5 s"),
              std::string::npos)
        << r.output;
}

// Labels with a comma or a quote are quoted in the CSV files (RFC 4180), so every row keeps its
// columns, and the report reads them back.
TEST_F(Cli, LabelsWithCommasAndQuotesAreQuotedInTheCsvFiles) {
    const auto path = dir_ / "labels.bdf";
    {
        acquisition::EdfWriter writer(path, bdf_config(1000, {"Ch,1", "Ch \"2\""}));
        auto block =
            test::make_block({test::white_noise(5000, 50, 1), test::white_noise(5000, 50, 2)});
        writer.write(block.cref());
        writer.close();
    }
    const auto out = dir_ / "out";
    const auto r = run("analyze -q " + path.string() + " --out " + out.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ifstream in(out / "epochs.csv");
    std::string line;
    std::getline(in, line);
    const std::size_t columns = pipeline::csv_fields(line).size();
    std::set<std::string> labels;
    while (std::getline(in, line)) {
        const auto fields = pipeline::csv_fields(line);
        ASSERT_EQ(fields.size(), columns) << line;
        labels.insert(fields[2]);
    }
    EXPECT_EQ(labels, (std::set<std::string>{"Ch,1", "Ch \"2\""}));
    EXPECT_EQ(pipeline::csv_field("EMG \"2\""), "\"EMG \"\"2\"\"\"");
    const auto report = run("report " + out.string());
    EXPECT_EQ(report.exit_code, 0) << report.output;
}

TEST_F(Cli, GarbageBdf) {
    const auto input = write("garbage.bdf", std::string(4096, 'x'));
    expect_failure("analyze " + input.string(), "garbage.bdf: not a valid EDF/BDF file");
}

TEST_F(Cli, BdfRoundTripThroughEdfWriter) {
    const auto path = dir_ / "rec.bdf";
    {
        acquisition::EdfWriter writer(path, bdf_config(2048, {"ES L3 L", "ES L3 R"}));
        auto block = test::make_block(
            {test::sine(80.0, 100.0, 2048, 20480), test::sine(120.0, 40.0, 2048, 20480)});
        writer.write(block.cref());
        writer.annotate({2.0, 6.0, "contraction"}); // 11 epochs: enough for a fit
        writer.close();
    }
    const auto r = run("analyze -q " + path.string() + " --out " + (dir_ / "out").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto summary = test::load_json(dir_ / "out" / "summary.json");
    EXPECT_EQ(summary["input"]["format"], "bdf+");
    EXPECT_EQ(summary["input"]["channels"][0], "ES L3 L");
    EXPECT_NEAR(summary["channels"][0]["mdf"]["initial_hz"].get<double>(), 80.0, 2.0);
    EXPECT_NEAR(summary["channels"][1]["mdf"]["initial_hz"].get<double>(), 120.0, 2.0);
}

TEST_F(Cli, SeveralInputsEachGetTheirOwnFolderAndFailuresAreCounted) {
    const auto a = csv("a.csv", 3.0), b = csv("b.csv", 3.0, 100, "x");
    const auto r =
        run("analyze -q " + a.string() + " " + b.string() + " --out " + (dir_ / "all").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_TRUE(fs::exists(dir_ / "all" / "a.semg" / "summary.json"));
    EXPECT_FALSE(fs::exists(dir_ / "all" / "b.semg"));
    EXPECT_NE(r.output.find("1 of 2 inputs failed"), std::string::npos) << r.output;
}

// Issue 3's bad input: montage, sample rates, MVC channels, segments.
TEST_F(Cli, MontageNamingAChannelThatIsNotInTheFile) {
    const auto input = csv("m.csv", 3.0);
    const auto montage = write("m.toml", R"([channels."left_uV"]
muscle = "erector_spinae"
level = "L3"
side = "left"
[channels."right_mV"]
muscle = "erector_spinae"
level = "L3"
side = "right"
[channels."ES L4 L"]
muscle = "erector_spinae"
level = "L4"
side = "left"
)");
    expect_failure("analyze " + input.string() + " --montage " + montage.string(), "ES L4 L");
}

TEST_F(Cli, PairWithMismatchedSampleRates) {
    const auto path = dir_ / "rates.bdf";
    const int handle = edfopen_file_writeonly(path.c_str(), EDFLIB_FILETYPE_BDFPLUS, 2);
    ASSERT_GE(handle, 0);
    const int rates[2] = {2048, 1024};
    const char* labels[2] = {"ES L3 L", "ES L3 R"};
    for (int s = 0; s < 2; ++s) {
        edf_set_samplefrequency(handle, s, rates[s]);
        edf_set_physical_maximum(handle, s, 10000);
        edf_set_physical_minimum(handle, s, -10000);
        edf_set_digital_maximum(handle, s, 8388607);
        edf_set_digital_minimum(handle, s, -8388608);
        edf_set_label(handle, s, labels[s]);
        edf_set_physical_dimension(handle, s, "uV");
    }
    for (int record = 0; record < 5; ++record)
        for (int s = 0; s < 2; ++s) {
            std::vector<double> x(static_cast<std::size_t>(rates[s]));
            for (std::size_t i = 0; i < x.size(); ++i)
                x[i] = 50.0 * std::sin(0.3 * static_cast<double>(i));
            ASSERT_EQ(edfwrite_physical_samples(handle, x.data()), 0);
        }
    edfclose_file(handle);
    const auto montage = write("rates.toml", R"([channels."ES L3 L"]
muscle = "erector_spinae"
level = "L3"
side = "left"
[channels."ES L3 R"]
muscle = "erector_spinae"
level = "L3"
side = "right"
)");
    expect_failure("analyze " + path.string() + " --montage " + montage.string(),
                   "channel 'ES L3 R' is sampled at 1024");
    // Without a montage the slower signal is skipped with a notice and the rest is analysed
    // (not -q: that silences notices).
    const auto r = run("analyze " + path.string() + " --out " + (dir_ / "ok").string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("skipping signal 'ES L3 R'"), std::string::npos) << r.output;
}

TEST_F(Cli, MvcFileWithDifferentChannels) {
    const auto input = csv("in.csv", 5.0);
    const auto mvc = write("mvc.csv", "time_s,other_uV\n0,1\n0.001,2\n");
    expect_failure("analyze " + input.string() + " --mvc " + mvc.string(),
                   "the MVC recording has no channel 'left_uV'");
}

TEST_F(Cli, SegmentOutsideTheRecordingWithBdf) {
    const auto path = dir_ / "seg.bdf";
    {
        acquisition::EdfWriter writer(path, bdf_config(1000, {"ES L3 L", "ES L3 R"}));
        auto block =
            test::make_block({test::white_noise(10000, 50, 1), test::white_noise(10000, 50, 2)});
        writer.write(block.cref());
        writer.close();
    }
    expect_failure("analyze " + path.string() + " --segment 5:20",
                   "is outside the recording (0:10");
}

// One version everywhere (pipeline/version.hpp, generated from project(VERSION)): `semg --version`
// and the summary.json of an analysis name the same one.
TEST_F(Cli, VersionAndSummaryNameTheProjectVersion) {
    const auto version = run("--version");
    ASSERT_EQ(version.exit_code, 0) << version.output;
    EXPECT_EQ(version.output.rfind(std::string("semg ") + SEMG_VERSION + " (git ", 0), 0u)
        << version.output;
    const auto input = csv("v.csv", 6.0);
    const auto r = run("analyze -q " + input.string() + " --out " + (dir_ / "v").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto summary = test::load_json(dir_ / "v" / "summary.json");
    EXPECT_EQ(summary["software"]["version"], SEMG_VERSION);
}

// Issue 4: `semg analyze` recovers the simulator's truth, through the two commands and files.
//
// Tolerances: the error of `semg analyze` with its defaults on these clean recordings, measured
// with this test (5 seeds x 3 rates x 4 channels = 60 fits; the printed "[ truth ]" line): the
// initial MDF (IMF) is off by a bias of +0.75 Hz with a scatter of 0.8 Hz between single fits, the
// slope by +0.008 %/s with a scatter of 0.012 %/s. Each fit must sit within 4 sd of the bias
// (3.2 Hz, 0.048 %/s); the mean of the 60 within 3 standard errors (sd / sqrt(60): 0.31 Hz,
// 0.0046 %/s), so a shift of MDF by half a Welch bin (2 Hz) fails.
TEST_F(Cli, AnalyzeRecoversSimulatedTruthAcrossSeedsAndRates) {
    constexpr double kImfBiasHz = 0.75, kImfSdHz = 0.8;
    constexpr double kSlopeBiasPctPerS = 0.008, kSlopeSdPctPerS = 0.012;
    test::ErrorStats imf_error, slope_error;
    for (int fs : {1000, 2048, 4096})
        for (int seed = 1; seed <= 5; ++seed) {
            const auto bdf =
                dir_ / ("sim_" + std::to_string(fs) + "_" + std::to_string(seed) + ".bdf");
            auto r = run("simulate -q " + bdf.string() + " --pairs 2 --hold-s 120 --fs " +
                         std::to_string(fs) + " --seed " + std::to_string(seed));
            ASSERT_EQ(r.exit_code, 0) << r.output;
            const auto out = dir_ / ("out_" + std::to_string(fs) + "_" + std::to_string(seed));
            r = run("analyze -q " + bdf.string() + " --out " + out.string());
            ASSERT_EQ(r.exit_code, 0) << r.output;
            const auto truth = test::load_json(bdf.string() + ".truth.json");
            const auto summary = test::load_json(out / "summary.json");
            ASSERT_EQ(summary["channels"].size(), truth["channels"].size());
            for (std::size_t c = 0; c < truth["channels"].size(); ++c) {
                const auto& t = truth["channels"][c];
                const auto& m = summary["channels"][c]["mdf"];
                const double imf = m["initial_hz"].get<double>() - t["mdf0_hz"].get<double>();
                const double slope =
                    m["slope_pct_per_s"].get<double>() - t["mdf_slope_pct_per_s"].get<double>();
                EXPECT_NEAR(imf, kImfBiasHz, 4.0 * kImfSdHz)
                    << fs << " Hz seed " << seed << " " << t["label"];
                EXPECT_NEAR(slope, kSlopeBiasPctPerS, 4.0 * kSlopeSdPctPerS)
                    << fs << " Hz seed " << seed << " " << t["label"];
                imf_error.add(imf);
                slope_error.add(slope);
            }
            fs::remove(bdf);
        }
    std::cout << "[ truth ] IMF error " << imf_error << " Hz; slope error " << slope_error
              << " %/s\n";
    EXPECT_NEAR(imf_error.mean(), kImfBiasHz, test::three_standard_errors(kImfSdHz, imf_error.n()));
    EXPECT_NEAR(slope_error.mean(), kSlopeBiasPctPerS,
                test::three_standard_errors(kSlopeSdPctPerS, slope_error.n()));
}

// Issue 12: results are never silently replaced. Each input gets its own folder, a run owns its
// folder, and an earlier run's files do not survive beside the new ones.
TEST_F(Cli, SameFileNameInTwoFoldersGetsTwoResultFoldersMirroringThePaths) {
    fs::create_directories(dir_ / "a");
    fs::create_directories(dir_ / "b");
    csv("a/same.csv", 3.0);
    csv("b/same.csv", 4.0);
    const auto r = run("analyze -q " + (dir_ / "a" / "same.csv").string() + " " +
                       (dir_ / "b" / "same.csv").string() + " --out " + (dir_ / "all").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto a = test::load_json(dir_ / "all" / "a" / "same.semg" / "summary.json");
    const auto b = test::load_json(dir_ / "all" / "b" / "same.semg" / "summary.json");
    EXPECT_NE(a["input"]["path"].get<std::string>().find("a/same.csv"), std::string::npos);
    EXPECT_NE(b["input"]["path"].get<std::string>().find("b/same.csv"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir_ / "all" / "same.semg"));
    // Without --out each goes beside its input, as before.
    const auto beside = run("analyze -q " + (dir_ / "a" / "same.csv").string() + " " +
                            (dir_ / "b" / "same.csv").string());
    ASSERT_EQ(beside.exit_code, 0) << beside.output;
    EXPECT_TRUE(fs::exists(dir_ / "a" / "same.semg" / "summary.json"));
    EXPECT_TRUE(fs::exists(dir_ / "b" / "same.semg" / "summary.json"));
}

TEST_F(Cli, InputsThatWouldShareAResultFolderStopTheRunBeforeAnyIsAnalysed) {
    const auto csv_in = csv("same.csv", 3.0);
    std::ofstream(dir_ / "same.tsv", std::ios::trunc) << "time_s\tleft_uV\n0\t1\n0.001\t2\n";
    for (const std::string& out : {std::string(), " --out " + (dir_ / "all").string()}) {
        const auto r =
            run("analyze -q " + csv_in.string() + " " + (dir_ / "same.tsv").string() + out);
        EXPECT_EQ(r.exit_code, 2) << r.output; // the command line: before any input is read
        EXPECT_NE(r.output.find("would both write their results to"), std::string::npos)
            << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
        EXPECT_FALSE(fs::exists(dir_ / "same.semg"));
        EXPECT_FALSE(fs::exists(dir_ / "all"));
    }
    const auto twice = run("analyze -q " + csv_in.string() + " " + csv_in.string() + " --out " +
                           (dir_ / "all").string());
    EXPECT_EQ(twice.exit_code, 2) << twice.output;
    EXPECT_NE(twice.output.find("same.csv is given twice"), std::string::npos) << twice.output;
    EXPECT_FALSE(fs::exists(dir_ / "all"));
}

TEST_F(Cli, SecondRunIntoTheSameFolderLeavesNoStaleFileOfTheFirst) {
    const auto path = dir_ / "pair.bdf";
    {
        acquisition::EdfWriter writer(path, bdf_config(1000, {"ES L3 L", "ES L3 R"}));
        auto block =
            test::make_block({test::white_noise(5000, 50, 1), test::white_noise(5000, 30, 2)});
        writer.write(block.cref());
        writer.close();
    }
    const auto out = dir_ / "out";
    auto r = run("analyze -q " + path.string() + " --out " + out.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(fs::exists(out / "pairs.csv"));
    std::ofstream(out / ".pairs.csv.tmp-99999") << "left by a killed run";
    // One channel: no pair, so the first run's pairs.csv must not stay beside the new results.
    r = run("analyze -q " + path.string() + " --select 'ES L3 L' --out " + out.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_FALSE(fs::exists(out / "pairs.csv"));
    EXPECT_FALSE(fs::exists(out / ".pairs.csv.tmp-99999"));
    EXPECT_EQ(test::load_json(out / "summary.json")["channels"].size(), 1u);
    EXPECT_TRUE(fs::exists(out / "report.html"));
    EXPECT_EQ(report::load_report_data(out)["pairs"].size(), 0u)
        << "the report embeds the first run's pairs";
    // A failed run leaves the earlier results as they were.
    const auto before = test::load_json(out / "summary.json");
    r = run("analyze -q " + path.string() + " --segment 100:200 --out " + out.string());
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(test::load_json(out / "summary.json"), before);
}

TEST_F(Cli, FolderHoldingOtherFilesIsRefusedUnlessOverwriteAndTheyAreKept) {
    const auto input = csv("rec.csv", 3.0);
    const auto out = dir_ / "mine";
    fs::create_directories(out / "sub");
    std::ofstream(out / "notes.txt") << "my notes";
    auto r = run("analyze -q " + input.string() + " --out " + out.string());
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("holds files that are not results (notes.txt, sub/)"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out / "summary.json"));
    r = run("analyze -q " + input.string() + " --overwrite --out " + out.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(fs::exists(out / "summary.json"));
    EXPECT_TRUE(fs::exists(out / "notes.txt"));
    EXPECT_TRUE(fs::exists(out / "sub"));
}

// Issue #11, item 3: a fit from 2-4 epochs (the rest flagged) was reported with a fatigue
// class. 30 s of noise with mains 10x its amplitude from 3 s on: 90 % of the epochs are flagged.
TEST_F(Cli, NoFitFromMostlyFlaggedEpochsIsNullWithAReason) {
    const auto path = dir_ / "flagged.csv";
    {
        std::ofstream out(path);
        out << "time_s,emg_uV\n";
        const auto noise = test::white_noise(30000, 30.0, 4);
        const auto mains = test::sine(50.0, 300.0, 1000.0, noise.size());
        for (std::size_t i = 0; i < noise.size(); ++i)
            out << static_cast<double>(i) / 1000.0 << ','
                << noise[i] + (i >= 3000 ? mains[i] : 0.0f) << '\n';
    }
    const auto r =
        run("analyze " + path.string() +
            " --mains 50 --mains-notch-hz 0 --contractions whole --out " + (dir_ / "out").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("no fit: "), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("fatigue"), std::string::npos) << r.output;
    const auto summary = test::load_json(dir_ / "out" / "summary.json");
    for (const auto& ch : {summary["channels"][0], summary["contractions"][0]["channels"][0]}) {
        EXPECT_GE(ch["flagged_epochs"].get<double>(), 0.9 * ch["epochs"].get<double>());
        EXPECT_TRUE(ch["mdf"].is_null());
        EXPECT_TRUE(ch["mnf"].is_null());
        EXPECT_TRUE(ch["rms"].is_null());
        EXPECT_TRUE(ch["jasa"].is_null());
        EXPECT_NE(ch["no_fit_reason"].get<std::string>().find("a fit needs at least 10"),
                  std::string::npos);
    }
    EXPECT_EQ(summary["settings"]["fit_rule"]["min_epochs"], 10);
    EXPECT_TRUE(fs::exists(dir_ / "out" / "report.html"));
    // An impossible rule is refused, naming the option.
    const auto bad =
        run("analyze -q " + path.string() + " --min-fit-share 2 --out " + (dir_ / "bad").string());
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.output.find("--min-fit-share must be between 0 and 1"), std::string::npos)
        << bad.output;
}

// Issue #11, item 4: the shared biceps fatigue recording (bsnb-biceps-fatigue, SOURCE.md): cyclic
// flexion/extension for 127 s, ~30 bursts of ~3.5 s with ~1 s pauses, then ~6 s of rest.
// Defaults (no --contractions) must find the repeated bursts and fit across them.
TEST_F(Cli, BicepsCyclicFatigueIsFittedAcrossBursts) {
    const auto csv_path = test::shared_datasets() / "bsnb-biceps-fatigue" / "emg_fatigue.csv";
    if (!fs::exists(csv_path))
        GTEST_SKIP() << csv_path << " is absent (shared datasets not mounted)";
    const auto analyse = [&](const std::string& name, const std::string& options) {
        const auto r = run("analyze -q " + csv_path.string() + " " + options + " --out " +
                           (dir_ / name).string());
        EXPECT_EQ(r.exit_code, 0) << r.output;
        return test::load_json(dir_ / name / "summary.json");
    };
    const auto mdf_of = [](const nlohmann::json& summary, const std::string& label) {
        for (const auto& ch : summary["contractions"][0]["channels"])
            if (ch["label"] == label)
                return ch["mdf"];
        return nlohmann::json();
    };
    const auto all = analyse("all", "");
    const auto one = analyse("one", "--select emg_mV");
    ASSERT_EQ(all["contractions"].size(), 1u) << all["contraction_source"];
    const auto& con = all["contractions"][0];
    EXPECT_EQ(con["kind"], "repeated_bursts");
    EXPECT_GE(con["bursts"].get<int>(), 25);
    const auto mdf = mdf_of(all, "emg_mV");
    ASSERT_TRUE(mdf.is_object()) << all.dump(2);
    const double slope = mdf["slope_hz_per_s"];
    EXPECT_LT(slope, 0.0);
    EXPECT_LT(mdf["slope_ci95_hz_per_s"][1].get<double>(), 0.0); // the 95 % CI excludes 0

    // The same segments and fit with --select (detection listens to every EMG channel). The
    // analysed samples are the same; only the float rounding of the band-pass's SIMD lanes may
    // differ with the channel count (measured: none), hence 1e-9 Hz/s.
    ASSERT_EQ(one["contractions"].size(), 1u);
    EXPECT_EQ(one["contractions"][0]["start_s"], con["start_s"]);
    EXPECT_EQ(one["contractions"][0]["end_s"], con["end_s"]);
    EXPECT_EQ(one["contractions"][0]["bursts"], con["bursts"]);
    EXPECT_NEAR(mdf_of(one, "emg_mV")["slope_hz_per_s"].get<double>(), slope, 1e-9);

    // Within 20 % of the whole-recording slope (--contractions whole, every epoch of the file).
    // Measured: -0.147 Hz/s across bursts, -0.142 Hz/s over the whole file. The last 6 s of the
    // file are rest (RMS 3-4 uV against ~600 uV of work, noise MDF 80-95 Hz): they are flagged
    // rest and left out; kept, they turned the whole-file slope into -0.085 Hz/s.
    const auto whole = analyse("whole", "--contractions whole");
    const auto whole_mdf = mdf_of(whole, "emg_mV");
    ASSERT_TRUE(whole_mdf.is_object()) << whole.dump(2);
    const double whole_slope = whole_mdf["slope_hz_per_s"];
    EXPECT_NEAR(slope, whole_slope, 0.2 * std::abs(whole_slope));
    std::size_t rest_epochs = 0;
    for (const auto& ch : whole["contractions"][0]["channels"])
        if (ch["label"] == "emg_mV")
            rest_epochs = ch["flag_counts"]["rest"];
    EXPECT_GE(rest_epochs, 9u) << "the closing ~6 s of rest (11 epochs) are flagged rest";
    EXPECT_LE(rest_epochs, 13u);

    // And the epoch-wise fit over the span of work found (bursts and pauses): also within 20 %
    // (measured: -0.150 Hz/s).
    const auto span = analyse("span", "--segment " + std::to_string(con["start_s"].get<double>()) +
                                          ":" + std::to_string(con["end_s"].get<double>()));
    const double span_slope = mdf_of(span, "emg_mV")["slope_hz_per_s"];
    EXPECT_NEAR(slope, span_slope, 0.2 * std::abs(span_slope));
}

// The intervals report.html shows are in summary.json, so that the page computes none of them:
// the MDF slope's CI normalised as the slope is (100 · CI / IMF), and the mean AI's CI,
// mean ± t(0.975, n − 1) · sd / √n over the pair's n epochs. Both are recomputed here from the
// other fields; 1e-9 relative covers the JSON round trip of doubles (exact in practice).
TEST_F(Cli, SummaryCarriesTheIntervalsTheReportShows) {
    const fs::path dataset = fs::path(SEMG_SOURCE_DIR) / "datasets" / "sorensen-sim.bdf";
    const auto r = run("analyze -q " + dataset.string() + " --out " + (dir_ / "out").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto summary = test::load_json(dir_ / "out" / "summary.json");
    const auto& con = summary["contractions"][0];
    ASSERT_FALSE(con["channels"].empty());
    for (const auto& ch : con["channels"]) {
        const auto& mdf = ch["mdf"];
        const double imf = mdf["initial_hz"];
        for (int i = 0; i < 2; ++i) {
            const double expected = 100.0 * mdf["slope_ci95_hz_per_s"][i].get<double>() / imf;
            EXPECT_NEAR(mdf["slope_ci95_pct_per_s"][i].get<double>(), expected,
                        1e-9 * std::abs(expected))
                << ch["label"];
        }
        EXPECT_LT(mdf["slope_ci95_pct_per_s"][0].get<double>(),
                  mdf["slope_pct_per_s"].get<double>());
        EXPECT_GT(mdf["slope_ci95_pct_per_s"][1].get<double>(),
                  mdf["slope_pct_per_s"].get<double>());
    }
    ASSERT_FALSE(con["pairs"].empty());
    for (const auto& p : con["pairs"]) {
        const double n = p["epochs"];
        const double mean = p["amplitude_asymmetry_pct"];
        const double half = boost::math::quantile(boost::math::students_t(n - 1.0), 0.975) *
                            p["amplitude_asymmetry_sd_pct"].get<double>() / std::sqrt(n);
        EXPECT_NEAR(p["amplitude_asymmetry_ci95_pct"][0].get<double>(), mean - half,
                    1e-9 * std::abs(mean) + 1e-12);
        EXPECT_NEAR(p["amplitude_asymmetry_ci95_pct"][1].get<double>(), mean + half,
                    1e-9 * std::abs(mean) + 1e-12);
        EXPECT_GT(half, 0.0);
    }
}

// IMF recovery (summary.json "imf_recovery", docs/contractions.md) against a hand computation
// from the per-contraction IMFs summary.json lists, and the rest times against the simulation's
// truth.
TEST_F(Cli, ImfRecoveryBetweenContractionsIsTheRatioOfTheirImfs) {
    const auto bdf = dir_ / "three.bdf";
    auto r = run("simulate -q " + bdf.string() +
                 " --contraction-count 3 --hold-s 15 --rest-s 10 --pairs 2 --seed 4");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run("analyze -q " + bdf.string() + " --out " + (dir_ / "out").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto summary = test::load_json(dir_ / "out" / "summary.json");
    const auto truth = test::load_json(bdf.string() + ".truth.json");
    const auto& cons = summary["contractions"];
    const auto& steps = summary["imf_recovery"];
    ASSERT_EQ(cons.size(), 3u);
    ASSERT_EQ(steps.size(), 2u);
    const auto imf = [&](std::size_t k, std::size_t c) {
        return cons[k]["channels"][c]["mdf"]["initial_hz"].get<double>();
    };
    for (std::size_t k = 0; k < 2; ++k) {
        const auto& step = steps[k];
        SCOPED_TRACE("step " + std::to_string(k));
        EXPECT_EQ(step["from_index"], k);
        EXPECT_EQ(step["to_index"], k + 1);
        // The same doubles subtracted: exact up to rounding.
        EXPECT_NEAR(step["rest_s"].get<double>(),
                    cons[k + 1]["start_s"].get<double>() - cons[k]["end_s"].get<double>(), 1e-9);
        // Detection puts contraction edges on the 0.5 s epoch hop; each edge may move by one hop.
        const double true_rest_s = truth["contractions"][k + 1]["start_s"].get<double>() -
                                   truth["contractions"][k]["end_s"].get<double>();
        EXPECT_NEAR(true_rest_s, 10.0, 1e-9);
        EXPECT_NEAR(step["rest_s"].get<double>(), true_rest_s, 2 * 0.5);
        std::vector<double> of_previous, of_first;
        ASSERT_EQ(step["channels"].size(), summary["channels"].size());
        for (std::size_t c = 0; c < step["channels"].size(); ++c) {
            const auto& ch = step["channels"][c];
            EXPECT_EQ(ch["label"], summary["channels"][c]["label"]);
            const double previous = 100.0 * imf(k + 1, c) / imf(k, c);
            const double first = 100.0 * imf(k + 1, c) / imf(0, c);
            // summary.json keeps full double precision: only the division's rounding differs.
            EXPECT_EQ(ch["imf_hz"].get<double>(), imf(k + 1, c));
            EXPECT_NEAR(ch["imf_pct_of_previous"].get<double>(), previous, 1e-9 * previous);
            EXPECT_NEAR(ch["imf_pct_of_first"].get<double>(), first, 1e-9 * first);
            of_previous.push_back(previous);
            of_first.push_back(first);
        }
        EXPECT_EQ(step["channels_with_values"], of_previous.size());
        const auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
        };
        EXPECT_NEAR(step["median_imf_pct_of_previous"].get<double>(), median(of_previous),
                    1e-9 * 100.0);
        EXPECT_NEAR(step["median_imf_pct_of_first"].get<double>(), median(of_first), 1e-9 * 100.0);
    }
    // With one contraction there is nothing to recover to.
    r = run("simulate -q " + (dir_ / "one.bdf").string() + " --hold-s 15 --pairs 1 --seed 4");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run("analyze -q " + (dir_ / "one.bdf").string() + " --out " + (dir_ / "one").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(test::load_json(dir_ / "one" / "summary.json")["imf_recovery"],
              nlohmann::json::array());
}
