#include "tools/cli_util.hpp"

#include "dsp/ecg.hpp"
#include "dsp/spectrum.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>

namespace semg::tools {
namespace {

double parse_number(const std::string& text, const std::string& option) {
    double v = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
        throw std::invalid_argument(option + ": '" + text + "' is not a number");
    return v;
}

spdlog::logger& logger() {
    static auto log = [] {
        // _mt: `semg analyze --jobs` logs from its worker threads.
        auto l = spdlog::stderr_color_mt("semg");
        l->set_pattern("semg: %^%l%$: %v");
        return l;
    }();
    return *log;
}

} // namespace

acquisition::Protocol parse_protocol(const std::string& text, const std::string& option) {
    if (const auto protocol = acquisition::find_protocol(text))
        return *protocol;
    std::vector<std::string> names;
    for (const auto& t : acquisition::protocols())
        names.emplace_back(t.name);
    const auto near = closest_match(text, names);
    throw std::invalid_argument(option + " must be " + acquisition::protocol_names() + ", got '" +
                                text + "'" + (near ? " (did you mean " + *near + "?)" : ""));
}

std::pair<double, double> parse_range(const std::string& text, const std::string& option) {
    const auto colon = text.find(':');
    if (colon == std::string::npos)
        throw std::invalid_argument(option + " must be START:END, got '" + text + "'");
    const double a = parse_number(text.substr(0, colon), option);
    const double b = parse_number(text.substr(colon + 1), option);
    if (!(b > a))
        throw std::invalid_argument(option + " must have START < END, got '" + text + "'");
    return {a, b};
}

double parse_mains(const std::string& text) {
    if (text == "off" || text == "none")
        return 0.0;
    if (text == "50")
        return 50.0;
    if (text == "60")
        return 60.0;
    throw std::invalid_argument("--mains must be auto, 50, 60 or off, got '" + text + "'");
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        const auto comma = text.find(',', start);
        items.push_back(text.substr(start, comma - start));
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return items;
}

std::optional<double> parse_mains_setting(const std::string& text) {
    if (text == "auto")
        return std::nullopt;
    return parse_mains(text);
}

pipeline::ContractionMode contraction_mode_from_string(const std::string& text) {
    if (text == "auto")
        return pipeline::ContractionMode::Auto;
    if (text == "detect")
        return pipeline::ContractionMode::Detect;
    if (text == "annotations")
        return pipeline::ContractionMode::Annotations;
    if (text == "whole")
        return pipeline::ContractionMode::Whole;
    throw std::invalid_argument("--contractions must be auto, detect, annotations or whole, got '" +
                                text + "'");
}

void add_analysis_options(CLI::App& cmd, AnalysisOptions& o, bool live) {
    cmd.add_option("--select", o.channels,
                   "Comma-separated channel labels to analyse (default: all)");
    cmd.add_option("--band", o.band, "Band-pass LOW:HIGH in Hz (upper edge clamped to 0.45 fs)")
        ->capture_default_str();
    cmd.add_option("--order", o.order, "Butterworth prototype order (scipy convention)")
        ->capture_default_str();
    cmd.add_option("--mains", o.mains,
                   "Mains whose harmonics are notched out: auto (detect), 50, 60 or off")
        ->capture_default_str();
    cmd.add_option("--mains-notch-hz", o.mains_notch_hz,
                   "-3 dB width of the notch at each mains harmonic, 0 for none (docs/quality.md)")
        ->capture_default_str();
    cmd.add_option("--mains-exclude-hz", o.mains_exclude_hz,
                   "Also leave PSD bins within this of each harmonic out of the spectral moments")
        ->capture_default_str();
    cmd.add_option("--ecg", o.ecg, "ECG removal: template (subtraction), highpass (30 Hz) or off")
        ->capture_default_str();
    cmd.add_option("--epoch-s", o.epoch_s, "Epoch length in seconds")->capture_default_str();
    cmd.add_option("--overlap", o.overlap, "Epoch overlap fraction in [0, 1)")
        ->capture_default_str();
    cmd.add_option("--psd", o.psd, "PSD method: welch or periodogram")->capture_default_str();
    cmd.add_option("--welch-segment-s", o.welch_segment_s, "Welch segment length in seconds")
        ->capture_default_str();
    cmd.add_option(
        "--segment", o.segments,
        "Contraction START:END in seconds; repeat for several (overrides --contractions)");
    cmd.add_option("--contractions", o.contractions,
                   live ? "Where contractions come from: auto (detection, else the whole "
                          "recording), detect or whole"
                        : "Where contractions come from: auto (annotations, else detection, else "
                          "whole recording), "
                          "detect, annotations or whole")
        ->capture_default_str();
    if (!live)
        cmd.add_option(
               "--annotation", o.annotation,
               "EDF+/BDF+ annotation marking a contraction (with a duration), or START,STOP labels")
            ->capture_default_str();
    cmd.add_option("--montage", o.montage,
                   "TOML montage file (docs/montage.md); default: inferred from labels");
    cmd.add_option("--mvc", o.mvc, "MVC recording with the same channels: RMS also as %MVC");
    cmd.add_option("--mvc-segment", o.mvc_segment,
                   live ? "MVC trial START:END in seconds of the --mvc recording"
                        : "MVC trial START:END in seconds (in --mvc, or in the input)");
    cmd.add_option("--ai-threshold-pct", o.ai_threshold_pct,
                   "Flag pairs whose |mean AI| exceeds this")
        ->capture_default_str();
    cmd.add_flag("--keep-flagged", o.keep_flagged, "Include flagged epochs in the fits");
    cmd.add_option(
           "--min-fit-epochs", o.fit.min_epochs,
           "A fit needs at least this many usable (unflagged) epochs, else it is reported as "
           "none with the reason")
        ->capture_default_str();
    cmd.add_option("--min-fit-share", o.fit.min_share,
                   "...and they must make up at least this share (0-1) of the contraction's epochs")
        ->capture_default_str();
    // Contraction detection (docs/contractions.md).
    auto& d = o.detector;
    const std::string group = "Contraction detection (docs/contractions.md)";
    cmd.add_option(
           "--detect-rest-ratio", d.rest_ratio,
           "Threshold at least this times the rest level (lowest 0.25 s mean envelope so far)")
        ->capture_default_str()
        ->group(group);
    cmd.add_option(
           "--detect-activity-fraction", d.activity_fraction,
           "Threshold at least rest + this fraction of (activity - rest), activity = highest 1 s "
           "mean envelope so far")
        ->capture_default_str()
        ->group(group);
    cmd.add_option("--detect-min-on-s", d.min_on_s,
                   "Seconds above the threshold that start an activity period")
        ->capture_default_str()
        ->group(group);
    cmd.add_option("--detect-min-off-s", d.min_off_s, "Seconds below the threshold that end it")
        ->capture_default_str()
        ->group(group);
    cmd.add_option("--detect-min-hold-s", d.min_duration_s,
                   "A lone activity period (not in a burst series) shorter than this is dropped")
        ->capture_default_str()
        ->group(group);
    cmd.add_option("--detect-burst-max-s", d.burst_max_s,
                   "Activity periods shorter than this may be bursts of cyclic work")
        ->capture_default_str()
        ->group(group);
    cmd.add_option("--detect-burst-gap-s", d.burst_gap_max_s,
                   "Bursts at most this many seconds apart belong to one series")
        ->capture_default_str()
        ->group(group);
    cmd.add_option("--detect-min-bursts", d.min_bursts,
                   "A series of at least this many bursts is one contraction of repeated bursts, "
                   "fitted across bursts (one point per burst)")
        ->capture_default_str()
        ->group(group);
}

pipeline::AnalysisSettings analysis_settings_from(const AnalysisOptions& o) {
    pipeline::AnalysisSettings s;
    const auto [low, high] = parse_range(o.band, "--band");
    s.band = {low, high, o.order};
    s.mains_hz = parse_mains_setting(o.mains);
    s.mains_exclude_hz = o.mains_exclude_hz;
    s.mains_notch_hz = o.mains_notch_hz;
    s.ecg = dsp::ecg_method_from_string(o.ecg);
    s.epoch_s = o.epoch_s;
    s.overlap = o.overlap;
    try {
        s.psd = {dsp::psd_method_from_string(o.psd), o.welch_segment_s};
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("--psd: ") + e.what());
    }
    for (const auto& seg : o.segments)
        s.segments_s.push_back(parse_range(seg, "--segment"));
    s.contractions = contraction_mode_from_string(o.contractions);
    if (!s.segments_s.empty())
        s.contractions = pipeline::ContractionMode::Segments;
    s.annotation = o.annotation;
    s.ai_threshold_pct = o.ai_threshold_pct;
    s.channels = split_list(o.channels);
    s.keep_flagged = o.keep_flagged;
    if (o.fit.min_epochs < 2)
        throw std::invalid_argument(
            "--min-fit-epochs must be at least 2 (a line needs two points), got " +
            std::to_string(o.fit.min_epochs));
    if (!(o.fit.min_share >= 0.0 && o.fit.min_share <= 1.0))
        throw std::invalid_argument("--min-fit-share must be between 0 and 1, got " +
                                    fmt::format("{:g}", o.fit.min_share));
    s.fit = o.fit;
    const auto& d = o.detector;
    const auto require = [](bool ok, const std::string& option, const std::string& rule,
                            double value) {
        if (!ok)
            throw std::invalid_argument(option + " must be " + rule + ", got " +
                                        fmt::format("{:g}", value));
    };
    require(d.rest_ratio >= 1.0, "--detect-rest-ratio", "at least 1", d.rest_ratio);
    require(d.activity_fraction >= 0.0 && d.activity_fraction < 1.0, "--detect-activity-fraction",
            "in [0, 1)", d.activity_fraction);
    require(d.min_on_s >= 0.0, "--detect-min-on-s", "non-negative", d.min_on_s);
    require(d.min_off_s >= 0.0, "--detect-min-off-s", "non-negative", d.min_off_s);
    require(d.min_duration_s >= 0.0, "--detect-min-hold-s", "non-negative", d.min_duration_s);
    require(d.burst_max_s > 0.0, "--detect-burst-max-s", "positive", d.burst_max_s);
    require(d.burst_gap_max_s >= 0.0, "--detect-burst-gap-s", "non-negative", d.burst_gap_max_s);
    require(d.min_bursts >= 2, "--detect-min-bursts", "at least 2",
            static_cast<double>(d.min_bursts));
    s.detector = d;
    pipeline::validate(s);
    // Files named by options are checked before any input is read or any port opened.
    check_input_file(o.montage, "--montage");
    check_input_file(o.mvc, "--mvc");
    if (!o.mvc_segment.empty()) {
        const auto [a, b] = parse_range(o.mvc_segment, "--mvc-segment");
        if (!(a >= 0.0 && std::isfinite(b)))
            throw std::invalid_argument("--mvc-segment must be START:END with 0 <= START < END "
                                        "(seconds), got '" +
                                        o.mvc_segment + "'");
    }
    return s;
}

void check_input_file(const std::filesystem::path& path, const std::string& option) {
    if (path.empty())
        return;
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status))
        throw std::invalid_argument(option + " " + path.string() + ": no such file");
    if (std::filesystem::is_directory(status))
        throw std::invalid_argument(option + " " + path.string() + ": is a folder, not a file");
}

void log_notice(const std::string& message) { logger().info(message); }
void log_warning(const std::string& message) { logger().warn(message); }
void set_quiet(bool quiet) {
    logger().set_level(quiet ? spdlog::level::warn : spdlog::level::info);
}

namespace {
// Deprecated spellings and their replacements, for the warning and for suggestions.
std::map<const CLI::Option*, std::string>& deprecated_options() {
    static std::map<const CLI::Option*, std::string> table;
    return table;
}
} // namespace

namespace detail {
void note_deprecated(CLI::App& cmd, CLI::Option* alias, CLI::Option* current) {
    const std::string old_name = alias->get_name();
    const std::string new_name = current->get_name();
    const std::string command = cmd.get_name();
    deprecated_options()[alias] = new_name;
    alias->group(""); // hidden from --help
    // Both spellings at once: refused after the parse (CLI11's excludes() would print an empty
    // "Excludes:" for the hidden name in --help). One check per command covers all its aliases.
    static std::map<const CLI::App*, std::vector<std::pair<const CLI::Option*, const CLI::Option*>>>
        aliases;
    auto& mine = aliases[&cmd];
    if (mine.empty())
        cmd.parse_complete_callback([&mine] {
            for (const auto& [old_option, new_option] : mine)
                if (old_option->count() > 0 && new_option->count() > 0)
                    throw CLI::ValidationError("--" + old_option->get_lnames().front() +
                                               " is the old spelling of " + new_option->get_name() +
                                               ": give one of them");
        });
    mine.emplace_back(alias, current);
    auto told = std::make_shared<bool>(false);
    alias->each([told, old_name, new_name, command](const std::string&) {
        if (*told)
            return;
        *told = true;
        log_warning(fmt::format("`semg {} {}` is deprecated: use {} (it means the same)", command,
                                old_name, new_name));
    });
}
} // namespace detail

std::string replacement_of(const CLI::Option& option) {
    const auto it = deprecated_options().find(&option);
    return it == deprecated_options().end() ? std::string() : it->second;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    const std::size_t n = a.size(), m = b.size();
    std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
    for (std::size_t i = 0; i <= n; ++i)
        d[i][0] = i;
    for (std::size_t j = 0; j <= m; ++j)
        d[0][j] = j;
    for (std::size_t i = 1; i <= n; ++i)
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[n][m];
}

std::optional<std::string> closest_match(const std::string& word,
                                         const std::vector<std::string>& candidates) {
    const auto bare = [](const std::string& s) {
        return s.substr(std::min(s.find_first_not_of('-'), s.size()));
    };
    const std::string w = bare(word);
    std::optional<std::string> best;
    std::size_t best_score = std::numeric_limits<std::size_t>::max();
    for (const auto& candidate : candidates) {
        const std::string c = bare(candidate);
        if (c.empty() || w.empty())
            continue;
        const std::size_t d = edit_distance(w, c);
        const std::size_t allowed = std::max(w.size(), c.size()) <= 4 ? 1 : 2;
        const bool prefix =
            std::min(w.size(), c.size()) >= 3 && (w.rfind(c, 0) == 0 || c.rfind(w, 0) == 0);
        if (d > allowed && !prefix)
            continue;
        // A near spelling beats a prefix; among equals, the first (the order of --help).
        const std::size_t score = d <= allowed ? d : 100 + d;
        if (score < best_score) {
            best_score = score;
            best = candidate;
        }
    }
    return best;
}

namespace {

std::vector<std::string> option_names(const CLI::App& cmd) {
    std::vector<std::string> names;
    for (const CLI::Option* opt : cmd.get_options()) {
        for (const auto& l : opt->get_lnames())
            names.push_back("--" + l);
        for (const auto& s : opt->get_snames())
            names.push_back("-" + s);
    }
    return names;
}

// The current name to suggest for a (possibly deprecated) option name of `cmd`.
std::string suggestion_for(const CLI::App& cmd, const std::string& name) {
    const CLI::Option* opt = cmd.get_option_no_throw(name);
    if (opt != nullptr && !replacement_of(*opt).empty())
        return replacement_of(*opt);
    return name;
}

bool looks_like_option(const std::string& arg) {
    if (arg.size() < 2 || arg[0] != '-')
        return false;
    // -5, -0.1, -1:2: values, not options.
    return !(std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.');
}

} // namespace

std::string parse_error_message(const CLI::App& app, const CLI::ParseError& error,
                                const std::vector<std::string>& args) {
    const std::string base = error.what();
    // The subcommand: the first argument that is not an option.
    const CLI::App* cmd = nullptr;
    std::size_t i = 0;
    for (; i < args.size(); ++i) {
        if (looks_like_option(args[i]))
            continue;
        for (const CLI::App* sub : app.get_subcommands({})) {
            if (sub->check_name(args[i]))
                cmd = sub;
        }
        if (cmd == nullptr) {
            std::vector<std::string> names;
            for (const CLI::App* sub : app.get_subcommands({}))
                names.push_back(sub->get_name());
            if (const auto near = closest_match(args[i], names))
                return fmt::format("unknown command '{}' (did you mean '{}'?)", args[i], *near);
            return fmt::format("unknown command '{}': the commands are {}", args[i],
                               fmt::join(names, ", "));
        }
        break;
    }
    if (cmd == nullptr) {
        if (base.find("subcommand is required") != std::string::npos) {
            std::vector<std::string> names;
            for (const CLI::App* sub : app.get_subcommands({}))
                names.push_back(sub->get_name());
            return fmt::format("a command is required: {}", fmt::join(names, ", "));
        }
        return base;
    }
    // The first option the subcommand does not know.
    for (std::size_t k = i + 1; k < args.size(); ++k) {
        if (args[k] == "--")
            break;
        if (!looks_like_option(args[k]))
            continue;
        const std::string name = args[k].substr(0, args[k].find('='));
        if (cmd->get_option_no_throw(name) != nullptr || app.get_option_no_throw(name) != nullptr)
            continue;
        const auto near = closest_match(name, option_names(*cmd));
        return fmt::format("unknown option {} for `semg {}`{}", name, cmd->get_name(),
                           near ? " (did you mean " + suggestion_for(*cmd, *near) + "?)"
                                : std::string(" (semg " + cmd->get_name() + " --help lists them)"));
    }
    return base;
}

std::string human(double value, int digits) {
    if (std::isnan(value))
        return "nan";
    return fmt::format("{:.{}g}", value, digits);
}

Progress::Progress(std::string name, std::uint64_t total)
    : name_(std::move(name)), total_(total), enabled_(total > 0 && ::isatty(STDERR_FILENO) == 1) {}

void Progress::update(std::uint64_t done) {
    if (!enabled_)
        return;
    const int pct = static_cast<int>(100 * done / total_);
    if (pct == shown_)
        return;
    shown_ = pct;
    const int bar = pct / 4;
    std::fprintf(stderr, "\r%s [%s%s] %3d%%", name_.c_str(),
                 std::string(static_cast<std::size_t>(bar), '#').c_str(),
                 std::string(static_cast<std::size_t>(25 - bar), ' ').c_str(), pct);
    std::fflush(stderr);
}

void Progress::done() {
    if (enabled_)
        std::fputs("\r\033[K", stderr);
}

} // namespace semg::tools
