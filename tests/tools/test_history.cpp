// The session log and `semg history` through the command: four simulated visits of one subject
// analysed into a fresh log, the trend and the MDC decisions against a hand computation from each
// visit's summary.json; a capture and analyses writing the log at once; a capture's clean end; a
// log that cannot be written never costs the results; the default place of the log.
#include "pipeline/results.hpp"
#include "pipeline/session_db.hpp"
#include "tests/pipeline/test_capture_util.hpp"
#include "tests/test_util.hpp"
#include "tests/tools/process.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

using namespace std::chrono_literals;

namespace semg {
namespace {

namespace fs = std::filesystem;
using test::Process;

fs::path fresh_dir(const std::string& name) { return test::fresh_test_dir("test_history", name); }

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// history.csv as rows of column -> cell.
std::vector<std::map<std::string, std::string>> read_csv(const fs::path& file) {
    std::ifstream in(file);
    std::vector<std::map<std::string, std::string>> rows;
    std::vector<std::string> header;
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> cells = pipeline::csv_fields(line);
        if (header.empty()) {
            header = cells;
            continue;
        }
        std::map<std::string, std::string> row;
        for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i)
            row[header[i]] = cells[i];
        rows.push_back(row);
    }
    return rows;
}

std::int64_t sessions_in(const fs::path& db_file, const std::string& where = "1") {
    pipeline::sessions::SessionDb db(db_file);
    return db.query("SELECT COUNT(*) AS n FROM sessions WHERE " + where + ";")
        .at(0)["n"]
        .get<std::int64_t>();
}

// Four visits: the MDF decline eases (1.6, 1.2, 0.8, 0.4 %/s) and the left/right RMS ratio
// moves toward 1 (1.4 ... 1.1); each visit analysed with its own --session into a fresh log.
TEST(HistoryCli, FourVisitsGiveTheTrendAndTheMdcDecisionsOfAHandComputation) {
    const auto dir = fresh_dir("four_visits");
    const fs::path db = dir / "sessions.sqlite";
    const std::vector<std::pair<double, double>> visits = {
        {1.6, 1.4}, {1.2, 1.3}, {0.8, 1.2}, {0.4, 1.1}};
    std::vector<nlohmann::json> summaries;
    for (std::size_t v = 0; v < visits.size(); ++v) {
        const fs::path file = dir / ("visit" + std::to_string(v + 1) + ".bdf");
        const auto sim =
            test::run(fmt::format("simulate -q {} --hold-s 30 --rest-s 3 --pairs 1 --seed {} "
                                  "--fatigue-pct-per-s {} --imbalance {}",
                                  q(file), v + 11, visits[v].first, visits[v].second));
        ASSERT_EQ(sim.exit_code, 0) << sim.output;
        const auto analyze = test::run(
            fmt::format("analyze -q {} --db {} --subject S01 --session {} --note 'visit {}'",
                        q(file), q(db), v + 1, v + 1));
        ASSERT_EQ(analyze.exit_code, 0) << analyze.output;
        summaries.push_back(
            test::load_json(dir / ("visit" + std::to_string(v + 1) + ".semg") / "summary.json"));
    }
    EXPECT_EQ(sessions_in(db, "subject = 'S01'"), 4);
    const auto history = test::run(fmt::format(
        "history S01 --db {} --out {} --icc ai=0.8 --sd ai=3", q(db), q(dir / "history")));
    ASSERT_EQ(history.exit_code, 0) << history.output;
    EXPECT_NE(history.output.find("subject S01: 4 visits"), std::string::npos) << history.output;
    ASSERT_TRUE(fs::exists(dir / "history" / "history.html"));
    const auto rows = read_csv(dir / "history" / "history.csv");
    ASSERT_EQ(rows.size(), 4u * 3u) << "4 visits x (left, right, the pair)";

    // By hand: MDC95 = 1.96 sqrt(2) SD sqrt(1 - ICC) with the documented defaults and the AI's
    // given SD and ICC; changes from each visit's own summary.json (first contraction).
    const double mdc_imf = 1.96 * std::sqrt(2.0) * 7.5 * std::sqrt(1.0 - 0.72);
    const double mdc_slope = 1.96 * std::sqrt(2.0) * 0.25 * std::sqrt(1.0 - 0.46);
    const double mdc_ai = 1.96 * std::sqrt(2.0) * 3.0 * std::sqrt(1.0 - 0.8);
    const auto cell = [](const std::map<std::string, std::string>& r, const std::string& c) {
        return r.at(c);
    };
    const auto decision = [](double change, double mdc) {
        return std::string(std::abs(change) > mdc ? "1" : "0");
    };
    int decided = 0, exceeded = 0;
    for (const auto& r : rows) {
        const std::size_t v = std::stoul(r.at("visit")) - 1;
        const auto& now = summaries[v];
        if (r.at("side") == "left-right") {
            const double ai = now["pairs"][0]["amplitude_asymmetry_pct"].get<double>();
            EXPECT_NEAR(std::stod(cell(r, "ai_pct")), ai, 1e-9 * std::abs(ai));
            EXPECT_NEAR(std::stod(cell(r, "mdc95_ai_pct")), mdc_ai, 1e-9);
            if (v == 0)
                continue;
            const double change =
                ai - summaries[v - 1]["pairs"][0]["amplitude_asymmetry_pct"].get<double>();
            EXPECT_EQ(cell(r, "ai_exceeds_mdc95"), decision(change, mdc_ai))
                << "visit " << v + 1 << " AI " << change;
            exceeded += cell(r, "ai_exceeds_mdc95") == "1";
            ++decided;
            continue;
        }
        EXPECT_NEAR(std::stod(cell(r, "mdc95_imf_hz")), mdc_imf, 1e-9);
        EXPECT_NEAR(std::stod(cell(r, "mdc95_mdf_slope_pct_per_s")), mdc_slope, 1e-12);
        const std::size_t c = r.at("side") == "left" ? 0 : 1;
        ASSERT_EQ(now["channels"][c]["side"], r.at("side"));
        const auto& mdf = now["channels"][c]["mdf"];
        EXPECT_NEAR(std::stod(cell(r, "mdf_slope_pct_per_s")), mdf["slope_pct_per_s"].get<double>(),
                    1e-12);
        if (v == 0)
            continue;
        const auto& before = summaries[v - 1]["channels"][c]["mdf"];
        const double slope_change =
            mdf["slope_pct_per_s"].get<double>() - before["slope_pct_per_s"].get<double>();
        const double imf_change =
            mdf["initial_hz"].get<double>() - before["initial_hz"].get<double>();
        EXPECT_EQ(cell(r, "mdf_slope_exceeds_mdc95"), decision(slope_change, mdc_slope))
            << v << " " << slope_change;
        EXPECT_EQ(cell(r, "imf_exceeds_mdc95"), decision(imf_change, mdc_imf))
            << v << " " << imf_change;
        EXPECT_NEAR(std::stod(cell(r, "mdf_slope_change_pct_per_s")), slope_change, 1e-9);
        exceeded +=
            (cell(r, "mdf_slope_exceeds_mdc95") == "1") + (cell(r, "imf_exceeds_mdc95") == "1");
        decided += 2;
    }
    EXPECT_EQ(decided, 3 * 5);
    EXPECT_GT(exceeded, 0) << "some change is beyond the MDC (AI falls ~3.9 % a visit, MDC 3.7 %)";
    EXPECT_LT(exceeded, decided) << "and some within it (IMF does not move)";

    // The trend: the slope rises toward 0 (less fatigue) and the AI falls toward 0 (balance), on
    // the first-to-last change and the least-squares slope over the visits the page shows.
    const auto page = history.output;
    for (const auto& r : rows) {
        if (r.at("visit") != "4")
            continue;
        const auto first = std::find_if(rows.begin(), rows.end(), [&](const auto& f) {
            return f.at("visit") == "1" && f.at("side") == r.at("side");
        });
        if (r.at("side") == "left-right")
            EXPECT_LT(std::stod(r.at("ai_pct")), std::stod(first->at("ai_pct")) - 5.0);
        else
            EXPECT_GT(std::stod(r.at("mdf_slope_pct_per_s")),
                      std::stod(first->at("mdf_slope_pct_per_s")) + 0.5)
                << r.at("side");
    }
    std::istringstream text(page);
    int slope_trends = 0, ai_trends = 0;
    for (std::string line; std::getline(text, line);) {
        if (line.rfind("trend per visit: IMF", 0) == 0) {
            const double slope = std::stod(line.substr(line.find("slope ") + 6));
            EXPECT_GT(slope, 0.2) << line;
            ++slope_trends;
        } else if (line.rfind("trend per visit: AI", 0) == 0) {
            EXPECT_LT(std::stod(line.substr(line.find("AI ") + 3)), -2.0) << line;
            ++ai_trends;
        }
    }
    EXPECT_EQ(slope_trends, 2);
    EXPECT_EQ(ai_trends, 1);
}

TEST(HistoryCli, AnUnknownSubjectOrAMissingLogIsOneClearLine) {
    const auto dir = fresh_dir("unknown");
    const fs::path file = dir / "v.bdf";
    ASSERT_EQ(test::run("simulate -q " + q(file) + " --hold-s 10 --pairs 1").exit_code, 0);
    ASSERT_EQ(test::run("analyze -q " + q(file) + " --db " + q(dir / "s.sqlite") + " --subject S01")
                  .exit_code,
              0);
    const auto unknown =
        test::run("history S02 --db " + q(dir / "s.sqlite") + " --out " + q(dir / "h"));
    EXPECT_EQ(unknown.exit_code, 1);
    EXPECT_NE(unknown.output.find("subject 'S02' has no session"), std::string::npos)
        << unknown.output;
    EXPECT_NE(unknown.output.find("S01"), std::string::npos)
        << "names the subjects it has: " << unknown.output;
    const auto missing = test::run("history S01 --db " + q(dir / "none.sqlite"));
    EXPECT_EQ(missing.exit_code, 2); // a file named by an option is missing
    EXPECT_NE(missing.output.find("none.sqlite: no such file"), std::string::npos)
        << missing.output;
    EXPECT_FALSE(fs::exists(dir / "none.sqlite")) << "history never creates a log";
    const auto bad_icc = test::run("history S01 --db " + q(dir / "s.sqlite") + " --icc 1.5");
    EXPECT_EQ(bad_icc.exit_code, 2);
    EXPECT_NE(bad_icc.output.find("--icc '1.5'"), std::string::npos) << bad_icc.output;
}

// A log that is not SQLite, or in a folder that cannot be made: the results are written all the
// same, one warning names the log's file, and the exit code is 3 (an output not written).
TEST(HistoryCli, ALogThatCannotBeWrittenNeverCostsTheResults) {
    const auto dir = fresh_dir("bad_db");
    const fs::path file = dir / "v.bdf";
    ASSERT_EQ(test::run("simulate -q " + q(file) + " --hold-s 10 --pairs 1").exit_code, 0);
    const fs::path text = dir / "notes.sqlite";
    std::ofstream(text) << std::string(4096, 'n') << '\n';
    const auto not_sqlite =
        test::run("analyze -q " + q(file) + " --out " + q(dir / "a") + " --db " + q(text));
    EXPECT_EQ(not_sqlite.exit_code, 3) << not_sqlite.output;
    EXPECT_NE(not_sqlite.output.find("session log " + text.string()), std::string::npos)
        << not_sqlite.output;
    EXPECT_NE(not_sqlite.output.find("not a database"), std::string::npos) << not_sqlite.output;
    for (const char* name : {"summary.json", "epochs.csv", "pairs.csv", "report.html"})
        EXPECT_TRUE(fs::exists(dir / "a" / name)) << name;

    // A folder that cannot be written: under a regular file (no one can make a folder there, root
    // included), given through SEMG_DB.
    const fs::path blocked = dir / "plain-file" / "semg" / "sessions.sqlite";
    std::ofstream(dir / "plain-file") << "x";
    const auto unwritable = test::run("analyze -q " + q(file) + " --out " + q(dir / "b"));
    ASSERT_EQ(unwritable.exit_code, 0) << "SEMG_DB of the test environment: " << unwritable.output;
    const std::string cmd = "env SEMG_DB=" + q(blocked) + " " + std::string(SEMG_EXE) +
                            " analyze -q " + q(file) + " --out " + q(dir / "c") + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe))
        out.append(buf, n);
    const int status = ::pclose(pipe);
    EXPECT_EQ(WEXITSTATUS(status), 3) << out;
    EXPECT_NE(out.find("session log " + blocked.string()), std::string::npos) << out;
    EXPECT_TRUE(fs::exists(dir / "c" / "report.html")) << out;
    // --no-db: nothing recorded, nothing said.
    const auto none =
        test::run("analyze -q " + q(file) + " --out " + q(dir / "d") + " --no-db --db " + q(text));
    EXPECT_EQ(none.exit_code, 2) << "--no-db and --db together: " << none.output;
    const auto skipped = test::run("analyze -q " + q(file) + " --out " + q(dir / "e") + " --no-db");
    EXPECT_EQ(skipped.exit_code, 0) << skipped.output;
    EXPECT_EQ(skipped.output, "");
}

// Without --db and SEMG_DB the log is XDG_DATA_HOME/semg/sessions.sqlite (here a test folder:
// the suite never writes to the real ~/.local/share).
TEST(HistoryCli, TheDefaultLogIsUnderXdgDataHome) {
    const auto dir = fresh_dir("xdg");
    const fs::path file = dir / "v.bdf";
    ASSERT_EQ(test::run("simulate -q " + q(file) + " --hold-s 10 --pairs 1").exit_code, 0);
    const std::string cmd = "env -u SEMG_DB XDG_DATA_HOME=" + q(dir / "data") +
                            " HOME=" + q(dir / "home") + " " + std::string(SEMG_EXE) +
                            " analyze -q " + q(file) + " --subject X1 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_EQ(sessions_in(dir / "data" / "semg" / "sessions.sqlite", "subject = 'X1'"), 1);
    EXPECT_FALSE(fs::exists(dir / "home" / ".local"));
}

// A cohort with --jobs 2 and a capture writing the log at once, the capture's session written
// while the cohort's are; then PRAGMA integrity_check and every session. The capture ends
// cleanly (--duration-s) with report.html in its folder and its session in the log.
TEST(HistoryCli, ACaptureAndAnalysesWritingAtOnceLeaveAnIntactLog) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("concurrent");
    const fs::path db = dir / "sessions.sqlite";
    const std::string semg = SEMG_EXE;
    // A cohort of 6 short recordings, subjects C1..C6.
    for (int i = 1; i <= 6; ++i) {
        const fs::path f = dir / "cohort" / ("C" + std::to_string(i)) / "1" / "hold.bdf";
        fs::create_directories(f.parent_path());
        ASSERT_EQ(test::run(fmt::format("simulate -q {} --hold-s 8 --rest-s 2 --pairs 1 --seed {}",
                                        q(f), i))
                      .exit_code,
                  0);
    }
    test::SocatPair pair(dir);
    Process simulate({semg, "simulate", "--serial", pair.device_side(), "--protocol", "ascii",
                      "--fs", "1000", "--hold-s", "60", "--rest-s", "1", "--pairs", "1"},
                     dir / "simulate.log");
    Process capture({semg,
                     "capture",
                     "--port",
                     pair.host_side(),
                     "--protocol",
                     "ascii",
                     "--fs",
                     "1000",
                     "--channel-count",
                     "2",
                     "--duration-s",
                     "4",
                     "--out",
                     (dir / "live").string(),
                     "--live",
                     "none",
                     "--db",
                     db.string(),
                     "--subject",
                     "K1",
                     "--session",
                     "2",
                     "--note",
                     "bench test"},
                    dir / "capture.log");
    // Cohort runs, one after another, until the capture has ended, and one more: the capture's
    // write falls within one of them.
    int runs = 0;
    int capture_exit = -3;
    while (true) {
        Process cohort({semg, "analyze", (dir / "cohort").string(), "--out",
                        (dir / "results").string(), "--pattern", "{subject}/{session}/hold.bdf",
                        "--jobs", "2", "--force", "-q", "--db", db.string()},
                       dir / ("cohort" + std::to_string(runs) + ".log"));
        if (capture_exit == -3)
            capture_exit = capture.try_wait();
        ASSERT_EQ(cohort.wait(60s), 0) << cohort.output();
        ++runs;
        if (capture_exit != -3)
            break;
        if (capture_exit == -3)
            capture_exit = capture.try_wait();
        ASSERT_LT(runs, 200) << capture.output();
    }
    if (capture_exit == -3)
        capture_exit = capture.wait(30s);
    ASSERT_EQ(capture_exit, 0) << capture.output();
    simulate.signal(SIGTERM);
    simulate.wait(5s);
    EXPECT_GE(runs, 2);

    pipeline::sessions::SessionDb log(db);
    EXPECT_EQ(log.integrity_check(), "ok");
    EXPECT_EQ(sessions_in(db, "subject LIKE 'C%' AND command = 'analyze'"), 6)
        << "reruns replace, never duplicate";
    const auto k1 = log.query(
        "SELECT session, note, command, protocol, results_path FROM sessions WHERE subject = 'K1';");
    ASSERT_EQ(k1.size(), 1u);
    EXPECT_EQ(k1[0]["session"], "2");
    EXPECT_EQ(k1[0]["note"], "bench test");
    EXPECT_EQ(k1[0]["command"], "capture");
    EXPECT_EQ(k1[0]["protocol"], "ascii");
    EXPECT_EQ(fs::path(k1[0]["results_path"].get<std::string>()),
              fs::weakly_canonical(dir / "live"));
    EXPECT_TRUE(fs::exists(dir / "live" / "report.html")) << capture.output();
    const auto fits =
        log.query("SELECT COUNT(*) AS n FROM fits f JOIN sessions s ON s.id = f.session_id WHERE "
                  "s.subject = 'K1';");
    EXPECT_GE(fits.at(0)["n"].get<std::int64_t>(), 2) << "the capture's fits are in the log";
}

// Ctrl-C is a clean stop too: report.html in the capture's folder and its session in the log.
TEST(HistoryCli, ACaptureStoppedWithCtrlCIsInTheLog) {
    SEMG_REQUIRE_SOCAT();
    const auto dir = fresh_dir("sigint");
    const fs::path db = dir / "sessions.sqlite";
    test::SocatPair pair(dir);
    const std::string semg = SEMG_EXE;
    Process simulate({semg, "simulate", "--serial", pair.device_side(), "--protocol", "ascii",
                      "--fs", "1000", "--hold-s", "60", "--rest-s", "1", "--pairs", "1"},
                     dir / "simulate.log");
    Process capture({semg, "capture", "--port", pair.host_side(), "--protocol", "ascii", "--fs",
                     "1000", "--channel-count", "2", "--out", (dir / "live").string(), "--live",
                     "none", "--db", db.string(), "--subject", "K2"},
                    dir / "capture.log");
    std::this_thread::sleep_for(2500ms);
    capture.signal(SIGINT);
    ASSERT_EQ(capture.wait(10s), 0) << capture.output();
    simulate.signal(SIGTERM);
    simulate.wait(5s);
    EXPECT_TRUE(fs::exists(dir / "live" / "report.html")) << capture.output();
    EXPECT_EQ(sessions_in(db, "subject = 'K2' AND command = 'capture'"), 1) << capture.output();
}

} // namespace
} // namespace semg
