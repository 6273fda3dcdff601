#include "pipeline/dashboard.hpp"

#include "acquisition/serial_port.hpp"
#include "pipeline/capture_ring.hpp"
#include "pipeline/results.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <cmath>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

namespace semg::pipeline {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using json = nlohmann::ordered_json;
using Message = std::shared_ptr<const std::string>; // one serialised message, shared by clients
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Plenty for a page's updates (tens of kB a second), small enough that a stalled client fills
// its queue soon.
constexpr int kSendBufferBytes = 64 * 1024;

Message message(const json& j) {
    return std::make_shared<const std::string>(
        j.dump(-1, ' ', false, json::error_handler_t::replace));
}

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string host_text(const std::string& address) {
    return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

// Lines of epochs.csv or pairs.csv as JSON objects with the header's column names. Numbers are
// parsed from the text the file has (so a client gets the value a reader of the file gets; NaN
// becomes null), text columns stay strings.
class CsvRows {
public:
    explicit CsvRows(std::string_view header) : columns_(csv_fields(header)) {
        for (const auto& column : columns_)
            text_.push_back(is_text_column(column));
    }

    [[nodiscard]] const std::vector<std::string>& columns() const noexcept { return columns_; }

    void append(std::string_view lines, json& out) const {
        while (!lines.empty()) {
            const auto end = std::min(lines.find('\n'), lines.size());
            std::string_view line = lines.substr(0, end);
            lines.remove_prefix(std::min(end + 1, lines.size()));
            if (line.empty())
                continue;
            json row = json::object();
            const auto fields = csv_fields(line);
            for (std::size_t c = 0; c < columns_.size() && c < fields.size(); ++c)
                row[columns_[c]] = cell(fields[c], text_[c]);
            out.push_back(std::move(row));
        }
    }

private:
    static json cell(std::string_view field, bool text) {
        if (!text) {
            double v = 0.0;
            const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
            if (ec == std::errc() && end == field.data() + field.size())
                return number(v);
        }
        return std::string(field);
    }

    std::vector<std::string> columns_;
    std::vector<bool> text_;
};

// One epoch as the DSP thread hands it over: the CSV text of its rows.
struct EpochText {
    std::uint64_t index = 0;
    std::string epochs;
    std::string pairs;
};

class Server;

// One WebSocket client. Lives while an operation of its own is pending; all on the io thread.
class WsSession : public std::enable_shared_from_this<WsSession> {
public:
    WsSession(tcp::socket socket, Server& server) : ws_(std::move(socket)), server_(server) {}
    ~WsSession();
    void accept(Request request);
    void send(const Message& m);
    void close_when_sent(); // after everything queued has gone

private:
    void on_accept(beast::error_code ec);
    void read_next();
    void on_read(beast::error_code ec);
    void write_next();
    void on_write(beast::error_code ec);
    void close(websocket::close_code code);
    void do_close(websocket::close_code code);

    websocket::stream<beast::tcp_stream> ws_;
    Server& server_;
    Request request_;
    beast::flat_buffer incoming_;
    std::deque<Message> queue_; // the front is being written while writing_
    bool open_ = false;
    bool writing_ = false;
    bool closing_ = false;
    bool close_when_sent_ = false;
    std::optional<websocket::close_code> close_after_write_;
};

// An HTTP connection: one request, then either the page (or an error) or a WebSocket upgrade.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(tcp::socket socket, Server& server) : stream_(std::move(socket)), server_(server) {}
    void start();

private:
    void on_request(beast::error_code ec);

    beast::tcp_stream stream_;
    Server& server_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    Response response_;
};

class Server {
public:
    explicit Server(DashboardSettings settings);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string url() const {
        return fmt::format("http://{}:{}/", host_text(settings_.endpoint.address), port_);
    }
    void start(const json& header);
    void publish_epoch(std::uint64_t index, std::string_view epoch_rows,
                       std::string_view pair_rows);
    void publish_health(const CaptureHealth& h);
    void publish_fits(json summary);
    void finish(const std::optional<json>& summary, const std::string& error,
                std::chrono::milliseconds linger);
    DashboardStats stats() const;

    // ---- for the sessions (io thread) ----
    std::size_t queue_limit() const noexcept { return settings_.queue_messages; }
    std::chrono::milliseconds stall_timeout() const noexcept { return settings_.stall_timeout; }
    Response answer(const Request& request) const;
    bool accepting() const noexcept { return !finished_; }
    void opened(const std::shared_ptr<WsSession>& session);
    void closed() noexcept { --clients_; }
    void dropped_update() noexcept { ++dropped_updates_; }
    void stalled() noexcept { ++stalled_clients_; }
    void refused() noexcept { ++refused_clients_; }

private:
    void accept_next();
    void drain();
    void broadcast(const Message& m);
    json dashboard_json() const;

    DashboardSettings settings_;
    std::uint16_t port_ = 0;
    const CsvRows epoch_rows_{epochs_csv_columns};
    const CsvRows pair_rows_{pairs_csv_columns};

    // DSP thread -> io thread.
    DropOldestRing<EpochText> ring_{64, nullptr};
    std::atomic<bool> wake_pending_{false};
    std::atomic<bool> finishing_{false};

    // Any thread.
    std::atomic<std::uint64_t> clients_{0}, clients_served_{0}, epochs_{0}, dropped_updates_{0},
        stalled_clients_{0}, refused_clients_{0};

    // io thread only. Declared before io_, so that sessions destroyed with it still find them.
    Message page_, hello_, last_health_, last_fits_, summary_;
    std::deque<EpochText> history_;
    std::vector<std::weak_ptr<WsSession>> sessions_;
    EpochText scratch_;
    bool finished_ = false;

    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
    tcp::acceptor acceptor_{io_};
    std::jthread thread_;
};

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

WsSession::~WsSession() {
    if (open_)
        server_.closed();
}

void WsSession::accept(Request request) {
    request_ = std::move(request);
    auto& stream = beast::get_lowest_layer(ws_);
    stream.expires_never(); // the WebSocket's own timeouts take over
    // A small kernel buffer (Linux doubles it): a client that stops reading backs up into its
    // queue, where it is seen and counted, within seconds instead of after megabytes.
    beast::error_code ignored;
    stream.socket().set_option(asio::socket_base::send_buffer_size(kSendBufferBytes), ignored);
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(10);
    // Pings at half the stall time; a client that has not answered by then stopped reading.
    timeouts.idle_timeout = server_.stall_timeout();
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(4096); // nothing is expected from a client
    ws_.async_accept(request_,
                     [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
}

void WsSession::on_accept(beast::error_code ec) {
    if (ec)
        return;
    open_ = true;
    ws_.text(true);
    server_.opened(shared_from_this());
    read_next();
}

void WsSession::read_next() {
    ws_.async_read(incoming_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->on_read(ec);
    });
}

void WsSession::on_read(beast::error_code ec) {
    if (ec) {
        // Closed by the client, by us, or timed out (the client stopped answering pings). A
        // pending write ends with the socket.
        if (ec == beast::error::timeout)
            server_.stalled();
        closing_ = true; // nothing more is queued
        beast::close_socket(beast::get_lowest_layer(ws_));
        return;
    }
    // Read-only: a client that sends anything is closed.
    incoming_.clear();
    if (!closing_)
        server_.refused();
    close(websocket::close_code::policy_error);
    read_next(); // until the close handshake ends it
}

void WsSession::send(const Message& m) {
    if (!open_ || closing_)
        return;
    const std::size_t in_flight = writing_ ? 1 : 0;
    if (queue_.size() - in_flight >= std::max<std::size_t>(1, server_.queue_limit())) {
        queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(in_flight));
        server_.dropped_update();
    }
    queue_.push_back(m);
    if (!writing_)
        write_next();
}

void WsSession::write_next() {
    writing_ = true;
    ws_.async_write(
        asio::buffer(*queue_.front()),
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
}

void WsSession::on_write(beast::error_code ec) {
    writing_ = false;
    queue_.pop_front();
    if (ec)
        return; // the read side ends the session
    if (close_after_write_) {
        do_close(*close_after_write_);
    } else if (!queue_.empty()) {
        write_next();
    } else if (close_when_sent_) {
        close(websocket::close_code::normal);
    }
}

void WsSession::close_when_sent() {
    close_when_sent_ = true;
    if (open_ && !writing_ && queue_.empty())
        close(websocket::close_code::normal);
}

void WsSession::close(websocket::close_code code) {
    if (closing_)
        return;
    closing_ = true;
    if (writing_) {
        queue_.erase(queue_.begin() + 1, queue_.end());
        close_after_write_ = code;
        return;
    }
    queue_.clear();
    do_close(code);
}

void WsSession::do_close(websocket::close_code code) {
    close_after_write_.reset();
    ws_.async_close(code, [self = shared_from_this()](beast::error_code) {});
}

void HttpSession::start() {
    parser_.emplace();
    parser_->header_limit(std::uint32_t{8192});
    parser_->body_limit(std::uint64_t{4096});
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
}

void HttpSession::on_request(beast::error_code ec) {
    if (ec)
        return; // closed, timed out or not HTTP: nothing to answer
    Request request = parser_->release();
    if (websocket::is_upgrade(request) && request.target() == "/ws" && server_.accepting()) {
        stream_.expires_never();
        std::make_shared<WsSession>(stream_.release_socket(), server_)->accept(std::move(request));
        return;
    }
    response_ = server_.answer(request);
    response_.keep_alive(false);
    response_.prepare_payload();
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code, std::size_t) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                      });
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

constexpr std::string_view kWaitingPage =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta http-equiv=\"refresh\" content=\"1\"><title>semg capture</title></head>"
    "<body><p>semg capture: waiting for the device's first frame.</p></body></html>\n";

Server::Server(DashboardSettings settings) : settings_(std::move(settings)) {
    const auto& where = settings_.endpoint;
    const std::string name = fmt::format("--dashboard {}:{}", host_text(where.address), where.port);
    beast::error_code ec;
    const auto address = asio::ip::make_address(where.address, ec);
    if (ec)
        throw DashboardError(name + ": '" + where.address + "' is not a numeric IP address");
    const tcp::endpoint endpoint(address, where.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec)
        acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
        acceptor_.bind(endpoint, ec);
    if (!ec)
        acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw DashboardError(name + ": cannot listen (" + ec.message() + ")");
    port_ = acceptor_.local_endpoint().port();
    accept_next();
    thread_ = std::jthread([this] {
        acquisition::set_current_thread_name("semg-dashboard");
        for (;;) {
            try {
                io_.run();
                return;
            } catch (const std::exception&) {
                // A handler failed (out of memory building a message): that client or update is
                // lost, the server goes on.
            }
        }
    });
}

Server::~Server() {
    io_.stop();
    if (thread_.joinable())
        thread_.join();
}

void Server::accept_next() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
        if (!acceptor_.is_open())
            return;
        if (!ec)
            std::make_shared<HttpSession>(std::move(socket), *this)->start();
        accept_next(); // also after an error (too many open files): keep serving the others
    });
}

void Server::start(const json& header) {
    auto page = std::make_shared<const std::string>(settings_.page ? settings_.page(header)
                                                                   : std::string(kWaitingPage));
    auto hello =
        message({{"type", "hello"},
                 {"protocol", 1},
                 {"columns", {{"epochs", epoch_rows_.columns()}, {"pairs", pair_rows_.columns()}}},
                 {"summary", header}});
    asio::post(io_, [this, page = std::move(page), hello = std::move(hello)] {
        page_ = page;
        hello_ = hello;
        broadcast(hello_);
    });
}

void Server::publish_epoch(std::uint64_t index, std::string_view epoch_rows,
                           std::string_view pair_rows) {
    if (finishing_.load(std::memory_order_relaxed))
        return;
    ring_.push([&](EpochText& slot) {
        slot.index = index;
        slot.epochs.assign(epoch_rows);
        slot.pairs.assign(pair_rows);
    });
    // At most one wake-up on its way: a stalled io thread cannot make the DSP thread queue more.
    if (!wake_pending_.exchange(true))
        asio::post(io_, [this] { drain(); });
}

void Server::drain() {
    wake_pending_.store(false);
    while (ring_.pop([&](const EpochText& e) {
        scratch_.index = e.index;
        scratch_.epochs.assign(e.epochs);
        scratch_.pairs.assign(e.pairs);
    })) {
        if (finished_)
            continue;
        json m{{"type", "epoch"},
               {"seq", scratch_.index},
               {"epochs", json::array()},
               {"pairs", json::array()}};
        epoch_rows_.append(scratch_.epochs, m["epochs"]);
        pair_rows_.append(scratch_.pairs, m["pairs"]);
        ++epochs_;
        broadcast(message(m));
        if (settings_.history_epochs > 0) {
            if (history_.size() == settings_.history_epochs)
                history_.pop_front();
            history_.push_back(scratch_);
        }
    }
}

void Server::publish_health(const CaptureHealth& h) {
    json j{{"type", "health"},
           {"state", h.stopped     ? "stopped"
                     : h.connected ? "receiving"
                                   : "disconnected"},
           {"stream_s", number(h.stream_s)},
           {"rate_hz", number(h.rate_hz)},
           {"frames", h.frames},
           {"lost_samples", h.lost_samples},
           {"gaps", h.gaps},
           {"sync_losses", h.sync_losses},
           {"bad_checksums", h.bad_checksums},
           {"bad_lines", h.bad_lines},
           {"clipped_samples", h.clipped_samples},
           {"overrun_samples", h.overrun_samples},
           {"dsp_lag_ms", number(h.dsp_lag_ms)},
           {"dsp_ring_pct", number(h.dsp_ring_pct)},
           {"recorder_ring_pct", number(h.recorder_ring_pct)},
           {"live_view_dropped_epochs", h.live_dropped},
           {"silent_s", number(h.silent_s)}};
    asio::post(io_, [this, j = std::move(j)]() mutable {
        if (finished_)
            return;
        j["dashboard"] = dashboard_json();
        last_health_ = message(j);
        broadcast(last_health_);
    });
}

void Server::publish_fits(json summary) {
    asio::post(io_, [this, summary = std::move(summary)]() mutable {
        if (finished_)
            return;
        last_fits_ = message({{"type", "fits"}, {"summary", std::move(summary)}});
        broadcast(last_fits_);
    });
}

json Server::dashboard_json() const {
    const auto s = stats();
    return {{"clients", s.clients},
            {"epochs", s.epochs},
            {"dropped_epochs", s.dropped_epochs},
            {"dropped_updates", s.dropped_updates},
            {"stalled_clients", s.stalled_clients}};
}

void Server::finish(const std::optional<json>& summary, const std::string& error,
                    std::chrono::milliseconds linger) {
    if (finishing_.exchange(true))
        return;
    json j{{"type", "summary"}, {"summary", summary ? *summary : json(nullptr)}};
    if (!error.empty())
        j["error"] = error;
    asio::post(io_, [this, m = message(j)] {
        drain(); // the last epochs go before the summary
        finished_ = true;
        beast::error_code ignored;
        acceptor_.close(ignored);
        summary_ = m;
        broadcast(summary_);
        for (const auto& weak : sessions_)
            if (const auto s = weak.lock())
                s->close_when_sent();
    });
    const auto deadline = std::chrono::steady_clock::now() + linger;
    while (clients_.load() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void Server::broadcast(const Message& m) {
    std::erase_if(sessions_, [](const std::weak_ptr<WsSession>& w) { return w.expired(); });
    for (const auto& weak : sessions_)
        if (const auto s = weak.lock())
            s->send(m);
}

void Server::opened(const std::shared_ptr<WsSession>& session) {
    ++clients_;
    ++clients_served_;
    sessions_.push_back(session);
    if (hello_)
        session->send(hello_);
    if (!history_.empty()) {
        // A late client gets the epochs so far in one message.
        json m{{"type", "epoch"},
               {"seq", history_.back().index},
               {"replay", true},
               {"epochs", json::array()},
               {"pairs", json::array()}};
        for (const auto& e : history_) {
            epoch_rows_.append(e.epochs, m["epochs"]);
            pair_rows_.append(e.pairs, m["pairs"]);
        }
        session->send(message(m));
    }
    if (last_health_)
        session->send(last_health_);
    if (last_fits_ && !finished_)
        session->send(last_fits_);
    if (finished_) {
        session->send(summary_);
        session->close_when_sent();
    }
}

Response Server::answer(const Request& request) const {
    Response res;
    res.version(request.version());
    res.set(http::field::server, "semg dashboard");
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (request.method() != http::verb::get) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "GET");
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "The semg dashboard is read-only: GET / for the page, /ws for updates.\n";
    } else if (path == "/" || path == "/index.html") {
        res.result(http::status::ok);
        res.set(http::field::content_type, "text/html; charset=utf-8");
        res.body() = page_ ? *page_ : std::string(kWaitingPage);
    } else {
        res.result(http::status::not_found);
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "Not here: the dashboard is at /.\n";
    }
    return res;
}

DashboardStats Server::stats() const {
    DashboardStats s;
    s.clients = clients_.load();
    s.clients_served = clients_served_.load();
    s.epochs = epochs_.load();
    s.dropped_epochs = ring_.dropped();
    s.dropped_updates = dropped_updates_.load();
    s.stalled_clients = stalled_clients_.load();
    s.refused_clients = refused_clients_.load();
    return s;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Public face
// ---------------------------------------------------------------------------------------------

DashboardEndpoint parse_dashboard_endpoint(const std::string& text) {
    const auto bad = [&](const std::string& why) {
        return std::invalid_argument("--dashboard must be [ADDR:]PORT (" + why + "), got '" + text +
                                     "'");
    };
    DashboardEndpoint e;
    std::string port = text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            throw bad("an IPv6 address in brackets, then :PORT");
        e.address = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else if (const auto colon = text.rfind(':'); colon != std::string::npos) {
        if (text.find(':') != colon)
            throw bad("IPv6 addresses go in brackets: [::1]:8080");
        e.address = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (e.address == "localhost")
        e.address = "127.0.0.1";
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
        throw bad("PORT is a number from 0 to 65535; 0 takes a free one");
    e.port = static_cast<std::uint16_t>(value);
    beast::error_code invalid;
    asio::ip::make_address(e.address, invalid);
    if (invalid)
        throw bad("ADDR is a numeric IP address such as 127.0.0.1 or 0.0.0.0");
    return e;
}

struct DashboardServer::Impl {
    explicit Impl(DashboardSettings settings) : server(std::move(settings)) {}
    Server server;
};

DashboardServer::DashboardServer(DashboardSettings settings)
    : impl_(std::make_unique<Impl>(std::move(settings))) {}
DashboardServer::~DashboardServer() = default;

std::uint16_t DashboardServer::port() const noexcept { return impl_->server.port(); }
std::string DashboardServer::url() const { return impl_->server.url(); }
void DashboardServer::start(const nlohmann::ordered_json& header) { impl_->server.start(header); }
void DashboardServer::publish_epoch(std::uint64_t index, std::string_view epoch_rows,
                                    std::string_view pair_rows) {
    impl_->server.publish_epoch(index, epoch_rows, pair_rows);
}
void DashboardServer::publish_health(const CaptureHealth& health) {
    impl_->server.publish_health(health);
}
void DashboardServer::publish_fits(nlohmann::ordered_json summary) {
    impl_->server.publish_fits(std::move(summary));
}
void DashboardServer::finish(const std::optional<nlohmann::ordered_json>& summary,
                             const std::string& error, std::chrono::milliseconds linger) {
    impl_->server.finish(summary, error, linger);
}
DashboardStats DashboardServer::stats() const { return impl_->server.stats(); }

} // namespace semg::pipeline
