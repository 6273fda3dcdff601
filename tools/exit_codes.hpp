// The exit codes of `semg`, one table for every command: printed at the end of each --help and
// in README.md. A script can tell a bad command line (2) from a recording that could not be
// analysed (1) and from a device or disk that failed (3).
#pragma once

#include <string_view>

namespace semg::tools {

enum class ExitCode : int {
    Ok = 0,          // everything asked for was done
    InputFailed = 1, // an input could not be read or analysed (the other inputs still are)
    Usage = 2,       // unknown command or option, bad or missing value, a named file missing
    DeviceIo = 3, // serial port or stream failed (no frames, stalled, rejected), or a write failed
                  // (the session log too: warned, the results still written, exit 3 at the end)
};

// The table as --help and README show it.
inline constexpr std::string_view kExitCodeTable =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  an input could not be read or analysed (the other inputs are still done)\n"
    "  2  usage: unknown command or option, bad or missing value, a file named by an option\n"
    "     missing\n"
    "  3  device or I/O: the serial port cannot be opened, no frames arrive, the stream\n"
    "     stalls or is rejected, an output folder or file cannot be written";

} // namespace semg::tools
