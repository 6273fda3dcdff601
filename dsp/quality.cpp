#include "dsp/quality.hpp"

#include "dsp/epoch_analyzer.hpp"
#include "dsp/simd.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <numeric>
#include <stdexcept>
#include <string>

namespace semg::dsp {
namespace {
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kTiny = 1e-20;
constexpr double kFamilies[2] = {50.0, 60.0};
// Shorter segments than this are not worth combining: an epoch is then one segment.
constexpr std::size_t kMinSegmentFrames = 32;

using namespace simd;

double sum_lanes(Double2 a, Double2 b) noexcept { return (a[0] + a[1]) + (b[0] + b[1]); }
std::uint32_t sum_lanes(Int4 v) noexcept {
    return static_cast<std::uint32_t>(-(v[0] + v[1] + v[2] + v[3])); // true lanes are -1
}

// The smallest float >= v and the largest float <= v: a float sample compares with them as its
// double value compares with v.
float float_at_or_above(double v) noexcept {
    auto f = static_cast<float>(v);
    if (static_cast<double>(f) < v)
        f = std::nextafter(f, std::numeric_limits<float>::infinity());
    return f;
}
float float_at_or_below(double v) noexcept {
    auto f = static_cast<float>(v);
    if (static_cast<double>(f) > v)
        f = std::nextafter(f, -std::numeric_limits<float>::infinity());
    return f;
}
} // namespace

QualityAnalyzer::QualityAnalyzer(Config config) : config_(config) {
    check_epoch(config_.epoch_s, config_.overlap);
    if (!(config_.lf_low_hz > 0.0 && config_.lf_high_hz > config_.lf_low_hz))
        throw std::invalid_argument("motion band must satisfy 0 < low < high");
}

void QualityAnalyzer::prepare(const StreamSpec& spec, std::vector<ChannelLimits> limits) {
    spec_ = spec;
    // The same epochs as EpochAnalyzer's.
    const auto geometry = epoch_geometry(config_.epoch_s, config_.overlap, spec.sample_rate_hz);
    epoch_frames_ = geometry.epoch_frames;
    hop_frames_ = geometry.hop_frames;
    if (!limits.empty() && limits.size() != spec.channels)
        throw std::invalid_argument("channel limits must be given for every channel or none");
    limits_ = limits.empty() ? std::vector<ChannelLimits>(spec.channels) : std::move(limits);
    rails_.resize(spec.channels);
    for (std::size_t c = 0; c < spec.channels; ++c) {
        const ChannelLimits& lim = limits_[c];
        const double range = lim.max_uv - lim.min_uv;
        const double tol =
            std::max(0.5 * lim.resolution_uv, std::isfinite(range) ? 1e-6 * range : 0.0);
        rails_[c] = {float_at_or_below(lim.min_uv + tol), float_at_or_above(lim.max_uv - tol)};
    }
    segment_frames_ = std::gcd(epoch_frames_, hop_frames_);
    if (segment_frames_ < kMinSegmentFrames)
        segment_frames_ = epoch_frames_;
    segments_ = epoch_frames_ / segment_frames_;
    share_segments_ = hop_frames_ % segment_frames_ == 0;
    segment_stats_.assign(segments_ * spec.channels, SegmentStats{});
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
    lf_removed_.assign(spec.channels, 0);
    window_.resize(epoch_frames_);
    window_sum_ = 0.0;
    for (std::size_t i = 0; i < epoch_frames_; ++i) {
        window_[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) /
                                          static_cast<double>(epoch_frames_));
        window_sum_ += window_[i];
    }
    std::vector<double> harmonics;
    for (std::size_t f = 0; f < 2; ++f) {
        family_harmonics_[f] = 0;
        for (double h = kFamilies[f]; h <= config_.band_high_hz && h < nyquist; h += kFamilies[f]) {
            harmonics.push_back(h);
            ++family_harmonics_[f];
        }
    }
    // On a bin: h cycles per epoch, h·epoch / fs, is a whole number (to rounding). When every
    // bin is a multiple of F and F divides the epoch, the windowed epoch folded F times (the sum
    // of its F parts) has the same DFT values at those bins: a transform F times shorter.
    mains_bins_.clear();
    std::size_t common = 0;
    for (const double h : harmonics) {
        const double cycles = h * static_cast<double>(epoch_frames_) / spec.sample_rate_hz;
        if (std::abs(cycles - std::round(cycles)) > 1e-9 * cycles) {
            mains_bins_.clear();
            break;
        }
        mains_bins_.push_back(static_cast<std::size_t>(std::lround(cycles)));
        common = std::gcd(common, mains_bins_.back());
    }
    mains_fold_ = mains_bins_.empty() ? 1 : std::gcd(common, epoch_frames_);
    for (auto& bin : mains_bins_)
        bin /= mains_fold_;
    if (!mains_bins_.empty()) {
        mains_fft_ = RealFft(epoch_frames_ / mains_fold_);
        mains_basis_.resize(0, 0);
    } else {
        mains_fft_ = RealFft();
        mains_basis_.resize(static_cast<Eigen::Index>(2 * harmonics.size()),
                            static_cast<Eigen::Index>(epoch_frames_));
        for (std::size_t k = 0; k < harmonics.size(); ++k)
            for (std::size_t i = 0; i < epoch_frames_; ++i) {
                const double phase = 2.0 * std::numbers::pi * harmonics[k] *
                                     static_cast<double>(i) / spec.sample_rate_hz;
                const auto row = static_cast<Eigen::Index>(2 * k),
                           col = static_cast<Eigen::Index>(i);
                mains_basis_(row, col) = static_cast<float>(window_[i] * std::cos(phase));
                mains_basis_(row + 1, col) = static_cast<float>(window_[i] * std::sin(phase));
            }
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
    segments_done_ = 0;
}

void QualityAnalyzer::remove_beat_lf(const EcgCanceller& ecg) noexcept {
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
            const float* lf = lf_.data() + c * epoch_frames_ + start;
            float* t = lf_template_.data() + c * lf_window_;
            for (std::size_t j = 0; j < lf_window_; ++j)
                t[j] += static_cast<float>(alpha * (lf[j] - t[j]));
        }
    });
    if (lf_learnt_ < 4)
        return;
    ecg.for_each_beat(first - w + pre + 1, end + pre, [&](std::int64_t fiducial) {
        const std::int64_t start = fiducial - pre;
        const std::int64_t lo = std::max(first, start), hi = std::min(end, start + w);
        for (std::size_t c = 0; c < channels; ++c) {
            if (!ecg.significant(c))
                continue; // no ECG here: the template is averaged EMG
            float* r = lf_residual(c);
            const float* t = lf_template_.data() + c * lf_window_;
            for (std::int64_t m = lo; m < hi; ++m)
                r[m - first] -= t[m - start];
        }
    });
}

float* QualityAnalyzer::lf_residual(std::size_t c) noexcept {
    float* r = lf_residual_.data() + c * epoch_frames_;
    if (lf_removed_[c] == 0) {
        const float* lf = lf_.data() + c * epoch_frames_;
        std::copy(lf, lf + epoch_frames_, r);
        lf_removed_[c] = 1;
    }
    return r;
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
        const float* r = raw.channel(c) + offset;
        std::memcpy(raw_.data() + c * epoch_frames_ + fill_, r, take * sizeof(float));
        std::memcpy(analysed_.data() + c * epoch_frames_ + fill_, analysed.channel(c) + offset,
                    take * sizeof(float));
        float* lf = lf_.data() + c * epoch_frames_ + fill_;
        for (std::size_t i = 0; i < take; ++i)
            lf[i] = r[i] - first_sample_[c];
    }
    lf_filter_.process({lf_.data() + fill_, take, spec_.channels, epoch_frames_});
    fill_ += take;
    return take;
}

double QualityAnalyzer::mains_power(const float* y) noexcept {
    const std::size_t rows = 2 * (family_harmonics_[0] + family_harmonics_[1]);
    // re, im of each harmonic's windowed DFT: read off one FFT when the harmonics fall on bins
    const auto dft = [&](std::size_t row) -> double {
        if (mains_bins_.empty())
            return mains_dft_[static_cast<Eigen::Index>(row)]; // float -> double
        return mains_fft_.output()[2 * mains_bins_[row / 2] + row % 2];
    };
    if (rows == 0)
        return 0.0;
    if (!mains_bins_.empty()) {
        double* in = mains_fft_.input();
        const std::size_t m = epoch_frames_ / mains_fold_;
        for (std::size_t i = 0; i < m; ++i)
            in[i] = window_[i] * y[i];
        for (std::size_t part = 1; part < mains_fold_; ++part)
            for (std::size_t i = 0; i < m; ++i)
                in[i] += window_[part * m + i] * y[part * m + i];
        mains_fft_.execute();
    } else {
        for (std::size_t i = 0; i < epoch_frames_; ++i)
            mains_x_[static_cast<Eigen::Index>(i)] = y[i];
        mains_dft_.noalias() = mains_basis_ * mains_x_;
    }
    double best = 0.0;
    std::size_t row = 0;
    for (const std::size_t harmonics : family_harmonics_) {
        double family = 0.0, fundamental = 0.0, strongest = 0.0;
        for (std::size_t h = 0; h < harmonics; ++h, row += 2) {
            const double re = dft(row), im = dft(row + 1);
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

// One segment of channel c, frames [offset, offset + segment_frames_) of the epoch buffers. The
// sums run in vector lanes; the runs of identical samples are traced only when the segment has
// two identical neighbours at all.
void QualityAnalyzer::segment_stats(std::size_t c, std::size_t offset,
                                    SegmentStats& s) const noexcept {
    const std::size_t n = segment_frames_;
    const float* x = raw_.data() + c * epoch_frames_ + offset;
    const float* y = analysed_.data() + c * epoch_frames_ + offset;
    const float* lf = lf_.data() + c * epoch_frames_ + offset;
    const Float4 rail_lo = {rails_[c][0], rails_[c][0], rails_[c][0], rails_[c][0]};
    const Float4 rail_hi = {rails_[c][1], rails_[c][1], rails_[c][1], rails_[c][1]};

    // Raw sum, extremes, samples at the rails, identical neighbours.
    Float4 lo4 = load4(x), hi4 = lo4; // n >= 16
    Double2 sum01 = low_half(lo4), sum23 = high_half(lo4);
    Int4 rail4 = (lo4 >= rail_hi) | (lo4 <= rail_lo), same4{};
    std::size_t i = 4;
    for (; i + 4 <= n; i += 4) {
        const Float4 v = load4(x + i);
        sum01 += low_half(v);
        sum23 += high_half(v);
        lo4 = v < lo4 ? v : lo4;
        hi4 = v > hi4 ? v : hi4;
        rail4 += (v >= rail_hi) | (v <= rail_lo);
        same4 += v == load4(x + i - 1);
    }
    double raw_sum = sum_lanes(sum01, sum23);
    float lo = std::min({lo4[0], lo4[1], lo4[2], lo4[3]});
    float hi = std::max({hi4[0], hi4[1], hi4[2], hi4[3]});
    std::uint32_t at_rail = sum_lanes(rail4), same = sum_lanes(same4);
    for (std::size_t k = 1; k < 4; ++k) // the pairs inside the first four samples
        same += static_cast<std::uint32_t>(x[k] == x[k - 1]);
    for (; i < n; ++i) {
        raw_sum += x[i];
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
        at_rail += static_cast<std::uint32_t>((x[i] >= rail_hi[0]) | (x[i] <= rail_lo[0]));
        same += static_cast<std::uint32_t>(x[i] == x[i - 1]);
    }

    // Squared deviations from the segment mean; band power; the 1-20 Hz sums.
    const double mean = raw_sum / static_cast<double>(n);
    const Double2 mean2 = {mean, mean};
    Double2 dev01{}, dev23{}, band01{}, band23{}, lf01{}, lf23{}, lfsq01{}, lfsq23{};
    for (i = 0; i + 4 <= n; i += 4) {
        const Float4 v = load4(x + i), w = load4(y + i), u = load4(lf + i);
        const Double2 d01 = low_half(v) - mean2, d23 = high_half(v) - mean2;
        dev01 += d01 * d01;
        dev23 += d23 * d23;
        const Double2 w01 = low_half(w), w23 = high_half(w);
        band01 += w01 * w01;
        band23 += w23 * w23;
        const Double2 u01 = low_half(u), u23 = high_half(u);
        lf01 += u01;
        lf23 += u23;
        lfsq01 += u01 * u01;
        lfsq23 += u23 * u23;
    }
    s.raw_sq_dev = sum_lanes(dev01, dev23);
    s.band = sum_lanes(band01, band23);
    s.lf_sum = sum_lanes(lf01, lf23);
    s.lf_sum_sq = sum_lanes(lfsq01, lfsq23);
    for (; i < n; ++i) {
        const double d = x[i] - mean;
        s.raw_sq_dev += d * d;
        s.band += static_cast<double>(y[i]) * y[i];
        s.lf_sum += lf[i];
        s.lf_sum_sq += static_cast<double>(lf[i]) * lf[i];
    }
    s.raw_sum = raw_sum;
    s.lo = lo;
    s.hi = hi;
    s.first = x[0];
    s.last = x[n - 1];
    s.at_rail = at_rail;
    s.head_run = s.tail_run = s.longest_run = 1;
    s.hi_in_runs = s.lo_in_runs = 0;
    s.first_in_run = s.last_in_run = false;
    if (same == 0)
        return;
    std::uint32_t run = 1;
    bool head = true;
    for (i = 0; i < n; ++i) {
        const bool eq_prev = i > 0 && x[i - 1] == x[i];
        const bool eq_next = i + 1 < n && x[i + 1] == x[i];
        run = eq_prev ? run + 1 : 1;
        head = head && (i == 0 || eq_prev);
        if (head)
            s.head_run = run;
        s.longest_run = std::max(s.longest_run, run);
        const bool in_run = eq_prev || eq_next;
        s.hi_in_runs += static_cast<std::uint32_t>(in_run && x[i] == hi);
        s.lo_in_runs += static_cast<std::uint32_t>(in_run && x[i] == lo);
    }
    s.tail_run = run;
    s.first_in_run = x[1] == x[0];
    s.last_in_run = x[n - 2] == x[n - 1];
}

double QualityAnalyzer::ecg_energy(std::size_t c, const float* y,
                                   const EcgCanceller& ecg) const noexcept {
    const auto t = ecg.beat_template(c);
    if (ecg.delay_frames() == 0) { // nothing subtracted: one beat's energy × the beats expected
        double tt = 0.0;
        for (const float v : t)
            tt += static_cast<double>(v) * v;
        return tt * static_cast<double>(epoch_frames_) / (ecg.recent_rr_s() * spec_.sample_rate_hz);
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

void QualityAnalyzer::analyse(const EcgCanceller* ecg) noexcept {
    const QualityThresholds& th = config_.thresholds;
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
    const bool ecg_ready = ecg != nullptr && ecg->template_ready();
    std::fill(lf_removed_.begin(), lf_removed_.end(), 0);
    if (ecg != nullptr)
        remove_beat_lf(*ecg);

    // Segment j of this epoch is stream segment base + j; those below segments_done_ were
    // summed for an earlier epoch and sit in slot (base + j) % segments_.
    const std::uint64_t base = share_segments_ ? frame_.first_frame / segment_frames_ : 0;
    const std::size_t kept =
        share_segments_ && segments_done_ > base
            ? static_cast<std::size_t>(std::min<std::uint64_t>(segments_done_ - base, segments_))
            : 0;
    const auto slot = [&](std::size_t c, std::size_t j) -> SegmentStats& {
        return segment_stats_[c * segments_ + static_cast<std::size_t>((base + j) % segments_)];
    };
    for (std::size_t c = 0; c < spec_.channels; ++c)
        for (std::size_t j = kept; j < segments_; ++j)
            segment_stats(c, j * segment_frames_, slot(c, j));
    segments_done_ = base + segments_;

    const auto seg_n = static_cast<double>(segment_frames_);
    for (std::size_t c = 0; c < spec_.channels; ++c) {
        const float* y = analysed_.data() + c * epoch_frames_;
        QualityMetrics m;
        std::uint32_t flags = 0;

        // The epoch from its segments: sums add up; the variance about the epoch mean adds each
        // segment's squared deviations from its own mean and its mean's offset (Chan et al.).
        double raw_sum = 0.0, band = 0.0, lf_sum = 0.0, lf_sum_sq = 0.0;
        float lo = slot(c, 0).lo, hi = slot(c, 0).hi;
        std::size_t at_rail = 0;
        for (std::size_t j = 0; j < segments_; ++j) {
            const SegmentStats& s = slot(c, j);
            raw_sum += s.raw_sum;
            band += s.band;
            lf_sum += s.lf_sum;
            lf_sum_sq += s.lf_sum_sq;
            lo = std::min(lo, s.lo);
            hi = std::max(hi, s.hi);
            at_rail += s.at_rail;
        }
        const double mean = raw_sum / n;
        double var = 0.0;
        // Runs of identical samples across the segments, and the samples at the epoch's extremes
        // that have an identical neighbour (a segment's first or last sample may find it in the
        // next or previous segment).
        std::size_t longest = 1, open_run = 0, extreme_in_runs = 0;
        const auto extreme = [&](float v) { return v == hi || v == lo; };
        for (std::size_t j = 0; j < segments_; ++j) {
            const SegmentStats& s = slot(c, j);
            const double offset = s.raw_sum / seg_n - mean;
            var += s.raw_sq_dev + seg_n * offset * offset;
            const bool joined = j > 0 && slot(c, j - 1).last == s.first;
            const std::size_t head = (joined ? open_run : 0) + s.head_run;
            open_run = s.head_run == segment_frames_ ? head : s.tail_run;
            longest = std::max({longest, head, open_run, static_cast<std::size_t>(s.longest_run)});
            if (s.hi == hi)
                extreme_in_runs += s.hi_in_runs;
            if (s.lo == lo && hi != lo)
                extreme_in_runs += s.lo_in_runs;
            if (joined) {
                const SegmentStats& prev = slot(c, j - 1);
                extreme_in_runs +=
                    static_cast<std::size_t>(!prev.last_in_run && extreme(prev.last));
                extreme_in_runs += static_cast<std::size_t>(!s.first_in_run && extreme(s.first));
            }
        }
        if (lf_removed_[c] != 0) { // the beat-synchronous part was removed: sum the residual
            const float* lf = lf_residual_.data() + c * epoch_frames_;
            lf_sum = lf_sum_sq = 0.0;
            for (std::size_t i = 0; i < epoch_frames_; ++i) {
                lf_sum += lf[i];
                lf_sum_sq += static_cast<double>(lf[i]) * lf[i];
            }
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
            m.mains_raw_ratio = mains_power(raw_.data() + c * epoch_frames_) / band;
            // Only a channel whose template is significant has an ECG to measure; elsewhere the
            // projection on a template of averaged EMG would measure EMG.
            m.ecg_share = !ecg_ready            ? kNan
                          : ecg->significant(c) ? ecg_energy(c, y, *ecg) / band_energy
                                                : 0.0;
        } else {
            m.lf_ratio = m.mains_share = m.mains_raw_ratio = m.ecg_share = kNan;
        }
        // A flat channel has no band power to compare with: the ratios mean nothing then (and at
        // the moment an electrode comes off, the filters ring on the step).
        if (!flatline) {
            if (m.mains_share >= th.mains_share || m.mains_raw_ratio >= th.mains_buried_ratio)
                flags |= MainsDominant;
            if (m.lf_ratio >= th.motion_lf_ratio)
                flags |= MotionArtefact;
            if (m.ecg_share >= th.ecg_share)
                flags |= EcgContamination;
        }
        m.gaps = gaps;
        if (gaps > 0)
            flags |= SampleGap;
        frame_.metrics[c] = m;
        frame_.flags[c] = flags;
    }
}

void QualityAnalyzer::advance() noexcept {
    const std::size_t keep = epoch_frames_ - hop_frames_;
    for (std::size_t c = 0; c < spec_.channels; ++c)
        for (auto* buffer : {&raw_, &lf_, &analysed_}) {
            float* x = buffer->data() + c * epoch_frames_;
            std::memmove(x, x + hop_frames_, keep * sizeof(float));
        }
    fill_ = keep;
    ++next_index_;
}

} // namespace semg::dsp
