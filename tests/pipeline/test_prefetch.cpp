#include "acquisition/simulator.hpp"
#include "pipeline/prefetch.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <thread>

using namespace semg;

namespace {

// Counts 0, 1, 2, ... on every channel and fails after `fail_after` frames.
class CountingSource final : public acquisition::Source {
public:
    explicit CountingSource(std::size_t fail_after) : fail_after_(fail_after) {
        info_.sample_rate_hz = 1000.0;
        info_.channels.resize(2);
        info_.channels[0].label = "a";
        info_.channels[1].label = "b";
    }
    const acquisition::SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override {
        if (next_ >= fail_after_)
            throw acquisition::SourceError("broken at " + std::to_string(next_));
        const std::size_t n = std::min<std::size_t>(out.frames, 333);
        for (std::size_t c = 0; c < 2; ++c)
            for (std::size_t i = 0; i < n; ++i)
                out.channel(c)[i] = static_cast<float>(next_ + i);
        next_ += n;
        return n;
    }

private:
    acquisition::SourceInfo info_;
    std::size_t fail_after_;
    std::size_t next_ = 0;
};

} // namespace

TEST(PrefetchReader, DeliversExactlyWhatTheSourceReads) {
    acquisition::Scenario s;
    s.pairs = acquisition::default_pairs(2);
    s.protocol.hold_s = 10.0;
    acquisition::Simulator direct(s), ahead(s);
    pipeline::PrefetchReader reader(ahead, 1000, 3);
    dsp::Block block(4, 1000);
    std::size_t total = 0;
    while (const std::size_t n = direct.read(block.capacity_ref())) {
        const auto got = reader.next();
        ASSERT_EQ(got.frames, n);
        for (std::size_t c = 0; c < 4; ++c)
            for (std::size_t i = 0; i < n; ++i)
                ASSERT_EQ(got.channel(c)[i], block.channel(c)[i]);
        total += n;
    }
    EXPECT_EQ(reader.next().frames, 0u);
    EXPECT_EQ(total, s.total_frames());
}

TEST(PrefetchReader, RethrowsTheSourceErrorInOrder) {
    CountingSource source(1000);
    pipeline::PrefetchReader reader(source, 500, 4);
    float expected = 0.0f;
    try {
        while (true) {
            const auto got = reader.next();
            ASSERT_GT(got.frames, 0u);
            EXPECT_EQ(got.channel(1)[0], expected);
            expected += static_cast<float>(got.frames);
        }
    } catch (const acquisition::SourceError& e) {
        EXPECT_EQ(std::string(e.what()), "broken at 1332");
        EXPECT_EQ(expected, 1332.0f);
        return;
    }
}

// A deadlock here (the reader thread blocked on its full queue while the destructor waits to join
// it) must fail the test, not hang it until CTest's timeout. The body runs on its own thread and
// the test waits 5 s for it (it takes milliseconds, under ASan too). Not std::async: the destructor
// of its future would wait for the deadlocked body. On a timeout the thread is detached and left
// behind; it owns everything it touches.
TEST(PrefetchReader, StopsCleanlyWhenDroppedEarly) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> finished = done->get_future();
    std::thread([done] {
        try {
            CountingSource source(1u << 30);
            {
                pipeline::PrefetchReader reader(source, 100, 2);
                (void)reader.next();
            }
            done->set_value();
        } catch (...) {
            done->set_exception(std::current_exception());
        }
    }).detach();
    ASSERT_EQ(finished.wait_for(std::chrono::seconds(5)), std::future_status::ready)
        << "dropping a PrefetchReader early did not return within 5 s: deadlock";
    finished.get(); // rethrows what the body threw
}
