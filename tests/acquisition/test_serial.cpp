// Serial transport on pseudo-terminals, the fake-device stream (PacketStream, SerialStreamer)
// with its injected faults checked against the parsers' counters, and the frame assembler.
#include "acquisition/protocol_source.hpp"
#include "acquisition/protocols/protocol.hpp"
#include "acquisition/serial_port.hpp"
#include "acquisition/serial_stream.hpp"
#include "tests/acquisition/test_serial_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>

using namespace semg;
using namespace semg::acquisition;
using namespace std::chrono_literals;

namespace {

using test::wait_until;

struct Collected {
    std::mutex mutex;
    std::vector<std::uint8_t> bytes;
    std::atomic<int> ends{0};
    std::error_code end_code;
    std::size_t size() {
        std::lock_guard lock(mutex);
        return bytes.size();
    }
};

SerialTransport::BytesHandler collect_into(Collected& c) {
    return [&c](std::span<const std::uint8_t> b) {
        std::lock_guard lock(c.mutex);
        c.bytes.insert(c.bytes.end(), b.begin(), b.end());
    };
}

SerialTransport::EndHandler end_into(Collected& c) {
    return [&c](const std::error_code& ec) {
        c.end_code = ec;
        ++c.ends;
    };
}

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> v(n);
    for (auto& b : v)
        b = static_cast<std::uint8_t>(rng());
    return v;
}

std::vector<std::uint8_t> all_packets(PacketStream& stream) {
    std::vector<std::uint8_t> out;
    PacketStream::Packet p;
    while (stream.next(p))
        out.insert(out.end(), p.bytes.begin(), p.bytes.end());
    return out;
}

ParserCounters parse_all(const std::string& protocol, std::span<const std::uint8_t> bytes,
                         CollectingSink& sink, double ascii_fs = 500.0) {
    ProtocolConfig cfg;
    cfg.name = protocol_from_name(protocol);
    cfg.ascii.sample_rate_hz = ascii_fs;
    auto parser = make_parser(cfg);
    parser->feed(bytes, sink);
    return parser->counters();
}

PacketStreamConfig packets_of(const std::string& protocol) {
    PacketStreamConfig c;
    c.protocol = protocol_from_name(protocol);
    return c;
}

std::unique_ptr<Parser> parser_of(const std::string& protocol) {
    ProtocolConfig c;
    c.name = protocol_from_name(protocol);
    return make_parser(c);
}

} // namespace

// ---- transport ------------------------------------------------------------------------------

TEST(SerialTransport, DeliversEveryByteInOrderWhateverTheChunking) {
    test::Pty pty;
    Collected got;
    SerialTransport port({.port = pty.path});
    port.start(collect_into(got), end_into(got));
    const auto data = random_bytes(200'000, 7);
    std::mt19937 rng(3);
    for (std::size_t done = 0; done < data.size();) {
        const std::size_t n = std::min<std::size_t>(1 + rng() % 3000, data.size() - done);
        pty.write_all(data.data() + done, n);
        done += n;
        if (rng() % 8 == 0)
            std::this_thread::sleep_for(200us);
    }
    ASSERT_TRUE(wait_until([&] { return got.size() >= data.size(); }, 5s))
        << got.size() << " of " << data.size();
    port.stop();
    EXPECT_EQ(got.bytes, data);
    EXPECT_EQ(got.ends.load(), 0);
}

TEST(SerialTransport, SendsCommandsInOrderAndTheLastOneOnStop) {
    test::Pty pty;
    Collected got;
    SerialTransport port({.port = pty.path});
    port.start(collect_into(got), end_into(got));
    port.send("b");
    port.send("xyz");
    EXPECT_EQ(pty.read_for(200ms), "bxyz");
    port.stop("s");
    EXPECT_EQ(pty.read_for(100ms), "s");
    EXPECT_EQ(port.pending_bytes(), 0u);
    port.stop(); // idempotent
}

TEST(SerialTransport, ReportsTheEndOfTheDeviceOnceAndNoMoreBytesAfterStop) {
    test::Pty pty;
    Collected got;
    SerialTransport port({.port = pty.path});
    port.start(collect_into(got), end_into(got));
    pty.write_all("abc", 3);
    ASSERT_TRUE(wait_until([&] { return got.size() == 3; }, 2s));
    pty.close_master(); // the device is unplugged
    ASSERT_TRUE(wait_until([&] { return got.ends.load() > 0; }, 2s)) << "no end reported";
    EXPECT_FALSE(port.running());
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(got.ends.load(), 1);
    EXPECT_TRUE(got.end_code) << "an end needs a reason";
    port.stop();
}

TEST(SerialTransport, StopsQuietlyWhileTheDeviceIsStillSending) {
    test::Pty pty;
    Collected got;
    SerialTransport port({.port = pty.path});
    port.start(collect_into(got), end_into(got));
    std::atomic<bool> writing{true};
    std::thread device([&] {
        const auto chunk = random_bytes(64, 1);
        // Nobody reads the terminal after stop(): once its buffer is full a blocking write
        // would never return (seen under load), so the device only writes what is taken.
        while (writing) {
            pty.write_some(chunk.data(), chunk.size(), 10);
            std::this_thread::sleep_for(100us);
        }
    });
    std::this_thread::sleep_for(50ms);
    port.stop();
    const auto after_stop = got.size();
    std::this_thread::sleep_for(50ms);
    writing = false;
    device.join();
    EXPECT_GT(after_stop, 0u);
    EXPECT_EQ(got.size(), after_stop) << "bytes delivered after stop()";
    EXPECT_EQ(got.ends.load(), 0) << "stop() is not an end of the device";
}

TEST(SerialTransport, NamesItsThread) {
    test::Pty pty;
    SerialTransport port({.port = pty.path, .thread_name = "semg-test-io"});
    port.start([](std::span<const std::uint8_t>) {}, [](const std::error_code&) {});
    auto named = [] {
        for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
            std::ifstream comm(task.path() / "comm");
            std::string name;
            std::getline(comm, name);
            if (name == "semg-test-io")
                return true;
        }
        return false;
    };
    EXPECT_TRUE(wait_until(named, 1s)); // the thread names itself as it starts
    port.stop();
}

TEST(SerialTransport, ConfigurationErrorsAreTypedAndNameThePort) {
    try {
        SerialTransport port({.port = "/dev/no-such-semg-port"});
        FAIL() << "opened a port that does not exist";
    } catch (const SerialError& e) {
        EXPECT_NE(std::string(e.what()).find("/dev/no-such-semg-port"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos) << e.what();
    }
    const auto file = std::filesystem::temp_directory_path() / "semg-not-a-tty.txt";
    std::ofstream(file) << "x";
    try {
        SerialTransport port({.port = file.string()});
        FAIL() << "opened a regular file as a serial port";
    } catch (const SerialError& e) {
        EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
    std::filesystem::remove(file);
    test::Pty pty;
    EXPECT_THROW(SerialTransport({.port = pty.path, .character_size = 9}), std::invalid_argument);
    EXPECT_THROW(SerialTransport({.port = ""}), std::invalid_argument);
    EXPECT_THROW(SerialTransport({.port = pty.path, .baud_rate = 123457}), SerialError);
    // (A pty keeps 8 data bits whatever it is told: character sizes need a real UART.)
    EXPECT_NO_THROW(SerialTransport({.port = pty.path,
                                     .baud_rate = 57600,
                                     .parity = Parity::Even,
                                     .stop_bits = StopBits::Two,
                                     .flow_control = FlowControl::Hardware}));
    EXPECT_THROW(parity_from_string("mark"), std::invalid_argument);
    EXPECT_EQ(stop_bits_from_string("1.5"), StopBits::OnePointFive);
    EXPECT_EQ(flow_control_from_string("rtscts"), FlowControl::Hardware);
}

// Transport-level fuzz: valid packets, corrupt packets and garbage, written in random chunks
// with random pauses, must decode through the pty exactly as the same bytes fed in one piece.
TEST(SerialTransport, FuzzedStreamDecodesAsInProcess) {
    for (const std::string protocol : {"semg", "cyton", "ascii"}) {
        SCOPED_TRACE(protocol);
        const double fs = protocol == "cyton" ? 250.0 : 1000.0;
        test::VectorSource source(fs,
                                  test::emg_like(protocol == "cyton" ? 8 : 5, 1500, fs, 80.0, 11));
        PacketStreamConfig cfg;
        cfg.protocol = protocol_from_name(protocol);
        cfg.faults = {0.05, 0.05, 99};
        PacketStream stream(source, cfg);
        std::vector<std::uint8_t> bytes;
        std::mt19937 rng(5);
        PacketStream::Packet p;
        while (stream.next(p)) {
            bytes.insert(bytes.end(), p.bytes.begin(), p.bytes.end());
            if (rng() % 50 == 0) { // line noise between packets
                const auto junk = random_bytes(1 + rng() % 40, static_cast<unsigned>(rng()));
                bytes.insert(bytes.end(), junk.begin(), junk.end());
            }
        }
        CollectingSink expected;
        const auto expected_counters = parse_all(protocol, bytes, expected);

        test::Pty pty;
        ProtocolConfig pcfg;
        pcfg.name = protocol_from_name(protocol);
        pcfg.ascii.sample_rate_hz = fs;
        auto parser = make_parser(pcfg);
        CollectingSink got;
        std::atomic<std::size_t> fed{0};
        SerialTransport port({.port = pty.path});
        port.start(
            [&](std::span<const std::uint8_t> b) {
                parser->feed(b, got);
                fed += b.size();
            },
            [](const std::error_code&) {});
        for (std::size_t done = 0; done < bytes.size();) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 700, bytes.size() - done);
            pty.write_all(bytes.data() + done, n);
            done += n;
            if (rng() % 4 == 0)
                std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
        }
        ASSERT_TRUE(wait_until([&] { return fed.load() >= bytes.size(); }, 5s));
        port.stop();
        EXPECT_EQ(parser->counters(), expected_counters);
        EXPECT_EQ(got.indices, expected.indices);
        EXPECT_EQ(got.samples_uv_interleaved, expected.samples_uv_interleaved);
        EXPECT_EQ(got.gaps, expected.gaps);
        EXPECT_GT(expected_counters.frames, 1000u);
    }
}

// ---- the fake device's packets and faults ---------------------------------------------------

TEST(PacketStream, InjectedFaultsAreCountedExactlyByTheParsers) {
    struct Case {
        std::string protocol;
        double fs;
        std::size_t channels;
    };
    for (const Case& k : {Case{"semg", 2048.0, 16}, Case{"cyton", 250.0, 8},
                          Case{"cyton-daisy", 125.0, 16}, Case{"openeeg", 256.0, 6}}) {
        SCOPED_TRACE(k.protocol);
        test::VectorSource source(k.fs, test::emg_like(k.channels, 6000, k.fs,
                                                       k.protocol == "openeeg" ? 100.0 : 200.0, 3));
        PacketStreamConfig cfg;
        cfg.protocol = protocol_from_name(k.protocol);
        cfg.faults = {0.03, 0.04, 42};
        PacketStream stream(source, cfg);
        const auto bytes = all_packets(stream);
        const auto& st = stream.stats();
        ASSERT_GT(st.corrupted_packets, 5u);
        ASSERT_GT(st.dropped_packets, 5u);
        CollectingSink sink;
        const auto c = parse_all(k.protocol, bytes, sink);
        EXPECT_EQ(st.frames, 6000u);
        EXPECT_EQ(c.lost_samples, st.lost_frames);
        EXPECT_EQ(c.gaps, st.lost_runs);
        EXPECT_EQ(c.frames, st.frames - st.lost_frames);
        if (k.protocol == "semg")
            EXPECT_EQ(c.bad_checksums, st.corrupted_packets);
        else
            EXPECT_GT(c.sync_losses, 0u);
    }
}

TEST(PacketStream, AsciiCorruptLinesAreBadLinesAndDroppedLinesAreInvisible) {
    test::VectorSource source(500.0, test::emg_like(3, 3000, 500.0, 100.0, 4),
                              {"ES L4 L", "ES L4 R", "MF L5 L"});
    PacketStreamConfig cfg;
    cfg.protocol = Protocol::Ascii;
    cfg.faults = {0.05, 0.02, 8};
    PacketStream stream(source, cfg);
    const auto bytes = all_packets(stream);
    const auto& st = stream.stats();
    CollectingSink sink;
    ProtocolConfig pcfg;
    pcfg.name = Protocol::Ascii;
    pcfg.ascii.sample_rate_hz = 500.0;
    auto parser = make_parser(pcfg);
    parser->feed(bytes, sink);
    EXPECT_EQ(parser->counters().bad_lines, st.corrupted_packets);
    EXPECT_EQ(parser->counters().frames, st.frames - st.lost_frames);
    EXPECT_EQ(parser->counters().lost_samples, 0u); // no counter in the format
    // Spaces separate ASCII values: the header carries the labels with '_'.
    EXPECT_EQ(parser->channel_labels(),
              (std::vector<std::string>{"ES_L4_L", "ES_L4_R", "MF_L5_L"}));
}

TEST(PacketStream, FaultsSpareTheFirstAndLastPacketAndFollowTheSeed) {
    auto run = [](std::uint64_t seed) {
        test::VectorSource source(1000.0, test::emg_like(2, 400, 1000.0, 50.0, 1));
        PacketStreamConfig cfg;
        cfg.faults = {0.5, 0.49, seed};
        cfg.semg_frames_per_packet = 4;
        PacketStream stream(source, cfg);
        return std::pair(all_packets(stream), stream.stats());
    };
    const auto [a, sa] = run(1);
    const auto [b, sb] = run(1);
    const auto [c, sc] = run(2);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    CollectingSink sink;
    const auto k = parse_all("semg", a, sink);
    ASSERT_GE(sink.frames(), 8u);
    EXPECT_EQ(sink.indices.front(), 0u);
    EXPECT_EQ(sink.indices.back(), 399u) << "the last packet must arrive, or its gap is invisible";
    EXPECT_EQ(k.lost_samples, sa.lost_frames);
}

TEST(PacketStream, WithoutFaultsTheReceiverGetsTheSourceWithinOneCount) {
    for (const std::string protocol : {"semg", "cyton", "openeeg", "ascii"}) {
        SCOPED_TRACE(protocol);
        const double fs = protocol == "cyton" ? 250.0 : protocol == "openeeg" ? 256.0 : 1000.0;
        const std::size_t channels = protocol == "openeeg" ? 6 : protocol == "cyton" ? 8 : 4;
        test::VectorSource source(fs, test::emg_like(channels, 700, fs, 100.0, 2));
        PacketStreamConfig cfg;
        cfg.protocol = protocol_from_name(protocol);
        PacketStream stream(source, cfg);
        const auto bytes = all_packets(stream);
        CollectingSink sink;
        const auto k = parse_all(protocol, bytes, sink, fs);
        ASSERT_EQ(sink.frames(), 700u);
        EXPECT_EQ(k.lost_samples + k.sync_losses + k.bad_checksums + k.bad_lines, 0u);
        const double tolerance = protocol == "openeeg" ? 0.5
                                 : protocol == "cyton" ? 0.012
                                 : protocol == "ascii" ? 6e-4
                                                       : 0.011;
        for (std::size_t i = 0; i < 700; ++i)
            for (std::size_t c = 0; c < channels; ++c)
                ASSERT_NEAR(sink.frame(i)[c], source.channels()[c][i], tolerance)
                    << "frame " << i << " channel " << c;
    }
}

TEST(PacketStream, RejectsWhatTheProtocolCannotCarry) {
    test::VectorSource nine(250.0, test::emg_like(9, 10, 250.0, 10.0, 1));
    EXPECT_THROW(PacketStream(nine, packets_of("cyton")), std::invalid_argument);
    test::VectorSource two(250.0, test::emg_like(2, 10, 250.0, 10.0, 1));
    EXPECT_THROW(PacketStream(two, packets_of("morse")), std::invalid_argument);
    PacketStreamConfig bad;
    bad.faults = {0.6, 0.5, 1};
    EXPECT_THROW(PacketStream(two, bad), std::invalid_argument);
}

TEST(SerialStreamer, BehavesLikeACytonWaitingForBAndStoppingAtS) {
    test::Pty pty;
    test::VectorSource source(250.0, test::emg_like(8, 250 * 30, 250.0, 100.0, 5));
    SerialStreamerConfig cfg;
    cfg.packets = packets_of("cyton");
    SerialStreamer streamer(source, cfg);
    SerialTransport port({.port = pty.path});
    StreamStats stats;
    std::thread device([&] { stats = streamer.run(port); });
    EXPECT_EQ(pty.read_for(150ms), "") << "streamed before 'b'";
    pty.write_all("b", 1);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string got = pty.read_for(400ms);
    pty.write_all("s", 1);
    device.join();
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_GE(got.size(), 33u * 50);
    EXPECT_EQ(static_cast<std::uint8_t>(got[0]), 0xA0);
    // Paced by the sample clock: about 250 packets a second, not the 30 s of data at once.
    EXPECT_LT(got.size(), 33u * 250);
    EXPECT_LT(stats.frames, static_cast<std::uint64_t>(250 * (elapsed_s + 0.3)));
}

// ---- frames to blocks -----------------------------------------------------------------------

TEST(FrameAssembler, FillsGapsWithZerosAndSaysWhereTheyStart) {
    struct Seen {
        std::uint64_t first, lost, filled;
        std::vector<float> ch0;
    };
    std::vector<Seen> seen;
    std::size_t format_calls = 0;
    FrameAssembler a(
        {.block_frames = 4, .max_gap_fill_frames = 6},
        [&](std::size_t n) {
            ++format_calls;
            EXPECT_EQ(n, 2u);
        },
        [&](const AssembledBlock& b) {
            seen.push_back({b.first_frame, b.lost_frames, b.filled_frames,
                            std::vector<float>(b.samples.channel(0),
                                               b.samples.channel(0) + b.samples.frames)});
        });
    const float f1[2] = {1, -1}, f2[2] = {2, -2}, f3[2] = {3, -3}, f4[2] = {4, -4};
    a.on_frame(0, f1);
    a.on_frame(1, f2);
    a.on_gap(2, 5); // 5 lost: filled
    a.on_frame(7, f3);
    a.flush();
    a.on_gap(8, 10); // 10 lost: 6 filled
    a.on_frame(18, f4);
    a.flush();
    EXPECT_EQ(format_calls, 1u);
    ASSERT_EQ(seen.size(), 5u);
    EXPECT_EQ(seen[0].first, 0u);
    EXPECT_EQ(seen[0].ch0, (std::vector<float>{1, 2}));
    EXPECT_EQ(seen[1].first, 2u);
    EXPECT_EQ(seen[1].lost, 5u);
    EXPECT_EQ(seen[1].filled, 5u);
    EXPECT_EQ(seen[1].ch0, (std::vector<float>{0, 0, 0, 0}));
    EXPECT_EQ(seen[2].first, 6u);
    EXPECT_EQ(seen[2].lost, 0u);
    EXPECT_EQ(seen[2].ch0, (std::vector<float>{0, 3}));
    EXPECT_EQ(seen[3].first, 8u);
    EXPECT_EQ(seen[3].lost, 10u);
    EXPECT_EQ(seen[3].filled, 6u);
    EXPECT_EQ(seen[4].first, 12u);
    EXPECT_EQ(seen[4].ch0, (std::vector<float>{0, 0, 4}));
    EXPECT_EQ(a.frames(), 15u);
    EXPECT_EQ(a.filled_frames(), 11u);
    EXPECT_EQ(a.unfilled_frames(), 4u);
}

TEST(ProtocolSource, DecodesABytestreamLikeAFile) {
    test::VectorSource source(2000.0, test::emg_like(3, 5000, 2000.0, 100.0, 9));
    PacketStreamConfig cfg;
    cfg.faults = {0.0, 0.02, 3};
    PacketStream stream(source, cfg);
    const auto bytes = all_packets(stream);
    std::size_t pos = 0;
    std::mt19937 rng(1);
    ProtocolSource decoded(parser_of("semg"), [&](std::span<std::uint8_t> dest) {
        const std::size_t n =
            std::min<std::size_t>({dest.size(), bytes.size() - pos, 1 + rng() % 900});
        std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(pos), n, dest.begin());
        pos += n;
        return n;
    });
    EXPECT_EQ(decoded.info().sample_rate_hz, 2000.0);
    ASSERT_EQ(decoded.info().channels.size(), 3u);
    dsp::Block block(3, 333);
    std::vector<float> ch1;
    while (const std::size_t n = decoded.read(block.capacity_ref()))
        ch1.insert(ch1.end(), block.channel(1), block.channel(1) + n);
    ASSERT_EQ(ch1.size(), 5000u) << "lost frames are filled, so the time axis is complete";
    std::size_t zeros = 0;
    for (std::size_t i = 0; i < ch1.size(); ++i) {
        if (ch1[i] == 0.0f && std::abs(source.channels()[1][i]) > 0.011f)
            ++zeros;
        else
            ASSERT_NEAR(ch1[i], source.channels()[1][i], 0.011) << i;
    }
    EXPECT_EQ(zeros, stream.stats().lost_frames);
    EXPECT_EQ(decoded.parser().counters().lost_samples, stream.stats().lost_frames);
}

TEST(ProtocolSource, AStreamWithoutFramesSaysWhatItSaw) {
    const auto junk = random_bytes(5000, 2);
    std::size_t pos = 0;
    try {
        ProtocolSource s(
            parser_of("cyton"),
            [&](std::span<std::uint8_t> dest) {
                const std::size_t n = std::min(dest.size(), junk.size() - pos);
                std::copy_n(junk.begin() + static_cast<std::ptrdiff_t>(pos), n, dest.begin());
                pos += n;
                return n;
            },
            "/dev/ttyUSB0");
        FAIL() << "made a source from junk";
    } catch (const SourceError& e) {
        EXPECT_NE(std::string(e.what()).find("/dev/ttyUSB0: no cyton frame in"), std::string::npos)
            << e.what();
    }
}
