#include "acquisition/units.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

namespace semg::acquisition {

std::optional<double> microvolts_per(std::string_view unit) {
    // µ as U+00B5 (micro sign) and U+03BC (Greek mu), both in UTF-8.
    static constexpr std::pair<std::string_view, double> kUnits[] = {
        {"uv", 1.0},         {"\xc2\xb5v", 1.0},  {"\xce\xbcv", 1.0}, {"microv", 1.0},
        {"microvolt", 1.0},  {"microvolts", 1.0}, {"mv", 1e3},        {"millivolt", 1e3},
        {"millivolts", 1e3}, {"v", 1e6},          {"volt", 1e6},      {"volts", 1e6},
        {"nv", 1e-3}};
    std::string u(unit);
    std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto& [name, factor] : kUnits)
        if (u == name)
            return factor;
    return std::nullopt;
}

} // namespace semg::acquisition
