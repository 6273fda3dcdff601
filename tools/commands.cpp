#include "tools/commands.hpp"

#include <exception>
#include <iostream>

namespace semg::tools {
namespace {
int g_exit_code = 0;
}

void register_commands(CLI::App& app) {
    register_analyze(app);
    register_simulate(app);
    register_capture(app);
    register_report(app);
    register_info(app);
}

bool run_command(const std::function<void()>& body) {
    try {
        body();
        return true;
    } catch (const std::exception& e) {
        std::cerr << "semg: error: " << e.what() << '\n';
        g_exit_code = 1;
        return false;
    }
}

int exit_code() { return g_exit_code; }

} // namespace semg::tools
