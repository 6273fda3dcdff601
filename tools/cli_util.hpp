// Small helpers shared by the subcommands: option parsing, messages, progress.
#pragma once

#include "pipeline/analysis.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
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
    pipeline::FitRule fit{};                       // --min-fit-epochs, --min-fit-share
    pipeline::ContractionDetector::Config detector{}; // --detect-* (docs/contractions.md)
};

// Adds the options to `cmd`. `channels_option` names the channel selection ("--channels" for
// analyze; capture uses --channels for the device's channel count). With live = true the
// options that need a file (--annotation, --mvc-segment of the input) are left out.
void add_analysis_options(CLI::App& cmd, AnalysisOptions& o, const std::string& channels_option,
                          bool live);
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
// "a,b,c" -> {"a","b","c"}; empty text -> {}.
std::vector<std::string> split_list(const std::string& text);

void log_notice(const std::string& message);
void log_warning(const std::string& message);

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

} // namespace semg::tools
