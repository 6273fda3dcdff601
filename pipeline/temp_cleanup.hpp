// Temporary output files (OutputDir's `.NAME.tmp-PID`) removed when a signal ends the process.
//
// A temporary is registered while it exists; the first registration installs, for every signal
// whose default action ends the process and that can be caught (SIGINT, SIGTERM, SIGHUP, SIGQUIT,
// SIGPIPE, SIGSEGV, ...), a handler that unlinks the registered files and then lets the signal
// end the process as it would have (default action re-raised: same exit status, core dumps
// kept). Signals that already have a handler or are ignored are left alone, and a signal that is
// blocked and taken with sigwait (`semg capture`) never reaches the handler. SIGKILL cannot be
// caught: after kill -9 temporaries stay (their names say whose they were).
// Real time: the handler only reads a fixed table and calls unlink(2), which is async-signal-safe.
#pragma once

#include <filesystem>

#include <termios.h>

namespace semg::pipeline {

class TemporaryRegistration {
public:
    TemporaryRegistration() = default;
    // Registers `path` (at most 64 files at once, paths up to 4095 bytes; beyond that the file is
    // not registered and only the normal clean-up removes it).
    explicit TemporaryRegistration(const std::filesystem::path& path) noexcept;
    ~TemporaryRegistration();
    TemporaryRegistration(TemporaryRegistration&& other) noexcept;
    TemporaryRegistration& operator=(TemporaryRegistration&& other) noexcept;
    TemporaryRegistration(const TemporaryRegistration&) = delete;
    TemporaryRegistration& operator=(const TemporaryRegistration&) = delete;
    // The file was renamed into place or removed: a signal must not remove anything now.
    void release() noexcept;

private:
    int slot_ = -1;
};

// Terminal settings the same handler restores (tcsetattr, async-signal-safe) before the signal
// ends the process: `semg capture`'s keys put the terminal into raw mode. One at a time; nullptr
// clears it. The first call installs the handlers as a registration does.
void set_terminal_restore(int fd, const termios* saved) noexcept;

} // namespace semg::pipeline
