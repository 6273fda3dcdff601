// Shared helpers for the tests: signals, golden data, chunked processing.
#pragma once

#include "dsp/block.hpp"

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <vector>

namespace semg::test {

inline nlohmann::json load_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

inline std::filesystem::path shared_datasets() { return SEMG_SHARED_DATASETS; }

// Planar block from per-channel vectors.
inline dsp::Block make_block(const std::vector<std::vector<float>>& channels) {
    dsp::Block block(channels.size(), channels.empty() ? 0 : channels[0].size());
    for (std::size_t c = 0; c < channels.size(); ++c)
        std::copy(channels[c].begin(), channels[c].end(), block.channel(c));
    block.set_frames(block.capacity());
    return block;
}

inline std::vector<float> sine(double freq_hz, double amplitude, double fs, std::size_t n,
                               double phase = 0.0) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i)
        x[i] = static_cast<float>(
            amplitude *
            std::sin(2.0 * std::numbers::pi * freq_hz * static_cast<double>(i) / fs + phase));
    return x;
}

inline std::vector<float> white_noise(std::size_t n, double sd, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> dist(0.0, sd);
    std::vector<float> x(n);
    for (auto& v : x)
        v = static_cast<float>(dist(rng));
    return x;
}

// Random block sizes 1..max that add up to n, seeded.
inline std::vector<std::size_t> random_chunks(std::size_t n, std::size_t max, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> dist(1, max);
    std::vector<std::size_t> sizes;
    for (std::size_t done = 0; done < n;) {
        const std::size_t s = std::min(dist(rng), n - done);
        sizes.push_back(s);
        done += s;
    }
    return sizes;
}

// Runs the built `semg` with `args` (shell words), stdout and stderr together.
struct Run {
    int exit_code;
    std::string output;
};

inline Run run(const std::string& args) {
    const std::string cmd = std::string(SEMG_EXE) + " " + args + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe))
        out.append(buf.data(), n);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

} // namespace semg::test
