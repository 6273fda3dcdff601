#include "pipeline/montage.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace semg::pipeline {

namespace {

constexpr std::string_view montage_hint =
    "give a montage file with --montage FILE (see docs/montage.md)";

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos)
        return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

bool all_digits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

std::string quoted_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "'" : ", '") + item + "'";
    return out;
}

// Vertebral levels, sides and muscle names: acquisition/anatomy.hpp, shared with the simulator.
using acquisition::level_name;
using acquisition::normalise_level;
using acquisition::parse_single_level;

// ---- Label vocabulary -------------------------------------------------------------------------

enum class PieceKind { Side, Muscle, Level, Number, Filler };

struct Piece {
    PieceKind kind = PieceKind::Filler;
    std::string text;  // as written in the label
    std::string value; // canonical muscle; level name
    Side side = Side::Unknown;
    int level = -1; // ordinal, for ranges
};

// Words that say nothing about the site; a bare number is a channel index. The words for sides
// and muscles are acquisition::side_label_words and acquisition::muscle_label_words.
constexpr auto filler_words = std::to_array<std::string_view>(
    {"emg", "semg", "ch", "chan", "channel", "sensor", "electrode", "m", "muscle", "thoracis",
     "lumborum", "raw", "v", "mv", "uv"});

// Labels containing a word that starts like this are not EMG.
constexpr auto non_emg_prefixes = std::to_array<std::string_view>(
    {"ecg", "ekg", "acc", "gyr", "annot", "status", "trig", "marker", "event", "sync", "force",
     "torque", "temp", "batt", "time", "resp", "aux", "sample"});

std::optional<Piece> classify_piece(std::string_view text) {
    Piece piece;
    piece.text = std::string(text);
    if (text == "LT") {
        piece.kind = PieceKind::Muscle;
        piece.value = "longissimus";
        return piece;
    }
    if (all_digits(text)) {
        piece.kind = PieceKind::Number;
        return piece;
    }
    if (const auto level = parse_single_level(text)) {
        piece.kind = PieceKind::Level;
        piece.level = *level;
        piece.value = level_name(*level);
        return piece;
    }
    // "lt" is left and "LT" (all capitals) longissimus: both spellings are common and the case is
    // the only thing that tells them apart; "LT" is handled above.
    const std::string key = lower(text);
    for (const auto& entry : acquisition::side_label_words) {
        if (entry.word == key) {
            piece.kind = PieceKind::Side;
            piece.side = entry.side;
            return piece;
        }
    }
    for (const auto& entry : acquisition::muscle_label_words) {
        if (entry.alias == key) {
            piece.kind = PieceKind::Muscle;
            piece.value = std::string(entry.muscle);
            return piece;
        }
    }
    if (std::find(filler_words.begin(), filler_words.end(), key) != filler_words.end()) {
        piece.kind = PieceKind::Filler;
        return piece;
    }
    return std::nullopt;
}

// Inside a glued word, digits belong to the piece before them only when that piece is a number
// or a level; and a letter that makes a level with the digits after it is taken as that level
// ("ESL3L" is ES L3 L, never ES L 3 L; "RT10" is R T10).
bool may_end_before(std::string_view word, std::size_t end, const Piece& piece) {
    if (end >= word.size() || !is_digit(word[end]))
        return true;
    if (piece.kind == PieceKind::Number || piece.kind == PieceKind::Level)
        return false;
    std::size_t digits_end = end;
    while (digits_end < word.size() && is_digit(word[digits_end]))
        ++digits_end;
    return !parse_single_level(word.substr(end - 1, digits_end - end + 1));
}

bool same_meaning(const std::vector<Piece>& a, const std::vector<Piece>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Piece& x, const Piece& y) {
        return x.kind == y.kind && x.value == y.value && x.side == y.side &&
               (x.kind != PieceKind::Number || x.text == y.text);
    });
}

// Only a number can be longer than the longest word of the vocabulary (a level has at most three
// characters), and a number must take its whole run of digits: so the pieces starting at i are
// the short ones and that run. Trying every substring made a long word (a corrupt 4 kB header
// line) take time cubic in its length.
constexpr std::size_t longest_word_chars = [] {
    std::size_t longest = 0;
    for (const auto& entry : acquisition::side_label_words)
        longest = std::max(longest, entry.word.size());
    for (const auto& entry : acquisition::muscle_label_words)
        longest = std::max(longest, entry.alias.size());
    for (const auto word : filler_words)
        longest = std::max(longest, word.size());
    return longest;
}();

// The readings of a word written without separators ("ESL4R", "multifidusL5"): its pieces with
// the fillers left out. Splits that mean the same ("mV" as mV or m V) count once; when two
// readings differ the word is reported rather than guessed. Empty: the word is not readable.
std::vector<std::vector<Piece>> read_glued_word(std::string_view word) {
    const std::size_t n = word.size();
    // readings[i]: the distinct readings of word[i..], at most two (two already means ambiguous).
    std::vector<std::vector<std::vector<Piece>>> readings(n + 1);
    readings[n] = {{}};
    std::size_t digits_end = n; // end of the run of digits at i, if word[i] is a digit
    for (std::size_t i = n; i-- > 0;) {
        if (!is_digit(word[i]))
            digits_end = i;
        else if (i + 1 == n || !is_digit(word[i + 1]))
            digits_end = i + 1;
        const std::size_t last_short =
            std::min(n, i + std::max<std::size_t>(longest_word_chars, 3));
        for (std::size_t j = i + 1; j <= n; ++j) {
            if (j > last_short && j != digits_end) {
                if (j > digits_end)
                    break;
                j = digits_end - 1; // ++j: the whole run of digits
                continue;
            }
            if (readings[j].empty())
                continue;
            const auto piece = classify_piece(word.substr(i, j - i));
            if (!piece || !may_end_before(word, j, *piece))
                continue;
            for (const auto& rest : readings[j]) {
                std::vector<Piece> reading;
                if (piece->kind != PieceKind::Filler)
                    reading.push_back(*piece);
                reading.insert(reading.end(), rest.begin(), rest.end());
                const bool known = std::any_of(
                    readings[i].begin(), readings[i].end(),
                    [&](const std::vector<Piece>& other) { return same_meaning(reading, other); });
                if (!known && readings[i].size() < 2)
                    readings[i].push_back(std::move(reading));
            }
        }
    }
    return readings[0];
}

// ---- Reading one label ------------------------------------------------------------------------

struct Word {
    std::string text;
    char separator_before = '\0'; // '-' or '/' (may start a range), ' ' (other), '\0' (none)
};

bool is_separator(char c) {
    return std::string_view(" \t_-./\\,;:()[]{}|#").find(c) != std::string_view::npos;
}

std::vector<Word> split_words(std::string_view label) {
    std::vector<Word> words;
    char separator = '\0';
    for (std::size_t i = 0; i < label.size();) {
        if (is_separator(label[i])) {
            if (label[i] == '-' || label[i] == '/')
                separator = label[i];
            else if (separator == '\0' && !words.empty())
                separator = ' ';
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < label.size() && !is_separator(label[end]))
            ++end;
        words.push_back({std::string(label.substr(i, end - i)), words.empty() ? '\0' : separator});
        separator = '\0';
        i = end;
    }
    return words;
}

struct LabelReading {
    bool is_emg = true;
    std::optional<Side> side;
    std::string muscle, level;
    std::string problem;     // why the label cannot be read; empty when it can
    std::string free_muscle; // the words kept as a free-text muscle, as written; empty if none
    [[nodiscard]] bool has_site() const { return side || !muscle.empty() || !level.empty(); }
};

bool looks_non_emg(const std::vector<Word>& words) {
    return std::any_of(words.begin(), words.end(), [](const Word& word) {
        const std::string key = lower(word.text);
        return std::any_of(non_emg_prefixes.begin(), non_emg_prefixes.end(),
                           [&](std::string_view prefix) { return key.starts_with(prefix); });
    });
}

struct LabelPiece {
    Piece piece;
    char separator_before = '\0';
};

// A label, or with `muscle_field` the text of a field that names the muscle (a BIDS
// channels.tsv target_muscle): then no word makes it non-EMG ("temporalis") and words outside the
// vocabulary are the muscle when no known muscle is named, whatever else the text says.
LabelReading read_label(std::string_view label, bool muscle_field = false) {
    LabelReading reading;
    const auto words = split_words(label);
    if (!muscle_field && looks_non_emg(words)) {
        reading.is_emg = false;
        return reading;
    }

    std::vector<LabelPiece> pieces;
    std::vector<std::string> unknown_words;
    for (const auto& word : words) {
        if (auto piece = classify_piece(word.text)) {
            pieces.push_back({std::move(*piece), word.separator_before});
            continue;
        }
        auto glued = read_glued_word(word.text);
        if (glued.empty()) {
            unknown_words.push_back(word.text);
        } else if (glued.size() > 1) {
            reading.problem = "'" + word.text + "' can be read in more than one way";
            return reading;
        } else {
            for (std::size_t k = 0; k < glued[0].size(); ++k)
                pieces.push_back({std::move(glued[0][k]), k == 0 ? word.separator_before : '\0'});
        }
    }

    std::string side_text, muscle_text, level_text;
    for (std::size_t k = 0; k < pieces.size(); ++k) {
        Piece& piece = pieces[k].piece;
        if (piece.kind == PieceKind::Level && k + 1 < pieces.size() &&
            (pieces[k + 1].separator_before == '-' || pieces[k + 1].separator_before == '/') &&
            (pieces[k + 1].piece.kind == PieceKind::Level ||
             pieces[k + 1].piece.kind == PieceKind::Number)) {
            const auto& upper = pieces[k + 1].piece;
            const auto range = acquisition::make_level_range(piece.level, upper.text);
            if (!range) {
                reading.problem = "'" + piece.text + pieces[k + 1].separator_before + upper.text +
                                  "' is not a range of vertebral levels";
                return reading;
            }
            piece.text += pieces[k + 1].separator_before + upper.text;
            piece.value = *range;
            ++k;
        }
        auto conflict = [&](const char* what, std::string& seen_text, const std::string& seen,
                            const std::string& value) {
            if (!seen.empty() && seen != value && reading.problem.empty())
                reading.problem = std::string("names two ") + what + " ('" + seen_text + "' and '" +
                                  piece.text + "')";
            if (seen.empty())
                seen_text = piece.text;
        };
        switch (piece.kind) {
        case PieceKind::Side: {
            const std::string seen = reading.side ? std::string(to_string(*reading.side)) : "";
            conflict("sides", side_text, seen, std::string(to_string(piece.side)));
            reading.side = reading.side.value_or(piece.side);
            break;
        }
        case PieceKind::Muscle:
            conflict("muscles", muscle_text, reading.muscle, piece.value);
            if (reading.muscle.empty())
                reading.muscle = piece.value;
            break;
        case PieceKind::Level:
            conflict("levels", level_text, reading.level, piece.value);
            if (reading.level.empty())
                reading.level = piece.value;
            break;
        case PieceKind::Number:
        case PieceKind::Filler: break;
        }
    }
    if (!reading.problem.empty())
        return reading;

    if (!unknown_words.empty() && reading.muscle.empty() &&
        (muscle_field || (reading.side && !reading.level.empty()))) {
        // A clear side and level leave only the muscle to the unknown words: keep them as free
        // text ("GLUT L5 R"), lower-cased so that "GLUT L5 L" and "glut L5 R" pair.
        std::string written, key;
        for (const auto& word : unknown_words) {
            written += (written.empty() ? "" : " ") + word;
            key += (key.empty() ? "" : "_") + lower(word);
        }
        if (const auto meant = acquisition::paraspinal_typo(key)) {
            reading.problem =
                "unknown muscle '" + written + "' (did you mean '" + std::string(*meant) + "'?)";
            return reading;
        }
        reading.muscle = lower(written);
        reading.free_muscle = written;
    } else if (reading.has_site() && !unknown_words.empty()) {
        reading.problem = "unrecognised word '" + unknown_words.front() + "'";
    } else if (!reading.level.empty() && !reading.side && reading.muscle.empty()) {
        // "L1" alone is as likely "left, channel 1" as the first lumbar level, "S1" "sensor 1".
        reading.problem = "a level with no muscle and no side: '" + level_text +
                          "' could be vertebral level " + reading.level + " or a channel name";
        if (std::tolower(static_cast<unsigned char>(level_text[0])) == 'l' &&
            parse_single_level(level_text))
            reading.problem += " (left channel " + level_text.substr(1) + ")";
    }
    return reading;
}

// ---- Montage file -----------------------------------------------------------------------------

[[noreturn]] void file_error(const std::filesystem::path& file, std::uint32_t line,
                             const std::string& what) {
    std::string where = file.string();
    if (line > 0)
        where += ":" + std::to_string(line);
    throw std::invalid_argument(where + ": " + what);
}

std::uint32_t line_of(const toml::node& node) { return node.source().begin.line; }

// Paraspinal names and their abbreviations become canonical. Other muscles are free text, kept
// as written, except spellings within two edits of a paraspinal name: those are typos that would
// otherwise silently break a pair.
std::string normalise_muscle(const std::filesystem::path& file, std::uint32_t line,
                             std::string_view label, std::string_view text) {
    const std::string key = acquisition::muscle_key(trim(text));
    if (const auto muscle = acquisition::paraspinal_muscle(key))
        return std::string(*muscle);
    if (const auto meant = acquisition::paraspinal_typo(key))
        file_error(file, line,
                   "channel '" + std::string(label) + "': unknown muscle '" + std::string(text) +
                       "' (did you mean '" + std::string(*meant) + "'?)");
    return trim(text);
}

std::string parse_level(const std::filesystem::path& file, std::uint32_t line,
                        std::string_view label, const std::string& text) {
    if (trim(text).empty())
        return {};
    if (auto level = normalise_level(text))
        return *level;
    file_error(file, line,
               "channel '" + std::string(label) + "': unknown level '" + text +
                   "' (expected T1-T12, L1-L5 or S1, or a range such as L3-L4)");
}

Side parse_side(const std::filesystem::path& file, std::uint32_t line, std::string_view label,
                std::string_view text) {
    if (const auto side = acquisition::side_from_name(lower(trim(text))))
        return *side;
    file_error(file, line,
               "channel '" + std::string(label) + "': unknown side '" + std::string(text) +
                   "' (expected left, right, midline or unknown)");
}

bool parse_is_emg(const std::filesystem::path& file, std::uint32_t line, std::string_view label,
                  std::string_view text) {
    const std::string key = lower(trim(text));
    if (key == "emg")
        return true;
    for (std::string_view other : {"ecg", "acc", "gyro", "force", "trigger", "annotation", "other"})
        if (key == other)
            return false;
    file_error(file, line,
               "channel '" + std::string(label) + "': unknown type '" + std::string(text) +
                   "' (expected emg, ecg, acc, gyro, force, trigger, annotation or other)");
}

std::string string_value(const std::filesystem::path& file, std::string_view label,
                         std::string_view key, const toml::node& node) {
    const auto value = node.value<std::string>();
    if (!value || !node.is_string())
        file_error(file, line_of(node),
                   "channel '" + std::string(label) + "': " + std::string(key) +
                       " must be a string");
    return *value;
}

double millimetres(const std::filesystem::path& file, std::string_view label, std::string_view key,
                   const toml::node& node) {
    const auto value = node.is_number() ? node.value<double>() : std::nullopt;
    if (!value || !(*value > 0.0))
        file_error(file, line_of(node),
                   "channel '" + std::string(label) + "': " + std::string(key) +
                       " must be a positive number of millimetres");
    return *value;
}

ChannelSite parse_channel(const std::filesystem::path& file, const std::string& label,
                          const toml::table& table, bool label_key_allowed) {
    ChannelSite site;
    site.label = label;
    for (auto&& [key_node, node] : table) {
        const std::string_view key = key_node.str();
        const std::uint32_t line = line_of(node);
        if (key == "label" && label_key_allowed)
            continue;
        if (key == "type")
            site.is_emg = parse_is_emg(file, line, label, string_value(file, label, key, node));
        else if (key == "muscle")
            site.muscle = normalise_muscle(file, line, label, string_value(file, label, key, node));
        else if (key == "level")
            site.level = parse_level(file, line, label, string_value(file, label, key, node));
        else if (key == "side")
            site.side = parse_side(file, line, label, string_value(file, label, key, node));
        else if (key == "electrode_size_mm")
            site.electrode_size_mm = millimetres(file, label, key, node);
        else if (key == "inter_electrode_distance_mm")
            site.inter_electrode_distance_mm = millimetres(file, label, key, node);
        else
            file_error(file, line,
                       "channel '" + label + "': unknown key '" + std::string(key) +
                           "' (expected type, muscle, level, side, electrode_size_mm, "
                           "inter_electrode_distance_mm)");
    }
    return site;
}

struct FileChannel {
    ChannelSite site;
    std::uint32_t line = 0;
};

} // namespace

std::optional<std::size_t> Montage::index_of(std::string_view label) const {
    for (std::size_t i = 0; i < channels.size(); ++i)
        if (channels[i].label == label)
            return i;
    return std::nullopt;
}

ChannelSite site_from_fields(const std::string& label, std::string_view muscle,
                             std::string_view level, std::string_view side,
                             const std::filesystem::path& file, std::uint32_t line) {
    const auto given = [](std::string_view text) {
        const std::string t = trim(text);
        return !t.empty() && lower(t) != "n/a";
    };
    ChannelSite site;
    site.label = label;
    std::optional<Side> side_found;
    if (given(muscle)) {
        const LabelReading reading = read_label(muscle, true);
        if (reading.problem.empty() && !reading.muscle.empty()) {
            if (!reading.free_muscle.empty())
                (void)normalise_muscle(file, line, label, reading.free_muscle); // typo check
            site.muscle = reading.muscle;
            site.level = reading.level;
            side_found = reading.side;
        } else {
            // Two sides or muscles, a side with no muscle ...: the field is a muscle, keep it.
            site.muscle = lower(normalise_muscle(file, line, label, muscle));
        }
    }
    if (given(level))
        site.level = parse_level(file, line, label, std::string(level));
    if (given(side))
        side_found = parse_side(file, line, label, side);
    const LabelReading from_label = read_label(label);
    if (from_label.problem.empty() && from_label.is_emg) {
        if (site.muscle.empty())
            site.muscle = from_label.muscle;
        if (site.level.empty())
            site.level = from_label.level;
        if (!side_found)
            side_found = from_label.side;
    }
    site.side = side_found.value_or(Side::Unknown);
    return site;
}

Montage load_montage(const std::filesystem::path& toml_file,
                     const std::vector<std::string>& labels) {
    if (!std::ifstream(toml_file))
        file_error(toml_file, 0, "cannot open the montage file");
    toml::table root;
    try {
        root = toml::parse_file(toml_file.string());
    } catch (const toml::parse_error& error) {
        file_error(toml_file, error.source().begin.line,
                   "TOML syntax error: " + std::string(error.description()));
    }

    std::vector<FileChannel> entries;
    std::optional<double> default_size_mm, default_distance_mm;
    for (auto&& [key_node, node] : root) {
        const std::string_view key = key_node.str();
        if (key == "channels" && node.is_table()) {
            for (auto&& [label_node, channel] : *node.as_table()) {
                const std::string label = trim(label_node.str());
                if (!channel.is_table())
                    file_error(toml_file, line_of(channel),
                               "channels.\"" + label + "\" must be a table");
                entries.push_back({parse_channel(toml_file, label, *channel.as_table(), false),
                                   line_of(channel)});
            }
        } else if (key == "channel" && node.is_array_of_tables()) {
            for (auto&& channel : *node.as_array()) {
                const auto& table = *channel.as_table();
                const auto label = table["label"].value<std::string>();
                if (!label)
                    file_error(toml_file, line_of(channel),
                               "[[channel]] needs label = \"...\" naming a recording channel");
                entries.push_back(
                    {parse_channel(toml_file, trim(*label), table, true), line_of(channel)});
            }
        } else if (key == "defaults" && node.is_table()) {
            for (auto&& [default_key, value] : *node.as_table()) {
                if (default_key.str() == "electrode_size_mm")
                    default_size_mm = millimetres(toml_file, "defaults", default_key.str(), value);
                else if (default_key.str() == "inter_electrode_distance_mm")
                    default_distance_mm =
                        millimetres(toml_file, "defaults", default_key.str(), value);
                else
                    file_error(toml_file, line_of(value),
                               "unknown key 'defaults." + std::string(default_key.str()) +
                                   "' (expected electrode_size_mm, inter_electrode_distance_mm)");
            }
        } else if (key == "description" && node.is_string()) {
            continue;
        } else {
            file_error(toml_file, line_of(node),
                       "unexpected '" + std::string(key) +
                           "' (expected [channels.\"LABEL\"] tables, [[channel]] entries, "
                           "[defaults] or description)");
        }
    }

    std::vector<std::string> trimmed_labels;
    trimmed_labels.reserve(labels.size());
    for (const auto& label : labels)
        trimmed_labels.push_back(trim(label));

    Montage montage;
    montage.source = toml_file.string();
    montage.channels.resize(labels.size());
    std::vector<bool> described(labels.size(), false);
    for (auto& entry : entries) {
        const auto& label = entry.site.label;
        const auto found = std::find(trimmed_labels.begin(), trimmed_labels.end(), label);
        if (found == trimmed_labels.end())
            file_error(toml_file, entry.line,
                       "channel '" + label + "' is not in the recording (its channels: " +
                           quoted_list(trimmed_labels) + ")");
        if (std::find(std::next(found), trimmed_labels.end(), label) != trimmed_labels.end())
            file_error(toml_file, entry.line,
                       "the recording has more than one channel labelled '" + label + "'");
        const auto index = static_cast<std::size_t>(found - trimmed_labels.begin());
        if (described[index])
            file_error(toml_file, entry.line, "channel '" + label + "' is described twice");
        described[index] = true;
        if (entry.site.is_emg) {
            if (!entry.site.electrode_size_mm)
                entry.site.electrode_size_mm = default_size_mm;
            if (!entry.site.inter_electrode_distance_mm)
                entry.site.inter_electrode_distance_mm = default_distance_mm;
        }
        entry.site.label = labels[index];
        montage.channels[index] = std::move(entry.site);
    }

    // ECG, Status, accelerometer ... channels need no entry: listing them would only be noise.
    std::vector<std::string> missing;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (described[i])
            continue;
        montage.channels[i].label = labels[i];
        montage.channels[i].is_emg = read_label(labels[i]).is_emg;
        if (montage.channels[i].is_emg)
            missing.push_back(trimmed_labels[i]);
    }
    if (!missing.empty())
        file_error(toml_file, 0,
                   std::string(missing.size() == 1 ? "recording channel " : "recording channels ") +
                       quoted_list(missing) + (missing.size() == 1 ? " is" : " are") +
                       R"( not in the montage (add [channels.")" + missing.front() +
                       R"("], with type = "other" to leave it out))");
    return montage;
}

Montage infer_montage(const std::vector<std::string>& labels) {
    Montage montage;
    montage.source = "inferred from channel labels";
    std::vector<LabelReading> readings;
    std::vector<std::string> problems;
    auto complain = [&](const std::string& label, const std::string& why) {
        problems.push_back("channel label '" + label + "': " + why);
    };
    for (const auto& label : labels) {
        readings.push_back(read_label(label));
        if (!readings.back().problem.empty())
            complain(label, readings.back().problem);
    }

    // With some sides stated, a channel without one is a mistake or a label we misread; the
    // alternative, silently leaving it out of the pairs, would hide an electrode.
    const bool any_side = std::any_of(readings.begin(), readings.end(),
                                      [](const LabelReading& r) { return r.side.has_value(); });
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const auto& reading = readings[i];
        if (any_side && reading.is_emg && reading.problem.empty() && !reading.side)
            complain(labels[i], reading.has_site()
                                    ? "no side (left/right), while other channels have one"
                                    : "no muscle or side, while other channels have them");
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
        for (std::size_t j = i + 1; j < labels.size(); ++j) {
            const auto &a = readings[i], &b = readings[j];
            if (a.side && a.is_emg && b.is_emg && a.side == b.side && a.muscle == b.muscle &&
                a.level == b.level && a.problem.empty() && b.problem.empty())
                complain(labels[j], "same site as '" + labels[i] + "'");
        }
    }
    if (!problems.empty()) {
        std::string message = "cannot infer the montage: " + problems.front();
        if (problems.size() > 1)
            message += " (and " + std::to_string(problems.size() - 1) + " more)";
        throw std::invalid_argument(message + "; " + std::string(montage_hint));
    }

    for (std::size_t i = 0; i < labels.size(); ++i) {
        ChannelSite site;
        site.label = labels[i];
        site.is_emg = readings[i].is_emg;
        site.muscle = readings[i].muscle;
        site.level = readings[i].level;
        site.side = readings[i].side.value_or(Side::Unknown);
        if (!readings[i].free_muscle.empty())
            montage.notices.push_back(
                "channel label '" + labels[i] + "': '" + readings[i].free_muscle +
                "' is not a muscle name semg knows; kept as the free-text muscle '" + site.muscle +
                "' at " + site.level + " " + std::string(to_string(site.side)) +
                " (it pairs with the same word on the other side; --montage FILE to say more)");
        montage.channels.push_back(std::move(site));
    }
    return montage;
}

Montage load_montage_for(const std::filesystem::path& toml_file,
                         const acquisition::SourceInfo& info) {
    std::vector<std::string> labels;
    for (const auto& ch : info.channels)
        labels.push_back(ch.label);
    for (const auto& skipped : info.skipped)
        labels.push_back(skipped.label);
    Montage montage = load_montage(toml_file, labels);
    for (std::size_t i = info.channels.size(); i < montage.channels.size(); ++i) {
        const auto& site = montage.channels[i];
        const auto& skipped = info.skipped[i - info.channels.size()];
        if (site.is_emg)
            throw std::invalid_argument(toml_file.string() + ": channel '" + site.label + "' is " +
                                        skipped.reason +
                                        ": it cannot be analysed or paired (a left/right pair "
                                        "needs one sample rate); mark it type = \"other\"");
    }
    montage.channels.resize(info.channels.size());
    return montage;
}

std::vector<BilateralPair> bilateral_pairs(const Montage& montage) {
    const auto& channels = montage.channels;
    auto on = [&](std::size_t i, Side side) {
        return channels[i].is_emg && channels[i].side == side;
    };
    auto same_site = [&](std::size_t a, std::size_t b) {
        return channels[a].muscle == channels[b].muscle && channels[a].level == channels[b].level;
    };
    auto site_text = [&](std::size_t i) {
        std::string text = channels[i].muscle.empty() ? "no muscle" : channels[i].muscle;
        return text + " " + (channels[i].level.empty() ? "no level" : channels[i].level) + " " +
               std::string(to_string(channels[i].side));
    };
    auto duplicated = [&](std::size_t first, std::size_t second, std::size_t partner) {
        throw std::invalid_argument(
            "montage " + montage.source + ": channels '" + channels[first].label + "' and '" +
            channels[second].label + "' are both at " + site_text(first) + ", so '" +
            channels[partner].label + "' would be in two bilateral pairs (see docs/montage.md)");
    };

    std::vector<BilateralPair> pairs;
    std::vector<std::optional<std::size_t>> left_of(channels.size());
    for (std::size_t left = 0; left < channels.size(); ++left) {
        if (!on(left, Side::Left))
            continue;
        std::optional<std::size_t> right;
        for (std::size_t r = 0; r < channels.size(); ++r) {
            if (!on(r, Side::Right) || !same_site(left, r))
                continue;
            if (right)
                duplicated(*right, r, left);
            if (left_of[r])
                duplicated(*left_of[r], left, r);
            right = r;
        }
        if (!right)
            continue;
        left_of[*right] = left;
        pairs.push_back({left, *right, channels[left].muscle, channels[left].level});
    }
    return pairs;
}

std::string describe(const Montage& montage) {
    struct Row {
        std::array<std::string, 5> cells;
    };
    std::vector<Row> rows;
    rows.push_back(Row{{"label", "muscle", "level", "side", "electrodes"}});
    bool any_electrodes = false;
    auto millimetres_text = [](const std::optional<double>& mm) {
        if (!mm)
            return std::string("?");
        std::ostringstream out;
        out << *mm;
        return out.str();
    };
    for (const auto& channel : montage.channels) {
        Row row;
        row.cells[0] = channel.label;
        if (!channel.is_emg) {
            row.cells[1] = "(not EMG)";
        } else {
            row.cells[1] = channel.muscle.empty() ? "-" : channel.muscle;
            row.cells[2] = channel.level.empty() ? "-" : channel.level;
            row.cells[3] = std::string(to_string(channel.side));
            if (channel.electrode_size_mm || channel.inter_electrode_distance_mm) {
                any_electrodes = true;
                row.cells[4] = millimetres_text(channel.electrode_size_mm) + " mm, " +
                               millimetres_text(channel.inter_electrode_distance_mm) + " mm apart";
            }
        }
        rows.push_back(std::move(row));
    }
    const std::size_t columns = any_electrodes ? 5 : 4;
    std::array<std::size_t, 5> width{};
    for (const auto& row : rows)
        for (std::size_t c = 0; c < columns; ++c)
            width[c] = std::max(width[c], row.cells[c].size());

    std::string out = "montage (" + montage.source + "):\n";
    for (const auto& row : rows) {
        std::string line = " ";
        for (std::size_t c = 0; c < columns; ++c) {
            line += " " + row.cells[c];
            if (c + 1 < columns)
                line += std::string(width[c] - row.cells[c].size() + 1, ' ');
        }
        out += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";
    }
    return out;
}

} // namespace semg::pipeline
