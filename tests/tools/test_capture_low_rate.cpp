// Issue 17: slow boards end to end. `semg simulate --serial` speaks the Cyton (250 Hz, 8
// channels) and Cyton-Daisy (125 Hz, 16 channels) protocols over a socat pty pair; `semg capture`
// records and analyses them with the labels the simulator prints (--print-labels). Checked: exit
// 0, one low-rate warning at the start, low_rate once in summary.json with the band the analysis
// ran on, no epoch flagged low_rate, and the same flagged epochs in the live view (plain), in
// epochs.csv (what report.html counts) and in summary.json's fits; then `semg analyze raw.bdf`
// at the same rate says and finds the same.
#include "tests/pipeline/test_capture_util.hpp"
#include "tests/test_util.hpp"
#include "tests/tools/process.hpp"

#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using Child = semg::test::Process;

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, sep);)
        out.push_back(item);
    return out;
}

// (epoch start in ms, channel) -> quality, from epochs.csv.
std::map<std::pair<long, std::string>, std::string> epoch_quality(const fs::path& csv) {
    std::ifstream in(csv);
    std::string line;
    std::getline(in, line);
    const auto header = split(line, ',');
    const auto col = [&](const std::string& name) {
        return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) -
                                        header.begin());
    };
    const std::size_t t = col("t_start_s"), ch = col("channel"), q = col("quality");
    std::map<std::pair<long, std::string>, std::string> out;
    while (std::getline(in, line)) {
        const auto cells = split(line, ',');
        if (cells.size() <= std::max({t, ch, q}))
            continue;
        out[{std::lround(std::stod(cells[t]) * 1000.0), cells[ch]}] = cells[q];
    }
    return out;
}

struct Board {
    std::string protocol;
    double fs_hz;
    std::size_t pairs; // the board's channels / 2
};

void capture_end_to_end(const Board& b) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = semg::test::fresh_test_dir("test_capture_low_rate", b.protocol);
    const std::string semg = SEMG_EXE;
    const std::string pairs = std::to_string(b.pairs);
    // The labels before anything streams: what a README reader types first.
    const auto labels_run =
        semg::test::run("simulate --print-labels --protocol " + b.protocol + " --pairs " + pairs);
    ASSERT_EQ(labels_run.exit_code, 0) << labels_run.output;
    const std::string labels = labels_run.output.substr(0, labels_run.output.find('\n'));
    ASSERT_EQ(split(labels, ',').size(), 2 * b.pairs) << labels;

    semg::test::SocatPair pty(dir);
    // --contractions whole: every epoch is in the fit, so the fit's flagged count is the count
    // of flagged epochs that report.html shows for the channel.
    Child capture({semg, "capture", "--port", pty.host_side(), "--protocol", b.protocol, "--labels",
                   labels, "--duration-s", "16", "--contractions", "whole", "--live", "plain",
                   "--out", (dir / "live").string()},
                  dir / "capture.log");
    std::this_thread::sleep_for(300ms);
    Child simulate({semg, "simulate", "--serial", pty.device_side(), "--protocol", b.protocol,
                    "--pairs", pairs, "--rest-s", "2", "--hold-s", "14", "--speed", "4", "--seed",
                    "5", "--flatline", "ES L4 R:8"}, // an electrode off at 8 s: flagged epochs
                   dir / "simulate.log");
    ASSERT_EQ(capture.wait(60s), 0) << capture.output();
    simulate.wait(10s);
    const std::string log = capture.output();

    // One warning at the start, with the band the analysis runs on; no error.
    char band[32];
    std::snprintf(band, sizeof band, "20-%g Hz", 0.45 * b.fs_hz);
    char said[160];
    std::snprintf(said, sizeof said, "%g Hz is below 1000 Hz: the analysis runs on %s", b.fs_hz,
                  band);
    EXPECT_EQ(count_of(log, said), 1u) << log;
    EXPECT_EQ(count_of(log, "semg: warning:"), 1u) << "only the low-rate warning: " << log;
    // At the end the fatigue table (the same as `semg analyze` prints) names the electrode that
    // came off among its channel verdicts (which are table lines, not log warnings).
    EXPECT_NE(log.find("  warning: channel 'ES L4 R' quality poor: flatline"), std::string::npos)
        << log;
    EXPECT_EQ(count_of(log, "error"), 0u) << log;
    EXPECT_EQ(count_of(log, "(low_rate") + count_of(log, "|low_rate"), 0u)
        << "no epoch shown flagged low_rate: " << log;

    const auto summary = semg::test::load_json(dir / "live" / "summary.json");
    ASSERT_TRUE(summary["low_rate"].is_object()) << summary.dump(1);
    EXPECT_EQ(summary["low_rate"]["sample_rate_hz"], b.fs_hz);
    EXPECT_EQ(summary["low_rate"]["band_hz"][0], 20.0);
    EXPECT_DOUBLE_EQ(summary["low_rate"]["band_hz"][1].get<double>(), 0.45 * b.fs_hz);
    EXPECT_EQ(summary["settings"]["band_hz"], summary["low_rate"]["band_hz"]);
    EXPECT_EQ(summary["acquisition"]["frames"], 16 * static_cast<int>(b.fs_hz));
    ASSERT_EQ(summary["channels"].size(), 2 * b.pairs);
    EXPECT_EQ(summary["pairs"].size(), b.pairs) << "labels give left/right pairs";

    const auto quality = epoch_quality(dir / "live" / "epochs.csv");
    ASSERT_FALSE(quality.empty());
    std::map<std::string, std::size_t> flagged_csv; // per channel: epochs not "ok"
    for (const auto& [key, q] : quality) {
        EXPECT_EQ(q.find("low_rate"), std::string::npos) << key.second << " at " << key.first;
        if (q != "ok")
            ++flagged_csv[key.second];
    }
    for (const auto& ch : summary["channels"]) {
        const std::string label = ch["label"];
        // The fits' flagged count, the report's per-card count (epochs.csv) and the quality
        // section's low_rate count agree.
        EXPECT_EQ(ch["flagged_epochs"].get<std::size_t>(), flagged_csv[label]) << label;
        EXPECT_EQ(ch["flag_counts"]["low_rate"], 0) << label;
    }
    for (const auto& q : summary["quality"]["channels"])
        EXPECT_EQ(q["flags"]["low_rate"]["count"], 0) << q["label"];
    // The electrode off from 8 s of 16: about half its epochs flagged, so the counts compared
    // above are not all zero.
    EXPECT_GT(flagged_csv["ES L4 R"], 8u);
    EXPECT_LT(flagged_csv["ES L4 R"], 24u);
    std::size_t flagged_in_view = 0;

    // The live view (plain): every epoch it showed carries the flags epochs.csv has.
    // Epoch k of the view is the k-th start time of epochs.csv (at 125 Hz a 0.5 s hop is 62
    // or 63 samples, so the view's two decimals do not name the start exactly).
    std::vector<long> starts_ms;
    for (const auto& [key, q] : quality)
        if (starts_ms.empty() || starts_ms.back() != key.first)
            starts_ms.push_back(key.first);
    const std::regex epoch_line(R"(^epoch (\d+) [\d.]+-[\d.]+ s  MDF_Hz/RMS_uV(.*)$)");
    std::size_t shown = 0;
    for (const auto& line : split(log, '\n')) {
        std::smatch m;
        if (!std::regex_match(line, m, epoch_line))
            continue;
        ++shown;
        const auto index = std::stoul(m[1].str());
        ASSERT_LT(index, starts_ms.size()) << line;
        const long t_ms = starts_ms[index];
        const std::string cells = m[2].str();
        for (const auto& label : split(labels, ',')) {
            const auto at = cells.find("  " + label + " ");
            ASSERT_NE(at, std::string::npos) << label << " in " << line;
            const auto end = cells.find("  ", at + 2 + label.size());
            const std::string cell = cells.substr(at + 2, end - at - 2);
            const auto it = quality.find({t_ms, label});
            ASSERT_NE(it, quality.end()) << line;
            const bool view_flagged = cell.find('(') != std::string::npos;
            EXPECT_EQ(view_flagged, it->second != "ok") << cell << " vs " << it->second;
            flagged_in_view += view_flagged ? 1 : 0;
        }
    }
    EXPECT_GT(shown, 5u) << log;
    EXPECT_GT(flagged_in_view, 0u) << log;

    // `semg analyze raw.bdf` at the board's rate: the same one warning, low_rate and flags.
    const auto offline =
        semg::test::run("analyze " + (dir / "live" / "raw.bdf").string() +
                        " --contractions whole -q --out " + (dir / "offline").string());
    ASSERT_EQ(offline.exit_code, 0) << offline.output;
    EXPECT_EQ(count_of(offline.output, said), 1u) << offline.output;
    const auto again = semg::test::load_json(dir / "offline" / "summary.json");
    EXPECT_EQ(again["low_rate"], summary["low_rate"]);
    for (std::size_t c = 0; c < again["channels"].size(); ++c)
        EXPECT_EQ(again["channels"][c]["flagged_epochs"], summary["channels"][c]["flagged_epochs"])
            << again["channels"][c]["label"];
}

} // namespace

TEST(CaptureLowRate, CytonDaisyAt125HzEndToEnd) { capture_end_to_end({"cyton-daisy", 125.0, 8}); }

TEST(CaptureLowRate, CytonAt250HzEndToEnd) { capture_end_to_end({"cyton", 250.0, 4}); }
