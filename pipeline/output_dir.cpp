#include "pipeline/output_dir.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace semg::pipeline {

OutputDir::OutputDir(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::error_code ec;
    if (std::filesystem::exists(dir_, ec)) {
        if (!std::filesystem::is_directory(dir_, ec))
            throw std::runtime_error(dir_.string() + ": exists and is not a folder");
    } else {
        std::filesystem::create_directories(dir_, ec);
        if (ec) throw std::runtime_error(dir_.string() + ": cannot create output folder (" + ec.message() + ")");
        created_ = true;
    }
}

OutputDir::~OutputDir() {
    if (committed_) return;
    streams_.clear();
    std::error_code ec;
    for (const auto& [name, temp] : temps_) std::filesystem::remove(temp, ec);
    if (created_) std::filesystem::remove(dir_, ec); // only if empty
}

std::filesystem::path OutputDir::temp_path(const std::string& name) {
    auto it = temps_.find(name);
    if (it != temps_.end()) return it->second;
    auto temp = dir_ / ("." + name + ".tmp-" + std::to_string(::getpid()));
    temps_.emplace(name, temp);
    on_signal_.emplace(name, TemporaryRegistration(temp));
    return temp;
}

std::ofstream& OutputDir::open(const std::string& name) {
    const auto temp = temp_path(name);
    auto& stream = streams_[name];
    stream.open(temp, std::ios::binary | std::ios::trunc);
    if (!stream) throw std::runtime_error(temp.string() + ": cannot write (" + std::strerror(errno) + ")");
    return stream;
}

void OutputDir::commit() {
    for (auto& [name, stream] : streams_) {
        stream.flush();
        if (!stream) throw std::runtime_error((dir_ / name).string() + ": write failed (disk full?)");
        stream.close();
    }
    for (const auto& [name, temp] : temps_) {
        std::error_code ec;
        std::filesystem::rename(temp, dir_ / name, ec);
        if (ec) throw std::runtime_error((dir_ / name).string() + ": cannot rename into place (" + ec.message() + ")");
    }
    committed_ = true;
    on_signal_.clear();
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
    const auto temp = path.parent_path() / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()));
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
