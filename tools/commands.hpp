// The subcommands of `semg`. Each registers itself on the app; its body runs through
// run_command so that any failure becomes one readable line and a non-zero exit.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace semg::tools {

void register_commands(CLI::App& app);

void register_analyze(CLI::App& app);
void register_simulate(CLI::App& app);
void register_capture(CLI::App& app);
void register_report(CLI::App& app);
void register_info(CLI::App& app);

// Runs a command body: an exception prints "semg: error: <what>" to stderr and sets exit code 1.
// Returns whether the body succeeded.
bool run_command(const std::function<void()>& body);
int exit_code();

} // namespace semg::tools
