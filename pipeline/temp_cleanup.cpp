#include "pipeline/temp_cleanup.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>

namespace semg::pipeline {
namespace {

// Slot states. Only a free slot is written, only a ready one is read by the handler, and the
// handler claims a slot before reading it, so it never reads a path being rewritten.
enum : int { kFree = 0, kWriting = 1, kReady = 2, kRemoving = 3 };

struct Slot {
    std::atomic<int> state{kFree};
    char path[4096];
};
std::array<Slot, 64> g_slots;
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

// The terminal to restore: written while g_terminal_state is kWriting, read only when kReady.
std::atomic<int> g_terminal_state{kFree};
int g_terminal_fd = -1;
termios g_terminal_saved{};

void remove_temporaries(int sig) {
    int terminal_ready = kReady;
    if (g_terminal_state.compare_exchange_strong(terminal_ready, kRemoving))
        ::tcsetattr(g_terminal_fd, TCSANOW, &g_terminal_saved);
    for (auto& slot : g_slots) {
        int ready = kReady;
        if (slot.state.compare_exchange_strong(ready, kRemoving))
            ::unlink(slot.path);
    }
    // Then the signal does what it would have done: SA_RESETHAND restored the default action,
    // and the signal, blocked while this handler runs, is delivered as it returns.
    ::raise(sig);
}

std::once_flag g_installed;

void install_handlers() {
    for (const int sig :
         {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU, SIGXFSZ,
          SIGVTALRM, SIGPROF, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) {
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO) != 0)
            continue; // someone else's handler, or ignored: not ours to change
        struct sigaction sa {};
        sa.sa_handler = &remove_temporaries;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        ::sigaction(sig, &sa, nullptr);
    }
}

} // namespace

void set_terminal_restore(int fd, const termios* saved) noexcept {
    try {
        std::call_once(g_installed, install_handlers);
    } catch (...) {
        return;
    }
    int ready = kReady;
    g_terminal_state.compare_exchange_strong(ready, kFree);
    if (!saved)
        return;
    int free = kFree;
    if (!g_terminal_state.compare_exchange_strong(free, kWriting))
        return; // a handler is running: the process is ending
    g_terminal_fd = fd;
    g_terminal_saved = *saved;
    g_terminal_state.store(kReady);
}

TemporaryRegistration::TemporaryRegistration(const std::filesystem::path& path) noexcept {
    try {
        std::call_once(g_installed, install_handlers);
    } catch (...) {
        return;
    }
    const std::string& text = path.native();
    if (text.size() >= sizeof(Slot::path))
        return;
    for (std::size_t i = 0; i < g_slots.size(); ++i) {
        int free = kFree;
        if (g_slots[i].state.compare_exchange_strong(free, kWriting)) {
            std::memcpy(g_slots[i].path, text.c_str(), text.size() + 1);
            g_slots[i].state.store(kReady);
            slot_ = static_cast<int>(i);
            return;
        }
    }
}

TemporaryRegistration::~TemporaryRegistration() { release(); }

TemporaryRegistration::TemporaryRegistration(TemporaryRegistration&& other) noexcept
    : slot_(other.slot_) {
    other.slot_ = -1;
}

TemporaryRegistration& TemporaryRegistration::operator=(TemporaryRegistration&& other) noexcept {
    if (this != &other) {
        release();
        slot_ = other.slot_;
        other.slot_ = -1;
    }
    return *this;
}

void TemporaryRegistration::release() noexcept {
    if (slot_ < 0)
        return;
    int ready = kReady;
    // If a handler is removing it (kRemoving), the process is ending: leave the slot to it.
    g_slots[static_cast<std::size_t>(slot_)].state.compare_exchange_strong(ready, kFree);
    slot_ = -1;
}

} // namespace semg::pipeline
