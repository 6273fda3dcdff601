// The session log from the command line (pipeline/session_db.hpp, docs/history.md): the options
// `semg analyze` and `semg capture` share (--db, --no-db, --subject, --session, --note) and the
// call each makes once a result folder is complete. A log that cannot be written never loses
// the results: one warning naming the database file, and exit code 3 (an output that could not
// be written, tools/exit_codes.hpp) once the run is done.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

namespace semg::tools {

struct SessionLogOptions {
    std::filesystem::path db; // --db; empty: $SEMG_DB or the default
    bool no_db = false;
    std::string subject, session, note;
};

// --db, --no-db and --note; with `ids` also --subject and --session (capture has its own, shared
// with --bids-root).
void add_session_log_options(CLI::App& cmd, SessionLogOptions& o, bool ids);

// The database file the options name (--db, else SEMG_DB, else XDG_DATA_HOME or ~/.local/share).
std::filesystem::path session_db_path(const SessionLogOptions& o);

struct SessionIds {
    std::string subject, session, task;
};

// Records the result folder `folder` (its summary.json) in the log unless --no-db. `command` is
// "analyze" or "capture". Never throws: a failure is a warning and exit code 3.
void log_session(const SessionLogOptions& o, const std::filesystem::path& folder,
                 const SessionIds& ids, const std::string& command);

} // namespace semg::tools
