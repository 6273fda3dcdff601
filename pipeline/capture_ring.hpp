// Rings between the capture threads.
//
// SpscRing: bounded single-producer single-consumer ring of preallocated slots. The producer
// claims a slot, fills it in place and publishes it; the consumer reads the front slot in place
// and pops it. Lock-free on the fast path (two atomics); a consumer with nothing to do sleeps on
// a condition variable that the producer signals only when the consumer is asleep, so an idle
// consumer costs no CPU and a busy one no system calls. It has no overflow policy of its own:
// try_claim() fails when full and the producer decides (the capture waits, then counts a loss).
//
// DropOldestRing: a small ring for the live view, where a slow terminal must never hold up the
// analysis. When full, push() overwrites the oldest entry and counts it (dropped()), so the
// view can say that it skipped epochs. Guarded by a mutex: two pushes a second do not need more.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <new>
#include <stdexcept>
#include <vector>

namespace semg::pipeline {

template <class T> class SpscRing {
public:
    // `init` prepares each slot once (sizes its buffers): no allocation after construction.
    SpscRing(std::size_t capacity, const std::function<void(T&)>& init) : slots_(capacity) {
        if (capacity == 0)
            throw std::invalid_argument("SpscRing: capacity 0");
        if (init)
            for (auto& s : slots_)
                init(s);
    }
    SpscRing(const SpscRing&) = delete;
    SpscRing& operator=(const SpscRing&) = delete;

    std::size_t capacity() const noexcept { return slots_.size(); }
    // Slots published and not yet popped (a snapshot; exact from either end's own thread).
    std::size_t size() const noexcept {
        return static_cast<std::size_t>(head_.load(std::memory_order_acquire) -
                                        tail_.load(std::memory_order_acquire));
    }

    // ---- producer ----
    // The slot to fill next, or nullptr when the ring is full.
    T* try_claim() noexcept {
        const std::uint64_t head = head_.load(std::memory_order_relaxed);
        if (head - tail_.load(std::memory_order_acquire) == slots_.size())
            return nullptr;
        return &slots_[head % slots_.size()];
    }
    // Makes the claimed slot visible to the consumer.
    void publish() noexcept {
        head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
        wake();
    }
    // No more slots will come; the consumer drains what is there and then sees closed().
    void close() noexcept {
        closed_.store(true, std::memory_order_seq_cst);
        wake();
    }

    // ---- consumer ----
    // The oldest published slot, waiting up to `timeout` for one; nullptr on timeout or when
    // the ring is closed and empty.
    T* wait_front(std::chrono::milliseconds timeout) {
        if (T* slot = front())
            return slot;
        if (closed_.load(std::memory_order_acquire))
            return front();
        std::unique_lock lock(mutex_);
        sleeping_.store(true, std::memory_order_seq_cst);
        // Dekker-style: either the producer sees sleeping_ and signals under the mutex, or we
        // see its head_ here.
        cv_.wait_for(lock, timeout, [&] {
            return head_.load(std::memory_order_seq_cst) != tail_.load(std::memory_order_relaxed) ||
                   closed_.load(std::memory_order_seq_cst);
        });
        sleeping_.store(false, std::memory_order_relaxed);
        return front();
    }
    T* front() noexcept {
        const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
        if (head_.load(std::memory_order_acquire) == tail)
            return nullptr;
        return &slots_[tail % slots_.size()];
    }
    void pop() noexcept {
        tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

private:
    void wake() {
        if (sleeping_.load(std::memory_order_seq_cst)) {
            std::lock_guard lock(mutex_);
            cv_.notify_one();
        }
    }

    std::vector<T> slots_;
    alignas(64) std::atomic<std::uint64_t> head_{0}; // written by the producer only
    alignas(64) std::atomic<std::uint64_t> tail_{0}; // written by the consumer only
    alignas(64) std::atomic<bool> sleeping_{false};
    std::atomic<bool> closed_{false};
    std::mutex mutex_;
    std::condition_variable cv_;
};

template <class T> class DropOldestRing {
public:
    DropOldestRing(std::size_t capacity, const std::function<void(T&)>& init) : slots_(capacity) {
        if (capacity == 0)
            throw std::invalid_argument("DropOldestRing: capacity 0");
        if (init)
            for (auto& s : slots_)
                init(s);
    }
    // Fills the next slot with `fill(slot)`; overwrites the oldest when full.
    template <class Fill> void push(Fill&& fill) {
        std::lock_guard lock(mutex_);
        if (count_ == slots_.size()) {
            first_ = (first_ + 1) % slots_.size();
            --count_;
            ++dropped_;
        }
        fill(slots_[(first_ + count_) % slots_.size()]);
        ++count_;
    }
    // Hands the oldest entry to `take(const T&)`; false when empty.
    template <class Take> bool pop(Take&& take) {
        std::lock_guard lock(mutex_);
        if (count_ == 0)
            return false;
        take(static_cast<const T&>(slots_[first_]));
        first_ = (first_ + 1) % slots_.size();
        --count_;
        return true;
    }
    std::uint64_t dropped() const {
        std::lock_guard lock(mutex_);
        return dropped_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<T> slots_;
    std::size_t first_ = 0;
    std::size_t count_ = 0;
    std::uint64_t dropped_ = 0;
};

} // namespace semg::pipeline
