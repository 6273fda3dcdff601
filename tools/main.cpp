// semg: surface-EMG fatigue analysis of the back.
#include "tools/commands.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    CLI::App app{"semg: surface-EMG muscle-fatigue analysis of the back"};
    app.set_version_flag("--version", SEMG_VERSION);
    app.require_subcommand(1);
    // Option errors are one line, like every other error (CLI11 adds a second one by default).
    app.failure_message([](const CLI::App*, const CLI::Error& e) {
        return "semg: error: " + std::string(e.what()) + " (--help lists the options)\n";
    });
    semg::tools::register_commands(app);
    CLI11_PARSE(app, argc, argv);
    return semg::tools::exit_code();
}
