// `semg capture` under load: the project's SEMG frame protocol over a socat pseudo-terminal
// pair at 64 channels × 4096 Hz (int24, 16 frames per packet: 786 kB/s) for 60 s, paced by the
// sample clock like a real amplifier.
//
// Prints: lost samples (parser gaps and ring overruns), CPU use of the `semg capture` process
// (over the streaming window from /proc/PID/stat, and over its whole life from wait4's rusage,
// which adds start-up and the final SHA-256 of raw.bdf), and the per-epoch latency that the
// capture measures itself (summary.json acquisition.epoch_latency_ms / processing_latency_ms:
// host time from the read that delivered an epoch's last sample to its rows being written).
// Targets: 0 lost samples, CPU < 15 % of one core, epoch latency p99 < 20 ms (with --ecg
// template the latency includes the ECG stage's fixed 0.416 s delay).
//
//   cmake --build build --target bench_capture            (2 x 60 s)
//   build/bench/bench_capture_pty --semg build/tools/semg --seconds 20 -- --ecg highpass
// Arguments after "--" go to `semg capture`.
#include "acquisition/serial_port.hpp"
#include "acquisition/serial_stream.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace semg;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// 64 channels of EMG-like noise: one second of precomputed samples per channel, cycled and
// amplitude-modulated, so that the fake device costs almost nothing next to the capture.
class LoadSource final : public acquisition::Source {
public:
    LoadSource(std::size_t channels, double fs, double seconds)
        : total_(static_cast<std::uint64_t>(fs * seconds)), period_(static_cast<std::size_t>(fs)) {
        info_.format = "bench";
        info_.sample_rate_hz = fs;
        for (std::size_t c = 0; c < channels; ++c)
            info_.channels.push_back({"ch" + std::to_string(c + 1), {}, {}, {}});
        std::mt19937_64 rng(1);
        std::normal_distribution<double> noise(0.0, 60.0);
        table_.assign(channels, std::vector<float>(period_));
        for (std::size_t c = 0; c < channels; ++c) {
            double lp = 0.0;
            for (std::size_t i = 0; i < period_; ++i) {
                lp = 0.6 * lp + noise(rng); // a little colour: the spectrum falls above ~300 Hz
                table_[c][i] =
                    static_cast<float>(lp + 40.0 * std::sin(2 * std::numbers::pi * 80.0 *
                                                            static_cast<double>(i) / fs));
            }
        }
    }
    const acquisition::SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(out.frames, total_ - position_));
        for (std::size_t c = 0; c < table_.size(); ++c) {
            float* dst = out.channel(c);
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint64_t k = position_ + i;
                const float envelope = 0.6f + 0.4f * static_cast<float>(k / period_ % 5) / 4.0f;
                dst[i] = envelope * table_[c][k % period_];
            }
        }
        position_ += n;
        return n;
    }

private:
    acquisition::SourceInfo info_;
    std::vector<std::vector<float>> table_;
    std::uint64_t total_;
    std::size_t period_;
    std::uint64_t position_ = 0;
};

pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
    std::vector<std::string> a = args;
    std::vector<char*> argv;
    for (auto& s : a)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    if (::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0)
        throw std::runtime_error("cannot start " + args[0]);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
}

// utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15).
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    const auto close = stat.rfind(')');
    if (close == std::string::npos)
        return NAN;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14)
            utime = std::stod(field);
        if (i == 15)
            stime = std::stod(field);
    }
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

int main(int argc, char** argv) {
    std::string semg = "semg";
    double seconds = 60.0;
    std::size_t channels = 64;
    double fs = 4096.0;
    std::vector<std::string> extra;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--semg" && i + 1 < argc)
            semg = argv[++i];
        else if (a == "--seconds" && i + 1 < argc)
            seconds = std::stod(argv[++i]);
        else if (a == "--channels" && i + 1 < argc)
            channels = std::stoul(argv[++i]);
        else if (a == "--fs" && i + 1 < argc)
            fs = std::stod(argv[++i]);
        else if (a == "--") {
            extra.assign(argv + i + 1, argv + argc);
            break;
        } else {
            std::cerr << "usage: bench_capture_pty [--semg PATH] [--seconds S] [--channels N] "
                         "[--fs HZ] [-- capture args]\n";
            return 2;
        }
    }
    if (::access("/usr/bin/socat", X_OK) != 0) {
        std::cerr << "bench_capture: socat is missing (tools/install-deps.sh installs it)\n";
        return 77;
    }
    const fs::path dir =
        fs::temp_directory_path() / ("semg-bench-capture-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path a = dir / "dev-A", b = dir / "dev-B";
    const pid_t socat = spawn({"/usr/bin/socat", "-d", "-d", "pty,raw,echo=0,link=" + a.string(),
                               "pty,raw,echo=0,link=" + b.string()},
                              dir / "socat.log");
    for (int i = 0; i < 500 && !(fs::exists(a) && fs::exists(b)); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));

    std::vector<std::string> cmd{semg,
                                 "capture",
                                 "--port",
                                 b.string(),
                                 "--protocol",
                                 "semg",
                                 "--duration-s",
                                 std::to_string(static_cast<int>(std::ceil(seconds))),
                                 "--out",
                                 (dir / "out").string(),
                                 "-q"};
    cmd.insert(cmd.end(), extra.begin(), extra.end());
    const pid_t capture = spawn(cmd, dir / "capture.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    LoadSource source(channels, fs, seconds);
    acquisition::SerialStreamerConfig dev;
    dev.packets.protocol = acquisition::Protocol::Semg;
    dev.packets.semg_format = acquisition::SemgSampleFormat::Int24;
    dev.packets.semg_scale_uv_per_count = 0.02f;
    dev.speed = 1.0;
    acquisition::SerialStreamer streamer(source, dev);
    acquisition::SerialTransport port({.port = a.string(), .thread_name = "bench-device"});
    std::cout << "bench_capture: " << channels << " channels x " << fs << " Hz, SEMG frame int24, "
              << seconds << " s over a socat pty pair\n"
              << "capture: " <<
        [&] {
            std::string s;
            for (const auto& c : cmd)
                s += c + " ";
            return s;
        }() << "\n"
              << std::flush;

    const double cpu0 = cpu_seconds(capture);
    const auto t0 = Clock::now();
    const auto stats = streamer.run(port);
    const double stream_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu1 = cpu_seconds(capture);

    int status = 0;
    rusage usage{};
    const auto wait_start = Clock::now();
    while (::wait4(capture, &status, WNOHANG, &usage) == 0) {
        if (Clock::now() - wait_start > std::chrono::seconds(30)) {
            ::kill(capture, SIGKILL);
            ::wait4(capture, &status, 0, &usage);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const double life_s = std::chrono::duration<double>(Clock::now() - t0).count() + 0.3;
    ::kill(socat, SIGTERM);
    ::waitpid(socat, nullptr, 0);

    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0 || !fs::exists(dir / "out" / "summary.json")) {
        std::cerr << "bench_capture: semg capture failed (exit " << code << "):\n"
                  << slurp(dir / "capture.log");
        return 1;
    }
    const auto summary = nlohmann::json::parse(slurp(dir / "out" / "summary.json"));
    const auto& acq = summary["acquisition"];
    const double total_cpu =
        static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
        static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
    const double window_cpu_pct = 100.0 * (cpu1 - cpu0) / stream_s;
    const auto lost = acq["lost_samples"].get<std::uint64_t>() +
                      acq["recorder_overrun_samples"].get<std::uint64_t>() +
                      acq["dsp_overrun_samples"].get<std::uint64_t>();
    const double p50 = acq["epoch_latency_ms"]["p50"].is_number()
                           ? acq["epoch_latency_ms"]["p50"].get<double>()
                           : NAN;
    const double p99 = acq["epoch_latency_ms"]["p99"].is_number()
                           ? acq["epoch_latency_ms"]["p99"].get<double>()
                           : NAN;
    const double q50 = acq["processing_latency_ms"]["p50"].is_number()
                           ? acq["processing_latency_ms"]["p50"].get<double>()
                           : NAN;
    const double q99 = acq["processing_latency_ms"]["p99"].is_number()
                           ? acq["processing_latency_ms"]["p99"].get<double>()
                           : NAN;
    const double delay_s = acq.value("analysis_delay_s", 0.0);

    std::printf("device: sent %llu frames, %llu bytes in %.1f s (%.0f kB/s)\n",
                static_cast<unsigned long long>(stats.frames),
                static_cast<unsigned long long>(stats.bytes), stream_s,
                static_cast<double>(stats.bytes) / stream_s / 1e3);
    std::printf("recorded: %llu frames (%.1f s), epochs %llu\n",
                static_cast<unsigned long long>(acq["frames"].get<std::uint64_t>()),
                acq["duration_s"].get<double>(),
                static_cast<unsigned long long>(summary["epochs"].get<std::uint64_t>()));
    std::printf(
        "lost samples: %llu (parser gaps %llu, sync losses %llu, bad CRC %llu, ring overruns %llu "
        "+ %llu)  [target 0]  %s\n",
        static_cast<unsigned long long>(lost),
        static_cast<unsigned long long>(acq["gaps"].get<std::uint64_t>()),
        static_cast<unsigned long long>(acq["sync_losses"].get<std::uint64_t>()),
        static_cast<unsigned long long>(acq["bad_checksums"].get<std::uint64_t>()),
        static_cast<unsigned long long>(acq["recorder_overrun_samples"].get<std::uint64_t>()),
        static_cast<unsigned long long>(acq["dsp_overrun_samples"].get<std::uint64_t>()),
        lost == 0 ? "ok" : "MISSED");
    std::printf("CPU of semg capture while streaming: %.1f %% of one core  [target < 15 %%]  %s\n",
                window_cpu_pct, window_cpu_pct < 15.0 ? "ok" : "MISSED");
    std::printf("CPU of semg capture over its life (start-up, SHA-256 of raw.bdf included): %.2f s "
                "in %.1f s = %.1f %%\n",
                total_cpu, life_s, 100.0 * total_cpu / life_s);
    std::printf("epoch latency, last sample read -> rows written: p50 %.1f ms, p99 %.1f ms, max "
                "%.1f ms  [target p99 < 20 ms]  %s\n",
                p50, p99,
                acq["epoch_latency_ms"]["max"].is_number()
                    ? acq["epoch_latency_ms"]["max"].get<double>()
                    : NAN,
                p99 < 20.0 ? "ok" : "MISSED");
    if (delay_s > 0.0)
        std::printf("  of which the analysis' fixed ECG-stage delay: %.1f ms (FatigueAnalysis "
                    "holds the stream back)\n",
                    delay_s * 1e3);
    std::printf("processing latency (read that let the analysis emit -> rows written): p50 %.2f "
                "ms, p99 %.2f ms  %s\n",
                q50, q99, q99 < 20.0 ? "ok" : "MISSED");
    const auto& queue = acq["queue_latency_ms"];
    if (queue["p99"].is_number())
        std::printf("  of which rings and wake-up (read -> DSP thread starts on it): p50 %.2f ms, "
                    "p99 %.2f ms; "
                    "the rest is the analysis computing the epoch\n",
                    queue["p50"].get<double>(), queue["p99"].get<double>());
    fs::remove_all(dir);
    return 0;
}
