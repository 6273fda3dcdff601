// The terminal fatigue table of `semg analyze` and `semg capture` (fatigue_table.hpp).
#include "tools/fatigue_table.hpp"

#include <fmt/format.h>

#include <cmath>
#include <string>

namespace semg::tools {
namespace {

std::string num(double v, int precision) {
    return std::isfinite(v) ? fmt::format("{:.{}f}", v, precision) : std::string("-");
}

} // namespace

void print_fatigue_table(const pipeline::AnalysisResult& r, std::ostream& out) {
    for (std::size_t k = 0; k < r.contractions.size(); ++k) {
        const auto& con = r.contractions[k];
        out << fmt::format(
            "contraction {} of {}: {:.2f}-{:.2f} s{} ({})\n", k + 1, r.contractions.size(),
            con.start_s, con.end_s,
            con.bursts
                ? fmt::format(", {} repeated bursts, fitted across bursts (one point per burst)",
                              con.burst_count)
                : "",
            r.contraction_source);
        out << fmt::format("  {:<20} {:>8} {:>10} {:>6} {:>9} {:>10} {:>15}\n", "channel", "IMF_Hz",
                           "slope_%/s", "r2", "RMS0_uV", "RMS_%/s", "JASA");
        for (std::size_t c = 0; c < r.labels.size(); ++c) {
            const auto& ch = con.channels[c];
            if (!ch.no_fit_reason.empty()) { // withheld: no numbers, no JASA class
                out << fmt::format("  {:<20} no fit: {}\n", r.labels[c], ch.no_fit_reason);
                continue;
            }
            out << fmt::format("  {:<20} {:>8} {:>10} {:>6} {:>9} {:>10} {:>15}{}\n", r.labels[c],
                               num(ch.mdf.initial, 1), num(ch.mdf.slope_pct_per_s, 3),
                               num(ch.mdf.r2, 2), num(ch.rms.initial, 1),
                               num(ch.rms.slope_pct_per_s, 3), to_string(ch.jasa),
                               ch.flagged_epochs > 0 ? fmt::format("  ({} of {} epochs flagged)",
                                                                   ch.flagged_epochs, ch.epochs)
                                                     : "");
        }
        if (r.pairs.empty())
            continue;
        out << fmt::format("  {:<24} {:>8} {:>7} {:>9} {:>15} {:>12}\n", "pair (left/right)",
                           "AI_%", "AI_sd", "L/R_RMS", "dSlope_L-R_%/s", "dIMF_L-R_Hz");
        for (std::size_t p = 0; p < r.pairs.size(); ++p) {
            const auto& pf = con.pairs[p];
            const auto& pair = r.pairs[p];
            out << fmt::format(
                "  {:<24} {:>8} {:>7} {:>9} {:>15} {:>12}{}\n", pair.muscle + " " + pair.level,
                num(pf.ai_mean_pct, 1), num(pf.ai_sd_pct, 1), num(pf.lr_rms_ratio, 2),
                num(pf.mdf_slope_difference_pct_per_s, 3), num(pf.mdf_initial_difference_hz, 1),
                pf.flagged ? "  |AI| above threshold" : "");
        }
    }
    for (std::size_t c = 0; c < r.quality.size(); ++c) {
        const auto& q = r.quality[c];
        if (q.verdict == "good")
            continue;
        out << fmt::format("  warning: channel '{}' quality {}: {}\n", r.labels[c], q.verdict,
                           q.reason);
    }
}

} // namespace semg::tools
