#include "dsp/ecg.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace semg::dsp {

std::string to_string(EcgMethod method) {
    switch (method) {
    case EcgMethod::Off: return "off";
    case EcgMethod::Highpass: return "highpass";
    default: return "template";
    }
}

EcgMethod ecg_method_from_string(const std::string& name) {
    if (name == "off")
        return EcgMethod::Off;
    if (name == "highpass")
        return EcgMethod::Highpass;
    if (name == "template")
        return EcgMethod::Template;
    throw std::invalid_argument("--ecg must be off, highpass or template, got '" + name + "'");
}

// ---------------------------------------------------------------------------------------------

void DelayLine::prepare(const StreamSpec& spec, std::size_t delay_frames) {
    delay_ = delay_frames;
    channels_ = spec.channels;
    ring_.assign(delay_ * channels_, 0.0f);
    reset();
}

void DelayLine::reset() noexcept {
    std::fill(ring_.begin(), ring_.end(), 0.0f);
    pos_ = 0;
}

void DelayLine::process(BlockRef io) noexcept {
    if (delay_ == 0)
        return;
    for (std::size_t c = 0; c < channels_; ++c) {
        float* x = io.channel(c);
        float* ring = ring_.data() + c * delay_;
        std::size_t pos = pos_;
        for (std::size_t i = 0; i < io.frames; ++i) {
            const float in = x[i];
            x[i] = ring[pos];
            ring[pos] = in;
            if (++pos == delay_)
                pos = 0;
        }
    }
    pos_ = (pos_ + io.frames) % delay_;
}

// ---------------------------------------------------------------------------------------------

namespace {
std::size_t frames_of(double seconds, double fs) {
    return static_cast<std::size_t>(std::lround(seconds * fs));
}
constexpr double kTiny = 1e-20;
} // namespace

EcgCanceller::EcgCanceller(Config config) : config_(config) {
    const Config& c = config_;
    if (!(c.detect_low_hz > 0.0 && c.detect_high_hz > c.detect_low_hz) || c.detect_order < 1)
        throw std::invalid_argument("QRS detection band must satisfy 0 < low < high, order >= 1");
    if (!(c.integration_s > 0.0 && c.normalise_tau_s > 0.0 && c.learn_s > 0.0 &&
          c.refractory_s > 0.0 && c.max_latency_s > 0.0 && c.pre_s >= 0.0 && c.post_s > 0.0 &&
          c.align_s >= 0.0))
        throw std::invalid_argument("ECG canceller times must be positive");
    if (c.template_beats < 1 || c.min_beats < 1)
        throw std::invalid_argument("ECG template needs at least one beat");
}

void EcgCanceller::prepare(const StreamSpec& analysed, std::size_t detect_channels) {
    channels_ = analysed.channels;
    detect_channels_ = detect_channels;
    sample_rate_hz_ = analysed.sample_rate_hz;
    const double fs = sample_rate_hz_;
    pre_ = frames_of(config_.pre_s, fs);
    post_ = std::max<std::size_t>(1, frames_of(config_.post_s, fs));
    window_ = pre_ + post_;
    align_ = frames_of(config_.align_s, fs);
    latency_frames_ =
        static_cast<std::int64_t>(std::max<std::size_t>(1, frames_of(config_.max_latency_s, fs)));
    // Frames from the start of a beat window (less the alignment margin) to the frame at which
    // the beat is surely confirmed and its window complete.
    const std::size_t span =
        pre_ + align_ + std::max(post_ + align_, static_cast<std::size_t>(latency_frames_)) + 1;
    delay_ = config_.subtract ? span : 0;
    ring_ = span + kScratch + 1; // process() stores a whole piece before it outputs
    learn_frames_ =
        static_cast<std::int64_t>(std::max<std::size_t>(1, frames_of(config_.learn_s, fs)));
    refractory_frames_ = static_cast<std::int64_t>(frames_of(config_.refractory_s, fs));
    recovery_frames_ = static_cast<std::int64_t>(frames_of(1.5, fs));
    warmup_frames_ = static_cast<std::int64_t>(frames_of(config_.warmup_max_s, fs));
    noise_window_frames_ = static_cast<std::int64_t>(std::max<std::size_t>(1, frames_of(0.2, fs)));
    norm_alpha_ = 1.0 - std::exp(-1.0 / (config_.normalise_tau_s * fs));
    if (detect_channels_ > 0) {
        detect_filter_ = SosFilter(butterworth(FilterKind::Bandpass, config_.detect_order,
                                               config_.detect_low_hz, config_.detect_high_hz, fs));
        detect_filter_.prepare({fs, detect_channels_});
    }
    scratch_.assign(kScratch * detect_channels_, 0.0f);
    energy_sum_.assign(kScratch, 0.0);
    first_sample_.assign(detect_channels_, 0.0f);
    energy_mean_.assign(detect_channels_, 0.0);
    mwi_ring_.assign(std::max<std::size_t>(1, frames_of(config_.integration_s, fs)), 0.0);
    templates_.assign(window_ * channels_, 0.0f);
    check_templates_.assign(window_ * channels_, 0.0f);
    amplitude_.assign(kBeatRing * channels_, 0.0f);
    lag_score_.assign(2 * align_ + 1, 0.0);
    window_energy_.assign(channels_, 0.0);
    snr_.assign(channels_, 0.0);
    subtracting_.assign(channels_, 0);
    history_.assign(ring_ * channels_, 0.0f);
    beat_.assign(window_ + 2 * align_, 0.0f);
    reset();
}

void EcgCanceller::reset() noexcept {
    detect_filter_.reset();
    std::fill(energy_mean_.begin(), energy_mean_.end(), 0.0);
    std::fill(mwi_ring_.begin(), mwi_ring_.end(), 0.0);
    mwi_pos_ = 0;
    mwi_sum_ = 0.0;
    learn_max_ = learn_sum_ = spk_ = npk_ = 0.0;
    in_candidate_ = false;
    candidate_max_ = 0.0;
    candidate_pos_ = refractory_until_ = last_event_ = noise_window_start_ = 0;
    noise_window_max_ = 0.0;
    beats_total_ = learnt_ = next_learn_ = first_active_ = 0;
    std::fill(templates_.begin(), templates_.end(), 0.0f);
    std::fill(check_templates_.begin(), check_templates_.end(), 0.0f);
    std::fill(amplitude_.begin(), amplitude_.end(), 0.0f);
    std::fill(window_energy_.begin(), window_energy_.end(), 0.0);
    std::fill(snr_.begin(), snr_.end(), 0.0);
    std::fill(subtracting_.begin(), subtracting_.end(), 0);
    std::fill(history_.begin(), history_.end(), 0.0f);
    rr_histogram_.fill(0);
    last_beat_ = -1;
    recent_rr_s_.fill(0.0);
    rr_count_ = 0;
    rhythm_ = false;
    found_rhythm_ = false;
    recent_rr_median_s_ = 0.0;
    n_ = 0;
}

void EcgCanceller::process(ConstBlockRef detect, BlockRef io) noexcept {
    for (std::size_t off = 0; off < io.frames;) {
        const std::size_t k = std::min(kScratch, io.frames - off);
        const std::int64_t n0 = n_, n1 = n_ + static_cast<std::int64_t>(k);
        if (detect_channels_ > 0)
            detect_block(detect.slice(off, k));
        for (std::size_t c = 0; c < channels_; ++c) { // history of frames [n0, n1)
            const float* src = io.channel(c) + off;
            float* ring = history_.data() + c * ring_;
            std::size_t slot = static_cast<std::size_t>(n0 % static_cast<std::int64_t>(ring_));
            for (std::size_t i = 0; i < k; ++i) {
                ring[slot] = src[i];
                if (++slot == ring_)
                    slot = 0;
            }
        }
        // Frames in order, in pieces that end where a beat's (aligned) window completes: that
        // beat is folded into the templates before the frames after it are output.
        for (std::int64_t n = n0; n < n1;) {
            while (next_learn_ < beats_total_ && learn_frame(next_learn_) <= n)
                learn_beat(next_learn_++);
            const std::int64_t end =
                next_learn_ < beats_total_ ? std::min(n1, learn_frame(next_learn_)) : n1;
            if (delay_ > 0)
                output(n, end, io.channel(0) + off + static_cast<std::size_t>(n - n0), io.stride);
            n = end;
        }
        n_ = n1;
        off += k;
    }
}

// The frame at which beat k is folded in: once it is confirmed and its window (with the
// alignment margin) is in the history.
std::int64_t EcgCanceller::learn_frame(std::uint64_t k) const noexcept {
    return std::max(confirmed_at_[k % kBeatRing],
                    beat_ring_[k % kBeatRing] + static_cast<std::int64_t>(post_ + align_) - 1);
}

// Detection over the frames [n_, n_ + detect.frames): band-pass, normalised energy summed over
// the detection channels (in channel order), then the per-frame detector.
void EcgCanceller::detect_block(ConstBlockRef detect) noexcept {
    const std::size_t nd = detect_channels_, k = detect.frames;
    if (n_ == 0)
        for (std::size_t d = 0; d < nd; ++d)
            first_sample_[d] = detect.channel(d)[0];
    for (std::size_t d = 0; d < nd; ++d) {
        const float* src = detect.channel(d);
        float* dst = scratch_.data() + d * kScratch;
        for (std::size_t i = 0; i < k; ++i)
            dst[i] = src[i] - first_sample_[d];
    }
    detect_filter_.process({scratch_.data(), k, nd, kScratch});
    // Frames before learn_frames_ set each channel's energy mean; later ones are detected.
    const std::size_t learning = static_cast<std::size_t>(
        std::clamp<std::int64_t>(learn_frames_ - n_, 0, static_cast<std::int64_t>(k)));
    std::fill(energy_sum_.begin(), energy_sum_.begin() + static_cast<std::ptrdiff_t>(k), 0.0);
    // Once the detection channels are the analysed ones and some carry a significant template,
    // the channels without one weigh a tenth: ECG-free channels (one side, low levels) only add
    // noise to the sum and would hide beats.
    bool any_significant = false;
    if (nd == channels_)
        for (std::size_t d = 0; d < nd; ++d)
            any_significant = any_significant || significant(d);
    double weight_sum = 0.0;
    for (std::size_t d = 0; d < nd; ++d) {
        const double weight = !any_significant || significant(d) ? 1.0 : kQuietChannelWeight;
        weight_sum += weight;
        const float* y = scratch_.data() + d * kScratch;
        double mean = energy_mean_[d];
        for (std::size_t i = 0; i < learning; ++i)
            mean += static_cast<double>(y[i]) * y[i] / static_cast<double>(learn_frames_);
        for (std::size_t i = learning; i < k; ++i) {
            const double e = static_cast<double>(y[i]) * y[i];
            energy_sum_[i] += weight * e / (mean + kTiny);
            mean += norm_alpha_ * (e - mean);
        }
        energy_mean_[d] = mean;
    }
    for (std::size_t i = learning; i < k; ++i)
        detect_sample(n_ + static_cast<std::int64_t>(i), energy_sum_[i] / weight_sum);
}

// Output frames [n, end) (input frames n − delay_ on, zeros before the first input), less the
// learnt beats that cover them on the channels whose template is subtracted.
void EcgCanceller::output(std::int64_t n, std::int64_t end, float* out,
                          std::size_t stride) noexcept {
    const std::int64_t m0 = n - static_cast<std::int64_t>(delay_),
                       m1 = end - static_cast<std::int64_t>(delay_);
    const auto count = static_cast<std::size_t>(end - n);
    while (first_active_ < beats_total_ &&
           (beat_ring_[first_active_ % kBeatRing] + static_cast<std::int64_t>(post_) <= m0 ||
            first_active_ + kBeatRing < beats_total_))
        ++first_active_;
    for (std::size_t c = 0; c < channels_; ++c) {
        float* y = out + c * stride;
        const float* ring = history_.data() + c * ring_;
        std::size_t i = 0;
        for (; i < count && m0 + static_cast<std::int64_t>(i) < 0; ++i)
            y[i] = 0.0f;
        if (i < count) {
            std::size_t slot = static_cast<std::size_t>((m0 + static_cast<std::int64_t>(i)) %
                                                        static_cast<std::int64_t>(ring_));
            for (; i < count; ++i) {
                y[i] = ring[slot];
                if (++slot == ring_)
                    slot = 0;
            }
        }
        if (!subtracting_[c])
            continue;
        const float* t = templates_.data() + c * window_;
        for (std::uint64_t b = first_active_; b < beats_total_ && b < next_learn_; ++b) {
            const std::int64_t start = beat_ring_[b % kBeatRing] - static_cast<std::int64_t>(pre_);
            if (start >= m1)
                break;
            const std::int64_t lo = std::max(m0, start),
                               hi = std::min(m1, start + static_cast<std::int64_t>(window_));
            const float a = amplitude_[(b % kBeatRing) * channels_ + c];
            for (std::int64_t m = lo; m < hi; ++m)
                y[m - m0] -= a * t[m - start];
        }
    }
}

void EcgCanceller::detect_sample(std::int64_t n, double s) noexcept {
    const std::size_t w = mwi_ring_.size();
    mwi_sum_ += s - mwi_ring_[mwi_pos_];
    mwi_ring_[mwi_pos_] = s;
    if (++mwi_pos_ == w) { // re-sum once per window: no drift over hours
        mwi_pos_ = 0;
        mwi_sum_ = 0.0;
        for (double v : mwi_ring_)
            mwi_sum_ += v;
    }
    const double integrated = mwi_sum_ / static_cast<double>(w);

    if (n < 2 * learn_frames_) { // second learning phase: levels of the integrated signal
        learn_max_ = std::max(learn_max_, integrated);
        learn_sum_ += integrated;
        if (n == 2 * learn_frames_ - 1) {
            spk_ = learn_max_;
            npk_ = learn_sum_ / static_cast<double>(learn_frames_);
            last_event_ = n;
            noise_window_start_ = n + 1;
        }
        return;
    }
    const double threshold = npk_ + 0.25 * (spk_ - npk_);
    if (in_candidate_) {
        if (integrated > candidate_max_) {
            candidate_max_ = integrated;
            candidate_pos_ = n;
        }
        if (integrated < 0.5 * candidate_max_ || n - candidate_pos_ >= latency_frames_) {
            in_candidate_ = false;
            confirm(candidate_pos_, candidate_max_, n);
        }
        return;
    }
    if (n >= refractory_until_ && integrated > threshold) {
        in_candidate_ = true;
        candidate_max_ = integrated;
        candidate_pos_ = n;
        return;
    }
    noise_window_max_ = std::max(noise_window_max_, integrated);
    if (n - noise_window_start_ >= noise_window_frames_) {
        if (noise_window_max_ < threshold)
            npk_ = 0.125 * noise_window_max_ + 0.875 * npk_;
        noise_window_max_ = 0.0;
        noise_window_start_ = n;
    }
    if (n - last_event_ > recovery_frames_) { // no beat for a while: look for a smaller one
        spk_ = npk_ + 0.5 * (spk_ - npk_);
        last_event_ = n;
    }
}

void EcgCanceller::confirm(std::int64_t fiducial, double peak, std::int64_t now) noexcept {
    spk_ = 0.125 * peak + 0.875 * spk_;
    refractory_until_ = fiducial + refractory_frames_;
    last_event_ = fiducial;
    beat_ring_[beats_total_ % kBeatRing] = fiducial;
    confirmed_at_[beats_total_ % kBeatRing] = now;
    for (std::size_t c = 0; c < channels_; ++c)
        amplitude_[(beats_total_ % kBeatRing) * channels_ + c] = 0.0f;
    ++beats_total_;
    if (next_learn_ + kBeatRing < beats_total_)
        next_learn_ = beats_total_ - kBeatRing; // cannot happen at sane rates
}

// Channel c's samples from detected − pre − align over window + 2·align frames, out of the
// history ring into one contiguous piece (zeros before the first input).
const float* EcgCanceller::gather(std::size_t c, std::int64_t detected) noexcept {
    const std::int64_t first = detected - static_cast<std::int64_t>(pre_ + align_);
    const float* ring = history_.data() + c * ring_;
    for (std::size_t j = 0; j < beat_.size(); ++j) {
        const std::int64_t n = first + static_cast<std::int64_t>(j);
        if (n >= 0) {
            std::size_t slot = static_cast<std::size_t>(n % static_cast<std::int64_t>(ring_));
            for (; j < beat_.size(); ++j) {
                beat_[j] = ring[slot];
                if (++slot == ring_)
                    slot = 0;
            }
            break;
        }
        beat_[j] = 0.0f;
    }
    return beat_.data();
}

void EcgCanceller::learn_beat(std::uint64_t k) noexcept {
    std::int64_t& fiducial = beat_ring_[k % kBeatRing];
    const std::int64_t detected = fiducial;
    // Align on the templates: the lag maximising Σ_c w_c (x·T_c)/|T_c| with
    // w_c = max(0, snr_c − significance), so that only channels whose template is significant
    // vote (aligning on noise templates would teach them the noise), with the correlation's sign.
    if (template_ready() && rhythm_ && align_ > 0) {
        std::fill(lag_score_.begin(), lag_score_.end(), 0.0);
        bool any = false;
        for (std::size_t c = 0; c < channels_; ++c) {
            const double weight = snr_[c] - config_.significance;
            if (!(weight > 0.0))
                continue;
            const float* t = templates_.data() + c * window_;
            double tt = 0.0;
            for (std::size_t j = 0; j < window_; ++j)
                tt += static_cast<double>(t[j]) * t[j];
            if (!(tt > kTiny))
                continue;
            any = true;
            const double scale = weight / std::sqrt(tt);
            const float* x = gather(c, detected);
            for (std::size_t l = 0; l < lag_score_.size(); ++l) {
                double xt = 0.0;
                for (std::size_t j = 0; j < window_; ++j)
                    xt += static_cast<double>(x[l + j]) * t[j];
                lag_score_[l] += scale * xt;
            }
        }
        if (any) {
            const auto best = std::max_element(lag_score_.begin(), lag_score_.end());
            fiducial += static_cast<std::int64_t>(best - lag_score_.begin()) -
                        static_cast<std::int64_t>(align_);
        }
    }
    const auto lag =
        static_cast<std::size_t>(fiducial - detected + static_cast<std::int64_t>(align_));
    const std::uint64_t beats = learnt_ + 1;
    const double alpha = 1.0 / static_cast<double>(std::min<std::uint64_t>(
                                   beats, static_cast<std::uint64_t>(config_.template_beats)));
    const double noise_factor =
        beats < static_cast<std::uint64_t>(config_.template_beats) ? alpha : alpha / (2.0 - alpha);
    for (std::size_t c = 0; c < channels_; ++c) {
        float* t = templates_.data() + c * window_;
        const float* beat = gather(c, detected);
        const float* aligned = beat + lag;
        // Amplitude of this beat against the template learnt so far.
        double xt = 0.0, tt = 0.0;
        for (std::size_t j = 0; j < window_; ++j) {
            const double x = aligned[j];
            xt += x * t[j];
            tt += static_cast<double>(t[j]) * t[j];
        }
        const double a = tt > kTiny ? std::clamp(xt / tt, 0.0, 2.0) : 0.0;
        amplitude_[(k % kBeatRing) * channels_ + c] = static_cast<float>(a);
        for (std::size_t j = 0; j < window_; ++j)
            t[j] += static_cast<float>(alpha * (aligned[j] - t[j]));
        // Significance from the check template, averaged at the detector's own fiducials: the
        // alignment cannot teach it anything (a lag search finds a match in any noise, or in a
        // mains sine one period away, and would then confirm itself).
        float* check = check_templates_.data() + c * window_;
        const float* unaligned = beat + align_;
        double energy = 0.0, window_energy = 0.0;
        for (std::size_t j = 0; j < window_; ++j) {
            const double x = unaligned[j];
            check[j] += static_cast<float>(alpha * (x - check[j]));
            energy += static_cast<double>(check[j]) * check[j];
            window_energy += x * x;
        }
        window_energy_[c] += alpha * (window_energy - window_energy_[c]);
        const double noise = window_energy_[c] * noise_factor;
        snr_[c] = noise > kTiny ? energy / noise : 0.0;
    }
    learnt_ = beats;
    if (last_beat_ >= 0) {
        const double rr_s = static_cast<double>(fiducial - last_beat_) / sample_rate_hz_;
        const auto bin = static_cast<std::size_t>(rr_s / 0.01);
        if (bin < kRrBins)
            ++rr_histogram_[bin];
        recent_rr_s_[rr_count_++ % kRhythmBeats] = rr_s;
    }
    last_beat_ = fiducial;
    const bool was_rhythm = rhythm_;
    rhythm_ = false;
    const std::size_t known =
        static_cast<std::size_t>(std::min<std::uint64_t>(rr_count_, kRhythmBeats));
    if (known >= 4) {
        std::array<double, kRhythmBeats> sorted = recent_rr_s_;
        std::sort(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(known));
        const double median =
            known % 2 ? sorted[known / 2] : 0.5 * (sorted[known / 2 - 1] + sorted[known / 2]);
        std::size_t regular = 0;
        for (std::size_t i = 0; i < known; ++i)
            regular += std::abs(sorted[i] - median) <= kRegularRr * median ? 1 : 0;
        // Hysteresis: a rhythm is found when 5 of 8 intervals are regular and lost only when
        // fewer than 3 of 8 are, so heart-rate variability does not switch subtraction on and off.
        const double share = static_cast<double>(regular) / static_cast<double>(known);
        const bool rate_ok = median >= kMinRr_s && median <= kMaxRr_s;
        rhythm_ = rate_ok && (was_rhythm ? share >= kRhythmKeep : share >= kRhythmFind);
        recent_rr_median_s_ = median;
    }
    if (rhythm_)
        found_rhythm_ = true;
    // Per channel, with hysteresis: subtraction starts when the template is significant and stops
    // only when its significance falls below half the threshold (or the rhythm is lost).
    for (std::size_t c = 0; c < channels_; ++c) {
        const double needed = subtracting_[c] ? 0.5 * config_.significance : config_.significance;
        subtracting_[c] = config_.subtract && rhythm_ &&
                          beats >= static_cast<std::uint64_t>(config_.min_beats) &&
                          snr_[c] >= needed;
    }
}

bool EcgCanceller::warming_up() const noexcept {
    if (detect_channels_ == 0)
        return false;
    if (template_ready() && found_rhythm_)
        return false;
    return n_ < warmup_frames_;
}

EcgReport EcgCanceller::report() const {
    EcgReport r;
    r.beats = beats_total_;
    std::uint64_t total = 0;
    for (auto v : rr_histogram_)
        total += v;
    if (total > 0) {
        std::uint64_t cumulative = 0;
        std::size_t median_bin = 0;
        for (; median_bin < kRrBins; ++median_bin) {
            cumulative += rr_histogram_[median_bin];
            if (2 * cumulative >= total)
                break;
        }
        const double median_s = (static_cast<double>(median_bin) + 0.5) * 0.01;
        r.heart_rate_bpm = 60.0 / median_s;
        std::uint64_t regular = 0;
        for (std::size_t b = 0; b < kRrBins; ++b) {
            const double rr = (static_cast<double>(b) + 0.5) * 0.01;
            if (std::abs(rr - median_s) <= 0.2 * median_s)
                regular += rr_histogram_[b];
        }
        r.rr_regular_fraction = static_cast<double>(regular) / static_cast<double>(total);
    }
    r.template_snr = snr_;
    r.rhythm = rhythm_;
    r.subtracted.assign(channels_, false);
    for (std::size_t c = 0; c < channels_; ++c) {
        r.subtracted[c] = subtracting_[c] != 0;
        r.detected = r.detected || significant(c);
    }
    return r;
}

} // namespace semg::dsp
