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
//
// The parts: simulator_scenario.hpp (the settings, their TOML reader and JSON writer),
// simulator_model.hpp (spectrum, channel parameters, random streams),
// simulator_contamination.hpp (one type per contamination), acquisition/anatomy.hpp (sides,
// levels, muscle names); this file plays them as a Source and writes the truth. Streaming the
// samples to a serial port as a fake device is acquisition/serial_stream.hpp.
#pragma once

#include "acquisition/anatomy.hpp"
#include "acquisition/simulator_contamination.hpp"
#include "acquisition/simulator_model.hpp"
#include "acquisition/simulator_scenario.hpp"
#include "acquisition/source.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace semg::acquisition {

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
    std::unique_ptr<State> state_;
};

} // namespace semg::acquisition
