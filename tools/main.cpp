// semg: surface-EMG fatigue analysis of the back.
#include "tools/commands.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    CLI::App app{"semg: surface-EMG muscle-fatigue analysis of the back"};
    app.set_version_flag("--version", SEMG_VERSION);
    app.require_subcommand(1);
    semg::tools::register_commands(app);
    CLI11_PARSE(app, argc, argv);
    return semg::tools::exit_code();
}
