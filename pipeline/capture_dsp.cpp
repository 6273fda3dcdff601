#include "pipeline/capture_dsp.hpp"

#include "acquisition/serial_port.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace semg::pipeline {

using Clock = CaptureClock;

// ---- LatencyHistogram ----

void LatencyHistogram::add(double ms) noexcept {
    ++count_;
    max_ = std::max(max_, ms);
    const auto bin = static_cast<std::size_t>(std::max(0.0, ms) / kBinMs);
    ++bins_[std::min(bin, bins_.size() - 1)];
}

LatencyStats LatencyHistogram::stats() const {
    LatencyStats s;
    s.epochs = count_;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    s.p50_ms = count_ ? quantile(0.50) : nan;
    s.p99_ms = count_ ? quantile(0.99) : nan;
    s.max_ms = count_ ? max_ : nan;
    return s;
}

double LatencyHistogram::quantile(double q) const {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(count_)));
    std::size_t seen = 0;
    for (std::size_t b = 0; b < bins_.size(); ++b) {
        seen += bins_[b];
        if (seen >= std::max<std::size_t>(rank, 1))
            return std::min((static_cast<double>(b) + 1) * kBinMs, max_);
    }
    return max_;
}

// ---- CaptureDsp ----

CaptureDsp::CaptureDsp(AnalysisSettings settings, const acquisition::SourceInfo& info,
                       const std::function<void(const std::string&)>& warn,
                       const StreamFormat& format, SpscRing<RawSlot>& ring, CaptureMarks& marks,
                       CaptureEventQueue& events, bool running_fits)
    : format_(format), ring_(ring), marks_(marks), events_(events), running_fits_(running_fits) {
    analysis_.emplace(std::move(settings));
    analysis_->prepare(info, warn);
}

CaptureDsp::~CaptureDsp() { join(); }

void CaptureDsp::open_outputs(OutputDir& out) {
    epochs_csv_.emplace(out.open("epochs.csv"), analysis_->labels(), analysis_->sites());
    if (!analysis_->pairs().empty())
        pairs_csv_.emplace(out.open("pairs.csv"), analysis_->labels(), analysis_->pairs());
}

void CaptureDsp::start() {
    thread_ = std::jthread([this] { main(); });
}

void CaptureDsp::join() {
    if (thread_.joinable())
        thread_.join();
}

// Arrival of the read that delivered frame `frame`; the oldest remembered if it is older.
Clock::time_point CaptureDsp::arrival_of(std::uint64_t frame) const noexcept {
    const std::size_t cap = arrivals_.size();
    const std::uint64_t kept = std::min<std::uint64_t>(arrivals_count_, cap);
    Clock::time_point t = current_arrival_;
    for (std::uint64_t k = 0; k < kept; ++k) {
        const auto& [end, when] = arrivals_[(arrivals_count_ - 1 - k) % cap];
        if (end <= frame)
            break;
        t = when;
    }
    return t;
}

void CaptureDsp::on_epoch(const dsp::EpochFrame& f, const EpochDerived& d) {
    epochs_csv_->write(f, d);
    if (pairs_csv_)
        pairs_csv_->write(f, d);
    ++epochs_;
    events_.publish_rows(f.index, epochs_csv_->last_rows(),
                         pairs_csv_ ? std::string_view(pairs_csv_->last_rows())
                                    : std::string_view());
    const auto now = Clock::now();
    const auto end_frame = static_cast<std::uint64_t>(std::llround(f.t_end_s * format_.fs));
    const double ms = std::chrono::duration<double, std::milli>(
                          now - arrival_of(end_frame > 0 ? end_frame - 1 : 0))
                          .count();
    if (!flushing_) {
        latency_.add(ms);
        processing_latency_.add(
            std::chrono::duration<double, std::milli>(now - current_arrival_).count());
        queue_latency_.add(
            std::chrono::duration<double, std::milli>(current_start_ - current_arrival_).count());
    }
    // The view's running fits: the current contraction's MDF line so far (after the latency is
    // taken: this is the costlier part).
    const ContractionResult* current = nullptr;
    std::optional<AnalysisResult> snap;
    if (running_fits_) {
        snap = analysis_->snapshot();
        if (!snap->contractions.empty() &&
            snap->contraction_source.rfind("whole recording", 0) != 0)
            current = &snap->contractions.back();
    }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    events_.publish_epoch([&](LiveEpoch& e) {
        e.contraction_start_s = current ? current->start_s : nan;
        e.contraction_end_s = current ? current->end_s : nan;
        for (std::size_t c = 0; c < e.slope_pct_per_s.size(); ++c) {
            const LinearFit* fit =
                current && c < current->channels.size() ? &current->channels[c].mdf : nullptr;
            const double scale = fit ? 100.0 / fit->initial : nan;
            e.slope_pct_per_s[c] = fit ? fit->slope_pct_per_s : nan;
            e.slope_ci_low_pct_per_s[c] = fit ? fit->slope_ci95[0] * scale : nan;
            e.slope_ci_high_pct_per_s[c] = fit ? fit->slope_ci95[1] * scale : nan;
        }
        e.index = f.index;
        e.t_start_s = f.t_start_s;
        e.t_end_s = f.t_end_s;
        for (std::size_t c = 0; c < f.channels.size() && c < e.mdf_hz.size(); ++c) {
            e.mdf_hz[c] = f.channels[c].mdf_hz;
            e.rms_uv[c] = f.channels[c].rms_uv;
            e.quality[c] = f.channels[c].quality;
        }
        for (std::size_t p = 0; p < e.ai_pct.size() && p < d.ai_pct.size(); ++p)
            e.ai_pct[p] = d.ai_pct[p];
        e.latency_ms = ms;
    });
}

// The running fits, every kFitsEpochs epochs (5 s at the default hop), after the epoch's rows and
// latency are done.
void CaptureDsp::publish_fits() {
    constexpr std::uint64_t kFitsEpochs = 10;
    if (!fits_input_ || !events_.wanted(CaptureSubscriber::Topic::Fits) ||
        epochs_ < fits_published_ + kFitsEpochs)
        return;
    fits_published_ = epochs_;
    events_.publish_fits(
        [&] { return summary_json(*fits_input_, analysis_->settings(), analysis_->snapshot()); });
}

// The DSP's share of the markers: marked contractions, and the stream position before which no
// marker can come any more (a marker taken later has a later position, floored to the same
// units).
void CaptureDsp::take_marks() {
    if (!analysis_->settings().live_marks)
        return;
    const double horizon_s = marks_.take_for_dsp(marks_taken_);
    for (const auto& [a, b] : marks_taken_)
        analysis_->mark_contraction(a, b);
    analysis_->set_marks_decided_until_s(horizon_s);
}

void CaptureDsp::main() {
    acquisition::set_current_thread_name("semg-dsp");
    const std::size_t channels = format_.channels;
    const std::size_t slot_frames = format_.slot_frames;
    dsp::Block zeros = format_.zero_block();
    const EpochObserver observer = [this](const dsp::EpochFrame& f, const EpochDerived& d) {
        on_epoch(f, d);
    };
    auto fail = [&](const std::exception& e) {
        failed_ = true;
        events_.post(CaptureEventKind::DspFailed, e.what());
    };
    std::uint64_t expected = 0;
    for (;;) {
        RawSlot* s = ring_.wait_front(std::chrono::milliseconds(200));
        if (!s) {
            if (ring_.closed() && !ring_.front())
                break;
            continue;
        }
        if (!failed_) {
            try {
                take_marks();
                current_start_ = Clock::now();
                current_arrival_ = s->arrival;
                arrivals_[arrivals_count_++ % arrivals_.size()] = {s->first_frame + s->frames,
                                                                   s->arrival};
                // An overrun of this ring: analyse zeros, as the recorder writes them.
                if (s->first_frame > expected)
                    analysis_->note_gap(s->first_frame - expected);
                while (s->first_frame > expected) {
                    const auto n = static_cast<std::size_t>(
                        std::min<std::uint64_t>(slot_frames, s->first_frame - expected));
                    zeros.set_frames(n);
                    analysis_->process(zeros.cref(), observer);
                    expected += n;
                }
                // A device gap: the block starts with the zeros that fill it.
                if (s->lost_frames > 0)
                    analysis_->note_gap(s->lost_frames);
                analysis_->process(
                    dsp::ConstBlockRef(s->samples.data(), s->frames, channels, slot_frames),
                    observer);
                publish_fits();
            } catch (const std::exception& e) {
                fail(e);
            }
        }
        expected = s->first_frame + s->frames;
        frames_done_.store(expected);
        ring_.pop();
    }
    // The analysis holds its delay's worth of samples: push them through, so that the last
    // epochs reach epochs.csv as they do in `semg analyze`.
    if (!failed_) {
        try {
            flushing_ = true;
            take_marks();
            analysis_->flush(observer);
        } catch (const std::exception& e) {
            fail(e);
        }
    }
}

} // namespace semg::pipeline
