#include "tools/session_log.hpp"

#include "pipeline/session_db.hpp"
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>

namespace semg::tools {

namespace fs = std::filesystem;
namespace sessions = pipeline::sessions;

void add_session_log_options(CLI::App& cmd, SessionLogOptions& o, bool ids) {
    const std::string group = "Session log (docs/history.md)";
    cmd.add_option("--db", o.db,
                   "Session log to record this run in (default: $SEMG_DB, else "
                   "$XDG_DATA_HOME/semg/sessions.sqlite or ~/.local/share/semg/sessions.sqlite)")
        ->group(group);
    cmd.add_flag("--no-db", o.no_db, "Do not record this run in the session log")->group(group);
    if (ids) {
        cmd.add_option(
               "--subject", o.subject,
               "Subject of the session log (default: the BIDS sub- entity or the cohort's {subject})")
            ->group(group);
        cmd.add_option(
               "--session", o.session,
               "Session (visit) label of the session log (default: the BIDS ses- entity or the "
               "cohort's {session})")
            ->group(group);
    }
    cmd.add_option("--note", o.note, "Operator's note, kept with the session in the log")
        ->group(group);
    cmd.get_option("--no-db")->excludes(cmd.get_option("--db"));
}

fs::path session_db_path(const SessionLogOptions& o) {
    return o.db.empty() ? sessions::default_path() : o.db;
}

void log_session(const SessionLogOptions& o, const fs::path& folder, const SessionIds& ids,
                 const std::string& command) {
    if (o.no_db)
        return;
    fs::path file;
    try {
        file = session_db_path(o);
        std::ifstream in(folder / "summary.json");
        if (!in)
            throw std::runtime_error((folder / "summary.json").string() + ": cannot be read");
        const auto summary = nlohmann::ordered_json::parse(in);
        sessions::Session s;
        s.subject = o.subject.empty() ? ids.subject : o.subject;
        s.session = o.session.empty() ? ids.session : o.session;
        s.task = ids.task;
        s.note = o.note;
        s.command = command;
        const auto& input = summary.at("input");
        s.input_path = input.value("path", "");
        s.input_sha256 = input.value("sha256", "");
        if (input.contains("start_time") && input["start_time"].is_string())
            s.recorded_at = input["start_time"].get<std::string>();
        else if (command == "capture") { // the capture just ended: it began duration_s ago
            const double duration_s = input.value("duration_s", 0.0);
            s.recorded_at = sessions::utc_iso8601(
                std::chrono::system_clock::now() -
                std::chrono::milliseconds(std::isfinite(duration_s) && duration_s > 0
                                              ? static_cast<long long>(duration_s * 1000.0)
                                              : 0));
        }
        // The test protocol where the summary states one; a capture's device protocol otherwise.
        if (summary.contains("protocol") && summary["protocol"].is_string())
            s.protocol = summary["protocol"].get<std::string>();
        else if (summary.contains("acquisition") && summary["acquisition"].is_object() &&
                 summary["acquisition"].contains("protocol") &&
                 summary["acquisition"]["protocol"].is_string())
            s.protocol = summary["acquisition"]["protocol"].get<std::string>();
        s.settings = summary.value("settings", nlohmann::ordered_json::object());
        s.results_path = fs::weakly_canonical(fs::absolute(folder)).string();
        sessions::SessionDb db(file);
        db.record(s, summary);
    } catch (const std::exception& e) {
        const std::string what = e.what();
        log_warning(fmt::format(
            "{}{}; the results in {} are complete (--db FILE for another log, --no-db for "
            "none)",
            what.find("session log") == std::string::npos
                ? "session log " + (file.empty() ? std::string("?") : file.string()) + ": "
                : "",
            what, folder.string()));
        set_exit_code(ExitCode::DeviceIo);
    }
}

} // namespace semg::tools
