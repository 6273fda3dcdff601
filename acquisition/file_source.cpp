#include "acquisition/file_source.hpp"

#include "acquisition/csv_source.hpp"
#include "acquisition/edf.hpp"
#include "acquisition/mat_source.hpp"
#include "acquisition/wfdb_source.hpp"

#include <algorithm>

namespace semg::acquisition {

std::unique_ptr<Source> open_file_source(const std::filesystem::path& path,
                                         const FileSourceOptions& options) {
    if (path == "-")
        throw SourceError("-: standard input is not read: a recording is read twice (checked, then "
                          "analysed); save it to a file first");
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw SourceError(path.string() + ": no such file");
    if (std::filesystem::is_directory(path, ec)) throw SourceError(path.string() + ": is a directory");
    // A FIFO blocks and a device such as /dev/zero never ends, whatever the name says.
    if (!std::filesystem::is_regular_file(path, ec))
        throw SourceError(path.string() + ": not a regular file (a FIFO or device): recordings are read from regular files");
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    // MATLAB .mat: by its header text (v5, v7.3), else by the extension (v4 has no header).
    if (looks_like_mat(path) || ext == ".mat")
        return std::make_unique<MatSource>(path, MatSource::Options{options.sample_rate_hz});
    // WFDB: a .hea header, or a .dat with its .hea beside it.
    if (const auto header = wfdb_header_for(path)) {
        if (options.sample_rate_hz)
            throw SourceError(path.string() + ": --fs cannot override the WFDB header rate");
        return std::make_unique<WfdbSource>(*header);
    }
    if (ext == ".edf" || ext == ".bdf") {
        if (options.sample_rate_hz)
            throw SourceError(path.string() + ": --fs cannot override the EDF/BDF header rate");
        return std::make_unique<EdfSource>(path);
    }
    if (ext == ".csv" || ext == ".tsv" || ext == ".txt")
        return std::make_unique<CsvSource>(path, CsvSource::Options{options.sample_rate_hz, options.force_sample_rate});
    throw SourceError(path.string() + ": unknown file type '" + ext +
                      "' (expected .edf, .bdf, .csv, .tsv, .txt, .mat, or .hea/.dat for WFDB)");
}

} // namespace semg::acquisition
