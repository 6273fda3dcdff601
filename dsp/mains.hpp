// Mains frequency detection (50 Hz, 60 Hz or none) from the band-passed EMG channels.
//
// The stream is cut into non-overlapping blocks of block_s (1 s: 1 Hz bins). Each block of each
// channel gets a Hann-windowed periodogram; per channel and candidate f0 in {50, 60} Hz it
// takes the ratio of the power in the bin nearest f0 (the line) to the mean power of the bins
// 3-8 Hz either side (the neighbours). After K blocks the mean ratio R is compared with the level
// that Gaussian noise with a smooth spectrum exceeds with probability false_alarm (each block's
// ratio is then Exp(1), so K·R is Gamma(K, 1) distributed, whatever the blocks' power):
// threshold_db(K). The decision
// is the family whose fundamental has the larger R over all channels, if that R exceeds the
// threshold, else none. The third harmonic is measured and reported but does not decide (a tone
// at 100, 120 or 150 Hz is not mains evidence).
//
// Causal: a provisional decision exists after each block; after detect_s (default 10 s) the
// decision is final and the detector stops computing. Units: µV in; ratios in dB.
// Delay: a decision lags its block by nothing; epochs use the decision in force when they end.
// Real time: process() is noexcept and allocation-free (FFTW plans are made in prepare()).
#pragma once

#include "dsp/block.hpp"
#include "dsp/iir.hpp"
#include "dsp/spectrum.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace semg::dsp {

struct MainsReport {
    double frequency_hz = 0.0; // 0: none detected
    bool final = false;        // detect_s of data seen
    std::size_t blocks = 0;    // blocks accumulated
    double threshold_db = 0.0; // decision threshold for that many blocks
    // Line-to-neighbour ratio of the fundamental and third harmonic, maximum over channels (dB),
    // for 50 Hz [0] and 60 Hz [1]; NaN where the harmonic lies above the band.
    std::array<double, 2> fundamental_db{};
    std::array<double, 2> third_harmonic_db{};
    std::array<std::size_t, 2> channel{}; // channel holding the fundamental maximum
    std::string confidence;               // "high", "medium" or "low" (see docs/quality.md)
};

class MainsDetector {
public:
    struct Config {
        double detect_s = 10.0;    // after this much data the decision is final
        double block_s = 1.0;      // periodogram length: bins of 1/block_s Hz
        double false_alarm = 1e-4; // per channel and family, on Gaussian noise
        double neighbour_low_hz = 3.0;
        double neighbour_high_hz = 8.0;
    };
    explicit MainsDetector(Config config); // throws std::invalid_argument
    // band_high_hz: the analysis band's upper edge (the third harmonic is measured below it).
    void prepare(const StreamSpec& spec, double band_high_hz);
    void reset() noexcept;
    void process(ConstBlockRef in) noexcept; // band-passed samples, any block length

    double frequency_hz() const noexcept { return decided_hz_; } // current (provisional) decision
    bool final() const noexcept { return final_; }
    // Frames until the current block is complete (and the decision may change).
    std::size_t frames_to_block() const noexcept { return block_frames_ - fill_; }
    MainsReport report() const;
    // Threshold in dB for K accumulated blocks at the given false-alarm probability.
    static double threshold_db(std::size_t blocks, double false_alarm);

private:
    void analyse_block() noexcept;
    void decide() noexcept;
    double ratio_db(std::size_t i) const noexcept; // mean ratio over the blocks, in dB

    Config config_;
    StreamSpec spec_{};
    std::size_t block_frames_ = 0;
    std::size_t max_blocks_ = 0;
    PsdEstimator psd_;
    std::vector<double> psd_values_;
    std::vector<float> buffer_; // block_frames_ per channel
    std::size_t fill_ = 0;
    std::size_t blocks_ = 0;
    // Per channel, per family (50, 60), per harmonic (1st, 3rd): Σ line, Σ neighbour mean.
    struct Probe {
        std::size_t line_bin = 0;
        std::size_t first_neighbour = 0, last_neighbour = 0; // inclusive bin ranges either side
        std::size_t first_upper = 0, last_upper = 0;
        bool valid = false;
    };
    std::array<std::array<Probe, 2>, 2> probes_{}; // [family][harmonic]
    std::vector<double> ratio_sum_; // Σ line / neighbour mean, [(c * 2 + family) * 2 + harmonic]
    std::vector<double> threshold_by_blocks_;
    double decided_hz_ = 0.0;
    bool final_ = false;
};

// Mains removal: the mains comb (dsp::mains_comb: a second-order notch of bandwidth_hz at every
// harmonic of 50 or 60 Hz up to the band's upper edge) run causally on the band-passed channels.
// Why a notch rather than only leaving bins out of the spectral moments: a line as strong as the
// EMG leaks far beyond its own bin (a Hann window's main lobe is ±2 bins, ±8 Hz with the default
// 0.25 s Welch segments), so excluding ±1 Hz leaves most of it in, and excluding the whole lobe
// would drop a third of the band. The notch takes the line out in the time domain, whatever the
// PSD settings; the EMG it takes with it (about π/2·bandwidth_hz of spectrum per harmonic) moves
// MDF by about 0.1 Hz (measured, docs/quality.md "Mains").
// Combs for 50 and 60 Hz are designed in prepare(); set_mains_hz() selects one (0: pass-through),
// and a change of choice restarts the notches from rest. Units: µV in, µV out. Delay: none that
// matters (the notches' phase is flat away from the lines). Real time: process() is noexcept and
// allocation-free. Chunk-invariant.
class MainsNotch {
public:
    struct Config {
        double bandwidth_hz = 1.0; // −3 dB width of each notch; 0: no notch
    };
    explicit MainsNotch(Config config); // throws std::invalid_argument
    void prepare(const StreamSpec& spec, double band_high_hz);
    void set_mains_hz(double mains_hz) noexcept; // 0, 50 or 60 (others: 0)
    double mains_hz() const noexcept { return active_ < 0 ? 0.0 : kFamilies[active_]; }
    void process(BlockRef io) noexcept;
    void reset() noexcept;
    const Config& config() const noexcept { return config_; }

private:
    static constexpr double kFamilies[2] = {50.0, 60.0};
    Config config_;
    std::array<std::vector<SosFilter>, 2> combs_; // per family, in pieces of kMaxSections
    int active_ = -1;
};

} // namespace semg::dsp
