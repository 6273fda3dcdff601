#include "pipeline/capture_control.hpp"

#include "acquisition/serial_port.hpp"
#include "pipeline/temp_cleanup.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace semg::pipeline {
namespace {

std::string errno_text() { return std::strerror(errno); }

sockaddr_un address_of(const std::filesystem::path& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string& p = path.native();
    if (p.size() >= sizeof a.sun_path)
        throw std::runtime_error(path.string() + ": path too long for a local socket (" +
                                 std::to_string(p.size()) + " bytes, at most " +
                                 std::to_string(sizeof a.sun_path - 1) + ")");
    std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
    return a;
}

// One line (up to 4 kB) within timeout_ms; the '\n' is dropped.
std::string read_line(int fd, int timeout_ms) {
    std::string line;
    char ch = 0;
    while (line.size() < 4096) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0)
            break;
        const ssize_t n = ::read(fd, &ch, 1);
        if (n <= 0 || ch == '\n')
            break;
        line += ch;
    }
    return line;
}

void write_all(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Terminal keys

std::unique_ptr<TerminalKeys> TerminalKeys::open() {
    const int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return nullptr;
    termios saved{};
    if (::tcgetattr(fd, &saved) != 0) {
        ::close(fd);
        return nullptr;
    }
    termios raw = saved;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO); // ISIG kept: Ctrl-C still stops
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    set_terminal_restore(fd, &saved); // before the change: a signal between restores it
    if (::tcsetattr(fd, TCSANOW, &raw) != 0) {
        set_terminal_restore(-1, nullptr);
        ::close(fd);
        return nullptr;
    }
    return std::unique_ptr<TerminalKeys>(new TerminalKeys(fd, saved));
}

TerminalKeys::~TerminalKeys() {
    if (fd_ < 0)
        return;
    ::tcsetattr(fd_, TCSANOW, &saved_);
    set_terminal_restore(-1, nullptr);
    ::close(fd_);
}

int TerminalKeys::read_key(int timeout_ms) const noexcept {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0 || (p.revents & POLLIN) == 0)
        return -1;
    unsigned char ch = 0;
    return ::read(fd_, &ch, 1) == 1 ? ch : -1;
}

// ---------------------------------------------------------------------------------------------
// Control socket

std::filesystem::path control_socket_path(const std::filesystem::path& target) {
    std::error_code ec;
    if (std::filesystem::is_directory(target, ec))
        return target / "control.sock";
    return target;
}

ControlSocket::ControlSocket(std::filesystem::path path, ControlHandler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
    const sockaddr_un a = address_of(path_);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw std::runtime_error(path_.string() + ": cannot create a socket (" + errno_text() +
                                 ")");
    // Owner only from the moment it exists: the file takes the umask at bind. (A client of
    // another uid that got in anyway is refused by SO_PEERCRED.)
    const mode_t old_mask = ::umask(0177);
    const int rc = ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    const int bind_errno = errno;
    ::umask(old_mask);
    if (rc != 0 || ::chmod(path_.c_str(), 0600) != 0 || ::listen(fd_, 8) != 0) {
        const std::string why = std::strerror(rc != 0 ? bind_errno : errno);
        ::close(fd_);
        if (rc == 0)
            ::unlink(path_.c_str());
        throw std::runtime_error(path_.string() + ": cannot listen (" + why + ")");
    }
    thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
}

ControlSocket::~ControlSocket() {
    thread_.request_stop();
    if (thread_.joinable())
        thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
}

void ControlSocket::serve(std::stop_token stop) {
    acquisition::set_current_thread_name("semg-control");
    while (!stop.stop_requested()) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0)
            continue;
        const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0)
            continue;
        ucred peer{};
        socklen_t len = sizeof peer;
        if (::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
            peer.uid != ::geteuid()) {
            ++refused_;
            write_all(client, "error: refused: uid " + std::to_string(peer.uid) +
                                  " is not the capture's owner\n");
            ::close(client);
            continue;
        }
        const std::string request = read_line(client, 2000);
        std::string reply;
        try {
            reply = handler_(request);
        } catch (const std::exception& e) {
            reply = std::string("error: ") + e.what();
        }
        write_all(client, reply + "\n");
        ++served_;
        ::close(client);
    }
}

std::string send_control_request(const std::filesystem::path& target, const std::string& request) {
    const auto path = control_socket_path(target);
    const sockaddr_un a = address_of(path);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error("cannot create a socket (" + errno_text() + ")");
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        const int e = errno;
        ::close(fd);
        std::string why = std::strerror(e);
        if (e == ENOENT || e == ECONNREFUSED)
            why += ": is a capture running there?";
        else if (e == EACCES || e == EPERM)
            why += ": the capture belongs to another user";
        throw std::runtime_error(path.string() + ": cannot connect (" + why + ")");
    }
    write_all(fd, request + "\n");
    const std::string reply = read_line(fd, 5000);
    ::close(fd);
    if (reply.empty())
        throw std::runtime_error(path.string() + ": no reply from the capture");
    return reply;
}

} // namespace semg::pipeline
