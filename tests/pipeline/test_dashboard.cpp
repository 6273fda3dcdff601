// The capture dashboard (pipeline/dashboard.*): the server on its own (addresses, the page,
// read-only, rows exactly as the CSV files have them, the replay for a late client, the summary
// and the close), then inside in-process captures over socat ptys: a stalled client loses
// updates and is disconnected, never samples; clients coming and going leave the capture alone.
// The command line (`semg capture --dashboard`) is tested in tests/tools/test_capture_cli.cpp.
#include "pipeline/capture.hpp"
#include "pipeline/dashboard.hpp"
#include "report/report.hpp"
#include "tests/pipeline/test_capture_util.hpp"
#include "tests/pipeline/test_dashboard_util.hpp"
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

using namespace semg;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using test::DashboardClient;

namespace {

fs::path fresh_dir(const std::string& name) { return test::fresh_test_dir("test_dashboard", name); }

// A server on 127.0.0.1 and a free port.
pipeline::DashboardSettings free_port(std::size_t queue_messages = 256,
                                      std::chrono::milliseconds stall_timeout = 10s) {
    pipeline::DashboardSettings s;
    s.endpoint.port = 0;
    s.queue_messages = queue_messages;
    s.stall_timeout = stall_timeout;
    return s;
}

// What a capture tells the dashboard at its first frame (start_summary_json's shape).
nlohmann::ordered_json small_header() {
    return nlohmann::ordered_json::parse(R"({
      "input": {"path": "/tmp/x/raw.bdf", "format": "serial semg", "sample_rate_hz": 2048,
                "channels": ["LT L1 L", "LT L1 R"]},
      "settings": {"epoch_s": 1, "overlap": 0.5, "amplitude_asymmetry": {"flag_threshold_pct": 10}},
      "channels": [{"label": "LT L1 L", "side": "left", "muscle": "longissimus", "level": "L1"},
                   {"label": "LT L1 R", "side": "right", "muscle": "longissimus", "level": "L1"}],
      "pairs": [{"muscle": "longissimus", "level": "L1", "left": "LT L1 L", "right": "LT L1 R"}]})");
}

// Rows in the files' formats, with the awkward values: NaN, exponents, several flags.
const std::string kEpoch0 =
    "0.000000,1.000000,LT L1 L,12.34567,10.1,80.12345,90.5,1234567,51.5,1.234567e-05,ok,left,"
    "longissimus,L1,nan\n"
    "0.000000,1.000000,LT L1 R,0.1234567,0.1,nan,nan,0,0,nan,flatline|gap,right,longissimus,L1,"
    "nan\n";
const std::string kPair0 = "0.000000,1.000000,longissimus,L1,LT L1 L,LT L1 R,12.34567,0.1234567,"
                           "98.01,100.0027\n";
const std::string kEpoch1 =
    "0.500000,1.500000,LT L1 L,13,11,79.5,89.25,2e+06,52,1.2e-05,ok,left,longissimus,L1,nan\n"
    "0.500000,1.500000,LT L1 R,14,12,78.5,88.25,2.5e+06,53,1.3e-05,ok,right,longissimus,L1,nan\n";
const std::string kPair1 =
    "0.500000,1.500000,longissimus,L1,LT L1 L,LT L1 R,13,14,-3.703704,0.9285714\n";

using test::wait_until;

std::uint64_t count_type(const std::vector<nlohmann::json>& messages, const std::string& type) {
    return static_cast<std::uint64_t>(
        std::count_if(messages.begin(), messages.end(),
                      [&](const nlohmann::json& m) { return m["type"] == type; }));
}

} // namespace

TEST(DashboardEndpoint, ParsesAddressAndPortAndDefaultsToLoopback) {
    const auto check = [](const std::string& text, const std::string& address, std::uint16_t port) {
        const auto e = pipeline::parse_dashboard_endpoint(text);
        EXPECT_EQ(e.address, address) << text;
        EXPECT_EQ(e.port, port) << text;
    };
    check("8080", "127.0.0.1", 8080);
    check("0", "127.0.0.1", 0);
    check("0.0.0.0:9000", "0.0.0.0", 9000);
    check("192.168.1.20:80", "192.168.1.20", 80);
    check("[::1]:8081", "::1", 8081);
    check("localhost:8082", "127.0.0.1", 8082);
    for (const std::string bad : {"", "x", "70000", "-1", "80x", "host.example:80", "::1:80",
                                  "[::1]80", "1.2.3.4:", "[::1]:"})
        EXPECT_THROW(pipeline::parse_dashboard_endpoint(bad), std::invalid_argument) << bad;
}

TEST(DashboardServer, TakesAFreePortAndNamesTheAddressWhenItCannotListen) {
    pipeline::DashboardServer first(free_port());
    EXPECT_NE(first.port(), 0);
    EXPECT_EQ(first.url(), "http://127.0.0.1:" + std::to_string(first.port()) + "/");
    try {
        auto settings = free_port();
        settings.endpoint.port = first.port();
        pipeline::DashboardServer second(settings);
        ADD_FAILURE() << "a second server listened on a port in use";
    } catch (const pipeline::DashboardError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("--dashboard 127.0.0.1:" + std::to_string(first.port())),
                  std::string::npos)
            << what;
        EXPECT_NE(what.find("in use"), std::string::npos) << what;
    }
    auto settings = free_port();
    settings.endpoint.address = "not-an-address";
    EXPECT_THROW(pipeline::DashboardServer{settings}, pipeline::DashboardError);
}

TEST(DashboardServer, ServesTheLivePageAtTheRootAndNothingElse) {
    auto settings = free_port();
    settings.page = report::render_live_html;
    pipeline::DashboardServer server(settings);
    auto reply = test::http_request(server.port(), "/");
    EXPECT_EQ(reply.status, 200);
    EXPECT_NE(reply.body.find("waiting for the device"), std::string::npos) << reply.body;

    server.start(small_header());
    ASSERT_TRUE(wait_until(
        [&] {
            return test::http_request(server.port(), "/").body.find("semg-data") !=
                   std::string::npos;
        },
        5s));
    reply = test::http_request(server.port(), "/?from=bookmark");
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(reply.body.find("{{"), std::string::npos) << "a placeholder is left in the page";
    EXPECT_NE(reply.body.find("connect-src 'self'"), std::string::npos)
        << "the page may not open its socket";
    EXPECT_NE(reply.body.find(R"("live":{"socket":"/ws")"), std::string::npos);
    EXPECT_NE(reply.body.find("semg capture (live): raw.bdf"), std::string::npos);
    EXPECT_NE(reply.body.find("uPlot"), std::string::npos);
    EXPECT_NE(reply.body.find("LT L1 L"), std::string::npos);

    EXPECT_EQ(test::http_request(server.port(), "/epochs.csv").status, 404);
    EXPECT_EQ(test::http_request(server.port(), "/ws").status, 404) << "a GET without upgrade";
    EXPECT_EQ(test::http_request(server.port(), "/", boost::beast::http::verb::post).status, 405);
    EXPECT_EQ(test::http_request(server.port(), "/", boost::beast::http::verb::put).status, 405);
}

// The rows a client gets are the CSV text parsed once: the values a reader of epochs.csv and
// pairs.csv gets, NaN as null. A late client gets the epochs so far in one replay; at the end
// every client gets the summary and a normal close.
TEST(DashboardServer, SendsRowsAsTheCsvFilesHaveThemThenTheSummaryAndCloses) {
    const auto dir = fresh_dir("rows");
    std::ofstream(dir / "epochs.csv") << pipeline::epochs_csv_columns << '\n' << kEpoch0 << kEpoch1;
    std::ofstream(dir / "pairs.csv") << pipeline::pairs_csv_columns << '\n' << kPair0 << kPair1;

    pipeline::DashboardServer server(free_port());
    DashboardClient early(server.port());
    server.start(small_header());
    ASSERT_TRUE(early.wait_for("hello", 1, 5s));
    server.publish_epoch(0, kEpoch0, kPair0);
    server.publish_epoch(1, kEpoch1, kPair1);
    ASSERT_TRUE(early.wait_for("epoch", 2, 5s));
    DashboardClient late(server.port());
    ASSERT_TRUE(late.wait_for("epoch", 1, 5s));
    server.finish(nlohmann::ordered_json{{"epochs", 2}}, "");
    server.publish_epoch(2, kEpoch1, kPair1); // after the end: nothing
    ASSERT_TRUE(early.wait_closed(5s));
    ASSERT_TRUE(late.wait_closed(5s));
    EXPECT_EQ(early.close_code(), 1000);

    for (DashboardClient* client : {&early, &late}) {
        const auto messages = client->messages();
        ASSERT_GE(messages.size(), 3u);
        EXPECT_EQ(messages.front()["type"], "hello");
        EXPECT_EQ(messages.front()["summary"]["channels"][1]["label"], "LT L1 R");
        EXPECT_EQ(messages.front()["columns"]["epochs"][2], "channel");
        EXPECT_EQ(messages.back()["type"], "summary");
        EXPECT_EQ(messages.back()["summary"]["epochs"], 2);
        test::expect_rows_equal_csv(test::received_rows(messages, "epochs"), dir / "epochs.csv");
        test::expect_rows_equal_csv(test::received_rows(messages, "pairs"), dir / "pairs.csv");
    }
    const auto early_messages = early.messages();
    EXPECT_EQ(early_messages[1]["seq"], 0);
    EXPECT_EQ(early_messages[2]["seq"], 1);
    const auto late_messages = late.messages();
    ASSERT_EQ(count_type(late_messages, "epoch"), 1u) << "one replay";
    EXPECT_EQ(late_messages[1]["replay"], true);
    EXPECT_EQ(late_messages[1]["seq"], 1);

    const auto stats = server.stats();
    EXPECT_EQ(stats.epochs, 2u);
    EXPECT_EQ(stats.clients, 0u);
    EXPECT_EQ(stats.clients_served, 2u);
    EXPECT_EQ(stats.dropped_updates + stats.dropped_epochs, 0u);
}

TEST(DashboardServer, IsReadOnlyAClientThatSendsIsClosed) {
    pipeline::DashboardServer server(free_port());
    server.start(small_header());
    DashboardClient talker(server.port());
    DashboardClient listener(server.port());
    ASSERT_TRUE(talker.wait_for("hello", 1, 5s));
    talker.send_text(R"({"type":"stop"})");
    ASSERT_TRUE(talker.wait_closed(5s));
    EXPECT_EQ(talker.close_code(), 1008) << "policy violation";
    // The server counts the talker out after its close frame has gone: wait for that.
    for (const auto deadline = std::chrono::steady_clock::now() + 5s;
         server.stats().clients != 1 && std::chrono::steady_clock::now() < deadline;)
        std::this_thread::sleep_for(1ms);
    pipeline::CaptureHealth health;
    health.frames = 4096;
    server.publish_health(health);
    ASSERT_TRUE(listener.wait_for("health", 1, 5s)) << "the other client is still served";
    EXPECT_EQ(listener.messages().back()["frames"], 4096);
    EXPECT_EQ(listener.messages().back()["dashboard"]["clients"], 1);
    EXPECT_EQ(server.stats().refused_clients, 1u);
}

// A client that stops reading: its queue fills, the oldest updates are dropped and counted, it
// is disconnected when it has not answered a ping for stall_timeout; the reading client misses
// nothing, and publish_epoch() never waits.
TEST(DashboardServer, AStalledClientDropsUpdatesAndIsDisconnected) {
    pipeline::DashboardServer server(free_port(16, 1500ms));
    server.start(small_header());
    DashboardClient stalled(server.port(), DashboardClient::Mode::Stalled);
    DashboardClient reader(server.port());
    ASSERT_TRUE(reader.wait_for("hello", 1, 5s));
    // About 24 kB per update: the stalled client's buffers are full after a few.
    std::string rows;
    for (int i = 0; i < 100; ++i)
        rows += kEpoch1;
    const auto start = std::chrono::steady_clock::now();
    std::chrono::nanoseconds slowest{0};
    constexpr int kEpochs = 100;
    for (int e = 0; e < kEpochs; ++e) {
        const auto t0 = std::chrono::steady_clock::now();
        server.publish_epoch(static_cast<std::uint64_t>(e), rows, kPair1);
        slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(wait_until([&] { return server.stats().stalled_clients == 1; },
                           std::chrono::duration_cast<std::chrono::milliseconds>(
                               5s - (std::chrono::steady_clock::now() - start))));
    ASSERT_TRUE(reader.wait_for("epoch", kEpochs, 10s));
    const auto stats = server.stats();
    EXPECT_GT(stats.dropped_updates, 0u);
    EXPECT_EQ(stats.stalled_clients, 1u);
    EXPECT_EQ(stats.clients, 1u);
    EXPECT_EQ(stats.dropped_epochs, 0u);
    EXPECT_LT(slowest, 100ms) << "publish_epoch waited";
    std::uint64_t seq = 0;
    for (const auto& m : reader.messages()) {
        if (m["type"] == "epoch") {
            EXPECT_EQ(m["seq"], seq++);
        }
    }
}

// ---- inside a capture ------------------------------------------------------------------------

namespace {

struct DashboardCapture {
    fs::path dir;
    test::SocatPair pair;
    test::Messages messages;
    pipeline::CaptureSettings settings;

    DashboardCapture(const std::string& name, pipeline::DashboardServer& server)
        : dir(fresh_dir(name)), pair(dir),
          settings(test::session_settings(pair.host_side(), dir, "semg", messages)) {
        settings.dashboard = &server;
    }
    // Streams `channels` × `fs_hz` for `seconds` in real time while `during` runs.
    pipeline::CaptureReport run(std::size_t channels, double fs_hz, double seconds,
                                const std::function<void()>& during) {
        settings.duration_s = seconds;
        test::VectorSource source(
            fs_hz, test::emg_like(channels, static_cast<std::size_t>((seconds + 1) * fs_hz), fs_hz,
                                  150.0, 7));
        pipeline::Capture capture(settings);
        pipeline::CaptureReport report;
        std::thread host([&] { report = capture.run(); });
        std::this_thread::sleep_for(100ms);
        test::FakeDevice device(source, pair.device_side(), test::device_config("semg", 1.0));
        during();
        host.join();
        device.stop();
        return report;
    }
};

void expect_lossless(const pipeline::CaptureReport& r, std::uint64_t frames,
                     test::Messages& messages) {
    EXPECT_EQ(r.frames, frames);
    EXPECT_EQ(r.counters.lost_samples, 0u);
    EXPECT_EQ(r.counters.gaps, 0u);
    EXPECT_EQ(r.dsp_overrun_samples, 0u);
    EXPECT_EQ(r.recorder_overrun_samples, 0u);
    EXPECT_TRUE(r.results_written) << r.results_error << "\n" << messages.all();
}

} // namespace

TEST(CaptureDashboard, AStalledClientLosesUpdatesNotSamples) {
    SEMG_REQUIRE_SOCAT();
    pipeline::DashboardServer server(free_port(8, 4000ms));
    DashboardCapture capture("stalled", server);
    capture.settings.analysis.epoch_s = 0.25; // eight updates a second
    DashboardClient stalled(server.port(), DashboardClient::Mode::Stalled);
    DashboardClient reader(server.port());
    const auto report = capture.run(32, 4096.0, 5.0, [] {});
    expect_lossless(report, 5 * 4096, capture.messages);
    ASSERT_TRUE(reader.wait_closed(5s));
    const auto messages = reader.messages();
    test::expect_rows_equal_csv(test::received_rows(messages, "epochs"),
                                capture.settings.out_dir / "epochs.csv");
    ASSERT_TRUE(report.dashboard);
    EXPECT_GT(report.dashboard->dropped_updates, 0u) << "the stalled client's queue never filled";
    EXPECT_EQ(report.dashboard->stalled_clients, 1u);
    EXPECT_EQ(report.dashboard->dropped_epochs, 0u);
    EXPECT_GE(count_type(messages, "health"), 3u);
    const auto acquisition =
        test::load_json(capture.settings.out_dir / "summary.json")["acquisition"];
    EXPECT_EQ(acquisition["dashboard"]["stalled_clients"], 1) << acquisition.dump(1);
    EXPECT_EQ(acquisition["dashboard"]["url"], server.url());
}

TEST(CaptureDashboard, ClientsComingAndGoingLeaveTheCaptureAlone) {
    SEMG_REQUIRE_SOCAT();
    pipeline::DashboardServer server(free_port());
    DashboardCapture capture("churn", server);
    std::optional<DashboardClient> late;
    std::size_t visits = 0;
    const auto report = capture.run(16, 2048.0, 4.0, [&] {
        namespace net = test::dashboard_net;
        const auto until = std::chrono::steady_clock::now() + 3s;
        while (std::chrono::steady_clock::now() < until) {
            switch (visits++ % 5) {
            case 0: { // connects and goes without a word
                net::asio::io_context io;
                net::tcp::socket s(io);
                s.connect({net::asio::ip::make_address("127.0.0.1"), server.port()});
                break;
            }
            case 1: // a WebSocket that vanishes (tab closed)
                DashboardClient(server.port(), DashboardClient::Mode::Stalled);
                break;
            case 2: { // a WebSocket that says goodbye
                DashboardClient c(server.port());
                c.close();
                c.wait_closed(1s);
                break;
            }
            case 3: // a reload of the page
                EXPECT_EQ(test::http_request(server.port(), "/").status, 200);
                break;
            default: { // not HTTP at all
                net::asio::io_context io;
                net::tcp::socket s(io);
                s.connect({net::asio::ip::make_address("127.0.0.1"), server.port()});
                net::asio::write(s, net::asio::buffer(std::string("HELLO?\r\n\r\n")));
                break;
            }
            }
            if (visits == 20)
                late.emplace(server.port()); // joins mid-capture: replay, then live
            std::this_thread::sleep_for(30ms);
        }
    });
    expect_lossless(report, 4 * 2048, capture.messages);
    ASSERT_TRUE(late);
    ASSERT_TRUE(late->wait_closed(5s));
    test::expect_rows_equal_csv(test::received_rows(late->messages(), "epochs"),
                                capture.settings.out_dir / "epochs.csv");
    EXPECT_TRUE(wait_until([&] { return server.stats().clients == 0; }, 5s));
    EXPECT_GE(server.stats().clients_served, visits / 5 * 2);
}
