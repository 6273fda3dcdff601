// The session log: every `semg analyze` (each recording of a cohort too) and `semg capture`
// records the session (subject, session/visit, date of the recording, task, protocol, operator
// note, input SHA-256, settings, software version) and its results (per contraction and channel:
// site, side, IMF, MDF slope in Hz/s and %/s with its 95 % CI, r², hold time, quality share; per
// bilateral pair: AI with its CI, slope and IMF differences) in one SQLite file (Debian's
// libsqlite3), read back by `semg history` (pipeline/history.hpp). Layout: docs/history.md.
//
// The schema is versioned (PRAGMA user_version) and brought up to date by ordered migrations when
// a database is opened. Concurrent writers (two captures, a cohort with --jobs, an analyze beside
// a capture) are safe: WAL journal, a busy timeout, and one IMMEDIATE transaction per session.
// Recording the same input bytes with the same settings for the same subject and session again
// replaces the earlier record. Result-writing time only: everything here allocates and throws
// SessionDbError, whose message names the database file.
#pragma once

#include "pipeline/sqlite_util.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace semg::pipeline::sessions {

class SessionDbError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What is recorded about one session besides its summary.json.
struct Session {
    std::string subject;     // empty: not known (the record is kept, `semg history` cannot name it)
    std::string session;     // the visit's label (BIDS ses-, cohort {session}, --session)
    std::string task;        // BIDS task-, cohort {task}
    std::string protocol;    // the test protocol, when known (e.g. "sorensen")
    std::string note;        // the operator's note (--note)
    std::string recorded_at; // date and time of the first sample (ISO 8601), empty when unknown
    std::string command;     // "analyze" or "capture"
    std::string input_path;  // the recording (absolute)
    std::string input_sha256;
    nlohmann::ordered_json settings; // the options that change results (compared as a whole)
    std::string results_path;        // the result folder (absolute)
};

// A time as ISO 8601 in UTC to the second ("2026-12-03T11:58:00Z"), as the log stores dates.
std::string utc_iso8601(std::chrono::system_clock::time_point t);

// The database `semg` uses unless told: $SEMG_DB, else $XDG_DATA_HOME/semg/sessions.sqlite, else
// $HOME/.local/share/semg/sessions.sqlite. Throws SessionDbError when none can be formed.
std::filesystem::path default_path();

// The schema: kMigrations[v] takes a database at user_version v to v + 1; a new database runs
// them all. kMigrations.size() is the current version. Never edit a released step: add one.
extern const std::vector<std::string_view> kMigrations;
inline int current_schema_version() { return static_cast<int>(kMigrations.size()); }

class SessionDb {
public:
    // Opens (creating the file and its folder when absent), sets WAL and a busy timeout of
    // `busy_timeout_ms`, and migrates to the current schema in one transaction. A file that is not
    // SQLite, a newer schema than this build knows, or a folder that cannot be written throws.
    explicit SessionDb(std::filesystem::path file, int busy_timeout_ms = 30000);

    const std::filesystem::path& file() const noexcept { return file_; }
    int schema_version() const;

    // Records `s` and the results in `summary` (summary.json as pipeline::summary_json writes it,
    // with capture's `acquisition` where present) in one transaction. Returns the session's id.
    std::int64_t record(const Session& s, const nlohmann::ordered_json& summary);

    // SELECT `sql` (with text parameters `params`) as rows of column name -> value.
    std::vector<nlohmann::ordered_json> query(const std::string& sql,
                                              const std::vector<std::string>& params = {}) const;

    // "ok", or what PRAGMA integrity_check found.
    std::string integrity_check() const;

private:
    void use_wal(int busy_timeout_ms);

    std::filesystem::path file_;
    sqlite::Handle handle_;
};

} // namespace semg::pipeline::sessions
