// Test helper: the simulator scenario's JSON (acquisition::to_json, "the layout of the TOML
// file") written back as TOML text, so that a test or a fuzzer can check that the writer and
// the reader agree: to_json(scenario_from_toml(scenario_toml(to_json(s)))) == to_json(s).
// Nulls (settings that are absent) are left out; so is model.spectrum, a description the
// writer adds and the reader does not take.
#pragma once

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <sstream>
#include <string>

namespace semg::test {

inline toml::array toml_array(const nlohmann::json& j);

inline void toml_insert(toml::table& t, const std::string& key, const nlohmann::json& v) {
    if (v.is_object()) {
        toml::table sub;
        for (const auto& [k, x] : v.items())
            if (!x.is_null())
                toml_insert(sub, k, x);
        t.insert_or_assign(key, std::move(sub));
    } else if (v.is_array()) {
        t.insert_or_assign(key, toml_array(v));
    } else if (v.is_boolean()) {
        t.insert_or_assign(key, v.get<bool>());
    } else if (v.is_number_integer()) {
        t.insert_or_assign(key, v.get<std::int64_t>());
    } else if (v.is_number()) {
        t.insert_or_assign(key, v.get<double>());
    } else if (v.is_string()) {
        t.insert_or_assign(key, v.get<std::string>());
    }
}

inline toml::array toml_array(const nlohmann::json& j) {
    toml::array a;
    for (const auto& v : j) {
        if (v.is_object()) {
            toml::table sub;
            for (const auto& [k, x] : v.items())
                if (!x.is_null())
                    toml_insert(sub, k, x);
            a.push_back(std::move(sub));
        } else if (v.is_boolean()) {
            a.push_back(v.get<bool>());
        } else if (v.is_number_integer()) {
            a.push_back(v.get<std::int64_t>());
        } else if (v.is_number()) {
            a.push_back(v.get<double>());
        } else if (v.is_string()) {
            a.push_back(v.get<std::string>());
        }
    }
    return a;
}

inline std::string scenario_toml(nlohmann::json scenario) {
    if (scenario.contains("model"))
        scenario["model"].erase("spectrum");
    toml::table root;
    for (const auto& [k, v] : scenario.items())
        if (!v.is_null())
            toml_insert(root, k, v);
    std::ostringstream out;
    out << root;
    return out.str();
}

} // namespace semg::test
