// Paraspinal anatomy: sides, vertebral levels, muscles (see anatomy.hpp).
#include "acquisition/anatomy.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace semg::acquisition {
namespace {

bool all_digits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                               diagonal + static_cast<std::size_t>(a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

} // namespace

std::string_view to_string(Side side) noexcept {
    switch (side) {
    case Side::Left: return "left";
    case Side::Right: return "right";
    case Side::Midline: return "midline";
    case Side::Unknown: break;
    }
    return "unknown";
}

std::string_view side_letter(Side side) noexcept {
    return side == Side::Left ? "L" : side == Side::Right ? "R" : "";
}

std::optional<Side> side_from_name(std::string_view key) noexcept {
    if (key == "left" || key == "l")
        return Side::Left;
    if (key == "right" || key == "r")
        return Side::Right;
    if (key == "midline")
        return Side::Midline;
    if (key == "unknown" || key.empty())
        return Side::Unknown;
    return std::nullopt;
}

std::optional<int> level_ordinal(char region, int number) noexcept {
    switch (std::toupper(static_cast<unsigned char>(region))) {
    case 'T': return number >= 1 && number <= 12 ? std::optional(number - 1) : std::nullopt;
    case 'L': return number >= 1 && number <= 5 ? std::optional(11 + number) : std::nullopt;
    case 'S': return number == 1 ? std::optional(17) : std::nullopt;
    default: return std::nullopt;
    }
}

std::string level_name(int ordinal) {
    if (ordinal < 12)
        return "T" + std::to_string(ordinal + 1);
    if (ordinal < 17)
        return "L" + std::to_string(ordinal - 11);
    return "S1";
}

std::optional<int> parse_single_level(std::string_view text) {
    if (text.size() < 2 || text.size() > 3 || !all_digits(text.substr(1)))
        return std::nullopt;
    return level_ordinal(text[0], std::stoi(std::string(text.substr(1))));
}

std::optional<std::string> make_level_range(int first, std::string_view second_text) {
    std::optional<int> second = parse_single_level(second_text);
    if (!second && all_digits(second_text) && second_text.size() <= 2)
        second = level_ordinal(level_name(first)[0], std::stoi(std::string(second_text)));
    if (!second || *second <= first)
        return std::nullopt;
    return level_name(first) + "-" + level_name(*second);
}

namespace {
struct SplitLevel {
    std::optional<int> first;
    std::string compact;
    std::size_t dash = std::string::npos;
};
SplitLevel split_level(std::string_view text) {
    SplitLevel out;
    for (char c : text)
        if (!std::isspace(static_cast<unsigned char>(c)))
            out.compact += c;
    out.dash = out.compact.find_first_of("-/");
    out.first = parse_single_level(std::string_view(out.compact).substr(0, out.dash));
    return out;
}
} // namespace

std::optional<std::string> normalise_level(std::string_view text) {
    const auto split = split_level(text);
    if (!split.first)
        return std::nullopt;
    if (split.dash == std::string::npos)
        return level_name(*split.first);
    return make_level_range(*split.first, std::string_view(split.compact).substr(split.dash + 1));
}

std::optional<int> level_top_ordinal(std::string_view text) {
    if (!normalise_level(text))
        return std::nullopt;
    return split_level(text).first;
}

std::string muscle_key(std::string_view text) {
    std::string key;
    for (char c : text) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const bool joiner = c == ' ' || c == '-' || c == '.' || c == '_';
        if (!joiner)
            key += c;
        else if (!key.empty() && key.back() != '_')
            key += '_';
    }
    return key;
}

std::optional<std::string_view> paraspinal_muscle(std::string_view key) noexcept {
    for (const auto& entry : muscle_aliases)
        if (entry.alias == key)
            return entry.muscle;
    return std::nullopt;
}

std::optional<std::string_view> paraspinal_typo(std::string_view key) {
    if (paraspinal_muscle(key))
        return std::nullopt;
    for (const auto& entry : muscle_aliases)
        if (entry.alias.size() >= 6 && edit_distance(entry.alias, key) <= 2)
            return entry.muscle;
    return std::nullopt;
}

std::string muscle_name(const std::string& muscle) {
    const auto id = paraspinal_muscle(muscle_key(muscle));
    if (!id)
        return muscle;
    for (const auto& m : paraspinal_muscles)
        if (m.id == *id)
            return std::string(m.name);
    return muscle;
}

} // namespace semg::acquisition
