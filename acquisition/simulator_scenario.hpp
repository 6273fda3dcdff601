// The simulator's scenario: everything a simulation depends on, its TOML reader, its JSON writer
// (the truth file's "scenario") and its checks.
//
// The C++ structs below hold the values and, as member initialisers, the defaults. Every other
// fact about a setting (its key, type, unit, one-line description and limits) is written once,
// in the field tables of simulator_scenario.cpp; the reader, the writer, validate() and
// scenario_schema() (which tests/acquisition/test_simulator_schema.cpp compares with
// docs/simulator.md) all walk those tables. Configuration time only: everything here allocates
// and throws std::invalid_argument with a message naming the file and the key.
#pragma once

#include "acquisition/anatomy.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace semg::acquisition {

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

// The scenario file's schema as the reader sees it, for documentation and its test.
struct ScenarioField {
    std::string key;
    std::string type;          // "number", "integer", "number or [left, right]", ...
    std::string unit;          // "s", "Hz", "uV", "%/s", "dB", "bpm" or ""
    std::string default_value; // as TOML text; "" when the field has none (absent, required)
    std::string limits;        // e.g. ">= 0", "[0, 1]"; "" when any value is accepted
    std::string doc;           // one line
    bool required = false;
};
struct ScenarioSection {
    std::string name;             // "" for the top level, else the TOML table's name
    bool array_of_tables = false; // [[name]], repeatable
    std::vector<ScenarioField> fields;
};
std::vector<ScenarioSection> scenario_schema();

} // namespace semg::acquisition
