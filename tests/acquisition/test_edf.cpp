// EDF/BDF writer and reader round trip: samples within one digital step, labels, annotations,
// rate, and the layout with an annotation signal (EDF+/BDF+) and without (EDF/BDF).
#include "acquisition/edf.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

using namespace semg;
namespace fs = std::filesystem;

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
