// Simulated bilateral paraspinal sEMG with known ground truth: a Source of planar float µV.
//
// Per channel, the EMG component is Gaussian noise whose power spectrum follows the Shwedyk et
// al. (1977) model  P(f) ∝ f_h⁴ f² / ((f² + f_l²)(f² + f_h²)²)  with f_h = fh_over_fl · f_l.
// Fatigue compresses the spectrum: at fatigue time F the frequency axis is scaled so that the
// median frequency of the model within the analysis band is exactly
//     MDF(F) = MDF₀ · (1 + mdf_slope_pct_per_s/100 · F),
// and the EMG RMS is RMS₀ · (1 + rms_slope_pct_per_s/100 · F). F is the time since the start of
// the current contraction (plus a carried-over share of earlier ones). The time-varying shaping
// is an overlap-add of sine-windowed segments (segment_s long, 50 % overlap), each shaped in the
// frequency domain with the spectrum at its centre time and normalised to unit variance; the
// squared windows sum to one, so the variance is exactly the envelope². Contractions ramp on and
// off with raised cosines inside [start_s, end_s]; between them only the baseline noise remains.
// Optional contamination (ECG, mains, baseline wander, motion artefacts, white noise at an SNR,
// electrode off, clipping) is added on top; every addition is listed in truth().
//
// Guarantees: deterministic (std::mt19937_64 streams and Box–Muller, one stream per channel and
// per contamination, so one setting does not change the noise of another); any split of read()
// calls gives the same samples; memory is bounded by a few synthesis segments per channel
// whatever the duration. Construction plans FFTW (control thread); read() does not allocate.
#pragma once

#include "acquisition/source.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace semg::acquisition {

// ---------------------------------------------------------------------------------------------
// Spectral model
// ---------------------------------------------------------------------------------------------

// Shwedyk model PSD, scaled to f_h⁴ f² / ((f² + f_l²)(f² + f_h²)²) (unit µV²/Hz up to a factor).
double shwedyk_psd(double f_hz, double fl_hz, double fh_hz) noexcept;

// Median and mean frequency of the model PSD within [low_hz, high_hz] (numerical integration).
double model_mdf_hz(double fl_hz, double fh_hz, double low_hz, double high_hz);
double model_mnf_hz(double fl_hz, double fh_hz, double low_hz, double high_hz);
// Share of the power of the model below nyquist_hz that lies inside [low_hz, high_hz].
double model_band_fraction(double fl_hz, double fh_hz, double low_hz, double high_hz,
                           double nyquist_hz);

// ---------------------------------------------------------------------------------------------
// Scenario: everything the simulation depends on. Defaults: a Biering-Sørensen-style hold.
// ---------------------------------------------------------------------------------------------

enum class Side { Left, Right };
std::string to_string(Side side); // "left", "right"

// A bilateral pair: same muscle and level on both sides. Arrays are [left, right].
struct PairSpec {
    std::string muscle;                                    // abbreviation: LT, IL, ES, MF, ...
    std::string level;                                     // vertebral level: L1, L3, ...
    std::array<double, 2> mdf0_hz{75.0, 75.0};             // model MDF in the band at F = 0
    std::array<double, 2> mdf_slope_pct_per_s{-0.3, -0.3}; // negative: spectral compression
    double rms0_uv = 100.0;                                // mean of left and right RMS₀
    double lr_ratio = 1.0;                                 // RMS₀ left / RMS₀ right
    std::array<double, 2> rms_slope_pct_per_s{0.15, 0.15}; // amplitude rise with fatigue
};

// Label of one side of a pair: "<muscle> <level> <L|R>", e.g. "ES L4 L".
std::string channel_label(const PairSpec& pair, Side side);
// Full name of a muscle abbreviation ("LT" -> "longissimus"), or the abbreviation itself.
std::string muscle_name(const std::string& abbreviation);

// n (1..8) default pairs: LT L1, IL L3, ES L4, MF L5, then LT T12, IL L2, ES L3, MF L4, with
// MDF₀ 70–80 Hz, MDF slopes −0.18 to −0.45 %/s (holds up to about 120 s keep the MDF inside
// the band) and a left/right imbalance on most pairs.
std::vector<PairSpec> default_pairs(std::size_t n);
inline constexpr std::size_t max_default_pairs = 8;

struct ProtocolSpec {
    double rest_before_s = 5.0;
    double hold_s = 90.0;        // each contraction, ramps included
    double rest_between_s = 5.0; // between contractions
    double rest_after_s = 5.0;
    int contractions = 1;
    double ramp_s = 0.5;            // raised-cosine on and off ramps inside each contraction
    double fatigue_carryover = 0.0; // share of the fatigue time of one contraction kept by the next
};

struct ModelSpec {
    double fh_over_fl = 2.0;     // shape of the Shwedyk spectrum
    double segment_s = 0.25;     // overlap-add synthesis segment
    double band_low_hz = 20.0;   // analysis band in which MDF₀ is defined;
    double band_high_hz = 450.0; // the upper edge is clamped to 0.45·fs
};

// The same muscle seen by a slower board: `pair`'s MDF₀ and MDF slopes, given for the band
// [model.band_low_hz, model.band_high_hz], as the model MDF in the narrower [band_low_hz,
// high_hz] (high_hz < band_high_hz, the clamp at 0.45·fs). MDF₀ maps through the f_l that gives
// it in the full band; a slope maps so that the narrow-band MDF after reference_s of fatigue is
// the image of the full-band MDF then (a straight line through both ends). Used by
// `semg simulate` for its default pairs below 1 kHz, where 70-80 Hz lies above the band.
PairSpec pair_in_band(const PairSpec& pair, const ModelSpec& model, double high_hz,
                      double reference_s = 100.0);

struct NoiseSpec {
    double baseline_uv = 2.0;     // white amplifier/electrode noise, always present (RMS)
    std::optional<double> snr_db; // extra white noise at RMS₀·10^(−snr/20) per channel
};

// QRS-like complexes (sum of Gaussians: P, Q, R, S, T). R-peak amplitude on a channel is
// ratio · (mean RMS₀ of all channels) · side gain · level gain, level gain = exp(−level_decay ·
// (segments below L1)) so thoracic sites see more and sacral ones less.
struct EcgSpec {
    bool enabled = false;
    double ratio = 0.5;
    double heart_rate_bpm = 72.0;
    double hrv_fraction = 0.04; // SD of RR intervals relative to the mean
    double right_gain = 0.6;    // left side gain is 1
    double level_decay = 0.15;  // per vertebral segment below L1
    // Waveform: "pqrst" (P wave, QRS, T wave) or "qrs" (a narrow QRS alone, as on leads where the
    // P and T waves vanish).
    std::string shape = "pqrst";
};

struct MainsSpec {
    double frequency_hz = 0.0;                              // 0: off; else 50 or 60
    double amplitude_uv = 10.0;                             // of the fundamental
    std::vector<double> harmonics{1.0, 0.0, 0.3, 0.0, 0.1}; // relative amplitude of k·f0, k = 1..
};

// Baseline wander: a few slow sinusoids per channel; amplitude_uv is the RMS of their sum.
struct WanderSpec {
    double amplitude_uv = 0.0; // 0: off
    double max_frequency_hz = 0.5;
    int components = 3;
};

// A motion artefact: one smooth biphasic transient.
struct MotionSpec {
    double time_s = 0.0;
    double duration_s = 0.3;
    double amplitude_uv = 300.0;
    std::string channel; // label or index; empty: every channel
};

struct FlatlineSpec { // the electrode comes off: the channel reads value_uv from start_s on
    std::string channel;
    double start_s = 0.0;
    double value_uv = 0.0;
};

struct ClipSpec { // the amplifier saturates: samples clamped to ±level_uv from start_s on
    std::string channel;
    double start_s = 0.0;
    std::optional<double> level_uv; // default: 1.5 · RMS₀ of the channel
};

struct Scenario {
    std::uint64_t seed = 1;
    double sample_rate_hz = 2048.0;
    ProtocolSpec protocol;
    ModelSpec model;
    std::vector<PairSpec> pairs = default_pairs(4);
    NoiseSpec noise;
    EcgSpec ecg;
    MainsSpec mains;
    WanderSpec wander;
    std::vector<MotionSpec> motion;
    std::vector<FlatlineSpec> flatlines;
    std::vector<ClipSpec> clips;

    double duration_s() const;
    std::uint64_t total_frames() const;      // round(duration_s · fs)
    std::vector<std::string> labels() const; // pair by pair, left then right
};

// Reads a TOML scenario (keys in docs/simulator.md); keys not given keep their defaults.
// Unknown keys and wrong types throw std::invalid_argument naming the key.
Scenario scenario_from_toml(std::string_view text, const std::string& source_name = "scenario");
Scenario load_scenario(const std::filesystem::path& path);
// The scenario as JSON (every setting), as recorded in the truth file.
nlohmann::json to_json(const Scenario& scenario);
// Index of a channel given as a label or a 0-based index; throws std::invalid_argument.
std::size_t resolve_channel(const Scenario& scenario, const std::string& channel);
// Throws std::invalid_argument with a readable message if the scenario cannot be simulated.
void validate(const Scenario& scenario);

// ---------------------------------------------------------------------------------------------
// The source
// ---------------------------------------------------------------------------------------------

struct Contraction {
    double start_s = 0.0;
    double end_s = 0.0;
};

// Per-channel model parameters derived from the scenario.
struct ChannelModel {
    std::string label;
    std::string muscle;
    std::string level;
    Side side = Side::Left;
    std::size_t pair = 0;
    double mdf0_hz = 0.0;
    double mdf_slope_pct_per_s = 0.0;
    double rms0_uv = 0.0;
    double rms_slope_pct_per_s = 0.0;
    double fl0_hz = 0.0; // Shwedyk corner frequencies at F = 0
    double fh0_hz = 0.0;
    double ecg_peak_uv = 0.0; // 0 without ECG
};

class Simulator final : public Source {
public:
    explicit Simulator(Scenario scenario); // validates; throws std::invalid_argument
    ~Simulator() override;
    Simulator(const Simulator&) = delete;
    Simulator& operator=(const Simulator&) = delete;

    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;
    void reset(); // back to the first sample; the same samples follow

    const Scenario& scenario() const noexcept { return scenario_; }
    const std::vector<ChannelModel>& channels() const noexcept { return channels_; }
    const std::vector<Contraction>& contractions() const noexcept { return contractions_; }
    // Analysis band used for the MDF truth: [band_low_hz, min(band_high_hz, 0.45·fs)].
    std::array<double, 2> band_hz() const noexcept { return band_hz_; }

    // Ground truth at time t_s (s from the first sample).
    double fatigue_time_s(double t_s) const noexcept;         // F; 0 outside contractions
    double envelope(double t_s) const noexcept;               // 0 at rest, 1 on the plateau
    double mdf_hz(std::size_t channel, double t_s) const;     // model MDF in band_hz()
    double emg_rms_uv(std::size_t channel, double t_s) const; // EMG component, envelope included
    // A bound on |sample| for choosing a file's physical range (µV).
    double peak_bound_uv() const;

    // Everything needed to check an analysis: see docs/simulator.md for the layout.
    nlohmann::json truth() const;

private:
    struct State;
    void init_state();
    void next_chunk();
    double spectral_fatigue_s(double t_s) const noexcept;
    void synthesize_segment(std::size_t channel, double fatigue_s) noexcept; // into state_->fft
    double shaped_fl_hz(double mdf_target_hz) const;
    std::vector<double> ecg_beat_times() const; // all R peaks, by replaying the ECG stream

    Scenario scenario_;
    SourceInfo info_;
    std::vector<ChannelModel> channels_;
    std::vector<Contraction> contractions_;
    std::vector<double> contraction_fatigue_start_s_; // F at the start of each contraction
    std::array<double, 2> band_hz_{};
    std::size_t segment_frames_ = 0; // L, even
    std::size_t hop_frames_ = 0;     // L/2
    std::vector<double> fl_grid_hz_; // monotone table: f_l -> band MDF
    std::vector<double> mdf_grid_hz_;
    std::vector<std::size_t> flatline_channel_;
    std::vector<std::size_t> clip_channel_;
    std::vector<double> clip_level_uv_;
    std::vector<std::ptrdiff_t> motion_channel_; // -1: all
    std::unique_ptr<State> state_;
};

} // namespace semg::acquisition
