#include "pipeline/output_dir.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace semg::pipeline {

namespace {

// Temporaries are ".NAME.tmp-PID" (OutputDir::temp_path, write_file_atomically).
bool is_temporary_of(const std::string& entry, const std::string& name) {
    const std::string prefix = "." + name + ".tmp-";
    return entry.size() > prefix.size() && entry.compare(0, prefix.size(), prefix) == 0;
}

bool is_own(const std::string& entry, const OutputClaim& claim) {
    for (const auto& name : claim.own_files)
        if (entry == name || is_temporary_of(entry, name))
            return true;
    return false;
}

} // namespace

OutputDir::OutputDir(std::filesystem::path dir, std::optional<OutputClaim> claim)
    : dir_(std::move(dir)), claim_(std::move(claim)) {
    std::error_code ec;
    if (std::filesystem::exists(dir_, ec)) {
        if (!std::filesystem::is_directory(dir_, ec))
            throw std::runtime_error(dir_.string() + ": exists and is not a folder");
        if (claim_ && !claim_->overwrite) {
            std::vector<std::string> foreign;
            for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
                const auto name = entry.path().filename().string();
                if (!is_own(name, *claim_))
                    foreign.push_back(name + (entry.is_directory() ? "/" : ""));
            }
            if (ec)
                throw std::runtime_error(dir_.string() + ": cannot list the output folder (" +
                                         ec.message() + ")");
            if (!foreign.empty()) {
                std::sort(foreign.begin(), foreign.end());
                std::string shown;
                for (std::size_t i = 0; i < foreign.size() && i < 3; ++i)
                    shown += (i ? ", " : "") + foreign[i];
                if (foreign.size() > 3)
                    shown += " and " + std::to_string(foreign.size() - 3) + " more";
                throw std::runtime_error(
                    dir_.string() + ": output folder holds files that are not results (" + shown +
                    "): choose a new or empty folder, or give --overwrite to write beside them");
            }
        }
    } else {
        // The folders made here, innermost first, so that a failed run removes all of them.
        for (auto f = std::filesystem::absolute(dir_, ec).lexically_normal();
             !f.empty() && !std::filesystem::exists(f, ec); f = f.parent_path()) {
            created_.push_back(f);
            if (f == f.parent_path())
                break;
        }
        std::filesystem::create_directories(dir_, ec);
        if (ec)
            throw std::runtime_error(dir_.string() + ": cannot create output folder (" +
                                     ec.message() + ")");
    }
}

OutputDir::~OutputDir() {
    if (committed_)
        return;
    streams_.clear();
    std::error_code ec;
    for (const auto& [name, temp] : temps_)
        std::filesystem::remove(temp, ec);
    for (const auto& f : created_)
        std::filesystem::remove(f, ec); // only if empty
}

std::filesystem::path OutputDir::temp_path(const std::string& name) {
    auto it = temps_.find(name);
    if (it != temps_.end())
        return it->second;
    // An unlisted file would be "not a result" to the next run, which would then refuse the folder.
    if (claim_ && std::find(claim_->own_files.begin(), claim_->own_files.end(), name) ==
                      claim_->own_files.end())
        throw std::logic_error("OutputDir: '" + name + "' is not among the claim's own files");
    auto temp = dir_ / ("." + name + ".tmp-" + std::to_string(::getpid()));
    temps_.emplace(name, temp);
    on_signal_.emplace(name, TemporaryRegistration(temp));
    return temp;
}

std::ofstream& OutputDir::open(const std::string& name) {
    const auto temp = temp_path(name);
    auto& stream = streams_[name];
    stream.open(temp, std::ios::binary | std::ios::trunc);
    if (!stream)
        throw std::runtime_error(temp.string() + ": cannot write (" + std::strerror(errno) + ")");
    return stream;
}

void OutputDir::commit() {
    for (auto& [name, stream] : streams_) {
        stream.flush();
        if (!stream)
            throw std::runtime_error((dir_ / name).string() + ": write failed (disk full?)");
        stream.close();
    }
    for (const auto& [name, temp] : temps_) {
        std::error_code ec;
        std::filesystem::rename(temp, dir_ / name, ec);
        if (ec)
            throw std::runtime_error((dir_ / name).string() + ": cannot rename into place (" +
                                     ec.message() + ")");
    }
    committed_ = true;
    on_signal_.clear();
    if (!claim_)
        return;
    // An earlier run's files that this run did not write, and temporaries of killed runs.
    std::error_code ec;
    std::vector<std::filesystem::path> stale;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
        const auto name = entry.path().filename().string();
        if (is_own(name, *claim_) && !temps_.contains(name))
            stale.push_back(entry.path());
    }
    for (const auto& path : stale) {
        std::filesystem::remove(path, ec);
        if (ec)
            throw std::runtime_error(path.string() + ": cannot remove the earlier run's file (" +
                                     ec.message() + ")");
    }
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
    const auto temp = path.parent_path() /
                      ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()));
    const TemporaryRegistration on_signal(temp);
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) {
            std::error_code ec;
            std::filesystem::remove(temp, ec);
            throw std::runtime_error(path.string() + ": cannot write");
        }
    }
    std::error_code ec;
    std::filesystem::rename(temp, path, ec);
    if (ec) {
        std::filesystem::remove(temp, ec);
        throw std::runtime_error(path.string() + ": cannot rename into place");
    }
}

} // namespace semg::pipeline
