// Sample blocks: frames × channels, each channel contiguous (planar).
// Samples are float µV. Channel c starts at data + c * stride.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <vector>

namespace semg::dsp {

// What a stream carries. The device or file header is the single truth for both.
struct StreamSpec {
    double sample_rate_hz = 0.0;
    std::size_t channels = 0;
};

struct BlockRef {
    float* data = nullptr;
    std::size_t frames = 0;
    std::size_t channels = 0;
    std::size_t stride = 0; // distance between channel starts, >= frames

    float* channel(std::size_t c) const noexcept { return data + c * stride; }
};

struct ConstBlockRef {
    const float* data = nullptr;
    std::size_t frames = 0;
    std::size_t channels = 0;
    std::size_t stride = 0;

    ConstBlockRef() = default;
    ConstBlockRef(const float* d, std::size_t f, std::size_t c, std::size_t s)
        : data(d), frames(f), channels(c), stride(s) {}
    ConstBlockRef(const BlockRef& b) // NOLINT(google-explicit-constructor): a view may narrow
        : data(b.data), frames(b.frames), channels(b.channels), stride(b.stride) {}

    const float* channel(std::size_t c) const noexcept { return data + c * stride; }
    // Frames [first, first + count) of every channel.
    ConstBlockRef slice(std::size_t first, std::size_t count) const noexcept {
        return {data + first, count, channels, stride};
    }
};

// Owning storage for a block of up to `capacity` frames.
class Block {
public:
    Block() = default;
    Block(std::size_t channels, std::size_t capacity)
        : samples_(channels * capacity, 0.0f), channels_(channels), capacity_(capacity) {}

    std::size_t channels() const noexcept { return channels_; }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t frames() const noexcept { return frames_; }
    void set_frames(std::size_t frames) {
        if (frames > capacity_)
            throw std::out_of_range("Block::set_frames beyond capacity");
        frames_ = frames;
    }
    float* channel(std::size_t c) noexcept { return samples_.data() + c * capacity_; }
    const float* channel(std::size_t c) const noexcept { return samples_.data() + c * capacity_; }

    BlockRef ref() noexcept { return {samples_.data(), frames_, channels_, capacity_}; }
    ConstBlockRef cref() const noexcept { return {samples_.data(), frames_, channels_, capacity_}; }
    // The whole capacity, for a source to fill.
    BlockRef capacity_ref() noexcept { return {samples_.data(), capacity_, channels_, capacity_}; }

private:
    std::vector<float> samples_;
    std::size_t channels_ = 0;
    std::size_t capacity_ = 0;
    std::size_t frames_ = 0;
};

} // namespace semg::dsp
