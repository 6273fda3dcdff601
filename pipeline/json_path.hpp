// Reading summary.json defensively, for the tables built from it (pipeline/cohort.cpp,
// dataset.sqlite) and the session log (pipeline/session_db.cpp): a missing step is a null cell,
// never an exception. Result-writing time only: allocates.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace semg::pipeline {

// j[a][b]..., null where any step is missing or not an object.
inline nlohmann::ordered_json json_at(const nlohmann::ordered_json& j,
                                      std::initializer_list<std::string_view> keys) {
    const nlohmann::ordered_json* p = &j;
    for (const auto k : keys) {
        if (!p->is_object())
            return nullptr;
        const auto it = p->find(std::string(k));
        if (it == p->end())
            return nullptr;
        p = &*it;
    }
    return *p;
}

// a[i], null unless a is an array with an element i.
inline nlohmann::ordered_json json_item(const nlohmann::ordered_json& a, std::size_t i) {
    return a.is_array() && i < a.size() ? a[i] : nlohmann::ordered_json();
}

// The text, or null for an empty one.
inline nlohmann::ordered_json text_or_null(const std::string& s) {
    return s.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(s);
}

} // namespace semg::pipeline
