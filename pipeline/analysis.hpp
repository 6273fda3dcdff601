// The fatigue analysis shared by `semg analyze` (files) and `semg capture` (live): band-pass,
// epoch features, left/right pairs, and least-squares fatigue fits of MDF, MNF and RMS over each
// contraction. Push-style: prepare() with the stream's facts, process() raw blocks as they
// come, finish() for the fits. Causal throughout, so offline and live give the same numbers.
// Memory does not grow with recording length: fits use running sums, epochs go to observers,
// and only the few epochs not yet classified (rest or contraction) are held.
// Signal quality (docs/quality.md): every channel epoch carries quality flags computed from the
// raw and the analysed samples (dsp::QualityAnalyzer); flagged epochs stay in the epoch stream
// and are left out of the fits (settings.exclude_flags) unless keep_flagged. Mains is detected
// (50/60 Hz/none) from the first mains_detect_s of data unless fixed. ECG: detected on an ECG
// channel when the recording has one, else on the EMG channels, and removed by template
// subtraction (default), a 30 Hz high-pass, or left (off). With template subtraction the
// analysed stream lags the input by the ECG stage's fixed delay (dsp::EcgCanceller, about
// 0.42 s: a beat must be detected before its window is subtracted); with off and highpass there
// is no delay. Epoch times stay in input time. Call flush(observer) after the last process() so
// that the epochs held in that delay reach the observer; finish() flushes without an observer
// if that was not done.
// ECG warm-up: until the canceller has found a rhythm with learnt templates (or, after
// EcgCanceller::Config::warmup_max_s, decided there is none) nothing is removed, and nobody knows
// yet which channels carry an ECG. With template subtraction the epochs of that time are held
// back (neither observed nor fitted) until it is decided; the channels then cleaned get the
// ecg_warmup flag on them, which leaves them out of the fits. Live, the first epochs therefore
// arrive at the end of the warm-up (at most warmup_max_s).
// Rest: an epoch whose RMS is both within rest_noise_ratio of the channel's lowest epoch RMS so
// far (its noise floor) and below rest_activity_fraction of its highest so far (its work) is
// flagged rest and left out of the fits: its MDF is that of the amplifier noise (~90 Hz on the
// shared biceps recording's closing rest), not of a working muscle. Both levels come from epochs
// without other flags and include the epoch itself, so rest before the first work of a channel
// cannot be told from weak work and is not flagged.
#pragma once

#include "acquisition/source.hpp"
#include "dsp/ecg.hpp"
#include "dsp/epoch_analyzer.hpp"
#include "dsp/iir.hpp"
#include "dsp/mains.hpp"
#include "dsp/quality.hpp"
#include "pipeline/contractions.hpp"
#include "pipeline/fatigue_fit.hpp"
#include "pipeline/montage.hpp"

#include <array>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace semg::pipeline {

enum class ContractionMode { Auto, Detect, Annotations, Whole, Segments };

struct AnalysisSettings {
    dsp::Bandpass::Config band{};
    // Mains: empty = detect 50 Hz, 60 Hz or none from the data (default); 0 = off; 50 or 60.
    std::optional<double> mains_hz;
    double mains_notch_hz = 1.0;   // −3 dB width of the notch at each harmonic (0: no notch)
    double mains_exclude_hz = 0.0; // bins within ± this of each harmonic leave the moments
    double mains_detect_s = 10.0;  // auto: the decision is final after this much data
    dsp::EcgMethod ecg = dsp::EcgMethod::Template;
    double ecg_highpass_hz = 30.0; // EcgMethod::Highpass: replaces the band-pass low edge
    dsp::EcgCanceller::Config ecg_canceller{};
    dsp::QualityThresholds quality{};
    std::uint32_t exclude_flags = dsp::kFitExcludingFlags; // flags that leave an epoch out of fits
    double epoch_s = 1.0;
    double overlap = 0.5;
    double rest_noise_ratio = 2.0;       // rest: RMS < this × the channel's noise floor ...
    double rest_activity_fraction = 0.1; // ... and < this × its work (−20 dB); 0: never rest
    dsp::PsdEstimator::Config psd{};
    // Contractions: Auto = annotations if the file has matching ones, else detection, else the
    // whole recording. Segments = the given segments_s. Detection (pipeline/contractions.hpp,
    // docs/contractions.md) listens to every EMG channel of the recording, not only the analysed
    // ones, and finds sustained holds and series of repeated bursts; a burst series is fitted
    // across bursts with one point (the mean of its usable epochs) per burst.
    ContractionMode contractions = ContractionMode::Auto;
    std::vector<std::pair<double, double>> segments_s;
    std::string annotation = "contraction"; // TEXT, or "START,STOP" labels
    // `semg capture`: contractions marked while the samples come (keys, `semg mark`), through
    // mark_contraction(). With Auto they are the contractions once there is one (detection runs
    // meanwhile, as a file without annotations would get); with Annotations they are the only
    // source. Epochs are classified only up to set_marks_decided_until_s().
    bool live_marks = false;
    ContractionDetector::Config detector{};
    std::vector<std::string> channels; // labels to analyse; empty: all EMG channels
    std::optional<Montage> montage;    // empty: inferred from the labels
    std::vector<double> mvc_rms_uv;    // reference RMS per analysed channel; empty: none
    double ai_threshold_pct = 10.0;    // |mean AI| above this flags a pair
    bool keep_flagged = false;         // include flagged epochs in fits
    FitRule fit{};                     // too few usable epochs: no fit, with a reason
};

// The range of every analysis setting a user can give, in one place. `semg analyze` and
// `semg capture` check their options with validate() before they read a file, open a port or
// allocate anything, and FatigueAnalysis checks its settings again the same way. The limits are
// wide enough for any sEMG recording (domain guide: 1 kHz and up, 0.25-2 s epochs) and narrow
// enough that the buffers they size stay small: an epoch at the highest rate is 1e6 frames per
// channel. Messages name the command-line option, the settings' user-facing name.
struct AnalysisLimits {
    static constexpr double min_sample_rate_hz = 100.0; // Cyton-Daisy streams 125 Hz
    static constexpr double max_sample_rate_hz = 100000.0;
    static constexpr double min_band_hz = 1.0;
    static constexpr double max_band_hz = 0.45 * max_sample_rate_hz;
    static constexpr int min_order = 1;
    static constexpr int max_order = 12;                 // the band-pass design's own limit
    static constexpr double max_mains_exclude_hz = 10.0; // harmonics are 50 or 60 Hz apart
    static constexpr double min_epoch_s = 0.1;
    static constexpr double max_epoch_s = 10.0;
    static constexpr double max_overlap = 0.95;
    static constexpr double min_welch_segment_s = 0.01;
    static constexpr double max_welch_segment_s = max_epoch_s;
    static constexpr double max_ai_threshold_pct = 100.0; // |AI| is at most 100 %
};

// Throws std::invalid_argument naming the first setting outside AnalysisLimits, e.g.
// "--epoch-s 100000 is outside the allowed range 0.1 to 10 s".
void validate(const AnalysisSettings& settings);
// Throws std::invalid_argument unless `sample_rate_hz` is within AnalysisLimits; `what` starts
// the message ("--fs", "in.csv: sample rate").
void check_sample_rate(double sample_rate_hz, const std::string& what);

enum class Jasa { Fatigue, ForceIncrease, ForceDecrease, Recovery, Undetermined };
std::string to_string(Jasa jasa);
Jasa jasa_of(double mdf_slope, double rms_slope);

struct ChannelFit {
    std::size_t epochs = 0;         // epochs inside the contraction
    std::size_t flagged_epochs = 0; // of those, with a flag in exclude_flags (left out unless kept)
    std::array<std::size_t, dsp::kQualityFlagCount> flag_counts{}; // epochs carrying each flag
    std::size_t fit_epochs = 0; // usable epochs behind the fit (unflagged or kept, finite MDF)
    std::size_t fit_bursts = 0; // repeated bursts: the bursts with a point in the fit
    // Empty when fitted. Else why there is no fit (FitRule, or too few bursts): then mdf, mnf and
    // rms have n but NaN values, and jasa is Undetermined.
    std::string no_fit_reason;
    LinearFit mdf, mnf, rms;
    Jasa jasa = Jasa::Undetermined;
};

struct PairFit {
    std::size_t epochs = 0;
    double ai_mean_pct = 0.0; // NaN without epochs
    double ai_sd_pct = 0.0;
    // 95 % CI of the mean AI: mean ± t(n−1)·sd/√n, NaN below 2 epochs. It treats epochs as
    // independent; overlapping epochs are not, so the true interval is wider.
    std::array<double, 2> ai_ci95_pct{};
    double lr_rms_ratio = 0.0;                   // mean left RMS / mean right RMS
    double mdf_slope_difference_pct_per_s = 0.0; // left − right
    double mdf_initial_difference_hz = 0.0;      // left − right
    bool flagged = false;
};

struct ContractionResult {
    double start_s = 0.0;
    double end_s = 0.0;
    bool bursts = false;         // repeated bursts, fitted across bursts (one point per burst)
    std::size_t burst_count = 0; // bursts in the series (bursts only)
    std::vector<ChannelFit> channels;
    std::vector<PairFit> pairs;
};

// Quality of one analysed channel. Verdict (docs/quality.md), over the epochs inside contractions:
// "poor" if half or more of them carry an excluding flag, or the band's upper edge is below
// 250 Hz (sample rate below ~556 Hz); else "usable" if 10 % or more do, or the rate is below
// 1 kHz; else "good".
struct ChannelQuality {
    std::size_t epochs = 0; // whole recording
    std::array<std::size_t, dsp::kQualityFlagCount> flag_counts{};
    std::size_t contraction_epochs = 0;
    std::size_t excluded_epochs = 0; // of the contraction epochs
    std::string verdict;
    std::string reason; // e.g. "flatline in 40 % of epochs"; empty when good
};

struct MainsResult {
    std::string mode;           // "auto", "fixed" or "off"
    double frequency_hz = 0.;   // applied at the end (0: none)
    dsp::MainsReport detection; // auto only
};

struct EcgResult {
    dsp::EcgMethod method = dsp::EcgMethod::Template;
    std::string source; // where QRS complexes are detected
    double delay_s = 0.0;
    double highpass_hz = 0.0; // Highpass only
    dsp::EcgReport report;
};

struct AnalysisResult {
    double sample_rate_hz = 0.0;
    std::uint64_t frames = 0;
    double duration_s = 0.0;
    double effective_high_hz = 0.0; // band-pass upper edge after clamping to 0.45·fs
    std::size_t epochs = 0;         // all epochs of the recording
    std::string contraction_source; // "annotations", "detected", "segments", "whole recording"
    std::vector<ContractionResult> contractions; // at least one
    // Set when detection found no contraction and the fits fall back to the whole recording.
    std::string contraction_warning;
    std::vector<std::string> labels;
    std::vector<ChannelSite> sites;   // of the analysed channels
    std::vector<BilateralPair> pairs; // indices into labels
    bool mvc = false;
    double band_low_hz =
        0.0; // band-pass lower edge applied (ecg_highpass_hz with EcgMethod::Highpass)
    MainsResult mains;
    EcgResult ecg;
    std::vector<ChannelQuality> quality; // per analysed channel
};

// Per-epoch values derived across channels, valid during the observer call.
struct EpochDerived {
    std::vector<double> rms_pct_mvc; // per channel; NaN without MVC
    std::vector<double> ai_pct;      // per pair, on %MVC when MVC references exist
    std::vector<double> lr_ratio;    // per pair, RMS left / right
};

using EpochObserver =
    std::function<void(const dsp::EpochFrame& frame, const EpochDerived& derived)>;

class FatigueAnalysis {
public:
    explicit FatigueAnalysis(AnalysisSettings settings); // validate(); throws std::invalid_argument
    // Checks the sample rate (check_sample_rate) before anything is sized by it. Selects the EMG
    // channels, reads or infers the montage, designs the filters, chooses the contraction
    // source. Warnings and notices go to `warn`.
    void prepare(const acquisition::SourceInfo& info,
                 const std::function<void(const std::string&)>& warn);
    // Raw blocks with every channel of the source, in µV. Throws on non-finite samples.
    void process(dsp::ConstBlockRef raw, const EpochObserver& observer);
    // The source lost `lost_frames` frames just before the next frame to be processed (capture:
    // sequence gaps); the epochs around that point get the gap flag.
    void note_gap(std::uint64_t lost_frames);
    // Pushes the frames held in the ECG stage's delay through to the observer. No process()
    // after this. Called by finish() (without an observer) if not called before.
    void flush(const EpochObserver& observer);
    // live_marks: a contraction marked from start_s to end_s (infinity while it goes on); a
    // later call with the same start_s sets its end. No mark will come before `t_s` (the caller's
    // stream position when it last looked for marks): epochs ending by then can be classified.
    void mark_contraction(double start_s, double end_s);
    void set_marks_decided_until_s(double t_s) noexcept { marks_decided_s_ = t_s; }
    // Throws std::invalid_argument when a segment lies outside the recording.
    AnalysisResult finish();
    // The results so far, from the epochs classified up to now (a contraction still going on
    // has the fits of its epochs so far): for live displays. finish() gives the final ones.
    AnalysisResult snapshot() const;

    const std::vector<std::string>& labels() const noexcept { return labels_; }
    const std::vector<ChannelSite>& sites() const noexcept { return sites_; }
    const std::vector<BilateralPair>& pairs() const noexcept { return pairs_; }
    // Notices from reading the montage (a free-text muscle taken from a label), for the log.
    const std::vector<std::string>& montage_notices() const noexcept { return montage_notices_; }
    const AnalysisSettings& settings() const noexcept { return settings_; }
    double effective_high_hz() const noexcept { return bandpass_.effective_high_hz(); }
    double effective_low_hz() const noexcept { return bandpass_.low_hz(); }
    // Current mains exclusion (auto: the decision so far) and the detector's state.
    double mains_hz() const noexcept { return analyzer_.mains_hz(); }
    const dsp::MainsDetector& mains_detector() const noexcept { return mains_; }
    const dsp::EcgCanceller& ecg() const noexcept { return ecg_; }
    const std::string& ecg_source() const noexcept { return ecg_source_; }
    const dsp::EpochAnalyzer& analyzer() const noexcept { return analyzer_; }

private:
    struct PendingEpoch {
        double t_start_s, t_end_s;
        std::vector<dsp::EpochFeatures> channels;
        std::vector<double> ai_pct;
    };
    struct Accumulators {
        Contraction span;
        std::vector<ChannelFit> counts;
        std::vector<LinearFitAccumulator> mdf, mnf, rms;
        std::vector<std::size_t> pair_n;
        std::vector<double> ai_sum, ai_sum_sq, rms_left_sum, rms_right_sum;
    };
    void derive(const dsp::EpochFrame& frame);
    void push(std::size_t n, dsp::ConstBlockRef detect, bool real, const EpochObserver& observer);
    void run_delayed(std::size_t at, std::size_t n, const EpochObserver& observer);
    void on_epoch(const dsp::EpochFrame& frame, const dsp::QualityFrame* quality,
                  const EpochObserver& observer);
    void emit(dsp::EpochFrame& frame, const EpochObserver& observer);
    void flag_rest(dsp::EpochFrame& frame);
    void flag_unnotched(dsp::EpochFrame& frame) const;
    void release_held(const EpochObserver& observer);
    Accumulators make_accumulators(Contraction span) const;
    void classify_pending(bool final);
    const std::vector<Contraction>& current_spans() const;
    void add_epoch(Accumulators& acc, const PendingEpoch& e);
    void filter_detection_input(dsp::ConstBlockRef raw, std::size_t offset, std::size_t n);
    void feed_detector(std::size_t off, std::size_t k);
    ContractionResult result_of(const Accumulators& acc, const Contraction& span) const;
    ContractionResult result_of_bursts(const Contraction& series) const;
    void withhold_unfit(ChannelFit& f, std::size_t used, std::size_t total) const;

    AnalysisSettings settings_;
    dsp::Bandpass bandpass_;
    dsp::EpochAnalyzer analyzer_;
    dsp::MainsDetector mains_;
    dsp::MainsNotch notch_;
    dsp::EcgCanceller ecg_;
    dsp::DelayLine raw_delay_;
    dsp::QualityAnalyzer quality_;
    std::optional<std::size_t> ecg_channel_; // source channel of an ECG lead, if any
    std::string ecg_source_;
    dsp::Block raw_;    // selected raw channels of the current chunk
    dsp::Block detect_; // the ECG lead of the current chunk
    std::vector<float> last_detect_;
    std::uint64_t fed_ = 0;     // frames pushed into the delay stages, flush included
    std::uint64_t emitted_ = 0; // frames passed on to the epoch analysers
    std::optional<std::uint64_t> notch_on_frame_; // input frame where detected mains got its notch
    bool flushed_ = false;
    dsp::EpochFrame merged_;
    std::vector<std::array<std::size_t, dsp::kQualityFlagCount>> whole_flags_;
    // Per channel, the lowest and highest RMS of an unflagged epoch so far (rest flag).
    std::vector<double> floor_rms_uv_, work_rms_uv_;
    ContractionDetector detector_;
    // Detection input: every EMG channel of the source, band-passed as the analysed ones.
    std::vector<std::size_t> detect_channels_;
    dsp::Bandpass detect_band_;
    dsp::MainsNotch detect_notch_;
    dsp::Block detect_work_;
    double sample_rate_hz_ = 0.0;
    std::vector<std::size_t> selected_; // source channel of each analysed channel
    std::vector<std::string> labels_;
    std::vector<ChannelSite> sites_;
    std::vector<BilateralPair> pairs_;
    std::vector<std::string> montage_notices_;
    ContractionMode mode_ = ContractionMode::Whole;
    std::string contraction_source_;
    std::vector<Contraction> fixed_spans_;
    dsp::Block work_;
    std::uint64_t frames_ = 0;
    std::size_t epochs_ = 0;
    EpochDerived derived_;
    std::deque<PendingEpoch> pending_;
    // ECG warm-up (template subtraction): epochs wait here until the canceller has found the
    // ECG (they then get ecg_warmup on the channels it cleans) or decided there is none.
    bool warmup_open_ = false;
    std::deque<dsp::EpochFrame> held_;
    std::vector<Accumulators> contractions_;
    Accumulators whole_;
    // live_marks: the marked contractions and their sums (in marking order).
    std::vector<Accumulators> marked_;
    double marks_decided_s_ = 0.0;
};

} // namespace semg::pipeline
