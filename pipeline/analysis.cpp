#include "pipeline/analysis.hpp"

#include <boost/math/distributions/students_t.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <stdexcept>

namespace semg::pipeline {
namespace {

constexpr std::size_t kWorkFrames = 4096;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kEps = 1e-9;

// The band-pass as applied: the ECG high-pass option replaces its lower edge.
dsp::Bandpass::Config band_config(const AnalysisSettings& s) {
    dsp::Bandpass::Config b = s.band;
    if (s.ecg == dsp::EcgMethod::Highpass)
        b.low_hz = s.ecg_highpass_hz;
    return b;
}

dsp::EpochAnalyzer::Config analyzer_config(const AnalysisSettings& s, double high_hz) {
    dsp::EpochAnalyzer::Config c;
    c.epoch_s = s.epoch_s;
    c.overlap = s.overlap;
    c.psd = s.psd;
    c.band = {band_config(s).low_hz, high_hz, s.mains_hz.value_or(0.0), s.mains_exclude_hz};
    return c;
}

dsp::QualityAnalyzer::Config quality_config(const AnalysisSettings& s, double high_hz) {
    dsp::QualityAnalyzer::Config c;
    c.epoch_s = s.epoch_s;
    c.overlap = s.overlap;
    c.thresholds = s.quality;
    c.band_high_hz = high_hz;
    return c;
}

dsp::MainsDetector::Config mains_config(const AnalysisSettings& s) {
    dsp::MainsDetector::Config c;
    c.detect_s = s.mains_detect_s;
    return c;
}

dsp::EcgCanceller::Config ecg_config(const AnalysisSettings& s) {
    dsp::EcgCanceller::Config c = s.ecg_canceller;
    c.subtract = s.ecg == dsp::EcgMethod::Template;
    return c;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    return s;
}

// Spans from annotations: "TEXT" with a duration, or "START,STOP" label pairs.
std::vector<Contraction> spans_from_annotations(const std::vector<acquisition::Annotation>& notes,
                                                const std::string& spec) {
    std::vector<Contraction> spans;
    const auto comma = spec.find(',');
    if (comma == std::string::npos) {
        for (const auto& a : notes)
            if (lower(a.text) == lower(spec) && a.duration_s > 0.0)
                spans.push_back({a.onset_s, a.onset_s + a.duration_s});
        return spans;
    }
    const std::string start = lower(spec.substr(0, comma)), stop = lower(spec.substr(comma + 1));
    double open = kNan; // onset of the last unmatched START
    for (const auto& a : notes) {
        if (lower(a.text) == start)
            open = a.onset_s;
        else if (lower(a.text) == stop && !std::isnan(open)) {
            spans.push_back({open, a.onset_s});
            open = kNan;
        }
    }
    return spans;
}

// Numbers in messages as the user would type them: 0.5, 1e+09, nan.
std::string num(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

std::string span_text(const Contraction& c) { return num(c.start_s) + ":" + num(c.end_s); }

// NaN fails every comparison, so it is never within a range.
void check_within(double value, double min, double max, const std::string& option,
                  const std::string& unit) {
    if (!(value >= min && value <= max))
        throw std::invalid_argument(option + " must be within " + num(min) + " to " + num(max) +
                                    unit + ", got " + num(value));
}

AnalysisSettings validated(AnalysisSettings settings) {
    validate(settings);
    return settings;
}

// Running sums of one pair over the epochs (or bursts) of a contraction.
struct PairSums {
    std::size_t n = 0;
    double ai_sum = 0.0, ai_sum_sq = 0.0, rms_left_sum = 0.0, rms_right_sum = 0.0;
};

PairFit pair_fit(const PairSums& s, const ChannelFit& left, const ChannelFit& right,
                 double ai_threshold_pct) {
    PairFit f;
    const double n = static_cast<double>(s.n);
    f.epochs = s.n;
    f.ai_mean_pct = n > 0 ? s.ai_sum / n : kNan;
    f.ai_sd_pct =
        n > 1
            ? std::sqrt(std::max(0.0, (s.ai_sum_sq - n * f.ai_mean_pct * f.ai_mean_pct) / (n - 1)))
            : kNan;
    if (n > 1 && std::isfinite(f.ai_sd_pct)) {
        const double t = boost::math::quantile(boost::math::students_t(n - 1.0), 0.975);
        const double half = t * f.ai_sd_pct / std::sqrt(n);
        f.ai_ci95_pct = {f.ai_mean_pct - half, f.ai_mean_pct + half};
    } else {
        f.ai_ci95_pct = {kNan, kNan};
    }
    f.lr_rms_ratio = s.rms_right_sum > 0 ? s.rms_left_sum / s.rms_right_sum : kNan;
    f.mdf_slope_difference_pct_per_s = left.mdf.slope_pct_per_s - right.mdf.slope_pct_per_s;
    f.mdf_initial_difference_hz = left.mdf.initial - right.mdf.initial;
    f.flagged = std::isfinite(f.ai_mean_pct) && std::abs(f.ai_mean_pct) > ai_threshold_pct;
    return f;
}

void withhold(LinearFit& f) {
    f.initial = f.slope_per_s = f.slope_pct_per_s = f.r2 = kNan;
    f.slope_ci95 = {kNan, kNan};
}

} // namespace

void check_sample_rate(double sample_rate_hz, const std::string& what) {
    using L = AnalysisLimits;
    if (!(sample_rate_hz >= L::min_sample_rate_hz && sample_rate_hz <= L::max_sample_rate_hz))
        throw std::invalid_argument(
            what + " " + num(sample_rate_hz) + " Hz is outside the supported range " +
            num(L::min_sample_rate_hz) + " to " + num(L::max_sample_rate_hz) + " Hz");
}

void validate(const AnalysisSettings& s) {
    using L = AnalysisLimits;
    const auto& b = s.band;
    if (!(b.low_hz >= L::min_band_hz && b.high_hz <= L::max_band_hz && b.low_hz < b.high_hz))
        throw std::invalid_argument("--band " + num(b.low_hz) + ":" + num(b.high_hz) +
                                    " must have edges LOW < HIGH within " + num(L::min_band_hz) +
                                    " to " + num(L::max_band_hz) + " Hz");
    if (b.order < L::min_order || b.order > L::max_order)
        throw std::invalid_argument("--order must be within " + std::to_string(L::min_order) +
                                    " to " + std::to_string(L::max_order) + ", got " +
                                    std::to_string(b.order));
    if (s.mains_hz && *s.mains_hz != 0.0 && *s.mains_hz != 50.0 && *s.mains_hz != 60.0)
        throw std::invalid_argument("--mains must be 50, 60, off or auto, got " + num(*s.mains_hz));
    check_within(s.mains_exclude_hz, 0.0, L::max_mains_exclude_hz, "--mains-exclude-hz", " Hz");
    check_within(s.epoch_s, L::min_epoch_s, L::max_epoch_s, "--epoch-s", " s");
    check_within(s.overlap, 0.0, L::max_overlap, "--overlap", "");
    check_within(s.psd.segment_s, L::min_welch_segment_s, L::max_welch_segment_s,
                 "--welch-segment-s", " s");
    for (const auto& [a, b_s] : s.segments_s) {
        const std::string text = "--segment " + num(a) + ":" + num(b_s);
        if (!(std::isfinite(a) && std::isfinite(b_s) && a >= 0.0 && b_s > a))
            throw std::invalid_argument(text +
                                        " must be START:END with 0 <= START < END (seconds)");
        // A fit needs epochs inside the contraction; a shorter segment would hold none.
        if (b_s - a < s.epoch_s)
            throw std::invalid_argument(text + " is " + num(b_s - a) +
                                        " s long, shorter than one epoch (--epoch-s " +
                                        num(s.epoch_s) + ")");
    }
    check_within(s.ai_threshold_pct, 0.0, L::max_ai_threshold_pct, "--ai-threshold-pct", " %");
    // The ECG high-pass replaces the band's lower edge.
    if (s.ecg == dsp::EcgMethod::Highpass &&
        !(s.ecg_highpass_hz > 0.0 && s.ecg_highpass_hz < b.high_hz))
        throw std::invalid_argument("--ecg highpass raises the band's lower edge to " +
                                    num(s.ecg_highpass_hz) + " Hz: --band needs HIGH above it");
}

std::string to_string(Jasa jasa) {
    switch (jasa) {
    case Jasa::Fatigue: return "fatigue";
    case Jasa::ForceIncrease: return "force_increase";
    case Jasa::ForceDecrease: return "force_decrease";
    case Jasa::Recovery: return "recovery";
    default: return "undetermined";
    }
}

Jasa jasa_of(double mdf_slope, double rms_slope) {
    if (!std::isfinite(mdf_slope) || !std::isfinite(rms_slope))
        return Jasa::Undetermined;
    if (mdf_slope < 0)
        return rms_slope > 0 ? Jasa::Fatigue : Jasa::ForceDecrease;
    return rms_slope > 0 ? Jasa::ForceIncrease : Jasa::Recovery;
}

FatigueAnalysis::FatigueAnalysis(AnalysisSettings settings)
    : settings_(validated(std::move(settings))), bandpass_(band_config(settings_)),
      analyzer_(analyzer_config(settings_, settings_.band.high_hz)),
      mains_(mains_config(settings_)), notch_({settings_.mains_notch_hz}),
      ecg_(ecg_config(settings_)), quality_(quality_config(settings_, settings_.band.high_hz)),
      detector_(settings_.detector), detect_band_(band_config(settings_)),
      detect_notch_({settings_.mains_notch_hz}) {
    if (settings_.contractions == ContractionMode::Segments && settings_.segments_s.empty())
        throw std::invalid_argument("segment mode needs at least one segment");
    if (!(settings_.fit.min_share >= 0.0 && settings_.fit.min_share <= 1.0))
        throw std::invalid_argument(
            "the minimum share of usable epochs for a fit must be in [0, 1]");
    if (!(settings_.rest_noise_ratio >= 1.0) ||
        !(settings_.rest_activity_fraction >= 0.0 && settings_.rest_activity_fraction < 1.0))
        throw std::invalid_argument(
            "rest detection needs a noise ratio >= 1 and an activity fraction in [0, 1)");
}

void FatigueAnalysis::prepare(const acquisition::SourceInfo& info,
                              const std::function<void(const std::string&)>& warn) {
    check_sample_rate(info.sample_rate_hz, "sample rate");
    try {
        dsp::epoch_geometry(settings_.epoch_s, settings_.overlap, info.sample_rate_hz);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("--epoch-s/--overlap: ") + e.what());
    }
    sample_rate_hz_ = info.sample_rate_hz;
    if (info.channels.empty())
        throw std::invalid_argument("the recording has no EMG channels");
    std::vector<std::string> all_labels;
    for (const auto& ch : info.channels)
        all_labels.push_back(ch.label);
    const Montage montage = settings_.montage ? *settings_.montage : infer_montage(all_labels);
    montage_notices_ = montage.notices;

    selected_.clear();
    if (settings_.channels.empty()) {
        for (std::size_t c = 0; c < info.channels.size(); ++c)
            if (montage.channels[c].is_emg)
                selected_.push_back(c);
        if (selected_.empty())
            throw std::invalid_argument("the recording has no EMG channels");
    } else {
        for (const auto& want : settings_.channels) {
            auto it = std::find(all_labels.begin(), all_labels.end(), want);
            if (it == all_labels.end()) {
                std::string known;
                for (const auto& l : all_labels)
                    known += (known.empty() ? "" : ", ") + l;
                throw std::invalid_argument("channel '" + want +
                                            "' is not in the recording (it has: " + known + ")");
            }
            selected_.push_back(static_cast<std::size_t>(it - all_labels.begin()));
        }
    }
    labels_.clear();
    sites_.clear();
    for (auto c : selected_) {
        labels_.push_back(all_labels[c]);
        sites_.push_back(montage.channels[c]);
    }
    pairs_.clear();
    for (const auto& p : bilateral_pairs(montage)) {
        auto l = std::find(selected_.begin(), selected_.end(), p.left);
        auto r = std::find(selected_.begin(), selected_.end(), p.right);
        if (l == selected_.end() || r == selected_.end())
            continue;
        pairs_.push_back({static_cast<std::size_t>(l - selected_.begin()),
                          static_cast<std::size_t>(r - selected_.begin()), p.muscle, p.level});
    }
    if (!settings_.mvc_rms_uv.empty() && settings_.mvc_rms_uv.size() != selected_.size())
        throw std::invalid_argument(
            "MVC references cover " + std::to_string(settings_.mvc_rms_uv.size()) +
            " channels, the analysis has " + std::to_string(selected_.size()));

    const dsp::StreamSpec spec{info.sample_rate_hz, selected_.size()};
    bandpass_ = dsp::Bandpass(band_config(settings_));
    try {
        bandpass_.prepare(spec);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("--band: ") + e.what());
    }
    // A slow board (Cyton 250 Hz, Cyton-Daisy 125 Hz): the analysis runs on the band below
    // 0.45 fs, said once here and recorded once in summary.json (low_rate), not per epoch.
    if (info.sample_rate_hz < settings_.quality.min_sample_rate_hz)
        warn("sample rate " + num(info.sample_rate_hz) + " Hz is below " +
             num(settings_.quality.min_sample_rate_hz) + " Hz: the analysis runs on " +
             num(band_config(settings_).low_hz) + "-" + num(bandpass_.effective_high_hz()) +
             " Hz (0.45 x the sample rate" +
             (bandpass_.clamped()
                  ? "; --band asked for up to " + num(settings_.band.high_hz) + " Hz"
                  : std::string()) +
             "), so MDF and MNF are band-limited, biased low and not comparable with recordings "
             "at 1 kHz or more (summary.json: low_rate)");
    else if (bandpass_.clamped())
        warn("band-pass upper edge " + num(settings_.band.high_hz) + " Hz clamped to " +
             num(bandpass_.effective_high_hz()) + " Hz (0.45 x the sample rate)");
    analyzer_ = dsp::EpochAnalyzer(analyzer_config(settings_, bandpass_.effective_high_hz()));
    analyzer_.prepare(spec);
    if (!settings_.mains_hz) {
        mains_ = dsp::MainsDetector(mains_config(settings_));
        mains_.prepare(spec, bandpass_.effective_high_hz());
    }
    notch_ = dsp::MainsNotch({settings_.mains_notch_hz});
    notch_.prepare(spec, bandpass_.effective_high_hz());
    notch_.set_mains_hz(analyzer_.mains_hz());
    quality_ = dsp::QualityAnalyzer(quality_config(settings_, bandpass_.effective_high_hz()));
    std::vector<dsp::ChannelLimits> limits;
    for (auto c : selected_) {
        dsp::ChannelLimits l;
        const auto& ch = info.channels[c];
        if (ch.physical_min_uv && ch.physical_max_uv) {
            l.min_uv = *ch.physical_min_uv;
            l.max_uv = *ch.physical_max_uv;
            l.resolution_uv = ch.resolution_uv.value_or(0.0);
        }
        limits.push_back(l);
    }
    quality_.prepare(spec, std::move(limits));

    // The QRS detector listens to an ECG lead if the recording has one (a non-EMG channel whose
    // label says ECG or EKG), else to the analysed EMG channels themselves.
    ecg_channel_.reset();
    for (std::size_t c = 0; c < info.channels.size() && !ecg_channel_; ++c) {
        const std::string l = lower(all_labels[c]);
        if (!montage.channels[c].is_emg &&
            (l.find("ecg") != std::string::npos || l.find("ekg") != std::string::npos))
            ecg_channel_ = c;
    }
    ecg_source_ = ecg_channel_ ? "ECG channel '" + all_labels[*ecg_channel_] + "'"
                               : "EMG channels (sum of normalised 5-15 Hz energies)";
    ecg_ = dsp::EcgCanceller(ecg_config(settings_));
    ecg_.prepare(spec, ecg_channel_ ? 1 : selected_.size());
    warmup_open_ = ecg_.delay_frames() > 0; // template subtraction
    held_.clear();
    raw_delay_.prepare(spec, ecg_.delay_frames());
    raw_ = dsp::Block(selected_.size(), kWorkFrames);
    detect_ = dsp::Block(ecg_channel_ ? 1 : 0, kWorkFrames);
    last_detect_.assign(ecg_channel_ ? 1 : selected_.size(), 0.0f);
    fed_ = emitted_ = 0;
    notch_on_frame_.reset();
    flushed_ = false;
    merged_ = dsp::EpochFrame{};
    merged_.channels.assign(selected_.size(), dsp::EpochFeatures{});
    whole_flags_.assign(selected_.size(), {});
    floor_rms_uv_.assign(selected_.size(), std::numeric_limits<double>::infinity());
    work_rms_uv_.assign(selected_.size(), 0.0);

    // Where the contractions come from.
    fixed_spans_.clear();
    mode_ = settings_.contractions;
    if (mode_ == ContractionMode::Segments) {
        for (const auto& [a, b] : settings_.segments_s)
            fixed_spans_.push_back({a, b});
        contraction_source_ = "segments";
    } else if (settings_.live_marks &&
               (mode_ == ContractionMode::Auto || mode_ == ContractionMode::Annotations)) {
        // Marked live: detection meanwhile (Auto), the marks once there is one.
        contraction_source_ = "annotations '" + settings_.annotation + "'";
        if (mode_ == ContractionMode::Auto)
            mode_ = ContractionMode::Detect;
    } else if (mode_ == ContractionMode::Auto || mode_ == ContractionMode::Annotations) {
        fixed_spans_ = spans_from_annotations(info.annotations, settings_.annotation);
        if (!fixed_spans_.empty()) {
            mode_ = ContractionMode::Annotations;
            contraction_source_ = "annotations '" + settings_.annotation + "'";
        } else if (mode_ == ContractionMode::Annotations) {
            throw std::invalid_argument("no '" + settings_.annotation +
                                        "' annotations in the recording");
        } else {
            mode_ = ContractionMode::Detect;
        }
    }
    if (mode_ == ContractionMode::Detect) {
        // Every EMG channel of the recording, so that --channels does not move the segments.
        detect_channels_.clear();
        for (std::size_t c = 0; c < info.channels.size(); ++c)
            if (montage.channels[c].is_emg)
                detect_channels_.push_back(c);
        if (detect_channels_.empty())
            detect_channels_ = selected_;
        detect_band_ = dsp::Bandpass(band_config(settings_));
        detect_band_.prepare({info.sample_rate_hz, detect_channels_.size()});
        detect_notch_ = dsp::MainsNotch({settings_.mains_notch_hz});
        detect_notch_.prepare({info.sample_rate_hz, detect_channels_.size()},
                              detect_band_.effective_high_hz());
        detect_notch_.set_mains_hz(analyzer_.mains_hz());
        detect_work_ = dsp::Block(detect_channels_.size(), kWorkFrames);
        detector_ = ContractionDetector(settings_.detector);
        detector_.prepare(info.sample_rate_hz);
        contraction_source_ = "detected from the amplitude envelope";
    }
    if (mode_ == ContractionMode::Whole) {
        fixed_spans_ = {{0.0, kInf}};
        contraction_source_ = "whole recording";
    }
    if (info.total_frames) {
        const double duration = static_cast<double>(*info.total_frames) / info.sample_rate_hz;
        for (const auto& s : fixed_spans_)
            if (s.start_s >= duration || (std::isfinite(s.end_s) && s.end_s > duration + kEps))
                throw std::invalid_argument("segment " + span_text(s) +
                                            " s is outside the recording (0:" + num(duration) +
                                            " s)");
    }

    whole_ = make_accumulators({0.0, kInf});
    marked_.clear();
    marks_decided_s_ = 0.0;
    contractions_.clear();
    for (const auto& s : fixed_spans_)
        contractions_.push_back(make_accumulators(s));

    work_ = dsp::Block(selected_.size(), kWorkFrames);
    frames_ = 0;
    epochs_ = 0;
    pending_.clear();
    derived_.rms_pct_mvc.assign(selected_.size(), kNan);
    derived_.ai_pct.assign(pairs_.size(), kNan);
    derived_.lr_ratio.assign(pairs_.size(), kNan);
}

void FatigueAnalysis::process(dsp::ConstBlockRef raw, const EpochObserver& observer) {
    if (flushed_)
        throw std::logic_error("FatigueAnalysis::process() after flush()");
    for (std::size_t done = 0; done < raw.frames;) {
        const std::size_t n = std::min(kWorkFrames, raw.frames - done);
        const auto check = [&](const float* src, const std::string& label) {
            for (std::size_t i = 0; i < n; ++i)
                if (!std::isfinite(src[i]))
                    throw std::invalid_argument(
                        "channel '" + label + "': non-finite sample (" + num(src[i]) + ") at " +
                        num(static_cast<double>(frames_ + i) / sample_rate_hz_) + " s");
        };
        work_.set_frames(n);
        raw_.set_frames(n);
        for (std::size_t c = 0; c < selected_.size(); ++c) {
            const float* src = raw.channel(selected_[c]) + done;
            check(src, labels_[c]);
            std::copy(src, src + n, work_.channel(c));
            std::copy(src, src + n, raw_.channel(c));
        }
        if (ecg_channel_) {
            const float* src = raw.channel(*ecg_channel_) + done;
            check(src, "ECG");
            detect_.set_frames(n);
            std::copy(src, src + n, detect_.channel(0));
        }
        const dsp::ConstBlockRef detect = ecg_channel_ ? detect_.cref() : raw_.cref();
        for (std::size_t d = 0; d < last_detect_.size(); ++d)
            last_detect_[d] = detect.channel(d)[n - 1];

        filter_detection_input(raw, done, n);
        bandpass_.process(work_.ref());
        frames_ += n; // frames of real input so far (run_delayed emits up to here)
        push(n, detect, true, observer);
        done += n;
    }
}

// work_ (band-passed), raw_ and `detect` hold n new input frames. They go through the mains
// detector, the ECG stage and the raw delay in pieces that end where the delayed output completes
// an epoch, so that every epoch sees the mains decision and the ECG state of the same input
// frame however the input was split into blocks (chunk invariance).
void FatigueAnalysis::push(std::size_t n, dsp::ConstBlockRef detect, bool real,
                           const EpochObserver& observer) {
    const std::size_t channels = selected_.size();
    const std::uint64_t delay = ecg_.delay_frames();
    for (std::size_t off = 0; off < n;) {
        std::size_t k = n - off;
        const std::uint64_t epoch_end = emitted_ + analyzer_.frames_to_epoch(); // in output frames
        if (emitted_ < frames_ && epoch_end + delay > fed_)
            k = static_cast<std::size_t>(std::min<std::uint64_t>(k, epoch_end + delay - fed_));
        if (!settings_.mains_hz)
            notch_.set_mains_hz(mains_.frequency_hz()); // as decided so far
        if (real && !settings_.mains_hz && !mains_.final()) {
            // A piece ends where the detector may decide, so that the notch switches at the same
            // input frame (the start of the next piece) however the input was split.
            k = std::min(k, mains_.frames_to_block());
            mains_.process(work_.cref().slice(off, k));
            analyzer_.set_mains_hz(mains_.frequency_hz());
            if (!notch_on_frame_ && mains_.frequency_hz() > 0.0)
                notch_on_frame_ = fed_ + k;
        }
        notch_.process({work_.channel(0) + off, k, channels, work_.capacity()});
        if (real)
            feed_detector(off, k);
        ecg_.process(detect.slice(off, k), {work_.channel(0) + off, k, channels, work_.capacity()});
        raw_delay_.process({raw_.channel(0) + off, k, channels, raw_.capacity()});
        run_delayed(off, k, observer);
        off += k;
    }
}

// The detector hears the input as it comes (ahead of the analysed stream by the ECG stage's
// delay, which only lets epochs be classified sooner), band-passed and, once mains is known,
// notched as the analysed channels are: mains at the EMG's strength would otherwise read as
// activity. A non-finite sample on a channel that is not analysed counts as 0 here: it must not
// silence detection for the rest of the recording.
void FatigueAnalysis::filter_detection_input(dsp::ConstBlockRef raw, std::size_t offset,
                                             std::size_t n) {
    if (mode_ != ContractionMode::Detect)
        return;
    detect_work_.set_frames(n);
    for (std::size_t d = 0; d < detect_channels_.size(); ++d) {
        const float* src = raw.channel(detect_channels_[d]) + offset;
        float* dst = detect_work_.channel(d);
        for (std::size_t i = 0; i < n; ++i)
            dst[i] = std::isfinite(src[i]) ? src[i] : 0.0f;
    }
    detect_band_.process(detect_work_.ref());
}

// Frames [off, off + k) of the chunk in detect_work_, in push()'s pieces: the notch switches on
// at the same input frame as the analysed channels' notch.
void FatigueAnalysis::feed_detector(std::size_t off, std::size_t k) {
    if (mode_ != ContractionMode::Detect)
        return;
    detect_notch_.set_mains_hz(notch_.mains_hz());
    const dsp::BlockRef piece{detect_work_.channel(0) + off, k, detect_channels_.size(),
                              detect_work_.capacity()};
    detect_notch_.process(piece);
    detector_.process(piece);
}

void FatigueAnalysis::note_gap(std::uint64_t lost_frames) {
    quality_.note_gap(frames_, lost_frames);
}

void FatigueAnalysis::flush(const EpochObserver& observer) {
    if (flushed_)
        return;
    flushed_ = true;
    // The ECG stage and the raw delay hold delay_frames() of real input: push that many more
    // frames (the detection input holds its last value, so its filter sees no step).
    for (std::size_t left = ecg_.delay_frames(); left > 0;) {
        const std::size_t n = std::min(kWorkFrames, left);
        work_.set_frames(n);
        raw_.set_frames(n);
        for (std::size_t c = 0; c < selected_.size(); ++c) {
            std::fill(work_.channel(c), work_.channel(c) + n, 0.0f);
            std::fill(raw_.channel(c), raw_.channel(c) + n, 0.0f);
        }
        dsp::Block hold(last_detect_.size(), n);
        hold.set_frames(n);
        for (std::size_t d = 0; d < last_detect_.size(); ++d)
            std::fill(hold.channel(d), hold.channel(d) + n, last_detect_[d]);
        push(n, hold.cref(), false, observer);
        left -= n;
    }
    release_held(observer); // the recording ended during the warm-up: as decided so far
}

// The delay stages have just produced n frames at `at` in work_ and raw_: input frames
// [fed_ − D, fed_ − D + n). Pass on those that are real input (not the warm-up before frame 0,
// not the flush after the end).
void FatigueAnalysis::run_delayed(std::size_t at, std::size_t n, const EpochObserver& observer) {
    const std::int64_t first =
        static_cast<std::int64_t>(fed_) - static_cast<std::int64_t>(ecg_.delay_frames());
    fed_ += n;
    const std::int64_t lo = std::max<std::int64_t>(first, static_cast<std::int64_t>(emitted_));
    const std::int64_t hi = std::min<std::int64_t>(first + static_cast<std::int64_t>(n),
                                                   static_cast<std::int64_t>(frames_));
    if (hi <= lo)
        return;
    const auto offset = at + static_cast<std::size_t>(lo - first),
               len = static_cast<std::size_t>(hi - lo);
    emitted_ += len;
    const dsp::ConstBlockRef analysed = work_.cref().slice(offset, len);
    const dsp::ConstBlockRef raw = raw_.cref().slice(offset, len);
    // Quality and features in lockstep: pieces end where an epoch ends, so that the quality
    // frame of epoch k is at hand when the analyser emits epoch k.
    for (std::size_t off = 0; off < len;) {
        const std::size_t k = std::min(len - off, analyzer_.frames_to_epoch());
        const dsp::QualityFrame* quality = nullptr;
        quality_.process(raw.slice(off, k), analysed.slice(off, k), &ecg_,
                         [&](const dsp::QualityFrame& q) { quality = &q; });
        analyzer_.process(analysed.slice(off, k), [&](const dsp::EpochFrame& frame) {
            on_epoch(frame, quality, observer);
        });
        off += k;
    }
    classify_pending(false);
}

void FatigueAnalysis::on_epoch(const dsp::EpochFrame& frame, const dsp::QualityFrame* quality,
                               const EpochObserver& observer) {
    merged_.index = frame.index;
    merged_.first_frame = frame.first_frame;
    merged_.t_start_s = frame.t_start_s;
    merged_.t_end_s = frame.t_end_s;
    std::copy(frame.channels.begin(), frame.channels.end(), merged_.channels.begin());
    for (std::size_t c = 0; c < merged_.channels.size(); ++c) {
        auto& f = merged_.channels[c];
        if (quality) {
            f.quality |= quality->flags[c];
            f.metrics = quality->metrics[c];
        }
    }
    if (warmup_open_ && ecg_.warming_up()) {
        held_.push_back(merged_);
        return;
    }
    release_held(observer);
    emit(merged_, observer);
}

// The warm-up is over (or the recording is): the held epochs go on, with ecg_warmup on the
// channels the canceller now cleans (none if it found no ECG).
void FatigueAnalysis::release_held(const EpochObserver& observer) {
    if (!warmup_open_)
        return;
    warmup_open_ = false;
    for (auto& frame : held_) {
        for (std::size_t c = 0; c < frame.channels.size(); ++c)
            if (ecg_.subtracting(c))
                frame.channels[c].quality |= dsp::EcgWarmup;
        emit(frame, observer);
    }
    held_.clear();
}

// Detected mains (auto): the notch switches on where the detector decided (the end of its first
// 1 s block, or later) and takes 3 time constants, 3 / (π × width) (0.95 s at 1 Hz), to settle:
// the line's amplitude is then down to e^-3 = 5 % (0.25 % of its power). Epochs that start before
// then kept the mains line: they are flagged mains, as uncleaned.
void FatigueAnalysis::flag_unnotched(dsp::EpochFrame& frame) const {
    if (!notch_on_frame_ || settings_.mains_notch_hz <= 0.0)
        return;
    const double settle_s = 3.0 / (std::numbers::pi * settings_.mains_notch_hz);
    const auto settled =
        *notch_on_frame_ + static_cast<std::uint64_t>(std::ceil(settle_s * sample_rate_hz_));
    if (frame.first_frame >= settled)
        return;
    for (auto& f : frame.channels)
        f.quality |= dsp::MainsDominant;
}

void FatigueAnalysis::flag_rest(dsp::EpochFrame& frame) {
    for (std::size_t c = 0; c < frame.channels.size(); ++c) {
        auto& f = frame.channels[c];
        if (f.quality != 0 || !std::isfinite(f.rms_uv))
            continue;
        floor_rms_uv_[c] = std::min(floor_rms_uv_[c], f.rms_uv);
        work_rms_uv_[c] = std::max(work_rms_uv_[c], f.rms_uv);
        if (f.rms_uv < settings_.rest_noise_ratio * floor_rms_uv_[c] &&
            f.rms_uv < settings_.rest_activity_fraction * work_rms_uv_[c])
            f.quality |= dsp::Rest;
    }
}

void FatigueAnalysis::emit(dsp::EpochFrame& frame, const EpochObserver& observer) {
    flag_unnotched(frame);
    flag_rest(frame);
    for (std::size_t c = 0; c < frame.channels.size(); ++c)
        for (std::size_t b = 0; b < dsp::kQualityFlagCount; ++b)
            if (frame.channels[c].quality & (1u << b))
                ++whole_flags_[c][b];
    ++epochs_;
    derive(frame);
    if (observer)
        observer(frame, derived_);
    pending_.push_back({frame.t_start_s, frame.t_end_s, frame.channels, derived_.ai_pct});
}

void FatigueAnalysis::derive(const dsp::EpochFrame& frame) {
    const bool mvc = !settings_.mvc_rms_uv.empty();
    for (std::size_t c = 0; c < selected_.size(); ++c)
        derived_.rms_pct_mvc[c] =
            mvc ? 100.0 * frame.channels[c].rms_uv / settings_.mvc_rms_uv[c] : kNan;
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
        const double l_rms = frame.channels[pairs_[p].left].rms_uv,
                     r_rms = frame.channels[pairs_[p].right].rms_uv;
        const double l = mvc ? derived_.rms_pct_mvc[pairs_[p].left] : l_rms;
        const double r = mvc ? derived_.rms_pct_mvc[pairs_[p].right] : r_rms;
        derived_.ai_pct[p] = l + r > 0.0 ? 100.0 * (l - r) / (l + r) : kNan;
        derived_.lr_ratio[p] = r_rms > 0.0 ? l_rms / r_rms : kNan;
    }
}

const std::vector<Contraction>& FatigueAnalysis::current_spans() const {
    return mode_ == ContractionMode::Detect ? detector_.periods() : fixed_spans_;
}

void FatigueAnalysis::mark_contraction(double start_s, double end_s) {
    if (!settings_.live_marks)
        return;
    for (auto& m : marked_)
        if (m.span.start_s == start_s) {
            m.span.end_s = end_s;
            return;
        }
    marked_.push_back(make_accumulators({start_s, end_s}));
}

void FatigueAnalysis::classify_pending(bool final) {
    double decided = final || mode_ != ContractionMode::Detect ? kInf : detector_.decided_until_s();
    if (settings_.live_marks && !final)
        decided = std::min(decided, marks_decided_s_);
    if (pending_.empty() || pending_.front().t_end_s > decided)
        return;
    const auto& spans = current_spans();
    while (!pending_.empty() && pending_.front().t_end_s <= decided) {
        const auto& e = pending_.front();
        add_epoch(whole_, e);
        for (auto& m : marked_)
            if (e.t_start_s >= m.span.start_s - kEps && e.t_end_s <= m.span.end_s + kEps)
                add_epoch(m, e);
        for (const auto& span : spans) {
            if (e.t_start_s < span.start_s - kEps || e.t_end_s > span.end_s + kEps)
                continue;
            auto it =
                std::find_if(contractions_.begin(), contractions_.end(),
                             [&](const Accumulators& a) { return a.span.start_s == span.start_s; });
            if (it == contractions_.end()) {
                contractions_.push_back(make_accumulators(span));
                it = std::prev(contractions_.end());
            }
            add_epoch(*it, e);
        }
        pending_.pop_front();
    }
}

FatigueAnalysis::Accumulators FatigueAnalysis::make_accumulators(Contraction span) const {
    Accumulators a;
    a.span = span;
    a.counts.assign(selected_.size(), {});
    a.mdf.assign(selected_.size(), {});
    a.mnf.assign(selected_.size(), {});
    a.rms.assign(selected_.size(), {});
    a.pair_n.assign(pairs_.size(), 0);
    a.ai_sum.assign(pairs_.size(), 0.0);
    a.ai_sum_sq = a.rms_left_sum = a.rms_right_sum = a.ai_sum;
    return a;
}

void FatigueAnalysis::add_epoch(Accumulators& acc, const PendingEpoch& e) {
    const double x = 0.5 * (e.t_start_s + e.t_end_s) - acc.span.start_s;
    std::vector<bool> used(e.channels.size(), false);
    for (std::size_t c = 0; c < e.channels.size(); ++c) {
        const auto& f = e.channels[c];
        auto& count = acc.counts[c];
        ++count.epochs;
        for (std::size_t b = 0; b < dsp::kQualityFlagCount; ++b)
            if (f.quality & (1u << b))
                ++count.flag_counts[b];
        if ((f.quality & settings_.exclude_flags) != 0) {
            ++count.flagged_epochs;
            if (!settings_.keep_flagged)
                continue;
        }
        used[c] = true;
        if (std::isfinite(f.mdf_hz))
            acc.mdf[c].add(x, f.mdf_hz);
        if (std::isfinite(f.mnf_hz))
            acc.mnf[c].add(x, f.mnf_hz);
        acc.rms[c].add(x, f.rms_uv);
    }
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
        if (!used[pairs_[p].left] || !used[pairs_[p].right] || !std::isfinite(e.ai_pct[p]))
            continue;
        ++acc.pair_n[p];
        acc.ai_sum[p] += e.ai_pct[p];
        acc.ai_sum_sq[p] += e.ai_pct[p] * e.ai_pct[p];
        acc.rms_left_sum[p] += e.channels[pairs_[p].left].rms_uv;
        acc.rms_right_sum[p] += e.channels[pairs_[p].right].rms_uv;
    }
}

// Rest epochs are not part of the contraction's work: they do not count against its share.
void FatigueAnalysis::withhold_unfit(ChannelFit& f, std::size_t used, std::size_t total) const {
    f.fit_epochs = used;
    constexpr std::size_t rest_bit = std::countr_zero(static_cast<unsigned>(dsp::Rest));
    const std::size_t rest = (settings_.exclude_flags & dsp::Rest) && !settings_.keep_flagged
                                 ? f.flag_counts[rest_bit]
                                 : 0;
    f.no_fit_reason = fit_refusal(used, total - std::min(total, rest), settings_.fit);
    if (f.no_fit_reason.empty())
        return;
    withhold(f.mdf);
    withhold(f.mnf);
    withhold(f.rms);
    f.jasa = Jasa::Undetermined;
}

ContractionResult FatigueAnalysis::result_of(const Accumulators& acc,
                                             const Contraction& span) const {
    ContractionResult r;
    r.start_s = span.start_s;
    r.end_s = std::min(span.end_s, static_cast<double>(frames_) / sample_rate_hz_);
    for (std::size_t c = 0; c < selected_.size(); ++c) {
        ChannelFit f = acc.counts[c];
        f.mdf = acc.mdf[c].result();
        f.mnf = acc.mnf[c].result();
        f.rms = acc.rms[c].result();
        f.jasa = jasa_of(f.mdf.slope_per_s, f.rms.slope_per_s);
        withhold_unfit(f, acc.mdf[c].count(), f.epochs);
        r.channels.push_back(f);
    }
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
        const PairSums sums{acc.pair_n[p], acc.ai_sum[p], acc.ai_sum_sq[p], acc.rms_left_sum[p],
                            acc.rms_right_sum[p]};
        r.pairs.push_back(pair_fit(sums, r.channels[pairs_[p].left], r.channels[pairs_[p].right],
                                   settings_.ai_threshold_pct));
    }
    return r;
}

// Repeated bursts: per channel one point per finished burst, at the mean time of its usable
// epochs, with their mean MDF, MNF and RMS; the lines are fitted through those points (the way
// fatigue is followed over cycles of dynamic work). A burst still going on gives no point yet.
ContractionResult FatigueAnalysis::result_of_bursts(const Contraction& series) const {
    ContractionResult r;
    r.start_s = series.start_s;
    r.end_s = std::min(series.end_s, static_cast<double>(frames_) / sample_rate_hz_);
    r.bursts = true;
    r.burst_count = series.periods;
    const std::size_t channels = selected_.size();
    std::vector<ChannelFit> fits(channels);
    std::vector<LinearFitAccumulator> mdf(channels), mnf(channels), rms(channels);
    std::vector<PairSums> pairs(pairs_.size());
    const auto& periods = detector_.periods();
    for (std::size_t k = series.first_period; k < series.first_period + series.periods; ++k) {
        const auto& burst = periods[k];
        if (!std::isfinite(burst.end_s))
            continue;
        const auto acc =
            std::find_if(contractions_.begin(), contractions_.end(),
                         [&](const Accumulators& a) { return a.span.start_s == burst.start_s; });
        if (acc == contractions_.end())
            continue; // shorter than an epoch
        const double offset = burst.start_s - series.start_s;
        for (std::size_t c = 0; c < channels; ++c) {
            auto& f = fits[c];
            const auto& counts = acc->counts[c];
            f.epochs += counts.epochs;
            f.flagged_epochs += counts.flagged_epochs;
            for (std::size_t b = 0; b < dsp::kQualityFlagCount; ++b)
                f.flag_counts[b] += counts.flag_counts[b];
            if (acc->mdf[c].count() > 0) {
                mdf[c].add(offset + acc->mdf[c].mean_x(), acc->mdf[c].mean_y());
                f.fit_epochs += acc->mdf[c].count();
                ++f.fit_bursts;
            }
            if (acc->mnf[c].count() > 0)
                mnf[c].add(offset + acc->mnf[c].mean_x(), acc->mnf[c].mean_y());
            if (acc->rms[c].count() > 0)
                rms[c].add(offset + acc->rms[c].mean_x(), acc->rms[c].mean_y());
        }
        for (std::size_t p = 0; p < pairs_.size(); ++p) {
            pairs[p].n += acc->pair_n[p];
            pairs[p].ai_sum += acc->ai_sum[p];
            pairs[p].ai_sum_sq += acc->ai_sum_sq[p];
            pairs[p].rms_left_sum += acc->rms_left_sum[p];
            pairs[p].rms_right_sum += acc->rms_right_sum[p];
        }
    }
    for (std::size_t c = 0; c < channels; ++c) {
        auto& f = fits[c];
        f.mdf = mdf[c].result();
        f.mnf = mnf[c].result();
        f.rms = rms[c].result();
        f.jasa = jasa_of(f.mdf.slope_per_s, f.rms.slope_per_s);
        const std::size_t used = f.fit_epochs;
        withhold_unfit(f, used, f.epochs);
        const std::size_t min_bursts = settings_.detector.min_bursts;
        if (f.no_fit_reason.empty() && f.fit_bursts < min_bursts) {
            f.no_fit_reason =
                fmt::format("{} bursts with usable epochs; a fit across bursts needs at least {}",
                            f.fit_bursts, min_bursts);
            withhold(f.mdf);
            withhold(f.mnf);
            withhold(f.rms);
            f.jasa = Jasa::Undetermined;
        }
        r.channels.push_back(f);
    }
    for (std::size_t p = 0; p < pairs_.size(); ++p)
        r.pairs.push_back(pair_fit(pairs[p], r.channels[pairs_[p].left],
                                   r.channels[pairs_[p].right], settings_.ai_threshold_pct));
    return r;
}

AnalysisResult FatigueAnalysis::finish() {
    flush({});
    classify_pending(true);
    if (settings_.live_marks && settings_.contractions == ContractionMode::Annotations &&
        marked_.empty())
        throw std::invalid_argument("no contraction was marked (--contractions annotations)");
    const double duration_s = static_cast<double>(frames_) / sample_rate_hz_;
    for (const auto& s : fixed_spans_)
        if (s.start_s >= duration_s || (std::isfinite(s.end_s) && s.end_s > duration_s + kEps))
            throw std::invalid_argument("segment " + span_text(s) +
                                        " s is outside the recording (0:" + num(duration_s) +
                                        " s)");
    return snapshot();
}

AnalysisResult FatigueAnalysis::snapshot() const {
    const double duration_s = static_cast<double>(frames_) / sample_rate_hz_;
    AnalysisResult r;
    r.sample_rate_hz = sample_rate_hz_;
    r.frames = frames_;
    r.duration_s = duration_s;
    r.effective_high_hz = bandpass_.effective_high_hz();
    r.epochs = epochs_;
    r.labels = labels_;
    r.sites = sites_;
    r.pairs = pairs_;
    r.mvc = !settings_.mvc_rms_uv.empty();
    r.contraction_source = contraction_source_;
    if (!marked_.empty()) {
        // Marked live: as a file's annotations (the recording holds them).
        r.contraction_source = "annotations '" + settings_.annotation + "'";
        for (const auto& acc : marked_)
            r.contractions.push_back(result_of(acc, acc.span));
    } else if (mode_ == ContractionMode::Detect) {
        // The detector's grouping of its activity periods so far: holds and burst series.
        for (const auto& con : detector_.contractions()) {
            if (con.bursts) {
                r.contractions.push_back(result_of_bursts(con));
                continue;
            }
            const auto acc =
                std::find_if(contractions_.begin(), contractions_.end(),
                             [&](const Accumulators& a) { return a.span.start_s == con.start_s; });
            if (acc != contractions_.end())
                r.contractions.push_back(result_of(*acc, con));
        }
    } else {
        for (const auto& acc : contractions_)
            r.contractions.push_back(result_of(acc, acc.span));
    }
    if (r.contractions.empty()) {
        r.contractions.push_back(result_of(whole_, whole_.span));
        r.contraction_source = mode_ == ContractionMode::Detect
                                   ? "whole recording (no contraction detected)"
                                   : "whole recording";
        if (mode_ == ContractionMode::Detect) {
            const auto& d = settings_.detector;
            r.contraction_warning = fmt::format(
                "no contraction detected ({} activity periods; a hold needs {:g} s, repeated bursts at least {} "
                "periods shorter than {:g} s at most {:g} s apart): fits are over the whole recording, rest "
                "included; give --segment or --contractions whole to choose",
                detector_.periods().size(), d.min_duration_s, d.min_bursts, d.burst_max_s,
                d.burst_gap_max_s);
        }
    }

    r.band_low_hz = bandpass_.low_hz();
    if (!settings_.mains_hz) {
        r.mains.mode = "auto";
        r.mains.detection = mains_.report();
        r.mains.frequency_hz = analyzer_.mains_hz();
    } else {
        r.mains.mode = *settings_.mains_hz == 0.0 ? "off" : "fixed";
        r.mains.frequency_hz = *settings_.mains_hz;
    }
    r.ecg.method = settings_.ecg;
    r.ecg.source = ecg_source_;
    r.ecg.delay_s = static_cast<double>(ecg_.delay_frames()) / sample_rate_hz_;
    r.ecg.highpass_hz = settings_.ecg == dsp::EcgMethod::Highpass ? settings_.ecg_highpass_hz : 0.0;
    r.ecg.report = ecg_.report();

    for (std::size_t c = 0; c < selected_.size(); ++c) {
        ChannelQuality q;
        q.epochs = whole_.counts[c].epochs;
        q.flag_counts = whole_flags_[c];
        std::array<std::size_t, dsp::kQualityFlagCount> in_contractions{};
        // Rest is no fault of the signal: the verdict is over the epochs of work.
        constexpr std::size_t rest_bit = std::countr_zero(static_cast<unsigned>(dsp::Rest));
        for (const auto& con : r.contractions) {
            const auto& f = con.channels[c];
            q.contraction_epochs += f.epochs - f.flag_counts[rest_bit];
            q.excluded_epochs +=
                f.flagged_epochs -
                ((settings_.exclude_flags & dsp::Rest) ? f.flag_counts[rest_bit] : 0);
            for (std::size_t b = 0; b < dsp::kQualityFlagCount; ++b)
                in_contractions[b] += f.flag_counts[b];
        }
        const double n = static_cast<double>(q.contraction_epochs);
        const double excluded = n > 0 ? static_cast<double>(q.excluded_epochs) / n : 1.0;
        for (std::size_t b = 0; b < dsp::kQualityFlagCount; ++b) {
            if ((1u << b) == dsp::LowSampleRate || (1u << b) == dsp::Rest ||
                in_contractions[b] == 0)
                continue;
            q.reason += (q.reason.empty() ? "" : ", ") + std::string(dsp::quality_flag_name(b)) +
                        " in " +
                        std::to_string(static_cast<int>(
                            std::lround(100.0 * static_cast<double>(in_contractions[b]) / n))) +
                        " % of epochs";
        }
        // A low sample rate is the recording's, said once (summary.json low_rate), not per
        // channel: the verdict is about the epochs.
        if (n == 0)
            q.reason = "no epochs";
        if (excluded >= 0.5)
            q.verdict = "poor";
        else if (excluded >= 0.1)
            q.verdict = "usable";
        else
            q.verdict = "good";
        r.quality.push_back(q);
    }
    return r;
}

} // namespace semg::pipeline
