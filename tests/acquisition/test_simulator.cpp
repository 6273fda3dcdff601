// The simulator against its own ground truth: model spectrum, fatigue recovered by the project's
// analyser, amplitude and asymmetry, contamination, determinism, streaming, scenarios, CLI.
#include "acquisition/edf.hpp"
#include "acquisition/simulator.hpp"
#include "dsp/epoch_analyzer.hpp"
#include "dsp/iir.hpp"
#include "dsp/spectrum.hpp"
#include "pipeline/fatigue_fit.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/error_stats.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <numbers>
#include <numeric>

using namespace semg;
using acquisition::Scenario;
using acquisition::Simulator;
namespace fs = std::filesystem;

namespace {

// The Shwedyk formula written out again, so that the model code is checked, not trusted.
double shwedyk(double f, double fl, double fh) {
    return std::pow(fh, 4) * f * f / ((f * f + fl * fl) * std::pow(f * f + fh * fh, 2));
}

// Median frequency of a sampled spectrum by the cumulative sum on a fine grid (Simpson-free).
double mdf_of(double fl, double fh, double lo, double hi) {
    const double df = 0.005;
    std::vector<double> cum;
    double total = 0.0;
    const auto n = static_cast<std::size_t>((hi - lo) / df);
    for (std::size_t k = 0; k < n; ++k) {
        total += shwedyk(lo + df * (static_cast<double>(k) + 0.5), fl, fh);
        cum.push_back(total);
    }
    const auto it = std::lower_bound(cum.begin(), cum.end(), total / 2);
    return lo + df * (static_cast<double>(it - cum.begin()) + 0.5);
}

Scenario quiet_scenario(double fs, std::uint64_t seed) {
    Scenario s;
    s.seed = seed;
    s.sample_rate_hz = fs;
    s.noise.baseline_uv = 0.0;
    return s;
}

// Every sample of a source, channel by channel.
std::vector<std::vector<float>> read_all(acquisition::Source& src,
                                         std::size_t block_frames = 4096) {
    const auto& info = src.info();
    std::vector<std::vector<float>> out(info.channels.size());
    dsp::Block block(info.channels.size(), block_frames);
    while (const std::size_t n = src.read(block.capacity_ref())) {
        for (std::size_t c = 0; c < out.size(); ++c)
            out[c].insert(out[c].end(), block.channel(c), block.channel(c) + n);
    }
    return out;
}

double rms(const float* x, std::size_t n) {
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i)
        s += static_cast<double>(x[i]) * x[i];
    return std::sqrt(s / static_cast<double>(n));
}

double correlation(const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        ab += static_cast<double>(a[i]) * b[i];
        aa += static_cast<double>(a[i]) * a[i];
        bb += static_cast<double>(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

struct Run {
    int exit_code;
    std::string output;
};

Run run_semg(const std::string& args) {
    const std::string cmd = std::string(SEMG_EXE) + " " + args + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe))
        out.append(buf.data(), n);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path test_dir() {
    auto dir = fs::path(SEMG_BINARY_DIR) / "test_simulator" /
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

} // namespace

// ---- model
// ----------------------------------------------------------------------------------------

TEST(SimulatorModel, InitialShapeHasTheRequestedBandMedian) {
    Scenario s = quiet_scenario(2048, 1);
    s.pairs = acquisition::default_pairs(8);
    const Simulator sim(s);
    for (const auto& ch : sim.channels()) {
        EXPECT_NEAR(ch.fh0_hz / ch.fl0_hz, s.model.fh_over_fl, 1e-12);
        EXPECT_NEAR(mdf_of(ch.fl0_hz, ch.fh0_hz, 20.0, 450.0), ch.mdf0_hz, 0.02) << ch.label;
        EXPECT_NEAR(acquisition::model_mdf_hz(ch.fl0_hz, ch.fh0_hz, 20, 450), ch.mdf0_hz, 0.02);
    }
}

TEST(SimulatorModel, DefaultsArePhysiological) {
    const Simulator sim(Scenario{});
    ASSERT_EQ(sim.channels().size(), 8u);
    const std::vector<std::string> expected{"LT L1 L", "LT L1 R", "IL L3 L", "IL L3 R",
                                            "ES L4 L", "ES L4 R", "MF L5 L", "MF L5 R"};
    for (std::size_t c = 0; c < expected.size(); ++c) {
        const auto& ch = sim.channels()[c];
        EXPECT_EQ(ch.label, expected[c]);
        EXPECT_EQ(sim.info().channels[c].label, expected[c]);
        EXPECT_GE(ch.mdf0_hz, 60.0);
        EXPECT_LE(ch.mdf0_hz, 90.0);
        EXPECT_LE(ch.mdf_slope_pct_per_s, -0.1);
        EXPECT_GE(ch.mdf_slope_pct_per_s, -0.6);
        EXPECT_GE(ch.rms0_uv, 50.0);
        EXPECT_LE(ch.rms0_uv, 150.0);
    }
    EXPECT_DOUBLE_EQ(sim.info().sample_rate_hz, 2048.0);
    ASSERT_EQ(sim.contractions().size(), 1u);
    EXPECT_DOUBLE_EQ(sim.contractions()[0].start_s, 5.0);
    EXPECT_DOUBLE_EQ(sim.contractions()[0].end_s, 95.0);
    EXPECT_EQ(*sim.info().total_frames, 100u * 2048u);
}

// Welch PSD averaged over a long stationary contraction vs the Shwedyk shape.
TEST(Simulator, SpectrumMatchesModelShape) {
    Scenario s = quiet_scenario(2048, 7);
    s.pairs = acquisition::default_pairs(1);
    s.pairs[0].mdf_slope_pct_per_s = {0.0, 0.0};
    s.pairs[0].rms_slope_pct_per_s = {0.0, 0.0};
    s.protocol.rest_before_s = 0.0;
    s.protocol.rest_after_s = 0.0;
    s.protocol.hold_s = 240.0;
    Simulator sim(s);
    const auto x = read_all(sim);
    const double fs = s.sample_rate_hz;

    const auto epoch = static_cast<std::size_t>(8 * fs);
    dsp::PsdEstimator psd({dsp::PsdMethod::Welch, 0.5});
    psd.prepare(fs, epoch);
    for (std::size_t c = 0; c < 2; ++c) {
        const auto& ch = sim.channels()[c];
        std::vector<double> mean(psd.bins(), 0.0), one(psd.bins());
        std::size_t epochs = 0;
        const auto second = static_cast<std::size_t>(fs);
        for (std::size_t first = second; first + epoch + second <= x[c].size();
             first += epoch, ++epochs) {
            psd.compute(x[c].data() + first, one);
            for (std::size_t k = 0; k < one.size(); ++k)
                mean[k] += one[k];
        }
        ASSERT_GE(epochs, 25u);
        // Both normalised to unit power over 20-450 Hz.
        std::vector<double> f, meas, model;
        for (std::size_t k = 0; k < mean.size(); ++k) {
            const double fk = static_cast<double>(k) * psd.bin_hz();
            if (fk < 20.0 || fk > 450.0)
                continue;
            f.push_back(fk);
            meas.push_back(mean[k]);
            model.push_back(shwedyk(fk, ch.fl0_hz, ch.fh0_hz));
        }
        const double sm = std::accumulate(meas.begin(), meas.end(), 0.0);
        const double sn = std::accumulate(model.begin(), model.end(), 0.0);
        double sq = 0.0, worst = 0.0;
        for (std::size_t k = 0; k < f.size(); ++k) {
            const double rel = (meas[k] / sm) / (model[k] / sn) - 1.0;
            sq += rel * rel;
            worst = std::max(worst, std::abs(rel));
        }
        const double rms_rel = std::sqrt(sq / static_cast<double>(f.size()));
        EXPECT_LT(rms_rel, 0.05) << ch.label;
        EXPECT_LT(worst, 0.20) << ch.label;

        dsp::SpectralFeatures spectral({20.0, 450.0}, psd.bin_hz(), psd.bins());
        dsp::EpochFeatures feat;
        for (auto& v : mean)
            v /= static_cast<double>(epochs);
        spectral.compute(mean, feat);
        EXPECT_NEAR(feat.mdf_hz, ch.mdf0_hz, 2.0) << ch.label;
        // Total variance of the EMG component equals RMS₀² (no fatigue, no noise).
        const double r = rms(x[c].data() + static_cast<std::size_t>(fs),
                             x[c].size() - 2 * static_cast<std::size_t>(fs));
        EXPECT_NEAR(r / ch.rms0_uv, 1.0, 0.02) << ch.label;
        std::cout << "[ spectrum ] " << ch.label << ": relative PSD error rms " << rms_rel
                  << ", max " << worst << "; MDF " << feat.mdf_hz << " Hz (model " << ch.mdf0_hz
                  << "); RMS " << r << " uV (model " << ch.rms0_uv << ")\n";
    }
}

// ---- truth recovered by the project's analyser
// ----------------------------------------------------

// The tolerances are the estimator's own error on these clean recordings, measured with this test
// (5 seeds x 3 rates x 4 channels = 60 fits; the printed "[ truth ] all" line): the initial MDF
// (IMF) of a fit is off by a bias of +0.85 Hz (the band-pass edge at 20 Hz and the Welch
// segments' smoothing, as in test_validation.cpp) with a scatter of 0.75 Hz between single fits;
// the slope by +0.007 %/s with a scatter of 0.013 %/s. The mean over the 60 fits must sit at the
// bias within 3 standard errors (sd / sqrt(60): 0.29 Hz, 0.005 %/s), so a shift of MDF by half a
// Welch bin (2 Hz) fails; each single fit within 4 sd of the bias (3 Hz, 0.052 %/s), a fit gone
// wrong (the chance that one of 60 normal errors lies beyond 4 sd is 0.4 %).
TEST(Simulator, FatigueTruthRecoveredByEpochAnalyzer) {
    constexpr double kImfBiasHz = 0.85, kImfSdHz = 0.75;
    constexpr double kSlopeBiasPctPerS = 0.007, kSlopeSdPctPerS = 0.013;
    const std::array<double, 3> rates{1000.0, 2048.0, 4096.0};
    double worst_imf = 0.0, worst_slope = 0.0;
    test::ErrorStats imf_error, slope_error;
    for (double fs : rates) {
        double sum_imf = 0.0, sum_slope = 0.0;
        int fitted = 0;
        for (std::uint64_t seed = 1; seed <= 5; ++seed) {
            Scenario s;
            s.seed = seed;
            s.sample_rate_hz = fs;
            s.protocol.hold_s = 120.0;
            // Two pairs, ES L4 and MF L5: four channels with MDF slopes from -0.18 to -0.45 %/s.
            const auto defaults = acquisition::default_pairs(4);
            s.pairs = {defaults[2], defaults[3]};
            Simulator sim(s);
            const auto& info = sim.info();
            const auto hold = sim.contractions().at(0);

            dsp::Bandpass bandpass({20.0, 450.0, 4});
            bandpass.prepare(info.spec());
            dsp::EpochAnalyzer analyzer({});
            analyzer.prepare(info.spec());
            std::vector<pipeline::LinearFitAccumulator> fits(info.channels.size());
            dsp::Block block(info.channels.size(), 1000);
            while (const std::size_t n = sim.read(block.capacity_ref())) {
                block.set_frames(n);
                bandpass.process(block.ref());
                analyzer.process(block.cref(), [&](const dsp::EpochFrame& e) {
                    if (e.t_start_s < hold.start_s || e.t_end_s > hold.end_s)
                        return;
                    const double x = 0.5 * (e.t_start_s + e.t_end_s) - hold.start_s;
                    for (std::size_t c = 0; c < fits.size(); ++c)
                        fits[c].add(x, e.channels[c].mdf_hz);
                });
            }
            for (std::size_t c = 0; c < fits.size(); ++c) {
                const auto fit = fits[c].result();
                const auto& ch = sim.channels()[c];
                EXPECT_GE(fit.n, 230u);
                EXPECT_NEAR(fit.initial - ch.mdf0_hz, kImfBiasHz, 4.0 * kImfSdHz)
                    << ch.label << " fs " << fs << " seed " << seed;
                EXPECT_NEAR(fit.slope_pct_per_s - ch.mdf_slope_pct_per_s, kSlopeBiasPctPerS,
                            4.0 * kSlopeSdPctPerS)
                    << ch.label << " fs " << fs << " seed " << seed;
                imf_error.add(fit.initial - ch.mdf0_hz);
                slope_error.add(fit.slope_pct_per_s - ch.mdf_slope_pct_per_s);
                worst_imf = std::max(worst_imf, std::abs(fit.initial - ch.mdf0_hz));
                worst_slope =
                    std::max(worst_slope, std::abs(fit.slope_pct_per_s - ch.mdf_slope_pct_per_s));
                sum_imf += fit.initial - ch.mdf0_hz;
                sum_slope += fit.slope_pct_per_s - ch.mdf_slope_pct_per_s;
                ++fitted;
            }
        }
        std::cout << "[ truth ] " << fs << " Hz: mean IMF error " << sum_imf / fitted
                  << " Hz, mean slope error " << sum_slope / fitted << " %/s over " << fitted
                  << " fits\n";
    }
    std::cout << "[ truth ] 5 seeds x 3 rates x 4 channels: max |IMF error| " << worst_imf
              << " Hz, max |slope error| " << worst_slope << " %/s\n";
    std::cout << "[ truth ] all: IMF error " << imf_error << " Hz; slope error " << slope_error
              << " %/s\n";
    EXPECT_NEAR(imf_error.mean(), kImfBiasHz, test::three_standard_errors(kImfSdHz, imf_error.n()));
    EXPECT_NEAR(slope_error.mean(), kSlopeBiasPctPerS,
                test::three_standard_errors(kSlopeSdPctPerS, slope_error.n()));
    RecordProperty("max_imf_error_hz", std::to_string(worst_imf));
    RecordProperty("max_slope_error_pct_per_s", std::to_string(worst_slope));
}

TEST(Simulator, AmplitudeAndAsymmetryMatchTruth) {
    // RMS of Gaussian noise with this spectrum (equivalent bandwidth ~150 Hz) over T seconds has a
    // relative SD of about 0.5/sqrt(150·T): 1.8 % at 5 s, 0.4 % over the plateau (AI SD ~0.3).
    Scenario s = quiet_scenario(2048, 3);
    s.protocol.hold_s = 120.0;
    Simulator sim(s);
    const auto truth = sim.truth();
    const auto x = read_all(sim);
    const double fs = s.sample_rate_hz;
    const auto hold = sim.contractions()[0];
    const double ramp = s.protocol.ramp_s;
    // Per 5 s window on the plateau: measured RMS vs truth at the window centre.
    const auto w = static_cast<std::size_t>(5 * fs);
    std::vector<double> plateau_ss(x.size(), 0.0), ratio_sum(x.size(), 0.0);
    std::size_t plateau_n = 0, windows = 0;
    for (auto first = static_cast<std::size_t>((hold.start_s + ramp) * fs);
         first + w <= static_cast<std::size_t>((hold.end_s - ramp) * fs); first += w, ++windows) {
        const double tc = (static_cast<double>(first) + 0.5 * static_cast<double>(w)) / fs;
        for (std::size_t c = 0; c < x.size(); ++c) {
            const double ratio = rms(x[c].data() + first, w) / sim.emg_rms_uv(c, tc);
            EXPECT_NEAR(ratio, 1.0, 0.08) << sim.channels()[c].label << " t " << tc;
            ratio_sum[c] += ratio;
            for (std::size_t i = first; i < first + w; ++i)
                plateau_ss[c] += static_cast<double>(x[c][i]) * x[c][i];
        }
        plateau_n += w;
    }
    ASSERT_GE(windows, 23u);
    for (std::size_t c = 0; c < x.size(); ++c)
        EXPECT_NEAR(ratio_sum[c] / static_cast<double>(windows), 1.0, 0.015)
            << sim.channels()[c].label;
    for (std::size_t p = 0; p < truth["pairs"].size(); ++p) {
        const double l = std::sqrt(plateau_ss[2 * p] / static_cast<double>(plateau_n));
        const double r = std::sqrt(plateau_ss[2 * p + 1] / static_cast<double>(plateau_n));
        const double ai = 100.0 * (l - r) / (l + r);
        const double ai_truth = truth["pairs"][p]["contractions"][0]["ai_plateau_pct"];
        EXPECT_NEAR(ai, ai_truth, 1.2) << truth["pairs"][p]["left"];
        EXPECT_NEAR(l, truth["channels"][2 * p]["contractions"][0]["rms_plateau_uv"].get<double>(),
                    0.02 * l);
        // The initial AI follows from the requested ratio.
        const double q = s.pairs[p].lr_ratio;
        EXPECT_NEAR(truth["pairs"][p]["ai_pct"].get<double>(), 100.0 * (q - 1) / (q + 1), 1e-9);
        std::cout << "[ amplitude ] " << truth["pairs"][p]["left"].get<std::string>()
                  << " AI measured " << ai << " %, truth " << ai_truth << " %\n";
    }
    // Rest: the EMG is off.
    EXPECT_LT(rms(x[0].data(), static_cast<std::size_t>(4 * fs)), 0.01);
}

// ---- contamination ------------------------------------------------------------------------------

TEST(Simulator, EcgIsStrongerOnTheLeftAndHigherUp) {
    Scenario s = quiet_scenario(2048, 5);
    s.ecg.enabled = true;
    s.ecg.ratio = 1.0;
    s.protocol.hold_s = 10.0;
    Simulator sim(s);
    const auto truth = sim.truth();
    const auto x = read_all(sim);
    const nlohmann::json* ecg = nullptr;
    for (const auto& c : truth["contamination"])
        if (c["type"] == "ecg")
            ecg = &c;
    ASSERT_NE(ecg, nullptr);
    const auto beats = (*ecg)["r_peak_times_s"].get<std::vector<double>>();
    ASSERT_GT(beats.size(), 20u);
    const auto& peaks = (*ecg)["channels"];
    // Left above right, and L1 above L5.
    EXPECT_GT(peaks[0]["r_peak_uv"].get<double>(), peaks[1]["r_peak_uv"].get<double>());
    EXPECT_GT(peaks[0]["r_peak_uv"].get<double>(), peaks[6]["r_peak_uv"].get<double>());
    // In the rest before the hold the signal is the ECG alone: its peaks sit at the listed times.
    std::size_t checked = 0;
    for (double b : beats) {
        if (b < 0.5 || b > 4.5)
            continue;
        const auto i = static_cast<std::size_t>(std::llround(b * s.sample_rate_hz));
        for (std::size_t c = 0; c < x.size(); ++c) {
            const double expected = peaks[c]["r_peak_uv"];
            EXPECT_NEAR(x[c][i], expected, 0.03 * expected) << "beat " << b << " channel " << c;
        }
        ++checked;
    }
    EXPECT_GE(checked, 3u);
}

TEST(Simulator, MainsHasTheRequestedAmplitude) {
    Scenario s = quiet_scenario(2000, 2);
    s.mains.frequency_hz = 60.0;
    s.mains.amplitude_uv = 12.0;
    s.mains.harmonics = {1.0, 0.0, 0.5};
    s.protocol.hold_s = 5.0;
    Simulator sim(s);
    const auto x = read_all(sim);
    const double fs = s.sample_rate_hz;
    // In the rest, project onto the fundamental and the third harmonic (whole cycles).
    const auto n = static_cast<std::size_t>(4 * fs);
    for (auto [f, a] : {std::pair{60.0, 12.0}, std::pair{180.0, 6.0}, std::pair{120.0, 0.0}}) {
        double sc = 0.0, ss = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double th = 2.0 * std::numbers::pi * f * static_cast<double>(i) / fs;
            sc += x[3][i] * std::cos(th);
            ss += x[3][i] * std::sin(th);
        }
        EXPECT_NEAR(2.0 * std::hypot(sc, ss) / static_cast<double>(n), a, 0.02 * 12.0)
            << f << " Hz";
    }
}

TEST(Simulator, NoiseFlatlineAndClipFollowTheSettings) {
    Scenario s = quiet_scenario(2048, 9);
    s.protocol.hold_s = 20.0;
    s.noise.baseline_uv = 2.0;
    s.noise.snr_db = 20.0;
    s.flatlines.push_back({"IL L3 R", 12.0, 0.0});
    s.clips.push_back({"5", 10.0, 60.0});
    Simulator sim(s);
    const auto x = read_all(sim);
    const double fs = s.sample_rate_hz;
    // Rest: baseline and SNR noise only.
    for (std::size_t c = 0; c < x.size(); ++c) {
        const double expected = std::hypot(2.0, sim.channels()[c].rms0_uv * 0.1);
        EXPECT_NEAR(rms(x[c].data(), static_cast<std::size_t>(4 * fs)) / expected, 1.0, 0.05);
    }
    const auto t12 = static_cast<std::size_t>(12 * fs);
    for (std::size_t i = t12; i < x[3].size(); ++i)
        ASSERT_EQ(x[3][i], 0.0f) << i;
    EXPECT_GT(rms(x[3].data() + t12 - 1000, 1000), 10.0);
    const auto t10 = static_cast<std::size_t>(10 * fs);
    std::size_t at_rail = 0;
    for (std::size_t i = t10; i < static_cast<std::size_t>(20 * fs); ++i) {
        ASSERT_LE(std::abs(x[5][i]), 60.0f);
        at_rail += std::abs(x[5][i]) == 60.0f;
    }
    EXPECT_GT(at_rail, static_cast<std::size_t>(fs)); // R ES L4 has RMS₀ ~98 uV: clips often
    std::size_t before = 0;
    for (std::size_t i = t10 - static_cast<std::size_t>(4 * fs); i < t10; ++i)
        before += std::abs(x[5][i]) > 60.0f;
    EXPECT_GT(before, 100u);
    const auto truth = sim.truth();
    std::vector<std::string> types;
    for (const auto& c : truth["contamination"])
        types.push_back(c["type"]);
    EXPECT_EQ(types,
              (std::vector<std::string>{"baseline_noise", "white_noise", "clip", "flatline"}));
}

TEST(Simulator, WanderAndMotionAreLowFrequency) {
    Scenario s = quiet_scenario(1024, 4);
    s.protocol.hold_s = 10.0;
    s.wander.amplitude_uv = 30.0;
    s.motion.push_back({2.0, 0.4, 200.0, "0"});
    Simulator sim(s);
    const auto x = read_all(sim);
    const auto truth = sim.truth();
    // In the rest (no EMG, no noise) channel 1 is exactly the wander listed in the truth.
    const nlohmann::json* wander = nullptr;
    for (const auto& c : truth["contamination"])
        if (c["type"] == "baseline_wander")
            wander = &c;
    ASSERT_NE(wander, nullptr);
    const auto& comps = (*wander)["channels"][1]["components"];
    ASSERT_EQ(comps.size(), 3u);
    double ss = 0.0;
    for (std::size_t i = 0; i < std::size_t{5} * 1024; ++i) {
        const double t = static_cast<double>(i) / 1024.0;
        double expected = 0.0;
        for (const auto& k : comps) {
            const double f = k["frequency_hz"];
            EXPECT_LE(f, 0.5);
            expected += k["amplitude_uv"].get<double>() *
                        std::sin(2.0 * std::numbers::pi * f * t + k["phase_rad"].get<double>());
        }
        ASSERT_NEAR(x[1][i], expected, 1e-3) << i;
        ss += expected * expected;
    }
    EXPECT_GT(std::sqrt(ss / (5 * 1024)), 1.0);
    // Motion only on channel 0 near 2.0-2.4 s, peak ~200 uV over the wander.
    float peak = 0.0f;
    for (std::size_t i = 2048; i < 2048 + 410; ++i)
        peak = std::max(peak, std::abs(x[0][i] - x[0][2048]));
    EXPECT_GT(peak, 150.0f);
    EXPECT_LT(peak, 300.0f);
}

// ---- determinism and streaming ------------------------------------------------------------------

TEST(Simulator, ChunkInvariantAndResettable) {
    Scenario s = quiet_scenario(2048, 11);
    s.protocol.hold_s = 4.0;
    s.protocol.rest_before_s = 1.0;
    s.protocol.rest_after_s = 1.0;
    s.ecg.enabled = true;
    s.mains.frequency_hz = 50.0;
    Simulator a(s);
    const auto whole = read_all(a, 1 << 16);
    a.reset();
    const std::size_t total = *a.info().total_frames;
    ASSERT_EQ(whole[0].size(), total);
    dsp::Block block(a.info().channels.size(), 997);
    std::size_t at = 0;
    for (std::size_t size : test::random_chunks(total, 997, 3)) {
        dsp::BlockRef ref = block.capacity_ref();
        ref.frames = size;
        ASSERT_EQ(a.read(ref), size);
        for (std::size_t c = 0; c < whole.size(); ++c)
            for (std::size_t i = 0; i < size; ++i)
                ASSERT_EQ(block.channel(c)[i], whole[c][at + i])
                    << "channel " << c << " frame " << at + i;
        at += size;
    }
    EXPECT_EQ(a.read(block.capacity_ref()), 0u);
}

TEST(Simulator, SameSeedSameSamplesOtherSeedOtherSignal) {
    // Correlation of independent signals has an SD of about 1/sqrt(2·150 Hz·T) = 0.01 here.
    Scenario s = quiet_scenario(2048, 21);
    s.protocol.hold_s = 20.0;
    Simulator a(s), b(s);
    s.seed = 22;
    Simulator c(s);
    const auto xa = read_all(a), xb = read_all(b), xc = read_all(c);
    EXPECT_EQ(xa, xb);
    for (std::size_t ch = 0; ch < xa.size(); ++ch)
        EXPECT_LT(std::abs(correlation(xa[ch], xc[ch])), 0.05);
    // Channels are independent of each other.
    EXPECT_LT(std::abs(correlation(xa[0], xa[1])), 0.05);
}

TEST(Simulator, ReadAllocatesNothingAndLongRecordingsStream) {
    Scenario s;
    s.pairs = acquisition::default_pairs(8);
    for (auto& p : s.pairs) {
        p.mdf_slope_pct_per_s = {-0.005, -0.005};
        p.rms_slope_pct_per_s = {0.01, 0.01};
    }
    s.protocol.hold_s = 3590.0; // 60 min with the rests: never held in memory
    s.ecg.enabled = true;
    s.mains.frequency_hz = 50.0;
    s.wander.amplitude_uv = 10.0;
    Simulator sim(s);
    EXPECT_EQ(*sim.info().total_frames, 3600ull * 2048ull);
    EXPECT_EQ(sim.info().channels.size(), 16u);
    dsp::Block block(16, 2048);
    sim.read(block.capacity_ref()); // the first chunk
    test::AllocationCounter counter;
    for (int i = 0; i < 20; ++i)
        ASSERT_EQ(sim.read(block.capacity_ref()), 2048u);
    EXPECT_EQ(counter.count(), 0u);
}

// ---- scenarios
// ------------------------------------------------------------------------------------

TEST(Scenario, TomlSetsEverything) {
    const auto s = acquisition::scenario_from_toml(R"(
seed = 42
sample_rate_hz = 1000
[protocol]
rest_s = 3
hold_s = 30
contractions = 2
ramp_s = 0.25
[model]
fh_over_fl = 2.5
[[pair]]
muscle = "ES"
level = "L3"
mdf0_hz = [70, 74]
mdf_slope_pct_per_s = -0.4
rms0_uv = 90
lr_ratio = 1.3
[noise]
snr_db = 25
[ecg]
ratio = 0.8
[mains]
frequency_hz = 50
[[clip]]
channel = "ES L3 R"
start_s = 10
[[flatline]]
channel = 0
start_s = 20
)");
    EXPECT_EQ(s.seed, 42u);
    EXPECT_EQ(s.sample_rate_hz, 1000.0);
    EXPECT_EQ(s.protocol.rest_before_s, 3.0);
    EXPECT_EQ(s.protocol.rest_after_s, 3.0);
    EXPECT_EQ(s.protocol.contractions, 2);
    ASSERT_EQ(s.pairs.size(), 1u);
    EXPECT_EQ(s.pairs[0].mdf0_hz[1], 74.0);
    EXPECT_EQ(s.pairs[0].mdf_slope_pct_per_s[1], -0.4);
    EXPECT_EQ(*s.noise.snr_db, 25.0);
    EXPECT_TRUE(s.ecg.enabled);
    EXPECT_EQ(s.mains.frequency_hz, 50.0);
    ASSERT_EQ(s.clips.size(), 1u);
    EXPECT_EQ(s.flatlines[0].channel, "0");
    Simulator sim(s);
    ASSERT_EQ(sim.contractions().size(), 2u);
    EXPECT_DOUBLE_EQ(sim.contractions()[1].start_s, 3.0 + 30.0 + 3.0);
    EXPECT_DOUBLE_EQ(sim.scenario().duration_s(), 3 + 30 + 3 + 30 + 3);
    const auto truth = sim.truth();
    EXPECT_EQ(truth["scenario"]["seed"], 42);
    EXPECT_EQ(truth["contractions"].size(), 2u);
    EXPECT_EQ(truth["channels"][1]["label"], "ES L3 R");
    EXPECT_DOUBLE_EQ(truth["channels"][1]["mdf_slope_hz_per_s"].get<double>(), -0.4 * 74 / 100);
}

TEST(Scenario, RejectsMistakesWithTheirName) {
    auto message = [](const std::string& toml) {
        try {
            Simulator sim(acquisition::scenario_from_toml(toml, "t.toml"));
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message("sedd = 1").find("sedd"), std::string::npos);
    EXPECT_NE(message("[protocol]\nhold_s = \"long\"").find("protocol.hold_s"), std::string::npos);
    EXPECT_NE(message("[protocol]\nhold_s = 600").find("outside the analysis band"),
              std::string::npos);
    EXPECT_NE(message("[[clip]]\nchannel = \"XX L9 L\"").find("no channel 'XX L9 L'"),
              std::string::npos);
    EXPECT_NE(message("[mains]\nfrequency_hz = 55").find("50 or 60"), std::string::npos);
    EXPECT_NE(message("seed = [").find("t.toml"), std::string::npos);
    EXPECT_NE(message("pairs = 9").find("1 to 8"), std::string::npos);
}

// ---- the command
// ----------------------------------------------------------------------------------

TEST(SimulateCommand, SameSeedByteIdenticalBdfOtherSeedDiffers) {
    const auto dir = test_dir();
    const std::string opts = " --hold-s 10 --rest-s 2 --ecg-ratio 0.3 --mains 50 -q";
    ASSERT_EQ(run_semg("simulate " + (dir / "a.bdf").string() + opts + " --seed 5").exit_code, 0);
    ASSERT_EQ(run_semg("simulate " + (dir / "b.bdf").string() + opts + " --seed 5").exit_code, 0);
    ASSERT_EQ(run_semg("simulate " + (dir / "c.bdf").string() + opts + " --seed 6").exit_code, 0);
    const auto a = file_bytes(dir / "a.bdf");
    ASSERT_GT(a.size(), 14u * 2048u * 8u * 3u);
    EXPECT_TRUE(a == file_bytes(dir / "b.bdf"));
    EXPECT_TRUE(file_bytes(dir / "a.bdf.truth.json") == file_bytes(dir / "b.bdf.truth.json"));
    EXPECT_FALSE(a == file_bytes(dir / "c.bdf"));

    // Read back: same samples as the simulator (to the BDF step), contraction annotated.
    acquisition::EdfSource file(dir / "a.bdf");
    EXPECT_EQ(file.info().format, "bdf+");
    const auto truth = test::load_json(dir / "a.bdf.truth.json");
    Scenario s;
    s.seed = 5;
    s.protocol.hold_s = 10;
    s.protocol.rest_before_s = s.protocol.rest_between_s = s.protocol.rest_after_s = 2;
    s.ecg.enabled = true;
    s.ecg.ratio = 0.3;
    s.mains.frequency_hz = 50;
    Simulator sim(s);
    EXPECT_EQ(truth, sim.truth());
    const auto x = read_all(file), y = read_all(sim);
    ASSERT_EQ(x.size(), y.size());
    const double step = *file.info().channels[0].resolution_uv;
    for (std::size_t c = 0; c < x.size(); ++c) {
        ASSERT_EQ(x[c].size(), y[c].size());
        for (std::size_t i = 0; i < x[c].size(); ++i)
            ASSERT_NEAR(x[c][i], y[c][i], step) << c << " " << i;
    }
    bool annotated = false;
    for (const auto& a2 : file.info().annotations)
        annotated |= a2.text == "contraction" && std::abs(a2.onset_s - 2.0) < 1e-3 &&
                     std::abs(a2.duration_s - 10.0) < 1e-3;
    EXPECT_TRUE(annotated);
    acquisition::EdfSource other(dir / "c.bdf");
    const auto z = read_all(other);
    EXPECT_LT(std::abs(correlation(x[0], z[0])), 0.1);
}

TEST(SimulateCommand, WritesEdfAndCsv) {
    const auto dir = test_dir();
    ASSERT_EQ(
        run_semg("simulate " + (dir / "r.edf").string() + " --hold-s 6 --rest-s 1 --pairs 2 -q")
            .exit_code,
        0);
    acquisition::EdfSource edf(dir / "r.edf");
    EXPECT_EQ(edf.info().format, "edf+");
    EXPECT_EQ(edf.info().channels.size(), 4u);
    const auto r = run_semg("simulate " + (dir / "r.csv").string() +
                            " --hold-s 6 --rest-s 1 --pairs 2 --fs 1000");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("r.csv.truth.json"), std::string::npos);
    std::ifstream in(dir / "r.csv");
    std::string header, row1, row2;
    std::getline(in, header);
    std::getline(in, row1);
    std::getline(in, row2);
    EXPECT_EQ(header, "time_s,LT L1 L_uV,LT L1 R_uV,IL L3 L_uV,IL L3 R_uV");
    EXPECT_EQ(row2.substr(0, 6), "0.001,");
    std::size_t rows = 2;
    for (std::string line; std::getline(in, line);)
        ++rows;
    EXPECT_EQ(rows, 8000u);
    const auto truth = test::load_json(dir / "r.csv.truth.json");
    EXPECT_EQ(truth["sample_rate_hz"], 1000.0);
    EXPECT_EQ(truth["channels"].size(), 4u);
}

TEST(SimulateCommand, FailsCleanlyWithoutLeavingFiles) {
    const auto dir = test_dir();
    auto expect_failure =
        [&](const std::string& args, const std::string& message) {
            const auto r = run_semg("simulate " + args);
            EXPECT_EQ(r.exit_code, 2)
                << args; // a setting that cannot be simulated: usage (tools/exit_codes.hpp)
            EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
            EXPECT_TRUE(fs::is_empty(dir)) << args;
        };
    expect_failure((dir / "x.bdf").string() + " --fs 2048.5", "whole-number sample rate");
    // A rate the analysis cannot take is refused at once, not simulated for hours (1e12 Hz).
    expect_failure((dir / "x.bdf").string() + " --fs 1e12 --hold-s 10",
                   "sample_rate_hz must be in");
    expect_failure((dir / "x.wav").string(), "unknown output type");
    expect_failure((dir / "x.bdf").string() + " --clip 'ES L9 L:3'", "no channel 'ES L9 L'");
    expect_failure((dir / "x.bdf").string() + " --flatline 3", "expected CH:T");
    expect_failure((dir / "x.bdf").string() + " --mains 55", "50 or 60");
    expect_failure((dir / "x.bdf").string() + " --scenario " + (dir / "missing.toml").string(),
                   "cannot open");
}

// Issue 17: slow boards. Below 1 kHz `semg simulate` maps its default pairs into the band
// (acquisition::pair_in_band): at 1 kHz and above nothing changes; below, MDF₀ lies inside the
// band and fatigue still lowers it; and the analyser measures the mapped truth.
TEST(PairInBand, IdentityAtFullBandAndInsideTheBandBelow) {
    acquisition::ModelSpec model;
    const auto pair = acquisition::default_pairs(1)[0];
    const auto same = acquisition::pair_in_band(pair, model, 450.0);
    EXPECT_EQ(same.mdf0_hz, pair.mdf0_hz);
    EXPECT_EQ(same.mdf_slope_pct_per_s, pair.mdf_slope_pct_per_s);
    for (const double high : {112.5, 56.25}) {
        const auto narrow = acquisition::pair_in_band(pair, model, high);
        for (std::size_t side = 0; side < 2; ++side) {
            EXPECT_GT(narrow.mdf0_hz[side], model.band_low_hz + 5.0) << high;
            EXPECT_LT(narrow.mdf0_hz[side], high - 5.0) << high;
            EXPECT_LT(narrow.mdf0_hz[side], pair.mdf0_hz[side]) << high;
            EXPECT_LT(narrow.mdf_slope_pct_per_s[side], 0.0) << high;
            // Compression seen through a narrower window moves the MDF less.
            EXPECT_GT(narrow.mdf_slope_pct_per_s[side], pair.mdf_slope_pct_per_s[side]) << high;
        }
    }
}

TEST(SimulateCommand, SlowBoardsAreSimulatedAndMeasuredInTheirBand) {
    const auto dir = test_dir();
    // Measured |initial MDF / truth - 1| over 8 channels, seed 3, 60 s hold: at most 6.5 % at
    // 125 Hz (a 20-56 Hz band: the 4th-order edges and Welch's 4 Hz bins bias it low, 3-6.5 %)
    // and 3.1 % at 250 Hz; the bounds leave a little room over those.
    for (const auto& [fs, tolerance] : {std::pair{125, 0.08}, std::pair{250, 0.04}}) {
        const auto bdf = dir / ("s" + std::to_string(fs) + ".bdf");
        const auto out = dir / ("s" + std::to_string(fs) + ".semg");
        ASSERT_EQ(run_semg("simulate " + bdf.string() + " --fs " + std::to_string(fs) +
                           " --hold-s 60 --rest-s 5 --seed 3 -q")
                      .exit_code,
                  0);
        const auto r = run_semg("analyze " + bdf.string() + " -q --out " + out.string());
        ASSERT_EQ(r.exit_code, 0) << r.output;
        const auto truth = test::load_json(bdf.string() + ".truth.json");
        const auto summary = test::load_json(out / "summary.json");
        ASSERT_TRUE(summary["low_rate"].is_object());
        std::map<std::string, double> mdf0;
        for (const auto& ch : truth["channels"])
            mdf0[ch["label"]] = ch["mdf0_hz"].get<double>();
        ASSERT_EQ(summary["channels"].size(), 8u);
        for (const auto& ch : summary["channels"]) {
            const double want = mdf0.at(ch["label"]);
            EXPECT_LT(want, 0.45 * fs - 5.0) << ch["label"];
            EXPECT_NEAR(ch["mdf"]["initial_hz"].get<double>() / want, 1.0, tolerance)
                << fs << " Hz " << ch["label"];
        }
    }
}

// ---- the bundled dataset
// ----------------------------------------------------------------------------

// datasets/sorensen-sim.bdf and its truth agree: labels, rate, contraction annotation, and the
// fatigue the analyser measures (60 s hold: the slope is noisier than over 120 s).
TEST(BundledDataset, RecordingAndTruthAgree) {
    const fs::path bdf = fs::path(SEMG_SOURCE_DIR) / "datasets" / "sorensen-sim.bdf";
    ASSERT_TRUE(fs::exists(bdf));
    EXPECT_LT(fs::file_size(bdf), 4u * 1024u * 1024u);
    const auto truth = test::load_json(bdf.string() + ".truth.json");
    acquisition::EdfSource file(bdf);
    const auto& info = file.info();
    EXPECT_EQ(info.format, "bdf+");
    EXPECT_EQ(info.sample_rate_hz, truth["sample_rate_hz"].get<double>());
    ASSERT_EQ(info.channels.size(), truth["channels"].size());
    for (std::size_t c = 0; c < info.channels.size(); ++c)
        EXPECT_EQ(info.channels[c].label, truth["channels"][c]["label"]);
    const auto& con = truth["contractions"][0];
    const double start = con["start_s"], end = con["end_s"];
    bool annotated = false;
    for (const auto& a : info.annotations)
        annotated |= a.text == "contraction" && std::abs(a.onset_s - start) < 1e-3 &&
                     std::abs(a.duration_s - (end - start)) < 1e-3;
    EXPECT_TRUE(annotated);

    dsp::Bandpass bandpass({20.0, 450.0, 4});
    bandpass.prepare(info.spec());
    dsp::EpochAnalyzer analyzer({});
    analyzer.prepare(info.spec());
    std::vector<pipeline::LinearFitAccumulator> fits(info.channels.size());
    dsp::Block block(info.channels.size(), 4096);
    while (const std::size_t n = file.read(block.capacity_ref())) {
        block.set_frames(n);
        bandpass.process(block.ref());
        analyzer.process(block.cref(), [&](const dsp::EpochFrame& e) {
            if (e.t_start_s < start || e.t_end_s > end)
                return;
            for (std::size_t c = 0; c < fits.size(); ++c)
                fits[c].add(0.5 * (e.t_start_s + e.t_end_s) - start, e.channels[c].mdf_hz);
        });
    }
    // Tolerances: the same estimator's error measured by Simulator.FatigueTruthRecoveredByEpoch-
    // Analyzer over 120 s holds (IMF bias +0.85 Hz, scatter 0.75 Hz per fit; slope bias
    // +0.007 %/s, scatter 0.013 %/s), scaled to this 60 s hold: a line fitted to half as many
    // epochs has an intercept sqrt(2) and a slope 2 sqrt(2) times as scattered (1.06 Hz,
    // 0.037 %/s; the 8 channels here scatter by 0.98 Hz and 0.026 %/s). The mean over the 8
    // channels must sit at the bias within 3 standard errors (sd / sqrt(8): 1.1 Hz, 0.039 %/s),
    // so a 2 Hz shift of MDF fails; each channel within 4 sd of the bias.
    constexpr double kImfBiasHz = 0.85, kImfSdHz = 0.75 * std::numbers::sqrt2;
    constexpr double kSlopeBiasPctPerS = 0.007, kSlopeSdPctPerS = 0.013 * 2.0 * std::numbers::sqrt2;
    test::ErrorStats imf_error, slope_error;
    for (std::size_t c = 0; c < fits.size(); ++c) {
        const auto fit = fits[c].result();
        const auto& ch = truth["channels"][c];
        const double imf = fit.initial - ch["mdf0_hz"].get<double>();
        const double slope = fit.slope_pct_per_s - ch["mdf_slope_pct_per_s"].get<double>();
        EXPECT_NEAR(imf, kImfBiasHz, 4.0 * kImfSdHz) << ch["label"];
        EXPECT_NEAR(slope, kSlopeBiasPctPerS, 4.0 * kSlopeSdPctPerS) << ch["label"];
        imf_error.add(imf);
        slope_error.add(slope);
    }
    std::cout << "[ bundled ] IMF error " << imf_error << " Hz; slope error " << slope_error
              << " %/s\n";
    EXPECT_NEAR(imf_error.mean(), kImfBiasHz, test::three_standard_errors(kImfSdHz, imf_error.n()));
    EXPECT_NEAR(slope_error.mean(), kSlopeBiasPctPerS,
                test::three_standard_errors(kSlopeSdPctPerS, slope_error.n()));
}
