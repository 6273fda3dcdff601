// Reads a Source on its own thread a few blocks ahead of the consumer, so that decoding a file
// and analysing it overlap on two cores. Order and content are exactly those of source.read().
// An exception from the source is rethrown by next() at the position where it happened.
#pragma once

#include "acquisition/source.hpp"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace semg::pipeline {

class PrefetchReader {
public:
    PrefetchReader(acquisition::Source& source, std::size_t block_frames, std::size_t depth = 4);
    ~PrefetchReader(); // stops the reader and joins it
    PrefetchReader(const PrefetchReader&) = delete;
    PrefetchReader& operator=(const PrefetchReader&) = delete;

    // The next block (frames == 0 at the end); valid until the next call.
    dsp::ConstBlockRef next();

private:
    void run(const std::stop_token& stop);

    acquisition::Source& source_;
    std::vector<dsp::Block> blocks_;
    std::mutex mutex_;
    std::condition_variable_any changed_;
    std::size_t head_ = 0;  // next block to hand out
    std::size_t count_ = 0; // filled blocks not yet released
    bool holding_ = false;  // the consumer still holds blocks_[head_ - 1]
    bool done_ = false;
    std::exception_ptr error_;
    std::jthread thread_; // last: starts after everything above exists
};

} // namespace semg::pipeline
