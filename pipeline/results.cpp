#include "pipeline/results.hpp"
#include "pipeline/recovery.hpp"
#include "pipeline/version.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <cmath>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace semg::pipeline {
namespace {

nlohmann::ordered_json number(double v) {
    return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
}

nlohmann::ordered_json frequency_fit(const LinearFit& f) {
    return {{"initial_hz", number(f.initial)},
            {"slope_hz_per_s", number(f.slope_per_s)},
            {"slope_pct_per_s", number(f.slope_pct_per_s)},
            {"r2", number(f.r2)},
            {"slope_ci95_hz_per_s", {number(f.slope_ci95[0]), number(f.slope_ci95[1])}},
            // The CI normalised as the slope is (100 · / initial), so that the report shows it
            // without computing it again.
            {"slope_ci95_pct_per_s",
             {number(100.0 * f.slope_ci95[0] / f.initial),
              number(100.0 * f.slope_ci95[1] / f.initial)}},
            {"n", f.n}};
}

nlohmann::ordered_json amplitude_fit(const LinearFit& f) {
    return {{"initial_uv", number(f.initial)},
            {"slope_uv_per_s", number(f.slope_per_s)},
            {"slope_pct_per_s", number(f.slope_pct_per_s)},
            {"r2", number(f.r2)},
            {"slope_ci95_uv_per_s", {number(f.slope_ci95[0]), number(f.slope_ci95[1])}},
            {"n", f.n}};
}

nlohmann::ordered_json
flag_counts_json(const std::array<std::size_t, dsp::kQualityFlagCount>& counts) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (std::size_t b = 0; b < dsp::kQualityFlagCount; ++b)
        j[dsp::quality_flag_name(b)] = counts[b];
    return j;
}

nlohmann::ordered_json mains_json(const AnalysisSettings& settings, const AnalysisResult& result) {
    const auto& m = result.mains;
    nlohmann::ordered_json j{
        {"mode", m.mode},
        {"frequency_hz", m.frequency_hz > 0.0
                             ? nlohmann::ordered_json(m.frequency_hz)
                             : nlohmann::ordered_json(m.mode == "off" ? "off" : "none")},
        {"method",
         m.frequency_hz <= 0.0 ? "none"
         : settings.mains_notch_hz > 0.0
             ? "causal IIR notch (scipy iirnotch form) of notch_bandwidth_hz at each harmonic "
               "up to the band edge (docs/quality.md)"
             : "exclude PSD bins around each harmonic up to the band edge from the spectral moments"},
        {"notch_bandwidth_hz", settings.mains_notch_hz},
        {"exclude_half_width_hz", settings.mains_exclude_hz}};
    if (m.mode == "auto") {
        const auto& d = m.detection;
        j["detection"] = {
            {"rule",
             "1 s Hann periodograms of the band-passed channels; per channel and block the power in the bin at "
             "50 (60) Hz over the mean of the bins 3-8 Hz either side, averaged over the blocks; the larger "
             "family wins if its best channel exceeds the level Gaussian noise exceeds with probability 1e-4 "
             "(threshold_db); provisional after each block, final after detect_s; an epoch uses the decision "
             "in force when it ends (docs/quality.md)"},
            {"detect_s", settings.mains_detect_s},
            {"final", d.final},
            {"blocks", d.blocks},
            {"threshold_db", number(d.threshold_db)},
            {"fundamental_db",
             {{"50", number(d.fundamental_db[0])}, {"60", number(d.fundamental_db[1])}}},
            {"third_harmonic_db",
             {{"150", number(d.third_harmonic_db[0])}, {"180", number(d.third_harmonic_db[1])}}},
            {"strongest_channel",
             {{"50", d.channel[0] < result.labels.size() ? result.labels[d.channel[0]] : ""},
              {"60", d.channel[1] < result.labels.size() ? result.labels[d.channel[1]] : ""}}},
            {"confidence", d.confidence}};
    }
    return j;
}

nlohmann::ordered_json ecg_json(const AnalysisSettings& settings, const AnalysisResult& result) {
    const auto& c = settings.ecg_canceller;
    nlohmann::ordered_json j{{"method", dsp::to_string(result.ecg.method)},
                             {"source", result.ecg.source},
                             {"delay_s", result.ecg.delay_s}};
    if (result.ecg.method == dsp::EcgMethod::Highpass)
        j["highpass"] = {
            {"cutoff_hz", result.ecg.highpass_hz},
            {"order", settings.band.order},
            {"note", "replaces the band-pass lower edge; the spectral moments start there too"}};
    j["detector"] = {
        {"method",
         "Pan-Tompkins-like: per channel 5-15 Hz band-pass, squared, normalised by its running mean, "
         "summed over channels, moving-window integration, adaptive threshold NPK + 0.25 (SPK - NPK)"},
        {"band_hz", {c.detect_low_hz, c.detect_high_hz}},
        {"integration_s", c.integration_s},
        {"refractory_s", c.refractory_s},
        {"learn_s", c.learn_s}};
    j["template"] = {
        {"window_s", {-c.pre_s, c.post_s}},
        {"align_s", c.align_s},
        {"beats", c.template_beats},
        {"min_beats", c.min_beats},
        {"significance", c.significance},
        {"subtracted", result.ecg.method == dsp::EcgMethod::Template},
        {"note",
         "per-beat least-squares amplitude; a channel is cleaned only when its template stands out "
         "of the averaged EMG by the significance factor"}};
    return j;
}

nlohmann::ordered_json quality_settings_json(const AnalysisSettings& settings) {
    const auto& t = settings.quality;
    nlohmann::ordered_json excluded = nlohmann::ordered_json::array();
    for (std::size_t b = 0; b < dsp::kQualityFlagCount; ++b)
        if (settings.exclude_flags & (1u << b))
            excluded.push_back(dsp::quality_flag_name(b));
    return {
        {"rules", "docs/quality.md"},
        {"flatline_sd_uv", t.flatline_sd_uv},
        {"flatline_run_fraction", t.flatline_run_fraction},
        {"rail_fraction", t.rail_fraction},
        {"clip_fraction", t.clip_fraction},
        {"mains_share", t.mains_share},
        {"motion_lf_ratio", t.motion_lf_ratio},
        {"motion_band_hz", {1.0, 20.0}},
        {"ecg_share", t.ecg_share},
        {"min_sample_rate_hz", t.min_sample_rate_hz},
        {"excluded_from_fits", settings.keep_flagged ? nlohmann::ordered_json::array() : excluded}};
}

nlohmann::ordered_json settings_json(const AnalysisSettings& settings,
                                     const AnalysisResult& result) {
    return {
        {"band_hz", {result.band_low_hz, result.effective_high_hz}},
        {"band_requested_hz", {settings.band.low_hz, settings.band.high_hz}},
        {"filter",
         {{"type", "butterworth band-pass, second-order sections"},
          {"order", settings.band.order},
          {"order_definition", "prototype order as scipy.signal.butter: 2 x order poles"},
          {"phase", "causal (forward only)"}}},
        {"mains", mains_json(settings, result)},
        {"ecg", ecg_json(settings, result)},
        {"epoch_s", settings.epoch_s},
        {"overlap", settings.overlap},
        {"window", "hann"},
        {"psd",
         {{"method", dsp::to_string(settings.psd.method)},
          {"segment_s", settings.psd.method == dsp::PsdMethod::Welch
                            ? nlohmann::ordered_json(settings.psd.segment_s)
                            : nlohmann::ordered_json(settings.epoch_s)},
          {"segment_overlap", settings.psd.method == dsp::PsdMethod::Welch ? 0.5 : 0.0},
          {"detrend", "constant"},
          {"scaling", "density, one-sided, uV^2/Hz"}}},
        {"mdf_definition",
         "frequency where the cumulative band power reaches half the total; each bin's power spread evenly over [f - df/2, f + df/2] (linear interpolation within the crossing bin)"},
        {"mnf_definition", "sum(f*P)/sum(P) over the band"},
        {"fi_nsm5_definition", "M-1/M5, M_k = sum(f^k * P * df), f in Hz"},
        {"contractions",
         {{"source", result.contraction_source},
          {"detector",
           {{"method",
             "RMS envelope over every EMG channel of the recording in window_s windows "
             "(docs/contractions.md); rest = lowest mean over rest_window_s so far, activity = "
             "highest mean over activity_window_s so far (both after settle_s); threshold = "
             "max(rest_ratio*rest, rest + activity_fraction*(activity - rest)); a period starts "
             "after min_on_s above and ends after min_off_s below; >= min_bursts periods shorter "
             "than burst_max_s at most burst_gap_max_s apart are repeated bursts, fitted across "
             "bursts (one point per burst: mean of its usable epochs); other periods of at least "
             "min_duration_s are holds; shorter lone periods are dropped"},
            {"window_s", settings.detector.window_s},
            {"settle_s", settings.detector.settle_s},
            {"rest_window_s", settings.detector.rest_window_s},
            {"activity_window_s", settings.detector.activity_window_s},
            {"rest_ratio", settings.detector.rest_ratio},
            {"activity_fraction", settings.detector.activity_fraction},
            {"min_on_s", settings.detector.min_on_s},
            {"min_off_s", settings.detector.min_off_s},
            {"min_duration_s", settings.detector.min_duration_s},
            {"burst_max_s", settings.detector.burst_max_s},
            {"burst_gap_max_s", settings.detector.burst_gap_max_s},
            {"min_bursts", settings.detector.min_bursts}}}}},
        {"amplitude_asymmetry",
         {{"definition",
           "100*(L-R)/(L+R) per epoch, on %MVC when MVC references exist, else on RMS"},
          {"flag_threshold_pct", settings.ai_threshold_pct}}},
        {"montage", settings.montage ? settings.montage->source : "inferred from channel labels"},
        {"fit",
         "ordinary least squares over epoch centre time from contraction start (repeated bursts: over one point "
         "per burst, its usable epochs' mean time and value); initial = intercept"},
        {"fit_rule",
         {{"min_epochs", settings.fit.min_epochs},
          {"min_share", settings.fit.min_share},
          {"rule",
           "no fit (null, with no_fit_reason) unless at least min_epochs usable epochs (unflagged "
           "or kept, finite MDF) make up at least min_share of the contraction's epochs; repeated "
           "bursts also need min_bursts bursts with usable epochs"}}},
        {"keep_flagged", settings.keep_flagged},
        {"quality", quality_settings_json(settings)}};
}

nlohmann::ordered_json input_json(const InputFacts& input, const AnalysisResult& result) {
    nlohmann::ordered_json j{{"path", input.path.string()},
                             {"sha256", input.sha256},
                             {"format", input.info.format},
                             {"sample_rate_hz", result.sample_rate_hz}};
    if (result.frames > 0)
        j["duration_s"] = result.duration_s;
    j["channels"] = result.labels;
    // The recording's date as its header states it (the session log's visit date); absent where
    // the format has none.
    if (input.info.start_time)
        j["start_time"] = *input.info.start_time;
    return j;
}

nlohmann::ordered_json software_json() {
    return {{"name", "semg"}, {"version", software_version()}};
}

nlohmann::ordered_json channel_site_json(const AnalysisResult& result, std::size_t c) {
    return {{"label", result.labels[c]},
            {"side", std::string(to_string(result.sites[c].side))},
            {"muscle", result.sites[c].muscle},
            {"level", result.sites[c].level}};
}

nlohmann::ordered_json pair_site_json(const AnalysisResult& result, std::size_t p) {
    const auto& pair = result.pairs[p];
    return {{"muscle", pair.muscle},
            {"level", pair.level},
            {"left", result.labels[pair.left]},
            {"right", result.labels[pair.right]}};
}

} // namespace

std::string software_version() { return SEMG_VERSION; }

bool is_text_column(std::string_view column) noexcept {
    for (const std::string_view text :
         {"channel", "quality", "side", "muscle", "level", "left", "right"})
        if (column == text)
            return true;
    return false;
}

std::string csv_field(std::string_view text) {
    if (text.find_first_of(",\"\r\n") == std::string_view::npos)
        return std::string(text);
    std::string field = "\"";
    for (const char c : text) {
        if (c == '"')
            field += '"';
        field += c;
    }
    return field + '"';
}

std::vector<std::string> csv_fields(std::string_view line) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
            fields.back() += '"';
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (c == ',' && !quoted) {
            fields.emplace_back();
        } else {
            fields.back() += c;
        }
    }
    return fields;
}

namespace {
std::vector<std::string> csv_fields_of(std::vector<std::string> texts) {
    for (auto& t : texts)
        t = csv_field(t);
    return texts;
}
} // namespace

EpochsCsvWriter::EpochsCsvWriter(std::ostream& out, std::vector<std::string> labels,
                                 std::vector<ChannelSite> sites)
    : out_(out), labels_(csv_fields_of(std::move(labels))), sites_(std::move(sites)) {
    for (auto& site : sites_) {
        site.muscle = csv_field(site.muscle);
        site.level = csv_field(site.level);
    }
    out_ << epochs_csv_columns << '\n';
}

void EpochsCsvWriter::write(const dsp::EpochFrame& frame, const EpochDerived& derived) {
    rows_.clear();
    for (std::size_t c = 0; c < frame.channels.size(); ++c) {
        const auto& f = frame.channels[c];
        const auto& site = sites_[c];
        fmt::format_to(
            std::back_inserter(rows_),
            "{:.6f},{:.6f},{},{:.7g},{:.7g},{:.7g},{:.7g},{:.7g},{:.7g},{:.7g},{},{},{},{},{:.7g}\n",
            frame.t_start_s, frame.t_end_s, labels_[c], f.rms_uv, f.arv_uv, f.mdf_hz, f.mnf_hz,
            f.total_power_uv2, f.zcr_hz, f.fi_nsm5, dsp::quality_to_string(f.quality),
            to_string(site.side), site.muscle, site.level, derived.rms_pct_mvc[c]);
    }
    out_ << rows_;
}

PairsCsvWriter::PairsCsvWriter(std::ostream& out, std::vector<std::string> labels,
                               std::vector<BilateralPair> pairs)
    : out_(out), labels_(csv_fields_of(std::move(labels))), pairs_(std::move(pairs)) {
    for (auto& pair : pairs_) {
        pair.muscle = csv_field(pair.muscle);
        pair.level = csv_field(pair.level);
    }
    out_ << pairs_csv_columns << '\n';
}

void PairsCsvWriter::write(const dsp::EpochFrame& frame, const EpochDerived& derived) {
    rows_.clear();
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
        const auto& pair = pairs_[p];
        fmt::format_to(std::back_inserter(rows_),
                       "{:.6f},{:.6f},{},{},{},{},{:.7g},{:.7g},{:.7g},{:.7g}\n", frame.t_start_s,
                       frame.t_end_s, pair.muscle, pair.level, labels_[pair.left],
                       labels_[pair.right], frame.channels[pair.left].rms_uv,
                       frame.channels[pair.right].rms_uv, derived.ai_pct[p], derived.lr_ratio[p]);
    }
    out_ << rows_;
}

nlohmann::ordered_json summary_json(const InputFacts& input, const AnalysisSettings& settings,
                                    const AnalysisResult& result) {
    nlohmann::ordered_json j;
    j["input"] = input_json(input, result);
    j["settings"] = settings_json(settings, result);
    j["software"] = software_json();
    // A board below the quality threshold (Cyton 250 Hz, Cyton-Daisy 125 Hz): once, for the
    // whole recording, with the band the analysis could use. null at 1 kHz and above.
    if (result.sample_rate_hz < settings.quality.min_sample_rate_hz)
        j["low_rate"] = {{"sample_rate_hz", result.sample_rate_hz},
                         {"band_hz", {result.band_low_hz, result.effective_high_hz}},
                         {"threshold_hz", settings.quality.min_sample_rate_hz},
                         {"effect", "MDF and MNF band-limited and biased low: not comparable with "
                                    "recordings at 1 kHz or more"}};
    else
        j["low_rate"] = nullptr;
    j["epochs"] = result.epochs;
    j["contraction_source"] = result.contraction_source;
    j["contraction_warning"] = result.contraction_warning.empty()
                                   ? nlohmann::ordered_json()
                                   : nlohmann::ordered_json(result.contraction_warning);

    // A withheld fit (too few usable epochs) is null, with the reason, and has no JASA class.
    auto channel_fit = [&](const ChannelFit& f) {
        const bool fitted = f.no_fit_reason.empty();
        const nlohmann::ordered_json none;
        return nlohmann::ordered_json{
            {"epochs", f.epochs},
            {"flagged_epochs", f.flagged_epochs},
            {"flag_counts", flag_counts_json(f.flag_counts)},
            {"fit_epochs", f.fit_epochs},
            {"no_fit_reason", fitted ? none : nlohmann::ordered_json(f.no_fit_reason)},
            {"jasa", fitted ? nlohmann::ordered_json(to_string(f.jasa)) : none},
            {"mdf", fitted ? frequency_fit(f.mdf) : none},
            {"mnf", fitted ? frequency_fit(f.mnf) : none},
            {"rms", fitted ? amplitude_fit(f.rms) : none}};
    };
    auto channel_fit_of = [&](const ContractionResult& con, std::size_t c) {
        auto fit = channel_fit(con.channels[c]);
        if (con.bursts)
            fit["fit_bursts"] = con.channels[c].fit_bursts;
        return fit;
    };
    auto pair_fit = [&](std::size_t p, const PairFit& f) {
        auto pair = pair_site_json(result, p);
        pair.update(nlohmann::ordered_json{
            {"epochs", f.epochs},
            {"amplitude_asymmetry_pct", number(f.ai_mean_pct)},
            {"amplitude_asymmetry_sd_pct", number(f.ai_sd_pct)},
            {"amplitude_asymmetry_ci95_pct", {number(f.ai_ci95_pct[0]), number(f.ai_ci95_pct[1])}},
            {"amplitude_basis", result.mvc ? "pct_mvc" : "rms"},
            {"lr_rms_ratio", number(f.lr_rms_ratio)},
            {"mdf_slope_difference_pct_per_s", number(f.mdf_slope_difference_pct_per_s)},
            {"mdf_initial_difference_hz", number(f.mdf_initial_difference_hz)},
            {"flagged", f.flagged}});
        return pair;
    };
    // Top level: the first contraction; every contraction is listed under "contractions".
    const auto& first = result.contractions.front();
    nlohmann::ordered_json channels = nlohmann::ordered_json::array();
    for (std::size_t c = 0; c < result.labels.size(); ++c) {
        auto ch = channel_site_json(result, c);
        ch.update(channel_fit_of(first, c));
        channels.push_back(ch);
    }
    j["channels"] = channels;
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (std::size_t p = 0; p < result.pairs.size(); ++p)
        pairs.push_back(pair_fit(p, first.pairs[p]));
    j["pairs"] = pairs;
    nlohmann::ordered_json contractions = nlohmann::ordered_json::array();
    for (const auto& con : result.contractions) {
        nlohmann::ordered_json cj{{"start_s", con.start_s},
                                  {"end_s", con.end_s},
                                  {"kind", con.bursts ? "repeated_bursts" : "sustained"}};
        if (con.bursts)
            cj["bursts"] = con.burst_count;
        nlohmann::ordered_json chs = nlohmann::ordered_json::array();
        for (std::size_t c = 0; c < result.labels.size(); ++c) {
            nlohmann::ordered_json ch{{"label", result.labels[c]}};
            ch.update(channel_fit_of(con, c));
            chs.push_back(ch);
        }
        cj["channels"] = chs;
        nlohmann::ordered_json ps = nlohmann::ordered_json::array();
        for (std::size_t p = 0; p < result.pairs.size(); ++p)
            ps.push_back(pair_fit(p, con.pairs[p]));
        cj["pairs"] = ps;
        contractions.push_back(cj);
    }
    j["contractions"] = contractions;
    // IMF recovery between successive contractions (pipeline/recovery.hpp); [] with one.
    nlohmann::ordered_json recovery = nlohmann::ordered_json::array();
    for (const auto& step : imf_recovery(result)) {
        nlohmann::ordered_json chs = nlohmann::ordered_json::array();
        for (std::size_t c = 0; c < step.channels.size(); ++c) {
            const auto& r = step.channels[c];
            chs.push_back({{"label", result.labels[c]},
                           {"imf_hz", number(r.imf_hz)},
                           {"imf_pct_of_previous", number(r.pct_of_previous)},
                           {"imf_pct_of_first", number(r.pct_of_first)}});
        }
        recovery.push_back({{"from_index", step.from_index},
                            {"to_index", step.to_index},
                            {"rest_s", step.rest_s},
                            {"median_imf_pct_of_previous", number(step.median_pct_of_previous)},
                            {"median_imf_pct_of_first", number(step.median_pct_of_first)},
                            {"channels_with_values", step.channels_with_values},
                            {"channels", chs}});
    }
    j["imf_recovery"] = recovery;

    nlohmann::ordered_json quality = nlohmann::ordered_json::array();
    for (std::size_t c = 0; c < result.quality.size(); ++c) {
        const auto& q = result.quality[c];
        nlohmann::ordered_json flags = nlohmann::ordered_json::object();
        for (std::size_t b = 0; b < dsp::kQualityFlagCount; ++b)
            flags[dsp::quality_flag_name(b)] = {
                {"count", q.flag_counts[b]},
                {"share", q.epochs > 0 ? static_cast<double>(q.flag_counts[b]) /
                                             static_cast<double>(q.epochs)
                                       : 0.0}};
        quality.push_back({{"label", result.labels[c]},
                           {"verdict", q.verdict},
                           {"reason", q.reason},
                           {"epochs", q.epochs},
                           {"flags", flags},
                           {"contraction_epochs", q.contraction_epochs},
                           {"excluded_epochs", q.excluded_epochs}});
    }
    j["quality"] = {
        {"verdict_rule",
         "over the epochs inside contractions: poor if >= 50 % carry an excluding flag; "
         "usable if >= 10 % do; else good (a sample rate below 1 kHz is recorded "
         "once under low_rate)"},
        {"channels", quality}};
    const auto& e = result.ecg.report;
    nlohmann::ordered_json ecg_channels = nlohmann::ordered_json::array();
    for (std::size_t c = 0; c < e.template_snr.size() && c < result.labels.size(); ++c)
        ecg_channels.push_back({{"label", result.labels[c]},
                                {"template_snr", number(e.template_snr[c])},
                                {"subtracted", e.subtracted[c]}});
    j["ecg"] = {
        {"method", dsp::to_string(result.ecg.method)},
        {"source", result.ecg.source},
        {"detected", e.detected},
        {"rhythm", e.rhythm},
        {"beats", e.beats},
        {"heart_rate_bpm", e.detected ? number(e.heart_rate_bpm) : nlohmann::ordered_json()},
        {"rr_regular_fraction", number(e.rr_regular_fraction)},
        {"channels", ecg_channels}};
    return j;
}

nlohmann::ordered_json start_summary_json(const InputFacts& input,
                                          const FatigueAnalysis& analysis) {
    const auto& settings = analysis.settings();
    AnalysisResult known; // no frames, epochs, contractions or fits yet
    known.sample_rate_hz = input.info.sample_rate_hz;
    known.effective_high_hz = analysis.effective_high_hz();
    known.band_low_hz = analysis.effective_low_hz();
    known.labels = analysis.labels();
    known.sites = analysis.sites();
    known.pairs = analysis.pairs();
    known.mvc = !settings.mvc_rms_uv.empty();
    known.contraction_source = "decided at the end";
    known.mains.mode = !settings.mains_hz ? "auto" : (*settings.mains_hz == 0.0 ? "off" : "fixed");
    known.mains.frequency_hz = analysis.mains_hz();
    known.mains.detection = analysis.mains_detector().report();
    known.ecg.method = settings.ecg;
    known.ecg.source = analysis.ecg_source();
    known.ecg.delay_s = static_cast<double>(analysis.ecg().delay_frames()) / known.sample_rate_hz;
    known.ecg.highpass_hz =
        settings.ecg == dsp::EcgMethod::Highpass ? settings.ecg_highpass_hz : 0.0;

    nlohmann::ordered_json j;
    j["input"] = input_json(input, known);
    j["settings"] = settings_json(settings, known);
    j["software"] = software_json();
    nlohmann::ordered_json channels = nlohmann::ordered_json::array();
    for (std::size_t c = 0; c < known.labels.size(); ++c)
        channels.push_back(channel_site_json(known, c));
    j["channels"] = std::move(channels);
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (std::size_t p = 0; p < known.pairs.size(); ++p)
        pairs.push_back(pair_site_json(known, p));
    j["pairs"] = std::move(pairs);
    return j;
}

std::string sha256_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error(path.string() + ": cannot open to hash");
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 is not available");
    std::array<char, 1 << 16> buffer{};
    while (in) {
        in.read(buffer.data(), buffer.size());
        EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx.get(), digest.data(), &size);
    std::string hex;
    for (unsigned int i = 0; i < size; ++i)
        hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

} // namespace semg::pipeline
