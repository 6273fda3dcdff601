#include "acquisition/protocol_source.hpp"

#include <algorithm>
#include <stdexcept>

namespace semg::acquisition {

FrameAssembler::FrameAssembler(Config config, FormatHandler on_format, BlockHandler on_block)
    : config_(config), on_format_(std::move(on_format)), on_block_(std::move(on_block)) {
    if (config_.block_frames == 0)
        throw std::invalid_argument("FrameAssembler: block of 0 frames");
}

void FrameAssembler::on_frame(std::uint64_t, std::span<const float> samples_uv) {
    // Frame indices are implied: the parser reports every missing frame through on_gap first.
    if (!has_format()) {
        if (on_format_)
            on_format_(samples_uv.size());
        block_ = dsp::Block(samples_uv.size(), config_.block_frames);
    }
    if (samples_uv.size() != block_.channels())
        return; // parsers guarantee one width; be safe
    const std::size_t i = block_.frames();
    for (std::size_t c = 0; c < samples_uv.size(); ++c)
        block_.channel(c)[i] = samples_uv[c];
    block_.set_frames(i + 1);
    if (i + 1 == block_.capacity())
        emit();
}

void FrameAssembler::on_gap(std::uint64_t, std::uint64_t missing) {
    if (!has_format() || missing == 0)
        return; // nothing before the first frame to fill
    emit();     // the gap starts a block, so the receiver knows where it begins
    const std::uint64_t fill = std::min(missing, config_.max_gap_fill_frames);
    unfilled_frames_ += missing - fill;
    filled_frames_ += fill;
    pending_lost_ = missing;
    pending_filled_ = fill;
    for (std::uint64_t left = fill; left > 0;) {
        const std::size_t i = block_.frames();
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(left, block_.capacity() - i));
        for (std::size_t c = 0; c < block_.channels(); ++c)
            std::fill_n(block_.channel(c) + i, n, 0.0f);
        block_.set_frames(i + n);
        left -= n;
        if (block_.frames() == block_.capacity())
            emit();
    }
    // With no fill at all (max_gap_fill_frames == 0) the loss is reported with the next block.
}

void FrameAssembler::set_block_frames(std::size_t frames) {
    if (frames == 0)
        throw std::invalid_argument("FrameAssembler: block of 0 frames");
    if (has_format())
        throw std::logic_error("FrameAssembler: block size fixed at the first frame");
    config_.block_frames = frames;
}

void FrameAssembler::flush() {
    if (has_format())
        emit();
}

void FrameAssembler::emit() {
    if (block_.frames() == 0)
        return;
    AssembledBlock out;
    out.first_frame = next_frame_;
    out.samples = block_.ref();
    out.lost_frames = pending_lost_;
    out.filled_frames = pending_filled_;
    pending_lost_ = pending_filled_ = 0;
    next_frame_ += block_.frames();
    block_.set_frames(0);
    if (on_block_)
        on_block_(out);
}

// ---------------------------------------------------------------------------------------------

ProtocolSource::ProtocolSource(std::unique_ptr<Parser> parser, ByteReader reader, std::string name)
    : parser_(std::move(parser)), reader_(std::move(reader)), name_(std::move(name)),
      assembler_(
          {256, std::uint64_t{1} << 40}, [this](std::size_t channels) { queued_.resize(channels); },
          [this](const AssembledBlock& b) {
              for (std::size_t c = 0; c < b.samples.channels; ++c)
                  queued_[c].insert(queued_[c].end(), b.samples.channel(c),
                                    b.samples.channel(c) + b.samples.frames);
          }),
      bytes_(4096) {
    if (!parser_)
        throw std::invalid_argument("ProtocolSource: no parser");
    while (!assembler_.has_format()) {
        if (!pump()) {
            const auto& k = parser_->counters();
            throw SourceError(name_ + ": no " + std::string(parser_->name()) + " frame in " +
                              std::to_string(k.bytes) + " bytes (sync losses " +
                              std::to_string(k.sync_losses) + ", bad checksums " +
                              std::to_string(k.bad_checksums) + ", bad lines " +
                              std::to_string(k.bad_lines) + "): wrong protocol or baud rate?");
        }
    }
    info_.format = std::string(parser_->name());
    info_.sample_rate_hz = parser_->sample_rate_hz();
    for (const auto& label : parser_->channel_labels())
        info_.channels.push_back({label, {}, {}, {}});
}

bool ProtocolSource::pump() {
    if (ended_)
        return false;
    const std::size_t n = reader_(bytes_);
    if (n == 0) {
        ended_ = true;
        assembler_.flush();
        return false;
    }
    parser_->feed(std::span<const std::uint8_t>(bytes_.data(), n), assembler_);
    assembler_.flush();
    return true;
}

std::size_t ProtocolSource::read(dsp::BlockRef out) {
    while (queued_.empty() || queued_[0].size() < out.frames) {
        if (!pump())
            break;
    }
    if (queued_.empty())
        return 0;
    const std::size_t n = std::min(out.frames, queued_[0].size());
    for (std::size_t c = 0; c < queued_.size() && c < out.channels; ++c) {
        std::copy_n(queued_[c].begin(), n, out.channel(c));
        queued_[c].erase(queued_[c].begin(), queued_[c].begin() + static_cast<std::ptrdiff_t>(n));
    }
    return n;
}

} // namespace semg::acquisition
