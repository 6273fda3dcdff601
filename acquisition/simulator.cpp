#include "acquisition/simulator.hpp"

#include <fftw3.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numbers>
#include <sstream>
#include <stdexcept>

namespace semg::acquisition {
namespace {

constexpr double two_pi = 2.0 * std::numbers::pi;

// Numbers in messages as a person writes them: 56.25, not 56.250000.
std::string num(double v, int digits = 6) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    return text;
}

// ---- deterministic random streams -------------------------------------------------------------

std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// Independent stream ids, so that enabling one contamination leaves every other signal alone.
enum StreamId : std::uint64_t {
    EcgStream = 0x10,
    MainsStream = 0x11,
    WanderStream = 0x12,
    EmgStream = 0x1000,      // + channel
    BaselineStream = 0x2000, // + channel
    SnrStream = 0x3000,      // + channel
};

// std::mt19937_64 with Box–Muller on top: the same numbers on every standard library.
class Random {
public:
    Random(std::uint64_t seed, std::uint64_t stream)
        : engine_(splitmix64(seed ^ splitmix64(stream))) {}

    double uniform() noexcept { // [0, 1)
        return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    }
    double normal() noexcept {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double u1 = (static_cast<double>(engine_() >> 11) + 1.0) * 0x1.0p-53; // (0, 1]
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(two_pi * u2);
        has_spare_ = true;
        return r * std::cos(two_pi * u2);
    }

private:
    std::mt19937_64 engine_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

// ---- ECG ----------------------------------------------------------------------------------------

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
// Peak of sin(x)·(1 − cos x)/2, at cos x = −1/2: (√3/2)·(3/4).
constexpr double motion_peak = 0.6495190528383290;

double ecg_wave(double dt_s, const std::array<Wave, 5>& waves) noexcept {
    double v = 0.0;
    for (const auto& w : waves) {
        const double z = (dt_s - w.offset_s) / w.sigma_s;
        v += w.amplitude * std::exp(-0.5 * z * z);
    }
    return v;
}

class EcgBeats {
public:
    EcgBeats(const EcgSpec& spec, std::uint64_t seed)
        : rng_(seed, EcgStream), rr_s_(60.0 / spec.heart_rate_bpm), hrv_(spec.hrv_fraction) {
        next_s_ = rr_s_ * rng_.uniform();
    }
    [[nodiscard]] double peek() const noexcept { return next_s_; }
    double pop() noexcept {
        const double t = next_s_;
        const double rr = rr_s_ * std::clamp(1.0 + hrv_ * rng_.normal(), 0.5, 1.5);
        next_s_ += rr;
        return t;
    }

private:
    Random rng_;
    double rr_s_;
    double hrv_;
    double next_s_ = 0.0;
};

// Vertebral segment index (C1 = 1 ... C7 = 7, T1 = 8 ... T12 = 19, L1 = 20 ... L5 = 24, S1 = 25).
std::optional<int> spine_index(const std::string& level) {
    if (level.size() < 2)
        return std::nullopt;
    const char region = static_cast<char>(std::toupper(static_cast<unsigned char>(level[0])));
    std::size_t i = 1;
    int n = 0;
    while (i < level.size() && std::isdigit(static_cast<unsigned char>(level[i])))
        n = n * 10 + (level[i++] - '0');
    if (i == 1 || n < 1)
        return std::nullopt;
    switch (region) {
    case 'C':
        return n <= 7 ? std::optional<int>(n) : std::nullopt;
    case 'T':
        return n <= 12 ? std::optional<int>(7 + n) : std::nullopt;
    case 'L':
        return n <= 5 ? std::optional<int>(19 + n) : std::nullopt;
    case 'S':
        return n <= 5 ? std::optional<int>(24 + n) : std::nullopt;
    default:
        return std::nullopt;
    }
}

double ecg_level_gain(const std::string& level, double decay) {
    const auto idx = spine_index(level);
    return idx ? std::exp(-decay * static_cast<double>(*idx - 20)) : 1.0;
}

// ---- spectral model: numerical integration ------------------------------------------------------

constexpr double integration_step_hz = 0.1;

// Cumulative band power on a fine grid and the frequency where it reaches `fraction`.
struct BandIntegral {
    double total = 0.0;
    double mnf_hz = 0.0;
    double mdf_hz = 0.0;
};

BandIntegral integrate_band(double fl_hz, double fh_hz, double low_hz, double high_hz) {
    const auto n = static_cast<std::size_t>(std::ceil((high_hz - low_hz) / integration_step_hz));
    const double h = (high_hz - low_hz) / static_cast<double>(n);
    // Trapezoid: cell k spans [f_k, f_k + h].
    std::vector<double> cell(n);
    double prev = shwedyk_psd(low_hz, fl_hz, fh_hz);
    double total = 0.0, moment = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        const double f1 = low_hz + h * static_cast<double>(k + 1);
        const double p1 = shwedyk_psd(f1, fl_hz, fh_hz);
        cell[k] = 0.5 * (prev + p1) * h;
        total += cell[k];
        moment += 0.5 * ((f1 - h) * prev + f1 * p1) * h;
        prev = p1;
    }
    BandIntegral r;
    r.total = total;
    r.mnf_hz = total > 0.0 ? moment / total : std::numeric_limits<double>::quiet_NaN();
    r.mdf_hz = std::numeric_limits<double>::quiet_NaN();
    if (!(total > 0.0))
        return r;
    const double half = 0.5 * total;
    double cum = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        if (cum + cell[k] >= half) {
            const double f0 = low_hz + h * static_cast<double>(k);
            r.mdf_hz = f0 + h * (half - cum) / cell[k];
            break;
        }
        cum += cell[k];
    }
    return r;
}

std::string side_letter(Side side) { return side == Side::Left ? "L" : "R"; }

// Raised-cosine ramps at both ends of a contraction; t_s inside [start_s, end_s].
double ramp_envelope(const Contraction& c, double ramp_s, double t_s) noexcept {
    const double edge = std::min(t_s - c.start_s, c.end_s - t_s);
    if (edge >= ramp_s)
        return 1.0;
    return 0.5 - 0.5 * std::cos(std::numbers::pi * edge / ramp_s);
}

} // namespace

// =================================================================================================
// Spectral model
// =================================================================================================

double shwedyk_psd(double f_hz, double fl_hz, double fh_hz) noexcept {
    const double f2 = f_hz * f_hz;
    const double fh2 = fh_hz * fh_hz;
    const double d = f2 + fh2;
    return fh2 * fh2 * f2 / ((f2 + fl_hz * fl_hz) * d * d);
}

double model_mdf_hz(double fl_hz, double fh_hz, double low_hz, double high_hz) {
    return integrate_band(fl_hz, fh_hz, low_hz, high_hz).mdf_hz;
}

double model_mnf_hz(double fl_hz, double fh_hz, double low_hz, double high_hz) {
    return integrate_band(fl_hz, fh_hz, low_hz, high_hz).mnf_hz;
}

double model_band_fraction(double fl_hz, double fh_hz, double low_hz, double high_hz,
                           double nyquist_hz) {
    const double all = integrate_band(fl_hz, fh_hz, 0.0, nyquist_hz).total;
    return all > 0.0 ? integrate_band(fl_hz, fh_hz, low_hz, high_hz).total / all : 0.0;
}

namespace {
// The MDF in [low_hz, high_hz] of the spectrum whose MDF in [low_hz, reference_high_hz] is
// mdf_hz (bisection on log f_l; the model MDF rises with f_l).
double mdf_in_band(double mdf_hz, double fh_over_fl, double low_hz, double reference_high_hz,
                   double high_hz) {
    double a = std::log(0.1), b = std::log(5000.0);
    for (int i = 0; i < 80; ++i) {
        const double m = 0.5 * (a + b);
        const double fl = std::exp(m);
        if (model_mdf_hz(fl, fh_over_fl * fl, low_hz, reference_high_hz) < mdf_hz)
            a = m;
        else
            b = m;
    }
    const double fl = std::exp(0.5 * (a + b));
    return model_mdf_hz(fl, fh_over_fl * fl, low_hz, high_hz);
}
} // namespace

PairSpec pair_in_band(const PairSpec& pair, const ModelSpec& model, double high_hz,
                      double reference_s) {
    PairSpec out = pair;
    if (!(high_hz < model.band_high_hz))
        return out;
    for (std::size_t side = 0; side < 2; ++side) {
        const double mdf0 = pair.mdf0_hz[side];
        const double slope = pair.mdf_slope_pct_per_s[side];
        const double end = mdf0 * (1.0 + slope / 100.0 * reference_s);
        const double narrow0 = mdf_in_band(mdf0, model.fh_over_fl, model.band_low_hz,
                                           model.band_high_hz, high_hz);
        const double narrow_end = mdf_in_band(end, model.fh_over_fl, model.band_low_hz,
                                              model.band_high_hz, high_hz);
        out.mdf0_hz[side] = narrow0;
        out.mdf_slope_pct_per_s[side] = 100.0 * (narrow_end / narrow0 - 1.0) / reference_s;
    }
    return out;
}

// =================================================================================================
// Scenario
// =================================================================================================

std::string to_string(Side side) { return side == Side::Left ? "left" : "right"; }

std::string channel_label(const PairSpec& pair, Side side) {
    return pair.muscle + " " + pair.level + " " + side_letter(side);
}

std::string muscle_name(const std::string& abbreviation) {
    if (abbreviation == "LT")
        return "longissimus";
    if (abbreviation == "IL")
        return "iliocostalis";
    if (abbreviation == "ES")
        return "erector spinae";
    if (abbreviation == "MF")
        return "multifidus";
    return abbreviation;
}

std::vector<PairSpec> default_pairs(std::size_t n) {
    if (n < 1 || n > max_default_pairs)
        throw std::invalid_argument("the number of default pairs must be 1 to " +
                                    std::to_string(max_default_pairs) + ", got " +
                                    std::to_string(n));
    // muscle, level, MDF₀ L/R, MDF slope %/s L/R, mean RMS₀, L/R ratio, RMS slope %/s L/R
    static const std::array<PairSpec, max_default_pairs> table{{
        {"LT", "L1", {78.0, 76.0}, {-0.40, -0.34}, 70.0, 1.12, {0.20, 0.15}},
        {"IL", "L3", {74.0, 75.0}, {-0.32, -0.36}, 85.0, 0.90, {0.15, 0.18}},
        {"ES", "L4", {72.0, 70.0}, {-0.45, -0.28}, 110.0, 1.25, {0.25, 0.12}},
        {"MF", "L5", {71.0, 73.0}, {-0.22, -0.18}, 125.0, 0.95, {0.12, 0.10}},
        {"LT", "T12", {80.0, 79.0}, {-0.38, -0.42}, 60.0, 1.05, {0.18, 0.20}},
        {"IL", "L2", {76.0, 77.0}, {-0.30, -0.26}, 75.0, 0.93, {0.14, 0.12}},
        {"ES", "L3", {73.0, 72.0}, {-0.42, -0.33}, 100.0, 1.15, {0.22, 0.16}},
        {"MF", "L4", {70.0, 71.0}, {-0.20, -0.25}, 115.0, 1.00, {0.10, 0.12}},
    }};
    return {table.begin(), table.begin() + static_cast<std::ptrdiff_t>(n)};
}

double Scenario::duration_s() const {
    const auto n = static_cast<double>(std::max(protocol.contractions, 0));
    return protocol.rest_before_s + n * protocol.hold_s +
           std::max(n - 1.0, 0.0) * protocol.rest_between_s + protocol.rest_after_s;
}

std::uint64_t Scenario::total_frames() const {
    return static_cast<std::uint64_t>(std::llround(duration_s() * sample_rate_hz));
}

std::vector<std::string> Scenario::labels() const {
    std::vector<std::string> out;
    for (const auto& p : pairs) {
        out.push_back(channel_label(p, Side::Left));
        out.push_back(channel_label(p, Side::Right));
    }
    return out;
}

std::size_t resolve_channel(const Scenario& scenario, const std::string& channel) {
    const auto labels = scenario.labels();
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] == channel)
            return i;
    if (!channel.empty() && std::all_of(channel.begin(), channel.end(),
                                        [](unsigned char ch) { return std::isdigit(ch); })) {
        const auto idx = std::stoull(channel);
        if (idx < labels.size())
            return static_cast<std::size_t>(idx);
    }
    std::string known;
    for (std::size_t i = 0; i < labels.size(); ++i)
        known += (i ? ", " : "") + std::to_string(i) + " '" + labels[i] + "'";
    throw std::invalid_argument("no channel '" + channel + "'; channels are " + known);
}

void validate(const Scenario& s) {
    auto fail = [](const std::string& what) { throw std::invalid_argument("scenario: " + what); };
    auto finite = [](double v) { return std::isfinite(v); };
    if (!(s.sample_rate_hz > 0.0) || !finite(s.sample_rate_hz))
        fail("sample_rate_hz must be positive");
    const auto& p = s.protocol;
    if (p.contractions < 1)
        fail("protocol.contractions must be at least 1");
    for (double v : {p.rest_before_s, p.rest_between_s, p.rest_after_s, p.ramp_s})
        if (!(v >= 0.0) || !finite(v))
            fail("rest and ramp durations must be >= 0");
    if (!(p.hold_s > 2.0 * p.ramp_s) || !finite(p.hold_s))
        fail("protocol.hold_s must be longer than two ramps (" + num(2.0 * p.ramp_s) + " s)");
    if (!(p.fatigue_carryover >= 0.0 && p.fatigue_carryover <= 1.0))
        fail("protocol.fatigue_carryover must be in [0, 1]");
    const auto& m = s.model;
    if (!(m.fh_over_fl >= 1.0 && m.fh_over_fl <= 10.0))
        fail("model.fh_over_fl must be in [1, 10]");
    if (!(m.segment_s > 0.0))
        fail("model.segment_s must be positive");
    if (std::llround(m.segment_s * s.sample_rate_hz) < 16)
        fail("model.segment_s is shorter than 16 samples at " + num(s.sample_rate_hz) + " Hz");
    // 20 Hz: room for an MDF 5 Hz inside either edge that can still fall (Cyton-Daisy's
    // 125 Hz gives 20-56.25 Hz).
    const double high = std::min(m.band_high_hz, 0.45 * s.sample_rate_hz);
    if (!(m.band_low_hz > 0.0) || !(high > m.band_low_hz + 20.0))
        fail("analysis band " + num(m.band_low_hz) + "-" + num(high) +
             " Hz is too narrow: it needs to be 20 Hz wide (sample rate " +
             num(s.sample_rate_hz) + " Hz)");
    if (s.pairs.empty())
        fail("at least one pair is needed");
    for (const auto& pair : s.pairs) {
        const std::string name = "pair " + pair.muscle + " " + pair.level;
        if (pair.muscle.empty() || pair.level.empty())
            fail("every pair needs a muscle and a level");
        for (double v : pair.mdf0_hz)
            if (!(v > m.band_low_hz && v < high))
                fail(name + ": mdf0_hz must lie inside the band");
        if (!(pair.rms0_uv > 0.0) || !finite(pair.rms0_uv))
            fail(name + ": rms0_uv must be positive");
        if (!(pair.lr_ratio > 0.0) || !finite(pair.lr_ratio))
            fail(name + ": lr_ratio must be positive");
        for (double v : pair.mdf_slope_pct_per_s)
            if (!finite(v))
                fail(name + ": mdf_slope_pct_per_s must be finite");
        for (double v : pair.rms_slope_pct_per_s)
            if (!finite(v))
                fail(name + ": rms_slope_pct_per_s must be finite");
    }
    const auto labels = s.labels();
    for (std::size_t i = 0; i < labels.size(); ++i)
        for (std::size_t j = i + 1; j < labels.size(); ++j)
            if (labels[i] == labels[j])
                fail("two channels are labelled '" + labels[i] + "'");
    if (!(s.noise.baseline_uv >= 0.0))
        fail("noise.baseline_uv must be >= 0");
    if (s.noise.snr_db && !finite(*s.noise.snr_db))
        fail("noise.snr_db must be finite");
    if (s.ecg.enabled) {
        if (s.ecg.shape != "pqrst" && s.ecg.shape != "qrs")
            fail("ecg.shape must be \"pqrst\" or \"qrs\"");
        if (!(s.ecg.ratio >= 0.0))
            fail("ecg.ratio must be >= 0");
        if (!(s.ecg.heart_rate_bpm >= 20.0 && s.ecg.heart_rate_bpm <= 250.0))
            fail("ecg.heart_rate_bpm must be in [20, 250]");
        if (!(s.ecg.hrv_fraction >= 0.0 && s.ecg.hrv_fraction <= 0.3))
            fail("ecg.hrv_fraction must be in [0, 0.3]");
        if (!(s.ecg.right_gain >= 0.0) || !finite(s.ecg.level_decay))
            fail("ecg.right_gain must be >= 0 and ecg.level_decay finite");
    }
    if (s.mains.frequency_hz != 0.0) {
        if (s.mains.frequency_hz != 50.0 && s.mains.frequency_hz != 60.0)
            fail("mains.frequency_hz must be 50 or 60 (0 for none)");
        if (!(s.mains.amplitude_uv >= 0.0))
            fail("mains.amplitude_uv must be >= 0");
    }
    if (s.wander.amplitude_uv != 0.0) {
        if (!(s.wander.amplitude_uv > 0.0))
            fail("wander.amplitude_uv must be >= 0");
        if (!(s.wander.max_frequency_hz > 0.0 && s.wander.max_frequency_hz <= 5.0))
            fail("wander.max_frequency_hz must be in (0, 5]");
        if (s.wander.components < 1 || s.wander.components > 16)
            fail("wander.components must be 1 to 16");
    }
    for (const auto& a : s.motion) {
        if (!(a.duration_s > 0.0) || !(a.time_s >= 0.0))
            fail("motion: time_s >= 0 and duration_s > 0");
        if (!a.channel.empty())
            resolve_channel(s, a.channel);
    }
    for (const auto& f : s.flatlines) {
        resolve_channel(s, f.channel);
        if (!(f.start_s >= 0.0))
            fail("flatline.start_s must be >= 0");
    }
    for (const auto& c : s.clips) {
        resolve_channel(s, c.channel);
        if (!(c.start_s >= 0.0))
            fail("clip.start_s must be >= 0");
        if (c.level_uv && !(*c.level_uv > 0.0))
            fail("clip.level_uv must be positive");
    }
}

// ---- TOML ---------------------------------------------------------------------------------------
namespace {

class TomlReader {
public:
    explicit TomlReader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw std::invalid_argument(source_ + ": " + key + ": " + what);
    }
    void check_keys(const toml::table& t, const std::string& where,
                    std::initializer_list<std::string_view> allowed) const {
        for (const auto& [k, v] : t) {
            if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
                std::string list;
                for (auto a : allowed)
                    list += (list.empty() ? "" : ", ") + std::string(a);
                fail(where.empty() ? std::string(k.str()) : where + "." + std::string(k.str()),
                     "unknown key (known: " + list + ")");
            }
        }
    }
    void number(const toml::table& t, const std::string& where, std::string_view key,
                double& out) const {
        if (const toml::node* n = t.get(key)) {
            if (!n->is_number())
                fail(where + "." + std::string(key), "expected a number");
            out = *n->value<double>();
        }
    }
    void optional_number(const toml::table& t, const std::string& where, std::string_view key,
                         std::optional<double>& out) const {
        if (t.contains(key)) {
            double v = 0.0;
            number(t, where, key, v);
            out = v;
        }
    }
    template <class Int>
    void integer(const toml::table& t, const std::string& where, std::string_view key,
                 Int& out) const {
        if (const toml::node* n = t.get(key)) {
            const auto* v = n->as_integer();
            if (!v)
                fail(where + "." + std::string(key), "expected an integer");
            const std::int64_t x = v->get();
            if constexpr (std::is_unsigned_v<Int>)
                if (x < 0)
                    fail(where + "." + std::string(key), "must not be negative");
            out = static_cast<Int>(x);
        }
    }
    void boolean(const toml::table& t, const std::string& where, std::string_view key,
                 bool& out) const {
        if (const toml::node* n = t.get(key)) {
            const auto* v = n->as_boolean();
            if (!v)
                fail(where + "." + std::string(key), "expected true or false");
            out = v->get();
        }
    }
    void string(const toml::table& t, const std::string& where, std::string_view key,
                std::string& out) const {
        if (const toml::node* n = t.get(key)) {
            const auto* v = n->as_string();
            if (!v)
                fail(where + "." + std::string(key), "expected a string");
            out = v->get();
        }
    }
    // A channel: its label or its 0-based index.
    void channel(const toml::table& t, const std::string& where, std::string_view key,
                 std::string& out) const {
        if (const toml::node* n = t.get(key)) {
            if (const auto* i = n->as_integer())
                out = std::to_string(i->get());
            else if (const auto* s = n->as_string())
                out = s->get();
            else
                fail(where + "." + std::string(key), "expected a label or a 0-based index");
        }
    }
    // One number for both sides, or [left, right].
    void sides(const toml::table& t, const std::string& where, std::string_view key,
               std::array<double, 2>& out) const {
        const toml::node* n = t.get(key);
        if (!n)
            return;
        if (n->is_number()) {
            out[0] = out[1] = *n->value<double>();
            return;
        }
        const auto* a = n->as_array();
        if (!a || a->size() != 2 || !(*a)[0].is_number() || !(*a)[1].is_number())
            fail(where + "." + std::string(key), "expected a number or [left, right]");
        out = {*(*a)[0].value<double>(), *(*a)[1].value<double>()};
    }
    void numbers(const toml::table& t, const std::string& where, std::string_view key,
                 std::vector<double>& out) const {
        const toml::node* n = t.get(key);
        if (!n)
            return;
        const auto* a = n->as_array();
        if (!a)
            fail(where + "." + std::string(key), "expected an array of numbers");
        out.clear();
        for (const auto& e : *a) {
            if (!e.is_number())
                fail(where + "." + std::string(key), "expected an array of numbers");
            out.push_back(*e.value<double>());
        }
    }
    [[nodiscard]] const toml::table* table(const toml::table& t, std::string_view key) const {
        const toml::node* n = t.get(key);
        if (!n)
            return nullptr;
        if (!n->is_table())
            fail(std::string(key), "expected a table [" + std::string(key) + "]");
        return n->as_table();
    }
    // [[key]] array of tables; calls f(table, "key[i]") for each.
    template <class F> void tables(const toml::table& t, std::string_view key, F&& f) const {
        const toml::node* n = t.get(key);
        if (!n)
            return;
        const auto* a = n->as_array();
        if (!a)
            fail(std::string(key), "expected an array of tables [[" + std::string(key) + "]]");
        for (std::size_t i = 0; i < a->size(); ++i) {
            const auto* e = (*a)[i].as_table();
            const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
            if (!e)
                fail(where, "expected a table");
            f(*e, where);
        }
    }

private:
    std::string source_;
};

} // namespace

Scenario scenario_from_toml(std::string_view text, const std::string& source_name) {
    toml::table root;
    try {
        root = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << source_name << ": " << e.description() << " (line " << e.source().begin.line
            << ", column " << e.source().begin.column << ")";
        throw std::invalid_argument(msg.str());
    }
    const TomlReader r(source_name);
    r.check_keys(root, "",
                 {"seed", "sample_rate_hz", "pairs", "pair", "protocol", "model", "noise", "ecg",
                  "mains", "wander", "motion", "flatline", "clip"});
    Scenario s;
    r.integer(root, "", "seed", s.seed);
    r.number(root, "", "sample_rate_hz", s.sample_rate_hz);
    if (root.contains("pairs") && root.contains("pair"))
        r.fail("pairs", "give either pairs = N (defaults) or [[pair]] tables, not both");
    if (root.contains("pairs")) {
        std::size_t n = 0;
        r.integer(root, "", "pairs", n);
        s.pairs = default_pairs(n);
    }
    if (root.contains("pair")) {
        s.pairs.clear();
        r.tables(root, "pair", [&](const toml::table& t, const std::string& w) {
            r.check_keys(t, w,
                         {"muscle", "level", "mdf0_hz", "mdf_slope_pct_per_s", "rms0_uv",
                          "lr_ratio", "rms_slope_pct_per_s"});
            PairSpec p;
            r.string(t, w, "muscle", p.muscle);
            r.string(t, w, "level", p.level);
            if (p.muscle.empty() || p.level.empty())
                r.fail(w, "muscle and level are required");
            r.sides(t, w, "mdf0_hz", p.mdf0_hz);
            r.sides(t, w, "mdf_slope_pct_per_s", p.mdf_slope_pct_per_s);
            r.number(t, w, "rms0_uv", p.rms0_uv);
            r.number(t, w, "lr_ratio", p.lr_ratio);
            r.sides(t, w, "rms_slope_pct_per_s", p.rms_slope_pct_per_s);
            s.pairs.push_back(p);
        });
    }
    if (const auto* t = r.table(root, "protocol")) {
        const std::string w = "protocol";
        r.check_keys(*t, w,
                     {"rest_s", "rest_before_s", "hold_s", "rest_between_s", "rest_after_s",
                      "contractions", "ramp_s", "fatigue_carryover"});
        double rest = -1.0;
        r.number(*t, w, "rest_s", rest);
        if (rest >= 0.0)
            s.protocol.rest_before_s = s.protocol.rest_between_s = s.protocol.rest_after_s = rest;
        r.number(*t, w, "rest_before_s", s.protocol.rest_before_s);
        r.number(*t, w, "hold_s", s.protocol.hold_s);
        r.number(*t, w, "rest_between_s", s.protocol.rest_between_s);
        r.number(*t, w, "rest_after_s", s.protocol.rest_after_s);
        r.integer(*t, w, "contractions", s.protocol.contractions);
        r.number(*t, w, "ramp_s", s.protocol.ramp_s);
        r.number(*t, w, "fatigue_carryover", s.protocol.fatigue_carryover);
    }
    if (const auto* t = r.table(root, "model")) {
        const std::string w = "model";
        r.check_keys(*t, w, {"fh_over_fl", "segment_s", "band_low_hz", "band_high_hz"});
        r.number(*t, w, "fh_over_fl", s.model.fh_over_fl);
        r.number(*t, w, "segment_s", s.model.segment_s);
        r.number(*t, w, "band_low_hz", s.model.band_low_hz);
        r.number(*t, w, "band_high_hz", s.model.band_high_hz);
    }
    if (const auto* t = r.table(root, "noise")) {
        const std::string w = "noise";
        r.check_keys(*t, w, {"baseline_uv", "snr_db"});
        r.number(*t, w, "baseline_uv", s.noise.baseline_uv);
        r.optional_number(*t, w, "snr_db", s.noise.snr_db);
    }
    if (const auto* t = r.table(root, "ecg")) {
        const std::string w = "ecg";
        r.check_keys(
            *t, w,
            {"enabled", "ratio", "heart_rate_bpm", "hrv_fraction", "right_gain", "level_decay",
             "shape"});
        s.ecg.enabled = true; // a [ecg] table switches it on unless enabled = false
        r.boolean(*t, w, "enabled", s.ecg.enabled);
        r.number(*t, w, "ratio", s.ecg.ratio);
        r.number(*t, w, "heart_rate_bpm", s.ecg.heart_rate_bpm);
        r.number(*t, w, "hrv_fraction", s.ecg.hrv_fraction);
        r.number(*t, w, "right_gain", s.ecg.right_gain);
        r.number(*t, w, "level_decay", s.ecg.level_decay);
        r.string(*t, w, "shape", s.ecg.shape);
    }
    if (const auto* t = r.table(root, "mains")) {
        const std::string w = "mains";
        r.check_keys(*t, w, {"frequency_hz", "amplitude_uv", "harmonics"});
        r.number(*t, w, "frequency_hz", s.mains.frequency_hz);
        r.number(*t, w, "amplitude_uv", s.mains.amplitude_uv);
        r.numbers(*t, w, "harmonics", s.mains.harmonics);
    }
    if (const auto* t = r.table(root, "wander")) {
        const std::string w = "wander";
        r.check_keys(*t, w, {"amplitude_uv", "max_frequency_hz", "components"});
        r.number(*t, w, "amplitude_uv", s.wander.amplitude_uv);
        r.number(*t, w, "max_frequency_hz", s.wander.max_frequency_hz);
        r.integer(*t, w, "components", s.wander.components);
    }
    r.tables(root, "motion", [&](const toml::table& t, const std::string& w) {
        r.check_keys(t, w, {"time_s", "duration_s", "amplitude_uv", "channel"});
        MotionSpec m;
        if (!t.contains("time_s"))
            r.fail(w, "time_s is required");
        r.number(t, w, "time_s", m.time_s);
        r.number(t, w, "duration_s", m.duration_s);
        r.number(t, w, "amplitude_uv", m.amplitude_uv);
        r.channel(t, w, "channel", m.channel);
        s.motion.push_back(m);
    });
    r.tables(root, "flatline", [&](const toml::table& t, const std::string& w) {
        r.check_keys(t, w, {"channel", "start_s", "value_uv"});
        FlatlineSpec f;
        if (!t.contains("channel"))
            r.fail(w, "channel is required");
        r.channel(t, w, "channel", f.channel);
        r.number(t, w, "start_s", f.start_s);
        r.number(t, w, "value_uv", f.value_uv);
        s.flatlines.push_back(f);
    });
    r.tables(root, "clip", [&](const toml::table& t, const std::string& w) {
        r.check_keys(t, w, {"channel", "start_s", "level_uv"});
        ClipSpec c;
        if (!t.contains("channel"))
            r.fail(w, "channel is required");
        r.channel(t, w, "channel", c.channel);
        r.number(t, w, "start_s", c.start_s);
        r.optional_number(t, w, "level_uv", c.level_uv);
        s.clips.push_back(c);
    });
    return s;
}

Scenario load_scenario(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::invalid_argument(path.string() + ": cannot open the scenario file");
    std::ostringstream text;
    text << in.rdbuf();
    return scenario_from_toml(text.str(), path.string());
}

nlohmann::json to_json(const Scenario& s) {
    using nlohmann::json;
    json j;
    j["seed"] = s.seed;
    j["sample_rate_hz"] = s.sample_rate_hz;
    j["protocol"] = {{"rest_before_s", s.protocol.rest_before_s},
                     {"hold_s", s.protocol.hold_s},
                     {"rest_between_s", s.protocol.rest_between_s},
                     {"rest_after_s", s.protocol.rest_after_s},
                     {"contractions", s.protocol.contractions},
                     {"ramp_s", s.protocol.ramp_s},
                     {"fatigue_carryover", s.protocol.fatigue_carryover}};
    j["model"] = {{"spectrum", "shwedyk"},
                  {"fh_over_fl", s.model.fh_over_fl},
                  {"segment_s", s.model.segment_s},
                  {"band_low_hz", s.model.band_low_hz},
                  {"band_high_hz", s.model.band_high_hz}};
    j["pair"] = json::array();
    for (const auto& p : s.pairs)
        j["pair"].push_back({{"muscle", p.muscle},
                             {"level", p.level},
                             {"mdf0_hz", p.mdf0_hz},
                             {"mdf_slope_pct_per_s", p.mdf_slope_pct_per_s},
                             {"rms0_uv", p.rms0_uv},
                             {"lr_ratio", p.lr_ratio},
                             {"rms_slope_pct_per_s", p.rms_slope_pct_per_s}});
    j["noise"] = {{"baseline_uv", s.noise.baseline_uv},
                  {"snr_db", s.noise.snr_db ? json(*s.noise.snr_db) : json(nullptr)}};
    j["ecg"] = {{"enabled", s.ecg.enabled},
                {"ratio", s.ecg.ratio},
                {"heart_rate_bpm", s.ecg.heart_rate_bpm},
                {"hrv_fraction", s.ecg.hrv_fraction},
                {"right_gain", s.ecg.right_gain},
                {"level_decay", s.ecg.level_decay},
                {"shape", s.ecg.shape}};
    j["mains"] = {{"frequency_hz", s.mains.frequency_hz},
                  {"amplitude_uv", s.mains.amplitude_uv},
                  {"harmonics", s.mains.harmonics}};
    j["wander"] = {{"amplitude_uv", s.wander.amplitude_uv},
                   {"max_frequency_hz", s.wander.max_frequency_hz},
                   {"components", s.wander.components}};
    j["motion"] = json::array();
    for (const auto& m : s.motion)
        j["motion"].push_back({{"time_s", m.time_s},
                               {"duration_s", m.duration_s},
                               {"amplitude_uv", m.amplitude_uv},
                               {"channel", m.channel}});
    j["flatline"] = json::array();
    for (const auto& f : s.flatlines)
        j["flatline"].push_back(
            {{"channel", f.channel}, {"start_s", f.start_s}, {"value_uv", f.value_uv}});
    j["clip"] = json::array();
    for (const auto& c : s.clips)
        j["clip"].push_back({{"channel", c.channel},
                             {"start_s", c.start_s},
                             {"level_uv", c.level_uv ? json(*c.level_uv) : json(nullptr)}});
    return j;
}

// =================================================================================================
// Simulator
// =================================================================================================

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
    struct Wander {
        double amplitude_uv, frequency_hz, phase_rad;
    };

    explicit State(std::size_t segment_frames) : fft(segment_frames) {}

    Fft fft;
    std::vector<double> window; // sine window, L
    std::vector<double> gain;   // spectral shaping, L/2 + 1
    std::vector<Random> emg, baseline, snr;
    std::vector<std::vector<double>> tail;      // second half of the last segment, per channel
    std::vector<double> ola;                    // one hop of one channel
    std::vector<double> env, fatigue, t_s, ecg; // per sample of the chunk
    std::vector<float> chunk;                   // channels × hop
    std::size_t chunk_pos = 0;                  // next frame of chunk to hand out
    std::uint64_t chunk_index = 0;              // chunk j covers frames [j·H, (j+1)·H)
    std::uint64_t position = 0;                 // frames handed out
    std::optional<EcgBeats> beats;
    std::vector<double> active_beats;
    std::vector<std::array<double, 2>> mains_cos_sin; // per channel × harmonic: cos φ, sin φ
    std::vector<std::vector<Wander>> wander;          // per channel
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
                        "scenario: channel '" + c.label + "': the MDF would reach " +
                        num(mdf, 3) + " Hz, outside the analysis band " + num(band_hz_[0]) + "-" +
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
            c.ecg_peak_uv = s.ecg.ratio * mean_rms *
                            (c.side == Side::Left ? 1.0 : s.ecg.right_gain) *
                            ecg_level_gain(c.level, s.ecg.level_decay);

    for (const auto& f : s.flatlines)
        flatline_channel_.push_back(resolve_channel(s, f.channel));
    for (const auto& c : s.clips) {
        clip_channel_.push_back(resolve_channel(s, c.channel));
        clip_level_uv_.push_back(
            c.level_uv.value_or(1.5 * channels_[clip_channel_.back()].rms0_uv));
    }
    for (const auto& m : s.motion)
        motion_channel_.push_back(
            m.channel.empty() ? -1 : static_cast<std::ptrdiff_t>(resolve_channel(s, m.channel)));

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
    auto st = std::make_unique<State>(L);
    st->window.resize(L);
    for (std::size_t i = 0; i < L; ++i)
        st->window[i] =
            std::sin(std::numbers::pi * (static_cast<double>(i) + 0.5) / static_cast<double>(L));
    st->gain.resize(L / 2 + 1);
    for (std::size_t c = 0; c < n; ++c) {
        st->emg.emplace_back(s.seed, EmgStream + c);
        st->baseline.emplace_back(s.seed, BaselineStream + c);
        st->snr.emplace_back(s.seed, SnrStream + c);
    }
    st->tail.assign(n, std::vector<double>(H, 0.0));
    st->ola.resize(H);
    st->env.resize(H);
    st->fatigue.resize(H);
    st->t_s.resize(H);
    st->ecg.resize(H);
    st->chunk.assign(n * H, 0.0f);
    st->chunk_pos = H; // empty
    if (s.ecg.enabled) {
        st->beats.emplace(s.ecg, s.seed);
        st->active_beats.reserve(64);
    }
    if (s.mains.frequency_hz > 0.0) {
        Random rng(s.seed, MainsStream);
        for (std::size_t c = 0; c < n; ++c)
            for (std::size_t h = 0; h < s.mains.harmonics.size(); ++h) {
                const double phi = two_pi * rng.uniform();
                st->mains_cos_sin.push_back({std::cos(phi), std::sin(phi)});
            }
    }
    if (s.wander.amplitude_uv > 0.0) {
        Random rng(s.seed, WanderStream);
        const double f_hi = s.wander.max_frequency_hz;
        const double f_lo = std::min(0.05, 0.5 * f_hi);
        const double a =
            s.wander.amplitude_uv * std::sqrt(2.0 / static_cast<double>(s.wander.components));
        st->wander.resize(n);
        for (std::size_t c = 0; c < n; ++c)
            for (int k = 0; k < s.wander.components; ++k) {
                const double f = f_lo + (f_hi - f_lo) * rng.uniform();
                st->wander[c].push_back({a, f, two_pi * rng.uniform()});
            }
    }
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

    // ECG: one waveform for the chunk, scaled per channel below.
    if (st.beats) {
        const double t0 = st.t_s.front(), t1 = st.t_s.back();
        while (st.beats->peek() < t1 + ecg_before_s)
            st.active_beats.push_back(st.beats->pop());
        std::erase_if(st.active_beats, [&](double b) { return b + ecg_after_s < t0; });
        std::fill(st.ecg.begin(), st.ecg.end(), 0.0);
        for (double b : st.active_beats)
            for (std::size_t i = 0; i < H; ++i) {
                const double dt = st.t_s[i] - b;
                if (dt > -ecg_before_s && dt < ecg_after_s)
                    st.ecg[i] += ecg_wave(dt, ecg_shape(scenario_.ecg.shape));
            }
    }

    for (std::size_t c = 0; c < n; ++c) {
        const auto& ch = channels_[c];
        synthesize_segment(c, f_spec);
        auto& tail = st.tail[c];
        for (std::size_t i = 0; i < H; ++i) {
            st.ola[i] = tail[i] + st.fft.segment[i];
            tail[i] = st.fft.segment[H + i];
        }

        // Composition.
        const double snr_sd =
            s.noise.snr_db ? ch.rms0_uv * std::pow(10.0, -*s.noise.snr_db / 20.0) : 0.0;
        const double base_sd = s.noise.baseline_uv;
        float* out = st.chunk.data() + c * H;
        for (std::size_t i = 0; i < H; ++i) {
            const double amp =
                st.env[i] * ch.rms0_uv * (1.0 + ch.rms_slope_pct_per_s / 100.0 * st.fatigue[i]);
            double x = st.ola[i] * amp;
            if (base_sd > 0.0)
                x += base_sd * st.baseline[c].normal();
            if (snr_sd > 0.0)
                x += snr_sd * st.snr[c].normal();
            if (st.beats)
                x += ch.ecg_peak_uv * st.ecg[i];
            out[i] = static_cast<float>(x);
        }
        if (s.mains.frequency_hz > 0.0) {
            const std::size_t nh = s.mains.harmonics.size();
            for (std::size_t h = 0; h < nh; ++h) {
                const double f = s.mains.frequency_hz * static_cast<double>(h + 1);
                const double a = s.mains.amplitude_uv * s.mains.harmonics[h];
                if (a == 0.0 || f >= 0.5 * fs)
                    continue;
                const auto [cp, sp] = st.mains_cos_sin[c * nh + h];
                for (std::size_t i = 0; i < H; ++i) {
                    const double cycles = f * static_cast<double>(first + i) / fs;
                    const double th = two_pi * (cycles - std::floor(cycles));
                    out[i] += static_cast<float>(a * (std::sin(th) * cp + std::cos(th) * sp));
                }
            }
        }
        if (!st.wander.empty())
            for (const auto& w : st.wander[c])
                for (std::size_t i = 0; i < H; ++i) {
                    const double cycles = w.frequency_hz * st.t_s[i];
                    out[i] += static_cast<float>(
                        w.amplitude_uv *
                        std::sin(two_pi * (cycles - std::floor(cycles)) + w.phase_rad));
                }
        for (std::size_t m = 0; m < s.motion.size(); ++m) {
            const auto& a = s.motion[m];
            if (motion_channel_[m] >= 0 && static_cast<std::size_t>(motion_channel_[m]) != c)
                continue;
            if (a.time_s > st.t_s.back() || a.time_s + a.duration_s < st.t_s.front())
                continue;
            for (std::size_t i = 0; i < H; ++i) {
                const double u = (st.t_s[i] - a.time_s) / a.duration_s;
                if (u < 0.0 || u >= 1.0)
                    continue;
                const double v = std::sin(two_pi * u) * (0.5 - 0.5 * std::cos(two_pi * u));
                out[i] +=
                    static_cast<float>(a.amplitude_uv * v / motion_peak); // peak = amplitude_uv
            }
        }
        for (std::size_t m = 0; m < clip_channel_.size(); ++m) {
            if (clip_channel_[m] != c)
                continue;
            const auto lvl = static_cast<float>(clip_level_uv_[m]);
            for (std::size_t i = 0; i < H; ++i)
                if (st.t_s[i] >= s.clips[m].start_s)
                    out[i] = std::clamp(out[i], -lvl, lvl);
        }
        for (std::size_t m = 0; m < flatline_channel_.size(); ++m) {
            if (flatline_channel_[m] != c)
                continue;
            for (std::size_t i = 0; i < H; ++i)
                if (st.t_s[i] >= s.flatlines[m].start_s)
                    out[i] = static_cast<float>(s.flatlines[m].value_uv);
        }
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

std::vector<double> Simulator::ecg_beat_times() const {
    std::vector<double> out;
    if (!scenario_.ecg.enabled)
        return out;
    EcgBeats beats(scenario_.ecg, scenario_.seed);
    const double end = scenario_.duration_s();
    while (beats.peek() < end)
        out.push_back(beats.pop());
    return out;
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
             {"side", to_string(ch.side)},
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

    json cont = json::array();
    if (s.noise.baseline_uv > 0.0)
        cont.push_back({{"type", "baseline_noise"},
                        {"description", "white Gaussian noise on every channel, all the time"},
                        {"rms_uv", s.noise.baseline_uv}});
    if (s.noise.snr_db) {
        json per = json::array();
        for (const auto& ch : channels_)
            per.push_back({{"label", ch.label},
                           {"rms_uv", ch.rms0_uv * std::pow(10.0, -*s.noise.snr_db / 20.0)}});
        cont.push_back({{"type", "white_noise"},
                        {"snr_db", *s.noise.snr_db},
                        {"description", "white Gaussian noise at rms0_uv * 10^(-snr_db/20)"},
                        {"channels", per}});
    }
    if (s.ecg.enabled) {
        json per = json::array();
        for (const auto& ch : channels_)
            per.push_back({{"label", ch.label}, {"r_peak_uv", ch.ecg_peak_uv}});
        json waves = json::array();
        for (const auto& w : ecg_shape(s.ecg.shape))
            if (w.amplitude != 0.0)
                waves.push_back({{"amplitude", w.amplitude},
                                 {"offset_s", w.offset_s},
                                 {"sigma_s", w.sigma_s}});
        cont.push_back({{"type", "ecg"},
                        {"ratio", s.ecg.ratio},
                        {"heart_rate_bpm", s.ecg.heart_rate_bpm},
                        {"hrv_fraction", s.ecg.hrv_fraction},
                        {"right_gain", s.ecg.right_gain},
                        {"level_decay", s.ecg.level_decay},
                        {"shape", s.ecg.shape},
                        {"waves", waves},
                        {"channels", per},
                        {"r_peak_times_s", ecg_beat_times()}});
    }
    if (s.mains.frequency_hz > 0.0) {
        json harm = json::array();
        for (std::size_t h = 0; h < s.mains.harmonics.size(); ++h) {
            const double f = s.mains.frequency_hz * static_cast<double>(h + 1);
            if (s.mains.harmonics[h] == 0.0)
                continue;
            harm.push_back({{"frequency_hz", f},
                            {"amplitude_uv", s.mains.amplitude_uv * s.mains.harmonics[h]},
                            {"present", f < 0.5 * fs}});
        }
        cont.push_back({{"type", "mains"},
                        {"frequency_hz", s.mains.frequency_hz},
                        {"harmonics", harm},
                        {"channels", "all"}});
    }
    if (!state_->wander.empty()) {
        json per = json::array();
        for (std::size_t c = 0; c < channels_.size(); ++c) {
            json comps = json::array();
            for (const auto& w : state_->wander[c])
                comps.push_back({{"amplitude_uv", w.amplitude_uv},
                                 {"frequency_hz", w.frequency_hz},
                                 {"phase_rad", w.phase_rad}});
            per.push_back({{"label", channels_[c].label}, {"components", comps}});
        }
        cont.push_back(
            {{"type", "baseline_wander"}, {"rms_uv", s.wander.amplitude_uv}, {"channels", per}});
    }
    for (std::size_t m = 0; m < s.motion.size(); ++m) {
        const auto& a = s.motion[m];
        cont.push_back(
            {{"type", "motion"},
             {"start_s", a.time_s},
             {"end_s", a.time_s + a.duration_s},
             {"amplitude_uv", a.amplitude_uv},
             {"channel",
              motion_channel_[m] < 0
                  ? json("all")
                  : json(channels_[static_cast<std::size_t>(motion_channel_[m])].label)}});
    }
    for (std::size_t m = 0; m < s.clips.size(); ++m)
        cont.push_back({{"type", "clip"},
                        {"channel", channels_[clip_channel_[m]].label},
                        {"start_s", s.clips[m].start_s},
                        {"level_uv", clip_level_uv_[m]}});
    for (std::size_t m = 0; m < s.flatlines.size(); ++m)
        cont.push_back({{"type", "flatline"},
                        {"channel", channels_[flatline_channel_[m]].label},
                        {"start_s", s.flatlines[m].start_s},
                        {"value_uv", s.flatlines[m].value_uv}});
    j["contamination"] = cont;
    j["scenario"] = to_json(s);
    return j;
}

} // namespace semg::acquisition
