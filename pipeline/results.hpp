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

// One row per channel per epoch; the first columns are fixed:
// t_start_s,t_end_s,channel,rms_uv,arv_uv,mdf_hz,mnf_hz,total_power_uv2,zcr_hz,fi_nsm5,quality
class EpochsCsvWriter {
public:
    EpochsCsvWriter(std::ostream& out, std::vector<std::string> labels);
    void write(const dsp::EpochFrame& frame);

private:
    std::ostream& out_;
    std::vector<std::string> labels_;
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
