// The fatigue analysis shared by `semg analyze` (files) and `semg capture` (live): band-pass,
// epoch features, and least-squares fatigue fits of MDF, MNF and RMS over the analysed
// segment. Push-style: prepare() with the stream's facts, process() raw blocks as they come,
// finish() for the fits. Causal throughout, so offline and live give the same numbers.
// Memory does not grow with recording length: fits use running sums, epochs go to observers.
#pragma once

#include "acquisition/source.hpp"
#include "dsp/epoch_analyzer.hpp"
#include "dsp/iir.hpp"
#include "pipeline/fatigue_fit.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace semg::pipeline {

struct AnalysisSettings {
    dsp::Bandpass::Config band{};
    double mains_hz = 0.0;         // 0: no mains handling; else 50 or 60
    double mains_exclude_hz = 1.0; // bins within ± this of each harmonic leave the moments
    double epoch_s = 1.0;
    double overlap = 0.5;
    dsp::PsdEstimator::Config psd{};
    std::optional<std::pair<double, double>> segment_s; // fit range; whole recording if empty
    std::vector<std::string> channels;                  // labels to analyse; empty: all
    bool keep_flagged = false;                          // include flagged epochs in fits
};

struct ChannelSummary {
    std::string label;
    std::size_t epochs = 0;         // epochs inside the analysed segment
    std::size_t flagged_epochs = 0; // of those, flagged (left out of fits unless kept)
    LinearFit mdf, mnf, rms;
};

struct AnalysisResult {
    double sample_rate_hz = 0.0;
    std::uint64_t frames = 0;
    double duration_s = 0.0;
    double effective_high_hz = 0.0; // band-pass upper edge after clamping to 0.45·fs
    std::size_t epochs = 0;         // all epochs of the recording
    std::pair<double, double> segment_s{};
    std::vector<ChannelSummary> channels;
};

// Receives every epoch; labels[c] names frame.channels[c].
using EpochObserver = std::function<void(const dsp::EpochFrame& frame)>;

class FatigueAnalysis {
public:
    explicit FatigueAnalysis(AnalysisSettings settings); // throws std::invalid_argument
    // Selects channels and designs the filters. Warnings (clamped band, low rate) go to `warn`.
    void prepare(const acquisition::SourceInfo& info,
                 const std::function<void(const std::string&)>& warn);
    // Raw blocks with every channel of the source, in µV. Throws on non-finite samples.
    void process(dsp::ConstBlockRef raw, const EpochObserver& observer);
    // Throws std::invalid_argument when the segment turned out to lie outside the recording.
    AnalysisResult finish() const;

    const std::vector<std::string>& labels() const noexcept { return labels_; }
    const AnalysisSettings& settings() const noexcept { return settings_; }
    double effective_high_hz() const noexcept { return bandpass_.effective_high_hz(); }
    const dsp::EpochAnalyzer& analyzer() const noexcept { return analyzer_; }

private:
    void fit_epoch(const dsp::EpochFrame& frame);

    AnalysisSettings settings_;
    dsp::Bandpass bandpass_;
    dsp::EpochAnalyzer analyzer_;
    double sample_rate_hz_ = 0.0;
    std::vector<std::size_t> selected_; // source channel of each analysed channel
    std::vector<std::string> labels_;
    dsp::Block work_;
    std::uint64_t frames_ = 0;
    std::size_t epochs_ = 0;
    std::pair<double, double> segment_s_{};
    std::vector<ChannelSummary> summaries_;
    std::vector<LinearFitAccumulator> mdf_fit_, mnf_fit_, rms_fit_;
};

} // namespace semg::pipeline
