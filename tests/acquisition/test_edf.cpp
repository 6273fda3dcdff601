// EDF/BDF writer and reader round trip: samples within one digital step, labels, annotations,
// rate, and the layout with an annotation signal (EDF+/BDF+) and without (EDF/BDF).
// Files a writer did not finish (record count -1 or lagging, partial last record).
#include "acquisition/edf.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

using namespace semg;
namespace fs = std::filesystem;

namespace {

fs::path test_dir() {
    const auto dir = fs::path(SEMG_BINARY_DIR) / "test_edf" / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string file_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Overwrites `text` (padded with spaces to `width`) at `offset` of the file.
void patch(const fs::path& path, std::size_t offset, std::string text, std::size_t width) {
    text.resize(width, ' ');
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
}

// A BDF+ of `seconds` whole data records from the project's writer, two channels at 1 kHz,
// with an annotation at 1.5 s. Returns the header and data record sizes in bytes.
struct Written {
    std::size_t header_bytes, record_bytes;
};
Written write_bdf(const fs::path& path, std::size_t seconds) {
    acquisition::EdfWriterConfig cfg;
    cfg.sample_rate_hz = 1000;
    cfg.labels = {"ES L3 L", "ES L3 R"};
    {
        acquisition::EdfWriter writer(path, cfg);
        const auto n = seconds * 1000;
        auto block = test::make_block({test::white_noise(n, 50.0, 1), test::white_noise(n, 50.0, 2)});
        writer.write(block.cref());
        writer.annotate({1.5, 2.0, "contraction"});
        writer.close();
    }
    const std::size_t header_bytes = 256 * (2 + 1 + 1); // two signals and EDFlib's annotation signal
    return {header_bytes, (fs::file_size(path) - header_bytes) / seconds};
}

std::size_t frames_read(acquisition::EdfSource& source) {
    dsp::Block block(source.info().channels.size(), 999);
    std::size_t frames = 0;
    while (const std::size_t n = source.read(block.capacity_ref())) frames += n;
    return frames;
}

} // namespace

TEST(Edf, RoundTripEveryFormat) {
    const auto dir = fs::path(SEMG_BINARY_DIR) / "test_edf";
    fs::create_directories(dir);
    const std::vector<std::pair<acquisition::EdfFormat, std::string>> formats = {
        {acquisition::EdfFormat::EdfPlus, "b.edf"}, {acquisition::EdfFormat::BdfPlus, "d.bdf"}};
    const auto x = test::white_noise(5 * 500 + 123, 300.0, 1), y = test::sine(40.0, 900.0, 500, x.size());
    for (const auto& [format, name] : formats) {
        acquisition::EdfWriterConfig cfg;
        cfg.format = format;
        cfg.sample_rate_hz = 500;
        cfg.labels = {"ES L3 L", "ES L3 R"};
        cfg.physical_min_uv = -2000.0;
        cfg.physical_max_uv = 2000.0;
        {
            acquisition::EdfWriter writer(dir / name, cfg);
            auto block = test::make_block({x, y});
            writer.write(block.cref().slice(0, 1000));
            writer.write(block.cref().slice(1000, x.size() - 1000));
            writer.annotate({1.5, 2.0, "contraction"});
            writer.close();
        }
        acquisition::EdfSource source(dir / name);
        const auto& info = source.info();
        ASSERT_EQ(info.channels.size(), 2u) << name;
        EXPECT_EQ(info.channels[1].label, "ES L3 R");
        EXPECT_DOUBLE_EQ(info.sample_rate_hz, 500.0);
        const double step = *info.channels[0].resolution_uv;
        EXPECT_NEAR(step, 4000.0 / (format == acquisition::EdfFormat::EdfPlus ? 65535.0 : 16777215.0), 1e-9);
        dsp::Block block(2, 777);
        std::size_t at = 0;
        while (const std::size_t n = source.read(block.capacity_ref())) {
            for (std::size_t i = 0; i < n && at + i < x.size(); ++i) {
                ASSERT_NEAR(block.channel(0)[i], x[at + i], step) << name << " sample " << at + i;
                ASSERT_NEAR(block.channel(1)[i], y[at + i], step) << name << " sample " << at + i;
            }
            at += n;
        }
        EXPECT_EQ(at, 6u * 500u) << name; // the last record is padded to a whole second
        {
            ASSERT_GE(info.annotations.size(), 1u) << name;
            EXPECT_EQ(info.annotations[0].text, "contraction");
            EXPECT_DOUBLE_EQ(info.annotations[0].onset_s, 1.5);
            EXPECT_DOUBLE_EQ(info.annotations[0].duration_s, 2.0);
        }
    }
}

// A killed capture leaves -1 as the record count and a partial last record: the complete records
// are read, with one warning, and the file is not touched.
TEST(Edf, RecordCountMinusOneIsTakenFromTheFileLength) {
    const auto path = test_dir() / "killed.bdf";
    const auto w = write_bdf(path, 10);
    patch(path, 236, "-1", 8);
    fs::resize_file(path, w.header_bytes + 7 * w.record_bytes + w.record_bytes / 2);
    const auto before = file_bytes(path);
    acquisition::EdfSource source(path);
    const auto& info = source.info();
    ASSERT_EQ(info.warnings.size(), 1u);
    EXPECT_NE(info.warnings[0].find("number of data records is -1"), std::string::npos) << info.warnings[0];
    EXPECT_NE(info.warnings[0].find("reading the 7 complete"), std::string::npos) << info.warnings[0];
    EXPECT_NE(info.warnings[0].find("partial last record"), std::string::npos) << info.warnings[0];
    EXPECT_EQ(info.total_frames, 7000u);
    EXPECT_EQ(frames_read(source), 7000u);
    ASSERT_EQ(info.annotations.size(), 1u); // EDFlib read them from the corrected view
    EXPECT_EQ(info.annotations[0].text, "contraction");
    EXPECT_EQ(file_bytes(path), before) << "the input was modified";
}

// A writer that updates the count every few seconds leaves a count that lags the data.
TEST(Edf, LaggingRecordCountReadsEveryCompleteRecord) {
    const auto path = test_dir() / "lagging.bdf";
    const auto w = write_bdf(path, 10);
    patch(path, 236, "3", 8);
    fs::resize_file(path, w.header_bytes + 9 * w.record_bytes + 100);
    acquisition::EdfSource source(path);
    ASSERT_EQ(source.info().warnings.size(), 1u);
    EXPECT_NE(source.info().warnings[0].find("is 3 in the header but the file holds 9 complete"), std::string::npos)
        << source.info().warnings[0];
    EXPECT_EQ(frames_read(source), 9000u);
}

TEST(Edf, PartialLastRecordAloneIsIgnoredWithAWarning) {
    const auto path = test_dir() / "tail.bdf";
    const auto w = write_bdf(path, 4);
    fs::resize_file(path, w.header_bytes + 4 * w.record_bytes + 10);
    acquisition::EdfSource source(path);
    ASSERT_EQ(source.info().warnings.size(), 1u);
    EXPECT_NE(source.info().warnings[0].find("partial data record of 10 bytes"), std::string::npos);
    EXPECT_EQ(frames_read(source), 4000u);
}

TEST(Edf, WholeFileGivesNoWarning) {
    const auto path = test_dir() / "whole.bdf";
    write_bdf(path, 4);
    acquisition::EdfSource source(path);
    EXPECT_TRUE(source.info().warnings.empty());
    EXPECT_EQ(frames_read(source), 4000u);
}
