// Shared pieces of the libFuzzer harnesses (docs/testing.md).
//
// A finding is whatever ends the process: a sanitizer report, a crash, an exception the API
// does not document (the harnesses catch only what it does), or a violated invariant, which
// the harnesses turn into a crash with fuzz_check so that libFuzzer saves the input.
#pragma once

#include "acquisition/source.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace semg::fuzz {

[[noreturn]] inline void fuzz_fail(const char* what, const char* file, int line) {
    std::fprintf(stderr, "fuzz invariant violated at %s:%d: %s\n", file, line, what);
    std::abort();
}
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ::semg::fuzz::fuzz_fail(#cond, __FILE__, __LINE__);                                    \
    } while (0)

// The readers under test open files by path; an in-memory file (memfd) gives them one,
// /proc/self/fd/N, without touching the disk on every execution. The readers are constructed
// directly, so no extension is needed; the name only shows in /proc.
class MemFile {
public:
    explicit MemFile(const char* name) : fd_(memfd_create(name, 0)) {
        if (fd_ < 0) {
            std::perror("memfd_create");
            std::abort();
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    ~MemFile() { close(fd_); }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;

    void assign(const std::uint8_t* data, std::size_t size) {
        if (ftruncate(fd_, 0) != 0 ||
            (size > 0 && pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size))) {
            std::perror("memfd write");
            std::abort();
        }
    }
    const std::string& path() const { return path_; }

private:
    int fd_;
    std::string path_;
};

// Reads a source to its end in blocks of 61 frames (a prime: blocks straddle records), checking
// that a reader never hands out more than it announced, nor a sample that is not a finite
// number (the readers reject NaN and infinity in the file: one cannot appear from scaling).
// Returns the frames read.
inline std::uint64_t read_all(acquisition::Source& source) {
    const auto& info = source.info();
    const std::size_t channels = info.channels.size();
    if (channels > 0)
        FUZZ_CHECK(info.sample_rate_hz > 0.0 && std::isfinite(info.sample_rate_hz));
    constexpr std::size_t block_frames = 61;
    std::vector<float> block(block_frames * channels);
    std::uint64_t frames = 0;
    for (;;) {
        const std::size_t n = source.read({block.data(), block_frames, channels, block_frames});
        FUZZ_CHECK(n <= block_frames);
        if (n == 0)
            break;
        for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t i = 0; i < n; ++i)
                FUZZ_CHECK(std::isfinite(block[c * block_frames + i]));
        frames += n;
    }
    if (info.total_frames)
        FUZZ_CHECK(frames <= *info.total_frames);
    return frames;
}

} // namespace semg::fuzz
