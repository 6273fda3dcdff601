#include "pipeline/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace semg::pipeline {
namespace {

constexpr std::size_t kWorkFrames = 4096;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kEps = 1e-9;

dsp::EpochAnalyzer::Config analyzer_config(const AnalysisSettings& s, double high_hz) {
    dsp::EpochAnalyzer::Config c;
    c.epoch_s = s.epoch_s;
    c.overlap = s.overlap;
    c.psd = s.psd;
    c.band = {s.band.low_hz, high_hz, s.mains_hz, s.mains_exclude_hz};
    return c;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
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
        if (lower(a.text) == start) open = a.onset_s;
        else if (lower(a.text) == stop && !std::isnan(open)) {
            spans.push_back({open, a.onset_s});
            open = kNan;
        }
    }
    return spans;
}

std::string span_text(const Contraction& c) {
    return std::to_string(c.start_s) + ":" + std::to_string(c.end_s);
}

} // namespace

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
    if (!std::isfinite(mdf_slope) || !std::isfinite(rms_slope)) return Jasa::Undetermined;
    if (mdf_slope < 0) return rms_slope > 0 ? Jasa::Fatigue : Jasa::ForceDecrease;
    return rms_slope > 0 ? Jasa::ForceIncrease : Jasa::Recovery;
}

FatigueAnalysis::FatigueAnalysis(AnalysisSettings settings)
    : settings_(std::move(settings)), bandpass_(settings_.band),
      analyzer_(analyzer_config(settings_, settings_.band.high_hz)), detector_(settings_.detector) {
    if (settings_.mains_hz != 0.0 && settings_.mains_hz != 50.0 && settings_.mains_hz != 60.0)
        throw std::invalid_argument("mains frequency must be 50, 60 or off");
    for (const auto& [a, b] : settings_.segments_s)
        if (!(b > a && a >= 0.0))
            throw std::invalid_argument("segment must be START:END with 0 <= START < END (seconds)");
    if (settings_.contractions == ContractionMode::Segments && settings_.segments_s.empty())
        throw std::invalid_argument("segment mode needs at least one segment");
}

void FatigueAnalysis::prepare(const acquisition::SourceInfo& info,
                              const std::function<void(const std::string&)>& warn) {
    sample_rate_hz_ = info.sample_rate_hz;
    if (info.channels.empty()) throw std::invalid_argument("the recording has no EMG channels");
    std::vector<std::string> all_labels;
    for (const auto& ch : info.channels) all_labels.push_back(ch.label);
    const Montage montage = settings_.montage ? *settings_.montage : infer_montage(all_labels);

    selected_.clear();
    if (settings_.channels.empty()) {
        for (std::size_t c = 0; c < info.channels.size(); ++c)
            if (montage.channels[c].is_emg) selected_.push_back(c);
        if (selected_.empty()) throw std::invalid_argument("the recording has no EMG channels");
    } else {
        for (const auto& want : settings_.channels) {
            auto it = std::find(all_labels.begin(), all_labels.end(), want);
            if (it == all_labels.end()) {
                std::string known;
                for (const auto& l : all_labels) known += (known.empty() ? "" : ", ") + l;
                throw std::invalid_argument("channel '" + want + "' is not in the recording (it has: " + known + ")");
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
        if (l == selected_.end() || r == selected_.end()) continue;
        pairs_.push_back({static_cast<std::size_t>(l - selected_.begin()),
                          static_cast<std::size_t>(r - selected_.begin()), p.muscle, p.level});
    }
    if (!settings_.mvc_rms_uv.empty() && settings_.mvc_rms_uv.size() != selected_.size())
        throw std::invalid_argument("MVC references cover " + std::to_string(settings_.mvc_rms_uv.size()) +
                                    " channels, the analysis has " + std::to_string(selected_.size()));

    const dsp::StreamSpec spec{info.sample_rate_hz, selected_.size()};
    bandpass_.prepare(spec);
    if (bandpass_.clamped())
        warn("band-pass upper edge " + std::to_string(settings_.band.high_hz) + " Hz clamped to " +
             std::to_string(bandpass_.effective_high_hz()) + " Hz (0.45 x the sample rate)");
    if (info.sample_rate_hz < 1000.0)
        warn("sample rate " + std::to_string(info.sample_rate_hz) +
             " Hz is below 1 kHz: the EMG spectrum is band-limited and MDF/MNF are biased low");
    analyzer_ = dsp::EpochAnalyzer(analyzer_config(settings_, bandpass_.effective_high_hz()));
    analyzer_.prepare(spec);

    // Where the contractions come from.
    fixed_spans_.clear();
    mode_ = settings_.contractions;
    if (mode_ == ContractionMode::Segments) {
        for (const auto& [a, b] : settings_.segments_s) fixed_spans_.push_back({a, b});
        contraction_source_ = "segments";
    } else if (mode_ == ContractionMode::Auto || mode_ == ContractionMode::Annotations) {
        fixed_spans_ = spans_from_annotations(info.annotations, settings_.annotation);
        if (!fixed_spans_.empty()) {
            mode_ = ContractionMode::Annotations;
            contraction_source_ = "annotations '" + settings_.annotation + "'";
        } else if (mode_ == ContractionMode::Annotations) {
            throw std::invalid_argument("no '" + settings_.annotation + "' annotations in the recording");
        } else {
            mode_ = ContractionMode::Detect;
        }
    }
    if (mode_ == ContractionMode::Detect) {
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
                throw std::invalid_argument("segment " + span_text(s) + " s is outside the recording (0:" +
                                            std::to_string(duration) + " s)");
    }

    auto fresh = [&](Contraction span) {
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
    };
    whole_ = fresh({0.0, kInf});
    contractions_.clear();
    for (const auto& s : fixed_spans_) contractions_.push_back(fresh(s));

    work_ = dsp::Block(selected_.size(), kWorkFrames);
    frames_ = 0;
    epochs_ = 0;
    pending_.clear();
    derived_.rms_pct_mvc.assign(selected_.size(), kNan);
    derived_.ai_pct.assign(pairs_.size(), kNan);
    derived_.lr_ratio.assign(pairs_.size(), kNan);
}

void FatigueAnalysis::process(dsp::ConstBlockRef raw, const EpochObserver& observer) {
    for (std::size_t done = 0; done < raw.frames;) {
        const std::size_t n = std::min(kWorkFrames, raw.frames - done);
        work_.set_frames(n);
        for (std::size_t c = 0; c < selected_.size(); ++c) {
            const float* src = raw.channel(selected_[c]) + done;
            float* dst = work_.channel(c);
            for (std::size_t i = 0; i < n; ++i) {
                if (!std::isfinite(src[i]))
                    throw std::invalid_argument(
                        "channel '" + labels_[c] + "': non-finite sample (" + std::to_string(src[i]) +
                        ") at " + std::to_string(static_cast<double>(frames_ + done + i) / sample_rate_hz_) + " s");
                dst[i] = src[i];
            }
        }
        bandpass_.process(work_.ref());
        if (mode_ == ContractionMode::Detect) detector_.process(work_.cref());
        analyzer_.process(work_.cref(), [&](const dsp::EpochFrame& frame) {
            ++epochs_;
            derive(frame);
            if (observer) observer(frame, derived_);
            pending_.push_back({frame.t_start_s, frame.t_end_s, frame.channels, derived_.ai_pct});
        });
        classify_pending(false);
        done += n;
    }
    frames_ += raw.frames;
}

void FatigueAnalysis::derive(const dsp::EpochFrame& frame) {
    const bool mvc = !settings_.mvc_rms_uv.empty();
    for (std::size_t c = 0; c < selected_.size(); ++c)
        derived_.rms_pct_mvc[c] = mvc ? 100.0 * frame.channels[c].rms_uv / settings_.mvc_rms_uv[c] : kNan;
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
        const double l_rms = frame.channels[pairs_[p].left].rms_uv, r_rms = frame.channels[pairs_[p].right].rms_uv;
        const double l = mvc ? derived_.rms_pct_mvc[pairs_[p].left] : l_rms;
        const double r = mvc ? derived_.rms_pct_mvc[pairs_[p].right] : r_rms;
        derived_.ai_pct[p] = l + r > 0.0 ? 100.0 * (l - r) / (l + r) : kNan;
        derived_.lr_ratio[p] = r_rms > 0.0 ? l_rms / r_rms : kNan;
    }
}

std::vector<Contraction> FatigueAnalysis::current_spans() const {
    return mode_ == ContractionMode::Detect ? detector_.contractions() : fixed_spans_;
}

void FatigueAnalysis::classify_pending(bool final) {
    const double decided = final || mode_ != ContractionMode::Detect ? kInf : detector_.decided_until_s();
    if (pending_.empty() || pending_.front().t_end_s > decided) return;
    const auto spans = current_spans();
    while (!pending_.empty() && pending_.front().t_end_s <= decided) {
        const auto& e = pending_.front();
        add_epoch(whole_, e);
        for (const auto& span : spans) {
            if (e.t_start_s < span.start_s - kEps || e.t_end_s > span.end_s + kEps) continue;
            auto it = std::find_if(contractions_.begin(), contractions_.end(),
                                   [&](const Accumulators& a) { return a.span.start_s == span.start_s; });
            if (it == contractions_.end()) {
                Accumulators a = whole_; // same shape, emptied below
                a.span = span;
                for (auto& c : a.counts) c = {};
                for (auto* v : {&a.mdf, &a.mnf, &a.rms}) std::fill(v->begin(), v->end(), LinearFitAccumulator{});
                std::fill(a.pair_n.begin(), a.pair_n.end(), 0);
                for (auto* v : {&a.ai_sum, &a.ai_sum_sq, &a.rms_left_sum, &a.rms_right_sum})
                    std::fill(v->begin(), v->end(), 0.0);
                contractions_.push_back(std::move(a));
                it = std::prev(contractions_.end());
            }
            add_epoch(*it, e);
        }
        pending_.pop_front();
    }
}

void FatigueAnalysis::add_epoch(Accumulators& acc, const PendingEpoch& e) {
    const double x = 0.5 * (e.t_start_s + e.t_end_s) - acc.span.start_s;
    std::vector<bool> used(e.channels.size(), false);
    for (std::size_t c = 0; c < e.channels.size(); ++c) {
        const auto& f = e.channels[c];
        auto& count = acc.counts[c];
        ++count.epochs;
        if (f.quality != dsp::QualityOk) {
            ++count.flagged_epochs;
            if (!settings_.keep_flagged) continue;
        }
        used[c] = true;
        if (std::isfinite(f.mdf_hz)) acc.mdf[c].add(x, f.mdf_hz);
        if (std::isfinite(f.mnf_hz)) acc.mnf[c].add(x, f.mnf_hz);
        acc.rms[c].add(x, f.rms_uv);
    }
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
        if (!used[pairs_[p].left] || !used[pairs_[p].right] || !std::isfinite(e.ai_pct[p])) continue;
        ++acc.pair_n[p];
        acc.ai_sum[p] += e.ai_pct[p];
        acc.ai_sum_sq[p] += e.ai_pct[p] * e.ai_pct[p];
        acc.rms_left_sum[p] += e.channels[pairs_[p].left].rms_uv;
        acc.rms_right_sum[p] += e.channels[pairs_[p].right].rms_uv;
    }
}

ContractionResult FatigueAnalysis::result_of(const Accumulators& acc) const {
    ContractionResult r;
    r.start_s = acc.span.start_s;
    r.end_s = std::min(acc.span.end_s, static_cast<double>(frames_) / sample_rate_hz_);
    for (std::size_t c = 0; c < selected_.size(); ++c) {
        ChannelFit f = acc.counts[c];
        f.mdf = acc.mdf[c].result();
        f.mnf = acc.mnf[c].result();
        f.rms = acc.rms[c].result();
        f.jasa = jasa_of(f.mdf.slope_per_s, f.rms.slope_per_s);
        r.channels.push_back(f);
    }
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
        PairFit f;
        const double n = static_cast<double>(acc.pair_n[p]);
        f.epochs = acc.pair_n[p];
        f.ai_mean_pct = n > 0 ? acc.ai_sum[p] / n : kNan;
        f.ai_sd_pct = n > 1 ? std::sqrt(std::max(0.0, (acc.ai_sum_sq[p] - n * f.ai_mean_pct * f.ai_mean_pct) / (n - 1))) : kNan;
        f.lr_rms_ratio = acc.rms_right_sum[p] > 0 ? acc.rms_left_sum[p] / acc.rms_right_sum[p] : kNan;
        const auto& l = r.channels[pairs_[p].left];
        const auto& rr = r.channels[pairs_[p].right];
        f.mdf_slope_difference_pct_per_s = l.mdf.slope_pct_per_s - rr.mdf.slope_pct_per_s;
        f.mdf_initial_difference_hz = l.mdf.initial - rr.mdf.initial;
        f.flagged = std::isfinite(f.ai_mean_pct) && std::abs(f.ai_mean_pct) > settings_.ai_threshold_pct;
        r.pairs.push_back(f);
    }
    return r;
}

AnalysisResult FatigueAnalysis::finish() {
    classify_pending(true);
    const double duration_s = static_cast<double>(frames_) / sample_rate_hz_;
    for (const auto& s : fixed_spans_)
        if (s.start_s >= duration_s || (std::isfinite(s.end_s) && s.end_s > duration_s + kEps))
            throw std::invalid_argument("segment " + span_text(s) + " s is outside the recording (0:" +
                                        std::to_string(duration_s) + " s)");
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
    for (auto& acc : contractions_) {
        if (mode_ == ContractionMode::Detect) {
            // The detector may since have closed the contraction, or dropped it as too short.
            const auto& found = detector_.contractions();
            auto it = std::find_if(found.begin(), found.end(), [&](const Contraction& c) { return c.start_s == acc.span.start_s; });
            if (it == found.end() || !detector_.accepted(static_cast<std::size_t>(it - found.begin()))) continue;
            acc.span = *it;
        }
        r.contractions.push_back(result_of(acc));
    }
    if (r.contractions.empty()) {
        r.contractions.push_back(result_of(whole_));
        r.contraction_source = mode_ == ContractionMode::Detect
                                   ? "whole recording (no contraction detected)"
                                   : "whole recording";
    }
    return r;
}

} // namespace semg::pipeline
