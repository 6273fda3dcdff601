// Opens a recording by its content, then by its extension: the first bytes name OpenSignals
// HDF5 (the HDF5 signature), OpenBCI GUI text ('%OpenBCI', '%Number of channels') or OpenSignals
// text ('# OpenSignals'); otherwise .edf/.bdf (EDFlib) and .csv/.tsv/.txt (CsvSource).
#pragma once

#include "acquisition/source.hpp"

#include <filesystem>
#include <memory>
#include <optional>

namespace semg::acquisition {

struct FileSourceOptions {
    std::optional<double> sample_rate_hz; // for formats without one (CSV with no time column)
    bool force_sample_rate = false;       // sample_rate_hz wins over a CSV time column
};

std::unique_ptr<Source> open_file_source(const std::filesystem::path& path,
                                         const FileSourceOptions& options = {});

} // namespace semg::acquisition
