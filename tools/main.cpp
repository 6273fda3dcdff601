// semg: surface-EMG fatigue analysis of the back.
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"
#include "tools/exit_codes.hpp"
#include "tools/version.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
    using namespace semg::tools;
    CLI::App app{"semg: surface-EMG muscle-fatigue analysis of the back"};
    app.set_version_flag(
        "--version", [] { return version_text(); },
        "Print the version, git commit and library versions and exit");
    app.require_subcommand(1);
    register_commands(app);
    const std::string table = std::string(kExitCodeTable) + "\n";
    app.footer(table);
    for (CLI::App* sub : app.get_subcommands({})) {
        const std::string own = sub->get_footer();
        sub->footer(own.empty() ? table : own + "\n\n" + table);
    }
    const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) // --help, --version
            return app.exit(e);
        // One line, like every other error, and the documented usage code (not CLI11's 1xx).
        std::cerr << "semg: error: " << parse_error_message(app, e, args)
                  << " (--help lists the options)\n";
        return static_cast<int>(ExitCode::Usage);
    }
    return exit_code();
}
