#include "pipeline/cohort.hpp"

#include "pipeline/json_path.hpp"
#include "pipeline/output_dir.hpp"
#include "pipeline/results.hpp"
#include "pipeline/sqlite_util.hpp"

#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace semg::pipeline::cohort {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::vector<std::string> split(std::string_view line, char sep) {
    std::vector<std::string> cells(1);
    for (const char c : line) {
        if (c == sep)
            cells.emplace_back();
        else
            cells.back() += c;
    }
    return cells;
}

// A cell of a dataset table: null, text, integer, real or boolean (nlohmann's kinds).
enum class Type { Text, Integer, Real };
struct Column {
    std::string name;
    Type type;
};
struct Table {
    std::string name;
    std::vector<Column> columns;
    std::vector<std::vector<Json>> rows;
};

std::vector<std::string> names_of(const std::vector<Column>& columns) {
    std::vector<std::string> names;
    for (const auto& c : columns)
        names.push_back(c.name);
    return names;
}

const std::vector<Column> kIdColumns = {{"file", Type::Text},
                                        {"subject", Type::Text},
                                        {"session", Type::Text},
                                        {"task", Type::Text},
                                        {"condition", Type::Text}};

std::vector<Column> with_ids(std::vector<Column> rest) {
    std::vector<Column> all = kIdColumns;
    all.insert(all.end(), rest.begin(), rest.end());
    return all;
}

const std::vector<Column> kRecordings = with_ids({{"sha256", Type::Text},
                                                  {"format", Type::Text},
                                                  {"sample_rate_hz", Type::Real},
                                                  {"duration_s", Type::Real},
                                                  {"channels", Type::Integer},
                                                  {"epochs", Type::Integer},
                                                  {"contractions", Type::Integer},
                                                  {"status", Type::Text},
                                                  {"error", Type::Text},
                                                  {"results", Type::Text}});
const std::vector<Column> kFits = with_ids({{"contraction", Type::Integer},
                                            {"contraction_start_s", Type::Real},
                                            {"contraction_end_s", Type::Real},
                                            {"contraction_kind", Type::Text},
                                            {"channel", Type::Text},
                                            {"muscle", Type::Text},
                                            {"level", Type::Text},
                                            {"side", Type::Text},
                                            {"epochs", Type::Integer},
                                            {"flagged_epochs", Type::Integer},
                                            {"flagged_share", Type::Real},
                                            {"fit_epochs", Type::Integer},
                                            {"jasa", Type::Text},
                                            {"no_fit_reason", Type::Text},
                                            {"imf_hz", Type::Real},
                                            {"mdf_slope_hz_per_s", Type::Real},
                                            {"mdf_slope_pct_per_s", Type::Real},
                                            {"mdf_r2", Type::Real},
                                            {"mdf_slope_ci95_low_hz_per_s", Type::Real},
                                            {"mdf_slope_ci95_high_hz_per_s", Type::Real},
                                            {"mdf_n", Type::Integer},
                                            {"mnf_initial_hz", Type::Real},
                                            {"mnf_slope_hz_per_s", Type::Real},
                                            {"mnf_slope_pct_per_s", Type::Real},
                                            {"mnf_r2", Type::Real},
                                            {"rms_initial_uv", Type::Real},
                                            {"rms_slope_uv_per_s", Type::Real},
                                            {"rms_slope_pct_per_s", Type::Real},
                                            {"rms_r2", Type::Real}});
const std::vector<Column> kPairs = with_ids({{"contraction", Type::Integer},
                                             {"contraction_start_s", Type::Real},
                                             {"contraction_end_s", Type::Real},
                                             {"muscle", Type::Text},
                                             {"level", Type::Text},
                                             {"left", Type::Text},
                                             {"right", Type::Text},
                                             {"epochs", Type::Integer},
                                             {"ai_mean_pct", Type::Real},
                                             {"ai_sd_pct", Type::Real},
                                             {"amplitude_basis", Type::Text},
                                             {"lr_rms_ratio", Type::Real},
                                             {"mdf_slope_difference_pct_per_s", Type::Real},
                                             {"mdf_initial_difference_hz", Type::Real},
                                             {"flagged", Type::Integer}});

Json at(const Json& j, std::initializer_list<std::string_view> keys) { return json_at(j, keys); }

std::string csv_cell(const Json& v) {
    if (v.is_null())
        return "";
    if (v.is_string())
        return csv_field(v.get<std::string>());
    if (v.is_boolean())
        return v.get<bool>() ? "1" : "0";
    if (v.is_number_integer())
        return fmt::format("{}", v.get<long long>());
    if (v.is_number_unsigned())
        return fmt::format("{}", v.get<unsigned long long>());
    if (v.is_number_float())
        return fmt::format("{}", v.get<double>()); // shortest round trip
    return csv_field(v.dump());
}

std::string csv_text(const Table& t) {
    std::string out;
    const auto names = names_of(t.columns);
    for (std::size_t c = 0; c < names.size(); ++c)
        out += (c ? "," : "") + names[c];
    out += '\n';
    for (const auto& row : t.rows) {
        for (std::size_t c = 0; c < row.size(); ++c)
            out += (c ? "," : "") + csv_cell(row[c]);
        out += '\n';
    }
    return out;
}

// The tables into a fresh database beside `file`, renamed into place when complete.
void write_sqlite(const fs::path& file, const std::vector<const Table*>& tables) {
    const fs::path temp = file.string() + ".tmp-" + std::to_string(::getpid());
    fs::remove(temp);
    try {
        sqlite::Handle s;
        sqlite::check(sqlite3_open_v2(temp.c_str(), &s.db,
                                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
                      s.db, temp, "open");
        sqlite::check(
            sqlite3_exec(s.db, "PRAGMA journal_mode=OFF; BEGIN;", nullptr, nullptr, nullptr), s.db,
            temp, "begin");
        for (const Table* t : tables) {
            std::string create = "CREATE TABLE \"" + t->name + "\" (";
            std::string insert = "INSERT INTO \"" + t->name + "\" VALUES (";
            for (std::size_t c = 0; c < t->columns.size(); ++c) {
                const auto& col = t->columns[c];
                create += (c ? ", \"" : "\"") + col.name + "\" " +
                          (col.type == Type::Text      ? "TEXT"
                           : col.type == Type::Integer ? "INTEGER"
                                                       : "REAL");
                insert += c ? ", ?" : "?";
            }
            sqlite::check(sqlite3_exec(s.db, (create + ");").c_str(), nullptr, nullptr, nullptr),
                          s.db, temp, "create " + t->name);
            sqlite3_stmt* stmt = nullptr;
            sqlite::check(sqlite3_prepare_v2(s.db, (insert + ");").c_str(), -1, &stmt, nullptr),
                          s.db, temp, "prepare");
            const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt,
                                                                              sqlite3_finalize);
            for (const auto& row : t->rows) {
                sqlite3_reset(stmt);
                for (std::size_t c = 0; c < row.size(); ++c)
                    sqlite::bind(stmt, static_cast<int>(c) + 1, row[c]);
                sqlite::check(sqlite3_step(stmt), s.db, temp, "insert into " + t->name);
            }
        }
        sqlite::check(sqlite3_exec(s.db, "COMMIT;", nullptr, nullptr, nullptr), s.db, temp,
                      "commit");
        sqlite::check(sqlite3_close(s.db), s.db, temp, "close");
        s.db = nullptr;
        fs::rename(temp, file);
    } catch (...) {
        std::error_code ec;
        fs::remove(temp, ec);
        throw;
    }
}

} // namespace

// The components that all of `folders` (absolute, normal) start with.
std::filesystem::path common_folder(const std::vector<std::filesystem::path>& folders) {
    fs::path common = folders.front();
    for (const auto& f : folders) {
        fs::path shared;
        for (auto a = common.begin(), b = f.begin(); a != common.end() && b != f.end() && *a == *b;
             ++a, ++b)
            shared /= *a;
        common = shared;
    }
    return common;
}

const std::vector<std::string> kRecordingsColumns = names_of(kRecordings);
const std::vector<std::string> kFitsColumns = names_of(kFits);
const std::vector<std::string> kPairsColumns = names_of(kPairs);

bool is_recording_file(const fs::path& path) {
    static const std::set<std::string> extensions = {".bdf", ".edf", ".csv", ".tsv",
                                                     ".txt", ".mat", ".hea", ".h5"};
    return extensions.count(lower(path.extension().string())) > 0;
}

PathPattern::PathPattern(const std::string& pattern) {
    static const std::set<std::string> known = {"subject", "session", "task", "condition"};
    std::string re;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '{') {
            const auto end = pattern.find('}', i);
            if (end == std::string::npos)
                throw std::invalid_argument("--pattern '" + pattern + "': '{' at character " +
                                            std::to_string(i + 1) + " is not closed");
            const std::string field = pattern.substr(i + 1, end - i - 1);
            if (known.count(field) == 0)
                throw std::invalid_argument("--pattern '" + pattern + "': unknown field {" + field +
                                            "} (subject, session, task or condition)");
            if (std::find(fields_.begin(), fields_.end(), field) != fields_.end())
                throw std::invalid_argument("--pattern '" + pattern + "': {" + field +
                                            "} given twice");
            fields_.push_back(field);
            re += "([^/]+)";
            i = end;
        } else if (c == '*') {
            re += "[^/]*";
        } else if (c == '\\') {
            re += '/';
        } else {
            if (std::string_view(".^$|()[]+?}").find(c) != std::string_view::npos)
                re += '\\';
            re += c;
        }
    }
    if (fields_.empty())
        throw std::invalid_argument("--pattern '" + pattern +
                                    "' names no field ({subject}, {session}, {task}, "
                                    "{condition})");
    regex_ = std::regex(re, std::regex::ECMAScript);
}

std::optional<Ids> PathPattern::match(const std::string& relative) const {
    std::smatch m;
    if (!std::regex_match(relative, m, regex_))
        return std::nullopt;
    Ids ids;
    for (std::size_t f = 0; f < fields_.size(); ++f) {
        const std::string value = m[f + 1].str();
        if (fields_[f] == "subject")
            ids.subject = value;
        else if (fields_[f] == "session")
            ids.session = value;
        else if (fields_[f] == "task")
            ids.task = value;
        else
            ids.condition = value;
    }
    return ids;
}

std::vector<Entry> discover(const fs::path& folder, const std::optional<PathPattern>& pattern,
                            const std::vector<fs::path>& skip, std::size_t& unmatched) {
    std::set<fs::path> skipped;
    for (const auto& s : skip)
        skipped.insert(fs::weakly_canonical(fs::absolute(s)));
    std::vector<Entry> entries;
    unmatched = 0;
    std::error_code ec;
    fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec),
        end;
    if (ec)
        throw std::invalid_argument(folder.string() + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
        if (ec)
            throw std::invalid_argument(folder.string() + ": " + ec.message());
        const fs::path& p = it->path();
        const std::string name = p.filename().string();
        // Hidden entries, earlier per-file results (<name>.semg) and the run's own --out.
        if (it->is_directory(ec)) {
            if (name.starts_with(".") || p.extension() == ".semg" ||
                skipped.count(fs::weakly_canonical(fs::absolute(p))) > 0)
                it.disable_recursion_pending();
            continue;
        }
        if (name.starts_with(".") || !it->is_regular_file(ec) || !is_recording_file(p))
            continue;
        Entry e{p, p.lexically_relative(folder).generic_string(), {}};
        if (pattern) {
            auto ids = pattern->match(e.relative);
            if (!ids) {
                ++unmatched;
                continue;
            }
            e.ids = std::move(*ids);
        }
        entries.push_back(std::move(e));
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.relative < b.relative; });
    if (entries.empty())
        throw std::invalid_argument(
            folder.string() + ": is a directory with no recordings in it" +
            (pattern ? fmt::format(" that match --pattern ({} files do not)", unmatched)
                     : std::string(" (.bdf .edf .csv .tsv .txt .mat .hea .h5)")));
    return entries;
}

std::vector<Entry> parse_manifest(std::string_view text, const std::string& where,
                                  const fs::path& base) {
    std::vector<std::string> header;
    std::map<std::string, std::size_t> column;
    std::vector<Entry> entries;
    std::vector<std::size_t> lines_of;
    std::map<fs::path, std::size_t> seen;
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto nl = text.find('\n', pos);
        std::string_view line =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos || line.starts_with("#"))
            continue;
        const std::string at_line = where + ":" + std::to_string(line_no) + ": ";
        auto cells = split(line, '\t');
        if (header.empty()) {
            header = cells;
            for (std::size_t c = 0; c < header.size(); ++c) {
                const std::string name = lower(header[c]);
                if (name.empty())
                    throw std::invalid_argument(at_line + "column " + std::to_string(c + 1) +
                                                " has no name");
                if (!column.emplace(name, c).second)
                    throw std::invalid_argument(at_line + "column '" + header[c] +
                                                "' is given twice");
            }
            if (column.count("path") == 0)
                throw std::invalid_argument(at_line +
                                            "no 'path' column in the header (tab-separated: path, "
                                            "subject, session, task, condition)");
            continue;
        }
        if (cells.size() != header.size())
            throw std::invalid_argument(at_line + std::to_string(cells.size()) +
                                        " cells, the header has " + std::to_string(header.size()) +
                                        " (cells are separated by tabs)");
        const auto cell = [&](const char* name) -> std::string {
            const auto it = column.find(name);
            if (it == column.end())
                return {};
            const std::string& v = cells[it->second];
            return v == "n/a" ? std::string() : v;
        };
        const std::string path_text = cell("path");
        if (path_text.empty())
            throw std::invalid_argument(at_line + "path: empty");
        fs::path path = path_text;
        if (path.is_relative())
            path = base / path;
        path = fs::absolute(path).lexically_normal();
        const auto [it, fresh] = seen.emplace(path, line_no);
        if (!fresh)
            throw std::invalid_argument(at_line + "path: " + path_text +
                                        " is listed already on line " + std::to_string(it->second));
        entries.push_back(
            {path, {}, {cell("subject"), cell("session"), cell("task"), cell("condition")}});
    }
    if (entries.empty())
        throw std::invalid_argument(where + ": no recordings listed");
    std::vector<fs::path> parents;
    for (const auto& e : entries)
        parents.push_back(e.path.parent_path());
    const fs::path common = common_folder(parents);
    for (auto& e : entries)
        e.relative = e.path.lexically_relative(common).generic_string();
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.relative < b.relative; });
    return entries;
}

Shard parse_shard(const std::string& text) {
    const auto slash = text.find('/');
    const auto number = [&](std::string_view s, std::size_t& v) {
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        return ec == std::errc() && end == s.data() + s.size() && !s.empty();
    };
    Shard s;
    if (slash == std::string::npos || !number(std::string_view(text).substr(0, slash), s.index) ||
        !number(std::string_view(text).substr(slash + 1), s.count) || s.count == 0 ||
        s.index == 0 || s.index > s.count)
        throw std::invalid_argument("--shard must be K/N with 1 <= K <= N, got '" + text + "'");
    return s;
}

fs::path marker_path(const fs::path& results, const std::string& relative) {
    return results / kMarkerFolder / (relative + ".json");
}

Json marker_json(const Marker& m) {
    return Json{{"relative", m.relative},   {"results", m.results},
                {"subject", m.ids.subject}, {"session", m.ids.session},
                {"task", m.ids.task},       {"condition", m.ids.condition},
                {"sha256", m.sha256},       {"settings", m.settings},
                {"status", m.status},       {"error", text_or_null(m.error)}};
}

Marker parse_marker(const nlohmann::json& j, const std::string& where) {
    const auto text = [&](const char* key, bool required) -> std::string {
        if (!j.contains(key) || j[key].is_null()) {
            if (required)
                throw std::invalid_argument(where + ": no '" + std::string(key) + "'");
            return {};
        }
        if (!j[key].is_string())
            throw std::invalid_argument(where + ": '" + std::string(key) + "' is not text");
        return j[key].get<std::string>();
    };
    if (!j.is_object())
        throw std::invalid_argument(where + ": not a JSON object");
    Marker m;
    m.relative = text("relative", true);
    m.results = text("results", true);
    if (fs::path(m.results).is_absolute() || m.results.find("..") != std::string::npos)
        throw std::invalid_argument(where + ": results '" + m.results +
                                    "' is not a folder below RESULTS");
    m.ids = {text("subject", false), text("session", false), text("task", false),
             text("condition", false)};
    m.sha256 = text("sha256", false);
    m.settings = j.contains("settings") ? Json::parse(j["settings"].dump()) : Json();
    m.status = text("status", true);
    if (m.status != "ok" && m.status != "failed")
        throw std::invalid_argument(where + ": status '" + m.status + "' is neither ok nor failed");
    m.error = text("error", false);
    return m;
}

std::optional<Marker> read_marker(const fs::path& results, const std::string& relative) {
    const fs::path file = marker_path(results, relative);
    std::ifstream in(file);
    if (!in)
        return std::nullopt;
    try {
        return parse_marker(nlohmann::json::parse(in), file.string());
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

void write_marker(const fs::path& results, const Marker& m) {
    const fs::path file = marker_path(results, m.relative);
    fs::create_directories(file.parent_path());
    write_file_atomically(file, marker_json(m).dump(2) + "\n");
}

bool is_up_to_date(const fs::path& results, const std::string& relative, const std::string& sha256,
                   const Json& settings) {
    const auto m = read_marker(results, relative);
    if (!m)
        return false;
    const fs::path folder = results / m->results;
    std::error_code ec;
    return m->status == "ok" && !sha256.empty() && m->sha256 == sha256 &&
           // compared without key order (the marker was read back through nlohmann::json)
           nlohmann::json::parse(m->settings.dump()) == nlohmann::json::parse(settings.dump()) &&
           fs::is_regular_file(folder / "summary.json", ec) &&
           fs::is_regular_file(folder / "epochs.csv", ec);
}

MergeCounts merge(const fs::path& results) {
    std::error_code ec;
    if (!fs::is_directory(results, ec))
        throw std::invalid_argument(results.string() + ": not a folder");
    struct Found {
        Marker marker;
        fs::path folder;
    };
    std::vector<Found> found;
    const fs::path ledger = results / kMarkerFolder;
    if (fs::is_directory(ledger, ec)) {
        fs::recursive_directory_iterator it(ledger, fs::directory_options::skip_permission_denied,
                                            ec),
            end;
        for (; it != end; it.increment(ec)) {
            if (ec)
                throw std::runtime_error(ledger.string() + ": " + ec.message());
            if (it->path().extension() != ".json" || !it->is_regular_file(ec))
                continue;
            std::ifstream in(it->path());
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(in);
            } catch (const std::exception& e) {
                throw std::invalid_argument(it->path().string() + ": not valid JSON (" + e.what() +
                                            ")");
            }
            auto m = parse_marker(j, it->path().string());
            fs::path folder = results / m.results;
            found.push_back({std::move(m), std::move(folder)});
        }
    }
    std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
        return std::tie(a.marker.relative, a.folder) < std::tie(b.marker.relative, b.folder);
    });
    Table recordings{"recordings", kRecordings, {}};
    Table fits{"fits", kFits, {}};
    Table pairs{"pairs", kPairs, {}};
    MergeCounts counts;
    std::set<std::string> variants;
    for (const auto& f : found)
        variants.insert(nlohmann::json::parse(f.marker.settings.dump()).dump());
    counts.settings_variants = variants.size();
    for (const auto& [m, folder] : found) {
        const std::vector<Json> ids = {m.relative, m.ids.subject, m.ids.session, m.ids.task,
                                       m.ids.condition};
        const std::string& where = m.results;
        Json summary;
        std::string error = m.error;
        bool ok = m.status == "ok";
        if (ok) {
            std::ifstream in(folder / "summary.json");
            try {
                summary = Json::parse(in);
            } catch (const std::exception&) {
                ok = false;
                error = (folder / "summary.json").string() + ": missing or not valid JSON";
            }
        }
        auto row = ids;
        const Json contractions = ok ? at(summary, {"contractions"}) : Json();
        for (Json v :
             {Json(text_or_null(m.sha256)), at(summary, {"input", "format"}),
              at(summary, {"input", "sample_rate_hz"}), at(summary, {"input", "duration_s"}),
              ok ? Json(at(summary, {"input", "channels"}).size()) : Json(),
              at(summary, {"epochs"}), ok ? Json(contractions.size()) : Json(),
              Json(ok ? "ok" : "failed"), text_or_null(error), Json(where)})
            row.push_back(v);
        recordings.rows.push_back(std::move(row));
        ++counts.recordings;
        if (!ok) {
            ++counts.failed;
            continue;
        }
        const Json sites = at(summary, {"channels"});
        for (std::size_t k = 0; k < contractions.size(); ++k) {
            const Json& con = contractions[k];
            const std::vector<Json> head = {Json(k + 1), at(con, {"start_s"}), at(con, {"end_s"})};
            const Json chans = at(con, {"channels"});
            for (std::size_t c = 0; c < chans.size(); ++c) {
                const Json& ch = chans[c];
                const Json site = c < sites.size() ? sites[c] : Json();
                auto r = ids;
                r.insert(r.end(), head.begin(), head.end());
                const Json epochs = at(ch, {"epochs"}), flagged = at(ch, {"flagged_epochs"});
                const Json share =
                    epochs.is_number() && flagged.is_number() && epochs.get<double>() > 0
                        ? Json(flagged.get<double>() / epochs.get<double>())
                        : Json();
                for (Json v : {at(con, {"kind"}),
                               at(ch, {"label"}),
                               at(site, {"muscle"}),
                               at(site, {"level"}),
                               at(site, {"side"}),
                               epochs,
                               flagged,
                               share,
                               at(ch, {"fit_epochs"}),
                               at(ch, {"jasa"}),
                               at(ch, {"no_fit_reason"}),
                               at(ch, {"mdf", "initial_hz"}),
                               at(ch, {"mdf", "slope_hz_per_s"}),
                               at(ch, {"mdf", "slope_pct_per_s"}),
                               at(ch, {"mdf", "r2"}),
                               json_item(at(ch, {"mdf", "slope_ci95_hz_per_s"}), 0),
                               json_item(at(ch, {"mdf", "slope_ci95_hz_per_s"}), 1),
                               at(ch, {"mdf", "n"}),
                               at(ch, {"mnf", "initial_hz"}),
                               at(ch, {"mnf", "slope_hz_per_s"}),
                               at(ch, {"mnf", "slope_pct_per_s"}),
                               at(ch, {"mnf", "r2"}),
                               at(ch, {"rms", "initial_uv"}),
                               at(ch, {"rms", "slope_uv_per_s"}),
                               at(ch, {"rms", "slope_pct_per_s"}),
                               at(ch, {"rms", "r2"})})
                    r.push_back(v);
                fits.rows.push_back(std::move(r));
                ++counts.fits;
            }
            const Json ps = at(con, {"pairs"});
            for (std::size_t p = 0; p < ps.size(); ++p) {
                const Json& pj = ps[p];
                auto r = ids;
                r.insert(r.end(), head.begin(), head.end());
                for (Json v :
                     {at(pj, {"muscle"}), at(pj, {"level"}), at(pj, {"left"}), at(pj, {"right"}),
                      at(pj, {"epochs"}), at(pj, {"amplitude_asymmetry_pct"}),
                      at(pj, {"amplitude_asymmetry_sd_pct"}), at(pj, {"amplitude_basis"}),
                      at(pj, {"lr_rms_ratio"}), at(pj, {"mdf_slope_difference_pct_per_s"}),
                      at(pj, {"mdf_initial_difference_hz"}), at(pj, {"flagged"})})
                    r.push_back(v);
                pairs.rows.push_back(std::move(r));
                ++counts.pairs;
            }
        }
    }
    for (const Table* t : {&recordings, &fits, &pairs})
        write_file_atomically(results / (t->name + ".csv"), csv_text(*t));
    write_sqlite(results / "dataset.sqlite", {&recordings, &fits, &pairs});
    return counts;
}

} // namespace semg::pipeline::cohort
