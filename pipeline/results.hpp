// Result files shared by `semg analyze` and `semg capture`: epochs.csv rows and summary.json.
#pragma once

#include "acquisition/source.hpp"
#include "dsp/epoch_analyzer.hpp"
#include "pipeline/analysis.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace semg::pipeline {

// One row per channel per epoch:
// t_start_s,t_end_s,channel,rms_uv,arv_uv,mdf_hz,mnf_hz,total_power_uv2,zcr_hz,fi_nsm5,quality,
// side,muscle,level,rms_pct_mvc
class EpochsCsvWriter {
public:
    EpochsCsvWriter(std::ostream& out, std::vector<std::string> labels, std::vector<ChannelSite> sites);
    void write(const dsp::EpochFrame& frame, const EpochDerived& derived);

private:
    std::ostream& out_;
    std::vector<std::string> labels_;
    std::vector<ChannelSite> sites_;
    std::string row_;
};

// One row per bilateral pair per epoch:
// t_start_s,t_end_s,muscle,level,left,right,rms_left_uv,rms_right_uv,ai_pct,lr_ratio
class PairsCsvWriter {
public:
    PairsCsvWriter(std::ostream& out, std::vector<std::string> labels, std::vector<BilateralPair> pairs);
    void write(const dsp::EpochFrame& frame, const EpochDerived& derived);

private:
    std::ostream& out_;
    std::vector<std::string> labels_;
    std::vector<BilateralPair> pairs_;
    std::string row_;
};

struct InputFacts {
    std::filesystem::path path;
    std::string sha256;
    acquisition::SourceInfo info;
};

nlohmann::ordered_json summary_json(const InputFacts& input, const AnalysisSettings& settings,
                            const AnalysisResult& result);

// Lower-case hex SHA-256 of a file's bytes (OpenSSL).
std::string sha256_file(const std::filesystem::path& path);

std::string software_version();

} // namespace semg::pipeline
