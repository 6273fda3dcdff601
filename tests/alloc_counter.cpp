// Counts every heap allocation made by this thread, whatever allocates: `operator new`, the C
// allocator (malloc, calloc, realloc, reallocarray), and the aligned ones FFTW (fftw_malloc:
// posix_memalign) and Eigen (aligned_alloc, or malloc) use. libstdc++'s `operator new` calls
// malloc, so counting the C allocator counts `new` as well.
//
// Normal builds: this executable defines the C allocator's entry points; they win over glibc's in
// symbol lookup, so calls from the shared libraries (libfftw3, libstdc++) land here too. Each one
// counts and forwards to glibc's own allocator (__libc_malloc and friends), so memory from either
// side can be freed by the other.
//
// AddressSanitizer builds (the asan and fuzz presets, SEMG_SANITIZE): ASan replaces the allocator
// itself, and a second definition of malloc would shadow it (GCC's shared runtime) or clash with it
// (Clang's static one). There the count comes from ASan's own allocation hook, which it calls for
// every allocation, `new` and the C functions alike.
#include "tests/alloc_counter.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace {
// Plain thread_local of a trivial type: static TLS in the executable, so reading it allocates
// nothing (no recursion from inside malloc).
thread_local std::size_t g_allocations = 0;
} // namespace

namespace semg::test {
std::size_t allocations() noexcept { return g_allocations; }
} // namespace semg::test

#if defined(__SANITIZE_ADDRESS__)
#define SEMG_ALLOC_COUNTER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEMG_ALLOC_COUNTER_ASAN 1
#endif
#endif

#ifdef SEMG_ALLOC_COUNTER_ASAN

extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));

namespace {
void count_allocation(const volatile void*, std::size_t) { ++g_allocations; }
void ignore_free(const volatile void*) {}
// Installed before main(), while only the main thread runs (the hook API's requirement).
[[maybe_unused]] const int g_hooks_installed =
    __sanitizer_install_malloc_and_free_hooks(count_allocation, ignore_free);
} // namespace

#else

extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void* __libc_calloc(std::size_t count, std::size_t size) noexcept;
void* __libc_realloc(void* p, std::size_t size) noexcept;
void __libc_free(void* p) noexcept;
void* __libc_memalign(std::size_t alignment, std::size_t size) noexcept;

void* malloc(std::size_t size) noexcept {
    ++g_allocations;
    return __libc_malloc(size);
}

void* calloc(std::size_t count, std::size_t size) noexcept {
    ++g_allocations;
    return __libc_calloc(count, size);
}

void* realloc(void* p, std::size_t size) noexcept {
    ++g_allocations; // growing or shrinking: either may move the block, neither belongs in
                     // process()
    return __libc_realloc(p, size);
}

void* reallocarray(void* p, std::size_t count, std::size_t size) noexcept {
    if (size != 0 && count > SIZE_MAX / size) {
        errno = ENOMEM;
        return nullptr;
    }
    return realloc(p, count * size);
}

void free(void* p) noexcept { __libc_free(p); }

void* memalign(std::size_t alignment, std::size_t size) noexcept {
    ++g_allocations;
    return __libc_memalign(alignment, size);
}

void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
    ++g_allocations;
    return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    ++g_allocations;
    void* p = __libc_memalign(alignment, size);
    if (p == nullptr)
        return ENOMEM;
    *out = p;
    return 0;
}
} // extern "C"

#endif
