// `semg report DIR...`: (re)builds DIR/report.html from the result files in DIR.
#include "report/report.hpp"
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"

#include <iostream>
#include <memory>

namespace semg::tools {

void register_report(CLI::App& app) {
    struct Options {
        std::vector<std::filesystem::path> dirs;
        bool quiet = false;
        bool pdf = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand(
        "report",
        "Write DIR/report.html (charts, tables, settings; opens offline) from a result folder");
    cmd->add_option("dirs", o->dirs,
                    "Result folders of `semg analyze` (summary.json, epochs.csv, pairs.csv)")
        ->required();
    cmd->add_flag(
        "--pdf", o->pdf,
        "Also print the page to DIR/report.pdf through headless Chromium ($CHROMIUM, else "
        "chromium on PATH)");
    cmd->add_flag("-q,--quiet", o->quiet, "Print nothing on success; warnings and errors only");
    cmd->callback([o]() {
        set_quiet(o->quiet);
        for (const auto& dir : o->dirs) {
            run_command([&] {
                const auto path = report::write_report(dir);
                if (!o->quiet)
                    std::cout << path.string() << '\n';
                if (o->pdf) {
                    const auto pdf = report::print_report_pdf(dir);
                    if (!o->quiet)
                        std::cout << pdf.string() << '\n';
                    return;
                }
                // A report.pdf printed from the page just replaced would no longer match it.
                std::error_code ec;
                if (std::filesystem::remove(dir / "report.pdf", ec))
                    log_notice(
                        (dir / "report.pdf").string() +
                        ": removed, it showed the previous report (--pdf prints the new one)");
            });
        }
    });
}

} // namespace semg::tools
