// Streaming quality stages: QualityAnalyzer rules on analytic signals, MainsDetector, EcgCanceller
// and DelayLine; each is chunk-invariant and allocation-free in process().
#include "dsp/ecg.hpp"
#include "dsp/mains.hpp"
#include "dsp/quality.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>

using namespace semg;

namespace {

constexpr double kPi = std::numbers::pi;

// Runs a QualityAnalyzer over (raw, analysed) in chunks; returns the frames' flags and metrics.
struct QualityRun {
    std::vector<std::vector<std::uint32_t>> flags; // [epoch][channel]
    std::vector<std::vector<dsp::QualityMetrics>> metrics;
};

QualityRun run_quality(dsp::QualityAnalyzer& q, const dsp::Block& raw, const dsp::Block& analysed,
                       const std::vector<std::size_t>& chunks,
                       const dsp::EcgCanceller* ecg = nullptr) {
    QualityRun r;
    std::size_t offset = 0;
    for (std::size_t k : chunks) {
        q.process(raw.cref().slice(offset, k), analysed.cref().slice(offset, k), ecg,
                  [&](const dsp::QualityFrame& f) {
                      r.flags.push_back(f.flags);
                      r.metrics.push_back(f.metrics);
                  });
        offset += k;
    }
    return r;
}

dsp::QualityAnalyzer quality(double fs, std::size_t channels,
                             std::vector<dsp::ChannelLimits> limits = {}) {
    dsp::QualityAnalyzer q({});
    q.prepare({fs, channels}, std::move(limits));
    return q;
}

// Band-limited Gaussian "EMG": white noise through a 20-450 Hz band-pass.
std::vector<float> emg(std::size_t n, double rms, unsigned seed, double fs) {
    auto x = test::white_noise(n, 1.0, seed);
    dsp::SosFilter f(
        dsp::butterworth(dsp::FilterKind::Bandpass, 4, 20.0, std::min(450.0, 0.45 * fs), fs));
    f.prepare({fs, 1});
    f.process({x.data(), n, 1, n});
    double s = 0.0;
    for (float v : x)
        s += static_cast<double>(v) * v;
    const double scale = rms / std::sqrt(s / static_cast<double>(n));
    for (auto& v : x)
        v = static_cast<float>(v * scale);
    return x;
}

bool has(std::uint32_t flags, dsp::QualityFlag f) { return (flags & f) != 0; }

} // namespace

TEST(QualityFlags, NamesRoundTrip) {
    EXPECT_EQ(dsp::quality_to_string(0), "ok");
    EXPECT_EQ(dsp::quality_to_string(dsp::Flatline | dsp::Clipping), "flatline|clipping");
    for (std::uint32_t f = 0; f < (1u << dsp::kQualityFlagCount); f += 7)
        EXPECT_EQ(dsp::quality_from_string(dsp::quality_to_string(f)), f);
    EXPECT_THROW(dsp::quality_from_string("flatline|nonsense"), std::invalid_argument);
    EXPECT_EQ(dsp::kFitExcludingFlags & dsp::LowSampleRate, 0u);
}

TEST(QualityAnalyzer, CleanNoiseRaisesNothingAndEachRuleFiresOnItsOwnDefect) {
    const double fs = 2048.0;
    const std::size_t n = static_cast<std::size_t>(10 * fs);
    const auto clean = emg(n, 50.0, 1, fs);
    // Channel 0 clean; 1 flat from 5 s; 2 clipped at ±1.2 RMS; 3 a 120 µV 60 Hz line (+ harmonics)
    // in the analysed signal; 4 a large slow transient in the raw signal at 5 s.
    std::vector<std::vector<float>> raw(5, clean), analysed(5, clean);
    for (std::size_t c = 1; c < 5; ++c)
        raw[c] = analysed[c] = emg(n, 50.0, static_cast<unsigned>(c + 1), fs);
    for (std::size_t i = n / 2; i < n; ++i)
        raw[1][i] = 3.0f;
    for (auto& v : raw[2])
        v = std::clamp(v, -60.0f, 60.0f);
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / fs;
        analysed[3][i] += static_cast<float>(120.0 * std::sin(2 * kPi * 60 * t) +
                                             36.0 * std::sin(2 * kPi * 180 * t + 1.0));
        const double u = (t - 5.0) / 0.4;
        if (u >= 0 && u < 1)
            raw[4][i] += static_cast<float>(800.0 * std::sin(2 * kPi * u) *
                                            (1 - std::cos(2 * kPi * u)) / 2 / 0.6495);
    }
    auto q = quality(fs, 5);
    const auto r = run_quality(q, test::make_block(raw), test::make_block(analysed), {n});
    ASSERT_EQ(r.flags.size(), 19u);
    for (std::size_t e = 0; e < r.flags.size(); ++e) {
        const double t0 = 0.5 * static_cast<double>(e), t1 = t0 + 1.0;
        EXPECT_EQ(r.flags[e][0], 0u)
            << "clean channel, epoch " << e << ": " << dsp::quality_to_string(r.flags[e][0]);
        if (t0 >= 5.0) {
            EXPECT_TRUE(has(r.flags[e][1], dsp::Flatline)) << e;
        }
        if (t1 <= 5.0) {
            EXPECT_EQ(r.flags[e][1], 0u) << e;
        }
        EXPECT_FALSE(has(r.flags[e][1], dsp::Clipping)) << "a flatline is not clipping";
        EXPECT_EQ(r.flags[e][2], dsp::Clipping)
            << e << " clipped " << r.metrics[e][2].clipped_fraction;
        EXPECT_EQ(r.flags[e][3], dsp::MainsDominant)
            << e << " share " << r.metrics[e][3].mains_share;
        const bool transient = t0 < 6.0 && t1 > 5.0; // the 1 Hz high-pass rings on for a while
        if (transient && t0 <= 5.0 && t1 >= 5.4) {
            EXPECT_EQ(r.flags[e][4], dsp::MotionArtefact) << e;
        }
        if (!transient) {
            EXPECT_EQ(r.flags[e][4], 0u) << e << " lf " << r.metrics[e][4].lf_ratio;
        }
    }
    EXPECT_NEAR(r.metrics[0][3].mains_share,
                (120.0 * 120 + 36.0 * 36) / 2 / (50.0 * 50 + (120.0 * 120 + 36.0 * 36) / 2), 0.05);
    EXPECT_LT(r.metrics[0][0].mains_share, 0.1);
    EXPECT_LT(r.metrics[0][0].lf_ratio, 0.2);
}

TEST(QualityAnalyzer, ALoneToneAtAHarmonicIsNotMains) {
    const double fs = 2048.0;
    const std::size_t n = 4096;
    const auto x = emg(n, 30.0, 7, fs);
    std::vector<std::vector<float>> analysed(3, x);
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / fs;
        analysed[0][i] +=
            static_cast<float>(150.0 * std::sin(2 * kPi * 120 * t)); // tone at 2 x 60 Hz
        analysed[1][i] += static_cast<float>(150.0 * std::sin(2 * kPi * 60 * t)); // mains
        analysed[2][i] += static_cast<float>(150.0 * std::sin(2 * kPi * 150 * t) +
                                             90.0 * std::sin(2 * kPi * 50 * t));
    }
    auto q = quality(fs, 3);
    const auto r = run_quality(q, test::make_block({x, x, x}), test::make_block(analysed), {n});
    ASSERT_EQ(r.flags.size(), 3u);
    for (std::size_t e = 0; e < r.flags.size(); ++e) {
        EXPECT_EQ(r.flags[e][0], 0u) << r.metrics[e][0].mains_share;
        EXPECT_EQ(r.flags[e][1], dsp::MainsDominant);
        EXPECT_EQ(r.flags[e][2], dsp::MainsDominant)
            << "a strong third harmonic with its fundamental (>= 1/4 of its power) is mains";
    }
}

TEST(QualityAnalyzer, RailsGapsAndLowRate) {
    const double fs = 1000.0;
    const std::size_t n = 6000;
    auto x = emg(n, 20.0, 3, fs);
    // A file whose ADC range is ±100 µV (5 RMS): a burst at 3 s saturates it.
    for (std::size_t i = 3000; i < 3200; ++i)
        x[i] = std::clamp(8.0f * x[i], -100.0f, 100.0f);
    dsp::ChannelLimits rails{-100.0, 100.0, 0.01};
    auto q = quality(fs, 1, {rails});
    q.note_gap(4200, 12);
    const auto r = run_quality(q, test::make_block({x}), test::make_block({x}), {n});
    for (std::size_t e = 0; e < r.flags.size(); ++e) {
        const std::size_t first = e * 500, last = first + 1000;
        EXPECT_EQ(has(r.flags[e][0], dsp::Clipping), first < 3200 && last > 3000) << e;
        EXPECT_EQ(has(r.flags[e][0], dsp::SampleGap), first <= 4200 && last > 4200) << e;
        EXPECT_EQ(r.metrics[e][0].gaps, first <= 4200 && last > 4200 ? 1u : 0u);
        EXPECT_FALSE(has(r.flags[e][0], dsp::LowSampleRate));
    }
    // A slow board is the recording's, said once by the pipeline: no epoch carries low_rate
    // (issue 17: every epoch flagged made every card red while the fits said 0 flagged).
    const double slow = 500.0;
    auto low = quality(slow, 1);
    const auto y = emg(3000, 20.0, 4, slow);
    const auto rl = run_quality(low, test::make_block({y}), test::make_block({y}), {3000});
    ASSERT_FALSE(rl.flags.empty());
    for (const auto& f : rl.flags)
        EXPECT_FALSE(has(f[0], dsp::LowSampleRate));
}

TEST(QualityAnalyzer, ChunkInvariantAndAllocationFree) {
    const double fs = 2048.0;
    const std::size_t n = 20000;
    auto a = emg(n, 40.0, 5, fs), b = emg(n, 40.0, 6, fs);
    for (std::size_t i = 9000; i < n; ++i)
        b[i] = 0.0f;
    const auto raw = test::make_block({a, b}), analysed = test::make_block({b, a});
    auto one = quality(fs, 2), many = quality(fs, 2);
    const auto r1 = run_quality(one, raw, analysed, {n});
    const auto r2 = run_quality(many, raw, analysed, test::random_chunks(n, 700, 3));
    ASSERT_EQ(r1.flags.size(), r2.flags.size());
    for (std::size_t e = 0; e < r1.flags.size(); ++e)
        for (std::size_t c = 0; c < 2; ++c) {
            EXPECT_EQ(r1.flags[e][c], r2.flags[e][c]);
            const auto same = [](double x, double y) {
                return (std::isnan(x) && std::isnan(y)) || x == y;
            };
            EXPECT_TRUE(same(r1.metrics[e][c].lf_ratio, r2.metrics[e][c].lf_ratio));
            EXPECT_TRUE(same(r1.metrics[e][c].mains_share, r2.metrics[e][c].mains_share));
            EXPECT_EQ(r1.metrics[e][c].raw_sd_uv, r2.metrics[e][c].raw_sd_uv);
        }
    auto q = quality(fs, 2);
    std::size_t epochs = 0;
    test::AllocationCounter counter;
    for (std::size_t off = 0; off + 1000 <= n; off += 1000)
        q.process(raw.cref().slice(off, 1000), analysed.cref().slice(off, 1000), nullptr,
                  [&](const dsp::QualityFrame&) { ++epochs; });
    EXPECT_EQ(counter.count(), 0u);
    EXPECT_GT(epochs, 10u);
}

// ---------------------------------------------------------------------------------------------

namespace {
// Band-passed noise with a line at `mains_hz` (0: none) of amplitude `line_uv`, and optionally
// a pure tone elsewhere.
dsp::Block mains_signal(double fs, std::size_t n, double mains_hz, double line_uv,
                        double tone_hz = 0.0) {
    std::vector<std::vector<float>> ch;
    for (unsigned c = 0; c < 3; ++c) {
        auto x = emg(n, 50.0, 10 + c, fs);
        for (std::size_t i = 0; i < n; ++i) {
            const double t = static_cast<double>(i) / fs;
            if (mains_hz > 0 && c == 1)
                x[i] += static_cast<float>(line_uv * (std::sin(2 * kPi * mains_hz * t) +
                                                      0.3 * std::sin(6 * kPi * mains_hz * t)));
            if (tone_hz > 0)
                x[i] += static_cast<float>(200.0 * std::sin(2 * kPi * tone_hz * t));
        }
        ch.push_back(std::move(x));
    }
    return test::make_block(ch);
}
} // namespace

TEST(MainsDetector, FindsFiftySixtyOrNone) {
    const double fs = 2048.0;
    const std::size_t n = static_cast<std::size_t>(12 * fs);
    struct Case {
        double mains_hz, line_uv, tone_hz, expect;
    };
    // A 12 µV line under 50 µV of EMG is weak (about 4 dB over its neighbours in 1 Hz bins) but
    // found; tones at 100 and 150 Hz (harmonics of 50, not mains) are not.
    for (const Case k : {Case{50, 12, 0, 50}, Case{60, 12, 0, 60}, Case{0, 0, 0, 0},
                         Case{0, 0, 100, 0}, Case{0, 0, 150, 0}, Case{60, 40, 0, 60}}) {
        dsp::MainsDetector d({});
        d.prepare({fs, 3}, 450.0);
        d.process(mains_signal(fs, n, k.mains_hz, k.line_uv, k.tone_hz).cref());
        const auto r = d.report();
        EXPECT_TRUE(r.final);
        EXPECT_EQ(r.blocks, 10u);
        EXPECT_EQ(d.frequency_hz(), k.expect)
            << "line " << k.mains_hz << " Hz " << k.line_uv << " uV, tone " << k.tone_hz
            << ": 50 Hz " << r.fundamental_db[0] << " dB, 60 Hz " << r.fundamental_db[1]
            << " dB, threshold " << r.threshold_db;
        if (k.expect > 0) {
            EXPECT_EQ(r.channel[k.expect == 50 ? 0 : 1], 1u);
        }
        if (k.line_uv >= 40) {
            EXPECT_EQ(r.confidence, "high");
        }
    }
    EXPECT_GT(dsp::MainsDetector::threshold_db(1, 1e-4),
              dsp::MainsDetector::threshold_db(10, 1e-4));
    EXPECT_NEAR(dsp::MainsDetector::threshold_db(1, 1e-4), 10 * std::log10(std::log(1e4)), 1e-6);
}

TEST(MainsDetector, ChunkInvariantAndAllocationFree) {
    const double fs = 1000.0;
    const std::size_t n = 12000;
    const auto x = mains_signal(fs, n, 50, 15);
    dsp::MainsDetector one({}), many({});
    one.prepare({fs, 3}, 450.0);
    many.prepare({fs, 3}, 450.0);
    one.process(x.cref());
    std::size_t off = 0;
    for (std::size_t k : test::random_chunks(n, 900, 5)) {
        many.process(x.cref().slice(off, k));
        off += k;
    }
    EXPECT_EQ(one.report().fundamental_db, many.report().fundamental_db);
    EXPECT_EQ(one.frequency_hz(), 50.0);
    dsp::MainsDetector d({});
    d.prepare({fs, 3}, 450.0);
    test::AllocationCounter counter;
    for (std::size_t o = 0; o + 500 <= n; o += 500)
        d.process(x.cref().slice(o, 500));
    EXPECT_EQ(counter.count(), 0u);
}

// ---------------------------------------------------------------------------------------------

namespace {
// A QRS-like pulse train (R 7 ms, Q and S) at `bpm` on `channels` channels with gains, plus
// band-limited noise; beats[] receives the R times.
struct EcgData {
    dsp::Block raw, ecg_only;
    std::vector<double> r_times_s;
};
EcgData ecg_data(double fs, std::size_t n, double r_uv, double noise_uv, double bpm,
                 std::size_t channels) {
    std::vector<std::vector<float>> raw, only;
    std::vector<double> beats;
    std::mt19937_64 rng(9);
    std::normal_distribution<double> jitter(0.0, 0.03);
    for (double t = 0.4; t < static_cast<double>(n) / fs; t += 60.0 / bpm * (1.0 + jitter(rng)))
        beats.push_back(t);
    for (std::size_t c = 0; c < channels; ++c) {
        auto x = emg(n, noise_uv, 20 + static_cast<unsigned>(c), fs);
        std::vector<float> e(n, 0.0f);
        const double gain = c == 0 ? 1.0 : 0.5;
        for (double b : beats) {
            const auto lo = static_cast<std::size_t>(std::max(0.0, (b - 0.1) * fs));
            for (std::size_t i = lo; i < n && static_cast<double>(i) / fs < b + 0.1; ++i) {
                const double t = static_cast<double>(i) / fs - b;
                e[i] += static_cast<float>(
                    gain * r_uv *
                    (std::exp(-0.5 * t * t / 0.007 / 0.007) -
                     0.2 * std::exp(-0.5 * (t + 0.03) * (t + 0.03) / 0.006 / 0.006) -
                     0.3 * std::exp(-0.5 * (t - 0.03) * (t - 0.03) / 0.007 / 0.007)));
            }
        }
        for (std::size_t i = 0; i < n; ++i)
            x[i] += e[i];
        raw.push_back(std::move(x));
        only.push_back(std::move(e));
    }
    return {test::make_block(raw), test::make_block(only), beats};
}

// Band-pass 20-450 Hz, as the analysis does before the canceller.
dsp::Block bandpassed(const dsp::Block& in, double fs) {
    dsp::Block out = in;
    dsp::Bandpass bp({20.0, 450.0, 4});
    bp.prepare({fs, in.channels()});
    bp.process(out.ref());
    return out;
}

std::vector<float> run_canceller(dsp::EcgCanceller& e, const dsp::Block& detect,
                                 const dsp::Block& in, const std::vector<std::size_t>& chunks) {
    dsp::Block io = in;
    std::size_t off = 0;
    for (std::size_t k : chunks) {
        e.process(detect.cref().slice(off, k),
                  {io.channel(0) + off, k, io.channels(), io.capacity()});
        off += k;
    }
    return {io.channel(0), io.channel(0) + io.frames()};
}
} // namespace

TEST(EcgCanceller, DetectsBeatsAndRemovesThemWithAFixedDelay) {
    const double fs = 2048.0;
    const std::size_t n = static_cast<std::size_t>(40 * fs);
    const auto d = ecg_data(fs, n, 300.0, 60.0, 75.0, 3);
    const auto in = bandpassed(d.raw, fs), ecg_only = bandpassed(d.ecg_only, fs);
    dsp::EcgCanceller e({});
    e.prepare({fs, 3}, 3);
    const auto out = run_canceller(e, d.raw, in, {n});
    const auto rep = e.report();
    // Detected beats against the truth (after the 2 s of learning): all found, none extra.
    std::size_t found = 0, truth = 0;
    for (double r : d.r_times_s) {
        if (r < 3.0 || r > 39.0)
            continue;
        ++truth;
        bool hit = false;
        e.for_each_beat(static_cast<std::int64_t>((r - 0.05) * fs),
                        static_cast<std::int64_t>((r + 0.15) * fs),
                        [&](std::int64_t) { hit = true; });
        found += hit ? 1 : 0;
    }
    EXPECT_EQ(found, truth);
    EXPECT_LE(rep.beats, d.r_times_s.size());
    EXPECT_NEAR(rep.heart_rate_bpm, 75.0, 4.0);
    EXPECT_TRUE(rep.rhythm);
    EXPECT_TRUE(rep.subtracted[0]);
    // Output = input delayed by delay_frames() less the ECG: over the last 20 s the ECG energy
    // left is small against the ECG energy there was.
    const std::size_t delay = e.delay_frames();
    EXPECT_NEAR(static_cast<double>(delay) / fs, 0.42, 0.01);
    double before = 0.0, after = 0.0;
    for (std::size_t i = n / 2; i < n; ++i) {
        const double noise = in.channel(0)[i - delay] - ecg_only.channel(0)[i - delay];
        before +=
            static_cast<double>(ecg_only.channel(0)[i - delay]) * ecg_only.channel(0)[i - delay];
        after += (out[i] - noise) * (out[i] - noise);
    }
    // What is left is mostly the noise that the template and each beat's amplitude estimate
    // carry (a mean of 32 beats of EMG, the projection of the EMG on the template), not ECG.
    std::printf("ECG energy left after template subtraction: %.1f %%\n", 100.0 * after / before);
    EXPECT_LT(after, 0.25 * before);
}

TEST(EcgCanceller, NoiseAloneIsPassedThroughDelayed) {
    const double fs = 1000.0;
    const std::size_t n = 30000;
    const auto x = test::make_block({emg(n, 80.0, 31, fs), emg(n, 80.0, 32, fs)});
    dsp::EcgCanceller e({});
    e.prepare({fs, 2}, 2);
    const auto out = run_canceller(e, x, x, {n});
    EXPECT_FALSE(e.report().detected);
    EXPECT_FALSE(e.subtracting(0));
    EXPECT_FALSE(e.subtracting(1));
    const std::size_t delay = e.delay_frames();
    for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(out[i], i < delay ? 0.0f : x.channel(0)[i - delay]) << i;
}

// Detection only (the ECG score of --ecg off and highpass): the same beats and templates, and
// the output is the input with no delay.
TEST(EcgCanceller, WithoutSubtractionDetectsTheSameBeatsWithNoDelay) {
    const double fs = 2048.0;
    const std::size_t n = static_cast<std::size_t>(25 * fs);
    const auto d = ecg_data(fs, n, 250.0, 60.0, 70.0, 2);
    const auto in = bandpassed(d.raw, fs);
    dsp::EcgCanceller subtracting({}), detecting({.subtract = false});
    subtracting.prepare({fs, 2}, 2);
    detecting.prepare({fs, 2}, 2);
    run_canceller(subtracting, d.raw, in, {n});
    const auto out = run_canceller(detecting, d.raw, in, test::random_chunks(n, 1500, 3));
    EXPECT_EQ(detecting.delay_frames(), 0u);
    EXPECT_GT(subtracting.delay_frames(), 0u);
    for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(out[i], in.channel(0)[i]) << i;
    EXPECT_GT(detecting.beats(), 20u);
    EXPECT_EQ(detecting.beats(), subtracting.beats());
    EXPECT_TRUE(detecting.report().detected);
    EXPECT_FALSE(detecting.subtracting(0));
    for (std::size_t c = 0; c < 2; ++c) {
        const auto a = subtracting.beat_template(c), b = detecting.beat_template(c);
        EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin())) << c;
    }
}

TEST(EcgCanceller, ChunkInvariantAndAllocationFree) {
    const double fs = 2048.0;
    const std::size_t n = static_cast<std::size_t>(25 * fs);
    const auto d = ecg_data(fs, n, 250.0, 60.0, 70.0, 2);
    const auto in = bandpassed(d.raw, fs);
    dsp::EcgCanceller one({}), many({});
    one.prepare({fs, 2}, 2);
    many.prepare({fs, 2}, 2);
    const auto a = run_canceller(one, d.raw, in, {n});
    const auto b = run_canceller(many, d.raw, in, test::random_chunks(n, 1500, 7));
    EXPECT_EQ(a, b);
    EXPECT_EQ(one.beats(), many.beats());
    EXPECT_GT(one.beats(), 20u);
    dsp::EcgCanceller e({});
    e.prepare({fs, 2}, 2);
    dsp::Block io = in;
    test::AllocationCounter counter;
    for (std::size_t off = 0; off + 1024 <= n; off += 1024)
        e.process(d.raw.cref().slice(off, 1024), {io.channel(0) + off, 1024, 2, io.capacity()});
    EXPECT_EQ(counter.count(), 0u);
    EXPECT_GT(e.beats(), 20u);
}

TEST(DelayLine, DelaysEveryChannelChunkInvariantlyWithoutAllocating) {
    const std::size_t n = 5000;
    const auto x = test::make_block({test::white_noise(n, 1.0, 1), test::white_noise(n, 1.0, 2)});
    dsp::DelayLine a, b;
    a.prepare({1000.0, 2}, 37);
    b.prepare({1000.0, 2}, 37);
    dsp::Block ya = x, yb = x;
    a.process(ya.ref());
    std::size_t off = 0;
    test::AllocationCounter counter;
    for (std::size_t k : {1ul, 36ul, 37ul, 38ul, 1000ul, 3888ul}) {
        b.process({yb.channel(0) + off, k, 2, yb.capacity()});
        off += k;
    }
    EXPECT_EQ(counter.count(), 0u);
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(ya.channel(c)[i], i < 37 ? 0.0f : x.channel(c)[i - 37]);
            ASSERT_EQ(yb.channel(c)[i], ya.channel(c)[i]);
        }
}
