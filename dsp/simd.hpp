// Vectors of 16 bytes (one SSE2 register) for the hand-vectorised sums of dsp/: GCC/Clang vector
// extensions, whose arithmetic acts lane by lane with the scalar IEEE operations, so a sum over
// lanes in a fixed order gives the same bits on every machine. Internal to dsp/.
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace semg::dsp::simd {

typedef float Float4 __attribute__((vector_size(16)));         // NOLINT(modernize-use-using)
typedef double Double2 __attribute__((vector_size(16)));       // NOLINT(modernize-use-using)
typedef std::int32_t Int4 __attribute__((vector_size(16)));    // NOLINT(modernize-use-using)
typedef std::int64_t Int64x2 __attribute__((vector_size(16))); // NOLINT(modernize-use-using)

inline Float4 load4(const float* p) noexcept {
    Float4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
// Lanes 0, 1 and 2, 3 as doubles (exact). GCC makes scalar conversions of the generic form.
inline Double2 low_half(Float4 v) noexcept {
#ifdef __SSE2__
    return reinterpret_cast<Double2>(_mm_cvtps_pd(reinterpret_cast<__m128>(v)));
#else
    return Double2{v[0], v[1]};
#endif
}
inline Double2 high_half(Float4 v) noexcept {
#ifdef __SSE2__
    const auto m = reinterpret_cast<__m128>(v);
    return reinterpret_cast<Double2>(_mm_cvtps_pd(_mm_movehl_ps(m, m)));
#else
    return Double2{v[2], v[3]};
#endif
}

} // namespace semg::dsp::simd
