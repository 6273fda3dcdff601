// Small helpers shared by the subcommands: option parsing, messages, progress.
#pragma once

#include "acquisition/protocols/protocol_id.hpp"
#include "pipeline/analysis.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace semg::tools {

// The analysis options shared by `semg analyze` and `semg capture`, so that a capture and a
// later `semg analyze raw.bdf` can be given the same settings in the same words.
struct AnalysisOptions {
    std::string channels; // labels to analyse, comma-separated (empty: all)
    std::string band = "20:450";
    int order = 4;
    std::string mains = "auto";
    double mains_notch_hz = 1.0;
    double mains_exclude_hz = 0.0;
    std::string ecg = "template";
    double epoch_s = 1.0;
    double overlap = 0.5;
    std::string psd = "welch";
    double welch_segment_s = 0.25;
    std::vector<std::string> segments;
    std::string contractions = "auto";
    std::string annotation = "contraction";
    std::filesystem::path montage;
    std::filesystem::path mvc;
    std::string mvc_segment;
    double ai_threshold_pct = 10.0;
    bool keep_flagged = false;
    pipeline::FitRule fit{};                          // --min-fit-epochs, --min-fit-share
    pipeline::ContractionDetector::Config detector{}; // --detect-* (docs/contractions.md)
};

// Adds the options to `cmd`; --select names the channels to analyse. With live = true the
// options that need a file (--annotation, --mvc-segment of the input) are left out.
void add_analysis_options(CLI::App& cmd, AnalysisOptions& o, bool live);
// Throws std::invalid_argument naming the option: a value outside pipeline::AnalysisLimits, a
// --montage or --mvc that is missing or a folder.
pipeline::AnalysisSettings analysis_settings_from(const AnalysisOptions& o);
// Throws std::invalid_argument unless `path` (given with `option`) is empty or a file.
void check_input_file(const std::filesystem::path& path, const std::string& option);
pipeline::ContractionMode contraction_mode_from_string(const std::string& text);
// "auto" -> empty (detect); "off" -> 0; "50", "60" -> Hz.
std::optional<double> parse_mains_setting(const std::string& text);

// "A:B" -> {A, B}; throws std::invalid_argument naming the option.
std::pair<double, double> parse_range(const std::string& text, const std::string& option);
// "50", "60" -> Hz; "off" -> 0.
double parse_mains(const std::string& text);
// A protocol name given with `option` -> the protocol; throws std::invalid_argument naming the
// option, the known names and the closest one: "--protocol must be cyton, cyton-daisy, ascii,
// openeeg or semg, got 'cyten' (did you mean cyton?)".
acquisition::Protocol parse_protocol(const std::string& text, const std::string& option);
// "a,b,c" -> {"a","b","c"}; empty text -> {}.
std::vector<std::string> split_list(const std::string& text);

void log_notice(const std::string& message);
void log_warning(const std::string& message);
// -q: warnings and errors only (notices are silenced).
void set_quiet(bool quiet);

// `old_name` as a deprecated spelling of the option `current_name` of `cmd` (same variable):
// hidden from --help, refused together with the current name, and one warning when used.
template <class T>
CLI::Option* add_deprecated_alias(CLI::App& cmd, const std::string& old_name, T& target,
                                  const std::string& current_name);
// The current spelling of a deprecated option, or empty.
std::string replacement_of(const CLI::Option& option);

// Levenshtein distance with adjacent transpositions (optimal string alignment).
std::size_t edit_distance(const std::string& a, const std::string& b);
// The candidate a user most likely meant by `word`, if any is close: within 2 edits (1 for
// words of 4 characters or fewer), or one is a prefix of the other of at least 3 characters.
std::optional<std::string> closest_match(const std::string& word,
                                         const std::vector<std::string>& candidates);
// A parse error's message with the suggestion for an unknown command or option, where one is
// close: "unknown option --output for `semg analyze` (did you mean --out?)".
std::string parse_error_message(const CLI::App& app, const CLI::ParseError& error,
                                const std::vector<std::string>& args);

// Numbers for people: shortest form of up to `digits` significant digits (450, 56.25, 0.001).
std::string human(double value, int digits = 6);

// A progress bar on stderr, only when stderr is a terminal.
class Progress {
public:
    Progress(std::string name, std::uint64_t total);
    void update(std::uint64_t done);
    void done();

private:
    std::string name_;
    std::uint64_t total_;
    bool enabled_;
    int shown_ = -1;
};

namespace detail {
void note_deprecated(CLI::App& cmd, CLI::Option* alias, CLI::Option* current);
}

template <class T>
CLI::Option* add_deprecated_alias(CLI::App& cmd, const std::string& old_name, T& target,
                                  const std::string& current_name) {
    CLI::Option* current = cmd.get_option(current_name);
    CLI::Option* alias = cmd.add_option(old_name, target, "deprecated: use " + current_name);
    detail::note_deprecated(cmd, alias, current);
    return alias;
}

} // namespace semg::tools
