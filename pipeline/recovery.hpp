// IMF recovery between successive contractions: how far the initial median frequency (IMF: the
// MDF fit's value at a contraction's start) of each contraction has come back after the rest
// before it, relative to the contraction before and to the first one. A rest too short for the
// muscle to recover leaves the next contraction starting at a lower MDF; the numbers describe the
// recording and are no norm.
// Units: % (100 · IMF_k+1 / IMF_k; 100 % = back to where the previous contraction started), s.
// Computed once from an AnalysisResult after the fits; written to summary.json "imf_recovery".
#pragma once

#include "pipeline/analysis.hpp"

#include <cstddef>
#include <vector>

namespace semg::pipeline {

struct ImfRecoveryChannel {
    double imf_hz = 0.0;          // of this contraction; NaN when its fit is withheld
    double pct_of_previous = 0.0; // 100 · IMF / IMF of the contraction before; NaN without both
    double pct_of_first = 0.0;    // 100 · IMF / IMF of the first contraction; NaN without both
};

// From contraction `from_index` to the next one, `to_index` (indices into
// AnalysisResult::contractions, 0-based).
struct ImfRecoveryStep {
    std::size_t from_index = 0;
    std::size_t to_index = 0;
    double rest_s = 0.0; // start of contraction to_index − end of contraction from_index
    std::vector<ImfRecoveryChannel> channels; // per analysed channel, as AnalysisResult::labels
    // Medians over the channels with a value (NaN when none has one), for a one-line summary.
    double median_pct_of_previous = 0.0;
    double median_pct_of_first = 0.0;
    std::size_t channels_with_values = 0; // channels with a finite pct_of_previous
};

// One step per pair of successive contractions: empty with fewer than two contractions.
std::vector<ImfRecoveryStep> imf_recovery(const AnalysisResult& result);

} // namespace semg::pipeline
