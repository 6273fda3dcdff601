// What the simulator adds on top of the EMG: one small type per kind of contamination, each with
// its own parameters (from the scenario), its own random stream, the samples it adds and its
// entry in the truth file's "contamination" list (docs/simulator.md, "Contamination").
//
// Two stages, in this order, per channel and chunk (the order fixes the rounding, so that every
// sample is reproducible bit for bit):
//   add(..., x)    in double, before the sum is rounded to float µV: baseline noise, white noise
//                  at an SNR, ECG;
//   apply(..., y)  on the float µV samples: mains, baseline wander, motion artefacts, then
//                  clipping and flatlines, which act on the sum.
// Construction allocates (control thread); prepare(), add() and apply() do not.
#pragma once

#include "acquisition/simulator_model.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace semg::acquisition::sim {

// The samples of one chunk: their times (s from the first sample) and the first frame's index.
struct ChunkClock {
    std::span<const double> t_s;
    std::uint64_t first_frame = 0;
    double sample_rate_hz = 0.0;
};

// White amplifier/electrode noise of noise.baseline_uv RMS on every channel, all the time.
class BaselineNoise {
public:
    BaselineNoise(const NoiseSpec& spec, std::uint64_t seed, std::size_t channels);
    void add(std::size_t channel, std::span<double> x) noexcept;
    std::optional<nlohmann::json> truth() const;

private:
    double rms_uv_;
    std::vector<Random> rng_; // per channel
};

// White noise at rms0_uv · 10^(−snr_db/20) per channel (noise.snr_db).
class SnrNoise {
public:
    SnrNoise(const NoiseSpec& spec, std::uint64_t seed, const std::vector<ChannelModel>& channels);
    void add(std::size_t channel, std::span<double> x) noexcept;
    std::optional<nlohmann::json> truth(const std::vector<ChannelModel>& channels) const;

private:
    std::optional<double> snr_db_;
    std::vector<double> rms_uv_; // per channel
    std::vector<Random> rng_;    // per channel
};

// QRS-like complexes (a sum of Gaussians per beat) at a random heart rate. One waveform per
// chunk (prepare), scaled per channel by its R-peak amplitude (peak_uv).
class Ecg {
public:
    Ecg(const EcgSpec& spec, std::uint64_t seed, std::size_t chunk_frames);
    // R-peak amplitude on a channel: ratio · mean RMS₀ · side gain · exp(−level_decay · segments
    // below L1) (levels as acquisition/anatomy.hpp reads them; gain 1 for an unreadable level).
    static double peak_uv(const EcgSpec& spec, double mean_rms0_uv, Side side,
                          const std::string& level);
    void prepare(const ChunkClock& clock) noexcept; // clock.t_s: chunk_frames long
    void add(double peak_uv, std::span<double> x) const noexcept;
    nlohmann::json truth(const std::vector<ChannelModel>& channels, double duration_s) const;

    // The beat generator, also replayed for the truth's R-peak times.
    class Beats {
    public:
        Beats(const EcgSpec& spec, std::uint64_t seed);
        [[nodiscard]] double peek() const noexcept { return next_s_; }
        double pop() noexcept;

    private:
        Random rng_;
        double rr_s_;
        double hrv_;
        double next_s_ = 0.0;
    };

private:
    EcgSpec spec_;
    std::uint64_t seed_;
    Beats beats_;
    std::vector<double> active_beats_;
    std::vector<double> wave_; // per sample of the chunk, unit R amplitude
};

// Mains hum: harmonics of 50 or 60 Hz with a random phase per channel and harmonic.
class Mains {
public:
    Mains(const MainsSpec& spec, std::uint64_t seed, std::size_t channels);
    void apply(std::size_t channel, const ChunkClock& clock, std::span<float> y) const noexcept;
    nlohmann::json truth(double sample_rate_hz) const;

private:
    MainsSpec spec_;
    std::vector<std::array<double, 2>> cos_sin_; // per channel × harmonic: cos φ, sin φ
};

// Baseline wander: a few slow sinusoids per channel, random frequencies and phases.
class Wander {
public:
    struct Component {
        double amplitude_uv, frequency_hz, phase_rad;
    };
    Wander(const WanderSpec& spec, std::uint64_t seed, std::size_t channels);
    void apply(std::size_t channel, const ChunkClock& clock, std::span<float> y) const noexcept;
    nlohmann::json truth(const std::vector<ChannelModel>& channels) const;

private:
    double rms_uv_;
    std::vector<std::vector<Component>> components_; // per channel
};

// One smooth biphasic transient on one channel or all.
class Motion {
public:
    Motion(const MotionSpec& spec, std::optional<std::size_t> channel);
    void apply(std::size_t channel, const ChunkClock& clock, std::span<float> y) const noexcept;
    nlohmann::json truth(const std::vector<ChannelModel>& channels) const;

private:
    MotionSpec spec_;
    std::optional<std::size_t> channel_; // none: every channel
};

// Amplifier saturation: the channel clamped to ±level_uv from start_s on.
class Clip {
public:
    Clip(const ClipSpec& spec, std::size_t channel, double level_uv);
    void apply(std::size_t channel, const ChunkClock& clock, std::span<float> y) const noexcept;
    nlohmann::json truth(const std::vector<ChannelModel>& channels) const;

private:
    double start_s_;
    std::size_t channel_;
    double level_uv_;
};

// The electrode comes off: the channel reads value_uv from start_s on.
class Flatline {
public:
    Flatline(const FlatlineSpec& spec, std::size_t channel);
    void apply(std::size_t channel, const ChunkClock& clock, std::span<float> y) const noexcept;
    nlohmann::json truth(const std::vector<ChannelModel>& channels) const;

private:
    FlatlineSpec spec_;
    std::size_t channel_;
};

// Everything a scenario asks for, in the order of docs/simulator.md's table.
class Contamination {
public:
    Contamination(const Scenario& scenario, const std::vector<ChannelModel>& channels,
                  std::size_t chunk_frames);
    void prepare(const ChunkClock& clock) noexcept;
    void add(std::size_t channel, double ecg_peak_uv, std::span<double> x) noexcept;
    void apply(std::size_t channel, const ChunkClock& clock, std::span<float> y) const noexcept;
    nlohmann::json truth(const std::vector<ChannelModel>& channels, double sample_rate_hz,
                         double duration_s) const;

private:
    BaselineNoise baseline_;
    SnrNoise snr_;
    std::optional<Ecg> ecg_;
    std::optional<Mains> mains_;
    std::optional<Wander> wander_;
    std::vector<Motion> motion_;
    std::vector<Clip> clips_;
    std::vector<Flatline> flatlines_;
};

} // namespace semg::acquisition::sim
