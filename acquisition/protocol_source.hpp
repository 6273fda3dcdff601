// From decoded frames to sample blocks: the bridge between a protocol parser and everything
// that consumes planar float µV blocks (the capture pipeline, the analysis, files).
//
// FrameAssembler is a FrameSink. It collects frames into a planar block and hands the block on
// when it is full or when flush() is called (the capture flushes after every read, so a frame
// never waits for the next one). Lost frames reported by the parser's sample counter are
// filled with 0 µV, so that the output keeps the device's time axis (frame n is at n / fs), and
// the block that starts with the fill says how many frames were lost. A gap longer than
// max_gap_fill_frames is filled only up to that length (the rest is reported as unfilled): a
// device counter that jumps by hours must not make us write hours of zeros.
// Format: the first frame fixes the channel count (the stream is the single truth); the
// format handler runs before the first block, once.
// Real time: after the first frame nothing allocates; on_frame copies one sample per channel.
//
// ProtocolSource is a pull-style Source over any byte reader (a file of raw device bytes, a
// pipe, a test vector): the same frames and the same zero fill as the live capture.
#pragma once

#include "acquisition/protocols/protocol.hpp"
#include "acquisition/source.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>

namespace semg::acquisition {

struct AssembledBlock {
    std::uint64_t first_frame = 0; // position in the output stream (fill included)
    dsp::BlockRef samples;         // planar µV; the receiver may change them in place
    // Set on the block that starts a gap: frames lost per the device counter (lost_frames),
    // of which the first filled_frames are the zeros at the start of this block and the next.
    std::uint64_t lost_frames = 0;
    std::uint64_t filled_frames = 0;
};

class FrameAssembler final : public FrameSink {
public:
    struct Config {
        std::size_t block_frames = 64;
        std::uint64_t max_gap_fill_frames = std::uint64_t{1} << 40;
    };
    // Called once, at the first frame, before the block is allocated: the channel count is
    // known, and set_block_frames() / set_max_gap_fill_frames() may still change the layout.
    using FormatHandler = std::function<void(std::size_t channels)>;
    // A block of frames; the reference is valid during the call only.
    using BlockHandler = std::function<void(const AssembledBlock& block)>;

    FrameAssembler(Config config, FormatHandler on_format, BlockHandler on_block);

    void on_frame(std::uint64_t index, std::span<const float> samples_uv) override;
    void on_gap(std::uint64_t at_frame, std::uint64_t missing) override;
    // Hands on the frames collected so far (if any).
    void flush();
    void set_block_frames(std::size_t frames); // before the first frame only
    void set_max_gap_fill_frames(std::uint64_t frames) noexcept {
        config_.max_gap_fill_frames = frames;
    }

    std::size_t channels() const noexcept { return block_.channels(); }
    bool has_format() const noexcept { return block_.channels() > 0; }
    // Frames handed on or waiting in the block, fill included.
    std::uint64_t frames() const noexcept { return next_frame_ + block_.frames(); }
    std::uint64_t filled_frames() const noexcept { return filled_frames_; }
    std::uint64_t unfilled_frames() const noexcept { return unfilled_frames_; }

private:
    void emit();

    Config config_;
    FormatHandler on_format_;
    BlockHandler on_block_;
    dsp::Block block_;
    std::uint64_t next_frame_ = 0; // output position of the block's first frame
    std::uint64_t pending_lost_ = 0;
    std::uint64_t pending_filled_ = 0;
    std::uint64_t filled_frames_ = 0;
    std::uint64_t unfilled_frames_ = 0;
};

class ProtocolSource final : public Source {
public:
    // Reads up to dest.size() bytes into dest; returns 0 at the end of the stream.
    using ByteReader = std::function<std::size_t(std::span<std::uint8_t> dest)>;

    // Reads until the first frame to learn the format. Throws SourceError if the stream ends
    // first (the message gives the parser's counters: wrong protocol, wrong baud rate, ...).
    ProtocolSource(std::unique_ptr<Parser> parser, ByteReader reader, std::string name = "stream");

    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;
    const Parser& parser() const noexcept { return *parser_; }
    const FrameAssembler& assembler() const noexcept { return assembler_; }

private:
    bool pump(); // one read of bytes; false at the end

    std::unique_ptr<Parser> parser_;
    ByteReader reader_;
    std::string name_;
    SourceInfo info_;
    FrameAssembler assembler_;
    std::vector<std::uint8_t> bytes_;
    std::vector<std::deque<float>> queued_; // per channel
    bool ended_ = false;
};

} // namespace semg::acquisition
