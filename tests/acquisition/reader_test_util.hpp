// Helpers shared by the file readers' tests: a scratch folder per process, files written there,
// every sample of a source read in small blocks, and the message a malformed file gives.
#pragma once

#include "acquisition/source.hpp"
#include "dsp/block.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace semg::test {

// <tmp>/<prefix><pid>: one folder per process, as ctest -j runs each test as its own process.
inline std::filesystem::path scratch_dir(const std::string& prefix) {
    const auto dir = std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

inline std::filesystem::path write_file(const std::filesystem::path& dir, const std::string& name,
                                        const std::string& text) {
    const auto path = dir / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

// Every sample per channel, read block_frames at a time (small blocks: rows straddle reads).
inline std::vector<std::vector<float>> read_all(acquisition::Source& source, std::size_t block_frames) {
    const std::size_t channels = source.info().channels.size();
    std::vector<std::vector<float>> out(channels);
    dsp::Block block(channels, block_frames);
    while (const std::size_t n = source.read(block.capacity_ref()))
        for (std::size_t c = 0; c < channels; ++c) out[c].insert(out[c].end(), block.channel(c), block.channel(c) + n);
    return out;
}

// The SourceError a file gives when opened and read whole as an S, or "(no error)".
template <class S>
std::string error_of(const std::filesystem::path& path) {
    try {
        S source(path);
        read_all(source, 7);
    } catch (const acquisition::SourceError& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace semg::test
