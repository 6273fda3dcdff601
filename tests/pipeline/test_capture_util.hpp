// Helpers for the capture tests: a fake device thread on the device side of a socat pair, the
// bytes it sent decoded in-process (the expected recording), and raw.bdf read back.
#pragma once

#include "acquisition/edf.hpp"
#include "acquisition/protocol_source.hpp"
#include "acquisition/serial_port.hpp"
#include "acquisition/serial_stream.hpp"
#include "pipeline/capture.hpp"
#include "tests/acquisition/test_serial_util.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <thread>

namespace semg::test {

#define SEMG_REQUIRE_SOCAT()                                                                       \
    do {                                                                                           \
        if (!::semg::test::have_socat())                                                           \
            GTEST_SKIP() << "socat is missing (tools/install-deps.sh installs it): the pty-pair "  \
                            "capture tests need it";                                               \
    } while (0)

// An empty folder build/<suite>/<name> for one test's files.
// "A,B,..." for --labels: the binary protocols send no channel names.
inline std::string labels_of(const acquisition::Source& source) {
    std::string labels;
    for (const auto& ch : source.info().channels)
        labels += (labels.empty() ? "" : ",") + ch.label;
    return labels;
}

inline std::filesystem::path fresh_test_dir(const std::string& suite, const std::string& name) {
    const auto dir = std::filesystem::path(SEMG_BINARY_DIR) / suite / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

// The warnings and notices of a capture, from any thread.
struct Messages {
    std::mutex mutex;
    std::vector<std::string> lines;
    void add(const std::string& m) {
        std::lock_guard lock(mutex);
        lines.push_back(m);
    }
    bool contains(const std::string& text) {
        std::lock_guard lock(mutex);
        for (const auto& l : lines)
            if (l.find(text) != std::string::npos)
                return true;
        return false;
    }
    std::string all() {
        std::lock_guard lock(mutex);
        std::string s;
        for (const auto& l : lines)
            s += l + "\n";
        return s;
    }
};

// An in-process capture of `port` into out/capture: no live view, quick reconnects and start
// timeout, no ECG or mains stage (faster), messages collected.
inline pipeline::CaptureSettings session_settings(const std::string& port,
                                                  const std::filesystem::path& out,
                                                  const std::string& protocol, Messages& messages,
                                                  double fs_hz = 0.0) {
    pipeline::CaptureSettings s;
    s.serial.port = port;
    s.protocol.name = acquisition::protocol_from_name(protocol);
    s.protocol.ascii.sample_rate_hz = fs_hz;
    s.out_dir = out / "capture";
    s.live = pipeline::LiveMode::None;
    s.reconnect_s = 0.5;
    s.start_timeout_s = 5.0;
    s.analysis.ecg = dsp::EcgMethod::Off;
    s.analysis.mains_hz = 0.0;
    s.warn = [&messages](const std::string& m) { messages.add("warning: " + m); };
    s.notice = [&messages](const std::string& m) { messages.add(m); };
    return s;
}

inline acquisition::SerialStreamerConfig device_config(const std::string& protocol, double speed,
                                                       acquisition::StreamFaults faults = {}) {
    acquisition::SerialStreamerConfig c;
    c.packets.protocol = acquisition::protocol_from_name(protocol);
    c.packets.faults = faults;
    c.speed = speed;
    return c;
}

// Every byte a PacketStream makes, for decoding in-process.
inline std::vector<std::uint8_t> packet_bytes(acquisition::Source& source,
                                              const acquisition::PacketStreamConfig& cfg,
                                              acquisition::StreamStats* stats = nullptr) {
    acquisition::PacketStream stream(source, cfg);
    std::vector<std::uint8_t> out;
    acquisition::PacketStream::Packet p;
    while (stream.next(p))
        out.insert(out.end(), p.bytes.begin(), p.bytes.end());
    if (stats)
        *stats = stream.stats();
    return out;
}

// What a capture of these bytes must record: decoded with the same parser, gaps filled with
// zeros, quantised on the BDF grid. Planar, per channel.
inline std::vector<std::vector<float>>
expected_recording(const std::vector<std::uint8_t>& bytes,
                   const acquisition::ProtocolConfig& protocol, const pipeline::BdfGrid& grid) {
    std::size_t pos = 0;
    acquisition::ProtocolSource source(
        acquisition::make_parser(protocol), [&](std::span<std::uint8_t> dest) {
            const std::size_t n = std::min(dest.size(), bytes.size() - pos);
            std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(pos), n, dest.begin());
            pos += n;
            return n;
        });
    std::vector<std::vector<float>> out(source.info().channels.size());
    dsp::Block block(out.size(), 1024);
    while (const std::size_t n = source.read(block.capacity_ref()))
        for (std::size_t c = 0; c < out.size(); ++c)
            for (std::size_t i = 0; i < n; ++i)
                out[c].push_back(grid.quantise(block.channel(c)[i]));
    return out;
}

inline std::vector<std::vector<float>> read_bdf(const std::filesystem::path& path,
                                                acquisition::SourceInfo* info = nullptr) {
    acquisition::EdfSource source(path);
    if (info)
        *info = source.info();
    std::vector<std::vector<float>> out(source.info().channels.size());
    dsp::Block block(out.size(), 1000);
    while (const std::size_t n = source.read(block.capacity_ref()))
        for (std::size_t c = 0; c < out.size(); ++c)
            out[c].insert(out[c].end(), block.channel(c), block.channel(c) + n);
    return out;
}

// A fake device streaming `source` to `port` on its own thread until the source ends, stop(),
// or the port goes away.
class FakeDevice {
public:
    FakeDevice(acquisition::Source& source, const std::string& port,
               acquisition::SerialStreamerConfig cfg)
        : streamer_(source, std::move(cfg)),
          transport_(std::make_unique<acquisition::SerialTransport>(
              acquisition::SerialSettings{.port = port, .thread_name = "fake-device"})) {
        thread_ = std::jthread(
            [this](std::stop_token stop) { stats_ = streamer_.run(*transport_, stop); });
    }
    ~FakeDevice() { stop(); }
    void stop() {
        if (thread_.joinable()) {
            thread_.request_stop();
            thread_.join();
        }
    }
    void join() {
        if (thread_.joinable())
            thread_.join();
    }
    const acquisition::StreamStats& stats() const { return stats_; }

private:
    acquisition::SerialStreamer streamer_;
    std::unique_ptr<acquisition::SerialTransport> transport_;
    acquisition::StreamStats stats_;
    std::jthread thread_;
};

inline std::size_t count_gap_samples(const std::vector<acquisition::Annotation>& notes,
                                     std::size_t* events = nullptr) {
    std::size_t samples = 0, n = 0;
    for (const auto& a : notes) {
        unsigned long long k = 0, m = 0;
        if (std::sscanf(a.text.c_str(), "gaps %llu, %llu samples", &m, &k) == 2) {
            samples += k;
            n += m;
        } else if (std::sscanf(a.text.c_str(), "gap %llu samples", &k) == 1) {
            samples += k;
            ++n;
        }
    }
    if (events)
        *events = n;
    return samples;
}

} // namespace semg::test
