#include "pipeline/session_db.hpp"

#include "pipeline/json_path.hpp"
#include "pipeline/results.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string_view>
#include <thread>

namespace semg::pipeline::sessions {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

Json at(const Json& j, std::initializer_list<std::string_view> keys) { return json_at(j, keys); }
Json at_index(const Json& a, std::size_t i) { return json_item(a, i); }

Json difference(const Json& end, const Json& start) {
    return end.is_number() && start.is_number() ? Json(end.get<double>() - start.get<double>())
                                                : Json();
}

} // namespace

std::string utc_iso8601(std::chrono::system_clock::time_point t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

// Version 1: sessions with their per-channel fits and per-pair asymmetry. Version 2: the
// protocol and the operator's note of a session, and its channels' quality verdicts and shares.
const std::vector<std::string_view> kMigrations = {
    R"sql(
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  subject TEXT NOT NULL DEFAULT '',
  session TEXT NOT NULL DEFAULT '',
  task TEXT NOT NULL DEFAULT '',
  recorded_at TEXT,
  logged_at TEXT NOT NULL,
  command TEXT NOT NULL,
  input_path TEXT,
  input_sha256 TEXT NOT NULL,
  settings_json TEXT NOT NULL,
  software_version TEXT,
  results_path TEXT,
  sample_rate_hz REAL,
  duration_s REAL,
  channels INTEGER,
  contractions INTEGER
);
CREATE UNIQUE INDEX sessions_key ON sessions(subject, session, input_sha256, settings_json);
CREATE TABLE fits (
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  contraction INTEGER NOT NULL,
  contraction_start_s REAL,
  contraction_end_s REAL,
  hold_s REAL,
  contraction_kind TEXT,
  channel TEXT NOT NULL,
  muscle TEXT,
  level TEXT,
  side TEXT,
  epochs INTEGER,
  flagged_epochs INTEGER,
  flagged_share REAL,
  fit_epochs INTEGER,
  no_fit_reason TEXT,
  imf_hz REAL,
  mdf_slope_hz_per_s REAL,
  mdf_slope_pct_per_s REAL,
  mdf_slope_ci95_low_hz_per_s REAL,
  mdf_slope_ci95_high_hz_per_s REAL,
  mdf_slope_ci95_low_pct_per_s REAL,
  mdf_slope_ci95_high_pct_per_s REAL,
  mdf_r2 REAL,
  mdf_n INTEGER
);
CREATE INDEX fits_session ON fits(session_id);
CREATE TABLE pairs (
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  contraction INTEGER NOT NULL,
  muscle TEXT,
  level TEXT,
  "left" TEXT NOT NULL,
  "right" TEXT NOT NULL,
  epochs INTEGER,
  ai_mean_pct REAL,
  ai_sd_pct REAL,
  ai_ci95_low_pct REAL,
  ai_ci95_high_pct REAL,
  amplitude_basis TEXT,
  lr_rms_ratio REAL,
  mdf_slope_difference_pct_per_s REAL,
  mdf_initial_difference_hz REAL,
  flagged INTEGER
);
CREATE INDEX pairs_session ON pairs(session_id);
)sql",
    R"sql(
ALTER TABLE sessions ADD COLUMN protocol TEXT;
ALTER TABLE sessions ADD COLUMN note TEXT;
CREATE INDEX sessions_subject ON sessions(subject, session);
CREATE TABLE channel_quality (
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  channel TEXT NOT NULL,
  verdict TEXT,
  reason TEXT,
  epochs INTEGER,
  contraction_epochs INTEGER,
  excluded_epochs INTEGER,
  flags_json TEXT
);
CREATE INDEX channel_quality_session ON channel_quality(session_id);
)sql",
};

fs::path default_path() {
    if (const char* db = std::getenv("SEMG_DB"); db != nullptr && *db != '\0')
        return db;
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg == '/')
        return fs::path(xdg) / "semg" / "sessions.sqlite";
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
        return fs::path(home) / ".local" / "share" / "semg" / "sessions.sqlite";
    throw SessionDbError(
        "session log: neither SEMG_DB, XDG_DATA_HOME nor HOME is set: give --db FILE or --no-db");
}

SessionDb::SessionDb(fs::path file, int busy_timeout_ms) : file_(std::move(file)) {
    const std::string where = "session log " + file_.string();
    try {
        std::error_code ec;
        if (file_.has_parent_path() && !fs::exists(file_.parent_path(), ec))
            fs::create_directories(file_.parent_path());
        if (fs::is_directory(file_, ec))
            throw SessionDbError(where + ": is a folder, not a database file");
        sqlite::check(
            sqlite3_open_v2(file_.c_str(), &handle_.db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                            nullptr),
            handle_.db, where, "open");
        sqlite3_busy_timeout(handle_.db, busy_timeout_ms);
        sqlite::check(
            sqlite3_exec(handle_.db, "PRAGMA foreign_keys=ON;", nullptr, nullptr, nullptr),
            handle_.db, where, "foreign keys");
        // Not a database (or encrypted, or truncated): the first read says so.
        const int version = schema_version();
        if (version > current_schema_version())
            throw SessionDbError(
                fmt::format("{}: schema version {} is newer than this semg knows ({}): use a newer "
                            "semg, or another --db",
                            where, version, current_schema_version()));
        use_wal(busy_timeout_ms);
        if (version == current_schema_version())
            return;
        // Another writer may be migrating at the same time: the version is read again inside the
        // write lock, and only the steps still missing are run.
        sqlite::check(sqlite3_exec(handle_.db, "BEGIN IMMEDIATE;", nullptr, nullptr, nullptr),
                      handle_.db, where, "begin migration");
        try {
            for (int v = schema_version(); v < current_schema_version(); ++v) {
                sqlite::check(
                    sqlite3_exec(handle_.db,
                                 std::string(kMigrations[static_cast<std::size_t>(v)]).c_str(),
                                 nullptr, nullptr, nullptr),
                    handle_.db, where, fmt::format("migration to schema version {}", v + 1));
                sqlite::check(sqlite3_exec(handle_.db,
                                           fmt::format("PRAGMA user_version={};", v + 1).c_str(),
                                           nullptr, nullptr, nullptr),
                              handle_.db, where, "user_version");
            }
            sqlite::check(sqlite3_exec(handle_.db, "COMMIT;", nullptr, nullptr, nullptr),
                          handle_.db, where, "commit migration");
        } catch (...) {
            sqlite3_exec(handle_.db, "ROLLBACK;", nullptr, nullptr, nullptr);
            throw;
        }
    } catch (const SessionDbError&) {
        throw;
    } catch (const std::exception& e) {
        const std::string what = e.what();
        // sqlite::check already names the place; filesystem errors do not.
        throw SessionDbError(what.rfind(where, 0) == 0 ? what : where + ": " + what);
    }
}

// WAL is a property of the file: set once, by whichever writer comes first. Switching to it
// needs an exclusive lock, and SQLite answers SQLITE_BUSY at once, without the busy handler, when
// waiting could deadlock with another connection doing the same (CI, ctest -j2: "journal mode
// WAL: database is locked" on a fresh log): retried until the busy timeout.
void SessionDb::use_wal(int busy_timeout_ms) {
    const std::string where = "session log " + file_.string();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
    for (;;) {
        auto stmt = sqlite::prepare(handle_.db, "PRAGMA journal_mode;", where);
        int rc = sqlite3_step(stmt.get());
        if (rc == SQLITE_ROW && std::string_view(reinterpret_cast<const char*>(
                                    sqlite3_column_text(stmt.get(), 0))) == "wal")
            return;
        stmt.reset();
        if (rc == SQLITE_ROW)
            rc = sqlite3_exec(handle_.db, "PRAGMA journal_mode=WAL;", nullptr, nullptr, nullptr);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
            std::chrono::steady_clock::now() >= deadline) {
            sqlite::check(rc, handle_.db, where, "journal mode WAL");
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

int SessionDb::schema_version() const {
    const std::string where = "session log " + file_.string();
    auto stmt = sqlite::prepare(handle_.db, "PRAGMA user_version;", where);
    sqlite::check(sqlite3_step(stmt.get()), handle_.db, where, "read the schema version");
    return sqlite3_column_int(stmt.get(), 0);
}

std::vector<Json> SessionDb::query(const std::string& sql,
                                   const std::vector<std::string>& params) const {
    const std::string where = "session log " + file_.string();
    try {
        auto stmt = sqlite::prepare(handle_.db, sql, where);
        for (std::size_t i = 0; i < params.size(); ++i)
            sqlite::bind(stmt.get(), static_cast<int>(i) + 1, Json(params[i]));
        std::vector<Json> rows;
        while (true) {
            const int rc = sqlite3_step(stmt.get());
            if (rc == SQLITE_DONE)
                break;
            sqlite::check(rc, handle_.db, where, "query");
            Json row = Json::object();
            for (int c = 0; c < sqlite3_column_count(stmt.get()); ++c)
                row[sqlite3_column_name(stmt.get(), c)] = sqlite::column(stmt.get(), c);
            rows.push_back(std::move(row));
        }
        return rows;
    } catch (const std::runtime_error& e) {
        throw SessionDbError(e.what());
    }
}

std::string SessionDb::integrity_check() const {
    std::string result;
    for (const auto& row : query("PRAGMA integrity_check;"))
        for (const auto& [k, v] : row.items())
            result += (result.empty() ? "" : "; ") + v.get<std::string>();
    return result;
}

std::int64_t SessionDb::record(const Session& s, const nlohmann::ordered_json& summary) {
    const std::string where = "session log " + file_.string();
    sqlite3* db = handle_.db;
    const auto exec = [&](const char* sql, const char* what) {
        sqlite::check(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), db, where, what);
    };
    const auto insert = [&](const std::string& sql, const std::vector<Json>& values,
                            const char* what) {
        auto stmt = sqlite::prepare(db, sql, where);
        for (std::size_t i = 0; i < values.size(); ++i)
            sqlite::bind(stmt.get(), static_cast<int>(i) + 1, values[i]);
        sqlite::check(sqlite3_step(stmt.get()), db, where, what);
    };
    const auto placeholders = [](std::size_t n) {
        std::string p;
        for (std::size_t i = 0; i < n; ++i)
            p += i ? ", ?" : "?";
        return p;
    };
    // Compared as a whole: the keys sorted (nlohmann::json), so that key order does not matter.
    const std::string settings = nlohmann::json::parse(s.settings.dump()).dump();
    try {
        exec("BEGIN IMMEDIATE;", "begin");
        try {
            insert(
                "DELETE FROM sessions WHERE subject = ? AND session = ? AND input_sha256 = ? AND settings_json = ?;",
                {Json(s.subject), Json(s.session), Json(s.input_sha256), Json(settings)},
                "replace the earlier record");
            const Json contractions = at(summary, {"contractions"});
            const std::vector<Json> session_row = {
                Json(s.subject),
                Json(s.session),
                Json(s.task),
                text_or_null(s.protocol),
                text_or_null(s.note),
                text_or_null(s.recorded_at),
                Json(utc_iso8601(std::chrono::system_clock::now())),
                Json(s.command),
                text_or_null(s.input_path),
                Json(s.input_sha256),
                Json(settings),
                Json(software_version()),
                text_or_null(s.results_path),
                at(summary, {"input", "sample_rate_hz"}),
                at(summary, {"input", "duration_s"}),
                Json(at(summary, {"input", "channels"}).size()),
                Json(contractions.size())};
            insert(
                "INSERT INTO sessions (subject, session, task, protocol, note, recorded_at, logged_at, command, "
                "input_path, input_sha256, settings_json, software_version, results_path, sample_rate_hz, "
                "duration_s, channels, contractions) VALUES (" +
                    placeholders(session_row.size()) + ");",
                session_row, "insert the session");
            const std::int64_t id = sqlite3_last_insert_rowid(db);
            const Json sites = at(summary, {"channels"});
            const std::string fit_sql =
                "INSERT INTO fits (session_id, contraction, contraction_start_s, contraction_end_s, hold_s, "
                "contraction_kind, channel, muscle, level, side, epochs, flagged_epochs, flagged_share, fit_epochs, "
                "no_fit_reason, imf_hz, mdf_slope_hz_per_s, mdf_slope_pct_per_s, mdf_slope_ci95_low_hz_per_s, "
                "mdf_slope_ci95_high_hz_per_s, mdf_slope_ci95_low_pct_per_s, mdf_slope_ci95_high_pct_per_s, mdf_r2, "
                "mdf_n) VALUES (" +
                placeholders(24) + ");";
            const std::string pair_sql =
                "INSERT INTO pairs (session_id, contraction, muscle, level, \"left\", \"right\", epochs, ai_mean_pct, "
                "ai_sd_pct, ai_ci95_low_pct, ai_ci95_high_pct, amplitude_basis, lr_rms_ratio, "
                "mdf_slope_difference_pct_per_s, mdf_initial_difference_hz, flagged) VALUES (" +
                placeholders(16) + ");";
            for (std::size_t k = 0; k < contractions.size(); ++k) {
                const Json& con = contractions[k];
                const Json start = at(con, {"start_s"}), end = at(con, {"end_s"});
                const Json chans = at(con, {"channels"});
                for (std::size_t c = 0; c < chans.size(); ++c) {
                    const Json& ch = chans[c];
                    const Json site = at_index(sites, c);
                    const Json epochs = at(ch, {"epochs"}), flagged = at(ch, {"flagged_epochs"});
                    const Json share =
                        epochs.is_number() && flagged.is_number() && epochs.get<double>() > 0
                            ? Json(flagged.get<double>() / epochs.get<double>())
                            : Json();
                    const Json mdf = at(ch, {"mdf"});
                    insert(fit_sql,
                           {Json(id),
                            Json(k + 1),
                            start,
                            end,
                            difference(end, start),
                            at(con, {"kind"}),
                            at(ch, {"label"}),
                            at(site, {"muscle"}),
                            at(site, {"level"}),
                            at(site, {"side"}),
                            epochs,
                            flagged,
                            share,
                            at(ch, {"fit_epochs"}),
                            at(ch, {"no_fit_reason"}),
                            at(mdf, {"initial_hz"}),
                            at(mdf, {"slope_hz_per_s"}),
                            at(mdf, {"slope_pct_per_s"}),
                            at_index(at(mdf, {"slope_ci95_hz_per_s"}), 0),
                            at_index(at(mdf, {"slope_ci95_hz_per_s"}), 1),
                            at_index(at(mdf, {"slope_ci95_pct_per_s"}), 0),
                            at_index(at(mdf, {"slope_ci95_pct_per_s"}), 1),
                            at(mdf, {"r2"}),
                            at(mdf, {"n"})},
                           "insert a fit");
                }
                const Json ps = at(con, {"pairs"});
                for (std::size_t p = 0; p < ps.size(); ++p) {
                    const Json& pj = ps[p];
                    const Json ci = at(pj, {"amplitude_asymmetry_ci95_pct"});
                    insert(pair_sql,
                           {Json(id), Json(k + 1), at(pj, {"muscle"}), at(pj, {"level"}),
                            at(pj, {"left"}), at(pj, {"right"}), at(pj, {"epochs"}),
                            at(pj, {"amplitude_asymmetry_pct"}),
                            at(pj, {"amplitude_asymmetry_sd_pct"}), at_index(ci, 0),
                            at_index(ci, 1), at(pj, {"amplitude_basis"}), at(pj, {"lr_rms_ratio"}),
                            at(pj, {"mdf_slope_difference_pct_per_s"}),
                            at(pj, {"mdf_initial_difference_hz"}), at(pj, {"flagged"})},
                           "insert a pair");
                }
            }
            const Json quality = at(summary, {"quality", "channels"});
            for (std::size_t c = 0; quality.is_array() && c < quality.size(); ++c) {
                const Json& q = quality[c];
                const Json flags = at(q, {"flags"});
                insert(
                    "INSERT INTO channel_quality (session_id, channel, verdict, reason, epochs, contraction_epochs, "
                    "excluded_epochs, flags_json) VALUES (" +
                        placeholders(8) + ");",
                    {Json(id), at(q, {"label"}), at(q, {"verdict"}), at(q, {"reason"}),
                     at(q, {"epochs"}), at(q, {"contraction_epochs"}), at(q, {"excluded_epochs"}),
                     flags.is_null() ? Json() : Json(flags.dump())},
                    "insert a channel's quality");
            }
            exec("COMMIT;", "commit");
            return id;
        } catch (...) {
            sqlite3_exec(db, "ROLLBACK;", nullptr, nullptr, nullptr);
            throw;
        }
    } catch (const SessionDbError&) {
        throw;
    } catch (const std::exception& e) {
        throw SessionDbError(e.what());
    }
}

} // namespace semg::pipeline::sessions
