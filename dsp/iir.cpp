#include "dsp/iir.hpp"
#include "dsp/text.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <numbers>
#include <stdexcept>
#include <string>
#include <utility>

namespace semg::dsp {
namespace {

using Complex = std::complex<double>;

struct Zpk {
    std::vector<Complex> z, p;
    double k = 1.0;
};

// Analogue Butterworth prototype, cut-off 1 rad/s (scipy.signal.buttap).
Zpk prototype(int order) {
    Zpk f;
    for (int m = -order + 1; m < order; m += 2)
        f.p.push_back(-std::exp(Complex(0.0, std::numbers::pi * m / (2.0 * order))));
    return f;
}

Complex product(const std::vector<Complex>& v, Complex offset, double sign) {
    Complex acc(1.0, 0.0);
    for (const auto& x : v)
        acc *= offset + sign * x;
    return acc;
}

// Digital zeros and poles to sections: conjugate pole pairs first, each with two zeros.
std::vector<Sos> to_sos(const Zpk& f) {
    std::vector<Complex> complex_poles, real_poles;
    for (const auto& p : f.p) {
        if (std::abs(p.imag()) > 1e-12 * std::max(1.0, std::abs(p))) {
            if (p.imag() > 0)
                complex_poles.push_back(p);
        } else {
            real_poles.push_back(p.real());
        }
    }
    std::vector<double> zeros;
    for (const auto& z : f.z)
        zeros.push_back(z.real()); // Butterworth zeros are at ±1
    std::sort(zeros.begin(), zeros.end());
    // Interleave so each section gets one zero from each end when both kinds exist (band-pass).
    std::vector<double> ordered;
    for (std::size_t lo = 0, hi = zeros.size(); lo < hi;) {
        ordered.push_back(zeros[--hi]);
        if (lo < hi)
            ordered.push_back(zeros[lo++]);
    }
    std::size_t next_zero = 0;
    auto take_zero = [&]() { return next_zero < ordered.size() ? ordered[next_zero++] : 0.0; };

    std::vector<Sos> sections;
    for (const auto& p : complex_poles) {
        Sos s;
        const double z1 = take_zero(), z2 = take_zero();
        s.b = {1.0, -(z1 + z2), z1 * z2};
        s.a = {1.0, -2.0 * p.real(), std::norm(p)};
        sections.push_back(s);
    }
    for (std::size_t i = 0; i < real_poles.size(); i += 2) {
        Sos s;
        if (i + 1 < real_poles.size()) {
            const double p1 = real_poles[i].real(), p2 = real_poles[i + 1].real();
            const double z1 = take_zero(), z2 = take_zero();
            s.b = {1.0, -(z1 + z2), z1 * z2};
            s.a = {1.0, -(p1 + p2), p1 * p2};
        } else {
            s.b = {1.0, -take_zero(), 0.0};
            s.a = {1.0, -real_poles[i].real(), 0.0};
        }
        sections.push_back(s);
    }
    for (auto& c : sections.front().b)
        c *= f.k;
    return sections;
}

} // namespace

std::vector<Sos> butterworth(FilterKind kind, int order, double low_hz, double high_hz,
                             double sample_rate_hz) {
    if (order < 1 || order > 12)
        throw std::invalid_argument("filter order must be 1..12, got " + std::to_string(order));
    static_assert(SosFilter::kMaxSections >= 12, "a band-pass of order 12 has 12 sections");
    if (!(sample_rate_hz > 0))
        throw std::invalid_argument("sample rate must be positive");
    const double nyquist = sample_rate_hz / 2.0;
    const bool two_edges = kind == FilterKind::Bandpass;
    auto check = [&](double f) {
        if (!(f > 0.0 && f < nyquist))
            throw std::invalid_argument("filter edge " + format_number(f) + " Hz is outside (0, " +
                                        format_number(nyquist) + ") Hz");
    };
    check(low_hz);
    if (two_edges) {
        check(high_hz);
        if (!(low_hz < high_hz))
            throw std::invalid_argument("filter band must have low < high edge");
    }
    const double fs2 = 2.0 * sample_rate_hz;
    auto warp = [&](double f) { return fs2 * std::tan(std::numbers::pi * f / sample_rate_hz); };

    Zpk a = prototype(order);
    Zpk s; // analogue filter of the requested kind
    const double w1 = warp(low_hz);
    if (kind == FilterKind::Lowpass) {
        for (auto& p : a.p)
            s.p.push_back(p * w1);
        s.k = std::pow(w1, order);
    } else if (kind == FilterKind::Highpass) {
        for (auto& p : a.p)
            s.p.push_back(w1 / p);
        s.z.assign(a.p.size(), Complex(0.0, 0.0));
        s.k = (1.0 / product(a.p, 0.0, -1.0)).real();
    } else {
        const double w2 = warp(high_hz);
        const double bw = w2 - w1, w0 = std::sqrt(w1 * w2);
        {
            for (auto& p : a.p) {
                const Complex lp = p * bw / 2.0;
                const Complex root = std::sqrt(lp * lp - w0 * w0);
                s.p.push_back(lp + root);
                s.p.push_back(lp - root);
            }
            s.z.assign(a.p.size(), Complex(0.0, 0.0));
            s.k = std::pow(bw, order);
        }
    }
    // Bilinear transform (scipy.signal.bilinear_zpk).
    Zpk d;
    for (const auto& z : s.z)
        d.z.push_back((fs2 + z) / (fs2 - z));
    for (const auto& p : s.p)
        d.p.push_back((fs2 + p) / (fs2 - p));
    while (d.z.size() < d.p.size())
        d.z.emplace_back(-1.0, 0.0);
    d.k = s.k * (product(s.z, fs2, -1.0) / product(s.p, fs2, -1.0)).real();
    return to_sos(d);
}

Sos notch(double f0_hz, double bandwidth_hz, double sample_rate_hz) {
    if (!(f0_hz > 0.0 && f0_hz < sample_rate_hz / 2.0))
        throw std::invalid_argument("notch frequency " + format_number(f0_hz) +
                                    " Hz must lie between 0 and half the sample rate");
    if (!(bandwidth_hz > 0.0 && bandwidth_hz < f0_hz))
        throw std::invalid_argument("notch bandwidth " + format_number(bandwidth_hz) +
                                    " Hz must be positive and below the notch frequency");
    // scipy.signal.iirnotch: beta = tan(bw/2) with bw in rad/sample (the −3 dB width).
    const double w0 = 2.0 * std::numbers::pi * f0_hz / sample_rate_hz;
    const double bw = 2.0 * std::numbers::pi * bandwidth_hz / sample_rate_hz;
    const double gain = 1.0 / (1.0 + std::tan(bw / 2.0));
    Sos s;
    s.b = {gain, -2.0 * gain * std::cos(w0), gain};
    s.a = {1.0, -2.0 * gain * std::cos(w0), 2.0 * gain - 1.0};
    return s;
}

std::vector<Sos> mains_comb(double mains_hz, double bandwidth_hz, double up_to_hz,
                            double sample_rate_hz) {
    std::vector<Sos> comb;
    if (!(mains_hz > 0.0) || !(bandwidth_hz > 0.0))
        return comb;
    for (double f = mains_hz; f <= up_to_hz + 1e-9 && f + bandwidth_hz < sample_rate_hz / 2.0;
         f += mains_hz)
        comb.push_back(notch(f, bandwidth_hz, sample_rate_hz));
    return comb;
}

double magnitude_at(const std::vector<Sos>& sections, double freq_hz, double sample_rate_hz) {
    const Complex z = std::exp(Complex(0.0, -2.0 * std::numbers::pi * freq_hz / sample_rate_hz));
    Complex h(1.0, 0.0);
    for (const auto& s : sections)
        h *= (s.b[0] + s.b[1] * z + s.b[2] * z * z) / (s.a[0] + s.a[1] * z + s.a[2] * z * z);
    return std::abs(h);
}

namespace {

// W doubles side by side (a GCC/Clang vector): arithmetic acts lane by lane, each lane doing
// exactly the IEEE operations of the scalar expression.
template <std::size_t W> struct LanesOf {
    // NOLINTNEXTLINE(modernize-use-using): the attribute needs a typedef
    typedef double type __attribute__((vector_size(W * sizeof(double))));
};
template <std::size_t W> using Lanes = typename LanesOf<W>::type;
template <std::size_t W> struct FloatLanesOf {
    // NOLINTNEXTLINE(modernize-use-using)
    typedef float type __attribute__((vector_size(W * sizeof(float))));
};
template <std::size_t W> using FloatLanes = typename FloatLanesOf<W>::type;

// One step of a W×W transpose: rows r and r + B exchange their off-diagonal B×B blocks.
template <std::size_t W, std::size_t B, std::size_t... P>
[[gnu::always_inline]] inline void exchange_blocks(Lanes<W>& a, Lanes<W>& b,
                                                   std::index_sequence<P...>) noexcept {
    const Lanes<W> lo = __builtin_shufflevector(a, b, ((P / B) % 2 == 0 ? P : W + P - B)...);
    const Lanes<W> hi = __builtin_shufflevector(a, b, ((P / B) % 2 == 0 ? P + B : W + P)...);
    a = lo;
    b = hi;
}

// rows[0 .. W) become their transpose: row l holds what was column l.
template <std::size_t W, std::size_t B = W / 2>
[[gnu::always_inline]] inline void transpose(Lanes<W>* rows) noexcept {
    for (std::size_t r = 0; r < W; ++r)
        if ((r / B) % 2 == 0)
            exchange_blocks<W, B>(rows[r], rows[r + B], std::make_index_sequence<W>{});
    if constexpr (B > 1)
        transpose<W, B / 2>(rows);
}

// Every lane = v (exactly, -0.0 included).
template <std::size_t W> [[gnu::always_inline]] inline void splat(Lanes<W>& r, double v) noexcept {
    std::array<double, W> lanes;
    lanes.fill(v);
    std::memcpy(&r, lanes.data(), sizeof r);
}

// Frames per pass: samples of K·W channels are gathered into doubles, run through every section
// and scattered back, so that the intermediate signals between sections stay in double.
constexpr std::size_t kChunkFrames = 64;

// Runs NS consecutive sections over m frames of K interleaved vectors (buf[i * K + k]) in place.
// state: [k][section][z1, z2] vectors of the whole cascade, sections counted from `first`.
// The states live in registers for the pass: the recursion of a section waits on its own
// previous output only, so K vectors and NS sections keep the arithmetic units busy.
template <std::size_t W, std::size_t K, std::size_t NS>
[[gnu::always_inline]] inline void run_sections(Lanes<W>* buf, std::size_t m, const Sos* sec,
                                                double* state, std::size_t n_sec,
                                                std::size_t first) noexcept {
    constexpr std::size_t bytes = sizeof(Lanes<W>);
    std::array<Lanes<W>, NS> b0{}, b1{}, b2{}, a1{}, a2{};
    std::array<std::array<Lanes<W>, NS>, K> z1{}, z2{};
    for (std::size_t s = 0; s < NS; ++s) {
        const Sos& q = sec[first + s];
        splat<W>(b0[s], q.b[0]);
        splat<W>(b1[s], q.b[1]);
        splat<W>(b2[s], q.b[2]);
        splat<W>(a1[s], q.a[1]);
        splat<W>(a2[s], q.a[2]);
        for (std::size_t k = 0; k < K; ++k) {
            std::memcpy(&z1[k][s], state + ((k * n_sec + first + s) * 2) * W, bytes);
            std::memcpy(&z2[k][s], state + ((k * n_sec + first + s) * 2 + 1) * W, bytes);
        }
    }
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t k = 0; k < K; ++k) {
            Lanes<W> v = buf[i * K + k];
            for (std::size_t s = 0; s < NS; ++s) {
                const Lanes<W> y = b0[s] * v + z1[k][s];
                z1[k][s] = b1[s] * v - a1[s] * y + z2[k][s];
                z2[k][s] = b2[s] * v - a2[s] * y;
                v = y;
            }
            buf[i * K + k] = v;
        }
    for (std::size_t s = 0; s < NS; ++s)
        for (std::size_t k = 0; k < K; ++k) {
            std::memcpy(state + ((k * n_sec + first + s) * 2) * W, &z1[k][s], bytes);
            std::memcpy(state + ((k * n_sec + first + s) * 2 + 1) * W, &z2[k][s], bytes);
        }
}

// K groups of W channels: x holds K·W channel pointers (null: a padding lane, fed zeros).
template <std::size_t W, std::size_t K>
[[gnu::always_inline]] inline void run_groups(float* const* x, std::size_t frames, const Sos* sec,
                                              std::size_t n_sec, double* state) noexcept {
    std::array<Lanes<W>, kChunkFrames * K> buf;
    for (std::size_t start = 0; start < frames; start += kChunkFrames) {
        const std::size_t m = std::min(kChunkFrames, frames - start);
        const std::size_t whole = m - m % W; // frames moved W at a time, as W×W transposes
        for (std::size_t k = 0; k < K; ++k) {
            for (std::size_t i = 0; i < whole; i += W) {
                std::array<Lanes<W>, W> rows;
                for (std::size_t l = 0; l < W; ++l) {
                    FloatLanes<W> f{};
                    if (const float* src = x[k * W + l]; src != nullptr)
                        std::memcpy(&f, src + start + i, sizeof f);
                    rows[l] = __builtin_convertvector(f, Lanes<W>);
                }
                transpose<W>(rows.data());
                for (std::size_t t = 0; t < W; ++t)
                    buf[(i + t) * K + k] = rows[t];
            }
            for (std::size_t l = 0; l < W; ++l) {
                const float* src = x[k * W + l];
                for (std::size_t i = whole; i < m; ++i)
                    buf[i * K + k][l] = src != nullptr ? src[start + i] : 0.0;
            }
        }
        for (std::size_t s = 0; s < n_sec;) {
            const std::size_t left = n_sec - s;
            if (left >= 4) {
                run_sections<W, K, 4>(buf.data(), m, sec, state, n_sec, s);
                s += 4;
            } else if (left == 3) {
                run_sections<W, K, 3>(buf.data(), m, sec, state, n_sec, s);
                s += 3;
            } else if (left == 2) {
                run_sections<W, K, 2>(buf.data(), m, sec, state, n_sec, s);
                s += 2;
            } else {
                run_sections<W, K, 1>(buf.data(), m, sec, state, n_sec, s);
                s += 1;
            }
        }
        for (std::size_t k = 0; k < K; ++k) {
            for (std::size_t i = 0; i < whole; i += W) {
                std::array<Lanes<W>, W> rows;
                for (std::size_t t = 0; t < W; ++t)
                    rows[t] = buf[(i + t) * K + k];
                transpose<W>(rows.data());
                for (std::size_t l = 0; l < W; ++l)
                    if (float* dst = x[k * W + l]; dst != nullptr) {
                        const FloatLanes<W> f = __builtin_convertvector(rows[l], FloatLanes<W>);
                        std::memcpy(dst + start + i, &f, sizeof f);
                    }
            }
            for (std::size_t l = 0; l < W; ++l)
                if (float* dst = x[k * W + l]; dst != nullptr)
                    for (std::size_t i = whole; i < m; ++i)
                        dst[start + i] = static_cast<float>(buf[i * K + k][l]);
        }
    }
}

// Every channel of io, W per vector. Short cascades take several vectors per pass (K) so that
// enough independent recursions are in flight; lanes past io.channels are padding.
template <std::size_t W>
[[gnu::always_inline]] inline void run_all(BlockRef io, const Sos* sec, std::size_t n_sec,
                                           double* state) noexcept {
    const std::size_t groups = (io.channels + W - 1) / W;
    const std::size_t want = n_sec == 1 ? 4 : n_sec == 2 ? 2 : 1;
    std::array<float*, 4 * W> x{};
    for (std::size_t g = 0; g < groups;) {
        const std::size_t left = groups - g;
        const std::size_t k_n = want >= 4 && left >= 4 ? 4 : want >= 2 && left >= 2 ? 2 : 1;
        for (std::size_t j = 0; j < k_n * W; ++j) {
            const std::size_t c = g * W + j;
            x[j] = c < io.channels ? io.channel(c) : nullptr;
        }
        double* z = state + g * n_sec * 2 * W;
        if (k_n == 4)
            run_groups<W, 4>(x.data(), io.frames, sec, n_sec, z);
        else if (k_n == 2)
            run_groups<W, 2>(x.data(), io.frames, sec, n_sec, z);
        else
            run_groups<W, 1>(x.data(), io.frames, sec, n_sec, z);
        g += k_n;
    }
}

void run_lanes2(BlockRef io, const Sos* sec, std::size_t n_sec, double* state) noexcept {
    run_all<2>(io, sec, n_sec, state);
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SEMG_X86_LANES 1
// Compiled for AVX and AVX-512 as well and chosen at run time, so the binary runs on any x86-64.
// GCC would fuse a·b + c into one multiply-add where the target has it (AVX-512 does), rounding
// once instead of twice: fp-contract=off keeps every width equal to the scalar loop.
#define SEMG_TARGET(isa) __attribute__((target(isa), optimize("fp-contract=off")))
#else
#define SEMG_TARGET(isa)
#endif

SEMG_TARGET("avx")
void run_lanes4(BlockRef io, const Sos* sec, std::size_t n_sec, double* state) noexcept {
    run_all<4>(io, sec, n_sec, state);
}
SEMG_TARGET("avx512f")
void run_lanes8(BlockRef io, const Sos* sec, std::size_t n_sec, double* state) noexcept {
    run_all<8>(io, sec, n_sec, state);
}
#undef SEMG_TARGET

} // namespace

std::size_t SosFilter::native_lanes() noexcept {
#ifdef SEMG_X86_LANES
    __builtin_cpu_init(); // needed before main(), harmless after
    if (__builtin_cpu_supports("avx512f"))
        return 8;
    if (__builtin_cpu_supports("avx"))
        return 4;
#endif
    return 2;
}

// Few channels: the narrowest vector that holds them all (padding lanes cost gathering and
// scattering, and one vector's recursion takes as long whatever its width).
void SosFilter::prepare(const StreamSpec& spec) {
    prepare(spec, spec.channels <= 2 ? 2 : spec.channels <= 4 ? 4 : 8);
}

void SosFilter::prepare(const StreamSpec& spec, std::size_t lanes) {
    const std::size_t native = native_lanes();
    lanes_ = lanes >= 8 && native >= 8 ? 8 : lanes >= 4 && native >= 4 ? 4 : 2;
    channels_ = spec.channels;
    const std::size_t groups = (channels_ + lanes_ - 1) / lanes_;
    state_.assign(groups * lanes_ * sections_.size() * 2, 0.0);
}

void SosFilter::process(BlockRef io) noexcept {
    const std::size_t channels = std::min(io.channels, channels_);
    if (channels == 0 || io.frames == 0 || sections_.empty())
        return;
    // A channel of the filter absent from io (io.channels < channels_) keeps its state: the lanes
    // of its group that io does not fill run on zeros and are put back afterwards.
    const std::size_t partial = channels % lanes_;
    std::array<double, kMaxSections * 2 * 8> kept{};
    const std::size_t n_sec = sections_.size();
    double* last_group = state_.data() + (channels / lanes_) * n_sec * 2 * lanes_;
    const bool restore = partial != 0 && channels < channels_;
    if (restore)
        for (std::size_t j = 0; j < n_sec * 2; ++j)
            for (std::size_t l = partial; l < lanes_; ++l)
                kept[j * 8 + l] = last_group[j * lanes_ + l];
    const BlockRef used{io.data, io.frames, channels, io.stride};
    switch (lanes_) {
    case 8: run_lanes8(used, sections_.data(), n_sec, state_.data()); break;
    case 4: run_lanes4(used, sections_.data(), n_sec, state_.data()); break;
    default: run_lanes2(used, sections_.data(), n_sec, state_.data()); break;
    }
    if (restore)
        for (std::size_t j = 0; j < n_sec * 2; ++j)
            for (std::size_t l = partial; l < lanes_; ++l)
                last_group[j * lanes_ + l] = kept[j * 8 + l];
}

void SosFilter::reset() noexcept { std::fill(state_.begin(), state_.end(), 0.0); }

Bandpass::Bandpass(Config config) : config_(config) {
    if (!(config_.low_hz > 0.0) || !(config_.high_hz > config_.low_hz))
        throw std::invalid_argument("band-pass needs 0 < low < high, got " +
                                    format_number(config_.low_hz) + "-" +
                                    format_number(config_.high_hz) + " Hz");
    if (config_.order < 1 || config_.order > 12)
        throw std::invalid_argument("band-pass order must be 1..12");
}

void Bandpass::prepare(const StreamSpec& spec) {
    const double limit = 0.45 * spec.sample_rate_hz;
    clamped_ = config_.high_hz > limit;
    high_hz_ = std::min(config_.high_hz, limit);
    if (config_.low_hz >= high_hz_)
        throw std::invalid_argument("band-pass low edge " + format_number(config_.low_hz) +
                                    " Hz is above 0.45 x the sample rate (" + format_number(limit) +
                                    " Hz)");
    filter_ = SosFilter(butterworth(FilterKind::Bandpass, config_.order, config_.low_hz, high_hz_,
                                    spec.sample_rate_hz));
    filter_.prepare(spec);
}

} // namespace semg::dsp
