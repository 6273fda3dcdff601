// WFDB reader: every format on fixtures written by numpy (tests/python/wfdb_fixtures.py), gains,
// baselines and units to µV, checksums and initial values, truncated files, skipped signals,
// malformed headers (file, line, field), and the PhysioNet records against numpy and against the
// CSV route (issue #13, criterion 1).
#include "acquisition/file_source.hpp"
#include "acquisition/wfdb_source.hpp"
#include "tests/acquisition/reader_test_util.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

using namespace semg;
namespace fs = std::filesystem;
using acquisition::SourceError;
using acquisition::WfdbSource;
using test::contains;

namespace {

const fs::path kScript = fs::path(SEMG_SOURCE_DIR) / "tests" / "python" / "wfdb_fixtures.py";

// The fixture formula of wfdb_fixtures.py.
std::int64_t sample(std::int64_t s, std::int64_t i, int bits) {
    const std::int64_t span = (std::int64_t{1} << bits) - 1;
    return (i * (97 + 13 * s) + 31 * s + (i * i) % 7) % span -
           ((std::int64_t{1} << (bits - 1)) - 1);
}

class Wfdb : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::path(SEMG_BINARY_DIR) / "test_wfdb" /
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    fs::path write(const std::string& name, const std::string& bytes) {
        std::ofstream(dir_ / name, std::ios::binary) << bytes;
        return dir_ / name;
    }
    static std::string open_error(const fs::path& header) {
        try {
            WfdbSource source(header);
        } catch (const SourceError& e) {
            return e.what();
        }
        return "";
    }
    void fixtures() {
        if (!test::have_numpy())
            GTEST_SKIP() << "/usr/bin/python3 with numpy is needed to write the fixtures";
        std::string out;
        ASSERT_EQ(test::shell("/usr/bin/python3 " + test::quoted(kScript) + " fixtures " +
                                  test::quoted(dir_),
                              &out),
                  0)
            << out;
    }
    fs::path dir_;
};

std::string int16_le(std::initializer_list<int> values) {
    std::string b;
    for (const int v : values) {
        b += static_cast<char>(v & 0xFF);
        b += static_cast<char>((v >> 8) & 0xFF);
    }
    return b;
}

} // namespace

TEST_F(Wfdb, EveryFormatDecodesToTheFixtureSamplesInMicrovolts) {
    fixtures();
    if (IsSkipped())
        return;
    struct Signal {
        double gain_adu_per_unit, baseline, uv_per_unit;
        std::string label;
    };
    struct Record {
        std::string name;
        int bits;
        std::vector<Signal> signals;
    };
    // The same gains, baselines and units as wfdb_fixtures.py's RECORDS; gain 0 is WFDB's 200.
    const std::vector<Record> records = {
        {"f16", 16, {{200, 10, 1e3, "ES L3 L"}, {1000, 0, 1, "ES L3 R"}}},
        {"f61", 16, {{50, 0, 1e3, "big endian"}}},
        {"f80", 8, {{2, 0, 1, "eight bit"}}},
        {"f212", 12, {{400, -7, 1e3, "A"}, {200, 0, 1e3, "B"}, {200, 0, 1e3, "C"}}},
        {"f24", 24, {{8388.608, 0, 1e3, "twenty four"}}},
        {"f32", 32, {{1e6, 5, 1e6, "thirty two a"}, {2147.483648, 0, 1e3, "thirty two b"}}},
    };
    for (const auto& r : records) {
        SCOPED_TRACE(r.name);
        WfdbSource source(dir_ / (r.name + ".hea"));
        const auto& info = source.info();
        EXPECT_EQ(info.format, "wfdb");
        EXPECT_EQ(info.sample_rate_hz, 1000.0);
        ASSERT_EQ(info.total_frames, 1000u);
        EXPECT_TRUE(info.warnings.empty())
            << info.warnings.front(); // checksums and initial values agree
        EXPECT_TRUE(
            contains(info.notices, "header: fixture " + r.name + " written by wfdb_fixtures.py"));
        EXPECT_TRUE(contains(info.notices, "start: 12:30:00 01/02/2003"));
        ASSERT_EQ(info.channels.size(), r.signals.size());
        // Block sizes that straddle 212 pairs and the reader's 4096-frame chunks alike.
        for (const std::size_t block : {std::size_t{1}, std::size_t{61}, std::size_t{5000}}) {
            WfdbSource again(dir_ / (r.name + ".hea"));
            const auto x = test::read_all(again, block);
            for (std::size_t s = 0; s < r.signals.size(); ++s) {
                const auto& sig = r.signals[s];
                EXPECT_EQ(info.channels[s].label, sig.label);
                const double step_uv = sig.uv_per_unit / sig.gain_adu_per_unit;
                EXPECT_DOUBLE_EQ(*info.channels[s].resolution_uv, step_uv);
                ASSERT_EQ(x[s].size(), 1000u);
                for (std::size_t i = 0; i < 1000; ++i) {
                    const double want =
                        (static_cast<double>(sample(static_cast<std::int64_t>(s),
                                                    static_cast<std::int64_t>(i), r.bits)) -
                         sig.baseline) *
                        step_uv;
                    // One float rounding of the µV value.
                    ASSERT_NEAR(x[s][i], want, 1e-6 * std::abs(want) + 1e-9)
                        << "signal " << s << " sample " << i << " block " << block;
                }
            }
        }
    }
}

TEST_F(Wfdb, ChecksumAndInitialValueDisagreementsAreWarnings) {
    write("r.dat", int16_le({1, 2, 3, 4}));
    write("r.hea", "r 1 500 4\nr.dat 16 100/mV 16 0 9 11 0 emg\n");
    WfdbSource bad(dir_ / "r.hea");
    EXPECT_TRUE(contains(bad.info().warnings,
                         "checksum 10 of the samples disagrees with the header's 11 (line 2)"));
    EXPECT_TRUE(contains(bad.info().warnings,
                         "first sample 1 disagrees with the header's initial value 9"));
    write("r.hea", "r 1 500 4\nr.dat 16 100/mV 16 0 1 10 0 emg\n");
    WfdbSource good(dir_ / "r.hea");
    EXPECT_TRUE(good.info().warnings.empty());
    const auto x = test::read_all(good);
    EXPECT_EQ(x[0], (std::vector<float>{10.0f, 20.0f, 30.0f, 40.0f})); // 100 adu/mV: 10 µV a step
}

TEST_F(Wfdb, ShortFileIsReadToItsLastFrameWithAWarning) {
    write("r.dat", int16_le({1, 2, 3, 4, 5}) + std::string(1, '\x07')); // 2.5 frames of 2 signals
    write("r.hea", "r 2 500 10\nr.dat 16 1/uV 16 0 0 0 0 a\nr.dat 16 1/uV 16 0 0 0 0 b\n");
    WfdbSource source(dir_ / "r.hea");
    EXPECT_EQ(source.info().total_frames, 2u);
    EXPECT_TRUE(contains(source.info().warnings,
                         "announces 10 samples per signal, the signal files hold 2"));
    const auto x = test::read_all(source);
    EXPECT_EQ(x[0], (std::vector<float>{1.0f, 3.0f}));
    EXPECT_EQ(x[1], (std::vector<float>{2.0f, 4.0f}));
}

TEST_F(Wfdb, NonVoltageNullAndInvalidSamples) {
    write("r.dat", int16_le({-32768, 100, 5, 200, 7, 300}));
    write("r2.dat", "");
    write("r.hea", "r 3 250\n"
                   "r.dat 16 1/uV 16 0 -32768 0 0 emg\n"
                   "r.dat 16 1/mmHg 16 0 100 0 0 pressure\n"
                   "r2.dat 0 1/uV 16 0 0 0 0 nothing\n");
    WfdbSource source(dir_ / "r.hea");
    const auto& info = source.info();
    ASSERT_EQ(info.channels.size(), 1u);
    ASSERT_EQ(info.skipped.size(), 2u);
    EXPECT_EQ(info.skipped[0].label, "pressure");
    EXPECT_EQ(info.skipped[0].reason, "unit 'mmHg' is not a voltage");
    EXPECT_EQ(info.skipped[1].reason, "a null signal (format 0)");
    EXPECT_TRUE(contains(info.notices, "no number of samples: 3 from the signal files' length"));
    EXPECT_TRUE(contains(info.warnings, "1 samples hold WFDB's invalid-sample code: read as 0 uV"));
    EXPECT_EQ(test::read_all(source)[0], (std::vector<float>{0.0f, 5.0f, 7.0f}));
}

TEST_F(Wfdb, DefaultsGainRateAndUnits) {
    write("r.dat", int16_le({400, -200}));
    write("r.hea", "r 1\nr.dat 16\n"); // no rate, no gain, no units: 250 Hz, 200 adu/mV
    WfdbSource source(dir_ / "r.hea");
    EXPECT_EQ(source.info().sample_rate_hz, 250.0);
    EXPECT_TRUE(contains(source.info().notices, "250 Hz, the WFDB default"));
    EXPECT_TRUE(contains(source.info().notices, "no gain in the header: 200 per mV"));
    EXPECT_EQ(source.info().channels[0].label, "signal 1");
    EXPECT_EQ(test::read_all(source)[0], (std::vector<float>{2000.0f, -1000.0f}));
}

TEST_F(Wfdb, MalformedHeadersNameFileLineAndField) {
    std::vector<std::pair<std::string, std::string>> cases = {
        {"", "no record line: not a WFDB header"},
        {"# only a comment\n", "no record line"},
        {"r\n", ":1: record line: number of signals missing"},
        {"r x 100\n", ":1: number of signals 'x' is not a whole number"},
        {"r 0 100\n", ":1: number of signals 0 is not from 1 to 4096"},
        {"r/3 2 100\n",
         ":1: record name 'r/3' has a segment count: multi-segment records are not read"},
        {"r 1 abc 10\n", ":1: sampling frequency 'abc' is not a number"},
        {"r 1 -5 10\n", ":1: sampling frequency -5 Hz is not in (0, 1 MHz]"},
        {"r 1 100 -3\n", ":1: number of samples per signal -3 is negative"},
        {"r 2 100 10\nr.dat 16\n",
         ":1: the record line announces 2 signals, the header has 1 signal lines"},
        {"r 1 100 10\nr.dat\n", ":2: signal line: format missing"},
        {"r 1 100 10\nr.dat 8\n", ":2: format 8 is not read"},
        {"r 1 100 10\nr.dat x16\n", ":2: format field 'x16' does not start with a format number"},
        {"r 1 100 10\nr.dat 16x2\n",
         ":2: signal 'r.dat' has 2 samples per frame: multi-rate records are not read"},
        {"r 1 100 10\nr.dat 16:3\n", ":2: signal skew 3 is not supported"},
        {"r 1 100 10\nr.dat 16+x\n", ":2: byte offset '' is not a whole number"},
        {"r 1 100 10\nr.dat 16 abc/mV\n", ":2: gain 'abc' is not a number"},
        {"r 1 100 10\nr.dat 16 200(1/mV\n", ":2: baseline in '200(1/mV' is not closed by ')'"},
        {"r 1 100 10\nr.dat 16 200(q)/mV\n", ":2: baseline 'q' is not a whole number"},
        {"r 1 100 10\nr.dat 16 200/\n", ":2: units after '/' missing"},
        {"r 1 100 10\nr.dat 16 200/mV 40\n", ":2: ADC resolution 40 bits is not from 0 to 32"},
        {"r 1 100 10\nr.dat 16 200/mV 16 z\n", ":2: ADC zero 'z' is not a whole number"},
        {"r 1 100 10\nr.dat 16 200/mV 16 0 1.5\n", ":2: initial value '1.5' is not a whole number"},
        {"r 1 100 10\nr.dat 16 200/mV 16 0 0 c\n", ":2: checksum 'c' is not a whole number"},
        {"r 1 100 10\n\n# c\nr.dat 16\nextra 16\n", ":5: a line beyond the 1 signal lines"},
    };
    const char with_nul[] = "r 1 100 10\nr.dat 16 200/mV\0\n";
    cases.emplace_back(std::string(with_nul, sizeof with_nul - 1), ":2: a NUL byte");
    for (const auto& [header, message] : cases) {
        const auto path = write("bad.hea", header);
        const std::string error = open_error(path);
        EXPECT_NE(error.find(path.string()), std::string::npos) << error;
        EXPECT_NE(error.find(message), std::string::npos) << "header:\n"
                                                          << header << "\nerror: " << error;
    }
    // Data-level faults.
    write("bad.hea", "r 1 100 10\nmissing.dat 16\n");
    EXPECT_NE(open_error(dir_ / "bad.hea")
                  .find("signal file " + (dir_ / "missing.dat").string() + " is missing"),
              std::string::npos);
    write("r.dat", int16_le({1, 2}));
    write("bad.hea", "r 1 100 10\nr.dat 16+100\n");
    EXPECT_NE(open_error(dir_ / "bad.hea").find("byte offset 100 is beyond the end"),
              std::string::npos);
    write("bad.hea", "r 2 100 10\nr.dat 16\nr.dat 212\n");
    EXPECT_NE(open_error(dir_ / "bad.hea").find(":3: signals in file 'r.dat' differ in format"),
              std::string::npos);
    write("bad.hea", "r 1 100 10\nr.dat 16 1e-300/mV\n");
    EXPECT_NE(
        open_error(dir_ / "bad.hea").find(":2: gain 1e-300 and baseline 0 give samples beyond"),
        std::string::npos);
    write("bad.hea", "r 1 100 10\n- 16\n");
    EXPECT_NE(open_error(dir_ / "bad.hea").find("standard input and null files are not read"),
              std::string::npos);
}

TEST_F(Wfdb, ParserIsCallableOnBytes) {
    const auto h = acquisition::parse_wfdb_header(
        "# c1\nrec 2 360/1(0) 650000 10:00:00\n100.dat 212 200(1024)/mV 11 1024 995 -22131 0 MLII from MIT\n"
        "100.dat 212 200 11 1024 1011 20052 0\n",
        "mem");
    EXPECT_EQ(h.record_name, "rec");
    EXPECT_EQ(h.sample_rate_hz, 360.0);
    EXPECT_EQ(h.samples, 650000u);
    EXPECT_EQ(h.base_time, "10:00:00");
    ASSERT_EQ(h.signals.size(), 2u);
    EXPECT_EQ(h.signals[0].baseline_adu, 1024);
    EXPECT_EQ(h.signals[0].description, "MLII from MIT");
    EXPECT_EQ(h.signals[0].checksum, -22131);
    EXPECT_EQ(h.signals[1].units, "mV");
    EXPECT_EQ(h.signals[1].baseline_adu, 1024); // defaults to the ADC zero
    EXPECT_EQ(h.comments, std::vector<std::string>{"c1"});
    // 212: 0x123 and -1 (0xFFF) in one pair.
    const unsigned char pair[] = {0x23, 0xF1, 0xFF};
    std::int32_t out[2] = {};
    acquisition::decode_wfdb_samples(212, pair, 2, out);
    EXPECT_EQ(out[0], 0x123);
    EXPECT_EQ(out[1], -1);
}

TEST_F(Wfdb, OpenedByHeaderOrDatWithTheFsOptionRefused) {
    write("r.dat", int16_le({1, 2}));
    write("r.hea", "r 1 500 2\nr.dat 16 1/uV\n");
    EXPECT_EQ(acquisition::open_file_source(dir_ / "r.hea")->info().format, "wfdb");
    EXPECT_EQ(acquisition::open_file_source(dir_ / "r.dat")->info().format, "wfdb");
    acquisition::FileSourceOptions options;
    options.sample_rate_hz = 1000.0;
    EXPECT_THROW(acquisition::open_file_source(dir_ / "r.hea", options), SourceError);
    write("lonely.dat", "x");
    try {
        acquisition::open_file_source(dir_ / "lonely.dat");
        FAIL() << "a .dat without a .hea opened";
    } catch (const SourceError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown file type '.dat'"), std::string::npos)
            << e.what();
    }
}

// The PhysioNet records: samples equal numpy's reading of the .dat (int16 LE), and `semg analyze`
// on the record equals `semg analyze` on a CSV of the same samples (issue #13, criterion 1).
TEST_F(Wfdb, PhysioNetRecordsEqualNumpyAndTheCsvRoute) {
    const auto root = test::shared_datasets() / "physionet-emgdb";
    if (!fs::exists(root / "emg_healthy.hea"))
        GTEST_SKIP() << root << " is absent";
    if (!test::have_numpy())
        GTEST_SKIP() << "/usr/bin/python3 with numpy is needed";
    const std::map<std::string, std::uint64_t> records = {
        {"emg_healthy", 50860}, {"emg_myopathy", 110337}, {"emg_neuropathy", 147858}};
    for (const auto& [name, samples] : records) {
        SCOPED_TRACE(name);
        const auto csv = dir_ / (name + ".csv");
        std::string out;
        ASSERT_EQ(test::shell("/usr/bin/python3 " + test::quoted(kScript) + " csv " +
                                  test::quoted(root / (name + ".hea")) + " " + test::quoted(csv),
                              &out),
                  0)
            << out;
        WfdbSource wfdb(root / (name + ".hea"));
        EXPECT_EQ(wfdb.info().sample_rate_hz, 4000.0);
        EXPECT_EQ(wfdb.info().total_frames, samples);
        EXPECT_TRUE(wfdb.info().warnings.empty()) << "checksum and initial value agree";
        EXPECT_EQ(wfdb.info().channels[0].label, "EMG");
        EXPECT_DOUBLE_EQ(*wfdb.info().channels[0].resolution_uv, 0.1);
        EXPECT_NEAR(*wfdb.info().channels[0].physical_max_uv, 3276.7, 1e-9); // 32767 / 10000 mV
        auto from_csv = acquisition::open_file_source(csv);
        EXPECT_EQ(from_csv->info().sample_rate_hz, 4000.0);
        const auto a = test::read_all(wfdb), b = test::read_all(*from_csv);
        ASSERT_EQ(a[0].size(), samples);
        ASSERT_EQ(b[0].size(), samples);
        // Both are the float nearest to d / 10 µV (the CSV holds it exactly in decimal).
        for (std::size_t i = 0; i < samples; ++i)
            ASSERT_EQ(a[0][i], b[0][i]) << "sample " << i;

        int rc =
            test::shell(std::string(SEMG_EXE) + " analyze " + test::quoted(root / (name + ".hea")) +
                            " --out " + test::quoted(dir_ / (name + "-wfdb")) + " -q",
                        &out);
        ASSERT_EQ(rc, 0) << out;
        rc = test::shell(std::string(SEMG_EXE) + " analyze " + test::quoted(csv) + " --out " +
                             test::quoted(dir_ / (name + "-csv")) + " -q",
                         &out);
        ASSERT_EQ(rc, 0) << out;
        // Identical samples and rate: identical epochs, to the last printed digit.
        test::compare_epochs(dir_ / (name + "-wfdb") / "epochs.csv",
                             dir_ / (name + "-csv") / "epochs.csv",
                             {"t_start_s", "t_end_s", "rms_uv", "mdf_hz", "mnf_hz", "arv_uv"}, 0.0);
    }
}
