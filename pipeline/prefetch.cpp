#include "pipeline/prefetch.hpp"

namespace semg::pipeline {

PrefetchReader::PrefetchReader(acquisition::Source& source, std::size_t block_frames,
                               std::size_t depth)
    : source_(source) {
    for (std::size_t i = 0; i < depth; ++i)
        blocks_.emplace_back(source.info().channels.size(), block_frames);
    thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

PrefetchReader::~PrefetchReader() {
    thread_.request_stop();
    changed_.notify_all();
}

void PrefetchReader::run(const std::stop_token& stop) {
    std::size_t tail = 0;
    while (true) {
        {
            std::unique_lock lock(mutex_);
            // One slot stays with the consumer while it works on a block.
            changed_.wait(lock, stop, [&] { return count_ + (holding_ ? 1 : 0) < blocks_.size(); });
            if (stop.stop_requested())
                return;
        }
        std::size_t n = 0;
        std::exception_ptr error;
        try {
            n = source_.read(blocks_[tail].capacity_ref());
        } catch (...) {
            error = std::current_exception();
        }
        std::lock_guard lock(mutex_);
        if (error || n == 0) {
            error_ = error;
            done_ = true;
            changed_.notify_all();
            return;
        }
        blocks_[tail].set_frames(n);
        tail = (tail + 1) % blocks_.size();
        ++count_;
        changed_.notify_all();
    }
}

dsp::ConstBlockRef PrefetchReader::next() {
    std::unique_lock lock(mutex_);
    if (holding_) {
        holding_ = false;
        changed_.notify_all();
    }
    changed_.wait(lock, [&] { return count_ > 0 || done_; });
    if (count_ == 0) {
        if (error_)
            std::rethrow_exception(error_);
        return {};
    }
    const auto& block = blocks_[head_];
    head_ = (head_ + 1) % blocks_.size();
    --count_;
    holding_ = true;
    return block.cref();
}

} // namespace semg::pipeline
