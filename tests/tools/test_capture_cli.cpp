// `semg capture` and `semg simulate --serial` as processes over a socat pty pair: online equals
// offline (`semg analyze raw.bdf`), faults counted exactly, Ctrl-C, device loss, bad input, and
// the live dashboard (--dashboard): its updates equal epochs.csv, a stalled client costs no
// sample, address errors come before the capture.
#include "acquisition/edf.hpp"
#include "acquisition/simulator.hpp"
#include "pipeline/dashboard.hpp"
#include "tests/pipeline/test_capture_util.hpp"
#include "tests/pipeline/test_dashboard_util.hpp"
#include "tests/test_util.hpp"
#include "tests/tools/process.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>

using namespace semg;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using test::labels_of;
using test::Process;

fs::path fresh_dir(const std::string& name) {
    return test::fresh_test_dir("test_capture_cli", name);
}

std::vector<std::vector<std::string>> read_csv(const fs::path& path) {
    std::ifstream in(path);
    std::vector<std::vector<std::string>> rows;
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> row;
        std::stringstream ss(line);
        for (std::string cell; std::getline(ss, cell, ',');)
            row.push_back(cell);
        rows.push_back(row);
    }
    return rows;
}

// Same rows; numbers within `rel` relative (absolute for values near 0), text equal.
void expect_same_table(const fs::path& online, const fs::path& offline, double rel) {
    const auto a = read_csv(online), b = read_csv(offline);
    ASSERT_GT(a.size(), 2u) << online;
    ASSERT_EQ(a.size(), b.size()) << "different number of rows: " << online << " vs " << offline;
    ASSERT_EQ(a[0], b[0]) << "different columns";
    std::size_t numbers = 0;
    for (std::size_t r = 1; r < a.size(); ++r) {
        ASSERT_EQ(a[r].size(), b[r].size()) << "row " << r;
        for (std::size_t c = 0; c < a[r].size(); ++c) {
            char* end_a = nullptr;
            char* end_b = nullptr;
            const double x = std::strtod(a[r][c].c_str(), &end_a);
            const double y = std::strtod(b[r][c].c_str(), &end_b);
            if (!a[r][c].empty() && *end_a == '\0' && !b[r][c].empty() && *end_b == '\0') {
                ++numbers;
                if (std::isnan(x) || std::isnan(y)) {
                    EXPECT_TRUE(std::isnan(x) && std::isnan(y)) << a[0][c] << " row " << r;
                    continue;
                }
                EXPECT_LE(std::abs(x - y), rel * std::max({std::abs(x), std::abs(y), 1e-9}))
                    << a[0][c] << " row " << r << ": online " << a[r][c] << ", offline " << b[r][c];
            } else {
                EXPECT_EQ(a[r][c], b[r][c]) << a[0][c] << " row " << r;
            }
        }
    }
    EXPECT_GT(numbers, 100u);
}

nlohmann::json summary_of(const fs::path& dir) { return test::load_json(dir / "summary.json"); }

// Two bilateral pairs at 2048 Hz: a hold of `hold_s` between rests of 1 s.
acquisition::Scenario two_pairs(double hold_s) {
    acquisition::Scenario scenario;
    scenario.sample_rate_hz = 2048.0;
    scenario.pairs = acquisition::default_pairs(2);
    scenario.protocol.rest_before_s = 1.0;
    scenario.protocol.hold_s = hold_s;
    scenario.protocol.rest_after_s = 1.0;
    return scenario;
}

} // namespace

// Must show 2: `semg analyze DIR/raw.bdf` with the same settings reproduces the capture's tables.
// The capture analyses the samples on raw.bdf's BDF grid, so the two see the same numbers.
TEST(CaptureCli, OnlineEqualsOffline) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("online-offline");
    test::SocatPair pair(dir);
    acquisition::Simulator sim(two_pairs(6.0));
    const std::string labels = labels_of(sim);

    const std::string semg = SEMG_EXE;
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "semg",
                     "--duration-s", "8", "--labels", labels, "--out", (dir / "live").string(),
                     "--live", "plain"},
                    dir / "capture.log");
    std::this_thread::sleep_for(200ms);
    acquisition::SerialStreamerConfig dev;
    dev.packets.protocol = acquisition::Protocol::Semg;
    dev.speed = 3.0;
    test::FakeDevice device(sim, pair.device_side(), dev);
    ASSERT_EQ(capture.wait(30s), 0) << capture.output();
    device.stop();
    const std::string log = capture.output();
    EXPECT_NE(log.find("epoch 0 0.00-1.00 s"), std::string::npos) << "no live view: " << log;

    Process analyze({semg, "analyze", (dir / "live" / "raw.bdf").string(), "--out",
                     (dir / "offline").string(), "-q"},
                    dir / "analyze.log");
    ASSERT_EQ(analyze.wait(30s), 0) << analyze.output();
    expect_same_table(dir / "live" / "epochs.csv", dir / "offline" / "epochs.csv", 1e-4);
    expect_same_table(dir / "live" / "pairs.csv", dir / "offline" / "pairs.csv", 1e-4);
    const auto live = summary_of(dir / "live");
    const auto offline = summary_of(dir / "offline");
    EXPECT_EQ(live["epochs"], offline["epochs"]);
    EXPECT_EQ(live["input"]["sha256"], offline["input"]["sha256"])
        << "the summary names the raw file it describes";
    EXPECT_EQ(live["acquisition"]["frames"], 8 * 2048);
    EXPECT_EQ(live["acquisition"]["lost_samples"], 0);
    EXPECT_EQ(live["acquisition"]["stop_reason"], "duration");

    // Its end is analyze's: report.html beside the results, and the same fatigue table (one
    // function prints both; here the capture's, with every channel and pair row).
    EXPECT_TRUE(fs::exists(dir / "live" / "report.html")) << log;
    EXPECT_NE(log.find("report.html in " + (dir / "live").string()), std::string::npos) << log;
    const auto table_at = log.find("contraction 1 of ");
    ASSERT_NE(table_at, std::string::npos) << "no fatigue table: " << log;
    const std::string table = log.substr(table_at);
    EXPECT_NE(table.find("IMF_Hz"), std::string::npos) << table;
    for (const auto& label : live["channels"])
        EXPECT_NE(table.find("\n  " + label["label"].get<std::string>() + " "), std::string::npos)
            << "no row for " << label["label"] << ": " << table;
    EXPECT_NE(table.find("pair (left/right)"), std::string::npos) << table;
}

// Must show 1 through the commands: `semg simulate --serial` with faults; `semg capture` counts
// exactly what the simulator says it broke.
TEST(CaptureCli, SimulateSerialFaultsAreCountedExactly) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("simulate-faults");
    test::SocatPair pair(dir);
    const std::string semg = SEMG_EXE;
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "cyton",
                     "--duration-s", "4", "--out", (dir / "live").string(), "-q"},
                    dir / "capture.log");
    std::this_thread::sleep_for(200ms);
    Process simulate({semg,
                      "simulate",
                      "--serial",
                      pair.device_side(),
                      "--protocol",
                      "cyton",
                      "--rest-s",
                      "1",
                      "--hold-s",
                      "2",
                      "--pairs",
                      "4",
                      "--corrupt-rate",
                      "0.03",
                      "--drop-rate",
                      "0.03",
                      "--fault-seed",
                      "9",
                      "--speed",
                      "4"},
                     dir / "simulate.log");
    ASSERT_EQ(capture.wait(30s), 0) << capture.output();
    ASSERT_EQ(simulate.wait(10s), 0) << simulate.output();
    const std::string sim_log = simulate.output();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        sim_log, m,
        std::regex(
            R"(sent (\d+) frames .* corrupted (\d+), dropped (\d+) packets: (\d+) frames lost in (\d+) runs)")))
        << sim_log;
    EXPECT_EQ(m[1].str(), "1000");
    EXPECT_GT(std::stoi(m[2].str()), 3);
    const auto acq = summary_of(dir / "live")["acquisition"];
    EXPECT_EQ(acq["lost_samples"].get<long>(), std::stol(m[4].str())) << acq.dump(1);
    EXPECT_EQ(acq["gaps"].get<long>(), std::stol(m[5].str())) << acq.dump(1);
    EXPECT_EQ(acq["frames"], 1000);
    // A Cyton's 250 Hz: one warning with the band the analysis runs on.
    const std::string log = capture.output();
    const std::string said = "250 Hz is below 1000 Hz: the analysis runs on 20-112.5 Hz";
    EXPECT_NE(log.find(said), std::string::npos) << log;
    EXPECT_EQ(log.find(said), log.rfind(said)) << "said once: " << log;
}

TEST(CaptureCli, CtrlCClosesEveryFileAtAWholeSecond) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("sigint");
    test::SocatPair pair(dir);
    const std::string semg = SEMG_EXE;
    Process simulate({semg, "simulate", "--serial", pair.device_side(), "--protocol", "ascii",
                      "--fs", "1000", "--hold-s", "60", "--pairs", "2"},
                     dir / "simulate.log");
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "ascii", "--fs",
                     "1000", "--channel-count", "4", "--out", (dir / "live").string(), "--live",
                     "plain"},
                    dir / "capture.log");
    std::this_thread::sleep_for(2500ms);
    capture.signal(SIGINT);
    ASSERT_EQ(capture.wait(10s), 0) << capture.output();
    simulate.signal(SIGTERM);
    EXPECT_EQ(simulate.wait(5s), 0) << simulate.output();
    const auto summary = summary_of(dir / "live");
    EXPECT_EQ(summary["acquisition"]["stop_reason"], "interrupted (SIGINT)");
    const auto frames = summary["acquisition"]["frames"].get<long>();
    EXPECT_EQ(frames % 1000, 0);
    EXPECT_GE(frames, 1000);
    acquisition::SourceInfo info;
    const auto raw = test::read_bdf(dir / "live" / "raw.bdf", &info);
    EXPECT_EQ(static_cast<long>(raw[0].size()), frames);
    // The ASCII header named the channels; the montage was inferred from them.
    EXPECT_EQ(info.channels[0].label, "LT_L1_L");
    EXPECT_TRUE(fs::exists(dir / "live" / "pairs.csv")) << capture.output();
    // Ctrl-C is a clean stop: the page and the table come as after --duration-s.
    EXPECT_TRUE(fs::exists(dir / "live" / "report.html")) << capture.output();
    EXPECT_NE(capture.output().find("contraction 1 of "), std::string::npos) << capture.output();
}

TEST(CaptureCli, DeviceUnpluggedKeepsTheRecordingAndSaysSo) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("unplugged");
    test::SocatPair pair(dir);
    const std::string semg = SEMG_EXE;
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "semg",
                     "--reconnect-s", "0.3", "--out", (dir / "live").string(), "-q"},
                    dir / "capture.log");
    std::this_thread::sleep_for(200ms);
    Process simulate(
        {semg, "simulate", "--serial", pair.device_side(), "--protocol", "semg", "--hold-s", "60"},
        dir / "simulate.log");
    std::this_thread::sleep_for(2000ms);
    pair.stop();
    ASSERT_EQ(capture.wait(10s), 0) << capture.output();
    EXPECT_EQ(simulate.wait(5s), 0)
        << "the simulator should end when its port goes: " << simulate.output();
    const std::string log = capture.output();
    EXPECT_NE(log.find("device gone"), std::string::npos) << log;
    EXPECT_NE(log.find("kept what was received in"), std::string::npos) << log;
    acquisition::SourceInfo info;
    const auto raw = test::read_bdf(dir / "live" / "raw.bdf", &info);
    EXPECT_GT(raw[0].size(), 2048u);
    EXPECT_EQ(summary_of(dir / "live")["acquisition"]["stop_reason"].get<std::string>().rfind(
                  "device gone", 0),
              0u);
}

TEST(CaptureCli, BadInputIsOneClearLineAndNoOutput) {
    const auto dir = fresh_dir("bad-input");
    const std::string semg = SEMG_EXE;
    struct Case {
        std::vector<std::string> args;
        std::string message;
        int exit_code; // tools/exit_codes.hpp: 2 the command line, 3 the device
    };
    for (const Case& k :
         {Case{{"--port", "/dev/no-such-semg-port"}, "cannot open", 3},
          Case{{"--port", "/dev/null", "--protocol", "ascii"}, "needs --fs", 2},
          Case{{"--port", "/dev/null", "--protocol", "morse"}, "--protocol must be", 2},
          Case{{"--port", "/dev/null", "--range-uv", "-1.5:1.5"}, "whole numbers", 2}}) {
        std::vector<std::string> args{semg, "capture", "--out", (dir / "out").string()};
        args.insert(args.end(), k.args.begin(), k.args.end());
        Process p(args, dir / "log");
        EXPECT_EQ(p.wait(10s), k.exit_code) << p.output();
        const std::string out = p.output();
        EXPECT_NE(out.find(k.message), std::string::npos)
            << "missing '" << k.message << "' in: " << out;
        EXPECT_LE(std::count(out.begin(), out.end(), '\n'), 2) << out;
        EXPECT_FALSE(fs::exists(dir / "out")) << out;
    }
}

// Issue 4: the simulator's serial stream, captured on a pty, decodes to the samples that
// `semg simulate` writes to a file for the same seed, to within the quantisation steps on the
// way: the file's BDF step, the serial frame's int24 step and the capture's BDF step (the
// capture records on the device's grid, so the last two are the same size).
TEST(CaptureCli, SimulatedSerialStreamMatchesTheSimulatedFile) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("serial-equals-file");
    const std::string semg = SEMG_EXE;
    const std::vector<std::string> scenario = {"--rest-s", "1", "--hold-s", "2",
                                               "--pairs",  "2", "--seed",   "5"};
    std::vector<std::string> to_file = {semg, "simulate", "-q", (dir / "sim.bdf").string()};
    to_file.insert(to_file.end(), scenario.begin(), scenario.end());
    Process file(to_file, dir / "file.log");
    ASSERT_EQ(file.wait(30s), 0) << file.output();

    test::SocatPair pair(dir);
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "semg",
                     "--duration-s", "4", "--out", (dir / "live").string(), "-q"},
                    dir / "capture.log");
    std::this_thread::sleep_for(200ms);
    std::vector<std::string> to_serial = {semg,         "simulate", "--serial", pair.device_side(),
                                          "--protocol", "semg",     "--speed",  "4"};
    to_serial.insert(to_serial.end(), scenario.begin(), scenario.end());
    Process serial(to_serial, dir / "serial.log");
    ASSERT_EQ(capture.wait(30s), 0) << capture.output();
    ASSERT_EQ(serial.wait(10s), 0) << serial.output();

    acquisition::EdfSource expected(dir / "sim.bdf"), got(dir / "live" / "raw.bdf");
    ASSERT_EQ(got.info().channels.size(), expected.info().channels.size());
    ASSERT_EQ(got.info().sample_rate_hz, expected.info().sample_rate_hz);
    const double tolerance =
        *expected.info().channels[0].resolution_uv + 2.0 * *got.info().channels[0].resolution_uv;
    dsp::Block a(expected.info().channels.size(), 2048), b(got.info().channels.size(), 2048);
    std::size_t compared = 0;
    double worst = 0.0;
    while (true) {
        const std::size_t n = expected.read(a.capacity_ref());
        const std::size_t m = got.read(b.capacity_ref());
        ASSERT_EQ(n, m) << "after " << compared << " frames";
        if (n == 0)
            break;
        for (std::size_t c = 0; c < a.channels(); ++c)
            for (std::size_t i = 0; i < n; ++i)
                worst = std::max(worst,
                                 static_cast<double>(std::abs(a.channel(c)[i] - b.channel(c)[i])));
        compared += n;
    }
    EXPECT_EQ(compared, 4u * 2048u);
    EXPECT_LE(worst, tolerance) << "largest difference " << worst << " uV";
}

// ---- `semg capture --dashboard` ------------------------------------------------------------

namespace {

// The dashboard's port, from the URL `semg capture` prints at its start.
std::uint16_t dashboard_port(const Process& capture) {
    const std::regex url(R"(dashboard \(read-only\): http://127\.0\.0\.1:(\d+)/)");
    for (int i = 0; i < 500; ++i) {
        std::smatch m;
        const std::string log = capture.output();
        if (std::regex_search(log, m, url))
            return static_cast<std::uint16_t>(std::stoi(m[1].str()));
        std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "no dashboard URL in: " << capture.output();
    return 0;
}

} // namespace

// Must show (issue 7): a client of the live dashboard, connected during a simulated capture on a
// pty, receives epoch updates whose values equal the capture's epochs.csv (and pairs.csv), then
// the summary, which is summary.json.
TEST(CaptureCli, DashboardUpdatesEqualTheCapturesEpochsCsv) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("dashboard");
    test::SocatPair pair(dir);
    acquisition::Simulator sim(two_pairs(4.0));
    const std::string labels = labels_of(sim);
    const std::string semg = SEMG_EXE;
    // --ecg highpass: epochs stream from the first second (template subtraction holds back the
    // epochs of its warm-up, up to 15 s without an ECG, longer than this capture).
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "semg",
                     "--duration-s", "6", "--labels", labels, "--out", (dir / "live").string(),
                     "--ecg", "highpass", "--dashboard", "127.0.0.1:0", "-q"},
                    dir / "capture.log");
    const auto port = dashboard_port(capture);
    ASSERT_NE(port, 0);
    test::DashboardClient client(port);
    acquisition::SerialStreamerConfig dev;
    dev.packets.protocol = acquisition::Protocol::Semg;
    dev.speed = 2.0;
    test::FakeDevice device(sim, pair.device_side(), dev);
    ASSERT_EQ(capture.wait(30s), 0) << capture.output();
    device.stop();
    ASSERT_TRUE(client.wait_closed(5s)) << "the dashboard did not close after the summary";

    const auto messages = client.messages();
    ASSERT_GE(messages.size(), 3u);
    EXPECT_EQ(messages.front()["type"], "hello");
    EXPECT_EQ(messages.front()["summary"]["channels"].size(), 4u);
    EXPECT_EQ(messages.front()["summary"]["settings"]["epoch_s"], 1.0);
    test::expect_rows_equal_csv(test::received_rows(messages, "epochs"),
                                dir / "live" / "epochs.csv");
    test::expect_rows_equal_csv(test::received_rows(messages, "pairs"), dir / "live" / "pairs.csv");
    std::uint64_t seq = 0;
    for (const auto& m : messages) {
        if (m["type"] == "epoch") {
            EXPECT_EQ(m["seq"], seq++) << "an update was dropped";
        }
    }
    EXPECT_EQ(messages.back()["type"], "summary");
    EXPECT_EQ(messages.back()["summary"], summary_of(dir / "live"));
    EXPECT_TRUE(std::any_of(messages.begin(), messages.end(),
                            [](const nlohmann::json& m) { return m["type"] == "health"; }));
    // The fits so far, every 10 epochs, in summary.json's form: the charts' regression lines and
    // the tables fill in during the capture.
    const auto fits = std::find_if(messages.begin(), messages.end(),
                                   [](const nlohmann::json& m) { return m["type"] == "fits"; });
    ASSERT_NE(fits, messages.end()) << "no fits during the capture";
    const auto& so_far = (*fits)["summary"];
    EXPECT_EQ(so_far["input"]["channels"], messages.back()["summary"]["input"]["channels"]);
    ASSERT_FALSE(so_far["contractions"].empty());
    EXPECT_TRUE(so_far["contractions"][0]["channels"][0]["mdf"]["initial_hz"].is_number());
    EXPECT_LT(so_far["epochs"].get<int>(), messages.back()["summary"]["epochs"].get<int>());
    const auto acq = summary_of(dir / "live")["acquisition"];
    EXPECT_EQ(acq["dashboard"]["url"], "http://127.0.0.1:" + std::to_string(port) + "/");
    EXPECT_EQ(acq["dashboard"]["clients_served"], 1);
}

// Must show (issue 7): a client that completes the handshake and then never reads, while 32
// channels stream at 4096 Hz, costs no sample: no loss, no ring overrun; the other client still
// gets every update.
TEST(CaptureCli, DashboardWithAStalledClientLosesNoSamples) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("dashboard-stalled");
    test::SocatPair pair(dir);
    const double fs = 4096.0;
    test::VectorSource source(fs,
                              test::emg_like(32, static_cast<std::size_t>(7 * fs), fs, 150.0, 11));
    const std::string semg = SEMG_EXE;
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "semg",
                     "--duration-s", "6", "--out", (dir / "live").string(), "--epoch-s", "0.25",
                     "--dashboard", "127.0.0.1:0", "-q"},
                    dir / "capture.log");
    const auto port = dashboard_port(capture);
    ASSERT_NE(port, 0);
    test::DashboardClient stalled(port, test::DashboardClient::Mode::Stalled);
    test::DashboardClient reader(port);
    acquisition::SerialStreamerConfig dev;
    dev.packets.protocol = acquisition::Protocol::Semg;
    test::FakeDevice device(source, pair.device_side(), dev);
    ASSERT_EQ(capture.wait(60s), 0) << capture.output();
    device.stop();
    const auto acq = summary_of(dir / "live")["acquisition"];
    EXPECT_EQ(acq["frames"], 6 * 4096);
    EXPECT_EQ(acq["lost_samples"], 0) << acq.dump(1);
    EXPECT_EQ(acq["gaps"], 0);
    EXPECT_EQ(acq["dsp_overrun_samples"], 0);
    EXPECT_EQ(acq["recorder_overrun_samples"], 0);
    EXPECT_EQ(acq["dashboard"]["dropped_epochs"], 0);
    ASSERT_TRUE(reader.wait_closed(5s));
    test::expect_rows_equal_csv(test::received_rows(reader.messages(), "epochs"),
                                dir / "live" / "epochs.csv");
}

TEST(CaptureCli, DashboardAddressErrorsAreOneLineBeforeTheCapture) {
    const auto dir = fresh_dir("dashboard-bad");
    const std::string semg = SEMG_EXE;
    pipeline::DashboardSettings any_port;
    any_port.endpoint.port = 0;
    pipeline::DashboardServer busy(any_port);
    const std::string busy_port = std::to_string(busy.port());
    struct Case {
        std::string dashboard, message;
        int exit_code; // 3: the address cannot be used; 2: it is not one
    };
    for (const Case& k :
         {Case{busy_port, "in use", 3}, Case{"127.0.0.1:" + busy_port, "in use", 3},
          Case{"example.org:80", "numeric IP address", 2}, Case{"99999", "0 to 65535", 2}}) {
        Process p({semg, "capture", "--port", "/dev/no-such-semg-port", "--out",
                   (dir / "out").string(), "--dashboard", k.dashboard},
                  dir / "log");
        EXPECT_EQ(p.wait(10s), k.exit_code) << p.output();
        const std::string out = p.output();
        EXPECT_NE(out.find(k.message), std::string::npos)
            << "missing '" << k.message << "' in: " << out;
        EXPECT_EQ(out.find("cannot open"), std::string::npos)
            << "the port was tried first: " << out;
        EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
        EXPECT_FALSE(fs::exists(dir / "out")) << out;
    }
}

// ---- issue 12: no silent wrong answer, no lost session ----------------------------------------

namespace {

// Temporary result files (`.NAME.tmp-PID`) left in `dir`.
std::vector<std::string> temporaries_in(const fs::path& dir) {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().filename().string().find(".tmp-") != std::string::npos)
            found.push_back(e.path().filename().string());
    return found;
}

// Waits until `dir` holds a file whose name contains `part`.
bool wait_for_file(const fs::path& dir, const std::string& part,
                   std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(dir, ec))
            if (e.path().filename().string().find(part) != std::string::npos)
                return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

} // namespace

// Issue 12 (a): with --dashboard, SIGTERM (and Ctrl-C) stop the capture as without it: the
// dashboard's thread was started before the signals were blocked, took the signal and the
// process died (exit by signal, no results, raw.bdf with no record count).
TEST(CaptureCli, SigtermWithADashboardStopsCleanly) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("dashboard-sigterm");
    test::SocatPair pair(dir);
    const std::string semg = SEMG_EXE;
    Process simulate({semg, "simulate", "--serial", pair.device_side(), "--protocol", "ascii",
                      "--fs", "1000", "--hold-s", "60", "--pairs", "2"},
                     dir / "simulate.log");
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "ascii", "--fs",
                     "1000", "--channel-count", "4", "--out", (dir / "live").string(),
                     "--dashboard", "127.0.0.1:0", "--live", "plain"},
                    dir / "capture.log");
    ASSERT_NE(dashboard_port(capture), 0);
    ASSERT_TRUE(wait_for_file(dir / "live", "raw.bdf", 10s)) << capture.output();
    std::this_thread::sleep_for(2500ms);
    capture.signal(SIGTERM);
    ASSERT_EQ(capture.wait(10s), 0) << capture.output();
    simulate.signal(SIGTERM);
    simulate.wait(5s);
    const auto summary = summary_of(dir / "live");
    EXPECT_EQ(summary["acquisition"]["stop_reason"], "terminated (SIGTERM)");
    const auto frames = summary["acquisition"]["frames"].get<long>();
    EXPECT_EQ(frames % 1000, 0);
    EXPECT_GE(frames, 1000);
    const auto raw = test::read_bdf(dir / "live" / "raw.bdf");
    EXPECT_EQ(static_cast<long>(raw[0].size()), frames);
    EXPECT_TRUE(temporaries_in(dir / "live").empty());
}

namespace {

// A 64-channel SEMG device on the device side of a pty pair, written by the test itself so
// that it knows when each frame had left: paced by the sample clock, non-blocking (a killed
// capture must not hang it), logging (host time, frames written so far).
class PacedDevice {
public:
    PacedDevice(const std::string& port, const std::vector<std::uint8_t>& bytes,
                const std::vector<std::pair<std::size_t, std::uint64_t>>& packet_ends, double fs)
        : bytes_(bytes), ends_(packet_ends), fs_(fs) {
        fd_ = ::open(port.c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK);
        if (fd_ < 0)
            throw std::runtime_error("cannot open " + port);
    }
    ~PacedDevice() {
        stop();
        ::close(fd_);
    }
    void start(std::chrono::steady_clock::time_point t0) {
        thread_ = std::jthread([this, t0](std::stop_token stop) { run(t0, stop); });
    }
    void stop() {
        if (thread_.joinable()) {
            thread_.request_stop();
            thread_.join();
        }
    }
    // Frames written (whole packets) by host time `t`.
    std::uint64_t frames_written_by(std::chrono::steady_clock::time_point t) {
        std::lock_guard lock(mutex_);
        std::uint64_t frames = 0;
        for (const auto& [when, n] : log_)
            if (when <= t)
                frames = n;
        return frames;
    }

private:
    void run(std::chrono::steady_clock::time_point t0, std::stop_token stop) {
        std::size_t sent = 0, packet = 0;
        while (!stop.stop_requested() && packet < ends_.size()) {
            const double t_s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const auto due = static_cast<std::uint64_t>(t_s * fs_);
            std::size_t target = sent;
            for (std::size_t p = packet; p < ends_.size() && ends_[p].second <= due + 1; ++p)
                target = ends_[p].first;
            if (target > sent) {
                const ssize_t n = ::write(fd_, bytes_.data() + sent, target - sent);
                if (n > 0)
                    sent += static_cast<std::size_t>(n);
            }
            std::uint64_t frames = 0;
            while (packet < ends_.size() && ends_[packet].first <= sent)
                frames = ends_[packet++].second;
            if (frames > 0) {
                std::lock_guard lock(mutex_);
                log_.emplace_back(std::chrono::steady_clock::now(), frames);
            }
            std::this_thread::sleep_for(2ms);
        }
    }

    const std::vector<std::uint8_t>& bytes_;
    const std::vector<std::pair<std::size_t, std::uint64_t>>& ends_;
    double fs_;
    int fd_ = -1;
    std::mutex mutex_;
    std::vector<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> log_;
    std::jthread thread_;
};

} // namespace

// Must show (issue 12): kill -9 at 0.5 s, 5 s and 30 s into a 64-channel capture. Each raw.bdf
// is read as it stands (no --recover) by `semg analyze` and in-process, and holds every sample
// that had been read 2 s or more before the kill, bit for bit as the device sent it. The three
// captures run at once (one 30 s wait). "Read by then" is bounded by "written to the pty by
// then": the device's log, taken after each write() returned, is a superset of what the capture
// had read, so the check is, if anything, stricter than the requirement.
TEST(CaptureCli, KillNineLeavesARawBdfReadableAsItStands) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("kill-9");
    const double fs = 2048.0;
    const std::size_t channels = 64;
    test::VectorSource source(
        fs, test::emg_like(channels, static_cast<std::size_t>(34 * fs), fs, 150.0, 12));
    acquisition::PacketStreamConfig packets;
    packets.protocol = acquisition::Protocol::Semg;
    std::vector<std::uint8_t> bytes;
    std::vector<std::pair<std::size_t, std::uint64_t>> ends; // (end byte, end frame) per packet
    {
        acquisition::PacketStream stream(source, packets);
        acquisition::PacketStream::Packet p;
        while (stream.next(p)) {
            bytes.insert(bytes.end(), p.bytes.begin(), p.bytes.end());
            ends.emplace_back(bytes.size(), p.end_frame);
        }
    }
    acquisition::ProtocolConfig protocol;
    protocol.name = acquisition::Protocol::Semg;
    const auto range = pipeline::default_range_uv(protocol);
    const auto expected =
        test::expected_recording(bytes, protocol, pipeline::BdfGrid(range.first, range.second));

    const std::string semg = SEMG_EXE;
    const std::vector<double> kill_after_s = {0.5, 5.0, 30.0};
    struct Session {
        std::unique_ptr<test::SocatPair> pair;
        std::unique_ptr<Process> capture;
        std::unique_ptr<PacedDevice> device;
        fs::path out;
    };
    std::vector<Session> sessions(kill_after_s.size());
    for (std::size_t k = 0; k < sessions.size(); ++k) {
        auto& s = sessions[k];
        const auto sub = dir / ("at-" + std::to_string(k));
        fs::create_directories(sub);
        s.pair = std::make_unique<test::SocatPair>(sub);
        s.out = sub / "live";
        s.capture = std::make_unique<Process>(
            std::vector<std::string>{semg, "capture", "--port", s.pair->host_side(), "--protocol",
                                     "semg", "--out", s.out.string(), "--ecg", "off", "-q"},
            sub / "capture.log");
        s.device = std::make_unique<PacedDevice>(s.pair->device_side(), bytes, ends, fs);
    }
    std::this_thread::sleep_for(300ms); // the captures open their ports
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& s : sessions)
        s.device->start(t0);
    std::vector<std::chrono::steady_clock::time_point> killed_at(sessions.size());
    for (std::size_t k = 0; k < sessions.size(); ++k) {
        std::this_thread::sleep_until(t0 + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               std::chrono::duration<double>(kill_after_s[k])));
        sessions[k].capture->signal(SIGKILL);
        killed_at[k] = std::chrono::steady_clock::now();
        EXPECT_EQ(sessions[k].capture->wait(5s), -2) << "the capture had ended by itself";
    }
    for (auto& s : sessions)
        s.device->stop();

    for (std::size_t k = 0; k < sessions.size(); ++k) {
        SCOPED_TRACE("killed at " + std::to_string(kill_after_s[k]) + " s");
        const auto& s = sessions[k];
        const auto raw = s.out / "raw.bdf";
        ASSERT_TRUE(fs::exists(raw)) << s.capture->output();
        const std::uint64_t due =
            s.device->frames_written_by(killed_at[k] - std::chrono::seconds(2));
        Process analyze({semg, "analyze", raw.string(), "--out",
                         (s.out.parent_path() / "offline").string(), "--ecg", "off", "-q"},
                        s.out.parent_path() / "analyze.log");
        const int rc = analyze.wait(60s);
        const std::string said = analyze.output();
        if (kill_after_s[k] < 1.0) {
            // Less than a whole second of samples: the whole header (64 signals and the
            // annotation signal) and no record; before the fix, an empty file. `semg analyze`
            // reads the header and says that there is no record yet (not that the file is
            // truncated or not EDF/BDF); nothing was due.
            EXPECT_EQ(due, 0u);
            EXPECT_EQ(fs::file_size(raw), 256u * (channels + 2)) << "header only";
            EXPECT_EQ(rc, 1) << said;
            EXPECT_NE(said.find("no complete data record"), std::string::npos) << said;
            continue;
        }
        EXPECT_EQ(rc, 0) << said;
        EXPECT_TRUE(fs::exists(s.out.parent_path() / "offline" / "summary.json")) << said;
        const auto got = test::read_bdf(raw);
        ASSERT_EQ(got.size(), channels);
        const std::size_t held = got[0].size();
        EXPECT_GE(held, due) << "raw.bdf lacks samples written to the port 2 s before the kill";
        EXPECT_EQ(held % static_cast<std::size_t>(fs), 0u) << "whole data records";
        // Every sample held is the device's, in order (bit for bit on the BDF grid).
        for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t i = 0; i < held; ++i)
                ASSERT_EQ(got[c][i], expected[c][i]) << "channel " << c << " frame " << i;
        std::cout << "[ kill -9 at " << kill_after_s[k] << " s ] raw.bdf holds " << held
                  << " frames; written to the port 2 s before the kill: " << due << "\n";
    }
}

// Issue 12 (c): random bytes on a port opened as cyton or ascii made a long recording of noise
// and gap fill with exit 0. Now the stream is rejected: exit 1, one message naming the limit, no
// result files (raw.bdf kept: it is what arrived).
TEST(CaptureCli, RandomBytesAreRejectedNotRecorded) {
    SEMG_REQUIRE_SOCAT();
    const std::string semg = SEMG_EXE;
    struct Case {
        std::string protocol, limit;
    };
    for (const Case& k : {Case{"cyton", "--max-fill-pct"}, Case{"ascii", "--max-sync-failures"}}) {
        SCOPED_TRACE(k.protocol);
        const auto dir = fresh_dir("random-" + k.protocol);
        test::SocatPair pair(dir);
        Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", k.protocol,
                         "--fs", "250", "--out", (dir / "live").string(), "--stall-timeout-s", "2",
                         "-q"},
                        dir / "capture.log");
        std::this_thread::sleep_for(300ms);
        const int fd = ::open(pair.device_side().c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK);
        ASSERT_GE(fd, 0);
        std::mt19937_64 rng(12);
        std::vector<std::uint8_t> noise(65536);
        // Up to 10 s of random bytes, as fast as the pty takes them (the issue's case).
        const auto end = std::chrono::steady_clock::now() + 10s;
        int rc = -3;
        while (std::chrono::steady_clock::now() < end) {
            for (auto& b : noise)
                b = static_cast<std::uint8_t>(rng());
            [[maybe_unused]] const auto n = ::write(fd, noise.data(), noise.size());
            if ((rc = capture.try_wait()) != -3)
                break;
            std::this_thread::sleep_for(1ms);
        }
        ::close(fd);
        if (rc == -3)
            rc = capture.wait(10s);
        const std::string out = capture.output();
        EXPECT_EQ(rc, 3) << out; // the device's fault (tools/exit_codes.hpp)
        EXPECT_NE(out.find("stream rejected"), std::string::npos) << out;
        EXPECT_NE(out.find(k.limit), std::string::npos) << out;
        EXPECT_FALSE(fs::exists(dir / "live" / "summary.json")) << out;
        EXPECT_FALSE(fs::exists(dir / "live" / "epochs.csv")) << out;
        if (fs::exists(dir / "live")) {
            EXPECT_TRUE(temporaries_in(dir / "live").empty());
        }
    }
}

// Issue 12 (d): a device that sends frames and then nothing, with its port still open, was
// waited on for ever. Now: said live, then the capture stops at --stall-timeout-s with results
// for what arrived, the stall in summary.json, and exit 1.
TEST(CaptureCli, AStalledDeviceStopsTheCaptureWithAnError) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("stall");
    test::SocatPair pair(dir);
    const double fs = 1000.0;
    test::VectorSource source(fs,
                              test::emg_like(4, static_cast<std::size_t>(2.0 * fs), fs, 150.0, 3));
    const std::string semg = SEMG_EXE;
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "semg", "--out",
                     (dir / "live").string(), "--stall-timeout-s", "2", "--live", "plain"},
                    dir / "capture.log");
    std::this_thread::sleep_for(300ms);
    acquisition::SerialStreamerConfig dev;
    dev.packets.protocol = acquisition::Protocol::Semg;
    // Streams 2 s, then keeps the port open and sends nothing.
    test::FakeDevice device(source, pair.device_side(), dev);
    const int rc = capture.wait(30s);
    const std::string out = capture.output();
    EXPECT_EQ(rc, 3) << out; // a stalled device (tools/exit_codes.hpp)
    EXPECT_NE(out.find("no frame for"), std::string::npos) << "not said live: " << out;
    EXPECT_NE(out.find("stalled: no frame for"), std::string::npos) << out;
    const auto acq = summary_of(dir / "live")["acquisition"];
    EXPECT_EQ(acq["stop_reason"].get<std::string>().rfind("stalled", 0), 0u) << acq.dump(1);
    EXPECT_EQ(acq["stall_timeout_s"], 2.0);
    EXPECT_GE(acq["longest_silence_s"].get<double>(), 2.0);
    EXPECT_EQ(acq["frames"], 2000) << "whole seconds of what arrived";
    const auto raw = test::read_bdf(dir / "live" / "raw.bdf");
    EXPECT_EQ(raw[0].size(), 2000u);
}

// Issue 12 (e): a signal that ends `semg analyze` or `semg capture` leaves no `.NAME.tmp-PID`
// result files. analyze reads a CSV from a FIFO, so it is certainly mid-run when SIGTERM comes;
// capture gets SIGUSR1 (its SIGINT, SIGTERM and SIGHUP are clean stops, tested above).
TEST(CaptureCli, ASignalLeavesNoTemporaryResultFiles) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("signal-temporaries");
    const std::string semg = SEMG_EXE;
    {
        // A recording long enough that the analysis is surely still running when its first
        // temporary result file appears (16 channels, 21 min: about 1.5 s of work, 75 polls).
        const auto input = dir / "long.bdf";
        const auto made = test::run("simulate " + input.string() +
                                    " --pairs 8 --hold-s 150 --contraction-count 8 "
                                    "--fatigue-pct-per-s 0.2 -q");
        ASSERT_EQ(made.exit_code, 0) << made.output;
        Process analyze(
            {semg, "analyze", input.string(), "--out", (dir / "analyze").string(), "-q"},
            dir / "analyze.log");
        ASSERT_TRUE(wait_for_file(dir / "analyze", ".tmp-", 30s)) << analyze.output();
        analyze.signal(SIGTERM);
        EXPECT_EQ(analyze.wait(10s), -2) << analyze.output();
        EXPECT_TRUE(temporaries_in(dir / "analyze").empty())
            << temporaries_in(dir / "analyze").front();
    }
    {
        test::SocatPair pair(dir);
        Process simulate({semg, "simulate", "--serial", pair.device_side(), "--protocol", "ascii",
                          "--fs", "1000", "--hold-s", "60", "--pairs", "2"},
                         dir / "simulate.log");
        Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "ascii", "--fs",
                         "1000", "--out", (dir / "capture").string(), "-q"},
                        dir / "capture.log");
        ASSERT_TRUE(wait_for_file(dir / "capture", ".tmp-", 10s)) << capture.output();
        std::this_thread::sleep_for(1500ms);
        capture.signal(SIGUSR1);
        EXPECT_EQ(capture.wait(10s), -2) << capture.output();
        simulate.signal(SIGTERM);
        simulate.wait(5s);
        EXPECT_TRUE(temporaries_in(dir / "capture").empty());
        EXPECT_GE(test::read_bdf(dir / "capture" / "raw.bdf")[0].size(), 1000u)
            << "raw.bdf readable as it stands";
    }
}
