#include "acquisition/file_source.hpp"

#include "acquisition/csv_source.hpp"
#include "acquisition/edf.hpp"
#include "acquisition/mat_source.hpp"
#include "acquisition/openbci_source.hpp"
#include "acquisition/opensignals_source.hpp"
#include "acquisition/wfdb_source.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <string>
#include <string_view>

namespace semg::acquisition {
namespace {

using Opener = std::unique_ptr<Source> (*)(const std::filesystem::path&, const FileSourceOptions&);

// One file reader: whether it takes a file, from its first bytes (`head`, up to head_bytes), its
// lower-case extension and (WFDB: a header beside it) its path, and how it opens it.
struct Reader {
    std::string_view name;
    bool (*takes)(const std::filesystem::path& path, std::string_view head, std::string_view ext);
    Opener open;
};

constexpr std::size_t head_bytes = 4096;

void no_rate_override(const std::filesystem::path& path, const FileSourceOptions& options,
                      std::string_view format) {
    if (options.sample_rate_hz)
        throw SourceError(path.string() + ": --fs cannot override the " + std::string(format) +
                          " header rate");
}

// In order: the first reader that takes the file opens it. Content rules come first, so a file
// is read as what it is whatever its name; the extension rules last.
constexpr std::array readers{
    // MATLAB .mat: by its header text (v5, v7.3: before the HDF5 rule, v7.3 is HDF5 from byte
    // 512), else by the extension (v4 has no header).
    Reader{
        "MATLAB",
        [](const std::filesystem::path& p, std::string_view, std::string_view ext) {
            return ext == ".mat" || looks_like_mat(p);
        },
        [](const std::filesystem::path& p, const FileSourceOptions& o) -> std::unique_ptr<Source> {
            return std::make_unique<MatSource>(p, MatSource::Options{o.sample_rate_hz});
        }},
    Reader{
        "OpenSignals HDF5",
        [](const std::filesystem::path&, std::string_view head, std::string_view) {
            return OpenSignalsH5Source::recognises(head);
        },
        [](const std::filesystem::path& p, const FileSourceOptions& o) -> std::unique_ptr<Source> {
            no_rate_override(p, o, "OpenSignals");
            return std::make_unique<OpenSignalsH5Source>(p);
        }},
    Reader{
        "OpenBCI GUI text",
        [](const std::filesystem::path&, std::string_view head, std::string_view) {
            return OpenBciSource::recognises(head);
        },
        [](const std::filesystem::path& p, const FileSourceOptions& o) -> std::unique_ptr<Source> {
            no_rate_override(p, o, "OpenBCI GUI");
            return std::make_unique<OpenBciSource>(p);
        }},
    Reader{
        "OpenSignals text",
        [](const std::filesystem::path&, std::string_view head, std::string_view) {
            return OpenSignalsTextSource::recognises(head);
        },
        [](const std::filesystem::path& p, const FileSourceOptions& o) -> std::unique_ptr<Source> {
            no_rate_override(p, o, "OpenSignals");
            return std::make_unique<OpenSignalsTextSource>(p);
        }},
    // WFDB: a .hea header, or a .dat with its .hea beside it.
    Reader{
        "WFDB",
        [](const std::filesystem::path& p, std::string_view, std::string_view) {
            return wfdb_header_for(p).has_value();
        },
        [](const std::filesystem::path& p, const FileSourceOptions& o) -> std::unique_ptr<Source> {
            no_rate_override(p, o, "WFDB");
            return std::make_unique<WfdbSource>(*wfdb_header_for(p));
        }},
    Reader{
        "EDF/BDF",
        [](const std::filesystem::path&, std::string_view, std::string_view ext) {
            return ext == ".edf" || ext == ".bdf";
        },
        [](const std::filesystem::path& p, const FileSourceOptions& o) -> std::unique_ptr<Source> {
            no_rate_override(p, o, "EDF/BDF");
            return std::make_unique<EdfSource>(p);
        }},
    Reader{
        "CSV/TSV",
        [](const std::filesystem::path&, std::string_view, std::string_view ext) {
            return ext == ".csv" || ext == ".tsv" || ext == ".txt";
        },
        [](const std::filesystem::path& p, const FileSourceOptions& o) -> std::unique_ptr<Source> {
            return std::make_unique<CsvSource>(
                p, CsvSource::Options{o.sample_rate_hz, o.force_sample_rate});
        }},
};

std::string read_head(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw SourceError(path.string() + ": cannot open");
    std::string head(head_bytes, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    return head;
}

} // namespace

std::unique_ptr<Source> open_file_source(const std::filesystem::path& path,
                                         const FileSourceOptions& options) {
    if (path == "-")
        throw SourceError("-: standard input is not read: a recording is read twice (checked, then "
                          "analysed); save it to a file first");
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        throw SourceError(path.string() + ": no such file");
    if (std::filesystem::is_directory(path, ec))
        throw SourceError(path.string() + ": is a directory");
    // A FIFO blocks and a device such as /dev/zero never ends, whatever the name says.
    if (!std::filesystem::is_regular_file(path, ec))
        throw SourceError(
            path.string() +
            ": not a regular file (a FIFO or device): recordings are read from regular files");
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    const std::string head = read_head(path);
    for (const Reader& reader : readers)
        if (reader.takes(path, head, ext))
            return reader.open(path, options);
    throw SourceError(path.string() + ": unknown file type '" + ext +
                      "' (expected .edf, .bdf, .csv, .tsv or .txt, an OpenBCI GUI .txt export, a "
                      "PLUX OpenSignals .txt or .h5 file, a MATLAB .mat, or .hea/.dat for WFDB)");
}

} // namespace semg::acquisition
