// Shared by the file readers' tests: a scratch folder per process and files written there,
// running /usr/bin/python3 and `semg`, reading a source whole, the message a malformed file gives,
// comparing two epochs.csv files.
#pragma once

#include "acquisition/source.hpp"
#include "dsp/block.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
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

// Runs a shell command; returns its exit code and, in `out`, stdout and stderr.
inline int shell(const std::string& command, std::string* out = nullptr) {
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe)
        return -1;
    std::string text;
    std::array<char, 4096> buf{};
    while (const std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe))
        text.append(buf.data(), n);
    const int status = ::pclose(pipe);
    if (out)
        *out = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// Debian's python3 with numpy and scipy (the project's test dependency, tools/install-deps.sh).
inline bool have_numpy() { return shell("/usr/bin/python3 -c 'import numpy, scipy.io'") == 0; }

// Every channel of a source, read in blocks of `block_frames`.
inline std::vector<std::vector<float>> read_all(acquisition::Source& source,
                                                std::size_t block_frames = 61) {
    const std::size_t channels = source.info().channels.size();
    std::vector<std::vector<float>> x(channels);
    std::vector<float> block(channels * block_frames);
    while (const std::size_t n = source.read({block.data(), block_frames, channels, block_frames}))
        for (std::size_t c = 0; c < channels; ++c)
            x[c].insert(x[c].end(), block.begin() + static_cast<long>(c * block_frames),
                        block.begin() + static_cast<long>(c * block_frames + n));
    return x;
}

// The SourceError a file gives when opened and read whole as an S, or "(no error)".
template <class S> std::string error_of(const std::filesystem::path& path) {
    try {
        S source(path);
        read_all(source, 7);
    } catch (const acquisition::SourceError& e) {
        return e.what();
    }
    return "(no error)";
}

inline bool contains(const std::vector<std::string>& lines, const std::string& part) {
    for (const auto& l : lines)
        if (l.find(part) != std::string::npos)
            return true;
    return false;
}

// epochs.csv as rows of named fields.
inline std::vector<std::vector<std::string>> read_csv_rows(const std::filesystem::path& path,
                                                           std::vector<std::string>& header) {
    std::ifstream in(path);
    std::string line;
    std::vector<std::vector<std::string>> rows;
    auto split = [](const std::string& l) {
        std::vector<std::string> f;
        std::stringstream ss(l);
        std::string x;
        while (std::getline(ss, x, ','))
            f.push_back(x);
        return f;
    };
    if (std::getline(in, line))
        header = split(line);
    while (std::getline(in, line))
        if (!line.empty())
            rows.push_back(split(line));
    return rows;
}

// Two epochs.csv files agree row by row on the epoch times and on `columns` within a relative
// tolerance. Channel names may differ (a CSV column carries a unit suffix). Returns the largest
// relative difference seen.
inline double compare_epochs(const std::filesystem::path& a, const std::filesystem::path& b,
                             const std::vector<std::string>& columns, double rel_tol) {
    std::vector<std::string> ha, hb;
    const auto ra = read_csv_rows(a, ha), rb = read_csv_rows(b, hb);
    EXPECT_EQ(ha, hb);
    EXPECT_EQ(ra.size(), rb.size()) << a << " vs " << b;
    EXPECT_FALSE(ra.empty()) << a;
    double worst = 0.0;
    for (const std::string& name : columns) {
        const auto col =
            static_cast<std::size_t>(std::find(ha.begin(), ha.end(), name) - ha.begin());
        EXPECT_LT(col, ha.size()) << name;
        if (col >= ha.size())
            return worst;
        for (std::size_t r = 0; r < std::min(ra.size(), rb.size()); ++r) {
            const double x = std::stod(ra[r][col]), y = std::stod(rb[r][col]);
            const double rel = std::abs(x - y) / std::max({std::abs(x), std::abs(y), 1e-30});
            worst = std::max(worst, x == y ? 0.0 : rel);
            EXPECT_LE(rel, rel_tol)
                << name << " row " << r + 2 << ": " << x << " vs " << y << " (" << a << ")";
        }
    }
    return worst;
}

} // namespace semg::test
