// Atomic result files: each file is written under a temporary name in the output folder and
// all are renamed into place by commit(). Without commit() (an error, an exception) the
// temporaries are removed, and so are the folders this object created: no partial output,
// and an earlier run's files in the folder are left as they were.
#pragma once

#include "pipeline/temp_cleanup.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace semg::pipeline {

// A run that owns its folder (`semg analyze`): a folder that exists already may hold only an
// earlier run's files (`own_files` and their leftover temporaries) unless `overwrite`; commit()
// then removes those of `own_files` this run did not write, so no stale file (an old pairs.csv)
// sits beside the new ones. Files that are not its own are never removed, even with overwrite.
struct OutputClaim {
    std::vector<std::string> own_files;
    bool overwrite = false;
};

class OutputDir {
public:
    // Creates `dir` if needed; throws on failure, or when `claim` is given and `dir` holds
    // files other than its own_files without claim->overwrite.
    explicit OutputDir(std::filesystem::path dir, std::optional<OutputClaim> claim = std::nullopt);
    ~OutputDir();
    OutputDir(const OutputDir&) = delete;
    OutputDir& operator=(const OutputDir&) = delete;

    // A stream to the temporary file that becomes `name` on commit().
    std::ofstream& open(const std::string& name);
    // Path of the temporary file for writers that need a path (EDF/BDF).
    std::filesystem::path temp_path(const std::string& name);
    void commit();
    const std::filesystem::path& path() const noexcept { return dir_; }

private:
    std::filesystem::path dir_;
    std::optional<OutputClaim> claim_;
    std::vector<std::filesystem::path> created_; // folders made by the constructor, innermost first
    bool committed_ = false;
    std::map<std::string, std::filesystem::path> temps_;
    std::map<std::string, std::ofstream> streams_;
    std::map<std::string, TemporaryRegistration> on_signal_; // temporaries a signal removes
};

// Writes `text` to `path` atomically (temporary file in the same folder, then rename).
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

} // namespace semg::pipeline
