#include "dsp/mains.hpp"
#include "dsp/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace semg::dsp {
namespace {

constexpr double kFamilies[2] = {50.0, 60.0};
constexpr double kHarmonics[2] = {1.0, 3.0};
constexpr double kFloor = 1e-30;

// P(Gamma(k, 1) > x) for integer k: e^-x Σ_{i<k} x^i / i!, summed in log space.
double gamma_survival(std::size_t k, double x) {
    double term = 1.0, sum = 1.0;
    for (std::size_t i = 1; i < k; ++i) {
        term *= x / static_cast<double>(i);
        sum += term;
    }
    return std::exp(-x + std::log(sum));
}

} // namespace

MainsDetector::MainsDetector(Config config)
    : config_(config), psd_({PsdMethod::Periodogram, config.block_s}) {
    if (!(config_.detect_s > 0.0) || !(config_.block_s > 0.0) || config_.block_s > config_.detect_s)
        throw std::invalid_argument("mains detection needs 0 < block_s <= detect_s");
    if (!(config_.false_alarm > 0.0 && config_.false_alarm < 0.5))
        throw std::invalid_argument("mains false-alarm probability must be in (0, 0.5)");
    if (!(config_.neighbour_low_hz > 0.0 && config_.neighbour_high_hz > config_.neighbour_low_hz))
        throw std::invalid_argument("mains neighbour band must satisfy 0 < low < high");
}

double MainsDetector::threshold_db(std::size_t blocks, double false_alarm) {
    const std::size_t k = std::max<std::size_t>(blocks, 1);
    double lo = 0.0, hi = 10.0 * static_cast<double>(k) + 50.0;
    for (int i = 0; i < 200; ++i) {
        const double mid = 0.5 * (lo + hi);
        (gamma_survival(k, mid) > false_alarm ? lo : hi) = mid;
    }
    return 10.0 * std::log10(hi / static_cast<double>(k));
}

void MainsDetector::prepare(const StreamSpec& spec, double band_high_hz) {
    spec_ = spec;
    block_frames_ = static_cast<std::size_t>(std::lround(config_.block_s * spec.sample_rate_hz));
    if (block_frames_ < 16)
        throw std::invalid_argument("mains detection block is too short at this sample rate");
    max_blocks_ = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::floor(config_.detect_s / config_.block_s + 1e-9)));
    psd_.prepare(spec.sample_rate_hz, block_frames_);
    psd_values_.assign(psd_.bins(), 0.0);
    buffer_.assign(block_frames_ * spec.channels, 0.0f);
    const double bin_hz = psd_.bin_hz();
    const std::size_t last_bin = psd_.bins() - 1;
    for (std::size_t f = 0; f < 2; ++f)
        for (std::size_t h = 0; h < 2; ++h) {
            const double freq = kFamilies[f] * kHarmonics[h];
            Probe p;
            p.line_bin = static_cast<std::size_t>(std::lround(freq / bin_hz));
            const auto bin_of = [&](double hz) {
                return static_cast<std::ptrdiff_t>(std::lround(hz / bin_hz));
            };
            const std::ptrdiff_t lo_first = bin_of(freq - config_.neighbour_high_hz);
            const std::ptrdiff_t lo_last = bin_of(freq - config_.neighbour_low_hz);
            const std::ptrdiff_t hi_first = bin_of(freq + config_.neighbour_low_hz);
            const std::ptrdiff_t hi_last = bin_of(freq + config_.neighbour_high_hz);
            p.valid = freq <= band_high_hz && lo_first >= 1 &&
                      hi_last <= static_cast<std::ptrdiff_t>(last_bin) && lo_last >= lo_first &&
                      hi_last >= hi_first;
            if (p.valid) {
                p.first_neighbour = static_cast<std::size_t>(lo_first);
                p.last_neighbour = static_cast<std::size_t>(lo_last);
                p.first_upper = static_cast<std::size_t>(hi_first);
                p.last_upper = static_cast<std::size_t>(hi_last);
            }
            probes_[f][h] = p;
        }
    ratio_sum_.assign(spec.channels * 4, 0.0);
    threshold_by_blocks_.resize(max_blocks_ + 1);
    for (std::size_t k = 0; k <= max_blocks_; ++k)
        threshold_by_blocks_[k] = threshold_db(k, config_.false_alarm);
    reset();
}

void MainsDetector::reset() noexcept {
    fill_ = 0;
    blocks_ = 0;
    std::fill(ratio_sum_.begin(), ratio_sum_.end(), 0.0);
    decided_hz_ = 0.0;
    final_ = false;
}

void MainsDetector::process(ConstBlockRef in) noexcept {
    std::size_t done = 0;
    while (!final_ && done < in.frames) {
        const std::size_t take = std::min(in.frames - done, block_frames_ - fill_);
        for (std::size_t c = 0; c < spec_.channels; ++c)
            std::memcpy(buffer_.data() + c * block_frames_ + fill_, in.channel(c) + done,
                        take * sizeof(float));
        fill_ += take;
        done += take;
        if (fill_ == block_frames_) {
            analyse_block();
            fill_ = 0;
        }
    }
}

void MainsDetector::analyse_block() noexcept {
    for (std::size_t c = 0; c < spec_.channels; ++c) {
        psd_.compute(buffer_.data() + c * block_frames_, psd_values_);
        for (std::size_t f = 0; f < 2; ++f)
            for (std::size_t h = 0; h < 2; ++h) {
                const Probe& p = probes_[f][h];
                if (!p.valid)
                    continue;
                double neighbours = 0.0;
                std::size_t count = 0;
                for (std::size_t k = p.first_neighbour; k <= p.last_neighbour; ++k, ++count)
                    neighbours += psd_values_[k];
                for (std::size_t k = p.first_upper; k <= p.last_upper; ++k, ++count)
                    neighbours += psd_values_[k];
                // Each block's ratio is Exp(1)-distributed on a smooth noise spectrum whatever
                // the block's power, so blocks of rest and of contraction weigh the same.
                const std::size_t i = (c * 2 + f) * 2 + h;
                const double mean = neighbours / static_cast<double>(count),
                             line = psd_values_[p.line_bin];
                ratio_sum_[i] += mean > kFloor ? line / mean : 1.0;
            }
    }
    ++blocks_;
    decide();
    if (blocks_ >= max_blocks_)
        final_ = true;
}

double MainsDetector::ratio_db(std::size_t i) const noexcept {
    return blocks_ > 0 ? 10.0 * std::log10(ratio_sum_[i] / static_cast<double>(blocks_)) : 0.0;
}

void MainsDetector::decide() noexcept {
    double best[2] = {-std::numeric_limits<double>::infinity(),
                      -std::numeric_limits<double>::infinity()};
    for (std::size_t c = 0; c < spec_.channels; ++c)
        for (std::size_t f = 0; f < 2; ++f) {
            if (!probes_[f][0].valid)
                continue;
            const std::size_t i = (c * 2 + f) * 2;
            best[f] = std::max(best[f], ratio_db(i));
        }
    const double threshold = threshold_by_blocks_[std::min(blocks_, max_blocks_)];
    const std::size_t winner = best[1] > best[0] ? 1 : 0;
    decided_hz_ = best[winner] >= threshold ? kFamilies[winner] : 0.0;
}

MainsReport MainsDetector::report() const {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    MainsReport r;
    r.frequency_hz = decided_hz_;
    r.final = final_;
    r.blocks = blocks_;
    r.threshold_db =
        threshold_by_blocks_.empty() ? nan : threshold_by_blocks_[std::min(blocks_, max_blocks_)];
    for (std::size_t f = 0; f < 2; ++f) {
        r.fundamental_db[f] = r.third_harmonic_db[f] = nan;
        if (blocks_ == 0)
            continue;
        for (std::size_t h = 0; h < 2; ++h) {
            if (!probes_[f][h].valid)
                continue;
            double best = -std::numeric_limits<double>::infinity();
            std::size_t at = 0;
            for (std::size_t c = 0; c < spec_.channels; ++c) {
                const std::size_t i = (c * 2 + f) * 2 + h;
                const double db = ratio_db(i);
                if (db > best)
                    best = db, at = c;
            }
            (h == 0 ? r.fundamental_db[f] : r.third_harmonic_db[f]) = best;
            if (h == 0)
                r.channel[f] = at;
        }
    }
    // Confidence: how far the evidence is from the threshold, and whether the other family
    // also looks like mains (two families above threshold: something other than mains is tonal).
    const double t = r.threshold_db;
    const auto val = [](double v) {
        return std::isfinite(v) ? v : -std::numeric_limits<double>::infinity();
    };
    const double e50 = val(r.fundamental_db[0]), e60 = val(r.fundamental_db[1]);
    if (blocks_ == 0) {
        r.confidence = "low";
    } else if (r.frequency_hz > 0.0) {
        const double win = std::max(e50, e60), other = std::min(e50, e60);
        if (other >= t)
            r.confidence = "low";
        else
            r.confidence = win >= t + 6.0 ? "high" : "medium";
    } else {
        const double top = std::max(e50, e60);
        r.confidence = top < t - 3.0 ? "high" : "medium";
    }
    return r;
}

MainsNotch::MainsNotch(Config config) : config_(config) {
    if (!(config_.bandwidth_hz >= 0.0 && config_.bandwidth_hz <= 10.0))
        throw std::invalid_argument("mains notch bandwidth must be between 0 and 10 Hz, got " +
                                    format_number(config_.bandwidth_hz));
}

void MainsNotch::prepare(const StreamSpec& spec, double band_high_hz) {
    for (std::size_t k = 0; k < 2; ++k) {
        combs_[k].clear();
        const auto comb =
            mains_comb(kFamilies[k], config_.bandwidth_hz, band_high_hz, spec.sample_rate_hz);
        for (std::size_t i = 0; i < comb.size(); i += SosFilter::kMaxSections) {
            const auto end = comb.begin() + static_cast<std::ptrdiff_t>(
                                                std::min(comb.size(), i + SosFilter::kMaxSections));
            combs_[k].emplace_back(
                std::vector<Sos>(comb.begin() + static_cast<std::ptrdiff_t>(i), end));
            combs_[k].back().prepare(spec);
        }
    }
    active_ = -1;
}

void MainsNotch::set_mains_hz(double mains_hz) noexcept {
    const int next = mains_hz == 50.0 ? 0 : mains_hz == 60.0 ? 1 : -1;
    if (next == active_)
        return;
    active_ = next;
    reset();
}

void MainsNotch::process(BlockRef io) noexcept {
    if (active_ < 0)
        return;
    for (auto& piece : combs_[static_cast<std::size_t>(active_)])
        piece.process(io);
}

void MainsNotch::reset() noexcept {
    for (auto& family : combs_)
        for (auto& piece : family)
            piece.reset();
}

} // namespace semg::dsp
