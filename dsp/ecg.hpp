// ECG (heart beat) detection and removal for trunk sEMG, causal and streaming.
//
// QRS detection (Pan-Tompkins-like, energy based, any number of detection channels: an ECG
// channel when the recording has one, else the raw EMG channels):
//   1. per detection channel: first sample subtracted (no start-up step), Butterworth band-pass
//      detect_low_hz-detect_high_hz (5-15 Hz, where QRS energy is high and EMG energy low),
//      squared, divided by its own running mean (time constant normalise_tau_s), so that every
//      channel weighs the same whatever its EMG level; the channels are averaged (once some
//      channel's template is significant, channels without a significant one weigh a tenth);
//   2. moving-window integration over integration_s;
//   3. adaptive threshold θ = NPK + 0.25·(SPK − NPK) with running signal (SPK) and noise (NPK)
//      peak levels, learnt over the first 2·learn_s (the first learn_s sets the normalisation);
//      a candidate starts when the integrated signal exceeds θ outside the refractory period,
//      its fiducial is the position of its maximum, and it is confirmed when the signal falls
//      below half that maximum or max_latency_s after the maximum, whichever comes first. After
//      1.5 s without a beat the threshold is lowered (SPK halfway to NPK) so that a smaller ECG is
//      found again.
// Template subtraction (on the band-passed EMG channels that are analysed):
//   once a template exists, each beat's fiducial is refined by up to ±align_s to the lag that
//   best matches the templates (the detector's fiducial jitters by several ms; the band-passed
//   QRS is sharper than that); channels vote with weight max(0, snr − significance), and only
//   while the detections form a rhythm. For each
//   channel a beat template over [fiducial − pre_s, fiducial + post_s) is the running mean of the
//   first template_beats beats, then an exponential average with α = 1/template_beats. Each beat is
//   removed as a·template, with a the least-squares amplitude of that beat on that channel (clamped
//   to [0, 2]), so a false detection removes next to nothing and respiration's amplitude modulation
//   is followed. A channel's template is subtracted once min_beats beats are learnt, the detections
//   form a heart rhythm (rhythm(): regular RR intervals at 30-240 bpm), and its energy exceeds
//   `significance` times the energy that averaging EMG alone would leave in it: the beat windows'
//   mean energy times the averaging's noise factor (1/k for a mean of k beats, α/(2 − α) for
//   the exponential average), so channels without a visible ECG, and recordings without one,
//   pass through unchanged. That energy is measured on a second template averaged at the
//   detector's own fiducials, which the alignment cannot bias. Subtraction on a channel stops
//   only when that ratio falls below half the threshold or the rhythm is lost (hysteresis).
// Warm-up: before the first rhythm with learnt templates nothing is removed; warming_up() says so
//   (for at most warmup_max_s), and the analysis flags those epochs ecg_warmup.
// Delay: with subtract (--ecg template), the output is the input delayed by delay_frames() =
//   pre + align + max(post + align, max_latency) + 1 samples on every channel, whether or not
//   anything is subtracted, so that a beat is confirmed, aligned and measured before its window
//   reaches the output (0.42 s by default). Without subtract (detection and templates only, for
//   the ECG score of --ecg off and highpass) the output is the input, undelayed, and a beat
//   becomes known up to pre + max_latency after the first frame its window covers.
// Units: µV in, µV out. Real time: process() is noexcept and allocation-free; everything is
// allocated in prepare(). Chunk-invariant.
#pragma once

#include "dsp/block.hpp"
#include "dsp/iir.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace semg::dsp {

// How the analysis treats the ECG: left alone (off), removed by a 30 Hz high-pass replacing the
// band-pass low edge (highpass), or removed by template subtraction (template).
enum class EcgMethod { Off, Highpass, Template };
std::string to_string(EcgMethod method);
EcgMethod ecg_method_from_string(const std::string& name); // throws std::invalid_argument

// Fixed delay of every channel by `delay` frames; zeros before the first input.
// Real time: process() is noexcept and allocation-free. Chunk-invariant.
class DelayLine {
public:
    void prepare(const StreamSpec& spec, std::size_t delay_frames);
    void reset() noexcept;
    void process(BlockRef io) noexcept; // in place
    std::size_t delay_frames() const noexcept { return delay_; }

private:
    std::vector<float> ring_; // delay_ per channel
    std::size_t delay_ = 0;
    std::size_t channels_ = 0;
    std::size_t pos_ = 0;
};

struct EcgReport {
    std::uint64_t beats = 0;                                          // confirmed QRS detections
    double heart_rate_bpm = std::numeric_limits<double>::quiet_NaN(); // 60 / median RR
    double rr_regular_fraction =
        std::numeric_limits<double>::quiet_NaN(); // RR within ±20 % of the median
    std::vector<double> template_snr; // per channel: template energy / energy of averaged EMG alone
    std::vector<bool> subtracted;     // per channel: template subtraction active at the end
    bool rhythm = false;              // the detections formed a heart rhythm at the end
    bool detected = false;            // rhythm, and a significant template on some channel
};

class EcgCanceller {
public:
    struct Config {
        bool subtract = true; // false: detect and learn templates only (for the ECG score)
        double detect_low_hz = 5.0;
        double detect_high_hz = 15.0;
        int detect_order = 2;
        double integration_s = 0.05;
        double normalise_tau_s = 2.0;
        double learn_s = 1.0;
        double refractory_s = 0.25;
        double max_latency_s = 0.25;
        double pre_s = 0.15;
        double post_s = 0.08;
        double align_s = 0.015;
        int template_beats = 32;
        int min_beats = 5;
        double significance = 2.5;
        // Warm-up: until the detections form a rhythm and the templates are learnt, ECG that may
        // be there is neither removed nor measured; warming_up() says so for at most this long
        // (a recording without ECG never forms a rhythm).
        double warmup_max_s = 15.0;
    };
    explicit EcgCanceller(Config config); // throws std::invalid_argument
    // analysed: the channels to clean; detect_channels: channels of the detection input (0: no
    // detection, the output is only delayed).
    void prepare(const StreamSpec& analysed, std::size_t detect_channels);
    void reset() noexcept;
    // detect.frames == io.frames. io is cleaned in place and delayed by delay_frames().
    void process(ConstBlockRef detect, BlockRef io) noexcept;

    std::size_t delay_frames() const noexcept { return delay_; }
    std::size_t pre_frames() const noexcept { return pre_; }
    std::size_t window_frames() const noexcept { return window_; }
    const Config& config() const noexcept { return config_; }

    // Beats, as input frame indices of their fiducial (the integrated energy maximum, which
    // lags the R peak by a fixed amount absorbed by the template window). Calls f(fiducial) for
    // the stored beats with from <= fiducial < to, oldest first (the most recent kBeatRing).
    template <class F> void for_each_beat(std::int64_t from, std::int64_t to, F&& f) const {
        const std::uint64_t stored = std::min<std::uint64_t>(beats_total_, kBeatRing);
        for (std::uint64_t k = beats_total_ - stored; k < beats_total_; ++k) {
            const std::int64_t p = beat_ring_[k % kBeatRing];
            if (p >= from && p < to)
                f(p);
        }
    }
    static constexpr std::size_t kBeatRing = 256;
    std::uint64_t beats() const noexcept { return beats_total_; }
    // Templates are learnt from min_beats beats on.
    bool template_ready() const noexcept {
        return learnt_ >= static_cast<std::uint64_t>(config_.min_beats);
    }
    // window_frames() values: the template of channel c from fiducial − pre on.
    std::span<const float> beat_template(std::size_t c) const noexcept {
        return {templates_.data() + c * window_, window_};
    }
    bool subtracting(std::size_t c) const noexcept { return subtracting_[c] != 0; }
    // The detections form a heart rhythm: of the last kRhythmBeats RR intervals (at least 4),
    // 5 of 8 lie within ±30 % of their median (kept while 3 of 8 do: hysteresis, so that a heart
    // rate variability of 20 % does not switch it off), and that median is 0.25-2 s
    // (30-240 bpm). Bursts of EMG and noise trigger irregularly; without this, aligning templates
    // on them could teach the templates a pattern of noise.
    bool rhythm() const noexcept { return rhythm_; }
    // Still learning: no rhythm with learnt templates yet, within the first warmup_max_s. What
    // leaves the stage meanwhile may hold ECG that nothing removes or measures (the analysis
    // flags it ecg_warmup).
    bool warming_up() const noexcept;
    // Median of those RR intervals in seconds (0 before 4 are known).
    double recent_rr_s() const noexcept { return recent_rr_median_s_; }
    // The template of channel c stands out of averaged EMG (snr >= significance) and the
    // detections form a rhythm.
    bool significant(std::size_t c) const noexcept {
        return rhythm_ && snr_[c] >= config_.significance;
    }
    EcgReport report() const;

private:
    void detect_sample(std::int64_t n, double s) noexcept;
    void detect_block(ConstBlockRef detect) noexcept;
    void confirm(std::int64_t fiducial, double peak, std::int64_t now) noexcept;
    std::int64_t learn_frame(std::uint64_t k) const noexcept;
    void output(std::int64_t n, std::int64_t end, float* out, std::size_t stride) noexcept;
    void learn_beat(std::uint64_t k) noexcept; // refine, measure and fold in beat k
    const float* gather(std::size_t c, std::int64_t detected) noexcept;

    Config config_;
    std::size_t channels_ = 0, detect_channels_ = 0;
    double sample_rate_hz_ = 0.0;
    std::size_t pre_ = 0, post_ = 0, window_ = 0, align_ = 0, delay_ = 0, ring_ = 0;
    std::int64_t learn_frames_ = 0, refractory_frames_ = 0, latency_frames_ = 0,
                 recovery_frames_ = 0, noise_window_frames_ = 0;
    double norm_alpha_ = 0.0;

    // Detection.
    SosFilter detect_filter_;
    static constexpr std::size_t kScratch = 512;
    std::vector<float> scratch_;      // kScratch per detection channel
    std::vector<double> energy_sum_;  // kScratch: normalised energy summed over the channels
    std::vector<float> first_sample_; // per detection channel
    std::vector<double> energy_mean_; // per detection channel
    std::vector<double> mwi_ring_;    // integration window
    std::size_t mwi_pos_ = 0;
    double mwi_sum_ = 0.0;
    double learn_max_ = 0.0, learn_sum_ = 0.0;
    double spk_ = 0.0, npk_ = 0.0;
    bool in_candidate_ = false;
    double candidate_max_ = 0.0;
    std::int64_t candidate_pos_ = 0;
    std::int64_t refractory_until_ = 0;
    std::int64_t last_event_ = 0;
    double noise_window_max_ = 0.0;
    std::int64_t noise_window_start_ = 0;

    // Beats and templates.
    std::array<std::int64_t, kBeatRing> beat_ring_{};
    std::array<std::int64_t, kBeatRing> confirmed_at_{}; // frame at which each beat was confirmed
    std::uint64_t beats_total_ = 0;
    std::uint64_t learnt_ = 0;     // beats folded into the templates
    std::uint64_t next_learn_ = 0; // index of the next beat to fold in
    std::uint64_t first_active_ = 0;
    std::vector<float> templates_;       // window_ per channel, aligned: what is subtracted
    std::vector<float> check_templates_; // window_ per channel, unaligned: for the significance
    std::vector<float> amplitude_;       // kBeatRing × channels: a of each stored beat
    std::vector<double> lag_score_;      // 2·align_ + 1
    std::vector<double>
        window_energy_; // per channel: beat-window energy, averaged like the template
    std::vector<double> snr_;
    std::vector<unsigned char> subtracting_;
    std::vector<float> history_; // ring_ per analysed channel
    std::vector<float> beat_;    // window_ + 2·align_: one channel's beat window (gather())
    std::int64_t n_ = 0;         // frames seen

    // RR statistics: histogram in 10 ms bins up to 3 s.
    static constexpr std::size_t kRrBins = 300;
    std::array<std::uint32_t, kRrBins> rr_histogram_{};
    std::int64_t last_beat_ = -1;
    static constexpr std::size_t kRhythmBeats = 8;
    std::array<double, kRhythmBeats> recent_rr_s_{};
    std::uint64_t rr_count_ = 0;
    bool rhythm_ = false;
    bool found_rhythm_ = false; // a rhythm has been found at some point
    double recent_rr_median_s_ = 0.0;
    std::int64_t warmup_frames_ = 0;
    static constexpr double kRegularRr = 0.3;    // an RR within ±30 % of the median is regular
    static constexpr double kRhythmFind = 0.625; // 5 of 8 regular: a rhythm is found
    static constexpr double kRhythmKeep = 0.375; // fewer than 3 of 8: it is lost
    static constexpr double kMinRr_s = 0.25;     // 240 bpm (the refractory period)
    static constexpr double kMaxRr_s = 2.0;      // 30 bpm
    static constexpr double kQuietChannelWeight = 0.1; // detection weight of an ECG-free channel
};

} // namespace semg::dsp
