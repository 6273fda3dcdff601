// The terminal fatigue table printed at the end of `semg analyze` and of `semg capture`: per
// contraction, per channel IMF, MDF slope (%/s), r², RMS₀, RMS slope and JASA class; per
// bilateral pair AI, its SD, L/R RMS ratio and the slope and IMF differences; then a line per
// channel whose quality verdict is not good. One function so that both commands print the same.
#pragma once

#include "pipeline/analysis.hpp"

#include <ostream>

namespace semg::tools {

void print_fatigue_table(const pipeline::AnalysisResult& r, std::ostream& out);

} // namespace semg::tools
