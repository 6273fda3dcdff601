#include "tools/commands.hpp"

#include "acquisition/serial_port.hpp"
#include "acquisition/source.hpp"
#include "pipeline/capture.hpp"
#include "pipeline/dashboard.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <iostream>

namespace semg::tools {
namespace {
std::atomic<int> g_exit_code{0}; // set from `semg analyze --jobs` workers too

ExitCode code_of(const std::exception& e, ExitCode fallback) {
    if (dynamic_cast<const UsageError*>(&e) != nullptr)
        return ExitCode::Usage;
    if (dynamic_cast<const DeviceError*>(&e) != nullptr ||
        dynamic_cast<const acquisition::SerialError*>(&e) != nullptr ||
        dynamic_cast<const pipeline::CaptureError*>(&e) != nullptr ||
        dynamic_cast<const pipeline::DashboardError*>(&e) != nullptr ||
        dynamic_cast<const std::filesystem::filesystem_error*>(&e) != nullptr)
        return ExitCode::DeviceIo;
    if (dynamic_cast<const acquisition::SourceError*>(&e) != nullptr)
        return ExitCode::InputFailed; // an input named on the command line cannot be read
    return fallback;
}
} // namespace

void register_commands(CLI::App& app) {
    register_analyze(app);
    register_simulate(app);
    register_capture(app);
    register_report(app);
    register_info(app);
    register_merge(app);
    register_history(app);
}

bool run_command(const std::function<void()>& body, ExitCode on_error) {
    try {
        body();
        return true;
    } catch (const std::exception& e) {
        std::cerr << "semg: error: " << e.what() << '\n';
        set_exit_code(code_of(e, on_error));
        return false;
    }
}

void set_exit_code(ExitCode code) {
    int seen = g_exit_code.load();
    while (seen < static_cast<int>(code) &&
           !g_exit_code.compare_exchange_weak(seen, static_cast<int>(code))) {
    }
}

int exit_code() { return g_exit_code; }

} // namespace semg::tools
