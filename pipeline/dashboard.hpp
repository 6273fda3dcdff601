// The live dashboard of `semg capture --dashboard [ADDR:]PORT`: an HTTP and WebSocket server
// (Boost.Beast) that serves report.html's page with an empty model and pushes every epoch's
// rows, the acquisition's health and, at the end, the summary to each connected browser.
// Protocol and page: docs/report.md ("Live use").
//
// Threads:
//   semg-dashboard  the Asio io_context: accepts connections, serves the page, turns epoch rows
//                   into JSON, writes to every WebSocket. Nothing else runs on it.
//   DSP thread      publish_epoch(): copies the epoch's CSV text (the very rows epochs.csv and
//                   pairs.csv get) into a drop-oldest ring of 64 slots, under a mutex that is only
//                   ever held for such a copy, and wakes the dashboard thread. It never waits for
//                   the network; once the slots have grown to an epoch's text it allocates at most
//                   one wake-up at a time.
//   control thread  start(), publish_health(), finish().
// Guarantees:
//   - A slow client drops updates, never samples: each client has a bounded queue (and a 64 kB
//     socket send buffer); when it is full the oldest unsent message is dropped and counted. A
//     client that does not answer the server's pings for stall_timeout (it stopped reading) is
//     disconnected and counted.
//   - Read-only: the server only sends. A client that sends a message is closed (1008).
//   - Loopback (127.0.0.1) unless an address is given; port 0 takes a free port (port()).
//   - Numbers reach clients as epochs.csv has them (the same text, parsed once): equal values.
#pragma once

#include "pipeline/capture_view.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace semg::pipeline {

struct DashboardEndpoint {
    std::string address = "127.0.0.1"; // numeric IPv4 or IPv6
    std::uint16_t port = 8080;         // 0: any free port
};

// "[ADDR:]PORT": "8080", "0.0.0.0:8080", "[::1]:8080", "localhost:8080" (127.0.0.1).
// Throws std::invalid_argument naming --dashboard.
DashboardEndpoint parse_dashboard_endpoint(const std::string& text);

struct DashboardSettings {
    DashboardEndpoint endpoint;
    // Makes the page from start()'s header (report::render_live_html); called on the control
    // thread. Empty: `/` serves a page that only says so.
    std::function<std::string(const nlohmann::ordered_json& header)> page;
    std::size_t queue_messages = 256;               // per client
    std::size_t history_epochs = 600;               // replayed to a client that connects late
    std::chrono::milliseconds stall_timeout{10000}; // a client silent this long is closed
};

struct DashboardStats {
    std::uint64_t clients = 0;         // WebSocket clients connected now
    std::uint64_t clients_served = 0;  // since the start
    std::uint64_t epochs = 0;          // epoch updates made
    std::uint64_t dropped_epochs = 0;  // dropped between the DSP and the dashboard thread
    std::uint64_t dropped_updates = 0; // messages dropped from slow clients' queues
    std::uint64_t stalled_clients = 0; // disconnected for not reading
    std::uint64_t refused_clients = 0; // closed for sending (the dashboard is read-only)
};

// The address cannot be used (bad address, port in use, no permission).
class DashboardError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class DashboardServer {
public:
    // Binds, listens and starts the semg-dashboard thread; throws DashboardError.
    explicit DashboardServer(DashboardSettings settings);
    ~DashboardServer(); // closes every connection and joins the thread
    DashboardServer(const DashboardServer&) = delete;
    DashboardServer& operator=(const DashboardServer&) = delete;

    std::uint16_t port() const noexcept;
    std::string url() const; // http://ADDR:PORT/

    // Control thread, once the stream's format is known: the page and the "hello" message from
    // `header` (start_summary_json() of the capture plus its `acquisition` facts).
    void start(const nlohmann::ordered_json& header);
    // DSP thread: one epoch's rows as written to epochs.csv and pairs.csv (lines of text).
    void publish_epoch(std::uint64_t index, std::string_view epoch_rows,
                       std::string_view pair_rows);
    // Control thread, about once a second.
    void publish_health(const CaptureHealth& health);
    // DSP thread, every few seconds: the fits so far ({"type":"fits"}, summary.json's form), so
    // that regression lines, tables and JASA fill in during the capture. Sent to every client and
    // to those that connect later.
    void publish_fits(nlohmann::ordered_json summary);
    // Control thread, at the end: sends {"type":"summary"} (summary.json, or null with `error`
    // when no results were written), closes each client once its queue is sent, and waits up to
    // `linger` for them. Publishing after this does nothing.
    void finish(const std::optional<nlohmann::ordered_json>& summary, const std::string& error,
                std::chrono::milliseconds linger = std::chrono::milliseconds(2000));

    DashboardStats stats() const; // any thread

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace semg::pipeline
