// Helpers for the dashboard tests: a WebSocket client (Boost.Beast) that collects every message
// on its own thread, or connects and then never reads (a browser that hangs); a plain HTTP GET;
// and the comparison of the epoch rows a client received with epochs.csv / pairs.csv.
#pragma once

#include "pipeline/results.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace semg::test {

namespace dashboard_net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
} // namespace dashboard_net

class DashboardClient {
public:
    enum class Mode { Reading, Stalled };

    // Connects to 127.0.0.1:port and completes the WebSocket handshake on /ws. Stalled: never
    // reads, with a small receive buffer so that the server's writes back up soon.
    explicit DashboardClient(std::uint16_t port, Mode mode = Mode::Reading) : ws_(io_) {
        using namespace dashboard_net;
        auto& socket = beast::get_lowest_layer(ws_);
        socket.open(tcp::v4());
        if (mode == Mode::Stalled)
            socket.set_option(asio::socket_base::receive_buffer_size(2048));
        socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        ws_.handshake("127.0.0.1:" + std::to_string(port), "/ws");
        if (mode == Mode::Reading) {
            read_next();
            thread_ = std::thread([this] { io_.run(); });
        }
    }
    ~DashboardClient() {
        using namespace dashboard_net;
        asio::post(io_, [this] {
            beast::error_code ignored;
            beast::get_lowest_layer(ws_).close(ignored);
        });
        if (thread_.joinable())
            thread_.join();
        else
            io_.run();
    }
    DashboardClient(const DashboardClient&) = delete;
    DashboardClient& operator=(const DashboardClient&) = delete;

    std::vector<nlohmann::json> messages() {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    // The server ended the connection (after the summary, or for a reason: close_code()).
    bool wait_closed(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] { return closed_; });
    }
    // Waits until `n` messages of `type` arrived.
    bool wait_for(const std::string& type, std::size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] { return count_locked(type) >= n || closed_; }) &&
               count_locked(type) >= n;
    }
    int close_code() {
        std::lock_guard lock(mutex_);
        return close_code_;
    }
    void send_text(std::string text) {
        using namespace dashboard_net;
        auto message = std::make_shared<std::string>(std::move(text));
        asio::post(io_, [this, message] {
            ws_.async_write(asio::buffer(*message), [message](beast::error_code, std::size_t) {});
        });
    }
    void close() {
        using namespace dashboard_net;
        asio::post(io_, [this] {
            ws_.async_close(websocket::close_code::normal, [](beast::error_code) {});
        });
    }

private:
    std::size_t count_locked(const std::string& type) const {
        std::size_t n = 0;
        for (const auto& m : messages_)
            n += m.value("type", "") == type ? 1 : 0;
        return n;
    }
    void read_next() {
        using namespace dashboard_net;
        ws_.async_read(buffer_, [this](beast::error_code ec, std::size_t) {
            std::lock_guard lock(mutex_);
            if (ec) {
                closed_ = true;
                close_code_ = static_cast<int>(ws_.reason().code);
                cv_.notify_all();
                return;
            }
            messages_.push_back(nlohmann::json::parse(beast::buffers_to_string(buffer_.data())));
            buffer_.consume(buffer_.size());
            cv_.notify_all();
            read_next();
        });
    }

    dashboard_net::asio::io_context io_;
    dashboard_net::websocket::stream<dashboard_net::tcp::socket> ws_;
    dashboard_net::beast::flat_buffer buffer_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<nlohmann::json> messages_;
    bool closed_ = false;
    int close_code_ = 0;
};

struct HttpReply {
    int status = 0;
    std::string content_type;
    std::string body;
};

inline HttpReply http_request(std::uint16_t port, const std::string& target,
                              boost::beast::http::verb method = boost::beast::http::verb::get) {
    using namespace dashboard_net;
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    if (method == http::verb::post)
        request.body() = "x=1";
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return {static_cast<int>(response.result_int()),
            std::string(response[http::field::content_type]), response.body()};
}

// Every row of the "epoch" messages' `key` ("epochs" or "pairs"), in order.
inline std::vector<nlohmann::json> received_rows(const std::vector<nlohmann::json>& messages,
                                                 const std::string& key) {
    std::vector<nlohmann::json> rows;
    for (const auto& m : messages)
        if (m.value("type", "") == "epoch")
            for (const auto& r : m[key])
                rows.push_back(r);
    return rows;
}

// The rows equal the CSV file's: the same rows in the same order, text columns equal, numbers
// equal to the double the file's text reads as (NaN as null).
inline void expect_rows_equal_csv(const std::vector<nlohmann::json>& rows,
                                  const std::filesystem::path& csv) {
    std::ifstream in(csv);
    std::string line;
    ASSERT_TRUE(std::getline(in, line)) << csv;
    std::vector<std::string> columns;
    for (std::size_t start = 0; start <= line.size();) {
        const auto comma = std::min(line.find(',', start), line.size());
        columns.push_back(line.substr(start, comma - start));
        start = comma + 1;
    }
    std::size_t n = 0, numbers = 0;
    while (std::getline(in, line)) {
        ASSERT_LT(n, rows.size()) << csv << " has more rows than the client received";
        const auto& row = rows[n];
        std::size_t start = 0;
        for (const auto& column : columns) {
            const auto comma = std::min(line.find(',', start), line.size());
            const std::string text = line.substr(start, comma - start);
            start = comma + 1;
            ASSERT_TRUE(row.contains(column)) << "row " << n << " has no " << column;
            const auto& value = row[column];
            if (pipeline::is_text_column(column)) {
                EXPECT_EQ(value, text) << csv << " row " << n << " " << column;
                continue;
            }
            ++numbers;
            const double expected = std::strtod(text.c_str(), nullptr);
            if (std::isnan(expected))
                EXPECT_TRUE(value.is_null())
                    << csv << " row " << n << " " << column << ": " << value;
            else
                EXPECT_TRUE(value.is_number() && value.get<double>() == expected)
                    << csv << " row " << n << " " << column << ": file " << text << ", client "
                    << value;
        }
        ++n;
    }
    EXPECT_EQ(n, rows.size()) << "the client received more rows than " << csv << " has";
    EXPECT_GT(numbers, 0u);
}

} // namespace semg::test
