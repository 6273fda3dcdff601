// Helpers for the serial and capture tests: an in-memory Source, pseudo-terminals (openpty, or a
// socat pair with named links like a real device node), and signals that fit every protocol.
#pragma once

#include "acquisition/source.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace semg::test {

// Polls `pred` every millisecond until it holds (true) or `timeout` passes (false).
template <class Pred> bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// Planar samples in memory, read in blocks of any size.
class VectorSource final : public acquisition::Source {
public:
    VectorSource(double fs, std::vector<std::vector<float>> channels,
                 std::vector<std::string> labels = {})
        : channels_(std::move(channels)) {
        info_.format = "memory";
        info_.sample_rate_hz = fs;
        for (std::size_t c = 0; c < channels_.size(); ++c)
            info_.channels.push_back(
                {c < labels.size() ? labels[c] : "ch" + std::to_string(c + 1), {}, {}, {}});
        info_.total_frames = channels_.empty() ? 0 : channels_[0].size();
    }
    const acquisition::SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override {
        const std::size_t total = channels_.empty() ? 0 : channels_[0].size();
        const std::size_t n = std::min(out.frames, total - position_);
        for (std::size_t c = 0; c < channels_.size(); ++c)
            std::copy_n(channels_[c].begin() + static_cast<std::ptrdiff_t>(position_), n,
                        out.channel(c));
        position_ += n;
        return n;
    }
    const std::vector<std::vector<float>>& channels() const { return channels_; }

private:
    acquisition::SourceInfo info_;
    std::vector<std::vector<float>> channels_;
    std::size_t position_ = 0;
};

// EMG-like test signal: a few sines and seeded noise, amplitude `uv`, per channel different.
inline std::vector<std::vector<float>> emg_like(std::size_t channels, std::size_t frames, double fs,
                                                double uv, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, 0.3 * uv);
    std::vector<std::vector<float>> x(channels, std::vector<float>(frames));
    for (std::size_t c = 0; c < channels; ++c)
        for (std::size_t i = 0; i < frames; ++i) {
            const double t = static_cast<double>(i) / fs;
            const double f1 = std::min(0.2 * fs, 60.0 + 7.0 * static_cast<double>(c));
            x[c][i] = static_cast<float>(
                uv * std::sin(2 * std::numbers::pi * f1 * t) +
                0.5 * uv *
                    std::sin(2 * std::numbers::pi * 0.11 * fs * t + 0.3 * static_cast<double>(c)) +
                noise(rng));
        }
    return x;
}

// openpty(3) pair: the test is the device on `master`, the code under test opens `path`.
struct Pty {
    int master = -1;
    int slave = -1;
    std::string path;
    Pty() {
        if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0)
            throw std::runtime_error("openpty failed");
        termios t{};
        ::tcgetattr(slave, &t);
        ::cfmakeraw(&t);
        ::tcsetattr(slave, TCSANOW, &t);
        path = ::ttyname(slave);
    }
    ~Pty() {
        close_master();
        if (slave >= 0)
            ::close(slave);
    }
    Pty(const Pty&) = delete;
    Pty& operator=(const Pty&) = delete;
    void close_master() {
        if (master >= 0)
            ::close(master);
        master = -1;
    }
    // Writes what the terminal takes within timeout_ms (0 if nobody reads it and its buffer is
    // full): for a device that must go on sending after the port stopped reading, and stop.
    std::size_t write_some(const void* data, std::size_t n, int timeout_ms) const {
        pollfd p{master, POLLOUT, 0};
        if (::poll(&p, 1, timeout_ms) <= 0 || !(p.revents & POLLOUT))
            return 0;
        const ssize_t k = ::write(master, data, n);
        return k > 0 ? static_cast<std::size_t>(k) : 0;
    }
    void write_all(const void* data, std::size_t n) const {
        const auto* p = static_cast<const char*>(data);
        while (n > 0) {
            const ssize_t k = ::write(master, p, n);
            if (k < 0) {
                if (errno == EINTR || errno == EAGAIN)
                    continue;
                throw std::runtime_error("pty write failed");
            }
            p += k;
            n -= static_cast<std::size_t>(k);
        }
    }
    // Whatever arrives on the device side within `wait`.
    std::string read_for(std::chrono::milliseconds wait) const {
        std::string got;
        const auto end = std::chrono::steady_clock::now() + wait;
        const int flags = ::fcntl(master, F_GETFL);
        ::fcntl(master, F_SETFL, flags | O_NONBLOCK);
        char buf[256];
        while (std::chrono::steady_clock::now() < end) {
            const ssize_t k = ::read(master, buf, sizeof buf);
            if (k > 0)
                got.append(buf, static_cast<std::size_t>(k));
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        ::fcntl(master, F_SETFL, flags);
        return got;
    }
};

inline bool have_socat() { return ::access("/usr/bin/socat", X_OK) == 0; }

// `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`: two named ptys wired together, as
// a USB device node would be. Killing socat is the device being unplugged (both ends see EOF
// and the links disappear). Use GTEST_SKIP when have_socat() is false.
class SocatPair {
public:
    explicit SocatPair(const std::filesystem::path& dir) : a_(dir / "dev-A"), b_(dir / "dev-B") {
        start();
    }
    ~SocatPair() { stop(); }
    SocatPair(const SocatPair&) = delete;
    SocatPair& operator=(const SocatPair&) = delete;

    std::string device_side() const { return a_.string(); }
    std::string host_side() const { return b_.string(); }
    void start() {
        std::filesystem::remove(a_);
        std::filesystem::remove(b_);
        const std::string la = "pty,raw,echo=0,link=" + a_.string();
        const std::string lb = "pty,raw,echo=0,link=" + b_.string();
        // fork + exec rather than posix_spawn: the child asks to be killed with us, so a crashed
        // test leaves no socat behind (the thread that forks must outlive the pair).
        pid_ = ::fork();
        if (pid_ < 0)
            throw std::runtime_error("cannot fork for socat");
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            const int devnull = ::open("/dev/null", O_RDWR);
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2); // socat's -d -d chatter
            ::execl("/usr/bin/socat", "socat", "-d", "-d", la.c_str(), lb.c_str(),
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!(std::filesystem::exists(a_) && std::filesystem::exists(b_))) {
            if (std::chrono::steady_clock::now() > end)
                throw std::runtime_error("socat made no ptys in 5 s");
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    // The device disappears.
    void stop() {
        if (pid_ <= 0)
            return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

private:
    std::filesystem::path a_, b_;
    pid_t pid_ = -1;
};

} // namespace semg::test
