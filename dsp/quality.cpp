#include "dsp/quality.hpp"

#include "dsp/epoch_analyzer.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace semg::dsp {
namespace {
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kTiny = 1e-20;
constexpr double kFamilies[2] = {50.0, 60.0};
} // namespace

QualityAnalyzer::QualityAnalyzer(Config config) : config_(config) {
    if (!(config_.epoch_s > 0.0))
        throw std::invalid_argument("epoch length must be positive, got " +
                                    std::to_string(config_.epoch_s) + " s");
    if (!(config_.overlap >= 0.0 && config_.overlap < 1.0))
        throw std::invalid_argument("epoch overlap must be in [0, 1), got " +
                                    std::to_string(config_.overlap));
    if (!(config_.lf_low_hz > 0.0 && config_.lf_high_hz > config_.lf_low_hz))
        throw std::invalid_argument("motion band must satisfy 0 < low < high");
}

void QualityAnalyzer::prepare(const StreamSpec &spec, std::vector<ChannelLimits> limits) {
    spec_ = spec;
    // The same epochs as EpochAnalyzer's.
    const auto geometry = epoch_geometry(config_.epoch_s, config_.overlap, spec.sample_rate_hz);
    epoch_frames_ = geometry.epoch_frames;
    hop_frames_ = geometry.hop_frames;
    if (!limits.empty() && limits.size() != spec.channels)
        throw std::invalid_argument("channel limits must be given for every channel or none");
    limits_ = limits.empty() ? std::vector<ChannelLimits>(spec.channels) : std::move(limits);
    const double nyquist = 0.5 * spec.sample_rate_hz;
    const double lf_high = std::min(config_.lf_high_hz, 0.45 * spec.sample_rate_hz);
    lf_filter_ = SosFilter(
        butterworth(FilterKind::Bandpass, 2, config_.lf_low_hz, lf_high, spec.sample_rate_hz));
    lf_filter_.prepare(spec);
    raw_.assign(epoch_frames_ * spec.channels, 0.0f);
    lf_ = analysed_ = raw_;
    first_sample_.assign(spec.channels, 0.0f);
    lf_pre_ = static_cast<std::size_t>(std::lround(0.35 * spec.sample_rate_hz));
    lf_window_ = 2 * lf_pre_;
    lf_template_.assign(lf_window_ * spec.channels, 0.0f);
    lf_residual_.assign(epoch_frames_ * spec.channels, 0.0f);
    std::vector<double> window(epoch_frames_);
    window_sum_ = 0.0;
    for (std::size_t i = 0; i < epoch_frames_; ++i) {
        window[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) /
                                         static_cast<double>(epoch_frames_));
        window_sum_ += window[i];
    }
    std::vector<double> harmonics;
    for (std::size_t f = 0; f < 2; ++f) {
        family_harmonics_[f] = 0;
        for (double h = kFamilies[f]; h <= config_.band_high_hz && h < nyquist; h += kFamilies[f]) {
            harmonics.push_back(h);
            ++family_harmonics_[f];
        }
    }
    mains_basis_.resize(static_cast<Eigen::Index>(2 * harmonics.size()),
                        static_cast<Eigen::Index>(epoch_frames_));
    for (std::size_t k = 0; k < harmonics.size(); ++k)
        for (std::size_t i = 0; i < epoch_frames_; ++i) {
            const double phase = 2.0 * std::numbers::pi * harmonics[k] * static_cast<double>(i) /
                                 spec.sample_rate_hz;
            const auto row = static_cast<Eigen::Index>(2 * k), col = static_cast<Eigen::Index>(i);
            mains_basis_(row, col) = static_cast<float>(window[i] * std::cos(phase));
            mains_basis_(row + 1, col) = static_cast<float>(window[i] * std::sin(phase));
        }
    mains_x_.resize(static_cast<Eigen::Index>(epoch_frames_));
    mains_dft_.resize(mains_basis_.rows());
    frame_.flags.assign(spec.channels, 0);
    frame_.metrics.assign(spec.channels, QualityMetrics{});
    reset();
}

void QualityAnalyzer::reset() noexcept {
    lf_filter_.reset();
    fill_ = 0;
    next_index_ = 0;
    started_ = false;
    gaps_total_ = 0;
    std::fill(lf_template_.begin(), lf_template_.end(), 0.0f);
    lf_learnt_ = 0;
    lf_last_folded_ = -1;
}

void QualityAnalyzer::remove_beat_lf(const EcgCanceller &ecg) noexcept {
    const std::int64_t first = static_cast<std::int64_t>(frame_.first_frame);
    const std::int64_t end = first + static_cast<std::int64_t>(epoch_frames_);
    const std::int64_t pre = static_cast<std::int64_t>(lf_pre_),
                       w = static_cast<std::int64_t>(lf_window_);
    const std::size_t channels = spec_.channels;
    // Learn from the beats whose whole window is in this epoch and that were not learnt before.
    ecg.for_each_beat(first + pre, end - w + pre + 1, [&](std::int64_t fiducial) {
        if (fiducial <= lf_last_folded_)
            return;
        lf_last_folded_ = fiducial;
        ++lf_learnt_;
        const double alpha = 1.0 / static_cast<double>(std::min<std::uint64_t>(lf_learnt_, 32));
        const std::int64_t start = fiducial - pre - first;
        for (std::size_t c = 0; c < channels; ++c) {
            const float *lf = lf_.data() + c * epoch_frames_ + start;
            float *t = lf_template_.data() + c * lf_window_;
            for (std::size_t j = 0; j < lf_window_; ++j)
                t[j] += static_cast<float>(alpha * (lf[j] - t[j]));
        }
    });
    std::copy(lf_.begin(), lf_.end(), lf_residual_.begin());
    if (lf_learnt_ < 4)
        return;
    ecg.for_each_beat(first - w + pre + 1, end + pre, [&](std::int64_t fiducial) {
        const std::int64_t start = fiducial - pre;
        const std::int64_t lo = std::max(first, start), hi = std::min(end, start + w);
        for (std::size_t c = 0; c < channels; ++c) {
            if (!ecg.significant(c))
                continue; // no ECG here: the template is averaged EMG
            float *r = lf_residual_.data() + c * epoch_frames_;
            const float *t = lf_template_.data() + c * lf_window_;
            for (std::int64_t m = lo; m < hi; ++m)
                r[m - first] -= t[m - start];
        }
    });
}

void QualityAnalyzer::note_gap(std::uint64_t at_frame, std::uint64_t lost_frames) noexcept {
    if (lost_frames == 0)
        return;
    gap_frame_[gaps_total_ % kGapRing] = at_frame;
    ++gaps_total_;
}

std::size_t QualityAnalyzer::fill(ConstBlockRef raw, ConstBlockRef analysed,
                                  std::size_t offset) noexcept {
    const std::size_t take = std::min(raw.frames - offset, epoch_frames_ - fill_);
    if (!started_ && take > 0) {
        for (std::size_t c = 0; c < spec_.channels; ++c)
            first_sample_[c] = raw.channel(c)[offset];
        started_ = true;
    }
    for (std::size_t c = 0; c < spec_.channels; ++c) {
        const float *r = raw.channel(c) + offset;
        std::memcpy(raw_.data() + c * epoch_frames_ + fill_, r, take * sizeof(float));
        std::memcpy(analysed_.data() + c * epoch_frames_ + fill_, analysed.channel(c) + offset,
                    take * sizeof(float));
        float *lf = lf_.data() + c * epoch_frames_ + fill_;
        for (std::size_t i = 0; i < take; ++i)
            lf[i] = r[i] - first_sample_[c];
    }
    lf_filter_.process({lf_.data() + fill_, take, spec_.channels, epoch_frames_});
    fill_ += take;
    return take;
}

double QualityAnalyzer::mains_power(const float *y) const noexcept {
    for (std::size_t i = 0; i < epoch_frames_; ++i)
        mains_x_[static_cast<Eigen::Index>(i)] = y[i];
    mains_dft_.noalias() = mains_basis_ * mains_x_; // re, im of each harmonic's windowed DFT
    double best = 0.0;
    std::size_t row = 0;
    for (const std::size_t harmonics : family_harmonics_) {
        double family = 0.0, fundamental = 0.0, strongest = 0.0;
        for (std::size_t h = 0; h < harmonics; ++h, row += 2) {
            const double re = mains_dft_[static_cast<Eigen::Index>(row)];
            const double im = mains_dft_[static_cast<Eigen::Index>(row + 1)]; // float -> double
            const double power = 2.0 * (re * re + im * im) / (window_sum_ * window_sum_); // A²/2
            family += power;
            if (h == 0)
                fundamental = power;
            strongest = std::max(strongest, power);
        }
        // Mains has its fundamental: a tone at 100, 120 or 150 Hz alone is something else.
        if (harmonics > 0 && fundamental >= 0.25 * strongest)
            best = std::max(best, family);
    }
    return best;
}

double QualityAnalyzer::ecg_energy(std::size_t c, const float *y,
                                   const EcgCanceller &ecg) const noexcept {
    const auto t = ecg.beat_template(c);
    if (ecg.delay_frames() == 0) { // nothing subtracted: one beat's energy × the beats expected
        double tt = 0.0;
        for (const float v : t)
            tt += static_cast<double>(v) * v;
        return tt * static_cast<double>(epoch_frames_) /
               (ecg.recent_rr_s() * spec_.sample_rate_hz);
    }
    const std::int64_t pre = static_cast<std::int64_t>(ecg.pre_frames());
    const std::int64_t w = static_cast<std::int64_t>(t.size());
    const std::int64_t first = static_cast<std::int64_t>(frame_.first_frame);
    const std::int64_t end = first + static_cast<std::int64_t>(epoch_frames_);
    double energy = 0.0;
    ecg.for_each_beat(first + pre - w + 1, end + pre, [&](std::int64_t fiducial) {
        const std::int64_t start = fiducial - pre;
        const std::int64_t lo = std::max(first, start), hi = std::min(end, start + w);
        double yt = 0.0, tt = 0.0;
        for (std::int64_t m = lo; m < hi; ++m) {
            const double tv = t[static_cast<std::size_t>(m - start)];
            yt += y[m - first] * tv;
            tt += tv * tv;
        }
        if (tt > kTiny)
            energy += yt * yt / tt;
    });
    return energy;
}

void QualityAnalyzer::analyse(const EcgCanceller *ecg) noexcept {
    const QualityThresholds &th = config_.thresholds;
    frame_.index = next_index_;
    frame_.first_frame = next_index_ * hop_frames_;
    const double n = static_cast<double>(epoch_frames_);
    std::uint32_t gaps = 0;
    const std::uint64_t stored = std::min<std::uint64_t>(gaps_total_, kGapRing);
    for (std::uint64_t k = gaps_total_ - stored; k < gaps_total_; ++k) {
        const std::uint64_t at = gap_frame_[k % kGapRing];
        if (at >= frame_.first_frame && at < frame_.first_frame + epoch_frames_)
            ++gaps;
    }
    const bool low_rate = spec_.sample_rate_hz < th.min_sample_rate_hz;
    const bool ecg_ready = ecg != nullptr && ecg->template_ready();
    if (ecg != nullptr)
        remove_beat_lf(*ecg);
    else
        std::copy(lf_.begin(), lf_.end(), lf_residual_.begin());

    for (std::size_t c = 0; c < spec_.channels; ++c) {
        const float *x = raw_.data() + c * epoch_frames_;
        const float *lf = lf_residual_.data() + c * epoch_frames_;
        const float *y = analysed_.data() + c * epoch_frames_;
        QualityMetrics m;
        std::uint32_t flags = 0;

        // Two passes over the epoch. First: raw sum and extremes, band power of the analysed
        // signal, and the sums of the low-frequency residual (near zero mean: one pass is exact
        // enough for its variance).
        double mean = 0.0, band = 0.0, lf_sum = 0.0, lf_sum_sq = 0.0;
        float lo = x[0], hi = x[0];
        for (std::size_t i = 0; i < epoch_frames_; ++i) {
            mean += x[i];
            lo = std::min(lo, x[i]);
            hi = std::max(hi, x[i]);
            band += static_cast<double>(y[i]) * y[i];
            lf_sum += lf[i];
            lf_sum_sq += static_cast<double>(lf[i]) * lf[i];
        }
        mean /= n;
        // Second: raw variance about the mean, runs of identical samples, samples at the rails
        // and extremes inside runs (flat tops), without branches on the samples.
        const ChannelLimits &lim = limits_[c];
        const double tol = std::max(0.5 * lim.resolution_uv, std::isfinite(lim.max_uv - lim.min_uv)
                                                                 ? 1e-6 * (lim.max_uv - lim.min_uv)
                                                                 : 0.0);
        const double rail_hi = lim.max_uv - tol, rail_lo = lim.min_uv + tol;
        double var = 0.0;
        std::size_t run = 1, longest = 1, extreme_in_runs = 0, at_rail = 0;
        const std::size_t last = epoch_frames_ - 1;
        for (std::size_t i = 0; i < epoch_frames_; ++i) {
            const float v = x[i];
            var += (v - mean) * (v - mean);
            const bool eq_prev = x[i > 0 ? i - 1 : 0] == v && i > 0;
            const bool eq_next = x[i < last ? i + 1 : last] == v && i < last;
            run = eq_prev ? run + 1 : 1;
            longest = std::max(longest, run);
            extreme_in_runs += static_cast<std::size_t>(((v == hi) | (v == lo)) & (eq_prev | eq_next));
            at_rail += static_cast<std::size_t>((v >= rail_hi) | (v <= rail_lo));
        }
        m.raw_sd_uv = std::sqrt(var / n);
        m.longest_run_fraction = static_cast<double>(longest) / n;
        const bool flatline =
            m.raw_sd_uv < th.flatline_sd_uv || m.longest_run_fraction >= th.flatline_run_fraction;
        if (flatline)
            flags |= Flatline;
        const double rail_share = static_cast<double>(at_rail) / n;
        const double extreme_share = static_cast<double>(extreme_in_runs) / n;
        m.clipped_fraction = std::max(rail_share, extreme_share);
        if (!flatline && hi > lo &&
            ((at_rail >= 2 && rail_share >= th.rail_fraction) || extreme_share >= th.clip_fraction))
            flags |= Clipping;

        // The ratios against the band power of the analysed epoch.
        const double band_energy = band;
        band /= n;
        const double lf_mean = lf_sum / n;
        const double lf_var = std::max(0.0, lf_sum_sq / n - lf_mean * lf_mean);
        if (band > kTiny) {
            m.lf_ratio = lf_var / band;
            m.mains_share = mains_power(y) / band;
            // Only a channel whose template is significant has an ECG to measure; elsewhere the
            // projection on a template of averaged EMG would measure EMG.
            m.ecg_share = !ecg_ready            ? kNan
                          : ecg->significant(c) ? ecg_energy(c, y, *ecg) / band_energy
                                                : 0.0;
        } else {
            m.lf_ratio = m.mains_share = m.ecg_share = kNan;
        }
        // A flat channel has no band power to compare with: the ratios mean nothing then (and at
        // the moment an electrode comes off, the filters ring on the step).
        if (!flatline) {
            if (m.mains_share >= th.mains_share)
                flags |= MainsDominant;
            if (m.lf_ratio >= th.motion_lf_ratio)
                flags |= MotionArtefact;
            if (m.ecg_share >= th.ecg_share)
                flags |= EcgContamination;
        }
        m.gaps = gaps;
        if (gaps > 0)
            flags |= SampleGap;
        if (low_rate)
            flags |= LowSampleRate;
        frame_.metrics[c] = m;
        frame_.flags[c] = flags;
    }
}

void QualityAnalyzer::advance() noexcept {
    const std::size_t keep = epoch_frames_ - hop_frames_;
    for (std::size_t c = 0; c < spec_.channels; ++c)
        for (auto *buffer : {&raw_, &lf_, &analysed_}) {
            float *x = buffer->data() + c * epoch_frames_;
            std::memmove(x, x + hop_frames_, keep * sizeof(float));
        }
    fill_ = keep;
    ++next_index_;
}

} // namespace semg::dsp
