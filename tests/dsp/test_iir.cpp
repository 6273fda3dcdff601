#include "dsp/iir.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace semg;

namespace {
const nlohmann::json& golden() {
    static const auto g = test::load_json(SEMG_SOURCE_DIR "/tests/dsp/golden/golden.json");
    return g;
}
dsp::FilterKind kind_of(const std::string& s) {
    if (s == "bandpass")
        return dsp::FilterKind::Bandpass;
    if (s == "highpass")
        return dsp::FilterKind::Highpass;
    return dsp::FilterKind::Lowpass;
}
} // namespace

TEST(Butterworth, MagnitudeMatchesScipy) {
    for (const auto& c : golden()["butterworth"]) {
        const auto edges = c["edges_hz"].get<std::vector<double>>();
        const double fs = c["fs_hz"];
        const auto sos = dsp::butterworth(kind_of(c["kind"]), c["order"], edges[0],
                                          edges.size() > 1 ? edges[1] : 0.0, fs);
        const auto freqs = c["freqs_hz"].get<std::vector<double>>();
        const auto mag = c["magnitude"].get<std::vector<double>>();
        for (std::size_t i = 0; i < freqs.size(); ++i)
            EXPECT_NEAR(dsp::magnitude_at(sos, freqs[i], fs), mag[i], 1e-9 + 1e-7 * mag[i])
                << c["kind"] << " order " << c["order"] << " at " << freqs[i] << " Hz";
    }
}

TEST(Butterworth, SosfiltOutputMatchesScipy) {
    const auto& g = golden()["sosfilt"];
    const double fs = g["fs_hz"];
    auto x = g["x"].get<std::vector<double>>();
    const auto y = g["y"].get<std::vector<double>>();
    std::vector<float> xf(x.begin(), x.end());
    auto block = test::make_block({xf});
    dsp::Bandpass bp({20.0, 450.0, 4});
    bp.prepare({fs, 1});
    bp.process(block.ref());
    for (std::size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(block.channel(0)[i], y[i], 1e-4 * (1.0 + std::abs(y[i]))) << "sample " << i;
}

TEST(Butterworth, RejectsEdgesOutsideNyquist) {
    EXPECT_THROW(dsp::butterworth(dsp::FilterKind::Bandpass, 4, 20, 600, 1000),
                 std::invalid_argument);
    EXPECT_THROW(dsp::butterworth(dsp::FilterKind::Bandpass, 4, 300, 200, 1000),
                 std::invalid_argument);
    EXPECT_THROW(dsp::butterworth(dsp::FilterKind::Highpass, 0, 30, 0, 1000),
                 std::invalid_argument);
}

TEST(Bandpass, ClampsUpperEdgeToPointFourFiveFs) {
    dsp::Bandpass bp({20.0, 450.0, 4});
    bp.prepare({500.0, 1});
    EXPECT_TRUE(bp.clamped());
    EXPECT_DOUBLE_EQ(bp.effective_high_hz(), 225.0);
    dsp::Bandpass ok({20.0, 450.0, 4});
    ok.prepare({2048.0, 1});
    EXPECT_FALSE(ok.clamped());
}

// Spectral mask on seeded white noise: pass-band gain near 1, stop-band well below.
TEST(Bandpass, SpectralMaskOnWhiteNoise) {
    const double fs = 2048.0;
    dsp::Bandpass bp({20.0, 450.0, 4});
    bp.prepare({fs, 1});
    const auto& sos = bp.filter().sections();
    for (double f : {60.0, 100.0, 200.0, 300.0})
        EXPECT_NEAR(dsp::magnitude_at(sos, f, fs), 1.0, 0.02) << f << " Hz";
    EXPECT_LT(dsp::magnitude_at(sos, 5.0, fs), 0.01);
    EXPECT_LT(dsp::magnitude_at(sos, 900.0, fs), 0.01);
    // Power of filtered white noise: band fraction of the input variance, within 5 %.
    auto block = test::make_block({test::white_noise(1 << 18, 1.0, 7)});
    bp.process(block.ref());
    double power = 0.0;
    for (std::size_t i = 4096; i < block.frames(); ++i)
        power += block.channel(0)[i] * block.channel(0)[i];
    power /= static_cast<double>(block.frames() - 4096);
    double expected = 0.0; // ∫|H|² df / (fs/2)
    for (int k = 1; k < 10240; ++k) {
        const double f = k * (fs / 2) / 10240;
        const double h = dsp::magnitude_at(sos, f, fs);
        expected += h * h / 10240;
    }
    EXPECT_NEAR(power, expected, 0.05 * expected);
}

TEST(Bandpass, ChunkInvariant) {
    const double fs = 1000.0;
    auto a = test::make_block({test::white_noise(5000, 30.0, 1), test::white_noise(5000, 10.0, 2)});
    auto b = a;
    dsp::Bandpass one({20.0, 450.0, 4}), many({20.0, 450.0, 4});
    one.prepare({fs, 2});
    many.prepare({fs, 2});
    one.process(a.ref());
    std::size_t offset = 0;
    for (std::size_t n : test::random_chunks(5000, 97, 3)) {
        dsp::BlockRef r = b.ref();
        many.process({r.data + offset, n, r.channels, r.stride});
        offset += n;
    }
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t i = 0; i < 5000; ++i)
            ASSERT_EQ(a.channel(c)[i], b.channel(c)[i]);
}

TEST(Bandpass, CopiesAreIndependentAndChannelsSeparate) {
    const double fs = 1000.0;
    dsp::Bandpass bp({20.0, 450.0, 4});
    bp.prepare({fs, 2});
    auto warm =
        test::make_block({test::white_noise(300, 10.0, 4), test::white_noise(300, 10.0, 5)});
    bp.process(warm.ref());
    dsp::Bandpass copy = bp;
    auto x = test::make_block({test::white_noise(500, 10.0, 6), std::vector<float>(500, 0.0f)});
    auto y = x;
    bp.process(x.ref());
    copy.process(y.ref());
    for (std::size_t i = 0; i < 500; ++i)
        ASSERT_EQ(x.channel(0)[i], y.channel(0)[i]);
    // Channel 1 got zeros: its output is the decay of its own state only, unaffected by channel 0.
    dsp::Bandpass solo({20.0, 450.0, 4});
    solo.prepare({fs, 2});
    auto z = test::make_block({std::vector<float>(300, 0.0f), test::white_noise(300, 10.0, 5)});
    solo.process(z.ref());
    auto w = test::make_block({test::white_noise(500, 99.0, 8), std::vector<float>(500, 0.0f)});
    solo.process(w.ref());
    for (std::size_t i = 0; i < 500; ++i)
        ASSERT_EQ(w.channel(1)[i], x.channel(1)[i]);
}

TEST(Bandpass, ProcessAllocatesNothing) {
    dsp::Bandpass bp({20.0, 450.0, 4});
    bp.prepare({2048.0, 16});
    dsp::Block block(16, 1024);
    block.set_frames(1024);
    test::AllocationCounter counter;
    for (int i = 0; i < 10; ++i)
        bp.process(block.ref());
    bp.reset();
    EXPECT_EQ(counter.count(), 0u);
}

// Every SIMD width (as far as this CPU runs it) gives, bit for bit, the one-channel transposed
// direct form II loop in double, for any channel count, cascade length and block split; a
// channel left out of a block keeps its state.
TEST(SosFilter, EveryLaneWidthEqualsTheScalarLoop) {
    const double fs = 2048.0;
    const std::size_t n = 3000;
    for (const int order : {1, 2, 4, 5}) {
        const auto sos = dsp::butterworth(dsp::FilterKind::Bandpass, order, 20.0, 450.0, fs);
        for (const std::size_t channels : {1u, 3u, 5u, 8u, 9u, 17u}) {
            std::vector<std::vector<float>> x(channels);
            for (std::size_t c = 0; c < channels; ++c)
                x[c] = test::white_noise(n, 10.0 + static_cast<double>(c),
                                         static_cast<unsigned>(40 + c));
            std::vector<std::vector<float>> expected = x;
            for (auto& ch : expected) {
                std::vector<std::array<double, 2>> z(sos.size(), {0.0, 0.0});
                for (float& v : ch) {
                    double s = v;
                    for (std::size_t k = 0; k < sos.size(); ++k) {
                        const double y = sos[k].b[0] * s + z[k][0];
                        z[k][0] = sos[k].b[1] * s - sos[k].a[1] * y + z[k][1];
                        z[k][1] = sos[k].b[2] * s - sos[k].a[2] * y;
                        s = y;
                    }
                    v = static_cast<float>(s);
                }
            }
            for (const std::size_t lanes : {2u, 4u, 8u}) {
                dsp::SosFilter f(sos);
                f.prepare({fs, channels}, lanes);
                auto block = test::make_block(x);
                std::size_t offset = 0;
                for (const std::size_t k :
                     test::random_chunks(n, 700, static_cast<unsigned>(channels + lanes))) {
                    f.process({block.channel(0) + offset, k, channels, block.capacity()});
                    offset += k;
                }
                for (std::size_t c = 0; c < channels; ++c)
                    for (std::size_t i = 0; i < n; ++i)
                        ASSERT_EQ(block.channel(c)[i], expected[c][i])
                            << "order " << order << ", " << channels << " channels, " << f.lanes()
                            << " lanes, channel " << c << ", sample " << i;
            }
        }
    }
    // The last channel sits out the first half: it then continues from a fresh state.
    const auto sos = dsp::butterworth(dsp::FilterKind::Bandpass, 4, 20.0, 450.0, fs);
    for (const std::size_t lanes : {2u, 4u, 8u}) {
        auto block = test::make_block({test::white_noise(n, 5.0, 1), test::white_noise(n, 5.0, 2),
                                       test::white_noise(n, 5.0, 3)});
        dsp::SosFilter both(sos), alone(sos);
        both.prepare({fs, 3}, lanes);
        alone.prepare({fs, 1}, lanes);
        both.process({block.channel(0), n / 2, 2, block.capacity()});
        auto copy =
            test::make_block({std::vector<float>(block.channel(2) + n / 2, block.channel(2) + n)});
        both.process({block.channel(0) + n / 2, n / 2, 3, block.capacity()});
        alone.process(copy.ref());
        for (std::size_t i = 0; i < n / 2; ++i)
            ASSERT_EQ(block.channel(2)[n / 2 + i], copy.channel(0)[i])
                << lanes << " lanes, sample " << i;
    }
}

TEST(Notch, CoefficientsMatchScipyIirnotch) {
    for (const auto& c : golden()["notch"]) {
        const auto s = dsp::notch(c["f0_hz"], c["bandwidth_hz"], c["fs_hz"]);
        const auto b = c["b"].get<std::vector<double>>(), a = c["a"].get<std::vector<double>>();
        for (std::size_t i = 0; i < 3; ++i) {
            EXPECT_NEAR(s.b[i], b[i], 1e-12) << "b" << i << " at " << c["f0_hz"] << " Hz";
            EXPECT_NEAR(s.a[i], a[i], 1e-12) << "a" << i << " at " << c["f0_hz"] << " Hz";
        }
    }
}

TEST(Notch, ZeroAtTheLineHalfPowerAtTheBandEdgesUnitGainAway) {
    // Analytic: |H(f0)| = 0; the −3 dB points lie at f0 ± bw/2, up to the notch's geometric (not
    // arithmetic) symmetry, which puts |H|² there at 1/2 ± 0.0025 (at 50 Hz, bw 1 Hz) with a mean
    // of 1/2 (bilinear warping adds < 1e-4 up to 450 Hz at 2048 Hz); |H| → 1 far from the line.
    const double fs = 2048.0;
    for (const double f0 : {50.0, 60.0, 450.0}) {
        const std::vector<dsp::Sos> s{dsp::notch(f0, 1.0, fs)};
        EXPECT_LT(dsp::magnitude_at(s, f0, fs), 1e-9);
        const double below = std::pow(dsp::magnitude_at(s, f0 - 0.5, fs), 2);
        const double above = std::pow(dsp::magnitude_at(s, f0 + 0.5, fs), 2);
        EXPECT_NEAR(below, 0.5, 3e-3) << f0;
        EXPECT_NEAR(above, 0.5, 3e-3) << f0;
        EXPECT_NEAR((below + above) / 2.0, 0.5, 1e-4) << f0;
        EXPECT_NEAR(dsp::magnitude_at(s, f0 + 20.0, fs), 1.0, 1e-3);
    }
    EXPECT_THROW(dsp::notch(0.0, 1.0, fs), std::invalid_argument);
    EXPECT_THROW(dsp::notch(1100.0, 1.0, fs), std::invalid_argument);
    EXPECT_THROW(dsp::notch(50.0, 0.0, fs), std::invalid_argument);
}

TEST(MainsComb, NotchesEveryHarmonicUpToTheBandEdge) {
    EXPECT_EQ(dsp::mains_comb(50.0, 1.0, 450.0, 2048.0).size(), 9u);
    EXPECT_EQ(dsp::mains_comb(60.0, 1.0, 450.0, 2048.0).size(), 7u);
    EXPECT_EQ(dsp::mains_comb(60.0, 1.0, 450.0, 250.0).size(), 2u); // below fs/2 only
    EXPECT_TRUE(dsp::mains_comb(0.0, 1.0, 450.0, 2048.0).empty());
    const auto comb = dsp::mains_comb(50.0, 1.0, 450.0, 2048.0);
    for (int k = 1; k <= 9; ++k)
        EXPECT_LT(dsp::magnitude_at(comb, 50.0 * k, 2048.0), 1e-9) << k;
}
