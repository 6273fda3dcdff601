#include "dsp/epoch_analyzer.hpp"
#include "dsp/iir.hpp"
#include "dsp/spectrum.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace semg;

namespace {

// Features of every epoch of one channel, without a band-pass.
std::vector<dsp::EpochFeatures> epoch_features(const std::vector<float>& x, double fs,
                                               dsp::EpochAnalyzer::Config config = {}) {
    dsp::EpochAnalyzer analyzer(config);
    analyzer.prepare({fs, 1});
    std::vector<dsp::EpochFeatures> out;
    auto block = test::make_block({x});
    analyzer.process(block.cref(), [&](const dsp::EpochFrame& f) { out.push_back(f.channels[0]); });
    return out;
}

} // namespace

TEST(Psd, MatchesScipyWelchAndPeriodogram) {
    const auto g = test::load_json(SEMG_SOURCE_DIR "/tests/dsp/golden/golden.json");
    for (const auto& c : g["psd"]) {
        const auto x64 = c["x"].get<std::vector<double>>();
        const std::vector<float> x(x64.begin(), x64.end());
        const auto expected = c["psd"].get<std::vector<double>>();
        dsp::PsdEstimator psd({dsp::psd_method_from_string(c["method"]), c["segment_s"]});
        psd.prepare(c["fs_hz"], x.size());
        ASSERT_EQ(psd.bins(), expected.size()) << c["method"];
        std::vector<double> p(psd.bins());
        psd.compute(x.data(), p);
        double peak = *std::max_element(expected.begin(), expected.end());
        for (std::size_t k = 0; k < p.size(); ++k)
            ASSERT_NEAR(p[k], expected[k], 1e-5 * peak) << c["method"] << " bin " << k;
    }
}

TEST(Features, SineGivesItsFrequencyWithinHalfABin) {
    for (double fs : {1000.0, 2048.0, 4096.0})
        for (auto method : {dsp::PsdMethod::Welch, dsp::PsdMethod::Periodogram})
            for (double f : {47.3, 80.0, 133.7, 251.0, 397.5}) {
                dsp::EpochAnalyzer::Config cfg;
                cfg.psd.method = method;
                const auto x = test::sine(f, 100.0, fs, static_cast<std::size_t>(3 * fs), 0.3);
                const auto epochs = epoch_features(x, fs, cfg);
                dsp::PsdEstimator probe(cfg.psd);
                probe.prepare(fs, static_cast<std::size_t>(fs));
                const double half_bin = probe.bin_hz() / 2.0;
                ASSERT_EQ(epochs.size(), 5u);
                for (const auto& e : epochs) {
                    EXPECT_NEAR(e.mdf_hz, f, half_bin) << "fs " << fs << " f " << f;
                    EXPECT_NEAR(e.mnf_hz, f, half_bin) << "fs " << fs << " f " << f;
                    EXPECT_NEAR(e.rms_uv, 100.0 / std::sqrt(2.0), 0.5);
                    EXPECT_NEAR(e.arv_uv, 200.0 / std::numbers::pi, 0.7);
                    EXPECT_NEAR(e.zcr_hz, 2.0 * f, 2.0);
                    EXPECT_EQ(e.quality, dsp::QualityOk);
                }
            }
}

TEST(Features, BandLimitedNoiseGivesBandCentre) {
    const double fs = 2048.0;
    for (auto [lo, hi] : {std::pair{60.0, 140.0}, std::pair{150.0, 250.0}}) {
        auto block =
            test::make_block({test::white_noise(static_cast<std::size_t>(60 * fs), 50.0, 11)});
        dsp::SosFilter band(dsp::butterworth(dsp::FilterKind::Bandpass, 8, lo, hi, fs));
        band.prepare({fs, 1});
        band.process(block.ref());
        const std::vector<float> x(block.channel(0), block.channel(0) + block.frames());
        double mdf = 0.0, mnf = 0.0;
        const auto epochs = epoch_features(x, fs);
        for (std::size_t i = 2; i < epochs.size(); ++i) {
            mdf += epochs[i].mdf_hz;
            mnf += epochs[i].mnf_hz;
        }
        mdf /= static_cast<double>(epochs.size() - 2);
        mnf /= static_cast<double>(epochs.size() - 2);
        EXPECT_NEAR(mdf, (lo + hi) / 2.0, 2.0) << lo << "-" << hi;
        EXPECT_NEAR(mnf, (lo + hi) / 2.0, 2.0) << lo << "-" << hi;
    }
}

TEST(Features, AmplitudeScalingLeavesFrequencyFeaturesUnchanged) {
    const double fs = 1000.0;
    const auto x = test::white_noise(5000, 20.0, 5);
    std::vector<float> y(x);
    for (auto& v : y)
        v *= 37.0f;
    const auto a = epoch_features(x, fs), b = epoch_features(y, fs);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_NEAR(a[i].mdf_hz, b[i].mdf_hz, 1e-6 * a[i].mdf_hz);
        EXPECT_NEAR(a[i].mnf_hz, b[i].mnf_hz, 1e-6 * a[i].mnf_hz);
        EXPECT_NEAR(a[i].fi_nsm5, b[i].fi_nsm5, 1e-5 * a[i].fi_nsm5);
        EXPECT_NEAR(b[i].rms_uv, 37.0 * a[i].rms_uv, 1e-5 * b[i].rms_uv);
    }
}

TEST(Features, ZeroEpochGivesNanAndFlagNeverZeroHz) {
    const double fs = 1000.0;
    std::vector<float> x = test::white_noise(3000, 20.0, 9);
    std::fill(x.begin() + 1000, x.begin() + 2000, 0.0f); // epoch [1 s, 2 s) is all zero
    const auto epochs = epoch_features(x, fs);
    ASSERT_EQ(epochs.size(), 5u);
    const auto& zero = epochs[2];
    EXPECT_TRUE(std::isnan(zero.mdf_hz));
    EXPECT_TRUE(std::isnan(zero.mnf_hz));
    EXPECT_TRUE(std::isnan(zero.fi_nsm5));
    EXPECT_EQ(zero.rms_uv, 0.0);
    EXPECT_EQ(zero.quality & dsp::EmptySpectrum, dsp::EmptySpectrum);
    EXPECT_EQ(dsp::quality_to_string(zero.quality), "empty_spectrum");
    EXPECT_EQ(epochs[0].quality, dsp::QualityOk);
    EXPECT_EQ(dsp::quality_to_string(epochs[0].quality), "ok");
}

TEST(Features, SpectralIndexMatchesDirectMoments) {
    const double fs = 2048.0;
    const auto x = test::white_noise(2048, 30.0, 21);
    dsp::PsdEstimator psd({});
    psd.prepare(fs, x.size());
    std::vector<double> p(psd.bins());
    psd.compute(x.data(), p);
    dsp::SpectralFeatures spectral({20.0, 450.0, 0.0, 1.0}, psd.bin_hz(), psd.bins());
    dsp::EpochFeatures f;
    spectral.compute(p, f);
    long double m_minus1 = 0, m5 = 0;
    for (std::size_t k = 0; k < p.size(); ++k) {
        const long double freq = static_cast<long double>(k) * psd.bin_hz();
        if (freq < 20 || freq > 450)
            continue;
        m_minus1 += p[k] / freq;
        m5 += p[k] * std::pow(freq, 5.0L);
    }
    const double expected = static_cast<double>(m_minus1 / m5);
    EXPECT_GT(expected, 1e-16);
    EXPECT_LT(expected, 1e-10);
    EXPECT_NEAR(f.fi_nsm5, expected, 1e-9 * expected);
}

TEST(Features, MainsExclusionRemovesLineFromMoments) {
    const double fs = 2048.0;
    auto x = test::white_noise(static_cast<std::size_t>(4 * fs), 5.0, 3);
    const auto line = test::sine(50.0, 200.0, fs, x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] += line[i];
    dsp::EpochAnalyzer::Config with;
    with.psd.method = dsp::PsdMethod::Periodogram;
    with.band.mains_hz = 50.0;
    with.band.exclude_hz = 2.0;
    dsp::EpochAnalyzer::Config without = with;
    without.band.mains_hz = 0.0;
    const auto a = epoch_features(x, fs, with), b = epoch_features(x, fs, without);
    // White noise 20-450 Hz has MNF 235 Hz; the 50 Hz line drags it far down unless excluded.
    EXPECT_NEAR(a[3].mnf_hz, 235.0, 10.0);
    EXPECT_LT(b[3].mnf_hz, 150.0);
}

TEST(EpochAnalyzer, EpochTimesFollowHopAndOverlap) {
    dsp::EpochAnalyzer::Config cfg;
    cfg.epoch_s = 0.5;
    cfg.overlap = 0.75;
    const auto x = test::white_noise(2000, 1.0, 1);
    dsp::EpochAnalyzer analyzer(cfg);
    analyzer.prepare({1000.0, 1});
    std::vector<double> starts;
    auto block = test::make_block({x});
    analyzer.process(block.cref(), [&](const dsp::EpochFrame& f) {
        starts.push_back(f.t_start_s);
        EXPECT_DOUBLE_EQ(f.t_end_s - f.t_start_s, 0.5);
    });
    ASSERT_EQ(starts.size(), 13u); // (2000 - 500) / 125 + 1
    for (std::size_t i = 0; i < starts.size(); ++i)
        EXPECT_DOUBLE_EQ(starts[i], 0.125 * static_cast<double>(i));
}

TEST(EpochAnalyzer, ChunkInvariant) {
    const double fs = 2048.0;
    auto block =
        test::make_block({test::white_noise(20000, 40.0, 1), test::white_noise(20000, 9.0, 2),
                          test::sine(90.0, 30.0, fs, 20000)});
    for (auto method : {dsp::PsdMethod::Welch, dsp::PsdMethod::Periodogram}) {
        dsp::EpochAnalyzer::Config cfg;
        cfg.psd.method = method;
        dsp::EpochAnalyzer one(cfg), many(cfg);
        one.prepare({fs, 3});
        many.prepare({fs, 3});
        std::vector<dsp::EpochFrame> a, b;
        one.process(block.cref(), [&](const dsp::EpochFrame& f) { a.push_back(f); });
        std::size_t offset = 0;
        for (std::size_t n : test::random_chunks(20000, 700, 4)) {
            many.process(block.cref().slice(offset, n),
                         [&](const dsp::EpochFrame& f) { b.push_back(f); });
            offset += n;
        }
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t e = 0; e < a.size(); ++e) {
            EXPECT_EQ(a[e].t_start_s, b[e].t_start_s);
            for (std::size_t c = 0; c < 3; ++c) {
                EXPECT_EQ(a[e].channels[c].mdf_hz, b[e].channels[c].mdf_hz);
                EXPECT_EQ(a[e].channels[c].mnf_hz, b[e].channels[c].mnf_hz);
                EXPECT_EQ(a[e].channels[c].rms_uv, b[e].channels[c].rms_uv);
                EXPECT_EQ(a[e].channels[c].fi_nsm5, b[e].channels[c].fi_nsm5);
            }
        }
    }
}

TEST(EpochAnalyzer, ProcessAllocatesNothing) {
    const double fs = 2048.0;
    dsp::EpochAnalyzer analyzer({});
    analyzer.prepare({fs, 16});
    dsp::Block block(16, 1000);
    for (std::size_t c = 0; c < 16; ++c) {
        const auto x = test::white_noise(1000, 10.0, static_cast<unsigned>(c));
        std::copy(x.begin(), x.end(), block.channel(c));
    }
    block.set_frames(1000);
    std::size_t epochs = 0;
    test::AllocationCounter counter;
    for (int i = 0; i < 20; ++i)
        analyzer.process(block.cref(), [&](const dsp::EpochFrame&) { ++epochs; });
    EXPECT_EQ(counter.count(), 0u);
    EXPECT_GT(epochs, 10u);
}

TEST(EpochAnalyzer, RejectsBadSettings) {
    EXPECT_THROW(dsp::EpochAnalyzer({0.0}), std::invalid_argument);
    dsp::EpochAnalyzer::Config cfg;
    cfg.overlap = 1.0;
    EXPECT_THROW(dsp::EpochAnalyzer{cfg}, std::invalid_argument);
    dsp::EpochAnalyzer tiny({0.001});
    EXPECT_THROW(tiny.prepare({1000.0, 1}), std::invalid_argument);
}
