// Windowed analyser: cuts the (already filtered) stream into epochs of epoch_s with the given
// overlap and emits one EpochFrame of features per epoch, for every channel. Epoch k covers
// frames [k·hop, k·hop + epoch). Chunk-invariant: any split of the input gives the same frames.
// Welch segments that overlapping epochs share (the hop a multiple of the segment step) are
// transformed once: their periodograms are kept for the next epochs, which sum them in the same
// order, so the PSD is exactly the one PsdEstimator::compute() gives.
// Real time: process() allocates nothing; frames are emitted into storage the analyser owns and
// are valid during the callback only.
// Mains: the bins excluded around line harmonics follow config().band.mains_hz until
// set_mains_hz() switches to another of 0 (none), 50 or 60 Hz; the layouts are made in prepare(),
// so the switch is allocation-free and applies from the next epoch on.
#pragma once

#include "dsp/block.hpp"
#include "dsp/features.hpp"
#include "dsp/spectrum.hpp"

#include <cstdint>
#include <vector>

namespace semg::dsp {

struct EpochFrame {
    std::uint64_t index = 0;
    std::uint64_t first_frame = 0;
    double t_start_s = 0.0;
    double t_end_s = 0.0;
    std::vector<EpochFeatures> channels;
};

// Epoch and hop in frames for epoch_s and overlap at a sample rate: one definition, so that every
// windowed stage (features, quality) cuts the same epochs. Throws std::invalid_argument when the
// epoch is shorter than 16 samples.
struct EpochGeometry {
    std::size_t epoch_frames = 0;
    std::size_t hop_frames = 0;
};
// Throws std::invalid_argument unless epoch_s > 0 and 0 <= overlap < 1.
void check_epoch(double epoch_s, double overlap);
EpochGeometry epoch_geometry(double epoch_s, double overlap, double sample_rate_hz);

class EpochAnalyzer {
public:
    struct Config {
        double epoch_s = 1.0;
        double overlap = 0.5; // fraction of an epoch shared with the next, [0, 1)
        PsdEstimator::Config psd{};
        SpectralBand band{};
    };
    explicit EpochAnalyzer(Config config); // throws std::invalid_argument
    void prepare(const StreamSpec& spec);  // plans FFTW, allocates buffers
    void reset() noexcept;

    // Calls on_epoch(const EpochFrame&) for every epoch completed by this block.
    template <class OnEpoch> void process(ConstBlockRef in, OnEpoch&& on_epoch) {
        std::size_t done = 0;
        while (done < in.frames) {
            done += fill(in, done);
            if (fill_ == epoch_frames_) {
                analyse();
                on_epoch(static_cast<const EpochFrame&>(frame_));
                advance();
            }
        }
    }

    // Selects the mains exclusion for the epochs still to come: 0, 50 or 60 Hz (other values: 0).
    void set_mains_hz(double mains_hz) noexcept;
    double mains_hz() const noexcept { return kMainsChoices[layout_]; }
    // Frames still needed to complete the next epoch (>= 1).
    std::size_t frames_to_epoch() const noexcept { return epoch_frames_ - fill_; }

    std::size_t epoch_frames() const noexcept { return epoch_frames_; }
    std::size_t hop_frames() const noexcept { return hop_frames_; }
    const PsdEstimator& psd() const noexcept { return psd_; }
    const Config& config() const noexcept { return config_; }

private:
    std::size_t fill(ConstBlockRef in, std::size_t offset) noexcept;
    void analyse() noexcept;
    void advance() noexcept;

    Config config_;
    StreamSpec spec_{};
    std::size_t epoch_frames_ = 0;
    std::size_t hop_frames_ = 0;
    static constexpr double kMainsChoices[3] = {0.0, 50.0, 60.0};
    PsdEstimator psd_;
    SpectralFeatures spectral_[3]; // one layout per entry of kMainsChoices
    std::size_t layout_ = 0;
    std::vector<float> buffer_; // epoch_frames_ per channel
    std::vector<double> psd_values_;
    bool share_segments_ = false;       // the hop is a multiple of the Welch step
    std::vector<double> segment_power_; // per channel a ring of psd_.segments() periodograms
    std::uint64_t segments_done_ = 0;   // stream segments (by start frame / step) kept so far
    std::size_t fill_ = 0;
    std::uint64_t next_index_ = 0;
    EpochFrame frame_;
};

} // namespace semg::dsp
