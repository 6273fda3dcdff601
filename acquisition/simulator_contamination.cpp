// Contamination added on top of the simulated EMG (see simulator_contamination.hpp).
#include "acquisition/simulator_contamination.hpp"

#include <algorithm>
#include <cmath>

namespace semg::acquisition::sim {
namespace {

using nlohmann::json;

// ---- ECG waveform -------------------------------------------------------------------------------

struct Wave {
    double amplitude, offset_s, sigma_s;
};
// P, Q, R, S, T of a surface ECG complex per unit R amplitude.
constexpr std::array<Wave, 5> ecg_waves{{{0.12, -0.16, 0.020},
                                         {-0.15, -0.030, 0.006},
                                         {1.00, 0.000, 0.007},
                                         {-0.30, 0.030, 0.007},
                                         {0.25, 0.260, 0.045}}};
// A narrow QRS alone (Q, R, S), for leads that show no P or T wave.
constexpr std::array<Wave, 5> ecg_waves_qrs{{{0.0, 0.0, 1.0},
                                             {-0.10, -0.012, 0.003},
                                             {1.00, 0.000, 0.004},
                                             {-0.25, 0.012, 0.004},
                                             {0.0, 0.0, 1.0}}};
const std::array<Wave, 5>& ecg_shape(const std::string& shape) noexcept {
    return shape == "qrs" ? ecg_waves_qrs : ecg_waves;
}
constexpr double ecg_before_s =
    0.30; // a complex has no power outside [beat − before, beat + after]
constexpr double ecg_after_s = 0.60;

double ecg_wave(double dt_s, const std::array<Wave, 5>& waves) noexcept {
    double v = 0.0;
    for (const auto& w : waves) {
        const double z = (dt_s - w.offset_s) / w.sigma_s;
        v += w.amplitude * std::exp(-0.5 * z * z);
    }
    return v;
}

// Peak of sin(x)·(1 − cos x)/2, at cos x = −1/2: (√3/2)·(3/4).
constexpr double motion_peak = 0.6495190528383290;

double snr_rms_uv(const NoiseSpec& spec, double rms0_uv) {
    return spec.snr_db ? rms0_uv * std::pow(10.0, -*spec.snr_db / 20.0) : 0.0;
}

} // namespace

// ---- Baseline noise -----------------------------------------------------------------------------

BaselineNoise::BaselineNoise(const NoiseSpec& spec, std::uint64_t seed, std::size_t channels)
    : rms_uv_(spec.baseline_uv) {
    for (std::size_t c = 0; c < channels; ++c)
        rng_.emplace_back(seed, BaselineStream + c);
}

void BaselineNoise::add(std::size_t channel, std::span<double> x) noexcept {
    if (!(rms_uv_ > 0.0))
        return;
    auto& rng = rng_[channel];
    for (double& v : x)
        v += rms_uv_ * rng.normal();
}

std::optional<json> BaselineNoise::truth() const {
    if (!(rms_uv_ > 0.0))
        return std::nullopt;
    return json{{"type", "baseline_noise"},
                {"description", "white Gaussian noise on every channel, all the time"},
                {"rms_uv", rms_uv_}};
}

// ---- White noise at an SNR ----------------------------------------------------------------------

SnrNoise::SnrNoise(const NoiseSpec& spec, std::uint64_t seed,
                   const std::vector<ChannelModel>& channels)
    : snr_db_(spec.snr_db) {
    for (std::size_t c = 0; c < channels.size(); ++c) {
        rms_uv_.push_back(snr_rms_uv(spec, channels[c].rms0_uv));
        rng_.emplace_back(seed, SnrStream + c);
    }
}

void SnrNoise::add(std::size_t channel, std::span<double> x) noexcept {
    const double sd = rms_uv_[channel];
    if (!(sd > 0.0))
        return;
    auto& rng = rng_[channel];
    for (double& v : x)
        v += sd * rng.normal();
}

std::optional<json> SnrNoise::truth(const std::vector<ChannelModel>& channels) const {
    if (!snr_db_)
        return std::nullopt;
    json per = json::array();
    for (std::size_t c = 0; c < channels.size(); ++c)
        per.push_back({{"label", channels[c].label}, {"rms_uv", rms_uv_[c]}});
    return json{{"type", "white_noise"},
                {"snr_db", *snr_db_},
                {"description", "white Gaussian noise at rms0_uv * 10^(-snr_db/20)"},
                {"channels", per}};
}

// ---- ECG ----------------------------------------------------------------------------------------

Ecg::Beats::Beats(const EcgSpec& spec, std::uint64_t seed)
    : rng_(seed, EcgStream), rr_s_(60.0 / spec.heart_rate_bpm), hrv_(spec.hrv_fraction) {
    next_s_ = rr_s_ * rng_.uniform();
}

double Ecg::Beats::pop() noexcept {
    const double t = next_s_;
    const double rr = rr_s_ * std::clamp(1.0 + hrv_ * rng_.normal(), 0.5, 1.5);
    next_s_ += rr;
    return t;
}

Ecg::Ecg(const EcgSpec& spec, std::uint64_t seed, std::size_t chunk_frames)
    : spec_(spec), seed_(seed), beats_(spec, seed), wave_(chunk_frames, 0.0) {
    active_beats_.reserve(64);
}

double Ecg::peak_uv(const EcgSpec& spec, double mean_rms0_uv, Side side, const std::string& level) {
    const auto ordinal = level_top_ordinal(level);
    const double level_gain =
        ordinal ? std::exp(-spec.level_decay * static_cast<double>(*ordinal - level_ordinal_l1))
                : 1.0;
    return spec.ratio * mean_rms0_uv * (side == Side::Left ? 1.0 : spec.right_gain) * level_gain;
}

void Ecg::prepare(const ChunkClock& clock) noexcept {
    const auto& t_s = clock.t_s;
    const double t0 = t_s.front(), t1 = t_s.back();
    while (beats_.peek() < t1 + ecg_before_s)
        active_beats_.push_back(beats_.pop());
    std::erase_if(active_beats_, [&](double b) { return b + ecg_after_s < t0; });
    std::fill(wave_.begin(), wave_.end(), 0.0);
    const auto& shape = ecg_shape(spec_.shape);
    for (double b : active_beats_)
        for (std::size_t i = 0; i < t_s.size(); ++i) {
            const double dt = t_s[i] - b;
            if (dt > -ecg_before_s && dt < ecg_after_s)
                wave_[i] += ecg_wave(dt, shape);
        }
}

void Ecg::add(double peak_uv, std::span<double> x) const noexcept {
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] += peak_uv * wave_[i];
}

json Ecg::truth(const std::vector<ChannelModel>& channels, double duration_s) const {
    json per = json::array();
    for (const auto& ch : channels)
        per.push_back({{"label", ch.label}, {"r_peak_uv", ch.ecg_peak_uv}});
    json waves = json::array();
    for (const auto& w : ecg_shape(spec_.shape))
        if (w.amplitude != 0.0)
            waves.push_back(
                {{"amplitude", w.amplitude}, {"offset_s", w.offset_s}, {"sigma_s", w.sigma_s}});
    std::vector<double> r_peaks; // replayed from the start
    Beats beats(spec_, seed_);
    while (beats.peek() < duration_s)
        r_peaks.push_back(beats.pop());
    return {{"type", "ecg"},
            {"ratio", spec_.ratio},
            {"heart_rate_bpm", spec_.heart_rate_bpm},
            {"hrv_fraction", spec_.hrv_fraction},
            {"right_gain", spec_.right_gain},
            {"level_decay", spec_.level_decay},
            {"shape", spec_.shape},
            {"waves", waves},
            {"channels", per},
            {"r_peak_times_s", r_peaks}};
}

// ---- Mains --------------------------------------------------------------------------------------

Mains::Mains(const MainsSpec& spec, std::uint64_t seed, std::size_t channels) : spec_(spec) {
    Random rng(seed, MainsStream);
    for (std::size_t c = 0; c < channels; ++c)
        for (std::size_t h = 0; h < spec.harmonics.size(); ++h) {
            const double phi = two_pi * rng.uniform();
            cos_sin_.push_back({std::cos(phi), std::sin(phi)});
        }
}

void Mains::apply(std::size_t channel, const ChunkClock& clock, std::span<float> y) const noexcept {
    const double fs = clock.sample_rate_hz;
    const std::size_t nh = spec_.harmonics.size();
    for (std::size_t h = 0; h < nh; ++h) {
        const double f = spec_.frequency_hz * static_cast<double>(h + 1);
        const double a = spec_.amplitude_uv * spec_.harmonics[h];
        if (a == 0.0 || f >= 0.5 * fs)
            continue;
        const auto [cp, sp] = cos_sin_[channel * nh + h];
        for (std::size_t i = 0; i < y.size(); ++i) {
            const double cycles = f * static_cast<double>(clock.first_frame + i) / fs;
            const double th = two_pi * (cycles - std::floor(cycles));
            y[i] += static_cast<float>(a * (std::sin(th) * cp + std::cos(th) * sp));
        }
    }
}

json Mains::truth(double sample_rate_hz) const {
    json harm = json::array();
    for (std::size_t h = 0; h < spec_.harmonics.size(); ++h) {
        const double f = spec_.frequency_hz * static_cast<double>(h + 1);
        if (spec_.harmonics[h] == 0.0)
            continue;
        harm.push_back({{"frequency_hz", f},
                        {"amplitude_uv", spec_.amplitude_uv * spec_.harmonics[h]},
                        {"present", f < 0.5 * sample_rate_hz}});
    }
    return {{"type", "mains"},
            {"frequency_hz", spec_.frequency_hz},
            {"harmonics", harm},
            {"channels", "all"}};
}

// ---- Baseline wander ----------------------------------------------------------------------------

Wander::Wander(const WanderSpec& spec, std::uint64_t seed, std::size_t channels)
    : rms_uv_(spec.amplitude_uv) {
    Random rng(seed, WanderStream);
    const double f_hi = spec.max_frequency_hz;
    const double f_lo = std::min(0.05, 0.5 * f_hi);
    const double a = spec.amplitude_uv * std::sqrt(2.0 / static_cast<double>(spec.components));
    components_.resize(channels);
    for (std::size_t c = 0; c < channels; ++c)
        for (int k = 0; k < spec.components; ++k) {
            const double f = f_lo + (f_hi - f_lo) * rng.uniform();
            components_[c].push_back({a, f, two_pi * rng.uniform()});
        }
}

void Wander::apply(std::size_t channel, const ChunkClock& clock,
                   std::span<float> y) const noexcept {
    for (const auto& w : components_[channel])
        for (std::size_t i = 0; i < y.size(); ++i) {
            const double cycles = w.frequency_hz * clock.t_s[i];
            y[i] += static_cast<float>(
                w.amplitude_uv * std::sin(two_pi * (cycles - std::floor(cycles)) + w.phase_rad));
        }
}

json Wander::truth(const std::vector<ChannelModel>& channels) const {
    json per = json::array();
    for (std::size_t c = 0; c < channels.size(); ++c) {
        json comps = json::array();
        for (const auto& w : components_[c])
            comps.push_back({{"amplitude_uv", w.amplitude_uv},
                             {"frequency_hz", w.frequency_hz},
                             {"phase_rad", w.phase_rad}});
        per.push_back({{"label", channels[c].label}, {"components", comps}});
    }
    return {{"type", "baseline_wander"}, {"rms_uv", rms_uv_}, {"channels", per}};
}

// ---- Motion artefact ----------------------------------------------------------------------------

Motion::Motion(const MotionSpec& spec, std::optional<std::size_t> channel)
    : spec_(spec), channel_(channel) {}

void Motion::apply(std::size_t channel, const ChunkClock& clock,
                   std::span<float> y) const noexcept {
    if (channel_ && *channel_ != channel)
        return;
    const auto& t_s = clock.t_s;
    if (spec_.time_s > t_s.back() || spec_.time_s + spec_.duration_s < t_s.front())
        return;
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double u = (t_s[i] - spec_.time_s) / spec_.duration_s;
        if (u < 0.0 || u >= 1.0)
            continue;
        const double v = std::sin(two_pi * u) * (0.5 - 0.5 * std::cos(two_pi * u));
        y[i] += static_cast<float>(spec_.amplitude_uv * v / motion_peak); // peak = amplitude_uv
    }
}

json Motion::truth(const std::vector<ChannelModel>& channels) const {
    return {{"type", "motion"},
            {"start_s", spec_.time_s},
            {"end_s", spec_.time_s + spec_.duration_s},
            {"amplitude_uv", spec_.amplitude_uv},
            {"channel", channel_ ? json(channels[*channel_].label) : json("all")}};
}

// ---- Clipping -----------------------------------------------------------------------------------

Clip::Clip(const ClipSpec& spec, std::size_t channel, double level_uv)
    : start_s_(spec.start_s), channel_(channel), level_uv_(level_uv) {}

void Clip::apply(std::size_t channel, const ChunkClock& clock, std::span<float> y) const noexcept {
    if (channel != channel_)
        return;
    const auto level = static_cast<float>(level_uv_);
    for (std::size_t i = 0; i < y.size(); ++i)
        if (clock.t_s[i] >= start_s_)
            y[i] = std::clamp(y[i], -level, level);
}

json Clip::truth(const std::vector<ChannelModel>& channels) const {
    return {{"type", "clip"},
            {"channel", channels[channel_].label},
            {"start_s", start_s_},
            {"level_uv", level_uv_}};
}

// ---- Flatline -----------------------------------------------------------------------------------

Flatline::Flatline(const FlatlineSpec& spec, std::size_t channel)
    : spec_(spec), channel_(channel) {}

void Flatline::apply(std::size_t channel, const ChunkClock& clock,
                     std::span<float> y) const noexcept {
    if (channel != channel_)
        return;
    for (std::size_t i = 0; i < y.size(); ++i)
        if (clock.t_s[i] >= spec_.start_s)
            y[i] = static_cast<float>(spec_.value_uv);
}

json Flatline::truth(const std::vector<ChannelModel>& channels) const {
    return {{"type", "flatline"},
            {"channel", channels[channel_].label},
            {"start_s", spec_.start_s},
            {"value_uv", spec_.value_uv}};
}

// ---- All of them --------------------------------------------------------------------------------

Contamination::Contamination(const Scenario& s, const std::vector<ChannelModel>& channels,
                             std::size_t chunk_frames)
    : baseline_(s.noise, s.seed, channels.size()), snr_(s.noise, s.seed, channels) {
    if (s.ecg.enabled)
        ecg_.emplace(s.ecg, s.seed, chunk_frames);
    if (s.mains.frequency_hz > 0.0)
        mains_.emplace(s.mains, s.seed, channels.size());
    if (s.wander.amplitude_uv > 0.0)
        wander_.emplace(s.wander, s.seed, channels.size());
    for (const auto& m : s.motion)
        motion_.emplace_back(m, m.channel.empty()
                                    ? std::nullopt
                                    : std::optional<std::size_t>(resolve_channel(s, m.channel)));
    for (const auto& c : s.clips) {
        const std::size_t channel = resolve_channel(s, c.channel);
        clips_.emplace_back(c, channel, c.level_uv.value_or(1.5 * channels[channel].rms0_uv));
    }
    for (const auto& f : s.flatlines)
        flatlines_.emplace_back(f, resolve_channel(s, f.channel));
}

void Contamination::prepare(const ChunkClock& clock) noexcept {
    if (ecg_)
        ecg_->prepare(clock);
}

void Contamination::add(std::size_t channel, double ecg_peak_uv, std::span<double> x) noexcept {
    baseline_.add(channel, x);
    snr_.add(channel, x);
    if (ecg_)
        ecg_->add(ecg_peak_uv, x);
}

void Contamination::apply(std::size_t channel, const ChunkClock& clock,
                          std::span<float> y) const noexcept {
    if (mains_)
        mains_->apply(channel, clock, y);
    if (wander_)
        wander_->apply(channel, clock, y);
    for (const auto& m : motion_)
        m.apply(channel, clock, y);
    for (const auto& c : clips_)
        c.apply(channel, clock, y);
    for (const auto& f : flatlines_)
        f.apply(channel, clock, y);
}

json Contamination::truth(const std::vector<ChannelModel>& channels, double sample_rate_hz,
                          double duration_s) const {
    json out = json::array();
    if (auto t = baseline_.truth())
        out.push_back(std::move(*t));
    if (auto t = snr_.truth(channels))
        out.push_back(std::move(*t));
    if (ecg_)
        out.push_back(ecg_->truth(channels, duration_s));
    if (mains_)
        out.push_back(mains_->truth(sample_rate_hz));
    if (wander_)
        out.push_back(wander_->truth(channels));
    for (const auto& m : motion_)
        out.push_back(m.truth(channels));
    for (const auto& c : clips_)
        out.push_back(c.truth(channels));
    for (const auto& f : flatlines_)
        out.push_back(f.truth(channels));
    return out;
}

} // namespace semg::acquisition::sim
