// `semg history SUBJECT`: one subject's visits from the session log, per site and side: initial
// MDF, MDF slope with its CI, hold time, asymmetry index with its CI, and whether each change
// between visits exceeds the minimal detectable change (pipeline/history.hpp, docs/history.md).
// Prints the table and writes history.html and history.csv into --out, each atomically.
#include "pipeline/history.hpp"
#include "pipeline/output_dir.hpp"
#include "pipeline/session_db.hpp"
#include "report/report.hpp"
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"

#include <fmt/format.h>

#include <iostream>

namespace semg::tools {

namespace {
struct HistoryOptions {
    std::string subject;
    std::string task;
    std::filesystem::path db;
    std::filesystem::path out;
    std::vector<std::string> icc, sd;
    bool quiet = false;
};

void history(const HistoryOptions& o) {
    namespace fs = std::filesystem;
    namespace h = pipeline::history;
    h::Choices choices;
    try {
        choices = h::parse_choices(o.icc, o.sd);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    const fs::path file = o.db.empty() ? pipeline::sessions::default_path() : o.db;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
        const std::string what = "session log " + file.string() +
                                 ": no such file (`semg analyze` and `semg capture` "
                                 "record sessions there; --db FILE names another)";
        if (!o.db.empty())
            throw UsageError(what);
        throw std::runtime_error(what);
    }
    const pipeline::sessions::SessionDb db(file);
    const auto hist = h::build(db, o.subject, choices, o.task);
    const fs::path out = o.out.empty() ? fs::path("history-" + o.subject) : o.out;
    fs::create_directories(out);
    pipeline::write_file_atomically(out / "history.csv", h::to_csv(hist));
    pipeline::write_file_atomically(out / "history.html",
                                    report::render_history_html(h::to_json(hist)));
    if (!o.quiet) {
        std::cout << h::to_text(hist);
        std::cout << "wrote history.html, history.csv in " << out.string() << "\n";
    }
}
} // namespace

void register_history(CLI::App& app) {
    auto o = std::make_shared<HistoryOptions>();
    auto* cmd = app.add_subcommand(
        "history", "One subject's visits from the session log: trends and real changes");
    cmd->add_option("subject", o->subject,
                    "The subject, as recorded (--subject, BIDS sub-, the cohort's {subject})")
        ->required();
    cmd->add_option("--db", o->db,
                    "Session log (default: $SEMG_DB, else $XDG_DATA_HOME/semg/sessions.sqlite or "
                    "~/.local/share/semg/sessions.sqlite)");
    cmd->add_option("--task", o->task,
                    "Only the sessions of this task (BIDS task-, the cohort's {task})");
    cmd->add_option("--out", o->out,
                    "Folder for history.html and history.csv (default: history-SUBJECT)");
    cmd->add_option(
           "--icc", o->icc,
           "[MEASURE=]X: test-retest ICC for the MDC (measures imf, slope, hold, ai; bare X: slope). "
           "Defaults: imf 0.72, slope 0.46, hold 0.95, ai none (docs/history.md)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option(
           "--sd", o->sd,
           "[MEASURE=]X|db: between-subject SD for the MDC in the measure's unit, or db: pooled over the "
           "log's subjects (3 or more). Defaults: imf 7.5 Hz and slope 0.25 %/s (Elfving 2000), hold and "
           "ai db")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_flag("-q,--quiet", o->quiet, "No table on stdout");
    cmd->callback([o] { run_command([&] { history(*o); }); });
}

} // namespace semg::tools
