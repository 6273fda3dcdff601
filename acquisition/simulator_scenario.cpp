// The simulator's scenario: one field table per spec (key, member, unit, description, limits),
// walked by the TOML reader, the JSON writer, validate() and scenario_schema(). The defaults are
// the member initialisers of the specs (simulator_scenario.hpp), read off default-constructed
// specs where they are reported.
#include "acquisition/simulator_scenario.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace semg::acquisition {
namespace {

// Numbers in messages as a person writes them: 56.25, not 56.250000.
std::string num(double v, int digits = 6) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    return text;
}

// ---- The field tables ---------------------------------------------------------------------------

using Sides = std::array<double, 2>;

// A key the reader accepts but the spec does not store as such (it sets other members).
template <class Spec> struct SetNumber { void (*set)(Spec&, double); };
template <class Spec> struct SetCount {
    void (*set)(Spec&, std::size_t);
    std::size_t (*get)(const Spec&); // the count a spec has, for its default
};

template <class Spec>
using Member = std::variant<double Spec::*, std::optional<double> Spec::*, int Spec::*,
                            std::uint64_t Spec::*, bool Spec::*, std::string Spec::*, Sides Spec::*,
                            std::vector<double> Spec::*, SetNumber<Spec>, SetCount<Spec>>;

// What a value may be, besides a finite number (every number must be finite).
struct Limits {
    std::optional<double> min, max;
    bool min_open = false, max_open = false;
    std::vector<double> one_of;           // numbers
    std::vector<std::string> one_of_text; // strings
    std::string note;                     // said after the limits, e.g. "(0 for none)"
};
Limits at_least(double v) {
    Limits l;
    l.min = v;
    return l;
}
Limits above(double v) {
    Limits l = at_least(v);
    l.min_open = true;
    return l;
}
Limits within(double lo, double hi, bool lo_open = false) {
    Limits l = at_least(lo);
    l.min_open = lo_open;
    l.max = hi;
    return l;
}
Limits one_of(std::vector<double> values, std::string note) {
    Limits l;
    l.one_of = std::move(values);
    l.note = std::move(note);
    return l;
}
Limits one_of(std::vector<std::string> values) {
    Limits l;
    l.one_of_text = std::move(values);
    return l;
}

template <class Spec> struct Field {
    std::string_view key;
    Member<Spec> member;
    std::string_view unit;
    std::string_view doc;
    Limits limits = {};
    bool required = false;
    bool channel = false; // a string naming a channel: a label or a 0-based index
};

template <class Spec> struct Section {
    std::string_view name; // "" for the top level
    std::vector<Field<Spec>> fields;
    // The section's limits are checked only while this holds (ECG, mains, wander switched on).
    bool (*active)(const Spec&) = nullptr;
    // A table given in the file does this before its keys are read ([ecg] switches ECG on).
    void (*on_table)(Spec&) = nullptr;
    // Written to JSON, never read: descriptions of fixed choices.
    std::vector<std::pair<std::string_view, std::string_view>> json_constants = {};
};

const Section<Scenario>& root_section() {
    static const Section<Scenario> section{
        "",
        {{"seed", &Scenario::seed, "", "random seed: the same seed gives the same samples"},
         {"sample_rate_hz", &Scenario::sample_rate_hz, "Hz",
          "sample rate (what `semg analyze` takes)", within(100.0, 100000.0)},
         {"pairs",
          SetCount<Scenario>{[](Scenario& s, std::size_t n) { s.pairs = default_pairs(n); },
                             [](const Scenario& s) { return s.pairs.size(); }},
          "", "N default pairs instead of [[pair]] tables (not both)",
          within(1.0, static_cast<double>(max_default_pairs))}}};
    return section;
}

const Section<ProtocolSpec>& protocol_section() {
    using P = ProtocolSpec;
    static const Section<P> section{
        "protocol",
        {{"rest_s", SetNumber<P>{[](P& p, double v) {
              p.rest_before_s = p.rest_between_s = p.rest_after_s = v;
          }},
          "s", "sets the three rests at once (read first)", at_least(0.0)},
         {"rest_before_s", &P::rest_before_s, "s", "rest before the first contraction",
          at_least(0.0)},
         {"hold_s", &P::hold_s, "s", "each contraction, ramps included (longer than two ramps)",
          above(0.0)},
         {"rest_between_s", &P::rest_between_s, "s", "rest between contractions", at_least(0.0)},
         {"rest_after_s", &P::rest_after_s, "s", "rest after the last contraction", at_least(0.0)},
         {"contractions", &P::contractions, "", "number of contractions", at_least(1.0)},
         {"ramp_s", &P::ramp_s, "s", "raised-cosine on and off ramps inside each contraction",
          at_least(0.0)},
         {"fatigue_carryover", &P::fatigue_carryover, "",
          "share of one contraction's fatigue time kept by the next (0: fresh, 1: accumulates)",
          within(0.0, 1.0)}}};
    return section;
}

const Section<ModelSpec>& model_section() {
    using M = ModelSpec;
    static const Section<M> section{
        "model",
        {{"fh_over_fl", &M::fh_over_fl, "", "shape of the Shwedyk spectrum", within(1.0, 10.0)},
         {"segment_s", &M::segment_s, "s", "overlap-add synthesis segment (>= 16 samples)",
          above(0.0)},
         {"band_low_hz", &M::band_low_hz, "Hz", "lower edge of the band in which MDF0 is defined",
          above(0.0)},
         {"band_high_hz", &M::band_high_hz, "Hz",
          "upper edge of that band, clamped to 0.45 fs (at least 20 Hz above the lower)"}},
        nullptr,
        nullptr,
        {{"spectrum", "shwedyk"}}};
    return section;
}

const Section<PairSpec>& pair_section() {
    using P = PairSpec;
    static const Section<P> section{
        "pair",
        {{"muscle", &P::muscle, "", "muscle abbreviation (LT, IL, ES, MF) or name", {}, true},
         {"level", &P::level, "", "vertebral level T1-T12, L1-L5, S1 or a range L3-L4", {}, true},
         {"mdf0_hz", &P::mdf0_hz, "Hz", "model MDF in the band at F = 0 (inside the band)"},
         {"mdf_slope_pct_per_s", &P::mdf_slope_pct_per_s, "%/s",
          "MDF change per s of fatigue time (negative: compression)"},
         {"rms0_uv", &P::rms0_uv, "uV", "mean of the left and right RMS at F = 0", above(0.0)},
         {"lr_ratio", &P::lr_ratio, "", "RMS0 left / right", above(0.0)},
         {"rms_slope_pct_per_s", &P::rms_slope_pct_per_s, "%/s",
          "RMS change per s of fatigue time"}}};
    return section;
}

const Section<NoiseSpec>& noise_section() {
    using N = NoiseSpec;
    static const Section<N> section{
        "noise",
        {{"baseline_uv", &N::baseline_uv, "uV", "white amplifier and electrode noise, always (RMS)",
          at_least(0.0)},
         {"snr_db", &N::snr_db, "dB",
          "extra white noise at RMS0 * 10^(-snr_db/20) per channel (absent: none)"}}};
    return section;
}

const Section<EcgSpec>& ecg_section() {
    using E = EcgSpec;
    static const Section<E> section{
        "ecg",
        {{"enabled", &E::enabled, "", "the table switches ECG on; false keeps it off"},
         {"ratio", &E::ratio, "", "R-peak amplitude / mean RMS0 of all channels", at_least(0.0)},
         {"heart_rate_bpm", &E::heart_rate_bpm, "bpm", "mean heart rate", within(20.0, 250.0)},
         {"hrv_fraction", &E::hrv_fraction, "", "SD of the RR intervals / their mean",
          within(0.0, 0.3)},
         {"right_gain", &E::right_gain, "", "right side gain (left is 1)", at_least(0.0)},
         {"level_decay", &E::level_decay, "", "gain exp(-level_decay) per segment below L1"},
         {"shape", &E::shape, "", "waveform: pqrst, or a narrow qrs alone",
          one_of(std::vector<std::string>{"pqrst", "qrs"})}},
        [](const E& e) { return e.enabled; },
        [](E& e) { e.enabled = true; }};
    return section;
}

const Section<MainsSpec>& mains_section() {
    using M = MainsSpec;
    static const Section<M> section{
        "mains",
        {{"frequency_hz", &M::frequency_hz, "Hz", "0: off; else 50 or 60",
          one_of({50.0, 60.0}, "(0 for none)")},
         {"amplitude_uv", &M::amplitude_uv, "uV", "amplitude of the fundamental", at_least(0.0)},
         {"harmonics", &M::harmonics, "", "relative amplitude of f0, 2 f0, 3 f0, ..."}},
        [](const M& m) { return m.frequency_hz != 0.0; }};
    return section;
}

const Section<WanderSpec>& wander_section() {
    using W = WanderSpec;
    static const Section<W> section{
        "wander",
        {{"amplitude_uv", &W::amplitude_uv, "uV", "RMS of the slow sinusoids (0: off)",
          at_least(0.0)},
         {"max_frequency_hz", &W::max_frequency_hz, "Hz", "highest component frequency",
          within(0.0, 5.0, true)},
         {"components", &W::components, "", "sinusoids per channel", within(1.0, 16.0)}},
        [](const W& w) { return w.amplitude_uv != 0.0; }};
    return section;
}

const Section<MotionSpec>& motion_section() {
    using M = MotionSpec;
    static const Section<M> section{
        "motion",
        {{"time_s", &M::time_s, "s", "start of the transient", at_least(0.0), true},
         {"duration_s", &M::duration_s, "s", "length of the transient", above(0.0)},
         {"amplitude_uv", &M::amplitude_uv, "uV", "peak"},
         {"channel",
          &M::channel,
          "",
          "label or 0-based index; absent: every channel",
          {},
          false,
          true}}};
    return section;
}

const Section<FlatlineSpec>& flatline_section() {
    using F = FlatlineSpec;
    static const Section<F> section{
        "flatline",
        {{"channel", &F::channel, "", "label or 0-based index", {}, true, true},
         {"start_s", &F::start_s, "s", "the electrode comes off here", at_least(0.0)},
         {"value_uv", &F::value_uv, "uV", "what the channel reads from then on"}}};
    return section;
}

const Section<ClipSpec>& clip_section() {
    using C = ClipSpec;
    static const Section<C> section{
        "clip",
        {{"channel", &C::channel, "", "label or 0-based index", {}, true, true},
         {"start_s", &C::start_s, "s", "the amplifier saturates from here", at_least(0.0)},
         {"level_uv", &C::level_uv, "uV", "clamp level (absent: 1.5 x RMS0 of the channel)",
          above(0.0)}}};
    return section;
}

// Every section once, with where its values live: f(section, spec) for the top level and the
// tables, f(section, specs) for the arrays of tables. S is Scenario or const Scenario.
template <class S, class F> void for_each_section(S& s, F&& f) {
    f(root_section(), s);
    f(pair_section(), s.pairs);
    f(protocol_section(), s.protocol);
    f(model_section(), s.model);
    f(noise_section(), s.noise);
    f(ecg_section(), s.ecg);
    f(mains_section(), s.mains);
    f(wander_section(), s.wander);
    f(motion_section(), s.motion);
    f(flatline_section(), s.flatlines);
    f(clip_section(), s.clips);
}

template <class T> struct IsVector : std::false_type {};
template <class T> struct IsVector<std::vector<T>> : std::true_type {};

template <class T>
constexpr bool is_integer_v = std::is_same_v<T, int> || std::is_same_v<T, std::uint64_t>;

// ---- Limits -------------------------------------------------------------------------------------

std::string limits_text(const Limits& l, bool integer) {
    auto join = [](const auto& items, auto show) {
        std::string out;
        for (std::size_t i = 0; i < items.size(); ++i)
            out += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + show(items[i]);
        return out;
    };
    std::string text;
    if (!l.one_of.empty())
        text = join(l.one_of, [](double v) { return num(v); });
    else if (!l.one_of_text.empty())
        text = join(l.one_of_text, [](const std::string& v) { return "\"" + v + "\""; });
    else if (l.min && l.max && integer)
        text = num(*l.min) + " to " + num(*l.max);
    else if (l.min && l.max)
        text = std::string("in ") + (l.min_open ? "(" : "[") + num(*l.min) + ", " + num(*l.max) +
               (l.max_open ? ")" : "]");
    else if (l.min && l.min_open && *l.min == 0.0)
        text = "positive";
    else if (l.min)
        text = (l.min_open ? "> " : ">= ") + num(*l.min);
    else if (l.max)
        text = (l.max_open ? "< " : "<= ") + num(*l.max);
    if (!l.note.empty())
        text += (text.empty() ? "" : " ") + l.note;
    return text;
}

bool within_limits(const Limits& l, double v) {
    if (!std::isfinite(v))
        return false;
    if (!l.one_of.empty())
        return std::find(l.one_of.begin(), l.one_of.end(), v) != l.one_of.end();
    if (l.min && !(l.min_open ? v > *l.min : v >= *l.min))
        return false;
    if (l.max && !(l.max_open ? v < *l.max : v <= *l.max))
        return false;
    return true;
}

[[noreturn]] void invalid(const std::string& what) {
    throw std::invalid_argument("scenario: " + what);
}

// Checks one stored value against its field's limits; `name` is "protocol.hold_s" or
// "pair[1].lr_ratio".
template <class Spec>
void check_field(const Field<Spec>& f, const Spec& spec, const std::string& name) {
    const auto text = [&](bool integer) {
        const std::string l = limits_text(f.limits, integer);
        return name + " must be " + (l.empty() ? "a finite number" : l);
    };
    const auto number = [&](double v, bool integer) {
        if (!within_limits(f.limits, v))
            invalid(text(integer));
    };
    std::visit(
        [&](const auto& m) {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, SetNumber<Spec>> || std::is_same_v<M, SetCount<Spec>>) {
                // Not stored: checked where the values it sets are.
            } else {
                const auto& v = spec.*m;
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, double>)
                    number(v, false);
                else if constexpr (is_integer_v<T>)
                    number(static_cast<double>(v), true);
                else if constexpr (std::is_same_v<T, std::optional<double>>) {
                    if (v)
                        number(*v, false);
                } else if constexpr (std::is_same_v<T, Sides> ||
                                     std::is_same_v<T, std::vector<double>>) {
                    for (double x : v)
                        number(x, false);
                } else if constexpr (std::is_same_v<T, std::string>) {
                    const auto& allowed = f.limits.one_of_text;
                    if (!allowed.empty() &&
                        std::find(allowed.begin(), allowed.end(), v) == allowed.end())
                        invalid(text(false));
                }
            }
        },
        f.member);
}

template <class Spec>
void check_section(const Section<Spec>& section, const Spec& spec, const std::string& prefix) {
    if (section.active && !section.active(spec))
        return;
    for (const auto& f : section.fields)
        check_field(f, spec, prefix + std::string(f.key));
}

// ---- TOML ---------------------------------------------------------------------------------------

class TomlReader {
public:
    explicit TomlReader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw std::invalid_argument(source_ + ": " + key + ": " + what);
    }

    template <class Spec>
    void check_keys(const toml::table& t, const std::string& where, const Section<Spec>& section,
                    const std::vector<std::string_view>& more = {}) const {
        std::vector<std::string_view> allowed;
        for (const auto& f : section.fields)
            allowed.push_back(f.key);
        allowed.insert(allowed.end(), more.begin(), more.end());
        for (const auto& [k, v] : t) {
            if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end())
                continue;
            std::string list;
            for (auto a : allowed)
                list += (list.empty() ? "" : ", ") + std::string(a);
            fail(where.empty() ? std::string(k.str()) : where + "." + std::string(k.str()),
                 "unknown key (known: " + list + ")");
        }
    }

    // The keys of one table into spec, in the order of the section's fields.
    template <class Spec>
    void read(const toml::table& t, const std::string& where, const Section<Spec>& section,
              Spec& spec) const {
        for (const auto& f : section.fields)
            if (f.required && !t.contains(f.key))
                fail(where, std::string(f.key) + " is required");
        for (const auto& f : section.fields)
            if (const toml::node* n = t.get(f.key))
                read_field(*n, (where.empty() ? "" : where + ".") + std::string(f.key), f, spec);
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
    double number(const toml::node& n, const std::string& key) const {
        if (!n.is_number())
            fail(key, "expected a number");
        return *n.value<double>();
    }
    template <class Int> Int integer(const toml::node& n, const std::string& key) const {
        const auto* v = n.as_integer();
        if (!v)
            fail(key, "expected an integer");
        const std::int64_t x = v->get();
        if constexpr (std::is_unsigned_v<Int>)
            if (x < 0)
                fail(key, "must not be negative");
        return static_cast<Int>(x);
    }

    template <class Spec>
    void read_field(const toml::node& n, const std::string& key, const Field<Spec>& f,
                    Spec& spec) const {
        std::visit(
            [&](const auto& m) {
                using M = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<M, SetNumber<Spec>>) {
                    const double v = number(n, key);
                    if (!within_limits(f.limits, v))
                        fail(key, "must be " + limits_text(f.limits, false));
                    m.set(spec, v);
                } else if constexpr (std::is_same_v<M, SetCount<Spec>>) {
                    const auto v = integer<std::size_t>(n, key);
                    if (!within_limits(f.limits, static_cast<double>(v)))
                        fail(key, "must be " + limits_text(f.limits, true));
                    m.set(spec, v);
                } else {
                    read_value(n, key, f, spec.*m);
                }
            },
            f.member);
    }

    template <class Spec>
    void read_value(const toml::node& n, const std::string& key, const Field<Spec>&,
                    double& out) const {
        out = number(n, key);
    }
    template <class Spec>
    void read_value(const toml::node& n, const std::string& key, const Field<Spec>&,
                    std::optional<double>& out) const {
        out = number(n, key);
    }
    template <class Spec, class Int>
    requires is_integer_v<Int>
    void read_value(const toml::node& n, const std::string& key, const Field<Spec>&,
                    Int& out) const {
        out = integer<Int>(n, key);
    }
    template <class Spec>
    void read_value(const toml::node& n, const std::string& key, const Field<Spec>&,
                    bool& out) const {
        const auto* v = n.as_boolean();
        if (!v)
            fail(key, "expected true or false");
        out = v->get();
    }
    template <class Spec>
    void read_value(const toml::node& n, const std::string& key, const Field<Spec>& f,
                    std::string& out) const {
        if (f.channel) { // a label or a 0-based index
            if (const auto* i = n.as_integer())
                out = std::to_string(i->get());
            else if (const auto* s = n.as_string())
                out = s->get();
            else
                fail(key, "expected a label or a 0-based index");
            return;
        }
        const auto* v = n.as_string();
        if (!v)
            fail(key, "expected a string");
        out = v->get();
    }
    // One number for both sides, or [left, right].
    template <class Spec>
    void read_value(const toml::node& n, const std::string& key, const Field<Spec>&,
                    Sides& out) const {
        if (n.is_number()) {
            out[0] = out[1] = *n.value<double>();
            return;
        }
        const auto* a = n.as_array();
        if (!a || a->size() != 2 || !(*a)[0].is_number() || !(*a)[1].is_number())
            fail(key, "expected a number or [left, right]");
        out = {*(*a)[0].value<double>(), *(*a)[1].value<double>()};
    }
    template <class Spec>
    void read_value(const toml::node& n, const std::string& key, const Field<Spec>&,
                    std::vector<double>& out) const {
        const auto* a = n.as_array();
        if (!a)
            fail(key, "expected an array of numbers");
        out.clear();
        for (const auto& e : *a) {
            if (!e.is_number())
                fail(key, "expected an array of numbers");
            out.push_back(*e.value<double>());
        }
    }

    std::string source_;
};

// ---- Schema text --------------------------------------------------------------------------------

// The shortest text that reads back as the same double.
std::string toml_text(double v) {
    char text[32];
    const auto end = std::to_chars(text, text + sizeof text, v).ptr;
    return {text, end};
}

template <class Spec> ScenarioField describe(const Field<Spec>& f, const Spec& defaults) {
    ScenarioField out;
    out.key = std::string(f.key);
    out.unit = std::string(f.unit);
    out.doc = std::string(f.doc);
    out.required = f.required;
    std::visit(
        [&](const auto& m) {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, SetNumber<Spec>>) {
                out.type = "number";
            } else if constexpr (std::is_same_v<M, SetCount<Spec>>) {
                out.type = "integer";
                out.default_value = std::to_string(m.get(defaults));
            } else {
                const auto& v = defaults.*m;
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, double>) {
                    out.type = "number";
                    out.default_value = toml_text(v);
                } else if constexpr (std::is_same_v<T, std::optional<double>>) {
                    out.type = "number";
                    out.default_value = v ? toml_text(*v) : "";
                } else if constexpr (is_integer_v<T>) {
                    out.type = "integer";
                    out.default_value = std::to_string(v);
                } else if constexpr (std::is_same_v<T, bool>) {
                    out.type = "boolean";
                    out.default_value = v ? "true" : "false";
                } else if constexpr (std::is_same_v<T, std::string>) {
                    out.type = f.channel ? "label or 0-based index" : "string";
                    out.default_value = v.empty() ? "" : "\"" + v + "\"";
                } else if constexpr (std::is_same_v<T, Sides>) {
                    out.type = "number or [left, right]";
                    out.default_value = v[0] == v[1]
                                            ? toml_text(v[0])
                                            : "[" + toml_text(v[0]) + ", " + toml_text(v[1]) + "]";
                } else if constexpr (std::is_same_v<T, std::vector<double>>) {
                    out.type = "array of numbers";
                    for (double x : v)
                        out.default_value +=
                            (out.default_value.empty() ? "[" : ", ") + toml_text(x);
                    out.default_value += "]";
                }
            }
        },
        f.member);
    if (f.required)
        out.default_value.clear();
    out.limits = limits_text(f.limits, out.type == "integer");
    return out;
}

} // namespace

// =================================================================================================
// Scenario
// =================================================================================================

std::string channel_label(const PairSpec& pair, Side side) {
    return pair.muscle + " " + pair.level + " " + std::string(side_letter(side));
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
    // A 0-based index; digits beyond any index (too many for an integer) name no channel.
    std::size_t idx = 0;
    const char* end = channel.data() + channel.size();
    if (const auto r = std::from_chars(channel.data(), end, idx);
        !channel.empty() && std::isdigit(static_cast<unsigned char>(channel[0])) &&
        r.ec == std::errc() && r.ptr == end && idx < labels.size())
        return idx;
    std::string known;
    for (std::size_t i = 0; i < labels.size(); ++i)
        known += (i ? ", " : "") + std::to_string(i) + " '" + labels[i] + "'";
    throw std::invalid_argument("no channel '" + channel + "'; channels are " + known);
}

void validate(const Scenario& s) {
    // Each setting against its own limits (the field tables) ...
    for_each_section(s, [](const auto& section, const auto& spec) {
        using Spec = std::decay_t<decltype(spec)>;
        if constexpr (IsVector<Spec>::value) {
            for (std::size_t i = 0; i < spec.size(); ++i)
                check_section(section, spec[i],
                              std::string(section.name) + "[" + std::to_string(i) + "].");
        } else {
            check_section(section, spec,
                          section.name.empty() ? std::string() : std::string(section.name) + ".");
        }
    });

    // ... then the settings that limit each other.
    const auto& p = s.protocol;
    if (!(p.hold_s > 2.0 * p.ramp_s))
        invalid("protocol.hold_s must be longer than two ramps (" + num(2.0 * p.ramp_s) + " s)");
    const auto& m = s.model;
    if (std::llround(m.segment_s * s.sample_rate_hz) < 16)
        invalid("model.segment_s is shorter than 16 samples at " + num(s.sample_rate_hz) + " Hz");
    // 20 Hz: room for an MDF 5 Hz inside either edge that can still fall (Cyton-Daisy's
    // 125 Hz gives 20-56.25 Hz).
    const double high = std::min(m.band_high_hz, 0.45 * s.sample_rate_hz);
    if (!(high > m.band_low_hz + 20.0))
        invalid("analysis band " + num(m.band_low_hz) + "-" + num(high) +
                " Hz is too narrow: it needs to be 20 Hz wide (sample rate " +
                num(s.sample_rate_hz) + " Hz)");
    if (s.pairs.empty())
        invalid("at least one pair is needed");
    for (const auto& pair : s.pairs) {
        const std::string name = "pair " + pair.muscle + " " + pair.level;
        if (pair.muscle.empty() || pair.level.empty())
            invalid("every pair needs a muscle and a level");
        // The labels must read back as sites (pipeline/montage.cpp infers the montage from them).
        if (!normalise_level(pair.level))
            invalid(name + ": level '" + pair.level +
                    "' is not a vertebral level (T1-T12, L1-L5, S1, or a range such as L3-L4)");
        for (double v : pair.mdf0_hz)
            if (!(v > m.band_low_hz && v < high))
                invalid(name + ": mdf0_hz must lie inside the band");
    }
    const auto labels = s.labels();
    for (std::size_t i = 0; i < labels.size(); ++i)
        for (std::size_t j = i + 1; j < labels.size(); ++j)
            if (labels[i] == labels[j])
                invalid("two channels are labelled '" + labels[i] + "'");
    for (const auto& a : s.motion)
        if (!a.channel.empty())
            resolve_channel(s, a.channel);
    for (const auto& f : s.flatlines)
        resolve_channel(s, f.channel);
    for (const auto& c : s.clips)
        resolve_channel(s, c.channel);
}

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
    std::vector<std::string_view> sections;
    Scenario s;
    for_each_section(s, [&](const auto& section, auto&) {
        if (!section.name.empty())
            sections.push_back(section.name);
    });
    r.check_keys(root, "", root_section(), sections);
    if (root.contains("pairs") && root.contains("pair"))
        r.fail("pairs", "give either pairs = N (defaults) or [[pair]] tables, not both");
    for_each_section(s, [&](const auto& section, auto& spec) {
        using Spec = std::decay_t<decltype(spec)>;
        if constexpr (IsVector<Spec>::value) {
            if (!root.contains(section.name))
                return;
            spec.clear(); // [[pair]] tables replace the default pairs
            r.tables(root, section.name, [&](const toml::table& t, const std::string& where) {
                r.check_keys(t, where, section);
                typename Spec::value_type item;
                r.read(t, where, section, item);
                spec.push_back(std::move(item));
            });
        } else if (section.name.empty()) {
            r.read(root, "", section, spec);
        } else if (const auto* t = r.table(root, section.name)) {
            const std::string where(section.name);
            r.check_keys(*t, where, section);
            if (section.on_table)
                section.on_table(spec);
            r.read(*t, where, section, spec);
        }
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

namespace {
template <class Spec> nlohmann::json section_json(const Section<Spec>& section, const Spec& spec) {
    using nlohmann::json;
    json j = json::object();
    for (const auto& [key, value] : section.json_constants)
        j[std::string(key)] = value;
    for (const auto& f : section.fields)
        std::visit(
            [&](const auto& m) {
                using M = std::decay_t<decltype(m)>;
                if constexpr (!std::is_same_v<M, SetNumber<Spec>> &&
                              !std::is_same_v<M, SetCount<Spec>>) {
                    const auto& v = spec.*m;
                    using T = std::decay_t<decltype(v)>;
                    if constexpr (std::is_same_v<T, std::optional<double>>)
                        j[std::string(f.key)] = v ? json(*v) : json(nullptr);
                    else
                        j[std::string(f.key)] = v;
                }
            },
            f.member);
    return j;
}
} // namespace

nlohmann::json to_json(const Scenario& s) {
    nlohmann::json j = nlohmann::json::object();
    for_each_section(s, [&](const auto& section, const auto& spec) {
        using Spec = std::decay_t<decltype(spec)>;
        if constexpr (IsVector<Spec>::value) {
            auto& list = j[std::string(section.name)] = nlohmann::json::array();
            for (const auto& item : spec)
                list.push_back(section_json(section, item));
        } else if (section.name.empty()) {
            j.update(section_json(section, spec));
        } else {
            j[std::string(section.name)] = section_json(section, spec);
        }
    });
    return j;
}

std::vector<ScenarioSection> scenario_schema() {
    std::vector<ScenarioSection> out;
    const Scenario defaults;
    for_each_section(defaults, [&](const auto& section, const auto& spec) {
        using Spec = std::decay_t<decltype(spec)>;
        ScenarioSection s;
        s.name = std::string(section.name);
        s.array_of_tables = IsVector<Spec>::value;
        if constexpr (IsVector<Spec>::value) {
            const typename Spec::value_type item{};
            for (const auto& f : section.fields)
                s.fields.push_back(describe(f, item));
        } else {
            for (const auto& f : section.fields)
                s.fields.push_back(describe(f, spec));
        }
        out.push_back(std::move(s));
    });
    return out;
}

} // namespace semg::acquisition
