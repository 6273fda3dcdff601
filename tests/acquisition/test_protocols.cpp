// Protocol parsers and encoders: exact round trips, scaling against hand-computed values,
// resynchronisation after garbage, gaps, checksums, chunk invariance and no allocation.
#include "acquisition/protocols/ascii.hpp"
#include "acquisition/protocols/cyton.hpp"
#include "acquisition/protocols/encoders.hpp"
#include "acquisition/protocols/openeeg.hpp"
#include "acquisition/protocols/semg_frame.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <ostream>
#include <set>
#include <string>

namespace semg::acquisition {

void PrintTo(const ParserCounters& c, std::ostream* os) {
    *os << "{bytes " << c.bytes << ", frames " << c.frames << ", sync_losses " << c.sync_losses
        << ", skipped_bytes " << c.skipped_bytes << ", bad_checksums " << c.bad_checksums
        << ", bad_lines " << c.bad_lines << ", lost_samples " << c.lost_samples << ", gaps "
        << c.gaps << ", counter_resets " << c.counter_resets << ", format_mismatches "
        << c.format_mismatches << "}";
}
void PrintTo(const GapEvent& g, std::ostream* os) {
    *os << "{at " << g.at_frame << ", missing " << g.missing << "}";
}

namespace {

using Bytes = std::vector<std::uint8_t>;
using Frames = std::vector<std::vector<float>>;

void append(Bytes& out, std::span<const std::uint8_t> b) {
    out.insert(out.end(), b.begin(), b.end());
}
void append(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }
Bytes bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

struct Result {
    CollectingSink sink;
    ParserCounters counters;
    Frames frames() const {
        Frames out;
        for (std::size_t i = 0; i < sink.frames(); ++i) {
            const auto f = sink.frame(i);
            out.emplace_back(f.begin(), f.end());
        }
        return out;
    }
};

// Fresh parse of `bytes`, fed in the given chunk sizes (one feed when empty).
Result decode(Parser& parser, const Bytes& bytes, std::span<const std::size_t> chunks = {}) {
    parser.reset();
    Result r;
    if (chunks.empty()) {
        parser.feed(bytes, r.sink);
    } else {
        std::size_t at = 0;
        for (const std::size_t n : chunks) {
            parser.feed(std::span<const std::uint8_t>(bytes).subspan(at, n), r.sink);
            at += n;
        }
    }
    r.counters = parser.counters();
    return r;
}

bool same(const Result& a, const Result& b) {
    return a.sink.indices == b.sink.indices &&
           a.sink.samples_uv_interleaved == b.sink.samples_uv_interleaved &&
           a.sink.gaps == b.sink.gaps && a.counters == b.counters;
}

// Every split into two feeds, one byte per feed, and seeded random chunks: all as one feed.
void expect_chunk_invariant(Parser& parser, const Bytes& bytes) {
    const Result whole = decode(parser, bytes);
    ASSERT_GT(whole.sink.frames(), 0u);
    for (std::size_t k = 0; k <= bytes.size(); ++k) {
        const std::array<std::size_t, 2> chunks{k, bytes.size() - k};
        if (!same(whole, decode(parser, bytes, chunks))) {
            ADD_FAILURE() << "output differs when split at byte " << k;
            return;
        }
    }
    const std::vector<std::size_t> ones(bytes.size(), 1);
    EXPECT_TRUE(same(whole, decode(parser, bytes, ones))) << "one byte per feed";
    for (unsigned seed = 1; seed <= 5; ++seed)
        EXPECT_TRUE(same(whole, decode(parser, bytes, test::random_chunks(bytes.size(), 97, seed))))
            << "random chunks, seed " << seed;
}

// ---- OpenBCI Cyton ----------------------------------------------------------------------------

// A packet built by hand from counts: independent of the encoder.
Bytes cyton_raw(std::uint8_t counter, const std::array<std::int32_t, 8>& counts,
                std::uint8_t footer = 0xC0) {
    Bytes p{0xA0, counter};
    for (const std::int32_t c : counts) {
        const auto u = static_cast<std::uint32_t>(c);
        p.push_back(static_cast<std::uint8_t>(u >> 16));
        p.push_back(static_cast<std::uint8_t>(u >> 8));
        p.push_back(static_cast<std::uint8_t>(u));
    }
    p.insert(p.end(), 6, 0x00);
    p.push_back(footer);
    return p;
}

// Counts of frame n, channel c: varied, signed, well inside 24 bits (so float µV round-trip).
std::int32_t grid_counts(std::size_t n, std::size_t c) {
    return static_cast<std::int32_t>((n * 7919 + c * 104729) % 200001) - 100000;
}

std::vector<float> cyton_uv(std::size_t n, std::size_t channels, double gain = 24.0) {
    std::vector<float> uv(channels);
    for (std::size_t c = 0; c < channels; ++c)
        uv[c] = static_cast<float>(grid_counts(n, c) * cyton::uv_per_count(gain));
    return uv;
}

TEST(Cyton, ScaleMatchesTheDatasheetFormula) {
    // µV = counts × 4.5 V / gain / (2²³ − 1) × 1e6; values computed by hand (Python, doubles).
    const std::array<std::int32_t, 8> counts{1000, -1, -8388608, 8388607, 0, 0, 0, 0};
    Bytes stream = cyton_raw(7, counts);
    append(stream, cyton_raw(8, counts));
    {
        CytonParser parser({});
        const Result r = decode(parser, stream);
        ASSERT_EQ(r.sink.frames(), 2u);
        const auto f = r.sink.frame(0);
        EXPECT_FLOAT_EQ(f[0], 22.351744455307063f);
        EXPECT_FLOAT_EQ(f[1], -0.022351744455307063f);
        EXPECT_FLOAT_EQ(f[2], -187500.02235174447f);
        EXPECT_FLOAT_EQ(f[3], 187500.0f);
        EXPECT_EQ(f[4], 0.0f);
    }
    {
        CytonParser parser({.gain = 1.0});
        const Result r = decode(parser, stream);
        ASSERT_EQ(r.sink.frames(), 2u);
        EXPECT_FLOAT_EQ(r.sink.frame(0)[0], 536.4418669273695f);
    }
    EXPECT_EQ(cyton_counts(22.351744455307063, 24.0), 1000);
    EXPECT_EQ(cyton_counts(1e9, 24.0), cyton::max_counts); // saturates
    EXPECT_EQ(cyton_counts(-1e9, 24.0), cyton::min_counts);
}

TEST(Cyton, EncoderWritesTheDocumentedLayout) {
    const std::array<std::int32_t, 8> counts{1000, -1, -8388608, 8388607, 12345, -54321, 7, -7};
    // Full-scale values survive the float µV too: rounding and saturation bring them back.
    std::vector<float> uv(counts.size());
    for (std::size_t c = 0; c < counts.size(); ++c)
        uv[c] = static_cast<float>(counts[c] * cyton::uv_per_count(24.0));
    const auto packet = encode_cyton_packet(42, uv, 24.0, 0xC3);
    const Bytes expected = cyton_raw(42, counts, 0xC3);
    EXPECT_EQ(Bytes(packet.begin(), packet.end()), expected);
}

TEST(Cyton, RoundTripIsExactOnTheCountGridAcrossTheCounterWrap) {
    Bytes stream;
    Frames sent;
    for (std::size_t n = 0; n < 20; ++n) {
        sent.push_back(cyton_uv(n, 8));
        append(stream, encode_cyton_packet(static_cast<std::uint8_t>(250 + n), sent.back()));
    }
    CytonParser parser({});
    EXPECT_EQ(parser.channels(), 8u);
    EXPECT_EQ(parser.sample_rate_hz(), 250.0);
    const Result r = decode(parser, stream);
    EXPECT_EQ(r.frames(), sent);
    std::vector<std::uint64_t> indices(20);
    std::iota(indices.begin(), indices.end(), 0u);
    EXPECT_EQ(r.sink.indices, indices);
    EXPECT_EQ(r.counters, (ParserCounters{.bytes = 660, .frames = 20}));
}

TEST(Cyton, DroppedPacketsAreLostSamplesAtTheirPosition) {
    const std::set<std::size_t> dropped{3, 10, 11, 12, 256 + 20};
    Bytes stream;
    Frames sent;
    for (std::size_t n = 0; n < 300; ++n) {
        sent.push_back(cyton_uv(n, 8));
        if (!dropped.contains(n))
            append(stream, encode_cyton_packet(static_cast<std::uint8_t>(n), sent.back()));
    }
    CytonParser parser({});
    const Result r = decode(parser, stream);
    EXPECT_EQ(r.sink.gaps, (std::vector<GapEvent>{{3, 1}, {10, 3}, {276, 1}}));
    EXPECT_EQ(r.counters.lost_samples, 5u);
    EXPECT_EQ(r.counters.gaps, 3u);
    EXPECT_EQ(r.counters.frames, 295u);
    EXPECT_EQ(r.counters.sync_losses, 0u);
    // Each frame sits at its true position in time.
    for (std::size_t i = 0; i < r.sink.frames(); ++i) {
        const auto f = r.sink.frame(i);
        ASSERT_EQ(std::vector<float>(f.begin(), f.end()), sent[r.sink.indices[i]]) << i;
    }
}

// Samples whose bytes contain the header value 0xA0 (but no footer values).
std::array<std::int32_t, 8> header_like_counts(std::size_t n) {
    return {0x00A0A0,
            0x0000A0,
            -0x5F5F60 /* A0 A0 A0 */,
            0x00A000,
            static_cast<std::int32_t>(n),
            0x0A0A0A,
            -0x600000 /* A0 00 00 */,
            0x00A001};
}

Bytes cyton_stream_with_garbage() {
    // A header and a footer 32 bytes apart, but no header after: not a packet while hunting.
    Bytes lead(34, 0x00);
    lead[0] = 0xA0;
    lead[32] = 0xC1;
    append(lead, Bytes{0xA0, 0xA0, 0x55, 0xC0, 0xA0, 0x12, 0xA0});
    const Bytes mid = {0xA0, 0x01, 0xA0, 0xA0, 0xC0, 0xC6, 0x33};
    Bytes stream = lead;
    const Bytes torn = cyton_raw(99, header_like_counts(99));
    stream.insert(stream.end(), torn.begin() + 9, torn.end()); // tail of a packet
    for (std::size_t n = 0; n < 10; ++n) {
        if (n == 6)
            append(stream, mid);
        append(stream, cyton_raw(static_cast<std::uint8_t>(n), header_like_counts(n)));
    }
    return stream;
}

TEST(Cyton, ResyncsAfterGarbageWithHeaderBytesInsideDataAndGarbage) {
    const Bytes stream = cyton_stream_with_garbage();
    CytonParser parser({});
    const Result r = decode(parser, stream);
    ASSERT_EQ(r.sink.frames(), 10u);
    for (std::size_t n = 0; n < 10; ++n) {
        const auto counts = header_like_counts(n);
        for (std::size_t c = 0; c < 8; ++c)
            ASSERT_EQ(r.sink.frame(n)[c], static_cast<float>(counts[c] * cyton::uv_per_count(24)));
    }
    // Lead garbage and torn packet (41 + 24), mid garbage (7): skipped; one loss of lock.
    EXPECT_EQ(r.counters,
              (ParserCounters{
                  .bytes = stream.size(), .frames = 10, .sync_losses = 1, .skipped_bytes = 72}));
}

TEST(Cyton, FooterLikeDataDoesNotBreakLock) {
    // Every data byte is a header or footer value: only the position decides.
    Bytes stream;
    for (std::size_t n = 0; n < 40; ++n) {
        Bytes p = cyton_raw(static_cast<std::uint8_t>(n), {});
        for (std::size_t i = 2; i < 32; ++i)
            p[i] = static_cast<std::uint8_t>((i + n) % 3 == 0 ? 0xA0 : 0xC0 + i % 7);
        append(stream, p);
    }
    CytonParser parser({});
    const Result r = decode(parser, stream);
    EXPECT_EQ(r.counters, (ParserCounters{.bytes = stream.size(), .frames = 40}));
}

TEST(Cyton, ChunkInvariant) {
    Bytes stream = cyton_stream_with_garbage();
    for (std::size_t n = 20; n < 30; ++n) // with a gap
        if (n != 24)
            append(stream, cyton_raw(static_cast<std::uint8_t>(n), header_like_counts(n)));
    CytonParser parser({});
    expect_chunk_invariant(parser, stream);
}

Bytes daisy_stream(std::size_t frames, std::uint8_t first_even, Frames& sent) {
    Bytes stream;
    for (std::size_t k = 0; k < frames; ++k) {
        sent.push_back(cyton_uv(k, 16));
        append(stream, encode_cyton_daisy_frame(static_cast<std::uint8_t>(first_even + 2 * k),
                                                sent.back()));
    }
    return stream;
}

TEST(Cyton, DaisyCombinesAlternatingPacketsIntoSixteenChannels) {
    Frames sent;
    const Bytes stream = daisy_stream(12, 250, sent); // counters wrap after the third frame
    CytonParser parser({.daisy = true});
    EXPECT_EQ(parser.channels(), 16u);
    EXPECT_EQ(parser.sample_rate_hz(), 125.0);
    const Result r = decode(parser, stream);
    EXPECT_EQ(r.frames(), sent);
    EXPECT_EQ(r.counters, (ParserCounters{.bytes = stream.size(), .frames = 12}));
    // Channels 1–8 travel in the odd (board) packet, 9–16 in the even (Daisy) one.
    EXPECT_EQ(stream[1], 250);
    EXPECT_EQ(static_cast<std::int32_t>((stream[2] << 16 | stream[3] << 8 | stream[4]) << 8) >> 8,
              grid_counts(0, 8));
}

TEST(Cyton, DaisyHalvesWithoutPartnerAreLostFrames) {
    Frames sent;
    const Bytes full = daisy_stream(12, 0, sent);
    Bytes stream;
    const std::size_t P = cyton::packet_bytes;
    for (std::size_t packet = 0; packet < 24; ++packet) {
        // Drop: the Daisy half of frame 0 (stream opens on an orphan board half), the board half
        // of frame 3 and the Daisy half of frame 7.
        if (packet == 0 || packet == 7 || packet == 14)
            continue;
        stream.insert(stream.end(), full.begin() + static_cast<std::ptrdiff_t>(packet * P),
                      full.begin() + static_cast<std::ptrdiff_t>((packet + 1) * P));
    }
    CytonParser parser({.daisy = true});
    const Result r = decode(parser, stream);
    // Frames 1..11 survive except 3 and 7; indices count from frame 1.
    EXPECT_EQ(r.sink.indices, (std::vector<std::uint64_t>{0, 1, 3, 4, 5, 7, 8, 9, 10}));
    EXPECT_EQ(r.sink.gaps, (std::vector<GapEvent>{{2, 1}, {6, 1}}));
    EXPECT_EQ(r.counters.lost_samples, 2u);
    EXPECT_EQ(r.frames()[2], sent[4]);
    expect_chunk_invariant(parser, stream);
}

// ---- OpenEEG P2 ------------------------------------------------------------------------------

TEST(OpenEeg, DecodesHandBuiltPacketWithScaleAndOffset) {
    // A5 5A 02 counter, 6 × big-endian words, switches.
    const Bytes packet = {0xA5, 0x5A, 0x02, 0x10, 0x03, 0xFF, 0x00, 0x00, 0x02,
                          0x00, 0x01, 0x2C, 0x00, 0xA5, 0x00, 0x5A, 0x0F};
    Bytes stream = packet;
    append(stream, packet);
    stream[17 + 3] = 0x11;
    OpenEegParser parser({.scale_uv_per_count = 0.5, .offset_counts = 512.0});
    EXPECT_EQ(parser.sample_rate_hz(), 256.0);
    const Result r = decode(parser, stream);
    ASSERT_EQ(r.sink.frames(), 2u);
    // (1023 − 512) × 0.5, (0 − 512) × 0.5, (512 − 512), (300 − 512) × 0.5, (165 − 512) × 0.5, ...
    EXPECT_EQ(r.frames()[0],
              (std::vector<float>{255.5f, -256.0f, 0.0f, -106.0f, -173.5f, -211.0f}));
}

std::vector<float> openeeg_uv(std::size_t n, double scale) {
    std::vector<float> uv(6);
    for (std::size_t c = 0; c < 6; ++c)
        uv[c] =
            static_cast<float>((static_cast<double>((n * 97 + c * 211) % 1024) - 512.0) * scale);
    return uv;
}

TEST(OpenEeg, RoundTripGapsAndWrap) {
    const OpenEegConfig config{.scale_uv_per_count = 0.25, .offset_counts = 512.0};
    Bytes stream;
    Frames sent;
    for (std::size_t n = 0; n < 40; ++n) {
        sent.push_back(openeeg_uv(n, 0.25));
        if (n != 5 && n != 6 && n != 20) // 20: counter 0 after the wrap
            append(stream,
                   encode_openeeg_packet(static_cast<std::uint8_t>(236 + n), sent.back(), config));
    }
    OpenEegParser parser(config);
    const Result r = decode(parser, stream);
    EXPECT_EQ(r.sink.gaps, (std::vector<GapEvent>{{5, 2}, {20, 1}}));
    EXPECT_EQ(r.counters,
              (ParserCounters{.bytes = stream.size(), .frames = 37, .lost_samples = 3, .gaps = 2}));
    for (std::size_t i = 0; i < r.sink.frames(); ++i)
        ASSERT_EQ(r.frames()[i], sent[r.sink.indices[i]]) << i;
    expect_chunk_invariant(parser, stream);
}

TEST(OpenEeg, ResyncsAfterSyncLikeGarbageAndRejectsWordsAboveTenBits) {
    const OpenEegConfig config{};
    Bytes stream;
    for (std::size_t n = 0; n < 12; ++n) {
        if (n == 4)
            append(stream, Bytes{0xA5, 0x5A, 0x02, 0x07, 0x01}); // a torn header
        auto p =
            encode_openeeg_packet(static_cast<std::uint8_t>(n), openeeg_uv(n, 1.0), config, 0xA5);
        if (n == 8)
            p[6] = 0x04; // 11-bit word: not a P2 packet
        append(stream, p);
    }
    OpenEegParser parser(config);
    const Result r = decode(parser, stream);
    // Garbage: 5 bytes skipped. Packet 8: 17 bytes skipped, one frame lost.
    EXPECT_EQ(r.counters, (ParserCounters{.bytes = stream.size(),
                                          .frames = 11,
                                          .sync_losses = 2,
                                          .skipped_bytes = 22,
                                          .lost_samples = 1,
                                          .gaps = 1}));
    EXPECT_EQ(r.sink.gaps, (std::vector<GapEvent>{{8, 1}}));
    expect_chunk_invariant(parser, stream);
}

// ---- ASCII lines ------------------------------------------------------------------------------

AsciiConfig ascii_config(double scale = 1.0, double offset = 0.0) {
    return {.sample_rate_hz = 500.0, .scale_uv_per_count = scale, .offset_counts = offset};
}

TEST(Ascii, SeparatorsLineEndingsScaleAndOffset) {
    AsciiParser parser(ascii_config(2.0, 512.0));
    const Result r = decode(parser, bytes_of("512,513,514\r\n600 400\t 700\n +10, -1e1 ,0.5\r"));
    EXPECT_EQ(r.frames(),
              (Frames{{0.f, 2.f, 4.f}, {176.f, -224.f, 376.f}, {-1004.f, -1044.f, -1023.f}}));
    EXPECT_EQ(parser.channels(), 3u);
    EXPECT_EQ(parser.sample_rate_hz(), 500.0);
    EXPECT_EQ(parser.channel_labels(), (std::vector<std::string>{"ch1", "ch2", "ch3"}));
    EXPECT_EQ(r.counters.bad_lines, 0u);
}

TEST(Ascii, HeaderLineNamesTheChannels) {
    AsciiParser parser(ascii_config());
    const Result r = decode(parser, bytes_of("\"left\",right\n1,2\n3,4\n"));
    EXPECT_EQ(r.frames(), (Frames{{1.f, 2.f}, {3.f, 4.f}}));
    EXPECT_EQ(parser.channel_labels(), (std::vector<std::string>{"left", "right"}));
}

TEST(Ascii, BootChatterOfAnotherWidthIsNotAHeader) {
    AsciiParser parser(ascii_config());
    const Result r = decode(parser, bytes_of("MyoWare ready v2\n\n512\n513\n"));
    EXPECT_EQ(r.frames(), (Frames{{512.f}, {513.f}}));
    EXPECT_EQ(parser.channel_labels(), (std::vector<std::string>{"ch1"}));
    EXPECT_EQ(r.counters.bad_lines, 0u);
}

TEST(Ascii, SerialPlotterLabels) {
    AsciiParser parser(ascii_config());
    const Result r = decode(parser, bytes_of("L1:123 R1:456\nL1: 7, R1: 8\n"));
    EXPECT_EQ(r.frames(), (Frames{{123.f, 456.f}, {7.f, 8.f}}));
    EXPECT_EQ(parser.channel_labels(), (std::vector<std::string>{"L1", "R1"}));
}

TEST(Ascii, MalformedLinesAreCountedAndSkipped) {
    AsciiParser parser(ascii_config());
    const Result r = decode(
        parser, bytes_of("1,2\nabc,3\n1,2,3\n\n4,5\nnan,1\n6,inf\nhello there\n7,8\n9,1e999\n"));
    EXPECT_EQ(r.frames(), (Frames{{1.f, 2.f}, {4.f, 5.f}, {7.f, 8.f}}));
    // Mixed, too wide, NaN, inf, text after data, out of range.
    EXPECT_EQ(r.counters.bad_lines, 6u);
    EXPECT_EQ(r.counters.frames, 3u);
    EXPECT_TRUE(r.sink.gaps.empty());
}

// Found by tests/fuzz/fuzz_ascii: a count finite as a double but beyond a float's range (here
// after scaling) reached the sink as an infinite sample, and could fix the channel count.
TEST(Ascii, CountsBeyondFloatRangeAreBadLines) {
    AsciiParser parser(ascii_config(1e3));
    const Result r = decode(parser, bytes_of("1e39\n1,2\n4e35,4\n-1e36,5\n6,7\n"));
    EXPECT_EQ(r.frames(), (Frames{{1e3f, 2e3f}, {6e3f, 7e3f}}));
    EXPECT_EQ(r.counters.bad_lines, 3u);
    EXPECT_EQ(parser.channels(), 2u);
}

TEST(Ascii, OverLongLinesAreDroppedAtTheLimit) {
    std::string too_long, at_limit;
    for (int i = 0; i < 2047; ++i)
        too_long += "1,", at_limit += "1,";
    too_long += "111"; // 4097 bytes
    at_limit += "11";  // 4096 bytes: 2048 values
    ASSERT_EQ(too_long.size(), 4097u);
    AsciiParser parser(ascii_config());
    const Result r = decode(parser, bytes_of(too_long + "\n" + at_limit + "\n"));
    EXPECT_EQ(r.counters.bad_lines, 1u);
    EXPECT_EQ(r.counters.frames, 1u);
    EXPECT_EQ(parser.channels(), 2048u);
}

TEST(Ascii, RoundTripThroughTheEncoder) {
    const AsciiLineFormat format{.separator = '\t',
                                 .labels = {"a", "b", "c"},
                                 .scale_uv_per_count = 0.5,
                                 .offset_counts = 512.0};
    AsciiParser parser(ascii_config(0.5, 512.0));
    Bytes stream;
    Frames sent;
    for (std::size_t n = 0; n < 50; ++n) {
        std::vector<float> uv(3);
        for (std::size_t c = 0; c < 3; ++c)
            uv[c] =
                static_cast<float>((static_cast<double>((n * 37 + c * 101) % 1024) - 512.0) * 0.5);
        sent.push_back(uv);
        append(stream, encode_ascii_line(uv, format));
    }
    const Result r = decode(parser, stream);
    EXPECT_EQ(r.frames(), sent);
    EXPECT_EQ(parser.channel_labels(), format.labels);
    expect_chunk_invariant(parser, stream);

    AsciiLineFormat decimal;
    decimal.decimals = 3;
    const std::vector<float> uv{12.345f, -0.5f};
    EXPECT_EQ(encode_ascii_line(uv, decimal), "12.345,-0.500\r\n");
    const std::vector<std::string> names{"x", "y"};
    EXPECT_EQ(encode_ascii_header(names, ' ', "\n"), "x y\n");
}

TEST(Ascii, ChunkInvariantWithBadAndLongLines) {
    std::string text = "name1 name2\n1 2\r\n3,4\nbad\n";
    text += std::string(5000, '7') + "\n5\t6\n7,8,9\n10 11\n";
    AsciiParser parser(ascii_config());
    expect_chunk_invariant(parser, bytes_of(text));
}

TEST(Ascii, RateIsRequired) { EXPECT_THROW(AsciiParser(AsciiConfig{}), std::invalid_argument); }

// ---- SEMG frame ------------------------------------------------------------------------------

SemgPacketHeader semg_header(SemgSampleFormat format, std::uint16_t channels, std::uint16_t frames,
                             std::uint64_t first, float scale = 0.25f,
                             std::uint32_t rate_mhz = 2'048'000) {
    return {.format = format,
            .channels = channels,
            .frames = frames,
            .sample_rate_mhz = rate_mhz,
            .scale_uv_per_count = scale,
            .first_frame = first};
}

// Frame n on the count grid: exact for every format.
std::vector<float> semg_uv(std::uint64_t n, std::size_t channels, float scale) {
    std::vector<float> uv(channels);
    for (std::size_t c = 0; c < channels; ++c)
        uv[c] =
            static_cast<float>((static_cast<double>((n * 31 + c * 17) % 2001) - 1000.0) * scale);
    return uv;
}

struct SemgStream {
    Bytes bytes;
    Frames frames; // every frame sent or not, by device counter
    std::vector<std::size_t> packet_offsets;
};

SemgStream semg_stream(SemgSampleFormat format, std::uint16_t channels, std::uint16_t frames,
                       std::size_t packets, const std::set<std::size_t>& dropped = {},
                       std::uint64_t first = 1000) {
    SemgStream s;
    for (std::size_t k = 0; k < packets; ++k) {
        std::vector<float> interleaved;
        for (std::size_t f = 0; f < frames; ++f) {
            s.frames.push_back(semg_uv(first + k * frames + f, channels, 0.25f));
            interleaved.insert(interleaved.end(), s.frames.back().begin(), s.frames.back().end());
        }
        if (dropped.contains(k))
            continue;
        s.packet_offsets.push_back(s.bytes.size());
        append_semg_packet(s.bytes, semg_header(format, channels, frames, first + k * frames),
                           interleaved);
    }
    return s;
}

TEST(SemgFrame, RoundTripEveryFormatLearningTheFormatFromTheStream) {
    for (const auto format :
         {SemgSampleFormat::Int16, SemgSampleFormat::Int24, SemgSampleFormat::Float32}) {
        const SemgStream s = semg_stream(format, 4, 5, 6);
        SemgFrameParser parser;
        EXPECT_EQ(parser.channels(), 0u);
        EXPECT_EQ(parser.sample_rate_hz(), 0.0);
        const Result r = decode(parser, s.bytes);
        EXPECT_EQ(r.frames(), s.frames);
        EXPECT_EQ(parser.channels(), 4u);
        EXPECT_EQ(parser.sample_rate_hz(), 2048.0);
        EXPECT_EQ(r.counters, (ParserCounters{.bytes = s.bytes.size(), .frames = 30}));
        EXPECT_EQ(s.bytes.size(), 6u * (30u + 4u + 4u * 5u * semg_frame::bytes_per_sample(format)));
    }
}

TEST(SemgFrame, HighRateManyChannels) {
    // 64 channels × 4096 Hz in packets of 16 frames: 256 packets per second.
    const SemgStream s = semg_stream(SemgSampleFormat::Int24, 64, 16, 256);
    SemgFrameParser parser;
    const Result r = decode(parser, s.bytes);
    EXPECT_EQ(r.counters.frames, 4096u);
    EXPECT_EQ(r.frames(), s.frames);
}

TEST(SemgFrame, DroppedPacketsAreGapsFromTheCounter) {
    const SemgStream s = semg_stream(SemgSampleFormat::Int16, 3, 5, 10, {2, 6, 7});
    SemgFrameParser parser;
    const Result r = decode(parser, s.bytes);
    EXPECT_EQ(r.sink.gaps, (std::vector<GapEvent>{{10, 5}, {30, 10}}));
    EXPECT_EQ(r.counters.lost_samples, 15u);
    EXPECT_EQ(r.counters.frames, 35u);
    for (std::size_t i = 0; i < r.sink.frames(); ++i)
        ASSERT_EQ(r.frames()[i], s.frames[r.sink.indices[i]]) << i;
    expect_chunk_invariant(parser, s.bytes);
}

TEST(SemgFrame, CorruptPayloadAndHeaderCrcsAreCountedExactly) {
    SemgStream s = semg_stream(SemgSampleFormat::Int24, 2, 4, 8);
    s.bytes[s.packet_offsets[3] + 40] ^= 0x10; // a sample of packet 3
    s.bytes[s.packet_offsets[5] + 28] ^= 0x01; // header CRC of packet 5
    SemgFrameParser parser;
    const Result r = decode(parser, s.bytes);
    EXPECT_EQ(r.sink.gaps, (std::vector<GapEvent>{{12, 4}, {20, 4}}));
    const std::size_t packet = 30 + 2 * 4 * 3 + 4;
    EXPECT_EQ(r.counters, (ParserCounters{.bytes = s.bytes.size(),
                                          .frames = 24,
                                          .sync_losses = 2,
                                          .skipped_bytes = 2 * packet,
                                          .bad_checksums = 2,
                                          .lost_samples = 8,
                                          .gaps = 2}));
    expect_chunk_invariant(parser, s.bytes);
}

// Found by tests/fuzz/fuzz_semg: a float32 packet with valid CRCs and a NaN or infinite sample
// was delivered as is. It is now dropped (format_mismatches) and its frames are a gap.
TEST(SemgFrame, NonFiniteFloat32PacketIsDroppedAsAGap) {
    Bytes stream;
    for (std::uint64_t k = 0; k < 4; ++k) {
        std::vector<float> uv{1.0f * static_cast<float>(k), 2.0f};
        if (k == 1)
            uv[1] = std::numeric_limits<float>::quiet_NaN();
        if (k == 2)
            uv[0] = std::numeric_limits<float>::infinity();
        append_semg_packet(stream, semg_header(SemgSampleFormat::Float32, 2, 1, k), uv);
    }
    SemgFrameParser parser;
    const Result r = decode(parser, stream);
    EXPECT_EQ(r.frames(), (Frames{{0.f, 2.f}, {3.f, 2.f}}));
    EXPECT_EQ(r.sink.gaps, (std::vector<GapEvent>{{1, 2}}));
    EXPECT_EQ(r.counters.format_mismatches, 2u);
    expect_chunk_invariant(parser, stream);
}

TEST(SemgFrame, TruncatedPacketCostsOnlyItself) {
    const SemgStream s = semg_stream(SemgSampleFormat::Int16, 2, 4, 6);
    Bytes stream(s.bytes.begin(),
                 s.bytes.begin() + static_cast<std::ptrdiff_t>(s.packet_offsets[2] + 35));
    stream.insert(stream.end(), s.bytes.begin() + static_cast<std::ptrdiff_t>(s.packet_offsets[3]),
                  s.bytes.end());
    SemgFrameParser parser;
    const Result r = decode(parser, stream);
    // The header was fine, so the parser waited for the whole length: its CRC-32 fails.
    EXPECT_EQ(r.counters.bad_checksums, 1u);
    EXPECT_EQ(r.counters.frames, 20u);
    EXPECT_EQ(r.sink.gaps, (std::vector<GapEvent>{{8, 4}}));
    EXPECT_EQ(r.counters.skipped_bytes, 35u);
}

TEST(SemgFrame, ResyncsAfterSyncWordsInGarbageAndInData) {
    // Float32 samples whose bytes spell the sync word, then a packet corrupted in its payload:
    // the rescan meets "SEMG" in that payload and must not be fooled.
    const auto sync_as_float = std::bit_cast<float>(std::uint32_t{0x474D4553});
    const SemgPacketHeader h = semg_header(SemgSampleFormat::Float32, 2, 3, 0);
    const std::vector<float> samples(6, sync_as_float);
    Bytes stream;
    std::vector<Bytes> packets;
    for (std::uint64_t k = 0; k < 6; ++k) {
        SemgPacketHeader hk = h;
        hk.first_frame = 3 * k;
        packets.push_back(encode_semg_packet(hk, samples));
    }
    const Bytes garbage = {'S', 'E', 'M', 'S', 'E', 'M', 'G', 0x07, 'S', 'E', 'M', 'G', 0x01, 0x09};
    append(stream, garbage); // one sync word with a bad version, one with a bad format code
    append(stream, packets[0]);
    append(stream, packets[1]);
    append(stream, garbage);
    packets[2][31] ^= 0x80;
    append(stream, packets[2]);
    for (std::size_t k = 3; k < 6; ++k)
        append(stream, packets[k]);
    SemgFrameParser parser;
    const Result r = decode(parser, stream);
    EXPECT_EQ(r.counters.frames, 15u);
    EXPECT_EQ(r.counters.bad_checksums, 1u);
    // Lock is lost once, at the second garbage; the bad packet is met while still hunting.
    EXPECT_EQ(r.counters.sync_losses, 1u);
    EXPECT_EQ(r.counters.skipped_bytes, 2 * garbage.size() + packets[2].size());
    EXPECT_EQ(r.sink.gaps, (std::vector<GapEvent>{{6, 3}}));
    for (const float v : r.sink.samples_uv_interleaved)
        ASSERT_EQ(v, sync_as_float);
    expect_chunk_invariant(parser, stream);
}

TEST(SemgFrame, CounterRestartAndFormatChange) {
    SemgStream s = semg_stream(SemgSampleFormat::Int16, 2, 5, 3, {}, 100);
    const SemgStream restarted = semg_stream(SemgSampleFormat::Int16, 2, 5, 2, {}, 0);
    append(s.bytes, restarted.bytes);
    const SemgStream wider = semg_stream(SemgSampleFormat::Int16, 3, 5, 1, {}, 10);
    append(s.bytes, wider.bytes);
    SemgFrameParser parser;
    const Result r = decode(parser, s.bytes);
    EXPECT_EQ(r.counters.frames, 25u);
    EXPECT_EQ(r.counters.counter_resets, 1u);
    EXPECT_EQ(r.counters.format_mismatches, 1u);
    EXPECT_TRUE(r.sink.gaps.empty()); // time keeps running across the restart
    EXPECT_EQ(r.sink.indices.back(), 24u);
    EXPECT_EQ(parser.channels(), 2u);
}

// docs/protocol.md shows this packet; the bytes were produced by an independent Python encoder
// (struct, binascii.crc32 and a bitwise CRC-16/CCITT-FALSE).
TEST(SemgFrame, EncoderMatchesTheDocumentedExample) {
    const SemgPacketHeader h{.format = SemgSampleFormat::Int16,
                             .channels = 2,
                             .frames = 2,
                             .sample_rate_mhz = 2'000'000,
                             .scale_uv_per_count = 0.5f,
                             .first_frame = 7};
    const std::vector<float> uv{1.0f, -1.0f, 100.0f, -0.5f};
    const Bytes expected = {0x53, 0x45, 0x4D, 0x47, 0x01, 0x01, 0x00, 0x00, 0x02, 0x00, 0x02,
                            0x00, 0x80, 0x84, 0x1E, 0x00, 0x00, 0x00, 0x00, 0x3F, 0x07, 0x00,
                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC3, 0x6C, 0x02, 0x00, 0xFE,
                            0xFF, 0xC8, 0x00, 0xFF, 0xFF, 0x71, 0x49, 0x0C, 0x25};
    EXPECT_EQ(encode_semg_packet(h, uv), expected);
    SemgFrameParser parser;
    const Result r = decode(parser, expected);
    EXPECT_EQ(r.frames(), (Frames{{1.0f, -1.0f}, {100.0f, -0.5f}}));
}

// ---- all parsers -----------------------------------------------------------------------------

ProtocolConfig protocol(std::string name, double ascii_rate_hz = 0.0) {
    ProtocolConfig config;
    config.name = protocol_from_name(name);
    config.ascii.sample_rate_hz = ascii_rate_hz;
    return config;
}

struct CountingSink final : FrameSink {
    void on_frame(std::uint64_t, std::span<const float> uv) override {
        ++frames;
        sum += uv[0];
    }
    void on_gap(std::uint64_t, std::uint64_t missing) override { lost += missing; }
    std::size_t frames = 0;
    std::uint64_t lost = 0;
    double sum = 0.0;
};

TEST(Parsers, FeedAllocatesNothing) {
    // A valid stream with garbage, gaps and corrupt packets, for each protocol.
    Bytes cyton, daisy, openeeg, ascii, semg;
    Frames unused;
    for (std::size_t n = 0; n < 2000; ++n) {
        if (n % 97 == 5)
            continue;
        append(cyton, encode_cyton_packet(static_cast<std::uint8_t>(n), cyton_uv(n, 8)));
        append(openeeg, encode_openeeg_packet(static_cast<std::uint8_t>(n), openeeg_uv(n, 1.0)));
        append(ascii, encode_ascii_line(cyton_uv(n, 8)));
        if (n % 50 == 0) {
            append(cyton, Bytes{0xA0, 0xC0, 0xA0});
            append(openeeg, Bytes{0xA5, 0x5A, 0x02});
            append(ascii, "garbage line\n");
        }
    }
    daisy = daisy_stream(2000, 0, unused);
    semg = semg_stream(SemgSampleFormat::Int24, 16, 8, 500, {7, 100}).bytes;
    semg[semg.size() / 2] ^= 0xFF;

    const std::vector<std::pair<ProtocolConfig, Bytes*>> cases{{protocol("cyton"), &cyton},
                                                               {protocol("cyton-daisy"), &daisy},
                                                               {protocol("openeeg"), &openeeg},
                                                               {protocol("ascii", 250.0), &ascii},
                                                               {protocol("semg"), &semg}};
    for (const auto& [config, bytes] : cases) {
        auto parser = make_parser(config);
        CountingSink sink;
        const std::span<const std::uint8_t> all(*bytes);
        parser->feed(all.first(1000), sink); // ASCII names its channels on the first data line
        const test::AllocationCounter allocations;
        for (std::size_t at = 1000; at < all.size(); at += 37)
            parser->feed(all.subspan(at, std::min<std::size_t>(37, all.size() - at)), sink);
        EXPECT_EQ(allocations.count(), 0u) << config.name;
        EXPECT_GT(sink.frames, 1000u) << config.name;
        EXPECT_EQ(sink.lost, parser->counters().lost_samples) << config.name;
    }
}

TEST(Parsers, MakeParserByName) {
    for (const std::string name : {"cyton", "cyton-daisy", "openeeg", "semg"})
        EXPECT_EQ(make_parser(protocol(name))->name(), name);
    EXPECT_EQ(make_parser(protocol("ascii", 100.0))->name(), "ascii");
    EXPECT_EQ(make_parser(protocol("cyton-daisy"))->channels(), 16u);
    EXPECT_THROW(make_parser(protocol("brainflow")), std::invalid_argument);
    EXPECT_THROW(make_parser(protocol("ascii")), std::invalid_argument); // no rate
    ProtocolConfig no_gain = protocol("cyton");
    no_gain.cyton.gain = 0.0;
    EXPECT_THROW(make_parser(no_gain), std::invalid_argument);
    ProtocolConfig outside_enum;
    outside_enum.name = static_cast<Protocol>(99);
    EXPECT_THROW(make_parser(outside_enum), std::invalid_argument);
}

// One table of names and device facts: every name maps back to its protocol, and the facts
// agree with what the parsers themselves say about a default device.
TEST(ProtocolTable, NamesRoundTripAndFactsMatchTheParsers) {
    EXPECT_EQ(protocols().size(), 5u);
    EXPECT_EQ(protocol_names(), "cyton, cyton-daisy, ascii, openeeg or semg");
    for (const auto& t : protocols()) {
        SCOPED_TRACE(std::string(t.name));
        EXPECT_EQ(&traits(t.protocol), &t);
        EXPECT_EQ(find_protocol(t.name), t.protocol);
        EXPECT_EQ(protocol_from_name(t.name), t.protocol);
        EXPECT_EQ(to_string(t.protocol), t.name);
        ProtocolConfig config;
        config.name = t.protocol;
        config.ascii.sample_rate_hz = 100.0;
        const auto parser = make_parser(config);
        EXPECT_EQ(parser->name(), t.name);
        if (t.wire_channels > 0) {
            EXPECT_EQ(parser->channels(), t.wire_channels);
        }
        if (t.device_rate_hz > 0.0) {
            EXPECT_EQ(parser->sample_rate_hz(), t.device_rate_hz);
        }
        EXPECT_GT(t.default_baud, 0u);
        EXPECT_EQ(t.start_commands.empty(), t.stop_commands.empty());
    }
    EXPECT_EQ(traits(Protocol::CytonDaisy).start_commands, "Cb");
    EXPECT_EQ(traits(Protocol::OpenEeg).default_baud, 57600u);
    EXPECT_EQ(traits(Protocol::Semg).default_baud, 921600u);
    EXPECT_EQ(find_protocol("Cyton"), std::nullopt); // names are exact
    EXPECT_EQ(find_protocol("morse"), std::nullopt);
    EXPECT_THROW(protocol_from_name("morse"), std::invalid_argument);
    EXPECT_THROW(traits(static_cast<Protocol>(5)), std::invalid_argument);
    EXPECT_EQ(protocol_name(static_cast<Protocol>(5)), "unknown");
}

} // namespace
} // namespace semg::acquisition
