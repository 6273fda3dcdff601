// The simulator's contamination types one by one, on a chunk of known samples, without the EMG.
#include "acquisition/simulator_contamination.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace {

using namespace semg::acquisition;
using namespace semg::acquisition::sim;

struct Chunk {
    explicit Chunk(std::size_t n, double fs = 1000.0, std::uint64_t first = 0) : t_s(n) {
        for (std::size_t i = 0; i < n; ++i)
            t_s[i] = static_cast<double>(first + i) / fs;
        clock = {t_s, first, fs};
    }
    std::vector<double> t_s;
    ChunkClock clock;
};

std::vector<ChannelModel> two_channels() {
    std::vector<ChannelModel> c(2);
    c[0].label = "ES L4 L";
    c[1].label = "ES L4 R";
    c[0].rms0_uv = 100.0;
    c[1].rms0_uv = 50.0;
    return c;
}

double rms(const std::vector<double>& x) {
    return std::sqrt(std::inner_product(x.begin(), x.end(), x.begin(), 0.0) /
                     static_cast<double>(x.size()));
}

TEST(Contamination, NoiseHasItsRms) {
    NoiseSpec spec;
    spec.baseline_uv = 3.0;
    spec.snr_db = 20.0;
    BaselineNoise baseline(spec, 7, 2);
    SnrNoise snr(spec, 7, two_channels());
    // 200000 samples: the standard error of the RMS of Gaussian noise is 1/sqrt(2n) = 0.16 %;
    // 1 % is six of them.
    std::vector<double> a(200000, 0.0), b(200000, 0.0);
    baseline.add(0, a);
    snr.add(1, b);
    EXPECT_NEAR(rms(a), 3.0, 3.0 * 0.01);
    EXPECT_NEAR(rms(b), 50.0 * 0.1, 5.0 * 0.01); // 20 dB below RMS0
    EXPECT_EQ((*snr.truth(two_channels()))["channels"][1]["rms_uv"], 50.0 * std::pow(10.0, -1.0));
}

TEST(Contamination, MotionPeaksAtItsAmplitudeOnItsChannelOnly) {
    MotionSpec spec;
    spec.time_s = 0.1;
    spec.duration_s = 0.2;
    spec.amplitude_uv = 250.0;
    const Motion motion(spec, 1);
    Chunk chunk(1000);
    std::vector<float> left(1000, 0.0f), right(1000, 0.0f);
    motion.apply(0, chunk.clock, left);
    motion.apply(1, chunk.clock, right);
    EXPECT_TRUE(std::all_of(left.begin(), left.end(), [](float v) { return v == 0.0f; }));
    const auto [lo, hi] = std::minmax_element(right.begin(), right.end());
    // 1 kHz sampling of a transient 200 ms long: the sampled peak is within 0.1 % of the true one.
    EXPECT_NEAR(*hi, 250.0, 0.25);
    EXPECT_NEAR(*lo, -250.0, 0.25);
    EXPECT_EQ(right[99], 0.0f);  // before time_s
    EXPECT_EQ(right[300], 0.0f); // after time_s + duration_s
}

TEST(Contamination, ClipAndFlatlineActFromTheirStart) {
    ClipSpec clip_spec;
    clip_spec.start_s = 0.5;
    const Clip clip(clip_spec, 0, 10.0);
    FlatlineSpec flat_spec;
    flat_spec.start_s = 0.25;
    flat_spec.value_uv = -3.0;
    const Flatline flatline(flat_spec, 1);
    Chunk chunk(1000);
    std::vector<float> a(1000, 40.0f), b(1000, 40.0f);
    clip.apply(0, chunk.clock, a);
    clip.apply(1, chunk.clock, b);
    EXPECT_EQ(a[499], 40.0f);
    EXPECT_EQ(a[500], 10.0f);
    EXPECT_EQ(b[999], 40.0f);
    flatline.apply(1, chunk.clock, b);
    EXPECT_EQ(b[249], 40.0f);
    EXPECT_EQ(b[250], -3.0f);
    EXPECT_EQ(clip.truth(two_channels())["channel"], "ES L4 L");
}

TEST(Contamination, MainsHarmonicsBelowNyquistOnly) {
    MainsSpec spec;
    spec.frequency_hz = 50.0;
    spec.amplitude_uv = 10.0;
    spec.harmonics = {1.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0}; // 550 Hz
    const Mains mains(spec, 3, 1);
    Chunk chunk(1000); // 1 s at 1 kHz: 550 Hz is above Nyquist and left out
    std::vector<float> y(1000, 0.0f);
    mains.apply(0, chunk.clock, y);
    std::vector<double> x(y.begin(), y.end());
    // Sines of 10 and 5 µV over whole periods: RMS sqrt((100 + 25)/2), float rounding aside.
    EXPECT_NEAR(rms(x), std::sqrt(62.5), 1e-4);
    const auto truth = mains.truth(1000.0);
    ASSERT_EQ(truth["harmonics"].size(), 3u);
    EXPECT_FALSE(truth["harmonics"][2]["present"].get<bool>());
}

TEST(Contamination, EcgBeatsAreReplayedForTheTruth) {
    EcgSpec spec;
    spec.enabled = true;
    Ecg ecg(spec, 11, 500);
    std::vector<double> r_peaks_seen;
    std::vector<double> x(500);
    for (std::uint64_t chunk_index = 0; chunk_index < 20; ++chunk_index) { // 10 s at 1 kHz
        Chunk chunk(500, 1000.0, chunk_index * 500);
        ecg.prepare(chunk.clock);
        std::fill(x.begin(), x.end(), 0.0);
        ecg.add(1.0, x);
        for (std::size_t i = 1; i + 1 < x.size(); ++i)
            if (x[i] > 0.9 && x[i] >= x[i - 1] && x[i] > x[i + 1])
                r_peaks_seen.push_back(chunk.t_s[i]);
    }
    const auto truth = ecg.truth(two_channels(), 10.0)["r_peak_times_s"];
    ASSERT_EQ(truth.size(), r_peaks_seen.size());
    for (std::size_t k = 0; k < r_peaks_seen.size(); ++k)
        EXPECT_NEAR(r_peaks_seen[k], truth[k].get<double>(), 0.001); // one sample
}

} // namespace
