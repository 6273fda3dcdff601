// MATLAB .mat reader: v5 fixtures written by scipy.io.savemat (tests/python/mat_fixtures.py) and
// a v7.3 fixture written here by libmatio; the data, rate, label and unit conventions, the
// Delsys export (rate groups, skipped signals, zero padding), errors that list the variables,
// malformed files, and the shared Delsys recording against the CSV route (issue #13, criterion 1).
#include "acquisition/file_source.hpp"
#include "acquisition/mat_source.hpp"
#include "tests/acquisition/reader_test_util.hpp"
#include "tests/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <matio.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <numbers>

using namespace semg;
namespace fs = std::filesystem;
using acquisition::MatSource;
using acquisition::SourceError;
using test::contains;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// mat_fixtures.py's value(c, i), in µV.
double value(int c, std::size_t i) {
    return 20.0 * std::sin(2.0 * std::numbers::pi * (60.0 + 10.0 * c) * static_cast<double>(i) /
                           1000.0) +
           5.0 * c;
}

class Mat : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // One folder per process: ctest -j runs each test as its own process, and a shared folder
        // was wiped by one while another read it.
        dir_ = fs::path(SEMG_BINARY_DIR) / "test_mat" / std::to_string(::getpid());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        have_fixtures_ =
            test::have_numpy() &&
            test::shell("/usr/bin/python3 " +
                        test::quoted(fs::path(SEMG_SOURCE_DIR) / "tests/python/mat_fixtures.py") +
                        " " + test::quoted(dir_)) == 0;
    }
    void need_fixtures() {
        if (!have_fixtures_)
            GTEST_SKIP() << "/usr/bin/python3 with numpy and scipy is needed to write the fixtures";
    }
    static std::string open_error(const fs::path& path, std::optional<double> fs_hz = {}) {
        try {
            MatSource source(path, {fs_hz});
        } catch (const SourceError& e) {
            return e.what();
        }
        return "";
    }
    static inline fs::path dir_;
    static inline bool have_fixtures_ = false;
};

// Writes a v7.3 (HDF5) file with libmatio: `emg` samples x channels (mV), `fs`, `labels` (cell),
// `units` (char row).
void write_v73(const fs::path& path, std::size_t frames) {
    mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT73);
    ASSERT_NE(mat, nullptr);
    std::vector<double> emg(frames * 3);
    for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t i = 0; i < frames; ++i)
            emg[c * frames + i] = value(static_cast<int>(c), i) * 1e-3;
    std::size_t dims[2] = {frames, 3};
    matvar_t* v = Mat_VarCreate("emg", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, emg.data(), 0);
    ASSERT_EQ(Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(v);
    double fs_hz = 1000.0;
    std::size_t one[2] = {1, 1};
    v = Mat_VarCreate("fs", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, one, &fs_hz, 0);
    ASSERT_EQ(Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(v);
    std::size_t cells[2] = {1, 3};
    matvar_t* labels = Mat_VarCreate("labels", MAT_C_CELL, MAT_T_CELL, 2, cells, nullptr, 0);
    const char* names[] = {"MF L5 L", "MF L5 R", "GLUT L5 R"};
    for (int i = 0; i < 3; ++i) {
        std::size_t len[2] = {1, std::strlen(names[i])};
        Mat_VarSetCell(
            labels, i,
            Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UTF8, 2, len, const_cast<char*>(names[i]), 0));
    }
    ASSERT_EQ(Mat_VarWrite(mat, labels, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(labels);
    char mv[] = "mV";
    std::size_t len[2] = {1, 2};
    v = Mat_VarCreate("units", MAT_C_CHAR, MAT_T_UTF8, 2, len, mv, 0);
    ASSERT_EQ(Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(v);
    Mat_Close(mat);
}

void expect_values(const std::vector<std::vector<float>>& x, std::size_t frames,
                   double tolerance_uv, std::vector<int> channels = {0, 1, 2}) {
    ASSERT_EQ(x.size(), channels.size());
    for (std::size_t k = 0; k < channels.size(); ++k) {
        ASSERT_EQ(x[k].size(), frames);
        for (std::size_t i = 0; i < frames; ++i)
            ASSERT_NEAR(x[k][i], value(channels[k], i), tolerance_uv)
                << "channel " << k << " sample " << i;
    }
}

} // namespace

TEST_F(Mat, V73WrittenByMatioWithCellLabelsAndUnits) {
    const auto path = dir_ / "v73.mat";
    write_v73(path, 1500);
    EXPECT_TRUE(acquisition::looks_like_mat(path));
    auto source = acquisition::open_file_source(path);
    const auto& info = source->info();
    EXPECT_EQ(info.format, "mat-v7.3");
    EXPECT_EQ(info.sample_rate_hz, 1000.0);
    EXPECT_EQ(info.total_frames, 1500u);
    ASSERT_EQ(info.channels.size(), 3u);
    EXPECT_EQ(info.channels[0].label, "MF L5 L");
    EXPECT_EQ(info.channels[2].label, "GLUT L5 R");
    EXPECT_TRUE(contains(info.notices,
                         "data: variable 'emg' (samples x channels), rate: variable 'fs', labels: "
                         "variable 'labels'"));
    // mV to µV, then one float rounding (values up to 30 µV: float steps of 2e-6 µV).
    expect_values(test::read_all(*source), 1500, 1e-5);
}

TEST_F(Mat, GenericInVoltsByTheRmsRuleWithCellLabels) {
    need_fixtures();
    if (IsSkipped())
        return;
    MatSource source(dir_ / "generic_volts.mat", {});
    const auto& info = source.info();
    EXPECT_EQ(info.format, "mat-v5");
    EXPECT_EQ(info.sample_rate_hz, 1000.0);
    ASSERT_EQ(info.channels.size(), 3u);
    EXPECT_EQ(info.channels[1].label, "ES L3 R");
    EXPECT_TRUE(contains(info.notices, "channel 'ES L3 L' has no unit and an RMS of"));
    EXPECT_TRUE(contains(info.notices, "read as volts"));
    expect_values(test::read_all(source), 2000, 1e-5);
}

TEST_F(Mat, GenericInt16SamplesByChannelsWithUnitsAndCharLabels) {
    need_fixtures();
    if (IsSkipped())
        return;
    MatSource source(dir_ / "generic_int16.mat", {});
    const auto& info = source.info();
    EXPECT_EQ(info.sample_rate_hz, 1000.0);
    ASSERT_EQ(info.channels.size(), 3u);
    EXPECT_EQ(info.channels[2].label, "c");
    EXPECT_TRUE(contains(info.notices, "data: variable 'recording' (samples x channels)"));
    expect_values(test::read_all(source), 2000, 0.5); // rounded to whole µV by the writer
}

TEST_F(Mat, OneChannelRowVectorWithPerChannelUnits) {
    need_fixtures();
    if (IsSkipped())
        return;
    MatSource source(dir_ / "one_channel.mat", {});
    ASSERT_EQ(source.info().channels.size(), 1u);
    EXPECT_EQ(source.info().channels[0].label, "ch1");
    expect_values(test::read_all(source), 2000, 1e-5, {0});
}

TEST_F(Mat, DelsysLayoutKeepsTheLargestEmgRateGroupAndCutsThePadding) {
    need_fixtures();
    if (IsSkipped())
        return;
    MatSource source(dir_ / "delsys.mat", {});
    const auto& info = source.info();
    EXPECT_EQ(info.sample_rate_hz, 1000.0);
    ASSERT_EQ(info.channels.size(), 3u);
    EXPECT_EQ(info.channels[0].label, "Left: EMG 2");
    EXPECT_EQ(info.channels[2].label, "Other: EMG 4");
    // 4000 columns, the 1 kHz channels' real samples end at 2000 (one ends in true zeros).
    EXPECT_EQ(info.total_frames, 2000u);
    EXPECT_TRUE(contains(info.notices,
                         "padded with zeros to 4000 samples; cut after the kept channels' last "
                         "sample: 2000 samples (2 s) read"));
    ASSERT_EQ(info.skipped.size(), 2u);
    EXPECT_EQ(info.skipped[0].label, "Left: ACC.X 2");
    EXPECT_EQ(info.skipped[0].reason, "not an EMG channel (no 'EMG' in its label)");
    EXPECT_EQ(info.skipped[1].label, "Fast: EMG 1");
    EXPECT_EQ(info.skipped[1].sample_rate_hz, 2000.0);
    EXPECT_EQ(info.skipped[1].reason, "sampled at 2000 Hz, the 3 EMG channels kept at 1000 Hz");
    auto x = test::read_all(source);
    for (std::size_t i = 1995; i < 2000; ++i) {
        EXPECT_EQ(x[1][i], 0.0f);
        x[1][i] = static_cast<float>(value(2, i)); // the fixture zeroed them
    }
    expect_values(x, 2000, 1e-5, {1, 2, 4});
}

TEST_F(Mat, ErrorsListTheVariablesWhenTheConventionDoesNotFit) {
    need_fixtures();
    if (IsSkipped())
        return;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"ambiguous.mat",
         ": several numeric matrices, none named as the data; variables: a (double 3x2000), b "
         "(double 3x2000), note (char 1x1)"},
        {"complex.mat",
         ": variable data (complex double 3x2000) is not a real 2-D numeric matrix; variables:"},
        {"square.mat", ": the data data (double 4x4) is square: cannot tell channels from samples"},
        {"bad_labels.mat",
         ": variable 'labels' has 2 labels, but the data data (double 3x2000) has no dimension"},
        {"bad_rates.mat", ": rate variable fs (double 1x2) has 2 values for 3 channels"},
        {"nan.mat", ": variable 'data', channel 'ch1', sample 8: nan is not a finite sample"},
    };
    for (const auto& [file, message] : cases) {
        const std::string error = open_error(dir_ / file);
        EXPECT_NE(error.find((dir_ / file).string() + message), std::string::npos) << error;
    }
    MatSource g(dir_ / "units_g.mat", {});
    ASSERT_EQ(g.info().skipped.size(), 1u);
    EXPECT_EQ(g.info().skipped[0].reason, "unit 'g' is not a voltage");
}

TEST_F(Mat, RateFromFsOnlyWhenTheFileHasNone) {
    need_fixtures();
    if (IsSkipped())
        return;
    // ambiguous.mat has no rate, but two matrices: write one with a single matrix and no rate.
    const auto path = dir_ / "norate.mat";
    {
        mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
        ASSERT_NE(mat, nullptr);
        std::vector<double> x(2 * 100, 1.0);
        for (std::size_t i = 0; i < x.size(); ++i)
            x[i] = static_cast<double>(i % 17);
        std::size_t dims[2] = {2, 100};
        matvar_t* v = Mat_VarCreate("signals", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, x.data(), 0);
        Mat_VarWrite(mat, v, MAT_COMPRESSION_ZLIB);
        Mat_VarFree(v);
        Mat_Close(mat);
    }
    EXPECT_NE(open_error(path).find(
                  "no sample-rate variable (fs, Fs, srate, sampling_rate, SampleRate): give --fs; "
                  "variables: signals (double 2x100)"),
              std::string::npos)
        << open_error(path);
    MatSource with_fs(path, {500.0});
    EXPECT_EQ(with_fs.info().sample_rate_hz, 500.0);
    EXPECT_EQ(with_fs.info().channels.size(), 2u);
    EXPECT_NE(open_error(dir_ / "generic_volts.mat", 500.0)
                  .find("--fs cannot override the rate in the file (variable "
                        "'srate')"),
              std::string::npos);
}

TEST_F(Mat, MalformedFilesGiveOneMessage) {
    need_fixtures();
    if (IsSkipped())
        return;
    std::ifstream in(dir_ / "delsys.mat", std::ios::binary);
    const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto write = [&](const std::string& name, const std::string& bytes) {
        std::ofstream(dir_ / name, std::ios::binary) << bytes;
        return dir_ / name;
    };
    for (const std::size_t keep : {std::size_t{0}, std::size_t{100}, std::size_t{128},
                                   std::size_t{200}, whole.size() / 2, whole.size() - 1}) {
        const auto path = write("cut.mat", whole.substr(0, keep));
        const std::string error = open_error(path);
        EXPECT_NE(error.find(path.string() + ": "), std::string::npos) << keep << ": " << error;
    }
    // A header and then garbage; text named .mat.
    std::string garbage = whole.substr(0, 128) + std::string(300, '\x5A');
    EXPECT_NE(open_error(write("garbage.mat", garbage)), "");
    EXPECT_NE(open_error(write("text.mat", "time_s,emg_uV\n0,1\n")).find("not a MATLAB .mat file"),
              std::string::npos);
    // By content, whatever the name.
    fs::copy_file(dir_ / "generic_volts.mat", dir_ / "renamed.bin",
                  fs::copy_options::overwrite_existing);
    EXPECT_EQ(acquisition::open_file_source(dir_ / "renamed.bin")->info().format, "mat-v5");
}

namespace {

// MATLAB v5 elements by hand (little-endian): a tag and its data padded to 8 bytes.
std::string le32(std::uint32_t v) {
    return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8 & 0xff),
            static_cast<char>(v >> 16 & 0xff), static_cast<char>(v >> 24 & 0xff)};
}
std::string element(std::uint32_t type, const std::string& data) {
    std::string e = le32(type) + le32(static_cast<std::uint32_t>(data.size())) + data;
    return e + std::string((8 - e.size() % 8) % 8, '\0');
}
// A miMATRIX of class `cls` (1 cell, 2 struct, 6 double), the given dimensions, named "v", and
// what follows its name.
std::string matrix(std::uint32_t cls, std::vector<std::uint32_t> dims, const std::string& rest) {
    std::string d;
    for (const auto n : dims)
        d += le32(n);
    return element(14, element(6, le32(cls) + le32(0)) + element(5, d) + le32(1 << 16 | 1) +
                           std::string("v\0\0\0", 4) + rest);
}
std::string compressed(const std::string& bytes) {
    uLongf size = compressBound(static_cast<uLong>(bytes.size()));
    std::string out(size, '\0');
    EXPECT_EQ(compress(reinterpret_cast<Bytef*>(out.data()), &size,
                       reinterpret_cast<const Bytef*>(bytes.data()),
                       static_cast<uLong>(bytes.size())),
              Z_OK);
    out.resize(size);
    return le32(15) + le32(static_cast<std::uint32_t>(out.size())) + out;
}
std::string v5_file(const std::string& elements) {
    std::string header = "MATLAB 5.0 MAT-file, written by test_mat";
    header.resize(124, ' ');
    return header + std::string("\x00\x01IM", 4) + elements;
}

} // namespace

// libmatio allocates what a header claims before reading what is behind it (a 1 kB file found by
// fuzz_mat cost it 8 GB): acquisition/mat_v5_layout refuses claims that do not fit, compressed
// or not, before matio sees the file; and a valid file of each shape is still read.
TEST_F(Mat, ClaimsLargerThanTheirElementAreRefusedBeforeMatioAllocates) {
    auto error = [&](const std::string& name, const std::string& bytes) {
        std::ofstream(dir_ / name, std::ios::binary) << v5_file(bytes);
        return open_error(dir_ / name);
    };
    const std::string empty_cell = le32(14) + le32(0);
    // A 65536 x 65536 cell (32 GB of pointers for matio) holding one empty cell.
    const std::string huge_cell = matrix(1, {65536, 65536}, empty_cell);
    EXPECT_THAT(error("cell.mat", huge_cell), HasSubstr("claims a cell of 4294967296 elements"));
    EXPECT_THAT(error("cellz.mat", compressed(huge_cell)),
                HasSubstr("claims a cell of 4294967296 elements"));
    // A cell whose one element, a double array, claims 10^10 values in 8 bytes.
    const std::string huge_double = matrix(6, {100000, 100000}, element(9, "12345678"));
    const std::string cell_of_huge = matrix(1, {1, 1}, huge_double);
    EXPECT_THAT(error("values.mat", compressed(cell_of_huge)),
                HasSubstr("claims an array of 10000000000 values"));
    // A cell of labels whose text claims 1.7 GB in a 56-byte matrix (found by fuzz_mat).
    const std::string label = matrix(4, {1, 7}, le32(16) + le32(1711407111) + "MF L1 L\0");
    EXPECT_THAT(error("label.mat", matrix(1, {1, 1}, label)),
                HasSubstr("claims 1711407111 bytes of data"));
    // An opaque object (MATLAB's string, table, datetime): no dimensions, but names, a class name
    // and its data, each inside it; one whose name claims 4 GB.
    const auto opaque = [&](const std::string& name_tag) {
        return element(14, element(6, le32(17) + le32(0)) + name_tag + element(1, "MCOS") +
                               element(1, "FileWrapper__") +
                               matrix(13, {1, 1}, element(13, le32(7))));
    };
    EXPECT_THAT(error("opaque.mat", opaque(le32(1) + le32(4294901766U) + "labels\0\0")),
                HasSubstr("claims 4294901766 bytes of data"));
    EXPECT_THAT(error("opaque_ok.mat", opaque(element(1, "labels"))), Not(HasSubstr("damaged")));
    // A function handle, whose parts matio reads from the variables after it (and leaks).
    EXPECT_THAT(error("handle.mat", matrix(16, {1, 1}, "")), HasSubstr("is a function handle"));
    // A 1 x 1 struct with 2^31 fields of one byte's name each.
    const std::string fields = le32(4 << 16 | 5) + le32(1) + le32(1) + le32(0x80000000);
    EXPECT_THAT(error("struct.mat", matrix(2, {1, 1}, fields)),
                HasSubstr("claims 2147483648 bytes of field names"));
    // Cells nested 40 deep.
    std::string nested = matrix(1, {0, 0}, "");
    for (int i = 0; i < 40; ++i)
        nested = matrix(1, {1, 1}, nested);
    EXPECT_THAT(error("nested.mat", compressed(nested)), HasSubstr("more than 32 deep"));
    // Bytes that do not inflate; a compressed matrix that ends before what it claims.
    EXPECT_THAT(error("garbage.mat", le32(15) + le32(16) + std::string(16, 'x')),
                HasSubstr("does not inflate"));
    const std::string data = matrix(6, {2, 1}, element(9, std::string("\x01\x02", 2)));
    const std::string cell = matrix(1, {1, 1}, data);
    EXPECT_THAT(error("short.mat", compressed(cell.substr(0, 60))),
                HasSubstr("(cut short, or it does not inflate)"));
    // The same shapes with claims that fit are left to matio and the reader.
    const std::string ok = error("ok.mat", compressed(cell));
    EXPECT_THAT(ok, Not(HasSubstr("damaged")));
    EXPECT_THAT(ok, HasSubstr("no numeric matrix"));
}

// HDF5 allocates what a superblock's driver information block claims before it checks the file's
// size (fuzz_mat: 2.3 GB for a 1 kB file): acquisition/hdf5_superblock refuses such a superblock,
// and one stating an end beyond the file's.
TEST_F(Mat, V73WithADamagedSuperblockIsRefusedBeforeHdf5Opens) {
    write_v73(dir_ / "whole73.mat", 2000);
    std::ifstream in(dir_ / "whole73.mat", std::ios::binary);
    const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_EQ(whole.substr(512, 4), "\x89HDF");
    auto error = [&](const std::string& name, const std::string& bytes) {
        std::ofstream(dir_ / name, std::ios::binary) << bytes;
        return open_error(dir_ / name);
    };
    EXPECT_THAT(error("half73.mat", whole.substr(0, whole.size() / 2)),
                HasSubstr("damaged HDF5 file: its superblock states the file ends at byte"));
    // Version 0: the driver information block's address is the fourth after byte 24.
    ASSERT_EQ(whole[512 + 8], '\0');
    std::string driver = whole;
    driver.replace(512 + 24 + 3 * 8, 8, std::string("\xde\0\0\0\0\0\0\0", 8));
    EXPECT_THAT(error("driver73.mat", driver), HasSubstr("has a driver information block"));
    EXPECT_EQ(error("again73.mat", whole), "");
}

// Issue #13, criterion 1: the Delsys .mat analysed natively gives the per-epoch MDF and RMS of the
// CSV route (the derived <muscle>_emg_<fs>Hz.csv files). Each channel is analysed alone in both
// routes (--channels), because with all four channels the mains detector hears the 50 Hz of
// 'Cinematica' and notches every channel, which a single-channel CSV does not: that is the
// analysis seeing more channels, not the reader.
TEST_F(Mat, DelsysRecordingEqualsTheCsvRoute) {
    const auto root = test::shared_datasets() / "delsys-trigno-paraspinal-pilot";
    if (!fs::exists(root / "data_delsys.mat"))
        GTEST_SKIP() << root << " is absent";
    MatSource source(root / "data_delsys.mat", {});
    const auto& info = source.info();
    EXPECT_EQ(info.format, "mat-v5");
    EXPECT_NEAR(info.sample_rate_hz, 34000.0 / 27.0, 1e-3); // Fs is stored in single precision
    EXPECT_EQ(info.total_frames, 10030u);
    ASSERT_EQ(info.channels.size(), 4u);
    EXPECT_EQ(info.skipped.size(), 25u); // 24 ACC/GYRO, and the 2148 Hz rectus abdominis
    EXPECT_TRUE(info.warnings.empty());

    const std::vector<std::pair<std::string, std::string>> channels = {
        {"Spinale: EMG 2", "spinale"},
        {"Tibiale Anteriore: EMG 3", "tibiale_anteriore"},
        {"Soleo: EMG 4", "soleo"},
        {"Cinematica: EMG 5", "cinematica"}};
    const auto work = dir_ / "delsys_route";
    fs::remove_all(work);
    double worst = 0.0;
    for (std::size_t c = 0; c < channels.size(); ++c) {
        const auto& [label, muscle] = channels[c];
        EXPECT_EQ(info.channels[c].label, label);
        std::string out;
        ASSERT_EQ(test::shell(std::string(SEMG_EXE) + " analyze " +
                                  test::quoted(root / "data_delsys.mat") + " --channels '" + label +
                                  "' -q --out " + test::quoted(work / (muscle + "-mat")),
                              &out),
                  0)
            << out;
        ASSERT_EQ(test::shell(std::string(SEMG_EXE) + " analyze " +
                                  test::quoted(root / (muscle + "_emg_1259Hz.csv")) + " -q --out " +
                                  test::quoted(work / (muscle + "-csv")),
                              &out),
                  0)
            << out;
        // The CSV holds the volts to 10 significant digits and its rate is fitted from
        // timestamps rounded to 1 µs; both routes make float µV samples that differ by at most
        // one float step. Measured: RMS equal as printed (7 digits), MDF differing by one unit in
        // the 7th digit (1e-5 Hz of 105 Hz, 1e-7 relative) in one epoch. The tolerance is ten
        // times that.
        worst = std::max(worst, test::compare_epochs(
                                    work / (muscle + "-mat") / "epochs.csv",
                                    work / (muscle + "-csv") / "epochs.csv",
                                    {"t_start_s", "t_end_s", "rms_uv", "mdf_hz", "mnf_hz"}, 1e-6));
    }
    std::printf("Delsys .mat vs CSV route: largest relative difference %.3g\n", worst);
}
