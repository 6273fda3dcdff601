// The session log (pipeline/session_db) and the history built from it (pipeline/history):
// schema migration from version 1, replace-not-duplicate, concurrent writers, files that are not
// a session log, and the MDC decisions against a hand computation on known values.
#include "pipeline/history.hpp"
#include "pipeline/session_db.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

namespace semg::pipeline {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

fs::path fresh_db(const std::string& name) {
    const auto dir = fs::path(SEMG_BINARY_DIR) / "test_session_db" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir / "sessions.sqlite";
}

// A summary.json with one contraction of `hold_s`, one bilateral pair (left, right) with the given
// IMF (Hz) and MDF slope (%/s), and the pair's AI (%).
Json summary_of(double hold_s, double imf_l, double slope_l, double imf_r, double slope_r,
                double ai) {
    const auto channel = [](const std::string& label, double imf, double slope) {
        return Json{
            {"label", label},
            {"epochs", 20},
            {"flagged_epochs", 2},
            {"fit_epochs", 18},
            {"no_fit_reason", nullptr},
            {"mdf",
             {{"initial_hz", imf},
              {"slope_hz_per_s", slope * imf / 100.0},
              {"slope_pct_per_s", slope},
              {"r2", 0.8},
              {"slope_ci95_hz_per_s", {(slope - 0.1) * imf / 100.0, (slope + 0.1) * imf / 100.0}},
              {"slope_ci95_pct_per_s", {slope - 0.1, slope + 0.1}},
              {"n", 18}}}};
    };
    Json con{{"start_s", 5.0},
             {"end_s", 5.0 + hold_s},
             {"kind", "sustained"},
             {"channels", {channel("ES L5 L", imf_l, slope_l), channel("ES L5 R", imf_r, slope_r)}},
             {"pairs",
              {{{"muscle", "erector spinae"},
                {"level", "L5"},
                {"left", "ES L5 L"},
                {"right", "ES L5 R"},
                {"epochs", 20},
                {"amplitude_asymmetry_pct", ai},
                {"amplitude_asymmetry_sd_pct", 2.0},
                {"amplitude_asymmetry_ci95_pct", {ai - 1.0, ai + 1.0}},
                {"amplitude_basis", "rms"},
                {"lr_rms_ratio", (100.0 + ai) / (100.0 - ai)},
                {"mdf_slope_difference_pct_per_s", slope_l - slope_r},
                {"mdf_initial_difference_hz", imf_l - imf_r},
                {"flagged", false}}}}};
    Json quality_channel{{"label", "ES L5 L"},
                         {"verdict", "good"},
                         {"reason", ""},
                         {"epochs", 30},
                         {"flags", {{"flatline", {{"count", 0}, {"share", 0.0}}}}},
                         {"contraction_epochs", 20},
                         {"excluded_epochs", 2}};
    Json j;
    j["input"] = {{"path", "/x.bdf"},
                  {"sha256", "00"},
                  {"sample_rate_hz", 2048.0},
                  {"duration_s", hold_s + 10},
                  {"channels", {"ES L5 L", "ES L5 R"}}};
    j["settings"] = {{"epoch_s", 1.0}};
    j["channels"] = Json::array(
        {Json{
             {"label", "ES L5 L"}, {"side", "left"}, {"muscle", "erector spinae"}, {"level", "L5"}},
         Json{{"label", "ES L5 R"},
              {"side", "right"},
              {"muscle", "erector spinae"},
              {"level", "L5"}}});
    j["contractions"] = Json::array({con});
    j["quality"]["channels"] = Json::array({quality_channel});
    return j;
}

sessions::Session session_of(const std::string& subject, const std::string& label,
                             const std::string& sha) {
    sessions::Session s;
    s.subject = subject;
    s.session = label;
    s.command = "analyze";
    s.input_sha256 = sha;
    s.settings = {{"epoch_s", 1.0}, {"band", "20:450"}};
    return s;
}

std::int64_t count(const sessions::SessionDb& db, const std::string& table) {
    return db.query("SELECT COUNT(*) AS n FROM " + table + ";").at(0)["n"].get<std::int64_t>();
}

TEST(SessionDb, RecordsASessionWithItsFitsPairsAndQuality) {
    sessions::SessionDb db(fresh_db("record"));
    EXPECT_EQ(db.schema_version(), sessions::current_schema_version());
    auto s = session_of("S01", "1", "aa");
    s.note = "left knee taped";
    s.protocol = "sorensen";
    db.record(s, summary_of(60.0, 80.0, -0.5, 78.0, -0.3, 12.0));
    EXPECT_EQ(count(db, "sessions"), 1);
    EXPECT_EQ(count(db, "fits"), 2);
    EXPECT_EQ(count(db, "pairs"), 1);
    EXPECT_EQ(count(db, "channel_quality"), 1);
    const auto row = db.query("SELECT note, protocol, subject FROM sessions;").at(0);
    EXPECT_EQ(row["note"], "left knee taped");
    EXPECT_EQ(row["protocol"], "sorensen");
    const auto fit =
        db.query("SELECT hold_s, imf_hz, mdf_slope_pct_per_s, mdf_slope_ci95_low_pct_per_s, side, "
                 "flagged_share FROM fits ORDER BY rowid;")
            .at(0);
    EXPECT_DOUBLE_EQ(fit["hold_s"].get<double>(), 60.0);
    EXPECT_DOUBLE_EQ(fit["imf_hz"].get<double>(), 80.0);
    EXPECT_DOUBLE_EQ(fit["mdf_slope_pct_per_s"].get<double>(), -0.5);
    EXPECT_DOUBLE_EQ(fit["mdf_slope_ci95_low_pct_per_s"].get<double>(), -0.6);
    EXPECT_EQ(fit["side"], "left");
    EXPECT_DOUBLE_EQ(fit["flagged_share"].get<double>(), 0.1);
    const auto pair = db.query("SELECT ai_mean_pct, ai_ci95_high_pct FROM pairs;").at(0);
    EXPECT_DOUBLE_EQ(pair["ai_mean_pct"].get<double>(), 12.0);
    EXPECT_DOUBLE_EQ(pair["ai_ci95_high_pct"].get<double>(), 13.0);
    EXPECT_EQ(db.integrity_check(), "ok");
    EXPECT_EQ(db.query("PRAGMA journal_mode;").at(0)["journal_mode"], "wal");
}

TEST(SessionDb, TheSameInputSettingsSubjectAndSessionReplaceTheEarlierRecord) {
    sessions::SessionDb db(fresh_db("replace"));
    const auto summary = summary_of(60.0, 80.0, -0.5, 78.0, -0.3, 12.0);
    db.record(session_of("S01", "1", "aa"), summary);
    db.record(session_of("S01", "1", "aa"), summary); // the same again: replaced
    EXPECT_EQ(count(db, "sessions"), 1);
    EXPECT_EQ(count(db, "fits"), 2) << "the replaced session's fits went with it";
    db.record(session_of("S01", "2", "aa"), summary); // another visit
    db.record(session_of("S02", "1", "aa"), summary); // another subject
    db.record(session_of("S01", "1", "bb"), summary); // other bytes
    auto other = session_of("S01", "1", "aa");
    other.settings["epoch_s"] = 0.5; // other settings
    db.record(other, summary);
    EXPECT_EQ(count(db, "sessions"), 5);
    EXPECT_EQ(count(db, "fits"), 10);
}

TEST(SessionDb, AVersion1DatabaseIsMigratedWithItsDataKept) {
    const auto file = fresh_db("migrate");
    {
        // The first schema, as a build of that version made it, with one session in it.
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(file.c_str(), &raw), SQLITE_OK);
        const std::string v1 =
            std::string(sessions::kMigrations.at(0)) +
            "PRAGMA user_version=1;"
            "INSERT INTO sessions (subject, session, logged_at, command, input_sha256, "
            "settings_json) VALUES ('S07', '3', '2026-01-01T00:00:00Z', 'analyze', 'cc', '{}');"
            "INSERT INTO fits (session_id, contraction, channel, imf_hz) VALUES (1, 1, 'a', 71.5);";
        ASSERT_EQ(sqlite3_exec(raw, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
            << sqlite3_errmsg(raw);
        sqlite3_close(raw);
    }
    sessions::SessionDb db(file);
    EXPECT_EQ(db.schema_version(), sessions::current_schema_version());
    ASSERT_EQ(count(db, "sessions"), 1);
    const auto row =
        db.query("SELECT s.subject, s.session, s.note, f.imf_hz FROM sessions s JOIN fits f ON "
                 "f.session_id = s.id;")
            .at(0);
    EXPECT_EQ(row["subject"], "S07");
    EXPECT_EQ(row["session"], "3");
    EXPECT_TRUE(row["note"].is_null()) << "a column the old schema did not have";
    EXPECT_DOUBLE_EQ(row["imf_hz"].get<double>(), 71.5);
    db.record(session_of("S07", "4", "dd"), summary_of(60.0, 80.0, -0.5, 78.0, -0.3, 12.0));
    EXPECT_EQ(count(db, "sessions"), 2);
    EXPECT_EQ(count(db, "channel_quality"), 1);
    EXPECT_EQ(db.integrity_check(), "ok");
}

TEST(SessionDb, ANewerSchemaOrAFileThatIsNotSqliteIsRefusedNamingTheFile) {
    const auto newer = fresh_db("newer");
    {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(newer.c_str(), &raw), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version=99;", nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(raw);
    }
    try {
        sessions::SessionDb db(newer);
        FAIL() << "opened a schema from the future";
    } catch (const sessions::SessionDbError& e) {
        EXPECT_NE(std::string(e.what()).find(newer.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    }
    const auto text = fresh_db("text");
    std::ofstream(text) << "subject,session\nS01,1\n" << std::string(2000, 'x') << '\n';
    try {
        sessions::SessionDb db(text);
        FAIL() << "opened a text file";
    } catch (const sessions::SessionDbError& e) {
        EXPECT_NE(std::string(e.what()).find(text.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("not a database"), std::string::npos) << e.what();
    }
}

// Two writers, each with its own connection as two processes would have, recording at once:
// every session is there and the file is intact (WAL, busy timeout, one transaction each).
TEST(SessionDb, ConcurrentWritersLoseNothing) {
    const auto file = fresh_db("concurrent");
    const auto summary = summary_of(60.0, 80.0, -0.5, 78.0, -0.3, 12.0);
    constexpr int kEach = 40;
    std::vector<std::jthread> writers;
    std::atomic<int> failures{0};
    for (const std::string subject : {"A", "B"})
        writers.emplace_back([&, subject] {
            try {
                for (int i = 0; i < kEach; ++i) {
                    sessions::SessionDb db(file); // opened per session, as each `semg` run does
                    db.record(session_of(subject, std::to_string(i), "aa"), summary);
                }
            } catch (const std::exception& e) {
                ADD_FAILURE() << e.what();
                ++failures;
            }
        });
    writers.clear();
    EXPECT_EQ(failures, 0);
    sessions::SessionDb db(file);
    EXPECT_EQ(count(db, "sessions"), 2 * kEach);
    EXPECT_EQ(count(db, "fits"), 4 * kEach);
    EXPECT_EQ(db.integrity_check(), "ok");
}

TEST(SessionDb, DefaultPathFollowsSemgDbThenXdgDataHomeThenHome) {
    const char* saved_db = std::getenv("SEMG_DB");
    const std::string saved = saved_db ? saved_db : "";
    ::setenv("SEMG_DB", "/tmp/x.sqlite", 1);
    EXPECT_EQ(sessions::default_path(), fs::path("/tmp/x.sqlite"));
    ::unsetenv("SEMG_DB");
    ::setenv("XDG_DATA_HOME", "/data/me", 1);
    EXPECT_EQ(sessions::default_path(), fs::path("/data/me/semg/sessions.sqlite"));
    ::unsetenv("XDG_DATA_HOME");
    ::setenv("HOME", "/home/me", 1);
    EXPECT_EQ(sessions::default_path(), fs::path("/home/me/.local/share/semg/sessions.sqlite"));
    if (saved_db)
        ::setenv("SEMG_DB", saved.c_str(), 1);
}

// Known values per visit: the decisions must be those of MDC95 = 1.96·√2·SD·√(1−ICC) computed
// here by hand with the documented defaults (IMF: SD 7.5 Hz, ICC 0.72; slope: SD 0.25 %/s, ICC
// 0.46) and with the user's (AI: --sd ai=4 --icc ai=0.8).
TEST(History, ChangesAreJudgedAgainstTheMdcComputedByHand) {
    sessions::SessionDb db(fresh_db("history"));
    // visit: IMF L, slope L, IMF R, slope R, AI; visits logged out of order on purpose.
    const std::vector<std::array<double, 5>> visits = {{80.0, -1.20, 78.0, -1.10, 14.0},
                                                       {92.5, -0.60, 79.0, -0.90, 12.0},
                                                       {91.0, -0.50, 66.0, -0.20, 5.0},
                                                       {90.0, -0.40, 67.0, -0.15, 4.0}};
    for (const std::size_t v : {2u, 0u, 3u, 1u}) {
        const auto& x = visits[v];
        db.record(session_of("S01", "v" + std::to_string(v + 1), "sha" + std::to_string(v)),
                  summary_of(100.0 + 20.0 * static_cast<double>(v), x[0], x[1], x[2], x[3], x[4]));
    }
    db.record(session_of("S99", "v1", "zz"),
              summary_of(60.0, 70.0, -0.3, 70.0, -0.3, 0.0)); // another subject
    const auto choices = history::parse_choices({"ai=0.8"}, {"ai=4"});
    const auto h = history::build(db, "S01", choices);
    ASSERT_EQ(h.visits.size(), 4u);
    for (std::size_t v = 0; v < 4; ++v)
        EXPECT_EQ(h.visits[v].session, "v" + std::to_string(v + 1));
    ASSERT_EQ(h.sites.size(), 2u);
    ASSERT_EQ(h.pairs.size(), 1u);

    const double mdc_imf = 1.96 * std::sqrt(2.0) * 7.5 * std::sqrt(1.0 - 0.72);    // 11.00 Hz
    const double mdc_slope = 1.96 * std::sqrt(2.0) * 0.25 * std::sqrt(1.0 - 0.46); // 0.509 %/s
    const double mdc_ai = 1.96 * std::sqrt(2.0) * 4.0 * std::sqrt(1.0 - 0.8);      // 4.96 %
    EXPECT_NEAR(h.reliability.at(history::Measure::Imf).mdc95(), mdc_imf, 1e-12);
    EXPECT_NEAR(h.reliability.at(history::Measure::Slope).mdc95(), mdc_slope, 1e-12);
    EXPECT_NEAR(h.reliability.at(history::Measure::Ai).mdc95(), mdc_ai, 1e-12);
    EXPECT_FALSE(std::isfinite(h.reliability.at(history::Measure::Hold).mdc95()))
        << "two subjects: no pooled SD of the hold time";
    for (std::size_t v = 1; v < 4; ++v) {
        for (std::size_t side = 0; side < 2; ++side) {
            const double imf_change = visits[v][2 * side] - visits[v - 1][2 * side];
            const double slope_change = visits[v][2 * side + 1] - visits[v - 1][2 * side + 1];
            EXPECT_EQ(h.sites[side].imf_hz[v].exceeds_mdc, std::abs(imf_change) > mdc_imf)
                << v << side;
            EXPECT_EQ(h.sites[side].slope_pct_per_s[v].exceeds_mdc,
                      std::abs(slope_change) > mdc_slope)
                << v << side;
            EXPECT_NEAR(h.sites[side].slope_pct_per_s[v].change, slope_change, 1e-12);
        }
        EXPECT_EQ(h.pairs[0].ai_pct[v].exceeds_mdc,
                  std::abs(visits[v][4] - visits[v - 1][4]) > mdc_ai)
            << v;
        EXPECT_FALSE(h.visits[v].hold_s.exceeds_mdc.has_value());
        EXPECT_DOUBLE_EQ(h.visits[v].hold_s.change, 20.0);
    }
    // The values chosen put decisions on both sides (so the test can fail either way).
    EXPECT_EQ(h.sites[0].imf_hz[1].exceeds_mdc, true);           // +12.5 Hz > 11.0
    EXPECT_EQ(h.sites[1].imf_hz[2].exceeds_mdc, true);           // -13 Hz
    EXPECT_EQ(h.sites[0].slope_pct_per_s[1].exceeds_mdc, true);  // +0.60 > 0.509
    EXPECT_EQ(h.sites[0].slope_pct_per_s[2].exceeds_mdc, false); // +0.10
    EXPECT_EQ(h.pairs[0].ai_pct[2].exceeds_mdc, true);           // -7 % > 4.96
    EXPECT_EQ(h.pairs[0].ai_pct[1].exceeds_mdc, false);          // -2 %
    EXPECT_GT(history::trend_per_visit(h.sites[0].slope_pct_per_s), 0.0)
        << "less fatigue visit by visit";
    EXPECT_LT(history::trend_per_visit(h.pairs[0].ai_pct), 0.0) << "toward balance";

    // history.csv: the header, and one row per visit, site and side plus one per pair.
    const std::string csv = history::to_csv(h);
    EXPECT_EQ(csv.substr(0, csv.find('\n')), [] {
        std::string header;
        for (const auto& c : history::kCsvColumns)
            header += (header.empty() ? "" : ",") + c;
        return header;
    }());
    EXPECT_EQ(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')), 1 + 4 * 3);
}

TEST(History, PooledSdNeedsThreeSubjectsAndBadChoicesAreNamed) {
    sessions::SessionDb db(fresh_db("pooled"));
    // Three subjects, one visit each: hold times 60, 90, 120 s -> SD 30 s.
    int i = 0;
    for (const double hold : {60.0, 90.0, 120.0}) {
        const std::string subject = "P" + std::to_string(++i);
        db.record(session_of(subject, "1", subject), summary_of(hold, 80, -0.5, 80, -0.5, 0));
    }
    db.record(session_of("P1", "2", "again"), summary_of(60.0, 80, -0.5, 80, -0.5, 0));
    const auto h = history::build(db, "P1", {});
    EXPECT_NEAR(h.reliability.at(history::Measure::Hold).sd, 30.0, 1e-9);
    EXPECT_NEAR(h.reliability.at(history::Measure::Hold).mdc95(),
                1.96 * std::sqrt(2.0) * 30.0 * std::sqrt(0.05), 1e-9);
    EXPECT_THROW(history::build(db, "nobody", {}), std::invalid_argument);
    EXPECT_THROW(history::parse_choices({"1.2"}, {}), std::invalid_argument);
    EXPECT_THROW(history::parse_choices({"speed=0.5"}, {}), std::invalid_argument);
    EXPECT_THROW(history::parse_choices({}, {"imf=-1"}), std::invalid_argument);
    EXPECT_THROW(history::parse_choices({}, {"imf=abc"}), std::invalid_argument);
    const auto c = history::parse_choices({"0.6", "imf=0.8"}, {"hold=db", "0.3"});
    EXPECT_DOUBLE_EQ(c.icc.at(history::Measure::Slope), 0.6);
    EXPECT_DOUBLE_EQ(c.icc.at(history::Measure::Imf), 0.8);
    EXPECT_FALSE(c.sd.at(history::Measure::Hold).has_value());
    EXPECT_DOUBLE_EQ(*c.sd.at(history::Measure::Slope), 0.3);
}

TEST(History, TaskKeepsTheSessionsOfOneTask) {
    sessions::SessionDb db(fresh_db("task"));
    auto hold = session_of("S05", "1", "h1");
    hold.task = "sorensen";
    auto mvc = session_of("S05", "1", "m1");
    mvc.task = "mvc";
    db.record(hold, summary_of(90.0, 80.0, -0.5, 78.0, -0.3, 12.0));
    db.record(mvc, summary_of(5.0, 95.0, 0.0, 93.0, 0.0, 2.0));
    const auto all = history::build(db, "S05", {});
    ASSERT_EQ(all.visits.size(), 1u) << "one visit: the latest record of session 1";
    EXPECT_EQ(all.visits[0].task, "mvc");
    const auto sorensen = history::build(db, "S05", {}, "sorensen");
    ASSERT_EQ(sorensen.visits.size(), 1u);
    EXPECT_EQ(sorensen.visits[0].task, "sorensen");
    EXPECT_DOUBLE_EQ(sorensen.visits[0].hold_s.value, 90.0);
    EXPECT_THROW(history::build(db, "S05", {}, "walk"), std::invalid_argument);
}

} // namespace
} // namespace semg::pipeline
