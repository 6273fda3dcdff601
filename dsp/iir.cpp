#include "dsp/iir.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <stdexcept>
#include <string>

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
    for (const auto& x : v) acc *= offset + sign * x;
    return acc;
}

// Digital zeros and poles to sections: conjugate pole pairs first, each with two zeros.
std::vector<Sos> to_sos(const Zpk& f) {
    std::vector<Complex> complex_poles, real_poles;
    for (const auto& p : f.p) {
        if (std::abs(p.imag()) > 1e-12 * std::max(1.0, std::abs(p))) {
            if (p.imag() > 0) complex_poles.push_back(p);
        } else {
            real_poles.push_back(p.real());
        }
    }
    std::vector<double> zeros;
    for (const auto& z : f.z) zeros.push_back(z.real()); // Butterworth zeros are at ±1
    std::sort(zeros.begin(), zeros.end());
    // Interleave so each section gets one zero from each end when both kinds exist (band-pass).
    std::vector<double> ordered;
    for (std::size_t lo = 0, hi = zeros.size(); lo < hi;) {
        ordered.push_back(zeros[--hi]);
        if (lo < hi) ordered.push_back(zeros[lo++]);
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
    for (auto& c : sections.front().b) c *= f.k;
    return sections;
}

} // namespace

std::vector<Sos> butterworth(FilterKind kind, int order, double low_hz, double high_hz,
                             double sample_rate_hz) {
    if (order < 1 || order > 12)
        throw std::invalid_argument("filter order must be 1..12, got " + std::to_string(order));
    static_assert(SosFilter::kMaxSections >= 12, "a band-pass of order 12 has 12 sections");
    if (!(sample_rate_hz > 0)) throw std::invalid_argument("sample rate must be positive");
    const double nyquist = sample_rate_hz / 2.0;
    const bool two_edges = kind == FilterKind::Bandpass;
    auto check = [&](double f) {
        if (!(f > 0.0 && f < nyquist))
            throw std::invalid_argument("filter edge " + std::to_string(f) +
                                        " Hz is outside (0, " + std::to_string(nyquist) + ") Hz");
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
        for (auto& p : a.p) s.p.push_back(p * w1);
        s.k = std::pow(w1, order);
    } else if (kind == FilterKind::Highpass) {
        for (auto& p : a.p) s.p.push_back(w1 / p);
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
    for (const auto& z : s.z) d.z.push_back((fs2 + z) / (fs2 - z));
    for (const auto& p : s.p) d.p.push_back((fs2 + p) / (fs2 - p));
    while (d.z.size() < d.p.size()) d.z.emplace_back(-1.0, 0.0);
    d.k = s.k * (product(s.z, fs2, -1.0) / product(s.p, fs2, -1.0)).real();
    return to_sos(d);
}

double magnitude_at(const std::vector<Sos>& sections, double freq_hz, double sample_rate_hz) {
    const Complex z = std::exp(Complex(0.0, -2.0 * std::numbers::pi * freq_hz / sample_rate_hz));
    Complex h(1.0, 0.0);
    for (const auto& s : sections)
        h *= (s.b[0] + s.b[1] * z + s.b[2] * z * z) / (s.a[0] + s.a[1] * z + s.a[2] * z * z);
    return std::abs(h);
}

void SosFilter::prepare(const StreamSpec& spec) {
    channels_ = spec.channels;
    state_.assign(channels_ * sections_.size(), {0.0, 0.0});
}

// Runs G channels side by side: their recursions are independent, so the CPU (or the
// vectoriser) overlaps them instead of waiting on one channel's chain of multiply-adds.
// Each channel sees exactly the operations of the one-channel loop, so results are identical.
template <std::size_t G>
void SosFilter::process_group(BlockRef io, std::size_t first) noexcept {
    const std::size_t n_sec = sections_.size();
    std::array<std::array<double, G>, kMaxSections> z1{}, z2{};
    std::array<float*, G> x{};
    for (std::size_t g = 0; g < G; ++g) {
        x[g] = io.channel(first + g);
        for (std::size_t s = 0; s < n_sec; ++s) {
            z1[s][g] = state_[(first + g) * n_sec + s][0];
            z2[s][g] = state_[(first + g) * n_sec + s][1];
        }
    }
    for (std::size_t i = 0; i < io.frames; ++i) {
        std::array<double, G> v{};
        for (std::size_t g = 0; g < G; ++g) v[g] = x[g][i];
        for (std::size_t s = 0; s < n_sec; ++s) {
            const Sos& q = sections_[s];
            for (std::size_t g = 0; g < G; ++g) {
                const double y = q.b[0] * v[g] + z1[s][g];
                z1[s][g] = q.b[1] * v[g] - q.a[1] * y + z2[s][g];
                z2[s][g] = q.b[2] * v[g] - q.a[2] * y;
                v[g] = y;
            }
        }
        for (std::size_t g = 0; g < G; ++g) x[g][i] = static_cast<float>(v[g]);
    }
    for (std::size_t g = 0; g < G; ++g)
        for (std::size_t s = 0; s < n_sec; ++s)
            state_[(first + g) * n_sec + s] = {z1[s][g], z2[s][g]};
}

void SosFilter::process(BlockRef io) noexcept {
    const std::size_t channels = std::min(io.channels, channels_);
    std::size_t c = 0;
    for (; c + 4 <= channels; c += 4) process_group<4>(io, c);
    for (; c < channels; ++c) process_group<1>(io, c);
}

void SosFilter::reset() noexcept { std::fill(state_.begin(), state_.end(), std::array<double, 2>{0.0, 0.0}); }

Bandpass::Bandpass(Config config) : config_(config) {
    if (!(config_.low_hz > 0.0) || !(config_.high_hz > config_.low_hz))
        throw std::invalid_argument("band-pass needs 0 < low < high, got " +
                                    std::to_string(config_.low_hz) + "-" +
                                    std::to_string(config_.high_hz) + " Hz");
    if (config_.order < 1 || config_.order > 12)
        throw std::invalid_argument("band-pass order must be 1..12");
}

void Bandpass::prepare(const StreamSpec& spec) {
    const double limit = 0.45 * spec.sample_rate_hz;
    clamped_ = config_.high_hz > limit;
    high_hz_ = std::min(config_.high_hz, limit);
    if (config_.low_hz >= high_hz_)
        throw std::invalid_argument("band-pass low edge " + std::to_string(config_.low_hz) +
                                    " Hz is above 0.45 x the sample rate (" +
                                    std::to_string(limit) + " Hz)");
    filter_ = SosFilter(butterworth(FilterKind::Bandpass, config_.order, config_.low_hz, high_hz_,
                                    spec.sample_rate_hz));
    filter_.prepare(spec);
}

} // namespace semg::dsp
