#include "pipeline/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace semg::pipeline {
namespace {

constexpr std::size_t kWorkFrames = 4096;

dsp::EpochAnalyzer::Config analyzer_config(const AnalysisSettings& s) {
    dsp::EpochAnalyzer::Config c;
    c.epoch_s = s.epoch_s;
    c.overlap = s.overlap;
    c.psd = s.psd;
    c.band = {s.band.low_hz, s.band.high_hz, s.mains_hz, s.mains_exclude_hz};
    return c;
}

} // namespace

FatigueAnalysis::FatigueAnalysis(AnalysisSettings settings)
    : settings_(std::move(settings)), bandpass_(settings_.band),
      analyzer_(analyzer_config(settings_)) {
    if (settings_.mains_hz != 0.0 && settings_.mains_hz != 50.0 && settings_.mains_hz != 60.0)
        throw std::invalid_argument("mains frequency must be 50, 60 or off");
    if (settings_.segment_s && !(settings_.segment_s->second > settings_.segment_s->first &&
                                 settings_.segment_s->first >= 0.0))
        throw std::invalid_argument("segment must be START:END with 0 <= START < END (seconds)");
}

void FatigueAnalysis::prepare(const acquisition::SourceInfo& info,
                              const std::function<void(const std::string&)>& warn) {
    sample_rate_hz_ = info.sample_rate_hz;
    if (info.channels.empty()) throw std::invalid_argument("the recording has no EMG channels");
    selected_.clear();
    labels_.clear();
    if (settings_.channels.empty()) {
        for (std::size_t c = 0; c < info.channels.size(); ++c) selected_.push_back(c);
    } else {
        for (const auto& want : settings_.channels) {
            auto it = std::find_if(info.channels.begin(), info.channels.end(),
                                   [&](const auto& ch) { return ch.label == want; });
            if (it == info.channels.end()) {
                std::string known;
                for (const auto& ch : info.channels) known += (known.empty() ? "" : ", ") + ch.label;
                throw std::invalid_argument("channel '" + want + "' is not in the recording (it has: " + known + ")");
            }
            selected_.push_back(static_cast<std::size_t>(it - info.channels.begin()));
        }
    }
    for (auto c : selected_) labels_.push_back(info.channels[c].label);
    const dsp::StreamSpec spec{info.sample_rate_hz, selected_.size()};

    bandpass_.prepare(spec);
    if (bandpass_.clamped())
        warn("band-pass upper edge " + std::to_string(settings_.band.high_hz) + " Hz clamped to " +
             std::to_string(bandpass_.effective_high_hz()) + " Hz (0.45 x the sample rate)");
    if (info.sample_rate_hz < 1000.0)
        warn("sample rate " + std::to_string(info.sample_rate_hz) +
             " Hz is below 1 kHz: the EMG spectrum is band-limited and MDF/MNF are biased low");
    auto cfg = analyzer_config(settings_);
    cfg.band.high_hz = bandpass_.effective_high_hz();
    analyzer_ = dsp::EpochAnalyzer(cfg);
    analyzer_.prepare(spec);

    if (settings_.segment_s) {
        segment_s_ = *settings_.segment_s;
        if (info.total_frames) {
            const double duration = static_cast<double>(*info.total_frames) / info.sample_rate_hz;
            if (segment_s_.first >= duration || segment_s_.second > duration + 1e-9)
                throw std::invalid_argument("segment " + std::to_string(segment_s_.first) + ":" +
                                            std::to_string(segment_s_.second) +
                                            " s is outside the recording (0:" + std::to_string(duration) + " s)");
        }
    } else {
        segment_s_ = {0.0, std::numeric_limits<double>::infinity()};
    }
    work_ = dsp::Block(selected_.size(), kWorkFrames);
    frames_ = 0;
    epochs_ = 0;
    summaries_.assign(selected_.size(), {});
    for (std::size_t c = 0; c < selected_.size(); ++c) summaries_[c].label = labels_[c];
    mdf_fit_.assign(selected_.size(), {});
    mnf_fit_.assign(selected_.size(), {});
    rms_fit_.assign(selected_.size(), {});
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
                        "channel '" + labels_[c] + "': non-finite sample (" +
                        std::to_string(src[i]) + ") at " +
                        std::to_string(static_cast<double>(frames_ + i) / sample_rate_hz_) + " s");
                dst[i] = src[i];
            }
        }
        bandpass_.process(work_.ref());
        analyzer_.process(work_.cref(), [&](const dsp::EpochFrame& frame) {
            fit_epoch(frame);
            if (observer) observer(frame);
        });
        frames_ += n;
        done += n;
    }
}

void FatigueAnalysis::fit_epoch(const dsp::EpochFrame& frame) {
    ++epochs_;
    if (frame.t_start_s < segment_s_.first - 1e-9 || frame.t_end_s > segment_s_.second + 1e-9) return;
    const double x = 0.5 * (frame.t_start_s + frame.t_end_s) - segment_s_.first;
    for (std::size_t c = 0; c < frame.channels.size(); ++c) {
        const auto& f = frame.channels[c];
        auto& s = summaries_[c];
        ++s.epochs;
        if (f.quality != dsp::QualityOk) {
            ++s.flagged_epochs;
            if (!settings_.keep_flagged) continue;
        }
        if (std::isfinite(f.mdf_hz)) mdf_fit_[c].add(x, f.mdf_hz);
        if (std::isfinite(f.mnf_hz)) mnf_fit_[c].add(x, f.mnf_hz);
        rms_fit_[c].add(x, f.rms_uv);
    }
}

AnalysisResult FatigueAnalysis::finish() const {
    const double duration_s = static_cast<double>(frames_) / sample_rate_hz_;
    if (settings_.segment_s && (segment_s_.first >= duration_s || segment_s_.second > duration_s + 1e-9))
        throw std::invalid_argument("segment " + std::to_string(segment_s_.first) + ":" +
                                    std::to_string(segment_s_.second) +
                                    " s is outside the recording (0:" + std::to_string(duration_s) + " s)");
    AnalysisResult r;
    r.sample_rate_hz = sample_rate_hz_;
    r.frames = frames_;
    r.duration_s = duration_s;
    r.effective_high_hz = bandpass_.effective_high_hz();
    r.epochs = epochs_;
    r.segment_s = {segment_s_.first, std::min(segment_s_.second, r.duration_s)};
    r.channels = summaries_;
    for (std::size_t c = 0; c < summaries_.size(); ++c) {
        r.channels[c].mdf = mdf_fit_[c].result();
        r.channels[c].mnf = mnf_fit_[c].result();
        r.channels[c].rms = rms_fit_[c].result();
    }
    return r;
}

} // namespace semg::pipeline
