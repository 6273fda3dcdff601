// Counts heap allocations made by this thread, to prove process() allocates nothing.
#pragma once

#include <cstddef>

namespace semg::test {
std::size_t allocations() noexcept;

// Allocations made while the guard lives.
class AllocationCounter {
public:
    AllocationCounter() : start_(allocations()) {}
    std::size_t count() const noexcept { return allocations() - start_; }

private:
    std::size_t start_;
};
} // namespace semg::test
