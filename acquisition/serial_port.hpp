// Serial transport: owns one serial port (a USB CDC/FTDI tty or a pseudo-terminal) and one
// named I/O thread that runs Boost.Asio. Every read and every command to the device goes
// through one strand, so a device never sees two threads (the classic "two readers on one
// port" bug cannot happen).
//
// Reads are low latency: an async_read_some returns whatever bytes the driver has, and on
// FTDI-style adapters the ASYNC_LOW_LATENCY flag asks the driver for a 1 ms latency timer
// (ignored where the driver does not support it, e.g. on ptys).
// Errors: configuration and opening throw SerialError (a SourceError) with the port and the
// reason; inside the I/O thread errors are error_codes, reported once through the end
// handler. The byte handler runs on the I/O thread and must not block for long: the kernel
// buffers only a few tens of ms of a fast stream.
#pragma once

#include "acquisition/source.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>

namespace semg::acquisition {

// The port cannot be opened or configured: the message names the port and the reason.
class SerialError : public SourceError {
public:
    using SourceError::SourceError;
};

enum class Parity { None, Odd, Even };
enum class StopBits { One, OnePointFive, Two };
enum class FlowControl { None, Software, Hardware };

struct SerialSettings {
    std::string port;            // "/dev/ttyUSB0", "/dev/pts/3", a socat link, ...
    unsigned baud_rate = 115200; // ignored by ptys, but set all the same
    unsigned character_size = 8; // 5..8
    Parity parity = Parity::None;
    StopBits stop_bits = StopBits::One;
    FlowControl flow_control = FlowControl::None;
    std::size_t read_buffer_bytes = 64 * 1024; // one read returns at most this
    std::string thread_name = "semg-serial";   // shown by top -H, gdb; at most 15 characters
};

// "none|odd|even", "1|1.5|2", "none|software|hardware": throw std::invalid_argument.
Parity parity_from_string(const std::string& text);
StopBits stop_bits_from_string(const std::string& text);
FlowControl flow_control_from_string(const std::string& text);

class SerialTransport {
public:
    // Bytes as they arrive; the span is valid during the call only. Runs on the I/O thread.
    using BytesHandler = std::function<void(std::span<const std::uint8_t>)>;
    // Reading ended by itself: end of file (device unplugged, pty closed) or an I/O error.
    // Called once, on the I/O thread; never called for stop().
    using EndHandler = std::function<void(const std::error_code&)>;

    // Opens and configures the port. Throws SerialError (no such port, busy, not a tty,
    // rejected settings) and std::invalid_argument (settings out of range).
    explicit SerialTransport(SerialSettings settings);
    ~SerialTransport(); // stop()
    SerialTransport(const SerialTransport&) = delete;
    SerialTransport& operator=(const SerialTransport&) = delete;

    // Starts the I/O thread and the read loop. Call once.
    void start(BytesHandler on_bytes, EndHandler on_end);
    // Queues bytes for the device (commands such as Cyton 'b'); thread-safe, returns at once.
    void send(std::string bytes);
    // Bytes queued by send() and not yet written: lets a writer apply back-pressure.
    std::size_t pending_bytes() const noexcept;
    // Sends `last_bytes` (e.g. Cyton 's'), waits up to 0.5 s for pending writes, closes the
    // port and joins the I/O thread. Idempotent; after it no handler runs any more.
    void stop(std::string last_bytes = {});
    bool running() const noexcept;

    const SerialSettings& settings() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Names the calling thread (Linux: 15 characters), for top -H and debuggers.
void set_current_thread_name(const std::string& name) noexcept;

} // namespace semg::acquisition
