// Numbers in messages as a person writes them: 56.25, 450, 1e+09, nan (not std::to_string's
// 56.250000). Up to 6 significant digits.
#pragma once

#include <cstdio>
#include <string>

namespace semg::dsp {

inline std::string format_number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

} // namespace semg::dsp
