// The subcommands of `semg`. Each registers itself on the app; its body runs through
// run_command so that any failure becomes one readable line and a non-zero exit.
#pragma once

#include "tools/exit_codes.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <stdexcept>

namespace semg::tools {

void register_commands(CLI::App& app);

void register_analyze(CLI::App& app);
void register_simulate(CLI::App& app);
void register_capture(CLI::App& app);
void register_report(CLI::App& app);
void register_info(CLI::App& app);
void register_merge(CLI::App& app);
void register_history(CLI::App& app);

// A command line that cannot be run as given (exit 2), found after CLI11's parse: a value out
// of range, options that do not go together.
class UsageError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// The device or the disk failed the session (exit 3): a stall, a rejected stream, a recording
// that could not be written.
class DeviceError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Runs a command body: an exception prints "semg: error: <what>" to stderr and sets the exit
// code: UsageError 2; DeviceError, a serial, capture, dashboard or filesystem error 3; anything
// else `on_error`. The highest code of a run is kept. Returns whether the body succeeded.
bool run_command(const std::function<void()>& body, ExitCode on_error = ExitCode::InputFailed);
void set_exit_code(ExitCode code); // keeps the highest
int exit_code();

} // namespace semg::tools
