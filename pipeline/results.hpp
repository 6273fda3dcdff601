// Result files shared by `semg analyze` and `semg capture`: epochs.csv rows and summary.json.
#pragma once

#include "acquisition/source.hpp"
#include "dsp/epoch_analyzer.hpp"
#include "pipeline/analysis.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace semg::pipeline {

// The header lines of epochs.csv and pairs.csv (without the line end).
inline constexpr std::string_view epochs_csv_columns =
    "t_start_s,t_end_s,channel,rms_uv,arv_uv,mdf_hz,mnf_hz,total_power_uv2,zcr_hz,fi_nsm5,quality,"
    "side,muscle,level,rms_pct_mvc";
inline constexpr std::string_view pairs_csv_columns =
    "t_start_s,t_end_s,muscle,level,left,right,rms_left_uv,rms_right_uv,ai_pct,lr_ratio";
// Whether a column of either file holds text (labels, sites, quality names); the others hold
// numbers, "nan" where a value is undefined.
bool is_text_column(std::string_view column) noexcept;
// A CSV field as RFC 4180 has it: in double quotes, with its quotes doubled, when it holds a
// comma, a quote or a line break (a channel label may); as it is otherwise.
std::string csv_field(std::string_view text);
// The fields of one line of epochs.csv or pairs.csv (quoted fields as csv_field() writes them).
std::vector<std::string> csv_fields(std::string_view line);

// One row per channel per epoch (epochs_csv_columns). The rows of the last write() stay in
// last_rows(), so that the capture can hand the same text to its dashboard.
class EpochsCsvWriter {
public:
    EpochsCsvWriter(std::ostream& out, std::vector<std::string> labels,
                    std::vector<ChannelSite> sites);
    void write(const dsp::EpochFrame& frame, const EpochDerived& derived);
    const std::string& last_rows() const noexcept { return rows_; }

private:
    std::ostream& out_;
    std::vector<std::string> labels_;
    std::vector<ChannelSite> sites_;
    std::string rows_;
};

// One row per bilateral pair per epoch (pairs_csv_columns); last_rows() as above.
class PairsCsvWriter {
public:
    PairsCsvWriter(std::ostream& out, std::vector<std::string> labels,
                   std::vector<BilateralPair> pairs);
    void write(const dsp::EpochFrame& frame, const EpochDerived& derived);
    const std::string& last_rows() const noexcept { return rows_; }

private:
    std::ostream& out_;
    std::vector<std::string> labels_;
    std::vector<BilateralPair> pairs_;
    std::string rows_;
};

struct InputFacts {
    std::filesystem::path path;
    std::string sha256;
    acquisition::SourceInfo info;
};

nlohmann::ordered_json summary_json(const InputFacts& input, const AnalysisSettings& settings,
                                    const AnalysisResult& result);

// What summary.json can say before any epoch, for the capture's live dashboard: `input`,
// `settings` (mains and ECG as decided so far), `software`, and the analysed `channels` and
// `pairs` with their sites but without fits. `analysis` must be prepared.
nlohmann::ordered_json start_summary_json(const InputFacts& input, const FatigueAnalysis& analysis);

// Lower-case hex SHA-256 of a file's bytes (OpenSSL).
std::string sha256_file(const std::filesystem::path& path);

std::string software_version();

} // namespace semg::pipeline
