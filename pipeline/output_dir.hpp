// Atomic result files: each file is written under a temporary name in the output folder and
// all are renamed into place by commit(). Without commit() (an error, an exception) the
// temporaries are removed, and so is the folder if this object created it: no partial output.
#pragma once

#include "pipeline/temp_cleanup.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace semg::pipeline {

class OutputDir {
public:
    explicit OutputDir(std::filesystem::path dir); // creates it if needed; throws on failure
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
    bool created_ = false;
    bool committed_ = false;
    std::map<std::string, std::filesystem::path> temps_;
    std::map<std::string, std::ofstream> streams_;
    std::map<std::string, TemporaryRegistration> on_signal_; // temporaries a signal removes
};

// Writes `text` to `path` atomically (temporary file in the same folder, then rename).
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

} // namespace semg::pipeline
