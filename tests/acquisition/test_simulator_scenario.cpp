// The simulator's scenario schema: the field tables against docs/simulator.md, the TOML reader
// against the JSON writer, and the limits' messages.
#include "acquisition/simulator.hpp"
#include "tests/acquisition/scenario_toml.hpp"

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace {

using namespace semg::acquisition;

const std::string docs_path = std::string(SEMG_SOURCE_DIR) + "/docs/simulator.md";
constexpr std::string_view table_begin =
    "<!-- scenario-fields: generated from scenario_schema() -->";
constexpr std::string_view table_end = "<!-- scenario-fields: end -->";

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string dotted(const ScenarioSection& section, const ScenarioField& field) {
    if (section.name.empty())
        return field.key;
    return section.name + (section.array_of_tables ? "[]." : ".") + field.key;
}

// The reference table of docs/simulator.md, as scenario_schema() gives it.
std::string schema_markdown() {
    std::string out = "| key | type | unit | default | limits | meaning |\n"
                      "|---|---|---|---|---|---|\n";
    for (const auto& section : scenario_schema())
        for (const auto& f : section.fields) {
            std::string limits = f.limits;
            for (std::size_t at = 0; (at = limits.find('|', at)) != std::string::npos; at += 2)
                limits.replace(at, 1, "\\|");
            const std::string value = f.required                ? "required"
                                      : f.default_value.empty() ? "absent"
                                                                : "`" + f.default_value + "`";
            out += "| `" + dotted(section, f) + "` | " + f.type + " | " + f.unit + " | " + value +
                   " | " + limits + " | " + f.doc + " |\n";
        }
    return out;
}

// The ```toml block after the heading "## Scenario files (TOML)".
std::string docs_example(const std::string& docs) {
    const auto heading = docs.find("## Scenario files (TOML)");
    const auto begin = docs.find("```toml\n", heading);
    const auto end = docs.find("```", begin + 8);
    if (heading == std::string::npos || begin == std::string::npos || end == std::string::npos)
        return {};
    return docs.substr(begin + 8, end - begin - 8);
}

TEST(ScenarioSchema, DocsReferenceTableIsGeneratedFromTheFieldTables) {
    const std::string docs = read_text(docs_path);
    const auto begin = docs.find(table_begin);
    const auto end = docs.find(table_end);
    ASSERT_NE(begin, std::string::npos) << docs_path << " has no " << table_begin;
    ASSERT_NE(end, std::string::npos) << docs_path << " has no " << table_end;
    const auto from = begin + table_begin.size() + 1;
    const std::string written = docs.substr(from, end - from);
    const std::string expected = schema_markdown();
    if (written != expected && std::getenv("SEMG_UPDATE_DOCS")) {
        std::ofstream(docs_path, std::ios::binary)
            << docs.substr(0, from) << expected << docs.substr(end);
        GTEST_SKIP() << "rewrote the table in " << docs_path;
    }
    EXPECT_EQ(written, expected) << "the scenario fields changed: run this test with "
                                    "SEMG_UPDATE_DOCS=1 to rewrite the table in "
                                 << docs_path;
}

TEST(ScenarioSchema, DocsExampleHasEveryKeyAndNoOther) {
    const std::string example = docs_example(read_text(docs_path));
    ASSERT_FALSE(example.empty());
    // `pairs = N` and [[pair]] exclude each other: the example shows pairs as a comment.
    std::string uncommented = example;
    const auto pairs_line = uncommented.find("# pairs = ");
    ASSERT_NE(pairs_line, std::string::npos);
    uncommented.erase(pairs_line, 2);
    const auto root = toml::parse(uncommented);
    std::set<std::string> documented, known;
    for (const auto& [key, node] : root) {
        const std::string k(key.str());
        if (const auto* t = node.as_table()) {
            for (const auto& [sub, v] : *t)
                documented.insert(k + "." + std::string(sub.str()));
        } else if (const auto* a = node.as_array(); a && a->is_array_of_tables()) {
            for (const auto& e : *a)
                for (const auto& [sub, v] : *e.as_table())
                    documented.insert(k + "[]." + std::string(sub.str()));
        } else {
            documented.insert(k);
        }
    }
    for (const auto& section : scenario_schema())
        for (const auto& f : section.fields)
            known.insert(dotted(section, f));
    EXPECT_EQ(documented, known);
    // And the example, as written, is a scenario that can be simulated.
    EXPECT_NO_THROW(validate(scenario_from_toml(example, "docs/simulator.md")));
}

TEST(ScenarioSchema, DefaultsAreTheDefaultScenario) {
    // A file that says nothing gives Scenario{}; the schema reports its values as defaults.
    EXPECT_EQ(to_json(scenario_from_toml("")), to_json(Scenario{}));
    std::map<std::string, std::string> defaults;
    for (const auto& section : scenario_schema())
        for (const auto& f : section.fields)
            defaults[dotted(section, f)] = f.default_value;
    EXPECT_EQ(defaults.at("protocol.hold_s"), "90");
    EXPECT_EQ(defaults.at("pair[].mdf0_hz"), "75");
    EXPECT_EQ(defaults.at("mains.harmonics"), "[1, 0, 0.3, 0, 0.1]");
    EXPECT_EQ(defaults.at("ecg.shape"), "\"pqrst\"");
    EXPECT_EQ(defaults.at("noise.snr_db"), "");
}

// Every setting away from its default, through TOML -> Scenario -> JSON -> TOML -> Scenario.
TEST(ScenarioSchema, WriterAndReaderAgree) {
    const Scenario s = scenario_from_toml(R"(
seed = 77
sample_rate_hz = 1500.0
[protocol]
rest_before_s = 2.5
hold_s = 40.0
rest_between_s = 7.0
rest_after_s = 3.0
contractions = 3
ramp_s = 0.75
fatigue_carryover = 0.4
[model]
fh_over_fl = 2.5
segment_s = 0.2
band_low_hz = 25.0
band_high_hz = 400.0
[[pair]]
muscle = "ES"
level = "L4"
mdf0_hz = [72.0, 70.0]
mdf_slope_pct_per_s = [-0.25, -0.2]
rms0_uv = 90.0
lr_ratio = 1.2
rms_slope_pct_per_s = [0.1, 0.2]
[[pair]]
muscle = "MF"
level = "L5-S1"
[noise]
baseline_uv = 1.5
snr_db = 25.0
[ecg]
enabled = true
ratio = 0.7
heart_rate_bpm = 80.0
hrv_fraction = 0.05
right_gain = 0.5
level_decay = 0.2
shape = "qrs"
[mains]
frequency_hz = 60.0
amplitude_uv = 12.0
harmonics = [1.0, 0.5]
[wander]
amplitude_uv = 20.0
max_frequency_hz = 0.8
components = 4
[[motion]]
time_s = 12.0
duration_s = 0.4
amplitude_uv = -150.0
channel = "ES L4 R"
[[motion]]
time_s = 20.0
[[flatline]]
channel = 3
start_s = 30.0
value_uv = 5.0
[[clip]]
channel = "MF L5-S1 L"
start_s = 15.0
level_uv = 120.0
[[clip]]
channel = 0
start_s = 1.0
)");
    EXPECT_NO_THROW(validate(s));
    const auto json = to_json(s);
    const Scenario again = scenario_from_toml(semg::test::scenario_toml(json), "again.toml");
    EXPECT_EQ(to_json(again), json);
    // Spot checks that the values went where they belong.
    EXPECT_EQ(again.protocol.rest_between_s, 7.0);
    EXPECT_EQ(again.pairs[1].level, "L5-S1");
    EXPECT_EQ(again.motion[0].channel, "ES L4 R");
    EXPECT_TRUE(again.motion[1].channel.empty());
    EXPECT_EQ(again.flatlines[0].channel, "3");
    EXPECT_FALSE(again.clips[1].level_uv.has_value());
    EXPECT_EQ(json["model"]["spectrum"], "shwedyk");
}

TEST(ScenarioSchema, LimitsNameTheSetting) {
    auto message = [](const std::string& toml) {
        try {
            validate(scenario_from_toml(toml, "t.toml"));
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message("[protocol]\nfatigue_carryover = 1.5"),
              "scenario: protocol.fatigue_carryover must be in [0, 1]");
    EXPECT_EQ(message("[protocol]\ncontractions = 0"),
              "scenario: protocol.contractions must be >= 1");
    EXPECT_EQ(message("[wander]\namplitude_uv = 5\ncomponents = 40"),
              "scenario: wander.components must be 1 to 16");
    EXPECT_EQ(message("[wander]\namplitude_uv = 5\nmax_frequency_hz = 0"),
              "scenario: wander.max_frequency_hz must be in (0, 5]");
    EXPECT_EQ(message("[mains]\nfrequency_hz = 55"),
              "scenario: mains.frequency_hz must be 50 or 60 (0 for none)");
    EXPECT_EQ(message("[ecg]\nshape = \"sine\""),
              "scenario: ecg.shape must be \"pqrst\" or \"qrs\"");
    EXPECT_EQ(message("[ecg]\nenabled = false\nshape = \"sine\""), "no error"); // ECG off
    EXPECT_EQ(message("[noise]\nbaseline_uv = nan"), "scenario: noise.baseline_uv must be >= 0");
    EXPECT_EQ(message("[[pair]]\nmuscle = \"ES\"\nlevel = \"L3\"\nrms0_uv = 0"),
              "scenario: pair[0].rms0_uv must be positive");
    EXPECT_EQ(message("[[pair]]\nmuscle = \"ES\"\nlevel = \"L3\"\nmdf_slope_pct_per_s = [0, inf]"),
              "scenario: pair[0].mdf_slope_pct_per_s must be a finite number");
    EXPECT_EQ(message("[[pair]]\nmuscle = \"ES\"\nlevel = \"C3\""),
              "scenario: pair ES C3: level 'C3' is not a vertebral level (T1-T12, L1-L5, S1, or "
              "a range such as L3-L4)");
    EXPECT_EQ(message("[protocol]\nrest_s = -1"), "t.toml: protocol.rest_s: must be >= 0");
    EXPECT_EQ(message("[[motion]]\nduration_s = 1"), "t.toml: motion[0]: time_s is required");
    // Found by fuzz_scenario: an index too long for an integer threw std::out_of_range.
    EXPECT_NE(message("[[clip]]\nchannel = \"0000000090000000000000000000000000\"")
                  .find("no channel '0000000090000000000000000000000000'"),
              std::string::npos);
    EXPECT_NE(message("[[clip]]\nchannel = \"+1\"").find("no channel '+1'"), std::string::npos);
    EXPECT_EQ(message("[[clip]]\nchannel = \"007\""), "no error");
    EXPECT_EQ(message("[[clip]]\nchannel = 1.5"),
              "t.toml: clip[0].channel: expected a label or a 0-based index");
    EXPECT_EQ(message("[model]\nspectrum = \"shwedyk\""),
              "t.toml: model.spectrum: unknown key (known: fh_over_fl, segment_s, band_low_hz, "
              "band_high_hz)");
}

} // namespace
