// CSV/TSV reader: the rate from every timestamp (rounded, jittered), every row's time checked
// (backwards, gaps, absurd rates), --fs against the time column, units by suffix and by
// plausibility, decimal commas, a byte order mark, a line-length cap, and that the second pass
// reads back exactly the rows the first one checked.
#include "acquisition/csv_source.hpp"
#include "acquisition/file_source.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <random>

using namespace semg;
namespace fs = std::filesystem;
using acquisition::CsvSource;

namespace {

class Csv : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::path(SEMG_BINARY_DIR) / "test_csv" /
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    fs::path write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name, std::ios::binary) << text;
        return dir_ / name;
    }
    // `rows` rows of "time,value" with time from `time_of(i)` printed with `decimals` digits.
    fs::path timed(const std::string& name, std::size_t rows,
                   const std::function<double(double)>& time_of, int decimals,
                   const std::string& header = "time_s,emg_uV") {
        std::string text = header + "\n";
        std::array<char, 64> buf{};
        for (std::size_t i = 0; i < rows; ++i) {
            std::snprintf(buf.data(), buf.size(), "%.*f,%d\n", decimals,
                          time_of(static_cast<double>(i)), static_cast<int>(i % 7));
            text += buf.data();
        }
        return write(name, text);
    }
    // The message of the SourceError that opening `path` throws ("" when it opens).
    static std::string open_error(const fs::path& path, CsvSource::Options options = {}) {
        try {
            CsvSource source(path, options);
        } catch (const acquisition::SourceError& e) {
            return e.what();
        }
        return "";
    }
    fs::path dir_;
};

std::vector<std::vector<float>> read_all(acquisition::Source& source, std::size_t block_frames) {
    std::vector<std::vector<float>> channels(source.info().channels.size());
    dsp::Block block(channels.size(), block_frames);
    while (const std::size_t n = source.read(block.capacity_ref()))
        for (std::size_t c = 0; c < channels.size(); ++c)
            channels[c].insert(channels[c].end(), block.channel(c), block.channel(c) + n);
    return channels;
}

bool has_notice(const acquisition::SourceInfo& info, const std::string& part) {
    for (const auto& n : info.notices)
        if (n.find(part) != std::string::npos)
            return true;
    return false;
}

} // namespace

// ---- sample rate from the time column ---------------------------------------------------------
// The requirement is 0.01 % (1e-4). The least-squares step's worst case for timestamps rounded to
// r over a duration D is about 1.5 r / D (bounded rounding errors): 1.5e-5 for 0.1 ms over 10 s,
// 1.9e-7 for 1 µs over 8 s; so 1e-4 has margin, while the old median of rounded steps misses it.

TEST_F(Csv, RateFromTimestampsRoundedTo100usAt2048Hz) {
    const auto path = timed(
        "r.csv", 20480, [](double i) { return static_cast<double>(i) / 2048.0; }, 4);
    CsvSource source(path, {});
    EXPECT_NEAR(source.info().sample_rate_hz, 2048.0, 1e-4 * 2048.0);
}

TEST_F(Csv, RateFromTimestampsRoundedTo1msAt1000HzIsExact) {
    const auto path = timed(
        "r.csv", 5000, [](double i) { return static_cast<double>(i) / 1000.0; }, 3);
    CsvSource source(path, {});
    EXPECT_EQ(source.info().sample_rate_hz, 1000.0) << "a whole rate within the timestamps' error";
}

TEST_F(Csv, RateFromTimestampsRoundedTo1usAtANonIntegerRate) {
    // Delsys Trigno EMG: 34000/27 = 1259.259... Hz, exported with 6 decimals.
    const double rate_hz = 34000.0 / 27.0;
    const auto path = timed(
        "r.csv", 10030, [&](double i) { return static_cast<double>(i) / rate_hz; }, 6);
    CsvSource source(path, {});
    EXPECT_NEAR(source.info().sample_rate_hz, rate_hz, 1e-4 * rate_hz);
}

TEST_F(Csv, RateFromJitteredTimestampsWithinOneHundredthOfAPercent) {
    // Host-clock jitter of 10 % of the interval (Gaussian), 10 s at 2 kHz, an offset like a
    // Unix time. The fit's own standard error is ~0.1·sqrt(12)/n^1.5 ≈ 1.2e-7 relative.
    std::mt19937_64 rng(5);
    std::normal_distribution<double> jitter(0.0, 0.1 / 2000.0);
    const auto path = timed(
        "j.csv", 20000, [&](double i) { return 1.7e6 + i / 2000.0 + jitter(rng); }, 7);
    CsvSource source(path, {});
    EXPECT_NEAR(source.info().sample_rate_hz, 2000.0, 1e-4 * 2000.0);
}

TEST_F(Csv, ATimeColumnInMilliseconds) {
    const auto path = timed(
        "ms.csv", 4000, [](double i) { return i * 0.5; }, 1, "time_ms,emg_uV");
    CsvSource source(path, {});
    EXPECT_EQ(source.info().sample_rate_hz, 2000.0);
    ASSERT_EQ(source.info().channels.size(), 1u) << "the time column is not a channel";
}

// ---- every row's time is checked --------------------------------------------------------------

TEST_F(Csv, TimeGoingBackwardsLateInTheFileNamesTheLine) {
    // Row 2000 (file line 2002: the header is line 1) repeats an earlier time.
    const auto path = timed(
        "b.csv", 5000, [](double i) { return (i == 2000 ? 1990.0 : i) / 1000.0; }, 3);
    const auto e = open_error(path);
    EXPECT_NE(e.find("b.csv:2002: time column 'time_s' goes backwards (1.99 s after 1.999 s)"),
              std::string::npos)
        << e;
}

TEST_F(Csv, A100sGapLateInTheFileNamesTheLine) {
    const auto path = timed(
        "g.csv", 5000, [](double i) { return i / 1000.0 + (i >= 3000 ? 100.0 : 0.0); }, 3);
    const auto e = open_error(path);
    EXPECT_NE(e.find("g.csv:3002: time column 'time_s' jumps by 100.001 s (from 2.999 to 103; the "
                     "sample interval is 0.001 s)"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("a gap in the recording"), std::string::npos) << e;
}

TEST_F(Csv, AGapAmongTheFirstStepsIsFoundToo) {
    // The reference interval is the median of the first steps, not the first step.
    const auto path = timed(
        "g.csv", 3000, [](double i) { return i / 1000.0 + (i >= 2 ? 5.0 : 0.0); }, 3);
    const auto e = open_error(path);
    EXPECT_NE(e.find("g.csv:4: time column 'time_s' jumps by 5.001 s (from 0.001 to 5.002"),
              std::string::npos)
        << e;
}

TEST_F(Csv, ARepeatedTimestampIsRefused) {
    const auto path = timed(
        "z.csv", 3000, [](double i) { return (i == 10 ? 9 : i) / 1000.0; }, 3);
    const auto e = open_error(path);
    EXPECT_NE(e.find("z.csv:12: time column 'time_s' does not increase (0.009 s after 0.009 s)"),
              std::string::npos)
        << e;
}

TEST_F(Csv, ANanosecondStepIsRefusedBeforeAnyAnalysis) {
    // 1 ns steps imply 1 GHz: an epoch of a billion samples (FFTW then aborts at 2 GB).
    const auto path = timed(
        "ns.csv", 3000, [](double i) { return i * 1e-9; }, 9);
    const auto e = open_error(path);
    EXPECT_NE(e.find("ns.csv:3: time column 'time_s' steps by 1e-09 s"), std::string::npos) << e;
    EXPECT_NE(e.find("above 1 MHz"), std::string::npos) << e;
}

// ---- --fs and the time column ------------------------------------------------------------------

TEST_F(Csv, FsDisagreeingWithTheTimeColumnIsAnError) {
    const auto path = timed(
        "f.csv", 3000, [](double i) { return i / 1000.0; }, 3);
    const auto e = open_error(path, {2000.0, false});
    EXPECT_NE(e.find("f.csv: --fs 2000 Hz disagrees with the time column 'time_s' (1000 Hz from "
                     "3000 timestamps) "
                     "by 100 %"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("--force-fs"), std::string::npos) << e;
}

TEST_F(Csv, FsAThousandTimesTheTimeColumnsRateSuggestsMilliseconds) {
    const auto path = timed(
        "ms.csv", 3000, [](double i) { return i; }, 0, "time,emg_uV");
    const auto e = open_error(path, {1000.0, false});
    EXPECT_NE(
        e.find("(1 Hz from 3000 timestamps) by 99900 %: if the column is in milliseconds, name "
               "it time_ms"),
        std::string::npos)
        << e;
}

TEST_F(Csv, FsAgreeingWithinATenthOfAPercentLeavesTheTimeColumnsRate) {
    const auto path = timed(
        "f.csv", 3000, [](double i) { return i / 1000.0; }, 3);
    CsvSource source(path, {1000.5, false});
    EXPECT_EQ(source.info().sample_rate_hz, 1000.0);
    EXPECT_TRUE(has_notice(source.info(), "agrees with the time column"));
}

TEST_F(Csv, ForceFsWinsAndTheTimeColumnIsNotRead) {
    // Even a time column that goes backwards: the user said to ignore it.
    const auto path = timed(
        "f.csv", 3000, [](double i) { return (i == 100 ? 0.0 : i / 1000.0); }, 3);
    CsvSource source(path, {2000.0, true});
    EXPECT_EQ(source.info().sample_rate_hz, 2000.0);
    EXPECT_TRUE(has_notice(source.info(), "--force-fs"));
    EXPECT_NE(open_error(path, {std::nullopt, true}).find("--force-fs needs --fs"),
              std::string::npos);
}

// ---- units -------------------------------------------------------------------------------------

TEST_F(Csv, AColumnInVoltsWithoutASuffixIsReadAsVoltsAndSaysSo) {
    // Delsys exports sEMG in volts (RMS ~1e-5); read as µV it was a flatline. Beside it a raw ADC
    // column (counts, RMS ~14) and a column of zeros (a flatline, not volts) stay µV.
    const auto x = test::white_noise(4000, 20e-6, 3);
    std::string text = "time_s,emg,adc,off\n";
    std::array<char, 96> buf{};
    for (std::size_t i = 0; i < x.size(); ++i) {
        std::snprintf(buf.data(), buf.size(), "%.3f,%.9e,%d,0\n", static_cast<double>(i) / 1000.0,
                      static_cast<double>(x[i]), 2048 + static_cast<int>(i % 50));
        text += buf.data();
    }
    CsvSource source(write("v.csv", text), {});
    const auto& info = source.info();
    EXPECT_TRUE(has_notice(info, "column 'emg' has no unit suffix and an RMS of"))
        << info.notices.size();
    EXPECT_TRUE(has_notice(info, "read as volts. Name it 'emg_V'"));
    EXPECT_TRUE(has_notice(info, "column 'adc' has no unit suffix: taken as uV"));
    EXPECT_TRUE(has_notice(info, "column 'off' has no unit suffix: taken as uV"));
    const auto data = read_all(source, 1000);
    ASSERT_EQ(data[0].size(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        ASSERT_NEAR(data[0][i], x[i] * 1e6, 1e-3) << i; // printed to 10 digits
        ASSERT_EQ(data[1][i], 2048.0f + static_cast<float>(i % 50)) << i;
    }
}

TEST_F(Csv, UnitSuffixesScaleToMicrovolts) {
    CsvSource source(
        write("u.csv", "time_s,a_uV,b_mV,c (V),d[uv]\n0,1,1,1,1\n0.001,2,2,2,2\n0.002,3,3,3,3\n"),
        {});
    const auto data = read_all(source, 2);
    ASSERT_EQ(data.size(), 4u);
    EXPECT_EQ(data[0], (std::vector<float>{1, 2, 3}));
    EXPECT_EQ(data[1], (std::vector<float>{1e3, 2e3, 3e3}));
    EXPECT_EQ(data[2], (std::vector<float>{1e6, 2e6, 3e6}));
    EXPECT_EQ(data[3], (std::vector<float>{1, 2, 3}));
}

// ---- delimiters, decimal commas, BOM, line endings ----------------------------------------------

TEST_F(Csv, SemicolonsWithDecimalCommas) {
    CsvSource source(
        write("d.csv", "time_s;emg_mV\n0,000;0,25\n0,001;-0,5\n0,002;1\n0,003;+1,5e-1\n"), {});
    EXPECT_EQ(source.info().sample_rate_hz, 1000.0);
    EXPECT_TRUE(has_notice(source.info(), "decimal commas read as decimal points"));
    const auto data = read_all(source, 3);
    EXPECT_EQ(data[0], (std::vector<float>{250, -500, 1000, 150}));
}

TEST_F(Csv, DecimalCommasFromALaterRowOn) {
    // Whole numbers in the first row say nothing about the decimal mark.
    CsvSource source(write("d.csv", "time_s;emg_uV\n0;12\n0,001;12,5\n0,002;-1\n"), {});
    EXPECT_EQ(read_all(source, 3)[0], (std::vector<float>{12, 12.5f, -1}));
    CsvSource plain(write("p.csv", "time_s;emg_uV\n0;12\n0.001;12.5\n0.002;-1\n"), {});
    EXPECT_FALSE(has_notice(plain.info(), "decimal commas"));
    EXPECT_EQ(read_all(plain, 3)[0], (std::vector<float>{12, 12.5f, -1}));
}

TEST_F(Csv, TabsWithDecimalCommas) {
    CsvSource source(
        write("d.tsv", "time_s\tleft_uV\tright_uV\n0\t1,5\t2\n0,0005\t-3,25\t4\n0,001\t5\t6,125\n"),
        {});
    EXPECT_EQ(source.info().format, "tsv");
    EXPECT_EQ(source.info().sample_rate_hz, 2000.0);
    const auto data = read_all(source, 10);
    EXPECT_EQ(data[0], (std::vector<float>{1.5f, -3.25f, 5}));
    EXPECT_EQ(data[1], (std::vector<float>{2, 4, 6.125f}));
}

TEST_F(Csv, ASemicolonInAColumnNameDoesNotMakeItTheDelimiter) {
    CsvSource source(
        write("s.csv", "time_s,emg;left_uV,emg;right_uV\n0,1.5,2\n0.001,3,4\n0.002,5,6\n"), {});
    ASSERT_EQ(source.info().channels.size(), 2u);
    EXPECT_EQ(source.info().channels[1].label, "emg;right_uV");
}

TEST_F(Csv, AByteOrderMarkBeforeTheHeader) {
    CsvSource source(write("bom.csv", "\xEF\xBB\xBFtime_s,emg_uV\r\n0,1\r\n0.001,2\r\n0.002,3"),
                     {});
    EXPECT_EQ(source.info().sample_rate_hz, 1000.0);
    EXPECT_EQ(source.info().channels[0].label, "emg_uV");
    EXPECT_EQ(read_all(source, 8)[0], (std::vector<float>{1, 2, 3})) << "CRLF, no final newline";
}

// ---- hostile files -----------------------------------------------------------------------------

TEST_F(Csv, AHugeHeaderLineIsRefusedNotRead) {
    // A 300 MB "header" grew a std::string to GBs; the cap is 1 MiB. 2 MiB without a newline:
    const auto e = open_error(write("big.csv", std::string(2u << 20, 'a')));
    EXPECT_NE(e.find("big.csv:1: line longer than 1 MiB"), std::string::npos) << e;
}

TEST_F(Csv, AHugeDataLineNamesItsLine) {
    const auto e = open_error(
        write("big.csv", "time_s,emg_uV\n0,1\n0.001," + std::string(2u << 20, '1') + "\n"));
    EXPECT_NE(e.find("big.csv:3: line longer than 1 MiB"), std::string::npos) << e;
}

TEST_F(Csv, AFifoIsRefusedWithoutOpeningIt) {
    // Opening a FIFO for reading blocks until a writer comes; the check comes before the open.
    const auto path = dir_ / "fifo.csv";
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    const auto e = open_error(path);
    EXPECT_NE(e.find("fifo.csv: not a regular file"), std::string::npos) << e;
    EXPECT_THROW(acquisition::open_file_source(path), acquisition::SourceError);
}

TEST_F(Csv, ADeviceNamedCsvIsRefused) {
    const auto path = dir_ / "zero.csv";
    fs::create_symlink("/dev/zero", path);
    const auto e = open_error(path);
    EXPECT_NE(e.find("zero.csv: not a regular file"), std::string::npos) << e;
}

// ---- the second pass reads what the first one checked ------------------------------------------

TEST_F(Csv, ReadReturnsEveryRowOnceWhateverTheBlockSize) {
    // More than one 1 MiB buffer of text, so lines straddle refills in both passes.
    const std::size_t rows = 120000;
    std::string text = "time_s,a_uV,b_uV\n";
    std::array<char, 96> buf{};
    for (std::size_t i = 0; i < rows; ++i) {
        std::snprintf(buf.data(), buf.size(), "%.4f,%zu,%zu\n", static_cast<double>(i) / 2000.0, i,
                      rows - i);
        text += buf.data();
        if (i % 1000 == 0)
            text += "\n"; // blank lines are skipped
    }
    ASSERT_GT(text.size(), 2u << 20);
    const auto path = write("long.csv", text);
    for (const std::size_t block : {1u, 777u, 8192u}) {
        CsvSource source(path, {});
        EXPECT_EQ(source.info().total_frames, rows);
        EXPECT_EQ(source.info().sample_rate_hz, 2000.0);
        const auto data = read_all(source, block);
        ASSERT_EQ(data[0].size(), rows) << block;
        for (std::size_t i = 0; i < rows; ++i) {
            ASSERT_EQ(data[0][i], static_cast<float>(i)) << block << " row " << i;
            ASSERT_EQ(data[1][i], static_cast<float>(rows - i)) << block << " row " << i;
        }
    }
}

TEST_F(Csv, TextInAColumnIsFoundBeforeAnySampleIsRead) {
    // The first pass checks every row: the error comes from the constructor, not mid-analysis.
    const auto path = timed(
        "t.csv", 5000, [](double i) { return i / 1000.0; }, 3);
    std::string text;
    {
        std::ifstream in(path);
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    text.replace(text.rfind("4.999,"), 5, "4.99x");
    const auto e = open_error(write("t2.csv", text));
    EXPECT_NE(e.find("t2.csv:5001: column 'time_s': '4.99x' is not a number"), std::string::npos)
        << e;
}

// Found by fuzz_csv: a value finite as a double but beyond a float (4e106 µV) became an infinite
// sample. Now an error naming the line and column.
TEST_F(Csv, AValueBeyondAFloatSampleIsAnError) {
    std::string text = "time_s,a_uV\n";
    for (int i = 0; i < 3000; ++i)
        text += std::to_string(i / 1000.0) + "," + (i == 2000 ? "4e106" : "1.5") + "\n";
    CsvSource source(write("big.csv", text), {});
    try {
        read_all(source, 512);
        FAIL() << "expected an error";
    } catch (const acquisition::SourceError& e) {
        EXPECT_NE(std::string(e.what()).find("big.csv:2002: column 'a_uV'"), std::string::npos)
            << e.what();
    }
}
