// Validation of the default analysis against the simulator's truth, with contamination at the
// strength real recordings have (issue: "default results that stay right on real-world
// recordings"): mains at 50 and 60 Hz at 0.5, 1 and 2 x the EMG RMS; ECG at 0.3-2 x the EMG RMS
// with P-QRS-T and narrow QRS shapes, 45-180 bpm, RR jitter up to 20 %, on both sides or one;
// sample rates 1000, 2048 and 4096 Hz. Every case runs FatigueAnalysis with default settings
// (mains auto, ECG template, contractions from the recording's annotations) on a 60 s
// Sørensen-style hold of 4 bilateral pairs, for three seeds, and prints a table of its errors.
//
// Errors of a case, each the mean over the 8 channels and the 3 seeds (24 fits):
//   IMF error    initial MDF of the fit − the simulator's MDF at the contraction start;
//   slope error  MDF slope (%/s) − the simulator's slope;
//   added        |IMF with contamination − IMF of the same seed without it| (same EMG samples: the
//                simulator's noise streams are independent), i.e. what the contamination alone
//                does once the defaults have dealt with it, over the channels that carry it
//                (the left side only where the ECG is one-sided); mean and worst channel.
//
// Where the tolerances come from (measured with this test's clean cases, 3 rates x 3 seeds):
//   - The estimator's own error on clean recordings is a bias of +1.0 Hz on the IMF (+0.8 to +1.1
//     at 4096-1000 Hz: the band-pass edge at 20 Hz and the 0.25 s Welch segments' smoothing,
//     docs/quality.md) with a scatter of 1.7 Hz between single channel fits, i.e. a standard error
//     of 1.7/sqrt(24) = 0.35 Hz for a case mean; the slope error has a bias under 0.01 %/s and a
//     scatter of 0.07 %/s per channel, a standard error of 0.014 %/s.
//   - A case passes when it stays within what the estimator itself gives: |IMF error| < 2 Hz
//     (bias + 3 standard errors = 2.05) and |slope error| < 0.05 %/s (bias + 3 standard errors).
//   - The clean case itself must sit at the measured bias: IMF error within 1.0 ± 0.9 Hz, so a
//     shift of MDF by half a Welch bin (2 Hz) fails here.
//   - added: the contamination may move the IMF of its channels by 1 Hz on average (half the
//     2 Hz bound). Excluding a flagged epoch alone moves a single fit by up to about 1 Hz (the
//     1.7 Hz scatter over ~100 epochs, some of them now missing), so that is what the worst
//     channel is allowed on top: 3 Hz.
#include "acquisition/simulator.hpp"
#include "pipeline/analysis.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <vector>

using namespace semg;
using acquisition::Scenario;
using acquisition::Simulator;

namespace {

constexpr double kImfBiasHz = 1.0;      // measured clean bias (see above)
constexpr double kImfCleanBandHz = 0.9; // clean case: within the bias ± this
constexpr double kImfToleranceHz = 2.0;
constexpr double kSlopeTolerancePctPerS = 0.05;
constexpr double kAddedMeanToleranceHz = 1.0;
constexpr double kAddedWorstToleranceHz = 3.0;
const std::vector<std::uint64_t> kSeeds{1, 2, 3};

struct Case {
    std::string name;
    double fs_hz = 2048.0;
    double mains_hz = 0.0;
    double mains_x_emg = 0.0; // RMS of all mains harmonics / mean EMG RMS₀
    double ecg_x_emg = 0.0;   // ECG RMS / EMG RMS on LT L1 L (the strongest ECG), over the hold
    std::string ecg_shape = "pqrst";
    double bpm = 72.0;
    double hrv = 0.04;
    bool ecg_one_side = false; // right side ECG-free
};

Scenario base_scenario(double fs_hz, std::uint64_t seed) {
    Scenario s;
    s.seed = seed;
    s.sample_rate_hz = fs_hz;
    s.protocol.hold_s = 60.0;
    return s;
}

struct Fit {
    double imf_hz, slope_pct_per_s, truth_imf_hz, truth_slope_pct_per_s;
    std::size_t flagged, epochs;
};

// The analysis of a simulated recording, whole.
pipeline::AnalysisResult analysis_of(Simulator& sim, const pipeline::AnalysisSettings& settings) {
    pipeline::FatigueAnalysis analysis{settings};
    analysis.prepare(sim.info(), [](const std::string&) {});
    dsp::Block block(sim.info().channels.size(), 4096);
    const auto ignore = [](const dsp::EpochFrame&, const pipeline::EpochDerived&) {};
    while (const std::size_t n = sim.read(block.capacity_ref())) {
        block.set_frames(n);
        analysis.process(block.cref(), ignore);
    }
    analysis.flush(ignore);
    return analysis.finish();
}

// The analysis (default settings unless given) of a simulated recording: one fit per channel of
// its one contraction.
std::vector<Fit> analyse(const Scenario& scenario,
                         const pipeline::AnalysisSettings& settings = {}) {
    Simulator sim(scenario);
    const auto result = analysis_of(sim, settings);
    EXPECT_EQ(result.contractions.size(), 1u);
    const auto con = sim.contractions().at(0);
    std::vector<Fit> fits;
    for (std::size_t c = 0; c < sim.channels().size(); ++c) {
        const auto& ch = result.contractions.at(0).channels.at(c);
        fits.push_back({ch.mdf.initial, ch.mdf.slope_pct_per_s, sim.mdf_hz(c, con.start_s),
                        sim.channels()[c].mdf_slope_pct_per_s, ch.flagged_epochs, ch.epochs});
    }
    return fits;
}

// RMS of the ECG over the RMS of the EMG on channel 0 during the hold, for ratio 1 (the R-peak
// amplitude scales the ECG linearly): the difference of the same scenario with and without ECG.
double ecg_rms_per_ratio(const Case& k) {
    Scenario with = base_scenario(k.fs_hz, 1), without = with;
    with.ecg.enabled = true;
    with.ecg.ratio = 1.0;
    with.ecg.shape = k.ecg_shape;
    with.ecg.heart_rate_bpm = k.bpm;
    with.ecg.hrv_fraction = k.hrv;
    Simulator a(with), b(without);
    const auto con = b.contractions().at(0);
    const auto from = static_cast<std::size_t>((con.start_s + 1.0) * k.fs_hz);
    const auto to = static_cast<std::size_t>((con.end_s - 1.0) * k.fs_hz);
    dsp::Block x(a.info().channels.size(), 8192), y(b.info().channels.size(), 8192);
    double ecg = 0.0, emg = 0.0;
    std::size_t at = 0;
    while (const std::size_t n = a.read(x.capacity_ref())) {
        b.read(y.capacity_ref());
        for (std::size_t i = 0; i < n; ++i, ++at) {
            if (at < from || at >= to)
                continue;
            const double e = x.channel(0)[i] - y.channel(0)[i];
            ecg += e * e;
            emg += static_cast<double>(y.channel(0)[i]) * y.channel(0)[i];
        }
    }
    return std::sqrt(ecg / emg);
}

Scenario contaminated(const Case& k, std::uint64_t seed) {
    Scenario s = base_scenario(k.fs_hz, seed);
    if (k.mains_x_emg > 0.0) {
        double rms0 = 0.0;
        for (const auto& p : s.pairs)
            rms0 += p.rms0_uv / static_cast<double>(s.pairs.size());
        double harmonics = 0.0;
        for (const double h : s.mains.harmonics)
            harmonics += h * h;
        s.mains.frequency_hz = k.mains_hz;
        s.mains.amplitude_uv = k.mains_x_emg * rms0 / std::sqrt(harmonics / 2.0);
    }
    if (k.ecg_x_emg > 0.0) {
        static std::map<std::tuple<double, std::string, double, double>, double> per_ratio;
        const auto key = std::make_tuple(k.fs_hz, k.ecg_shape, k.bpm, k.hrv);
        if (!per_ratio.count(key))
            per_ratio[key] = ecg_rms_per_ratio(k);
        s.ecg.enabled = true;
        s.ecg.ratio = k.ecg_x_emg / per_ratio[key];
        s.ecg.shape = k.ecg_shape;
        s.ecg.heart_rate_bpm = k.bpm;
        s.ecg.hrv_fraction = k.hrv;
        if (k.ecg_one_side)
            s.ecg.right_gain = 0.0;
    }
    return s;
}

struct Errors {
    double imf_hz = 0.0, slope_pct_per_s = 0.0, added_hz = 0.0, added_worst_hz = 0.0,
           flagged_share = 0.0;
};

TEST(Validation, DefaultSettingsStayRightUnderRealisticContamination) {
    std::vector<Case> cases;
    for (const double fs : {1000.0, 2048.0, 4096.0})
        cases.push_back({"clean", fs});
    for (const double mains : {50.0, 60.0})
        for (const double x : {0.5, 1.0, 2.0})
            cases.push_back({"mains", 2048.0, mains, x});
    cases.push_back({"mains", 1000.0, 60.0, 2.0});
    cases.push_back({"mains", 4096.0, 50.0, 2.0});
    const auto ecg = [&](double x, const std::string& shape, double bpm, double hrv, bool one_side,
                         double fs) {
        Case k{"ecg", fs};
        k.ecg_x_emg = x;
        k.ecg_shape = shape;
        k.bpm = bpm;
        k.hrv = hrv;
        k.ecg_one_side = one_side;
        cases.push_back(k);
    };
    ecg(0.3, "pqrst", 72, 0.04, false, 2048.0);
    ecg(1.0, "pqrst", 72, 0.04, false, 2048.0);
    ecg(2.0, "pqrst", 72, 0.04, false, 2048.0);
    ecg(1.0, "qrs", 72, 0.04, false, 2048.0);
    ecg(2.0, "qrs", 60, 0.04, false, 1000.0);
    ecg(1.0, "pqrst", 45, 0.04, false, 2048.0);
    ecg(1.0, "pqrst", 180, 0.04, false, 2048.0);
    ecg(1.0, "pqrst", 72, 0.20, false, 2048.0);
    ecg(1.0, "pqrst", 72, 0.04, true, 2048.0);
    ecg(2.0, "qrs", 120, 0.20, true, 4096.0);
    ecg(0.5, "pqrst", 90, 0.10, false, 1000.0);

    std::map<double, std::vector<std::vector<Fit>>> clean; // per rate, per seed
    std::printf("Default settings against the simulator's truth (mean of 8 channels x %zu seeds)\n"
                "  %-6s %6s %-9s %5s %-6s %5s %5s %-5s %10s %12s %8s %8s %8s\n",
                kSeeds.size(), "case", "fs_Hz", "line", "x_EMG", "shape", "bpm", "RR_sd", "sides",
                "IMF_err_Hz", "slope_err_%/s", "added_Hz", "worst_Hz", "flagged");
    for (const auto& k : cases) {
        Errors e;
        std::size_t n = 0, n_added = 0, flagged = 0, epochs = 0;
        for (std::size_t s = 0; s < kSeeds.size(); ++s) {
            const auto fits = analyse(contaminated(k, kSeeds[s]));
            if (k.name == "clean")
                clean[k.fs_hz].push_back(fits);
            const auto& reference = clean.at(k.fs_hz).at(s);
            for (std::size_t c = 0; c < fits.size(); ++c, ++n) {
                const Fit& f = fits[c];
                e.imf_hz += f.imf_hz - f.truth_imf_hz;
                e.slope_pct_per_s += f.slope_pct_per_s - f.truth_slope_pct_per_s;
                const bool carries = !(k.ecg_one_side && c % 2 == 1); // right channels are odd
                if (carries) {
                    const double added = std::abs(f.imf_hz - reference[c].imf_hz);
                    e.added_hz += added;
                    e.added_worst_hz = std::max(e.added_worst_hz, added);
                    ++n_added;
                }
                flagged += f.flagged;
                epochs += f.epochs;
            }
        }
        e.imf_hz /= static_cast<double>(n);
        e.slope_pct_per_s /= static_cast<double>(n);
        e.added_hz /= static_cast<double>(n_added);
        e.flagged_share = static_cast<double>(flagged) / static_cast<double>(epochs);
        const bool has_mains = k.mains_x_emg > 0.0, has_ecg = k.ecg_x_emg > 0.0;
        std::printf(
            "  %-6s %6.0f %-9s %5.1f %-6s %5.0f %5.2f %-5s %+10.2f %+12.3f %8.2f %8.2f %7.0f%%\n",
            k.name.c_str(), k.fs_hz,
            has_mains ? (std::to_string(static_cast<int>(k.mains_hz)) + " Hz").c_str() : "-",
            has_mains ? k.mains_x_emg : k.ecg_x_emg, has_ecg ? k.ecg_shape.c_str() : "-",
            has_ecg ? k.bpm : 0.0, has_ecg ? k.hrv : 0.0,
            has_ecg ? (k.ecg_one_side ? "left" : "both") : "-", e.imf_hz, e.slope_pct_per_s,
            e.added_hz, e.added_worst_hz, 100.0 * e.flagged_share);
        const std::string where = k.name + " at " + std::to_string(k.fs_hz) + " Hz, x " +
                                  std::to_string(has_mains ? k.mains_x_emg : k.ecg_x_emg);
        EXPECT_LT(std::abs(e.imf_hz), kImfToleranceHz) << where;
        EXPECT_LT(std::abs(e.slope_pct_per_s), kSlopeTolerancePctPerS) << where;
        if (k.name == "clean")
            EXPECT_NEAR(e.imf_hz, kImfBiasHz, kImfCleanBandHz) << where;
        else {
            EXPECT_LT(e.added_hz, kAddedMeanToleranceHz) << where;
            EXPECT_LT(e.added_worst_hz, kAddedWorstToleranceHz) << where;
        }
    }
}

} // namespace

namespace {

// The notch also takes the EMG within its width: about π/2 x 1 Hz of spectrum at each of the 9
// harmonics, 2 % of the band. On recordings without mains, forcing the 50 Hz notch may move the IMF
// only a little on average: the signed mean of IMF(notch) − IMF(no notch) over 8 channels and 2
// seeds. Measured: +0.13 Hz (Welch), −0.05 Hz (1 s periodogram); single fits differ randomly by
// 0.17 Hz on average (the notched spectrum is another estimate of the same EMG). Bound: 0.25 Hz,
// an eighth of the validation bound, so that a notch much wider or misplaced fails.
TEST(Validation, NotchOnCleanEmgBarelyMovesTheMedianFrequency) {
    for (const auto method : {dsp::PsdMethod::Welch, dsp::PsdMethod::Periodogram}) {
        const auto imf = [&](double mains_hz, std::uint64_t seed) {
            pipeline::AnalysisSettings settings;
            settings.mains_hz = mains_hz;
            settings.ecg = dsp::EcgMethod::Off;
            settings.psd.method = method;
            std::vector<double> out;
            for (const Fit& f : analyse(base_scenario(2048.0, seed), settings))
                out.push_back(f.imf_hz);
            return out;
        };
        double mean = 0.0, mean_abs = 0.0;
        for (const std::uint64_t seed : {5, 6}) {
            const auto off = imf(0.0, seed), notched = imf(50.0, seed);
            for (std::size_t c = 0; c < off.size(); ++c) {
                mean += (notched[c] - off[c]) / static_cast<double>(2 * off.size());
                mean_abs += std::abs(notched[c] - off[c]) / static_cast<double>(2 * off.size());
            }
        }
        std::printf("%s: IMF(notch 50 Hz) - IMF(no notch): mean %+.3f Hz, mean |.| %.3f Hz\n",
                    method == dsp::PsdMethod::Welch ? "welch" : "periodogram", mean, mean_abs);
        EXPECT_LT(std::abs(mean), 0.25);
    }
}

// Contraction detection hears the analysed channels' band with the mains notch in it: mains at the
// EMG's strength must not read as activity. Before the detector was notched, mains at 1x EMG RMS
// on the shared biceps recording kept the wrong 14-16 epochs (IMF 63 instead of 75.75 Hz). Here
// the detected hold of a simulated recording with mains at 1 and 2x EMG RMS must span the same
// time as without mains within one epoch hop (0.5 s; measured: 0.05-0.1 s, the onset confirmed a
// 50 ms window later) and give the same IMF within the contamination allowance above
// (kAddedMeanToleranceHz; measured 0.22-0.49 Hz). Without the notch the whole 70 s recording was
// taken for the hold (IMF moved 1.2-1.6 Hz).
TEST(Validation, ContractionDetectionIsNotFooledByMains) {
    const auto detect = [](const Scenario& scenario) {
        pipeline::AnalysisSettings settings;
        settings.contractions = pipeline::ContractionMode::Detect;
        Simulator sim(scenario);
        return analysis_of(sim, settings);
    };
    const auto clean = detect(base_scenario(2048.0, 1));
    ASSERT_EQ(clean.contractions.size(), 1u);
    const auto& hold = clean.contractions[0];
    for (const double mains_hz : {50.0, 60.0})
        for (const double strength : {1.0, 2.0}) {
            Case k{"mains", 2048.0, mains_hz, strength};
            const auto r = detect(contaminated(k, 1));
            ASSERT_EQ(r.contractions.size(), 1u) << mains_hz << " Hz at " << strength << "x";
            const auto& con = r.contractions[0];
            EXPECT_NEAR(con.start_s, hold.start_s, 0.5) << mains_hz << " Hz at " << strength << "x";
            EXPECT_NEAR(con.end_s, hold.end_s, 0.5) << mains_hz << " Hz at " << strength << "x";
            double added = 0.0;
            for (std::size_t c = 0; c < con.channels.size(); ++c)
                added += std::abs(con.channels[c].mdf.initial - hold.channels[c].mdf.initial) /
                         static_cast<double>(con.channels.size());
            std::printf(
                "mains %g Hz at %gx EMG RMS, detected %.2f-%.2f s (clean %.2f-%.2f s), IMF moved %.2f Hz\n",
                mains_hz, strength, con.start_s, con.end_s, hold.start_s, hold.end_s, added);
            EXPECT_LT(added, kAddedMeanToleranceHz);
        }
}

// Detected mains: the notch switches on where the detector decided (its first 1 s block) and
// settles within 3 time constants (0.95 s at 1 Hz). A hold that starts with the recording has
// its first epochs in that time: they are flagged mains (uncleaned) and leave the fit. With
// mains at 0.5x EMG RMS (mains share ~0.2, under the mains flag's 0.3) the IMF must then stay
// within the contamination allowance (kAddedMeanToleranceHz) of the same recording with the
// mains frequency given (notched from the first sample).
TEST(Validation, EpochsBeforeTheDetectedMainsNotchSettledLeaveTheFit) {
    Case k{"mains", 2048.0, 50.0, 0.5};
    Scenario scenario = contaminated(k, 1);
    scenario.protocol.rest_before_s = 0.0;
    const auto imf_of = [&](std::optional<double> mains_hz) {
        pipeline::AnalysisSettings settings;
        settings.mains_hz = mains_hz;
        Simulator sim(scenario);
        const auto result = analysis_of(sim, settings);
        std::vector<double> imf;
        for (const auto& ch : result.contractions.at(0).channels)
            imf.push_back(ch.mdf.initial);
        return std::make_pair(imf, result.contractions.at(0).channels.at(0).flag_counts);
    };
    const auto [detected, flags] = imf_of(std::nullopt);
    const auto [given, given_flags] = imf_of(50.0);
    double moved = 0.0;
    for (std::size_t c = 0; c < detected.size(); ++c)
        moved += std::abs(detected[c] - given[c]) / static_cast<double>(detected.size());
    constexpr std::size_t mains_bit = std::countr_zero(static_cast<unsigned>(dsp::MainsDominant));
    std::printf(
        "hold from 0 s, mains 50 Hz at 0.5x detected: %zu epochs flagged mains (given: %zu), IMF "
        "%.2f Hz from the given-mains analysis\n",
        flags[mains_bit], given_flags[mains_bit], moved);
    EXPECT_GE(flags[mains_bit], 3u) << "epochs starting before 1 s + 0.95 s";
    EXPECT_LT(moved, kAddedMeanToleranceHz);
}

} // namespace
