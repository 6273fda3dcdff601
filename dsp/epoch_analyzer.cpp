#include "dsp/epoch_analyzer.hpp"
#include "dsp/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace semg::dsp {

void check_epoch(double epoch_s, double overlap) {
    if (!(epoch_s > 0.0))
        throw std::invalid_argument("epoch length must be positive, got " + format_number(epoch_s) +
                                    " s");
    if (!(overlap >= 0.0 && overlap < 1.0))
        throw std::invalid_argument("epoch overlap must be in [0, 1), got " +
                                    format_number(overlap));
}

EpochGeometry epoch_geometry(double epoch_s, double overlap, double sample_rate_hz) {
    check_epoch(epoch_s, overlap);
    EpochGeometry g;
    g.epoch_frames = static_cast<std::size_t>(std::lround(epoch_s * sample_rate_hz));
    g.hop_frames = static_cast<std::size_t>(
        std::lround(static_cast<double>(g.epoch_frames) * (1.0 - overlap)));
    if (g.epoch_frames < 16 || g.hop_frames == 0)
        throw std::invalid_argument("an epoch of " + format_number(epoch_s) + " s at " +
                                    format_number(sample_rate_hz) + " Hz is too short");
    return g;
}

EpochAnalyzer::EpochAnalyzer(Config config) : config_(config), psd_(config.psd) {
    check_epoch(config_.epoch_s, config_.overlap);
}

void EpochAnalyzer::prepare(const StreamSpec& spec) {
    spec_ = spec;
    const auto geometry = epoch_geometry(config_.epoch_s, config_.overlap, spec.sample_rate_hz);
    epoch_frames_ = geometry.epoch_frames;
    hop_frames_ = geometry.hop_frames;
    psd_.prepare(spec.sample_rate_hz, epoch_frames_);
    for (std::size_t k = 0; k < 3; ++k) {
        SpectralBand band = config_.band;
        band.mains_hz = kMainsChoices[k];
        spectral_[k] = SpectralFeatures(band, psd_.bin_hz(), psd_.bins());
        if (spectral_[k].included_bins() == 0)
            throw std::invalid_argument("no PSD bin falls in the analysis band");
    }
    set_mains_hz(config_.band.mains_hz);
    buffer_.assign(epoch_frames_ * spec.channels, 0.0f);
    psd_values_.assign(psd_.bins(), 0.0);
    share_segments_ = hop_frames_ % psd_.step_frames() == 0;
    segment_power_.assign(spec.channels * psd_.segments() * psd_.bins(), 0.0);
    frame_.channels.assign(spec.channels, EpochFeatures{});
    reset();
}

void EpochAnalyzer::set_mains_hz(double mains_hz) noexcept {
    layout_ = mains_hz == 50.0 ? 1 : mains_hz == 60.0 ? 2 : 0;
}

void EpochAnalyzer::reset() noexcept {
    fill_ = 0;
    next_index_ = 0;
    segments_done_ = 0;
}

std::size_t EpochAnalyzer::fill(ConstBlockRef in, std::size_t offset) noexcept {
    const std::size_t take = std::min(in.frames - offset, epoch_frames_ - fill_);
    for (std::size_t c = 0; c < spec_.channels; ++c)
        std::memcpy(buffer_.data() + c * epoch_frames_ + fill_, in.channel(c) + offset,
                    take * sizeof(float));
    fill_ += take;
    return take;
}

void EpochAnalyzer::analyse() noexcept {
    frame_.index = next_index_;
    frame_.first_frame = next_index_ * hop_frames_;
    frame_.t_start_s = static_cast<double>(frame_.first_frame) / spec_.sample_rate_hz;
    frame_.t_end_s = static_cast<double>(frame_.first_frame + epoch_frames_) / spec_.sample_rate_hz;
    // Segment j of this epoch is stream segment base + j, kept in slot (base + j) % n of the
    // channel's ring; those below segments_done_ were transformed for an earlier epoch.
    const std::size_t n = psd_.segments(), bins = psd_.bins();
    const std::uint64_t base = share_segments_ ? frame_.first_frame / psd_.step_frames() : 0;
    const std::size_t kept =
        share_segments_ && segments_done_ > base
            ? static_cast<std::size_t>(std::min<std::uint64_t>(segments_done_ - base, n))
            : 0;
    for (std::size_t c = 0; c < spec_.channels; ++c) {
        const float* x = buffer_.data() + c * epoch_frames_;
        EpochFeatures& f = frame_.channels[c];
        f = EpochFeatures{};
        temporal_features(x, epoch_frames_, spec_.sample_rate_hz, f);
        double* ring = segment_power_.data() + c * n * bins;
        psd_.segment_powers(x, kept, n - kept, ring, base);
        psd_.psd_from(ring, base, psd_values_);
        spectral_[layout_].compute(psd_values_, f);
    }
    segments_done_ = base + n;
}

void EpochAnalyzer::advance() noexcept {
    const std::size_t keep = epoch_frames_ - hop_frames_;
    for (std::size_t c = 0; c < spec_.channels; ++c) {
        float* x = buffer_.data() + c * epoch_frames_;
        std::memmove(x, x + hop_frames_, keep * sizeof(float));
    }
    fill_ = keep;
    ++next_index_;
}

} // namespace semg::dsp
