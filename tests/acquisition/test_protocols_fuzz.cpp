// Fuzz-style robustness of every parser, seeded: megabytes of random bytes and of valid
// streams with bit flips, insertions and deletions, fed in random chunks. Nothing may crash or
// hang, the stream contract must hold online, and the counters must add up.
#include "acquisition/protocols/encoders.hpp"
#include "acquisition/protocols/protocol.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>

namespace semg::acquisition {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Checks the FrameSink contract as frames arrive, storing nothing.
class CheckingSink final : public FrameSink {
public:
    using Reference = std::function<bool(std::uint64_t index, std::span<const float> uv)>;
    CheckingSink(std::size_t channels, float max_abs_uv, Reference reference = {})
        : channels_(channels), max_abs_uv_(max_abs_uv), reference_(std::move(reference)) {}

    void on_frame(std::uint64_t index, std::span<const float> uv) override {
        if (channels_ == 0)
            channels_ = uv.size();
        if (index != next_)
            fail("frame index ", index, " expected ", next_);
        if (uv.size() != channels_)
            fail("frame width ", uv.size(), " expected ", channels_);
        for (const float v : uv)
            if (!std::isfinite(v) || std::abs(v) > max_abs_uv_)
                fail("sample out of range ", v, "", 0);
        if (reference_ && !reference_(index, uv))
            fail("frame ", index, " differs from sent", 0);
        next_ = index + 1;
        ++frames;
    }
    void on_gap(std::uint64_t at_frame, std::uint64_t missing) override {
        if (at_frame != next_ || missing == 0)
            fail("gap at ", at_frame, " expected ", next_);
        next_ += missing;
        lost += missing;
        ++gaps;
    }

    std::uint64_t frames = 0;
    std::uint64_t lost = 0;
    std::uint64_t gaps = 0;
    std::uint64_t errors = 0;
    std::string first_error;

private:
    template <class A, class B> void fail(const char* what, A a, const char* what2, B b) {
        if (errors++ == 0) {
            std::ostringstream os;
            os << what << a << what2 << b;
            first_error = os.str();
        }
    }

    std::size_t channels_;
    float max_abs_uv_;
    Reference reference_;
    std::uint64_t next_ = 0;
};

struct Case {
    ProtocolConfig config;
    std::size_t min_bytes_per_frame; // a frame cannot come from fewer bytes than this
    float max_abs_uv;
};

ProtocolConfig protocol(std::string name) {
    ProtocolConfig config;
    config.name = protocol_from_name(name);
    config.ascii.sample_rate_hz = 250.0;
    return config;
}

std::vector<Case> cases() {
    constexpr float any = std::numeric_limits<float>::max();
    return {
        {protocol("cyton"), cyton::packet_bytes, 187500.1f},
        {protocol("cyton-daisy"), 2 * cyton::packet_bytes, 187500.1f},
        {protocol("openeeg"), openeeg::packet_bytes, 512.0f},
        {protocol("ascii"), 2, any},
        {protocol("semg"), 2, any},
    };
}

// Feeds in random chunks of 1..4096 bytes; checks the counters against the sink and the bytes.
void run(Parser& parser, const Bytes& bytes, CheckingSink& sink, std::size_t min_bytes_per_frame,
         std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::size_t> chunk(1, 4096);
    const std::span<const std::uint8_t> all(bytes);
    for (std::size_t at = 0; at < all.size();) {
        const std::size_t n = std::min(chunk(rng), all.size() - at);
        parser.feed(all.subspan(at, n), sink);
        at += n;
    }
    const ParserCounters& c = parser.counters();
    EXPECT_EQ(sink.errors, 0u) << sink.first_error;
    EXPECT_EQ(c.bytes, bytes.size());
    EXPECT_EQ(c.frames, sink.frames);
    EXPECT_EQ(c.lost_samples, sink.lost);
    EXPECT_EQ(c.gaps, sink.gaps);
    EXPECT_LE(c.frames * min_bytes_per_frame + c.skipped_bytes, c.bytes);
    EXPECT_LE(c.bad_checksums + c.bad_lines, c.bytes);
}

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Bytes out(n);
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t r = rng();
        for (std::size_t k = 0; k < 8 && i + k < n; ++k)
            out[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
    }
    return out;
}

// Bit flips, insertions of random runs and deletions, each at about `rate` per byte. The first
// `keep` bytes stay intact so the first packet anchors the frame indices.
Bytes mutate(const Bytes& in, double rate, std::size_t keep, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::uniform_int_distribution<int> run(1, 40), bit(0, 7), byte(0, 255);
    Bytes out;
    out.reserve(in.size() + in.size() / 100);
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (i < keep) {
            out.push_back(in[i]);
            continue;
        }
        const double r = u(rng);
        if (r < rate) { // flip
            out.push_back(static_cast<std::uint8_t>(in[i] ^ (1u << bit(rng))));
        } else if (r < 2 * rate) { // insert
            for (int k = run(rng); k > 0; --k)
                out.push_back(static_cast<std::uint8_t>(byte(rng)));
            out.push_back(in[i]);
        } else if (r < 3 * rate) { // delete
            i += static_cast<std::size_t>(run(rng)) - 1;
        } else {
            out.push_back(in[i]);
        }
    }
    return out;
}

// About `bytes` of a valid stream of the protocol, values spread over the range.
Bytes valid_stream(const ProtocolConfig& config, std::size_t bytes, std::uint64_t seed,
                   std::vector<float>* sent_interleaved = nullptr) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uv(-1000.0f, 1000.0f);
    Bytes out;
    std::vector<float> frame;
    std::size_t n = 0;
    while (out.size() < bytes) {
        if (config.name == Protocol::Cyton) {
            frame.resize(8);
            for (auto& v : frame)
                v = uv(rng);
            const auto p = encode_cyton_packet(static_cast<std::uint8_t>(n), frame);
            out.insert(out.end(), p.begin(), p.end());
        } else if (config.name == Protocol::CytonDaisy) {
            frame.resize(16);
            for (auto& v : frame)
                v = uv(rng);
            const auto p = encode_cyton_daisy_frame(static_cast<std::uint8_t>(2 * n), frame);
            out.insert(out.end(), p.begin(), p.end());
        } else if (config.name == Protocol::OpenEeg) {
            frame.resize(6);
            for (auto& v : frame)
                v = uv(rng) * 0.5f;
            const auto p = encode_openeeg_packet(static_cast<std::uint8_t>(n), frame);
            out.insert(out.end(), p.begin(), p.end());
        } else if (config.name == Protocol::Ascii) {
            frame.resize(4);
            for (auto& v : frame)
                v = uv(rng);
            AsciiLineFormat format;
            format.separator = n % 2 ? ' ' : ',';
            const std::string line = encode_ascii_line(frame, format);
            out.insert(out.end(), line.begin(), line.end());
        } else { // semg: 8 channels, 10 frames per packet, int24 at 0.25 µV per count
            frame.resize(80);
            for (auto& v : frame)
                v = std::round(uv(rng) * 4.0f) / 4.0f;
            const SemgPacketHeader h{.format = SemgSampleFormat::Int24,
                                     .channels = 8,
                                     .frames = 10,
                                     .sample_rate_mhz = 4'096'000,
                                     .scale_uv_per_count = 0.25f,
                                     .first_frame = 10 * n};
            append_semg_packet(out, h, frame);
            if (sent_interleaved)
                sent_interleaved->insert(sent_interleaved->end(), frame.begin(), frame.end());
        }
        ++n;
    }
    return out;
}

TEST(ProtocolFuzz, RandomBytes) {
    std::uint64_t seed = 11;
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.config.name);
        auto parser = make_parser(c.config);
        CheckingSink sink(0, c.max_abs_uv);
        const Bytes bytes = random_bytes(4 << 20, seed++);
        run(*parser, bytes, sink, c.min_bytes_per_frame, seed++);
        if (c.config.name == Protocol::Semg) {
            // Two CRCs: random bytes never make a packet.
            EXPECT_EQ(parser->counters().frames, 0u);
        }
        EXPECT_LT(parser->counters().frames, 100u); // false locks are rare and short
    }
}

TEST(ProtocolFuzz, MutatedValidStreams) {
    std::uint64_t seed = 1000;
    for (const Case& c : cases()) {
        for (const double rate : {1e-5, 1e-4, 1e-3}) {
            SCOPED_TRACE(to_string(c.config.name) + " mutation rate " + std::to_string(rate));
            std::vector<float> sent;
            const Bytes clean = valid_stream(c.config, 2 << 20, seed++, &sent);
            const Bytes bytes = mutate(clean, rate, 400, seed++);
            CheckingSink::Reference reference;
            if (c.config.name == Protocol::Semg) {
                // CRC-32: every frame delivered is a frame sent, at its true position.
                reference = [&sent](std::uint64_t index, std::span<const float> uv) {
                    if ((index + 1) * 8 > sent.size())
                        return false;
                    return std::equal(uv.begin(), uv.end(),
                                      sent.begin() + static_cast<std::ptrdiff_t>(index * 8));
                };
            }
            auto parser = make_parser(c.config);
            CheckingSink sink(0, c.max_abs_uv, reference);
            run(*parser, bytes, sink, c.min_bytes_per_frame, seed++);
            // Most of the stream survives: each mutation costs a few packets at most.
            const auto& k = parser->counters();
            EXPECT_GT(k.frames, 0u);
            if (rate <= 1e-4) {
                const std::size_t clean_frames = [&] {
                    auto p = make_parser(c.config);
                    CheckingSink s(0, c.max_abs_uv);
                    p->feed(clean, s);
                    return s.frames;
                }();
                EXPECT_GT(k.frames, clean_frames * 9 / 10);
            }
        }
    }
}

TEST(ProtocolFuzz, RecoversAfterGarbage) {
    std::uint64_t seed = 5000;
    for (const Case& c : cases()) {
        if (c.config.name == Protocol::Ascii)
            continue; // junk may fix the width: reset on connect
        SCOPED_TRACE(c.config.name);
        const Bytes valid = valid_stream(c.config, 64 << 10, seed++);
        auto parser = make_parser(c.config);
        CheckingSink sink(0, c.max_abs_uv);
        const Bytes garbage = random_bytes(1 << 20, seed++);
        run(*parser, garbage, sink, c.min_bytes_per_frame, seed++);
        const std::uint64_t before = sink.frames;
        parser->feed(valid, sink);
        EXPECT_EQ(sink.errors, 0u) << sink.first_error;
        // All but the first few frames of the valid stream are decoded.
        const bool semg = c.config.name == Protocol::Semg;
        const std::uint64_t expected =
            valid.size() / (semg ? 274 : c.min_bytes_per_frame) * (semg ? 10 : 1);
        EXPECT_GE(sink.frames - before + 40, expected) << "frames from garbage " << before;
    }
}

} // namespace
} // namespace semg::acquisition
