// The capture pipeline: the BDF grid, the rings, and whole sessions between a fake device and
// pipeline::Capture over a socat pseudo-terminal pair (real protocol bytes, real tty I/O).
#include "pipeline/capture.hpp"
#include "pipeline/capture_ring.hpp"
#include "tests/pipeline/test_capture_util.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <fstream>
#include <mutex>

using namespace semg;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) { return test::fresh_test_dir("test_capture", name); }

using test::device_config;
using test::Messages;
using test::session_settings;

// The first `frames` frames of the recording must equal the expectation bit for bit.
void expect_recording(const std::vector<std::vector<float>>& got,
                      const std::vector<std::vector<float>>& expected, std::size_t frames) {
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t c = 0; c < got.size(); ++c) {
        ASSERT_GE(got[c].size(), frames);
        ASSERT_GE(expected[c].size(), frames);
        for (std::size_t i = 0; i < frames; ++i)
            ASSERT_EQ(got[c][i], expected[c][i]) << "channel " << c << " frame " << i;
    }
}

} // namespace

// ---- the BDF grid: what the analysis sees is what raw.bdf holds --------------------------------

TEST(BdfGrid, QuantisesExactlyAsEdfWriterThenEdfSourceRoundTrip) {
    const auto dir = fresh_dir("grid");
    for (const auto& [lo, hi] : {std::pair{-100000.0, 100000.0}, std::pair{-187500.0, 187500.0},
                                 std::pair{-512.0, 511.0}}) {
        SCOPED_TRACE(hi);
        const pipeline::BdfGrid grid(lo, hi);
        std::mt19937_64 rng(3);
        std::normal_distribution<double> emg(0.0, 80.0);
        std::uniform_real_distribution<double> wide(1.2 * lo, 1.2 * hi);
        std::vector<float> x(3000);
        for (std::size_t i = 0; i < x.size(); ++i)
            x[i] = static_cast<float>(i % 3 == 0 ? wide(rng) : emg(rng));
        x[0] = static_cast<float>(lo);
        x[1] = static_cast<float>(hi);
        x[2] = 0.0f;
        acquisition::EdfWriterConfig cfg;
        cfg.sample_rate_hz = 1000;
        cfg.labels = {"a"};
        cfg.physical_min_uv = lo;
        cfg.physical_max_uv = hi;
        const auto path = dir / ("grid" + std::to_string(static_cast<long>(hi)) + ".bdf");
        {
            acquisition::EdfWriter w(path, cfg);
            w.write(dsp::ConstBlockRef(x.data(), x.size(), 1, x.size()));
            w.close();
        }
        const auto back = test::read_bdf(path);
        ASSERT_EQ(back[0].size(), x.size());
        std::size_t clipped = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            ASSERT_EQ(grid.quantise(x[i]), back[0][i]) << "sample " << i << " = " << x[i];
            ASSERT_EQ(grid.quantise(grid.quantise(x[i])), grid.quantise(x[i]))
                << "not idempotent at " << x[i];
            clipped += grid.clips(x[i]) ? 1 : 0;
        }
        EXPECT_GT(clipped, 100u);
        EXPECT_LT(std::abs(grid.quantise(0.0f)), grid.step_uv());
    }
    EXPECT_THROW(pipeline::BdfGrid(-0.5, 0.5),
                 std::invalid_argument); // not whole µV: 8-char header
    EXPECT_THROW(pipeline::BdfGrid(10, -10), std::invalid_argument);
}

TEST(BdfGrid, DefaultRangesFollowTheDevice) {
    acquisition::ProtocolConfig p;
    p.name = acquisition::Protocol::Cyton;
    EXPECT_EQ(pipeline::default_range_uv(p), std::make_pair(-187500.0, 187500.0));
    p.cyton.gain = 1.0;
    EXPECT_EQ(pipeline::default_range_uv(p).second, 4500000.0);
    p.name = acquisition::Protocol::Semg;
    EXPECT_EQ(pipeline::default_range_uv(p).second, 100000.0);
    p.name = acquisition::Protocol::OpenEeg;
    EXPECT_EQ(pipeline::default_range_uv(p), std::make_pair(-512.0, 512.0));
}

// A killed capture: EDFlib never wrote the record count. recover_raw_bdf makes the file
// readable with every whole record that reached the disk.
TEST(RawBdf, RecoversWhatAKilledCaptureFlushed) {
    const auto dir = fresh_dir("recover");
    const auto path = dir / "raw.bdf";
    const auto x = test::emg_like(3, 3500, 1000.0, 100.0, 1);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        acquisition::EdfWriterConfig cfg;
        cfg.sample_rate_hz = 1000;
        cfg.labels = {"a", "b", "c"};
        acquisition::EdfWriter w(path, cfg);
        dsp::Block block = test::make_block(x);
        w.write(block.cref());
        w.annotate({1.0, -1.0, "gap 3 samples"});
        std::fflush(nullptr); // what the recorder does every second
        ::_exit(0);           // killed: no close()
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    // The reader takes the records from the file's length (with a warning); --recover still
    // fixes the header for other readers, which refuse a count of -1.
    { // EDFlib refuses it; semg's reader counts the records from the length, with a warning
        const acquisition::EdfSource unfinished(path);
        EXPECT_EQ(unfinished.info().total_frames, 3000u);
        EXPECT_EQ(unfinished.info().warnings.size(), 1u);
    }
    EXPECT_EQ(pipeline::recover_raw_bdf(path), 3u);
    const auto back = test::read_bdf(path);
    ASSERT_EQ(back[0].size(), 3000u);
    const pipeline::BdfGrid grid(-100000, 100000);
    for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t i = 0; i < 3000; ++i)
            ASSERT_EQ(back[c][i], grid.quantise(x[c][i]));
    EXPECT_EQ(pipeline::recover_raw_bdf(path), 3u) << "idempotent";
    std::ofstream(dir / "text.bdf")
        << "not a recording at all, but long enough to have a header.......";
    EXPECT_THROW(pipeline::recover_raw_bdf(dir / "text.bdf"), acquisition::SourceError);
}

// Issue 12 (b): a durable writer (raw.bdf's) leaves a file that readers accept as it stands
// after a kill at any moment: the header is on disk before the first sample, and the record
// count follows every record, so EDFlib (which refuses -1 and any count that disagrees with
// the file's length) reads every whole record without --recover.
TEST(RawBdf, ADurableWriterIsReadableAsItStandsAfterAKill) {
    const auto dir = fresh_dir("durable");
    const auto x = test::emg_like(3, 3500, 1000.0, 100.0, 2);
    auto header_count = [](const fs::path& path) {
        std::ifstream in(path, std::ios::binary);
        std::string field(8, ' ');
        in.seekg(236);
        in.read(field.data(), 8);
        return field;
    };
    // Killed (no close(), no flush by anyone) after `frames` frames.
    auto killed_after = [&](const std::string& name, std::size_t frames) {
        const auto path = dir / name;
        const pid_t child = ::fork();
        if (child == 0) {
            acquisition::EdfWriterConfig cfg;
            cfg.sample_rate_hz = 1000;
            cfg.labels = {"a", "b", "c"};
            cfg.durable = true;
            acquisition::EdfWriter w(path, cfg);
            if (frames > 0) {
                dsp::Block block = test::make_block(x);
                block.set_frames(frames);
                w.write(block.cref());
            }
            ::_exit(0);
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        return path;
    };
    // Before the first record: a header with 0 records, the length of a header (4 signals with
    // the annotation signal: 256 bytes each and the fixed part).
    const auto empty = killed_after("empty.bdf", 0);
    ASSERT_TRUE(fs::exists(empty));
    EXPECT_EQ(fs::file_size(empty), 5u * 256u);
    EXPECT_EQ(header_count(empty), "0       ");
    // 3.5 s: three whole records, counted; the half record never left the writer.
    const auto three = killed_after("three.bdf", 3500);
    EXPECT_EQ(header_count(three), "3       ");
    const auto back = test::read_bdf(three);
    ASSERT_EQ(back[0].size(), 3000u);
    const pipeline::BdfGrid grid(-100000, 100000);
    for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t i = 0; i < 3000; ++i)
            ASSERT_EQ(back[c][i], grid.quantise(x[c][i]));
    // Closed normally, the file is what a writer without `durable` makes.
    acquisition::EdfWriterConfig cfg;
    cfg.sample_rate_hz = 1000;
    cfg.labels = {"a", "b", "c"};
    cfg.start = std::array<int, 6>{2000, 1, 1, 0, 0, 0};
    for (const bool durable : {false, true}) {
        cfg.durable = durable;
        acquisition::EdfWriter w(dir / (durable ? "closed-durable.bdf" : "closed.bdf"), cfg);
        dsp::Block block = test::make_block(x);
        w.write(block.cref());
        w.close();
    }
    std::ifstream a(dir / "closed.bdf", std::ios::binary),
        b(dir / "closed-durable.bdf", std::ios::binary);
    const std::string bytes_a((std::istreambuf_iterator<char>(a)), {});
    const std::string bytes_b((std::istreambuf_iterator<char>(b)), {});
    EXPECT_EQ(bytes_a.size(), bytes_b.size());
    EXPECT_TRUE(bytes_a == bytes_b) << "a durable writer's closed file differs";
}

// ---- rings --------------------------------------------------------------------------------------

TEST(SpscRing, HandsOverEverySlotInOrderBetweenThreadsAndDrainsOnClose) {
    pipeline::SpscRing<std::vector<std::uint64_t>> ring(8, [](auto& v) { v.assign(4, 0); });
    constexpr std::uint64_t n = 50'000;
    std::uint64_t full = 0;
    std::thread producer([&] {
        for (std::uint64_t i = 0; i < n; ++i) {
            auto* slot = ring.try_claim();
            while (!slot) {
                ++full;
                std::this_thread::yield();
                slot = ring.try_claim();
            }
            (*slot)[0] = i;
            (*slot)[3] = ~i;
            ring.publish();
        }
        ring.close();
    });
    std::uint64_t expected = 0;
    for (;;) {
        auto* slot = ring.wait_front(50ms);
        if (!slot) {
            if (ring.closed() && !ring.front())
                break;
            continue;
        }
        ASSERT_EQ((*slot)[0], expected);
        ASSERT_EQ((*slot)[3], ~expected);
        ++expected;
        ring.pop();
    }
    producer.join();
    EXPECT_EQ(expected, n);
    EXPECT_GT(full, 0u) << "the test should have filled the ring at least once";
}

TEST(SpscRing, AnIdleConsumerTimesOutAndWakesAtOnceForNewData) {
    pipeline::SpscRing<int> ring(4, nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(ring.wait_front(30ms), nullptr);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 25ms);
    std::thread late([&] {
        std::this_thread::sleep_for(20ms);
        *ring.try_claim() = 7;
        ring.publish();
    });
    const auto t1 = std::chrono::steady_clock::now();
    int* got = ring.wait_front(5s);
    late.join();
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, 7);
    EXPECT_LT(std::chrono::steady_clock::now() - t1, 1s)
        << "the producer's publish did not wake the consumer";
}

TEST(DropOldestRing, DropsTheOldestAndCountsIt) {
    pipeline::DropOldestRing<int> ring(4, nullptr);
    for (int i = 0; i < 10; ++i)
        ring.push([i](int& slot) { slot = i; });
    EXPECT_EQ(ring.dropped(), 6u);
    std::vector<int> got;
    while (ring.pop([&](const int& v) { got.push_back(v); })) {
    }
    EXPECT_EQ(got, (std::vector<int>{6, 7, 8, 9}));
}

// ---- whole sessions over a socat pty pair
// --------------------------------------------------------

TEST(CaptureSession, EveryProtocolRoundTripsIntoRawBdfAndResults) {
    SEMG_REQUIRE_SOCAT();
    struct Case {
        std::string protocol;
        double fs;
        std::size_t channels;
        double uv;
    };
    for (const Case& k :
         {Case{"semg", 2048, 8, 200}, Case{"cyton", 250, 8, 200}, Case{"cyton-daisy", 125, 16, 200},
          Case{"openeeg", 256, 6, 100}, Case{"ascii", 500, 4, 200}}) {
        SCOPED_TRACE(k.protocol);
        const auto dir = fresh_dir("roundtrip-" + k.protocol);
        test::SocatPair pair(dir);
        Messages messages;
        auto settings = session_settings(pair.host_side(), dir, k.protocol, messages, k.fs);
        settings.duration_s = 2.0;
        const auto signal =
            test::emg_like(k.channels, static_cast<std::size_t>(3 * k.fs), k.fs, k.uv, 5);
        test::VectorSource source(k.fs, signal);
        const auto dev = device_config(k.protocol, 4.0);
        test::VectorSource copy(k.fs, signal);
        const auto bytes = test::packet_bytes(copy, dev.packets);

        pipeline::Capture capture(settings);
        pipeline::CaptureReport report;
        std::thread host([&] { report = capture.run(); });
        std::this_thread::sleep_for(
            100ms); // let it open the port (bytes would wait in the pty anyway)
        test::FakeDevice device(source, pair.device_side(), dev);
        host.join();
        device.stop();

        const auto frames = static_cast<std::size_t>(2 * k.fs);
        EXPECT_EQ(report.frames, frames);
        EXPECT_EQ(report.stop_reason, "duration");
        EXPECT_EQ(report.counters.lost_samples + report.counters.sync_losses +
                      report.counters.bad_checksums + report.counters.bad_lines,
                  0u)
            << messages.all();
        EXPECT_EQ(report.recorder_overrun_samples + report.dsp_overrun_samples, 0u);
        EXPECT_TRUE(report.results_written) << report.results_error << "\n" << messages.all();
        acquisition::SourceInfo info;
        const auto raw = test::read_bdf(settings.out_dir / "raw.bdf", &info);
        EXPECT_EQ(info.sample_rate_hz, k.fs);
        const pipeline::BdfGrid grid(info.channels[0].physical_min_uv.value(),
                                     info.channels[0].physical_max_uv.value());
        expect_recording(raw, test::expected_recording(bytes, settings.protocol, grid), frames);
        EXPECT_EQ(raw[0].size(), frames) << "a whole number of seconds needs no padding";
        for (const char* f : {"epochs.csv", "summary.json"})
            EXPECT_TRUE(fs::exists(settings.out_dir / f)) << f;
        if (k.fs < 1000) {
            EXPECT_TRUE(messages.contains("Hz is below 1000 Hz: the analysis runs on 20-"))
                << messages.all();
        }
    }
}

TEST(CaptureSession, InjectedCorruptionAndDropsAreCountedExactlyAndRecordedAsGaps) {
    SEMG_REQUIRE_SOCAT();
    for (const std::string protocol : {"semg", "cyton"}) {
        SCOPED_TRACE(protocol);
        const double fs = protocol == "semg" ? 2048.0 : 250.0;
        const auto dir = fresh_dir("faults-" + protocol);
        test::SocatPair pair(dir);
        Messages messages;
        auto settings = session_settings(pair.host_side(), dir, protocol, messages);
        settings.duration_s =
            3.0; // exactly the device's stream: every fault is followed by a good packet
        const auto signal = test::emg_like(8, static_cast<std::size_t>(3 * fs), fs, 150.0, 8);
        test::VectorSource source(fs, signal), copy(fs, signal);
        const auto dev = device_config(protocol, protocol == "semg" ? 2.0 : 6.0, {0.02, 0.03, 77});
        acquisition::StreamStats expected_stats;
        const auto bytes = test::packet_bytes(copy, dev.packets, &expected_stats);

        pipeline::Capture capture(settings);
        pipeline::CaptureReport report;
        std::thread host([&] { report = capture.run(); });
        std::this_thread::sleep_for(100ms);
        test::FakeDevice device(source, pair.device_side(), dev);
        host.join();
        device.stop();

        ASSERT_GT(expected_stats.corrupted_packets, 3u);
        ASSERT_GT(expected_stats.dropped_packets, 3u);
        EXPECT_EQ(report.counters.lost_samples, expected_stats.lost_frames);
        EXPECT_EQ(report.counters.gaps, expected_stats.lost_runs);
        EXPECT_EQ(report.filled_samples, expected_stats.lost_frames);
        if (protocol == "semg") {
            EXPECT_EQ(report.counters.bad_checksums, expected_stats.corrupted_packets);
        }
        EXPECT_EQ(report.frames, static_cast<std::uint64_t>(3 * fs));
        acquisition::SourceInfo info;
        const auto raw = test::read_bdf(settings.out_dir / "raw.bdf", &info);
        const pipeline::BdfGrid grid(info.channels[0].physical_min_uv.value(),
                                     info.channels[0].physical_max_uv.value());
        expect_recording(raw, test::expected_recording(bytes, settings.protocol, grid),
                         report.frames);
        std::size_t events = 0;
        EXPECT_EQ(test::count_gap_samples(info.annotations, &events), expected_stats.lost_frames);
        EXPECT_EQ(events, expected_stats.lost_runs);
        EXPECT_LE(info.annotations.size(), 3u) << "EDFlib keeps one annotation per data record";
        EXPECT_TRUE(report.results_written) << report.results_error;
    }
}

TEST(CaptureSession, DeviceGoneMidStreamLeavesAValidRawBdfAndSaysSo) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("device-gone");
    test::SocatPair pair(dir);
    Messages messages;
    auto settings = session_settings(pair.host_side(), dir, "semg", messages);
    settings.reconnect_s = 0.4;
    const double fs = 2048.0;
    const auto signal = test::emg_like(4, static_cast<std::size_t>(20 * fs), fs, 150.0, 2);
    test::VectorSource source(fs, signal), copy(fs, signal);
    const auto dev = device_config("semg", 1.0);
    const auto bytes = test::packet_bytes(copy, dev.packets);

    pipeline::Capture capture(settings);
    pipeline::CaptureReport report;
    std::thread host([&] { report = capture.run(); });
    std::this_thread::sleep_for(100ms);
    test::FakeDevice device(source, pair.device_side(), dev);
    std::this_thread::sleep_for(1600ms);
    pair.stop(); // unplugged
    const auto t0 = std::chrono::steady_clock::now();
    host.join();
    device.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "gave up too late";

    EXPECT_EQ(report.stop_reason.rfind("device gone", 0), 0u) << report.stop_reason;
    EXPECT_TRUE(messages.contains("device gone")) << messages.all();
    EXPECT_TRUE(messages.contains("retrying for 0.4 s")) << messages.all();
    EXPECT_GT(report.frames, static_cast<std::uint64_t>(1.0 * fs));
    acquisition::SourceInfo info;
    const auto raw = test::read_bdf(settings.out_dir / "raw.bdf", &info);
    const pipeline::BdfGrid grid(info.channels[0].physical_min_uv.value(),
                                 info.channels[0].physical_max_uv.value());
    expect_recording(raw, test::expected_recording(bytes, settings.protocol, grid), report.frames);
    // Padded to a whole data record, with the true end and the loss annotated.
    EXPECT_EQ(raw[0].size() % static_cast<std::size_t>(fs), 0u);
    bool ends = false, lost = false;
    for (const auto& a : info.annotations) {
        ends = ends || a.text == "Recording ends";
        lost = lost || a.text == "device lost";
    }
    EXPECT_TRUE(ends);
    EXPECT_TRUE(lost);
    EXPECT_TRUE(report.results_written) << report.results_error;
}

TEST(CaptureSession, ReconnectsWhenTheDeviceComesBack) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("reconnect");
    auto pair = std::make_unique<test::SocatPair>(dir);
    Messages messages;
    auto settings = session_settings(pair->host_side(), dir, "semg", messages);
    settings.reconnect_s = 5.0;
    settings.duration_s = 3.0;
    const double fs = 1000.0;
    test::VectorSource first(fs,
                             test::emg_like(2, static_cast<std::size_t>(1.0 * fs), fs, 100.0, 1));
    test::VectorSource second(fs,
                              test::emg_like(2, static_cast<std::size_t>(10 * fs), fs, 100.0, 2));

    pipeline::Capture capture(settings);
    pipeline::CaptureReport report;
    std::thread host([&] { report = capture.run(); });
    std::this_thread::sleep_for(100ms);
    {
        test::FakeDevice device(first, pair->device_side(), device_config("semg", 2.0));
        device.join();
    }
    pair->stop();
    std::this_thread::sleep_for(300ms);
    pair = std::make_unique<test::SocatPair>(dir); // plugged in again, same device node
    test::FakeDevice device(second, pair->device_side(), device_config("semg", 4.0));
    host.join();
    device.stop();
    EXPECT_EQ(report.reconnects, 1u) << messages.all();
    EXPECT_EQ(report.stop_reason, "duration");
    EXPECT_TRUE(messages.contains("reconnected after")) << messages.all();
    EXPECT_EQ(report.frames, 3000u);
    EXPECT_EQ(report.counters.counter_resets, 1u) << "the new device restarts its counter";
    acquisition::SourceInfo info;
    test::read_bdf(settings.out_dir / "raw.bdf", &info);
    bool reconnected = false;
    for (const auto& a : info.annotations)
        reconnected = reconnected || a.text.rfind("reconnected after", 0) == 0;
    EXPECT_TRUE(reconnected);
}

TEST(CaptureSession, AStopRequestEndsAtTheNextWholeSecond) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("stop");
    test::SocatPair pair(dir);
    Messages messages;
    auto settings = session_settings(pair.host_side(), dir, "semg", messages);
    const double fs = 1024.0;
    test::VectorSource source(fs,
                              test::emg_like(2, static_cast<std::size_t>(20 * fs), fs, 100.0, 3));
    pipeline::Capture capture(settings);
    pipeline::CaptureReport report;
    std::thread host([&] { report = capture.run(); });
    std::this_thread::sleep_for(100ms);
    test::FakeDevice device(source, pair.device_side(), device_config("semg", 1.0));
    std::this_thread::sleep_for(1300ms);
    capture.request_stop("test stop");
    host.join();
    device.stop();
    EXPECT_EQ(report.stop_reason, "test stop");
    EXPECT_EQ(report.frames % 1024, 0u);
    EXPECT_GE(report.frames, 1024u);
    acquisition::SourceInfo info;
    const auto raw = test::read_bdf(settings.out_dir / "raw.bdf", &info);
    EXPECT_EQ(raw[0].size(), report.frames);
    for (const auto& a : info.annotations)
        EXPECT_NE(a.text, "Recording ends") << "no padding expected";
}

TEST(CaptureSession, StartFailuresLeaveNothingBehind) {
    const auto dir = fresh_dir("start-failures");
    Messages messages;
    {
        auto s = session_settings("/dev/no-such-semg-port", dir, "semg", messages);
        pipeline::Capture capture(s);
        EXPECT_THROW(capture.run(), acquisition::SerialError);
        EXPECT_FALSE(fs::exists(s.out_dir));
    }
    {
        test::Pty pty; // a device that sends only noise
        auto s = session_settings(pty.path, dir, "semg", messages);
        s.start_timeout_s = 0.5;
        pipeline::Capture capture(s);
        std::atomic<bool> writing{true};
        std::thread noise([&] {
            std::mt19937 rng(1);
            while (writing) {
                char junk[64];
                for (auto& b : junk)
                    b = static_cast<char>(rng() & 0x3F);
                pty.write_all(junk, sizeof junk);
                std::this_thread::sleep_for(5ms);
            }
        });
        try {
            capture.run();
            ADD_FAILURE() << "no error for a stream without frames";
        } catch (const pipeline::CaptureError& e) {
            EXPECT_NE(std::string(e.what()).find("no semg frame within"), std::string::npos)
                << e.what();
            EXPECT_NE(std::string(e.what()).find("bytes received"), std::string::npos) << e.what();
        }
        writing = false;
        noise.join();
        EXPECT_FALSE(fs::exists(s.out_dir / "raw.bdf"));
    }
    {
        auto s = session_settings("/dev/null", dir, "semg", messages);
        fs::create_directories(s.out_dir);
        std::ofstream(s.out_dir / "raw.bdf") << "an earlier recording";
        pipeline::Capture capture(s);
        EXPECT_THROW(capture.run(), pipeline::CaptureError);
        std::ifstream in(s.out_dir / "raw.bdf");
        std::string text;
        std::getline(in, text);
        EXPECT_EQ(text, "an earlier recording");
    }
    pipeline::CaptureSettings bad;
    bad.out_dir = dir;
    bad.duration_s = -1.0;
    EXPECT_THROW(pipeline::Capture{bad}, std::invalid_argument);
}
