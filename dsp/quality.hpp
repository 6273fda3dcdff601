// Signal quality of each channel and epoch: the flags of dsp::QualityFlag and the measurements
// behind them (dsp::QualityMetrics). A windowed analyser with the same epochs as EpochAnalyzer
// (epoch k covers frames [k·hop, k·hop + epoch)), fed in lockstep with two views of the same
// frames: the raw samples (before any filter) and the analysed ones (band-passed, ECG removed).
//
// Rules (per channel and epoch; thresholds in QualityThresholds, docs/quality.md):
//   flatline   raw SD < flatline_sd_uv, or the longest run of identical raw samples covers
//              >= flatline_run_fraction of the epoch (electrode off, amplifier stuck);
//   clipping   not flatline, and either >= rail_fraction of the samples (at least 2) lie within
//              half a resolution step of the channel's physical limits (when the file gives them),
//              or >= clip_fraction of the samples equal the epoch's maximum or minimum inside runs
//              of at least two identical samples (flat tops at a rail or at a digital limit);
//   mains      Σ over the harmonics of 50 Hz (or of 60 Hz, whichever is larger) up to the band
//              edge of the Hann-windowed single-bin power of the analysed epoch, divided by the
//              analysed band power, >= mains_share; a family counts only if its fundamental
//              carries at least a quarter of the power of its strongest harmonic (a lone tone
//              at 100, 120 or 150 Hz is not mains). The analysed epoch has been through the
//              mains notch, so this is the line power the notch left; the same sum over the raw
//              samples >= mains_buried_ratio × the analysed band power (mains 20 dB above what
//              is left: an electrode not in contact) also raises the flag;
//   motion     raw power in 1-20 Hz (2nd-order Butterworth band-pass of raw − first sample), less
//              its beat-synchronous part, over the analysed band power >= motion_lf_ratio. The
//              ECG's P and T waves and QRS are mostly below 20 Hz: without this a resting
//              channel with an ECG would read as motion. With an EcgCanceller, each channel keeps
//              a template of the 1-20 Hz signal over [fiducial − 0.35 s, fiducial + 0.35 s),
//              learnt from the beats whose window lies inside an epoch (mean of the first 32,
//              then exponential), and subtracts it at every beat once 4 beats are learnt, on
//              the channels where the canceller's template is significant;
//   ecg        Σ over the beats whose template window overlaps the epoch of (y·T)²/(T·T), y the
//              analysed samples and T the channel's ECG template (dsp::EcgCanceller), divided by
//              Σ y², >= ecg_share: the ECG energy still present after any ECG removal. Measured
//              on channels whose template is significant (else 0), NaN before templates exist.
//              Without subtraction (--ecg off, highpass) the canceller has no delay and the
//              beats at the end of an epoch are not confirmed when it ends: the ECG energy is
//              then T·T × the epoch's length / the median of the recent RR intervals (the
//              energy of one beat times the beats expected in the epoch);
//   gap        a gap reported with note_gap() falls inside the epoch;
//   low_rate   never set per epoch: a sample rate below min_sample_rate_hz is the whole
//              recording's, warned once and recorded once (pipeline: summary.json low_rate),
//              so that it neither fills every epoch with a flag nor reads as 0 flagged epochs.
// (ecg_warmup and rest are set by pipeline::FatigueAnalysis, which knows only after the warm-up
// which channels carry an ECG, and which follows each channel's activity over the recording.)
// Band power is the mean square of the analysed epoch. Ratios with no band power are NaN and
// raise no flag (flatline or empty_spectrum say why); a flatline epoch raises no ratio flag
// (mains, motion, ecg), since its band power is only the filters' ringing.
// Delay: none beyond the epoch. Real time: process() is allocation-free; chunk-invariant.
#pragma once

#include "dsp/block.hpp"
#include "dsp/ecg.hpp"
#include "dsp/features.hpp"
#include "dsp/iir.hpp"
#include "dsp/spectrum.hpp"

#include <Eigen/Dense>

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace semg::dsp {

struct QualityThresholds {
    double flatline_sd_uv = 0.5;
    double flatline_run_fraction = 0.5;
    double rail_fraction = 0.001;
    double clip_fraction = 0.01;
    double mains_share = 0.3;
    double mains_buried_ratio = 100.0; // raw mains power / analysed band power (20 dB)
    double motion_lf_ratio = 1.0;
    double ecg_share = 0.02;
    double min_sample_rate_hz = 1000.0;
};

// Flags that leave an epoch out of the fatigue fits by default: all but low_rate (never set
// per epoch; kept so that epochs.csv and summary.json name the same flags as before).
inline constexpr std::uint32_t kFitExcludingFlags = EmptySpectrum | Flatline | Clipping |
                                                    MainsDominant | MotionArtefact |
                                                    EcgContamination | SampleGap | EcgWarmup | Rest;

// The ADC range of a channel in µV, where the file states it.
struct ChannelLimits {
    double min_uv = -std::numeric_limits<double>::infinity();
    double max_uv = std::numeric_limits<double>::infinity();
    double resolution_uv = 0.0;
};

struct QualityFrame {
    std::uint64_t index = 0;
    std::uint64_t first_frame = 0;
    std::vector<std::uint32_t> flags;    // per channel
    std::vector<QualityMetrics> metrics; // per channel
};

class QualityAnalyzer {
public:
    struct Config {
        double epoch_s = 1.0;
        double overlap = 0.5;
        QualityThresholds thresholds{};
        double band_high_hz = 450.0; // mains harmonics are measured up to here (and below fs/2)
        double lf_low_hz = 1.0;
        double lf_high_hz = 20.0;
    };
    explicit QualityAnalyzer(Config config); // throws std::invalid_argument
    // limits: one per channel, or empty (no rails known).
    void prepare(const StreamSpec& spec, std::vector<ChannelLimits> limits = {});
    void reset() noexcept;
    // A gap of `lost_frames` frames was found just before input frame `at_frame`.
    void note_gap(std::uint64_t at_frame, std::uint64_t lost_frames) noexcept;

    // raw and analysed: the same frames. ecg (may be null) supplies beats and templates in the
    // same frame numbering. Calls on_epoch(const QualityFrame&) per completed epoch.
    template <class OnEpoch>
    void process(ConstBlockRef raw, ConstBlockRef analysed, const EcgCanceller* ecg,
                 OnEpoch&& on_epoch) {
        std::size_t done = 0;
        while (done < raw.frames) {
            done += fill(raw, analysed, done);
            if (fill_ == epoch_frames_) {
                analyse(ecg);
                on_epoch(static_cast<const QualityFrame&>(frame_));
                advance();
            }
        }
    }

    std::size_t epoch_frames() const noexcept { return epoch_frames_; }
    std::size_t hop_frames() const noexcept { return hop_frames_; }
    const Config& config() const noexcept { return config_; }

private:
    // The sums and extremes of one segment of a channel: epochs are made of segments of
    // gcd(epoch, hop) frames (the half epoch at 50 % overlap), so the overlapping part of an epoch
    // is read once, not once per epoch; analyse() combines them.
    struct SegmentStats {
        double raw_sum = 0.0, raw_sq_dev = 0.0; // Σ raw, Σ (raw − segment mean)²
        double band = 0.0;                      // Σ analysed²
        double lf_sum = 0.0, lf_sum_sq = 0.0;   // Σ and Σ² of the 1-20 Hz signal
        float lo = 0.0f, hi = 0.0f, first = 0.0f, last = 0.0f; // raw
        std::uint32_t at_rail = 0;
        // Runs of identical raw samples inside the segment: the one it starts with, the one it
        // ends with, the longest; samples equal to hi (lo) with an identical neighbour inside.
        std::uint32_t head_run = 1, tail_run = 1, longest_run = 1;
        std::uint32_t hi_in_runs = 0, lo_in_runs = 0;
        bool first_in_run = false, last_in_run = false;
    };

    std::size_t fill(ConstBlockRef raw, ConstBlockRef analysed, std::size_t offset) noexcept;
    void analyse(const EcgCanceller* ecg) noexcept;
    void advance() noexcept;
    void segment_stats(std::size_t c, std::size_t offset, SegmentStats& s) const noexcept;
    double mains_power(const float* y) noexcept;
    void remove_beat_lf(const EcgCanceller& ecg) noexcept; // learns and removes the LF ECG
    float* lf_residual(std::size_t c) noexcept;            // the channel's residual, made once
    double ecg_energy(std::size_t c, const float* y, const EcgCanceller& ecg) const noexcept;

    Config config_;
    StreamSpec spec_{};
    std::size_t epoch_frames_ = 0, hop_frames_ = 0;
    std::size_t segment_frames_ = 0, segments_ = 0; // per epoch
    bool share_segments_ = false;                   // the hop is a whole number of segments
    std::vector<SegmentStats> segment_stats_;       // per channel, segments_, slot = index % n
    std::uint64_t segments_done_ = 0;               // stream segments computed so far
    std::vector<ChannelLimits> limits_;
    std::vector<std::array<float, 2>> rails_; // per channel: raw >= [1] or <= [0] is at a rail
    SosFilter lf_filter_;
    std::vector<float> raw_, lf_, analysed_; // epoch_frames_ per channel each
    std::vector<float> first_sample_;
    std::size_t lf_pre_ = 0, lf_window_ = 0;
    std::vector<float> lf_template_; // lf_window_ per channel
    std::vector<float> lf_residual_; // epoch_frames_ per channel, for channels with a beat removed
    std::vector<std::uint8_t> lf_removed_; // per channel: lf_residual_ holds this epoch's residual
    std::uint64_t lf_learnt_ = 0;
    std::int64_t lf_last_folded_ = -1;
    bool started_ = false;
    std::vector<double> window_; // Hann over the epoch
    double window_sum_ = 0.0;
    // Mains: the Hann-windowed DFT of the epoch at every harmonic (50 Hz family, then 60 Hz).
    // When each harmonic falls on a bin of the epoch's DFT (a whole number of cycles per epoch,
    // as with 1 s epochs), one FFT of the windowed epoch, folded mains_fold_ times, gives them
    // all; else a matrix-vector product with the harmonics' windowed cos and sin (a row each).
    std::array<std::size_t, 2> family_harmonics_{};
    std::vector<std::size_t> mains_bins_; // per harmonic, in the folded FFT; empty: not on bins
    std::size_t mains_fold_ = 1;
    RealFft mains_fft_;
    Eigen::MatrixXf mains_basis_;
    Eigen::VectorXf mains_x_, mains_dft_; // float: a 1e-6 error on a power ratio is plenty
    std::size_t fill_ = 0;
    std::uint64_t next_index_ = 0;
    static constexpr std::size_t kGapRing = 64;
    std::array<std::uint64_t, kGapRing> gap_frame_{};
    std::uint64_t gaps_total_ = 0;
    QualityFrame frame_;
};

} // namespace semg::dsp
