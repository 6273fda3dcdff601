// The simulator as a Source: EMG synthesis by overlap-add, contamination on top, ground truth
// (see simulator.hpp).
#include "acquisition/simulator.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <stdexcept>

namespace semg::acquisition {
namespace {

using sim::two_pi;

// Numbers in messages as a person writes them: 56.25, not 56.250000.
std::string num(double v, int digits = 6) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    return text;
}

// Raised-cosine ramps at both ends of a contraction; t_s inside [start_s, end_s].
double ramp_envelope(const Contraction& c, double ramp_s, double t_s) noexcept {
    const double edge = std::min(t_s - c.start_s, c.end_s - t_s);
    if (edge >= ramp_s)
        return 1.0;
    return 0.5 - 0.5 * std::cos(std::numbers::pi * edge / ramp_s);
}

} // namespace

struct Simulator::State {
    // FFTW: one complex-to-real transform of a synthesis segment.
    struct Fft {
        explicit Fft(std::size_t n)
            : spectrum(fftw_alloc_complex(n / 2 + 1)), segment(fftw_alloc_real(n)),
              plan(fftw_plan_dft_c2r_1d(static_cast<int>(n), spectrum, segment, FFTW_ESTIMATE)) {
            if (!spectrum || !segment || !plan)
                throw std::runtime_error("FFTW could not plan");
        }
        ~Fft() {
            fftw_destroy_plan(plan);
            fftw_free(spectrum);
            fftw_free(segment);
        }
        Fft(const Fft&) = delete;
        Fft& operator=(const Fft&) = delete;
        fftw_complex* spectrum;
        double* segment;
        fftw_plan plan;
    };
    State(std::size_t segment_frames, const Scenario& scenario,
          const std::vector<ChannelModel>& channels)
        : fft(segment_frames), contamination(scenario, channels, segment_frames / 2) {}

    Fft fft;
    std::vector<double> window;            // sine window, L
    std::vector<double> gain;              // spectral shaping, L/2 + 1
    std::vector<sim::Random> emg;          // per channel
    std::vector<std::vector<double>> tail; // second half of the last segment, per channel
    std::vector<double> ola;               // one hop of one channel
    std::vector<double> mix;               // the same plus noise and ECG, before rounding
    std::vector<double> env, fatigue, t_s; // per sample of the chunk
    std::vector<float> chunk;              // channels × hop
    std::size_t chunk_pos = 0;             // next frame of chunk to hand out
    std::uint64_t chunk_index = 0;         // chunk j covers frames [j·H, (j+1)·H)
    std::uint64_t position = 0;            // frames handed out
    sim::Contamination contamination;      // its own random streams, reset with the rest
};

Simulator::Simulator(Scenario scenario) : scenario_(std::move(scenario)) {
    validate(scenario_);
    const auto& s = scenario_;
    const double fs = s.sample_rate_hz;
    band_hz_ = {s.model.band_low_hz, std::min(s.model.band_high_hz, 0.45 * fs)};

    // Contractions and the fatigue time at the start of each.
    double t = s.protocol.rest_before_s;
    double carried = 0.0;
    for (int k = 0; k < s.protocol.contractions; ++k) {
        contractions_.push_back({t, t + s.protocol.hold_s});
        contraction_fatigue_start_s_.push_back(carried);
        carried = s.protocol.fatigue_carryover * (carried + s.protocol.hold_s);
        t += s.protocol.hold_s + s.protocol.rest_between_s;
    }
    const double max_fatigue_s = contraction_fatigue_start_s_.back() + s.protocol.hold_s;

    // Table f_l -> band MDF for the scaled spectrum shape, to invert per segment.
    constexpr std::size_t grid = 1024;
    const double fl_min = 1.0, fl_max = 2000.0;
    fl_grid_hz_.resize(grid);
    mdf_grid_hz_.resize(grid);
    for (std::size_t i = 0; i < grid; ++i) {
        const double fl = fl_min * std::pow(fl_max / fl_min,
                                            static_cast<double>(i) / static_cast<double>(grid - 1));
        fl_grid_hz_[i] = fl;
        mdf_grid_hz_[i] = model_mdf_hz(fl, s.model.fh_over_fl * fl, band_hz_[0], band_hz_[1]);
        if (i > 0 && !(mdf_grid_hz_[i] > mdf_grid_hz_[i - 1]))
            throw std::logic_error("simulator: model MDF is not monotonic in f_l");
    }

    // Channels.
    double mean_rms = 0.0;
    for (std::size_t p = 0; p < s.pairs.size(); ++p) {
        const auto& pair = s.pairs[p];
        const double q = pair.lr_ratio;
        const std::array<double, 2> rms{pair.rms0_uv * 2.0 * q / (1.0 + q),
                                        pair.rms0_uv * 2.0 / (1.0 + q)};
        for (std::size_t side = 0; side < 2; ++side) {
            ChannelModel c;
            c.side = side == 0 ? Side::Left : Side::Right;
            c.label = channel_label(pair, c.side);
            c.muscle = pair.muscle;
            c.level = pair.level;
            c.pair = p;
            c.mdf0_hz = pair.mdf0_hz[side];
            c.mdf_slope_pct_per_s = pair.mdf_slope_pct_per_s[side];
            c.rms0_uv = rms[side];
            c.rms_slope_pct_per_s = pair.rms_slope_pct_per_s[side];
            for (double f : {0.0, max_fatigue_s}) {
                const double mdf = c.mdf0_hz * (1.0 + c.mdf_slope_pct_per_s / 100.0 * f);
                if (!(mdf > mdf_grid_hz_.front() + 1.0 && mdf < mdf_grid_hz_.back() - 1.0) ||
                    !(mdf > band_hz_[0] + 5.0 && mdf < band_hz_[1] - 5.0))
                    throw std::invalid_argument(
                        "scenario: channel '" + c.label + "': the MDF would reach " + num(mdf, 3) +
                        " Hz, outside the analysis band " + num(band_hz_[0]) + "-" +
                        num(band_hz_[1]) + " Hz; lower the fatigue rate or shorten the hold");
                const double rms_f = 1.0 + c.rms_slope_pct_per_s / 100.0 * f;
                if (!(rms_f > 0.0))
                    throw std::invalid_argument("scenario: channel '" + c.label +
                                                "': the RMS would fall to zero; lower "
                                                "rms_slope_pct_per_s");
            }
            c.fl0_hz = shaped_fl_hz(c.mdf0_hz);
            c.fh0_hz = s.model.fh_over_fl * c.fl0_hz;
            mean_rms += c.rms0_uv;
            channels_.push_back(c);
        }
    }
    mean_rms /= static_cast<double>(channels_.size());
    if (s.ecg.enabled)
        for (auto& c : channels_)
            c.ecg_peak_uv = sim::Ecg::peak_uv(s.ecg, mean_rms, c.side, c.level);

    segment_frames_ = 2 * static_cast<std::size_t>(std::llround(s.model.segment_s * fs / 2.0));
    hop_frames_ = segment_frames_ / 2;

    info_.format = "simulated";
    info_.sample_rate_hz = fs;
    for (const auto& c : channels_)
        info_.channels.push_back({c.label, {}, {}, {}});
    info_.total_frames = s.total_frames();
    for (const auto& c : contractions_)
        info_.annotations.push_back({c.start_s, c.end_s - c.start_s, "contraction"});

    init_state();
}

Simulator::~Simulator() = default;

double Simulator::shaped_fl_hz(double mdf_target_hz) const {
    const auto it = std::lower_bound(mdf_grid_hz_.begin(), mdf_grid_hz_.end(), mdf_target_hz);
    const auto i = static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(
        it - mdf_grid_hz_.begin(), 1, static_cast<std::ptrdiff_t>(mdf_grid_hz_.size()) - 1));
    const double u =
        (mdf_target_hz - mdf_grid_hz_[i - 1]) / (mdf_grid_hz_[i] - mdf_grid_hz_[i - 1]);
    // The table is log-spaced in f_l: interpolate the logarithm.
    return std::exp(std::log(fl_grid_hz_[i - 1]) +
                    u * (std::log(fl_grid_hz_[i]) - std::log(fl_grid_hz_[i - 1])));
}

double Simulator::fatigue_time_s(double t_s) const noexcept {
    for (std::size_t k = 0; k < contractions_.size(); ++k)
        if (t_s >= contractions_[k].start_s && t_s <= contractions_[k].end_s)
            return contraction_fatigue_start_s_[k] + (t_s - contractions_[k].start_s);
    return 0.0;
}

double Simulator::envelope(double t_s) const noexcept {
    for (const auto& c : contractions_)
        if (t_s >= c.start_s && t_s <= c.end_s)
            return ramp_envelope(c, scenario_.protocol.ramp_s, t_s);
    return 0.0;
}

double Simulator::mdf_hz(std::size_t channel, double t_s) const {
    const auto& c = channels_.at(channel);
    return c.mdf0_hz * (1.0 + c.mdf_slope_pct_per_s / 100.0 * fatigue_time_s(t_s));
}

double Simulator::emg_rms_uv(std::size_t channel, double t_s) const {
    const auto& c = channels_.at(channel);
    return envelope(t_s) * c.rms0_uv * (1.0 + c.rms_slope_pct_per_s / 100.0 * fatigue_time_s(t_s));
}

double Simulator::peak_bound_uv() const {
    const auto& s = scenario_;
    double max_fatigue = 0.0;
    for (std::size_t k = 0; k < contractions_.size(); ++k)
        max_fatigue = std::max(max_fatigue, contraction_fatigue_start_s_[k] + s.protocol.hold_s);
    double bound = 0.0;
    for (const auto& c : channels_) {
        const double rms =
            c.rms0_uv * std::max(1.0, 1.0 + c.rms_slope_pct_per_s / 100.0 * max_fatigue);
        const double noise =
            std::hypot(s.noise.baseline_uv,
                       s.noise.snr_db ? c.rms0_uv * std::pow(10.0, -*s.noise.snr_db / 20.0) : 0.0);
        double b = 8.0 * std::hypot(rms, noise) + 1.3 * c.ecg_peak_uv;
        if (s.mains.frequency_hz > 0.0)
            for (double h : s.mains.harmonics)
                b += s.mains.amplitude_uv * std::abs(h);
        if (s.wander.amplitude_uv > 0.0)
            b += s.wander.amplitude_uv * std::sqrt(2.0 * s.wander.components);
        for (const auto& m : s.motion)
            b += std::abs(m.amplitude_uv);
        bound = std::max(bound, b);
    }
    for (const auto& f : s.flatlines)
        bound = std::max(bound, std::abs(f.value_uv));
    return std::max(1000.0, std::ceil(bound / 500.0) * 500.0);
}

void Simulator::reset() { init_state(); }

void Simulator::init_state() {
    const auto& s = scenario_;
    const std::size_t L = segment_frames_, H = hop_frames_, n = channels_.size();
    auto st = std::make_unique<State>(L, s, channels_);
    st->window.resize(L);
    for (std::size_t i = 0; i < L; ++i)
        st->window[i] =
            std::sin(std::numbers::pi * (static_cast<double>(i) + 0.5) / static_cast<double>(L));
    st->gain.resize(L / 2 + 1);
    for (std::size_t c = 0; c < n; ++c)
        st->emg.emplace_back(s.seed, sim::EmgStream + c);
    st->tail.assign(n, std::vector<double>(H, 0.0));
    st->ola.resize(H);
    st->env.resize(H);
    st->fatigue.resize(H);
    st->t_s.resize(H);
    st->mix.resize(H);
    st->chunk.assign(n * H, 0.0f);
    st->chunk_pos = H; // empty
    state_ = std::move(st);

    // Segment 0 (centred on frame 0) only supplies the tail that chunk 0 starts with.
    const double f_spec = spectral_fatigue_s(0.0);
    for (std::size_t c = 0; c < n; ++c) {
        synthesize_segment(c, f_spec);
        for (std::size_t i = 0; i < H; ++i)
            state_->tail[c][i] = state_->fft.segment[H + i];
    }
}

double Simulator::spectral_fatigue_s(double t_s) const noexcept {
    // Outside contractions: the fatigue time at the nearest contraction edge (the EMG there is
    // only a ramp's tail or absent, so this merely keeps the spectrum continuous).
    double best = std::numeric_limits<double>::infinity();
    double f = 0.0;
    for (std::size_t m = 0; m < contractions_.size(); ++m) {
        const double tc = std::clamp(t_s, contractions_[m].start_s, contractions_[m].end_s);
        if (std::abs(tc - t_s) < best) {
            best = std::abs(tc - t_s);
            f = contraction_fatigue_start_s_[m] + (tc - contractions_[m].start_s);
        }
    }
    return f;
}

void Simulator::synthesize_segment(std::size_t c, double fatigue_s) noexcept {
    auto& st = *state_;
    const std::size_t L = segment_frames_;
    const double fs = scenario_.sample_rate_hz;
    const auto& ch = channels_[c];
    const double mdf = ch.mdf0_hz * (1.0 + ch.mdf_slope_pct_per_s / 100.0 * fatigue_s);
    const double fl = shaped_fl_hz(mdf);
    const double fh = scenario_.model.fh_over_fl * fl;
    double sum = 0.0;
    for (std::size_t j = 0; j <= L / 2; ++j) {
        const double g2 = shwedyk_psd(static_cast<double>(j) * fs / static_cast<double>(L), fl, fh);
        st.gain[j] = g2;
        sum += (j == 0 || j == L / 2) ? g2 : 2.0 * g2;
    }
    // With E|X_j|² = L the inverse transform divided by L has variance (1/L)·Σ_{all L bins} G²;
    // norm makes that 1.
    const double norm = std::sqrt(static_cast<double>(L) / sum);
    const double full = std::sqrt(static_cast<double>(L));
    const double half = std::sqrt(0.5 * static_cast<double>(L));
    auto& rng = st.emg[c];
    for (std::size_t j = 0; j <= L / 2; ++j) {
        const double g = std::sqrt(st.gain[j]) * norm;
        if (j == 0 || j == L / 2) {
            st.fft.spectrum[j][0] = g * full * rng.normal();
            st.fft.spectrum[j][1] = 0.0;
        } else {
            const double re = rng.normal();
            const double im = rng.normal();
            st.fft.spectrum[j][0] = g * half * re;
            st.fft.spectrum[j][1] = g * half * im;
        }
    }
    fftw_execute(st.fft.plan);
    const double inv = 1.0 / static_cast<double>(L);
    for (std::size_t i = 0; i < L; ++i)
        st.fft.segment[i] *= inv * st.window[i];
}

void Simulator::next_chunk() {
    auto& st = *state_;
    const auto& s = scenario_;
    const std::size_t H = hop_frames_, n = channels_.size();
    const double fs = s.sample_rate_hz;
    const std::uint64_t first = st.chunk_index * H;

    // Time, envelope and fatigue time of every sample of the chunk, looking only at the
    // contractions that overlap it (sorted, disjoint).
    const double t_first = static_cast<double>(first) / fs;
    const double t_last = static_cast<double>(first + H - 1) / fs;
    const auto m0 = static_cast<std::size_t>(
        std::partition_point(contractions_.begin(), contractions_.end(),
                             [&](const Contraction& c) { return c.end_s < t_first; }) -
        contractions_.begin());
    for (std::size_t i = 0; i < H; ++i) {
        const double t = static_cast<double>(first + i) / fs;
        st.t_s[i] = t;
        st.env[i] = 0.0;
        st.fatigue[i] = 0.0;
        for (std::size_t m = m0; m < contractions_.size() && contractions_[m].start_s <= t_last;
             ++m)
            if (t >= contractions_[m].start_s && t <= contractions_[m].end_s) {
                st.env[i] = ramp_envelope(contractions_[m], s.protocol.ramp_s, t);
                st.fatigue[i] = contraction_fatigue_start_s_[m] + (t - contractions_[m].start_s);
                break;
            }
    }

    // Segment k = chunk_index + 1, centred on frame k·H.
    const std::uint64_t k = st.chunk_index + 1;
    const double f_spec = spectral_fatigue_s(static_cast<double>(k * H) / fs);

    const sim::ChunkClock clock{st.t_s, first, fs};
    st.contamination.prepare(clock);

    for (std::size_t c = 0; c < n; ++c) {
        const auto& ch = channels_[c];
        synthesize_segment(c, f_spec);
        auto& tail = st.tail[c];
        for (std::size_t i = 0; i < H; ++i) {
            st.ola[i] = tail[i] + st.fft.segment[i];
            tail[i] = st.fft.segment[H + i];
        }
        for (std::size_t i = 0; i < H; ++i) {
            const double amp =
                st.env[i] * ch.rms0_uv * (1.0 + ch.rms_slope_pct_per_s / 100.0 * st.fatigue[i]);
            st.mix[i] = st.ola[i] * amp;
        }
        st.contamination.add(c, ch.ecg_peak_uv, st.mix);
        const std::span<float> out(st.chunk.data() + c * H, H);
        for (std::size_t i = 0; i < H; ++i)
            out[i] = static_cast<float>(st.mix[i]);
        st.contamination.apply(c, clock, out);
    }
    ++st.chunk_index;
    st.chunk_pos = 0;
}

std::size_t Simulator::read(dsp::BlockRef out) {
    auto& st = *state_;
    const std::uint64_t total = *info_.total_frames;
    const std::size_t H = hop_frames_;
    std::size_t done = 0;
    while (done < out.frames && st.position < total) {
        if (st.chunk_pos == H)
            next_chunk();
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(
            {static_cast<std::uint64_t>(out.frames - done),
             static_cast<std::uint64_t>(H - st.chunk_pos), total - st.position}));
        for (std::size_t c = 0; c < channels_.size(); ++c)
            std::copy_n(st.chunk.data() + c * H + st.chunk_pos, take, out.channel(c) + done);
        st.chunk_pos += take;
        st.position += take;
        done += take;
    }
    return done;
}

nlohmann::json Simulator::truth() const {
    using nlohmann::json;
    const auto& s = scenario_;
    const double fs = s.sample_rate_hz;
    const double ramp = s.protocol.ramp_s;
    json j;
    j["generator"] = "semg simulate";
    j["seed"] = s.seed;
    j["sample_rate_hz"] = fs;
    j["duration_s"] = s.duration_s();
    j["total_frames"] = s.total_frames();
    j["units"] = "uV";
    j["model"] = {
        {"spectrum", "shwedyk: P(f) = fh^4 f^2 / ((f^2 + fl^2)(f^2 + fh^2)^2), fh = fh_over_fl*fl"},
        {"fh_over_fl", s.model.fh_over_fl},
        {"band_hz", band_hz_},
        {"mdf_definition", "median of the model PSD within band_hz"},
        {"fatigue", "MDF(F) = mdf0_hz*(1 + mdf_slope_pct_per_s/100*F), RMS(F) = "
                    "rms0_uv*(1 + rms_slope_pct_per_s/100*F); F = s since contraction start "
                    "(+ carried-over share of earlier contractions)"},
        {"synthesis",
         {{"method", "overlap-add of frequency-domain shaped Gaussian segments"},
          {"segment_s", static_cast<double>(segment_frames_) / fs},
          {"segment_frames", segment_frames_},
          {"window", "sine"},
          {"overlap", 0.5}}},
        {"rms_definition", "RMS of the EMG component over the whole band 0..fs/2"}};

    json cons = json::array();
    for (std::size_t k = 0; k < contractions_.size(); ++k) {
        const auto& c = contractions_[k];
        cons.push_back({{"index", k},
                        {"start_s", c.start_s},
                        {"end_s", c.end_s},
                        {"ramp_s", ramp},
                        {"plateau_s", {c.start_s + ramp, c.end_s - ramp}},
                        {"fatigue_time_at_start_s", contraction_fatigue_start_s_[k]}});
    }
    j["contractions"] = cons;

    // RMS over a plateau of a linear amplitude a + b·x, x in [0, len]: sqrt(a² + a·b·len +
    // b²len²/3).
    auto plateau_rms = [&](const ChannelModel& ch, std::size_t k) {
        const double f0 = contraction_fatigue_start_s_[k] + ramp;
        const double len = s.protocol.hold_s - 2.0 * ramp;
        const double a = ch.rms0_uv * (1.0 + ch.rms_slope_pct_per_s / 100.0 * f0);
        const double b = ch.rms0_uv * ch.rms_slope_pct_per_s / 100.0;
        return std::sqrt(a * a + a * b * len + b * b * len * len / 3.0);
    };

    json chans = json::array();
    for (std::size_t c = 0; c < channels_.size(); ++c) {
        const auto& ch = channels_[c];
        json per = json::array();
        for (std::size_t k = 0; k < contractions_.size(); ++k) {
            const double f0 = contraction_fatigue_start_s_[k];
            const double f1 = f0 + s.protocol.hold_s;
            per.push_back(
                {{"index", k},
                 {"mdf_start_hz", ch.mdf0_hz * (1.0 + ch.mdf_slope_pct_per_s / 100.0 * f0)},
                 {"mdf_end_hz", ch.mdf0_hz * (1.0 + ch.mdf_slope_pct_per_s / 100.0 * f1)},
                 {"rms_start_uv", ch.rms0_uv * (1.0 + ch.rms_slope_pct_per_s / 100.0 * f0)},
                 {"rms_end_uv", ch.rms0_uv * (1.0 + ch.rms_slope_pct_per_s / 100.0 * f1)},
                 {"rms_plateau_uv", plateau_rms(ch, k)}});
        }
        chans.push_back(
            {{"index", c},
             {"label", ch.label},
             {"muscle", ch.muscle},
             {"muscle_name", muscle_name(ch.muscle)},
             {"level", ch.level},
             {"side", std::string(to_string(ch.side))},
             {"pair", ch.pair},
             {"mdf0_hz", ch.mdf0_hz},
             {"mdf_slope_hz_per_s", ch.mdf0_hz * ch.mdf_slope_pct_per_s / 100.0},
             {"mdf_slope_pct_per_s", ch.mdf_slope_pct_per_s},
             {"mnf0_hz", model_mnf_hz(ch.fl0_hz, ch.fh0_hz, band_hz_[0], band_hz_[1])},
             {"fl0_hz", ch.fl0_hz},
             {"fh0_hz", ch.fh0_hz},
             {"rms0_uv", ch.rms0_uv},
             {"rms_slope_uv_per_s", ch.rms0_uv * ch.rms_slope_pct_per_s / 100.0},
             {"rms_slope_pct_per_s", ch.rms_slope_pct_per_s},
             {"band_power_fraction0",
              model_band_fraction(ch.fl0_hz, ch.fh0_hz, band_hz_[0], band_hz_[1], 0.5 * fs)},
             {"contractions", per}});
    }
    j["channels"] = chans;

    json pairs = json::array();
    auto ai = [](double l, double r) { return 100.0 * (l - r) / (l + r); };
    for (std::size_t p = 0; p < s.pairs.size(); ++p) {
        const auto& L = channels_[2 * p];
        const auto& R = channels_[2 * p + 1];
        json per = json::array();
        for (std::size_t k = 0; k < contractions_.size(); ++k)
            per.push_back({{"index", k},
                           {"ai_plateau_pct", ai(plateau_rms(L, k), plateau_rms(R, k))},
                           {"lr_ratio_plateau", plateau_rms(L, k) / plateau_rms(R, k)}});
        pairs.push_back(
            {{"index", p},
             {"muscle", s.pairs[p].muscle},
             {"level", s.pairs[p].level},
             {"left", L.label},
             {"right", R.label},
             {"lr_ratio", L.rms0_uv / R.rms0_uv},
             {"ai_pct", ai(L.rms0_uv, R.rms0_uv)},
             {"mdf0_diff_hz", L.mdf0_hz - R.mdf0_hz},
             {"mdf_slope_diff_pct_per_s", L.mdf_slope_pct_per_s - R.mdf_slope_pct_per_s},
             {"contractions", per}});
    }
    j["pairs"] = pairs;

    j["contamination"] = state_->contamination.truth(channels_, fs, s.duration_s());
    j["scenario"] = to_json(s);
    return j;
}

} // namespace semg::acquisition
