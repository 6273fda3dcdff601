// Markers for a running `semg capture` from outside the sample path: keys read from the
// controlling terminal, and a local control socket for scripts (`semg mark`).
//
// TerminalKeys puts the controlling terminal (/dev/tty) into non-canonical, no-echo mode (signals
// stay on: Ctrl-C still stops the capture) and restores it on every exit: its destructor (normal
// end, exceptions), and the fatal-signal handler of temp_cleanup (SIGQUIT, SIGSEGV, ...); SIGINT,
// SIGTERM and SIGHUP end the capture through its normal path. SIGKILL cannot be caught (`stty
// sane` then).
//
// ControlSocket listens on an AF_UNIX stream socket (mode 0600, in the run's output folder) on its
// own thread (semg-control). A client sends one line and gets one line back; a client whose uid
// (SO_PEERCRED) is not the capture's is refused before it is read. Requests:
//   start | stop | toggle        a contraction (the same as the space key)
//   mark [TEXT]                  a marker with an optional note (the `m` key)
// Replies: "ok <what was marked>" or "error: <why>".
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <termios.h>

namespace semg::pipeline {

class TerminalKeys {
public:
    // Opens /dev/tty; nullptr when the process has no controlling terminal.
    static std::unique_ptr<TerminalKeys> open();
    TerminalKeys(const TerminalKeys&) = delete;
    ~TerminalKeys();
    int fd() const noexcept { return fd_; }
    // Waits up to timeout_ms for a byte; -1 when none.
    int read_key(int timeout_ms) const noexcept;

private:
    TerminalKeys(int fd, const termios& saved) : fd_(fd), saved_(saved) {}
    int fd_ = -1;
    termios saved_{};
};

// Called on the socket thread with the request line; returns the reply line.
using ControlHandler = std::function<std::string(const std::string& request)>;

class ControlSocket {
public:
    // Binds `path` (mode 0600) and starts serving. Throws std::runtime_error with the reason.
    ControlSocket(std::filesystem::path path, ControlHandler handler);
    ~ControlSocket(); // stops the thread, removes the socket file
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }
    std::uint64_t served() const noexcept { return served_.load(); }
    std::uint64_t refused() const noexcept { return refused_.load(); }

private:
    void serve(std::stop_token stop);
    std::filesystem::path path_;
    ControlHandler handler_;
    int fd_ = -1;
    std::atomic<std::uint64_t> served_{0}, refused_{0};
    std::jthread thread_;
};

// The control socket of a run: `target` is the socket itself or the run's output folder (its
// control.sock).
std::filesystem::path control_socket_path(const std::filesystem::path& target);

// Sends one request to a running capture and returns its reply line. Throws std::runtime_error
// naming the socket and the reason (no capture running, permission denied, ...).
std::string send_control_request(const std::filesystem::path& target, const std::string& request);

} // namespace semg::pipeline
