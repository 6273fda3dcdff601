// MVC normalisation reference: per channel, the highest RMS of any 1 s window (stepped every
// 50 ms) of the band-passed signal, over a whole MVC recording or a segment of one.
#pragma once

#include "acquisition/source.hpp"
#include "dsp/iir.hpp"
#include "pipeline/analysis.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace semg::pipeline {

// Reads `source` to its end (or the segment's end). Throws std::invalid_argument when a label is
// missing from the source or the recording is shorter than the window.
std::vector<double> mvc_reference_rms(acquisition::Source& source,
                                      const std::vector<std::string>& labels,
                                      const dsp::Bandpass::Config& band,
                                      std::optional<std::pair<double, double>> segment_s,
                                      double window_s = 1.0);

// The reference for an analysis with `settings` of the recording described by `analysed`: of the
// channels that analysis would keep (its selection and montage, as FatigueAnalysis::prepare
// decides them, silently), read from `mvc` with the analysis's band-pass. The value for
// AnalysisSettings::mvc_rms_uv; used by `semg analyze` and `semg capture` alike.
std::vector<double> mvc_reference_rms_for(acquisition::Source& mvc,
                                          const acquisition::SourceInfo& analysed,
                                          const AnalysisSettings& settings,
                                          std::optional<std::pair<double, double>> segment_s);

} // namespace semg::pipeline
