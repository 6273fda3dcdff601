#include "acquisition/serial_port.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <linux/serial.h>
#include <pthread.h>
#include <sys/ioctl.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace semg::acquisition {

namespace asio = boost::asio;

Parity parity_from_string(const std::string& text) {
    if (text == "none" || text == "n" || text == "N")
        return Parity::None;
    if (text == "odd" || text == "o" || text == "O")
        return Parity::Odd;
    if (text == "even" || text == "e" || text == "E")
        return Parity::Even;
    throw std::invalid_argument("parity must be none, odd or even, got '" + text + "'");
}

StopBits stop_bits_from_string(const std::string& text) {
    if (text == "1")
        return StopBits::One;
    if (text == "1.5")
        return StopBits::OnePointFive;
    if (text == "2")
        return StopBits::Two;
    throw std::invalid_argument("stop bits must be 1, 1.5 or 2, got '" + text + "'");
}

FlowControl flow_control_from_string(const std::string& text) {
    if (text == "none")
        return FlowControl::None;
    if (text == "software" || text == "xonxoff")
        return FlowControl::Software;
    if (text == "hardware" || text == "rtscts")
        return FlowControl::Hardware;
    throw std::invalid_argument("flow control must be none, software or hardware, got '" + text +
                                "'");
}

void set_current_thread_name(const std::string& name) noexcept {
    // Linux limits thread names to 15 characters plus the terminator.
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

struct SerialTransport::Impl {
    explicit Impl(SerialSettings s) : settings(std::move(s)) {}

    SerialSettings settings;
    asio::io_context io;
    asio::strand<asio::io_context::executor_type> strand{io.get_executor()};
    asio::serial_port port{strand};
    asio::steady_timer stop_deadline{strand};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread thread;
    std::vector<std::uint8_t> buffer;
    BytesHandler on_bytes;
    EndHandler on_end;
    // Strand-only state.
    std::deque<std::string> writes;
    bool writing = false;
    bool stopping = false;
    bool closed = false;
    // Shared.
    std::atomic<std::size_t> pending{0};
    std::atomic<bool> reading{false};

    void read_next() {
        port.async_read_some(asio::buffer(buffer), [this](const boost::system::error_code& ec,
                                                          std::size_t n) { on_read(ec, n); });
    }

    void on_read(const boost::system::error_code& ec, std::size_t n) {
        if (stopping || closed)
            return; // stop() owns the end of the session
        if (ec) {
            reading = false;
            if (on_end)
                on_end(std::error_code(ec));
            return;
        }
        if (n > 0 && on_bytes)
            on_bytes(std::span<const std::uint8_t>(buffer.data(), n));
        read_next();
    }

    void enqueue(std::string bytes) {
        if (closed || bytes.empty())
            return;
        writes.push_back(std::move(bytes));
        if (!writing)
            write_next();
    }

    void write_next() {
        if (writes.empty() || closed) {
            writing = false;
            if (stopping)
                close_port();
            return;
        }
        writing = true;
        asio::async_write(port, asio::buffer(writes.front()),
                          [this](const boost::system::error_code& ec, std::size_t) {
                              pending -= writes.front().size();
                              writes.pop_front();
                              if (ec) {
                                  // The device is gone or refuses data; the read side reports
                                  // why. Queued commands are meaningless now.
                                  for (const auto& w : writes)
                                      pending -= w.size();
                                  writes.clear();
                              }
                              write_next();
                          });
    }

    void close_port() {
        if (closed)
            return;
        closed = true;
        reading = false;
        stop_deadline.cancel();
        boost::system::error_code ignored;
        port.cancel(ignored);
        port.close(ignored);
    }
};

namespace {

template <class Option>
void set_option(asio::serial_port& port, const Option& option, const SerialSettings& s,
                const std::string& what) {
    boost::system::error_code ec;
    port.set_option(option, ec);
    if (ec)
        throw SerialError(s.port + ": cannot set " + what + " (" + ec.message() + ")");
}

} // namespace

SerialTransport::SerialTransport(SerialSettings settings)
    : impl_(std::make_unique<Impl>(std::move(settings))) {
    const auto& s = impl_->settings;
    if (s.port.empty())
        throw std::invalid_argument("serial port: no path given");
    if (s.character_size < 5 || s.character_size > 8)
        throw std::invalid_argument("serial port: character size must be 5 to 8, got " +
                                    std::to_string(s.character_size));
    if (s.baud_rate == 0)
        throw std::invalid_argument("serial port: baud rate must be > 0");
    if (s.read_buffer_bytes == 0)
        throw std::invalid_argument("serial port: read buffer of 0 bytes");
    impl_->buffer.resize(s.read_buffer_bytes);

    boost::system::error_code ec;
    impl_->port.open(s.port, ec);
    if (ec) {
        std::string reason = ec.message();
        if (ec == boost::system::errc::not_a_stream || ec.value() == ENOTTY)
            reason = "not a serial port or terminal";
        throw SerialError(s.port + ": cannot open (" + reason + ")");
    }
    auto& port = impl_->port;
    using B = asio::serial_port_base;
    set_option(port, B::baud_rate(s.baud_rate), s, "baud rate " + std::to_string(s.baud_rate));
    set_option(port, B::character_size(s.character_size), s, "character size");
    set_option(port,
               B::parity(s.parity == Parity::None  ? B::parity::none
                         : s.parity == Parity::Odd ? B::parity::odd
                                                   : B::parity::even),
               s, "parity");
    set_option(port,
               B::stop_bits(s.stop_bits == StopBits::One            ? B::stop_bits::one
                            : s.stop_bits == StopBits::OnePointFive ? B::stop_bits::onepointfive
                                                                    : B::stop_bits::two),
               s, "stop bits");
    set_option(port,
               B::flow_control(s.flow_control == FlowControl::None ? B::flow_control::none
                               : s.flow_control == FlowControl::Software
                                   ? B::flow_control::software
                                   : B::flow_control::hardware),
               s, "flow control");

    const int fd = port.native_handle();
    // Nobody else may open the port while we read it (root can still; see tty_ioctl(4)).
    ::ioctl(fd, TIOCEXCL);
    // FTDI and similar drivers otherwise hold bytes for up to 16 ms before passing them on.
    serial_struct ss{};
    if (::ioctl(fd, TIOCGSERIAL, &ss) == 0) {
        ss.flags |= ASYNC_LOW_LATENCY;
        ::ioctl(fd, TIOCSSERIAL, &ss);
    }
}

SerialTransport::~SerialTransport() {
    try {
        stop();
    } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw
    }
}

void SerialTransport::start(BytesHandler on_bytes, EndHandler on_end) {
    if (impl_->thread.joinable())
        throw std::logic_error("SerialTransport::start called twice");
    if (impl_->closed)
        throw std::logic_error("SerialTransport::start after stop");
    impl_->on_bytes = std::move(on_bytes);
    impl_->on_end = std::move(on_end);
    impl_->work.emplace(asio::make_work_guard(impl_->io));
    impl_->reading = true;
    asio::post(impl_->strand, [this] { impl_->read_next(); });
    impl_->thread = std::thread([this] {
        set_current_thread_name(impl_->settings.thread_name);
        impl_->io.run();
    });
}

void SerialTransport::send(std::string bytes) {
    if (bytes.empty())
        return;
    impl_->pending += bytes.size();
    asio::post(impl_->strand,
               [this, b = std::move(bytes)]() mutable { impl_->enqueue(std::move(b)); });
}

std::size_t SerialTransport::pending_bytes() const noexcept { return impl_->pending.load(); }

void SerialTransport::stop(std::string last_bytes) {
    Impl& d = *impl_;
    if (!d.thread.joinable()) {
        d.close_port();
        return;
    }
    if (!last_bytes.empty())
        d.pending += last_bytes.size();
    asio::post(d.strand, [&d, last = std::move(last_bytes)]() mutable {
        d.stopping = true;
        d.enqueue(std::move(last));
        if (!d.writing) {
            d.close_port();
            return;
        }
        // A device that stopped reading (hardware flow control, a hung adapter) must not hang
        // the shutdown: give the last commands half a second.
        d.stop_deadline.expires_after(std::chrono::milliseconds(500));
        d.stop_deadline.async_wait([&d](const boost::system::error_code& ec) {
            if (!ec)
                d.close_port();
        });
    });
    d.work.reset();
    d.thread.join();
}

bool SerialTransport::running() const noexcept { return impl_->reading.load(); }

const SerialSettings& SerialTransport::settings() const noexcept { return impl_->settings; }

} // namespace semg::acquisition
