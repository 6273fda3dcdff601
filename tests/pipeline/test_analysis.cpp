#include "pipeline/analysis.hpp"
#include "pipeline/mvc.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#include <cmath>
#include <functional>
#include <limits>
#include <numbers>

using namespace semg;

namespace {

acquisition::SourceInfo info_for(double fs, std::vector<std::string> labels, std::uint64_t frames) {
    acquisition::SourceInfo info;
    info.format = "test";
    info.sample_rate_hz = fs;
    for (auto& l : labels)
        info.channels.push_back({l, std::nullopt, std::nullopt, std::nullopt});
    info.total_frames = frames;
    return info;
}

// A tone whose frequency falls linearly: f(t) = f0 + slope * t.
std::vector<float> chirp(double f0, double slope_hz_per_s, double amplitude, double fs,
                         std::size_t n) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / fs;
        x[i] = static_cast<float>(
            amplitude * std::sin(2.0 * std::numbers::pi * (f0 * t + 0.5 * slope_hz_per_s * t * t)));
    }
    return x;
}

const auto ignore_warning = [](const std::string&) {};

// Channels held in memory, served in reads of any size.
class VectorSource final : public acquisition::Source {
public:
    VectorSource(acquisition::SourceInfo info, std::vector<std::vector<float>> channels)
        : info_(std::move(info)), channels_(std::move(channels)) {}
    const acquisition::SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override {
        const std::size_t n = std::min(out.frames, channels_[0].size() - at_);
        for (std::size_t c = 0; c < channels_.size(); ++c)
            std::copy_n(channels_[c].begin() + static_cast<std::ptrdiff_t>(at_), n, out.channel(c));
        at_ += n;
        return n;
    }

private:
    acquisition::SourceInfo info_;
    std::vector<std::vector<float>> channels_;
    std::size_t at_ = 0;
};

} // namespace

// The MVC reference of `semg analyze` and `semg capture`: the channels the analysis keeps (here
// one selected by label), found by name in an MVC recording whose channels come in another order.
TEST(MvcReference, OfTheChannelsTheAnalysisKeepsFoundByLabel) {
    const double fs = 1000.0;
    const std::size_t n = 5000;
    const auto mvc_info = info_for(fs, {"b", "a"}, n);
    const std::vector<std::vector<float>> mvc{test::sine(100.0, 400.0, fs, n),
                                              test::sine(100.0, 100.0, fs, n)};
    pipeline::AnalysisSettings s;
    s.channels = {"b"};
    VectorSource for_analysis(mvc_info, mvc);
    const auto rms =
        pipeline::mvc_reference_rms_for(for_analysis, info_for(fs, {"a", "b"}, n), s, std::nullopt);
    VectorSource direct(mvc_info, mvc);
    const auto b_only = pipeline::mvc_reference_rms(direct, {"b"}, s.band, std::nullopt);
    ASSERT_EQ(rms.size(), 1u);
    EXPECT_EQ(rms, b_only); // the same computation, bit for bit
    // A 400 µV sine in the pass-band: RMS 400/√2 once the filter has settled (1 % allows for
    // the pass-band ripple of the 4th-order Butterworth at 100 Hz, well under 0.1 %).
    EXPECT_NEAR(rms[0], 400.0 / std::sqrt(2.0), 0.01 * 400.0 / std::sqrt(2.0));
    s.channels = {"zz"};
    VectorSource again(mvc_info, mvc);
    EXPECT_THROW(
        pipeline::mvc_reference_rms_for(again, info_for(fs, {"a", "b"}, n), s, std::nullopt),
        std::invalid_argument);
}

TEST(FatigueAnalysis, RecoversALinearFrequencyDecline) {
    const double fs = 2048.0;
    const std::size_t n = static_cast<std::size_t>(100 * fs);
    auto block =
        test::make_block({chirp(100.0, -0.2, 50.0, fs, n), chirp(150.0, -0.5, 80.0, fs, n)});
    pipeline::FatigueAnalysis analysis({});
    analysis.prepare(info_for(fs, {"a", "b"}, n), ignore_warning);
    analysis.process(block.cref(), {});
    const auto r = analysis.finish();
    ASSERT_EQ(r.contractions.size(), 1u);
    ASSERT_EQ(r.contractions[0].channels.size(), 2u);
    EXPECT_EQ(r.epochs, 199u);
    EXPECT_NEAR(r.contractions[0].channels[0].mdf.initial, 100.0, 0.5);
    EXPECT_NEAR(r.contractions[0].channels[0].mdf.slope_per_s, -0.2, 0.005);
    EXPECT_NEAR(r.contractions[0].channels[0].mdf.slope_pct_per_s, -0.2, 0.01);
    EXPECT_NEAR(r.contractions[0].channels[1].mdf.initial, 150.0, 0.5);
    EXPECT_NEAR(r.contractions[0].channels[1].mnf.slope_per_s, -0.5, 0.01);
    EXPECT_GT(r.contractions[0].channels[1].mdf.r2, 0.99);
    EXPECT_LT(r.contractions[0].channels[0].mdf.slope_ci95[0],
              r.contractions[0].channels[0].mdf.slope_per_s);
    EXPECT_GT(r.contractions[0].channels[0].mdf.slope_ci95[1],
              r.contractions[0].channels[0].mdf.slope_per_s);
    EXPECT_LT(r.contractions[0].channels[0].mdf.slope_ci95[1] -
                  r.contractions[0].channels[0].mdf.slope_ci95[0],
              0.01);
    EXPECT_NEAR(r.contractions[0].channels[0].rms.initial, 50.0 / std::sqrt(2.0), 1.0);
}

TEST(FatigueAnalysis, SegmentLimitsTheFitAndInitialIsAtSegmentStart) {
    const double fs = 1000.0;
    const std::size_t n = static_cast<std::size_t>(60 * fs);
    auto block = test::make_block({chirp(120.0, -0.5, 50.0, fs, n)});
    pipeline::AnalysisSettings s;
    s.segments_s = {{20.0, 50.0}};
    s.contractions = pipeline::ContractionMode::Segments;
    pipeline::FatigueAnalysis analysis(s);
    analysis.prepare(info_for(fs, {"a"}, n), ignore_warning);
    analysis.process(block.cref(), {});
    const auto r = analysis.finish();
    EXPECT_EQ(r.contractions[0].channels[0].epochs, 59u); // epochs with 20 <= start, end <= 50
    EXPECT_NEAR(r.contractions[0].channels[0].mdf.initial, 110.0, 0.5);
}

TEST(FatigueAnalysis, ChunkInvariantEndToEnd) {
    const double fs = 2048.0;
    const std::size_t n = 30000;
    auto block = test::make_block({test::white_noise(n, 50.0, 1), test::white_noise(n, 20.0, 2)});
    pipeline::FatigueAnalysis one({}), many({});
    one.prepare(info_for(fs, {"a", "b"}, n), ignore_warning);
    many.prepare(info_for(fs, {"a", "b"}, n), ignore_warning);
    std::vector<double> a, b;
    one.process(block.cref(), [&](const dsp::EpochFrame& f, const pipeline::EpochDerived&) {
        a.push_back(f.channels[1].mdf_hz);
    });
    std::size_t offset = 0;
    for (std::size_t k : test::random_chunks(n, 9000, 8)) {
        many.process(block.cref().slice(offset, k),
                     [&](const dsp::EpochFrame& f, const pipeline::EpochDerived&) {
                         b.push_back(f.channels[1].mdf_hz);
                     });
        offset += k;
    }
    EXPECT_EQ(a, b);
    EXPECT_EQ(one.finish().contractions[0].channels[0].mdf.slope_per_s,
              many.finish().contractions[0].channels[0].mdf.slope_per_s);
}

// An epoch reaches the observer in the process() call that brings its last sample, except with
// template subtraction, whose ECG stage holds the stream back by its fixed delay.
TEST(FatigueAnalysis, EmitsEachEpochWithItsLastSampleUnlessTemplateSubtractionDelaysIt) {
    const double fs = 2048.0;
    const std::size_t n = 40960, hop = 1024, epoch = 2048; // 1 s epochs, 50 % overlap
    auto block = test::make_block({test::white_noise(n, 50.0, 1), test::white_noise(n, 20.0, 2)});
    for (const auto method :
         {dsp::EcgMethod::Off, dsp::EcgMethod::Highpass, dsp::EcgMethod::Template}) {
        pipeline::AnalysisSettings settings;
        settings.ecg = method;
        pipeline::FatigueAnalysis analysis(settings);
        analysis.prepare(info_for(fs, {"a", "b"}, n), ignore_warning);
        const std::size_t delay = analysis.ecg().delay_frames();
        EXPECT_EQ(delay == 0, method != dsp::EcgMethod::Template) << dsp::to_string(method);
        std::size_t emitted = 0;
        for (std::size_t fed = 0; fed < n; fed += hop) {
            analysis.process(
                block.cref().slice(fed, hop),
                [&](const dsp::EpochFrame&, const pipeline::EpochDerived&) { ++emitted; });
            const std::size_t out =
                fed + hop > delay ? fed + hop - delay : 0; // frames through the delay
            // Template subtraction holds the epochs of its warm-up back; they come out together
            // once it is over (at the latest after warmup_max_s of input).
            if (method == dsp::EcgMethod::Template && analysis.ecg().warming_up())
                ASSERT_EQ(emitted, 0u) << "held in the warm-up at " << fed + hop;
            else
                ASSERT_EQ(emitted, out >= epoch ? (out - epoch) / hop + 1 : 0)
                    << dsp::to_string(method) << " at " << fed + hop;
        }
        EXPECT_FALSE(analysis.ecg().warming_up()) << "20 s of input outlast the warm-up";
        analysis.flush([&](const dsp::EpochFrame&, const pipeline::EpochDerived&) { ++emitted; });
        EXPECT_EQ(emitted, (n - epoch) / hop + 1) << dsp::to_string(method);
    }
}

TEST(FatigueAnalysis, SelectsChannelsByLabel) {
    pipeline::AnalysisSettings s;
    s.channels = {"b"};
    pipeline::FatigueAnalysis analysis(s);
    analysis.prepare(info_for(1000.0, {"a", "b"}, 5000), ignore_warning);
    EXPECT_EQ(analysis.labels(), std::vector<std::string>{"b"});
    s.channels = {"zz"};
    pipeline::FatigueAnalysis missing(s);
    try {
        missing.prepare(info_for(1000.0, {"a", "b"}, 5000), ignore_warning);
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("'zz'"), std::string::npos);
    }
}

TEST(FatigueAnalysis, RejectsNonFiniteSamplesNamingChannelAndTime) {
    auto x = test::white_noise(3000, 10.0, 1);
    x[1500] = std::numeric_limits<float>::quiet_NaN();
    auto block = test::make_block({test::white_noise(3000, 10.0, 2), x});
    pipeline::FatigueAnalysis analysis({});
    analysis.prepare(info_for(1000.0, {"left", "right"}, 3000), ignore_warning);
    try {
        analysis.process(block.cref(), {});
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("'right'"), std::string::npos) << what;
        EXPECT_NE(what.find("1.5"), std::string::npos) << what;
    }
}

// A slow board: one warning that says the rate and the band the analysis runs on (issue 17:
// not one per clamp and one per rate, and nothing per epoch).
TEST(FatigueAnalysis, WarnsOnceOnLowRateWithTheBandItRunsOn) {
    for (const double fs : {500.0, 250.0, 125.0}) {
        std::vector<std::string> warnings;
        pipeline::FatigueAnalysis analysis({});
        analysis.prepare(info_for(fs, {"a"}, 5000),
                         [&](const std::string& w) { warnings.push_back(w); });
        ASSERT_EQ(warnings.size(), 1u) << fs;
        EXPECT_DOUBLE_EQ(analysis.effective_high_hz(), 0.45 * fs);
        char band[64];
        std::snprintf(band, sizeof band, "runs on 20-%g Hz", 0.45 * fs);
        EXPECT_NE(warnings[0].find(band), std::string::npos) << warnings[0];
        EXPECT_NE(warnings[0].find("below 1000 Hz"), std::string::npos) << warnings[0];
    }
    // At 1 kHz and above, a band beyond 0.45 fs is still said as a clamp.
    std::vector<std::string> warnings;
    pipeline::AnalysisSettings wide;
    wide.band = {20.0, 600.0, 4};
    pipeline::FatigueAnalysis analysis(wide);
    analysis.prepare(info_for(1000.0, {"a"}, 5000),
                     [&](const std::string& w) { warnings.push_back(w); });
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("600 Hz clamped to 450 Hz"), std::string::npos) << warnings[0];
}

TEST(FatigueAnalysis, RejectsSegmentOutsideRecordingAndBandAboveNyquist) {
    pipeline::AnalysisSettings s;
    s.segments_s = {{50.0, 70.0}};
    s.contractions = pipeline::ContractionMode::Segments;
    pipeline::FatigueAnalysis analysis(s);
    EXPECT_THROW(analysis.prepare(info_for(1000.0, {"a"}, 30000), ignore_warning),
                 std::invalid_argument);
    pipeline::AnalysisSettings high;
    high.band = {600.0, 900.0, 4};
    pipeline::FatigueAnalysis above(high);
    EXPECT_THROW(above.prepare(info_for(1000.0, {"a"}, 30000), ignore_warning),
                 std::invalid_argument);
}

TEST(ContractionDetector, ChunkInvariantAndFindsAHold) {
    const double fs = 1000.0;
    const std::size_t n = 20000;
    // 3 s rest (2 µV), 12 s hold (80 µV), 5 s rest.
    auto rest = test::white_noise(n, 2.0, 1), hold = test::white_noise(n, 80.0, 2);
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i)
        x[i] = (i >= 3000 && i < 15000) ? hold[i] : rest[i];
    auto block = test::make_block({x, x});
    pipeline::ContractionDetector one({}), many({});
    one.prepare(fs);
    many.prepare(fs);
    one.process(block.cref());
    std::size_t offset = 0;
    for (std::size_t k : test::random_chunks(n, 777, 5)) {
        many.process(block.cref().slice(offset, k));
        offset += k;
    }
    ASSERT_EQ(one.contractions().size(), 1u);
    ASSERT_EQ(many.contractions().size(), 1u);
    EXPECT_EQ(one.contractions()[0].start_s, many.contractions()[0].start_s);
    EXPECT_EQ(one.contractions()[0].end_s, many.contractions()[0].end_s);
    EXPECT_NEAR(one.contractions()[0].start_s, 3.0, 0.05);
    EXPECT_NEAR(one.contractions()[0].end_s, 15.0, 0.05);
    EXPECT_TRUE(one.accepted(0));
}

TEST(ContractionDetector, DropsHoldsShorterThanTheMinimum) {
    const double fs = 1000.0;
    auto rest = test::white_noise(12000, 2.0, 1), burst = test::white_noise(12000, 80.0, 2);
    std::vector<float> x(12000);
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = (i >= 3000 && i < 6000) ? burst[i] : rest[i];
    auto block = test::make_block({x});
    pipeline::ContractionDetector detector({});
    detector.prepare(fs);
    detector.process(block.cref());
    EXPECT_TRUE(detector.contractions().empty()); // 3 s < min_duration_s = 5 s
}

// Issue 12: every setting a user gives is checked against pipeline::AnalysisLimits before the
// analysis sizes anything: the limits themselves are accepted, a step beyond them, NaN and
// infinity are refused with the option's name. The sample rate is checked in prepare().
TEST(FatigueAnalysis, SettingsAtTheLimitsAreAcceptedAndBeyondThemRefusedNamingTheOption) {
    using L = pipeline::AnalysisLimits;
    constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
    constexpr double kInf = std::numeric_limits<double>::infinity();
    struct Setting {
        std::string option;
        std::function<void(pipeline::AnalysisSettings&, double)> set;
        double min, max;
    };
    // The band's edges are bounded by each other too: the low edge's top is below the default
    // upper edge (450 Hz), the upper edge's bottom above the default low edge (20 Hz).
    const std::vector<Setting> settings = {
        {"--band", [](auto& s, double v) { s.band.low_hz = v; }, L::min_band_hz, 449.999},
        {"--band", [](auto& s, double v) { s.band.high_hz = v; }, 20.001, L::max_band_hz},
        {"--order", [](auto& s, double v) { s.band.order = static_cast<int>(v); }, L::min_order,
         L::max_order},
        {"--mains-exclude-hz", [](auto& s, double v) { s.mains_exclude_hz = v; }, 0.0,
         L::max_mains_exclude_hz},
        {"--epoch-s", [](auto& s, double v) { s.epoch_s = v; }, L::min_epoch_s, L::max_epoch_s},
        {"--overlap", [](auto& s, double v) { s.overlap = v; }, 0.0, L::max_overlap},
        {"--welch-segment-s", [](auto& s, double v) { s.psd.segment_s = v; },
         L::min_welch_segment_s, L::max_welch_segment_s},
        {"--ai-threshold-pct", [](auto& s, double v) { s.ai_threshold_pct = v; }, 0.0,
         L::max_ai_threshold_pct},
    };
    for (const auto& k : settings) {
        for (double v : {k.min, k.max}) {
            pipeline::AnalysisSettings s;
            k.set(s, v);
            EXPECT_NO_THROW(pipeline::FatigueAnalysis{s}) << k.option << " " << v;
        }
        const double step = k.option == "--order" ? 1.0 : 1e-3 * (k.max - k.min);
        for (double v : {k.min - step, k.max + step, kNan, kInf, -kInf}) {
            if (k.option == "--order" && !std::isfinite(v))
                continue; // an int holds neither
            pipeline::AnalysisSettings s;
            k.set(s, v);
            try {
                pipeline::FatigueAnalysis analysis(s);
                ADD_FAILURE() << k.option << " " << v << " was accepted";
            } catch (const std::invalid_argument& e) {
                EXPECT_EQ(std::string(e.what()).rfind(k.option, 0), 0u) << e.what();
            }
        }
    }
    // A segment must hold an epoch.
    pipeline::AnalysisSettings s;
    s.contractions = pipeline::ContractionMode::Segments;
    s.segments_s = {{1.0, 1.0 + s.epoch_s}};
    EXPECT_NO_THROW(pipeline::FatigueAnalysis{s});
    s.segments_s = {{1.0, 1.0 + 0.99 * s.epoch_s}};
    EXPECT_THROW(pipeline::FatigueAnalysis{s}, std::invalid_argument);
    // The sample rate, before anything is sized by it.
    for (double fs : {L::min_sample_rate_hz, L::max_sample_rate_hz})
        EXPECT_NO_THROW(
            pipeline::FatigueAnalysis({}).prepare(info_for(fs, {"a"}, 1000), ignore_warning))
            << fs;
    for (double fs :
         {L::min_sample_rate_hz - 1.0, L::max_sample_rate_hz + 1.0, 1e12, kNan, kInf, 0.0})
        EXPECT_THROW(
            pipeline::FatigueAnalysis({}).prepare(info_for(fs, {"a"}, 1000), ignore_warning),
            std::invalid_argument)
            << fs;
}

// Issue #11: with most epochs flagged, a line through the few left gave slopes of tens of %/s.
// 40 s of EMG-like noise with mains 10x its amplitude from 4 s on: 90 % of the epochs are
// mains-dominant and left out, 7 usable ones remain: no fit, with the reason.
TEST(FatigueAnalysis, NoFitFromTooFewUsableEpochs) {
    const double fs = 1000.0;
    const std::size_t n = 40000;
    auto x = test::white_noise(n, 30.0, 3);
    const auto mains = test::sine(50.0, 300.0, fs, n);
    for (std::size_t i = 4000; i < n; ++i)
        x[i] += mains[i];
    auto block = test::make_block({x});
    pipeline::AnalysisSettings s;
    s.mains_hz = 50.0;
    s.mains_notch_hz = 0.0; // the notch would remove the line: keep it as the flag's cause
    s.contractions = pipeline::ContractionMode::Whole;
    const auto fit_of = [&](const pipeline::AnalysisSettings& settings) {
        pipeline::FatigueAnalysis analysis(settings);
        analysis.prepare(info_for(fs, {"a"}, n), ignore_warning);
        analysis.process(block.cref(), {});
        return analysis.finish().contractions.at(0).channels.at(0);
    };
    const auto ch = fit_of(s);
    EXPECT_EQ(ch.epochs, 79u);
    EXPECT_GE(ch.flagged_epochs, 71u); // 90 %
    EXPECT_EQ(ch.fit_epochs, ch.epochs - ch.flagged_epochs);
    EXPECT_NE(ch.no_fit_reason.find("usable epochs of 79"), std::string::npos) << ch.no_fit_reason;
    for (const auto* f : {&ch.mdf, &ch.mnf, &ch.rms}) {
        EXPECT_TRUE(std::isnan(f->initial));
        EXPECT_TRUE(std::isnan(f->slope_per_s));
        EXPECT_TRUE(std::isnan(f->slope_pct_per_s));
    }
    EXPECT_EQ(ch.jasa, pipeline::Jasa::Undetermined);
    // The rule is a setting: asking for fewer epochs gives the fit back.
    pipeline::AnalysisSettings lax = s;
    lax.fit = {5, 0.05};
    const auto fitted = fit_of(lax);
    EXPECT_TRUE(fitted.no_fit_reason.empty());
    EXPECT_TRUE(std::isfinite(fitted.mdf.slope_per_s));
    EXPECT_EQ(fitted.mdf.n, ch.fit_epochs);
}
