// The allocation counter itself (tests/alloc_counter.cpp): it must see every way this process can
// allocate, or an "allocation-free" test proves nothing. Each call below must count exactly once.
#include "tests/alloc_counter.hpp"

#include <gtest/gtest.h>

#include <fftw3.h>
#include <malloc.h>

#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace {

// Keeps the compiler from eliding an allocation whose memory is never used.
void escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }

template <typename Allocate> std::size_t allocations_of(Allocate allocate) {
    semg::test::AllocationCounter counter;
    allocate();
    return counter.count();
}

} // namespace

TEST(AllocationCounter, SeesEveryAllocator) {
    EXPECT_EQ(allocations_of([] {
                  auto p = std::make_unique<int>(1);
                  escape(p.get());
              }),
              1u);
    EXPECT_EQ(allocations_of([] {
                  std::vector<double> v(100);
                  escape(v.data());
              }),
              1u);
    EXPECT_EQ(allocations_of([] {
                  void* p = std::malloc(64);
                  escape(p);
                  std::free(p);
              }),
              1u);
    EXPECT_EQ(allocations_of([] {
                  void* p = std::calloc(8, 8);
                  escape(p);
                  std::free(p);
              }),
              1u);
    EXPECT_EQ(allocations_of([] {
                  void* p = std::malloc(16);
                  escape(p);
                  p = std::realloc(p, 4096);
                  escape(p);
                  std::free(p);
              }),
              2u);
    EXPECT_EQ(allocations_of([] {
                  void* p = std::aligned_alloc(64, 256);
                  escape(p);
                  std::free(p);
              }),
              1u);
    EXPECT_EQ(allocations_of([] {
                  void* p = nullptr;
                  ASSERT_EQ(posix_memalign(&p, 64, 256), 0);
                  escape(p);
                  std::free(p);
              }),
              1u);
    EXPECT_EQ(allocations_of([] {
                  void* p = memalign(64, 256);
                  escape(p);
                  std::free(p);
              }),
              1u);
    // FFTW's own allocator (libfftw3, a shared library: its calls reach the counter too).
    EXPECT_EQ(allocations_of([] {
                  void* p = fftw_malloc(1024);
                  escape(p);
                  fftw_free(p);
              }),
              1u);
}

TEST(AllocationCounter, CountsOnlyThisThread) {
    // Starting a thread allocates on this thread (its state); what the thread allocates does not
    // count here: a thread that allocates 100 times costs this thread what an idle one does.
    // The first thread of the process allocates more (glibc's first-use set-up): warm up first.
    std::thread([] {}).join();
    const auto idle = allocations_of([] { std::thread([] {}).join(); });
    const auto busy = allocations_of([] {
        std::thread([] {
            for (int i = 0; i < 100; ++i) {
                void* p = std::malloc(64);
                escape(p);
                std::free(p);
            }
        }).join();
    });
    EXPECT_EQ(busy, idle);
}
