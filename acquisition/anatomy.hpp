// Paraspinal anatomy shared by the montage (pipeline/montage.cpp: montage files and label
// inference) and the simulator (acquisition/simulator.cpp: channel labels, muscle names, the
// ECG's decay down the spine): body sides, vertebral levels, the paraspinal muscles with their
// names, abbreviations and aliases. One definition, so that what the simulator writes is what the
// montage reads. The accepted spellings are listed in docs/montage.md.
// Pure functions and constant tables: no I/O; the functions returning std::string allocate.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace semg::acquisition {

// ---- Sides ------------------------------------------------------------------------------------

enum class Side {
    Left,
    Right,
    Midline, // stated in a montage file, e.g. a reference over the spine
    Unknown, // not stated, or a generic label such as "EMG1"
};

// "left", "right", "midline", "unknown": the spelling used in files and result tables.
std::string_view to_string(Side side) noexcept;
// "L" or "R", as in a channel label "ES L4 L"; "" for midline and unknown.
std::string_view side_letter(Side side) noexcept;
// A side as a montage file or a BIDS field writes it (lower case, trimmed): left / l, right / r,
// midline, unknown or "" (Unknown). Nothing for any other word.
std::optional<Side> side_from_name(std::string_view lower_case) noexcept;

// Words that state a side inside a channel label (lower case). "lt" is left here; "LT" in
// capitals is longissimus, which a label reader must check first.
struct SideWord {
    std::string_view word;
    Side side;
};
inline constexpr auto side_label_words = std::to_array<SideWord>({{"l", Side::Left},
                                                                  {"left", Side::Left},
                                                                  {"lt", Side::Left},
                                                                  {"sin", Side::Left},
                                                                  {"sx", Side::Left},
                                                                  {"r", Side::Right},
                                                                  {"right", Side::Right},
                                                                  {"rt", Side::Right},
                                                                  {"dx", Side::Right},
                                                                  {"dex", Side::Right}});

// ---- Vertebral levels -------------------------------------------------------------------------
// One ordinal per level, T1..T12 = 0..11, L1..L5 = 12..16, S1 = 17, so that a range can be
// checked to run downwards and a distance along the spine counted. Levels outside T1-S1 are not
// accepted: in a label "L6" or "S3" is far more likely a channel number than an electrode site.

inline constexpr int level_ordinal_l1 = 12;

// The ordinal of region letter (T, L, S; any case) and number, if that level exists.
std::optional<int> level_ordinal(char region, int number) noexcept;
// "T1" ... "S1".
std::string level_name(int ordinal);
// Exactly one level, e.g. "L3" or "t12".
std::optional<int> parse_single_level(std::string_view text);
// The upper end of a range is a level ("L3-L4", "L5/S1") or a bare number in the region of the
// lower end ("L3-4"). Returns the normalised range "L3-L4", or nothing when it does not read as a
// downward range.
std::optional<std::string> make_level_range(int first, std::string_view second_text);
// A level as written in a montage file: "L3", "l3", "L3-L4", "L3/L4", "L3-4", "L5-S1" (spaces
// ignored). Returns "L3" or "L3-L4", or nothing.
std::optional<std::string> normalise_level(std::string_view text);
// The ordinal of a level or of the upper (first) end of a range, as normalise_level reads it.
std::optional<int> level_top_ordinal(std::string_view text);

// ---- Paraspinal muscles -----------------------------------------------------------------------

struct Muscle {
    std::string_view id;           // canonical, in montage files and result tables
    std::string_view name;         // for people, in the simulator's truth file
    std::string_view abbreviation; // in the simulator's labels "ES L4 L"
};
inline constexpr auto paraspinal_muscles =
    std::to_array<Muscle>({{"erector_spinae", "erector spinae", "ES"},
                           {"longissimus", "longissimus", "LT"},
                           {"iliocostalis", "iliocostalis", "IL"},
                           {"multifidus", "multifidus", "MF"}});

// Spellings of a paraspinal muscle in a montage file or a muscle field: lower case, words joined
// by '_' (see muscle_key).
struct MuscleAlias {
    std::string_view alias;
    std::string_view muscle; // Muscle::id
};
// clang-format off
inline constexpr auto muscle_aliases = std::to_array<MuscleAlias>({
    {"erector_spinae", "erector_spinae"}, {"es", "erector_spinae"}, {"erector", "erector_spinae"},
    {"erectorspinae", "erector_spinae"}, {"paraspinal", "erector_spinae"},
    {"paraspinals", "erector_spinae"},
    {"longissimus", "longissimus"}, {"lt", "longissimus"}, {"lg", "longissimus"},
    {"longissimus_thoracis", "longissimus"},
    {"iliocostalis", "iliocostalis"}, {"il", "iliocostalis"}, {"ilc", "iliocostalis"},
    {"iliocostalis_lumborum", "iliocostalis"},
    {"multifidus", "multifidus"}, {"mf", "multifidus"}});
// clang-format on

// Words that name a paraspinal muscle inside a channel label (lower case; one word each, so
// "erector" and "spinae" separately). "lt" is not among them: in a label it is a side.
// clang-format off
inline constexpr auto muscle_label_words = std::to_array<MuscleAlias>({
    {"es", "erector_spinae"}, {"erector", "erector_spinae"}, {"spinae", "erector_spinae"},
    {"paraspinal", "erector_spinae"}, {"paraspinals", "erector_spinae"},
    {"lg", "longissimus"}, {"longissimus", "longissimus"},
    {"il", "iliocostalis"}, {"ilc", "iliocostalis"}, {"iliocostalis", "iliocostalis"},
    {"mf", "multifidus"}, {"multifidus", "multifidus"}});
// clang-format on

// Muscle text as an alias key: lower case, runs of ' ', '-', '.', '_' become one '_' (leading
// ones dropped), e.g. "Erector Spinae" -> "erector_spinae".
std::string muscle_key(std::string_view text);
// The canonical id of a paraspinal muscle from its alias key; nothing for other muscles.
std::optional<std::string_view> paraspinal_muscle(std::string_view key) noexcept;
// The paraspinal muscle `key` is within two edits of without being one of its aliases (only
// aliases of six letters or more count): a typo that would silently break a pair.
std::optional<std::string_view> paraspinal_typo(std::string_view key);
// The name of a muscle given as any alias or abbreviation ("ES", "es", "erector spinae" ->
// "erector spinae"); other text is returned as it is.
std::string muscle_name(const std::string& muscle);

} // namespace semg::acquisition
