// report.html from a result folder: the embedded data (columns by name, rounding, NaN), a page
// that cannot be broken out of by a label, and `semg report DIR` end to end: clear errors and a
// non-zero exit for missing or malformed files, atomic writes that leave an old report intact.
// The page in a browser: tests/tools/test_report_browser.js.
#include "report/report.hpp"

#include "tests/test_util.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

using semg::test::Run;
using semg::test::run;

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The JSON inside <script id="semg-data" type="application/json">.
json embedded_data(const std::string& html) {
    const std::string open = "<script id=\"semg-data\" type=\"application/json\">";
    const auto begin = html.find(open);
    if (begin == std::string::npos)
        throw std::runtime_error("no data script in the page");
    const auto end = html.find("</script>", begin);
    return json::parse(html.substr(begin + open.size(), end - begin - open.size()));
}

json summary(const std::string& left = "ES L", const std::string& right = "ES R") {
    return {
        {"input",
         {{"path", "/data/rec.bdf"}, {"sha256", std::string(64, 'a')}, {"sample_rate_hz", 2048.0}}},
        {"settings",
         {{"epoch_s", 1.0},
          {"overlap", 0.5},
          {"amplitude_asymmetry", {{"flag_threshold_pct", 10.0}}}}},
        {"software", {{"name", "semg"}, {"version", "0.1.0"}}},
        {"channels",
         {{{"label", left}, {"side", "left"}, {"mdf", {{"initial_hz", 79.7790043181324}}}},
          {{"label", right}, {"side", "right"}}}},
        {"pairs",
         {{{"left", left}, {"right", right}, {"muscle", "erector_spinae"}, {"level", "L3"}}}},
        {"contractions", {{{"start_s", 0.0}, {"end_s", 2.0}}}}};
}

class Report : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::path(SEMG_BINARY_DIR) / "test_report" /
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(dir_ / name, std::ios::binary) << text;
    }
    // A small valid result folder; columns in the order semg writes them plus an extra one.
    void write_result(const std::string& left = "ES L", const std::string& right = "ES R") const {
        write("summary.json", summary(left, right).dump(2));
        write(
            "epochs.csv",
            "t_start_s,t_end_s,channel,rms_uv,arv_uv,mdf_hz,mnf_hz,total_power_uv2,zcr_hz,fi_nsm5,quality,"
            "side,muscle,level,rms_pct_mvc,future_column\n"
            "0.000000,1.000000," +
                left +
                ",70.81275,1,79.7790043,96.736,1,1,1e-13,ok,left,erector_spinae,L3,nan,x\n"
                "0.000000,1.000000," +
                right +
                ",63.26,1,78.26,95.45,1,1,1e-13,ok,right,erector_spinae,L3,nan,x\n"
                "0.500000,1.500000," +
                left +
                ",0.001234567,1,nan,nan,0,0,nan,empty_spectrum,left,erector_spinae,L3,nan,y\n"
                "0.500000,1.500000," +
                right +
                ",1234567.8,1,77.5,94.1,1,1,1e-13,clipping|mains,right,erector_spinae,L3,nan,y\n");
        write("pairs.csv",
              "t_start_s,t_end_s,muscle,level,left,right,rms_left_uv,rms_right_uv,ai_pct,lr_ratio\n"
              "0.000000,1.000000,erector_spinae,L3," +
                  left + "," + right +
                  ",70.8,63.3,5.6136,1.1186\n"
                  "0.500000,1.500000,erector_spinae,L3," +
                  left + "," + right + ",0.0012,1234567.8,nan,nan\n");
    }
    void expect_failure(const std::string& message) const {
        const auto r = run("report " + dir_.string());
        EXPECT_NE(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find(message), std::string::npos)
            << "missing '" << message << "' in: " << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
        for (const auto& entry : fs::directory_iterator(dir_))
            EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos)
                << entry.path();
    }
    fs::path dir_;
};

} // namespace

TEST_F(Report, EmbedsTheDataRoundedAndByColumnName) {
    write_result();
    const auto data = semg::report::load_report_data(dir_);
    EXPECT_EQ(data["format"], 1);
    EXPECT_EQ(data["summary"]["channels"][0]["mdf"]["initial_hz"], 79.779); // 6 significant digits
    const auto& epochs = data["epochs"];
    EXPECT_EQ(epochs["rows"], 4);
    EXPECT_EQ(epochs["quality_names"], json({"ok", "empty_spectrum", "clipping|mains"}));
    ASSERT_EQ(epochs["channels"].size(), 2u);
    const auto& left = epochs["channels"][0];
    EXPECT_EQ(left["label"], "ES L");
    EXPECT_EQ(left["t"], json({0.5, 1.0}));          // epoch centres
    EXPECT_EQ(left["mdf"], json({79.78, nullptr}));  // 0.01 Hz; NaN -> null
    EXPECT_EQ(left["rms"], json({70.81, 0.001235})); // 4 significant digits
    EXPECT_EQ(left["q"], json({0, 1}));
    EXPECT_FALSE(left.contains("rms_pct_mvc")); // all NaN: left out
    EXPECT_EQ(epochs["channels"][1]["rms"][1], 1235000.0);
    EXPECT_EQ(epochs["channels"][1]["q"], json({0, 2}));
    ASSERT_EQ(data["pairs"].size(), 1u);
    EXPECT_EQ(data["pairs"][0]["ai"], json({5.61, nullptr}));
    EXPECT_EQ(data["pairs"][0]["muscle"], "erector_spinae");
}

TEST_F(Report, ColumnsInAnyOrder) {
    write("summary.json", json{{"channels", {{{"label", "A"}}}}}.dump());
    write("epochs.csv",
          "quality,channel,mnf_hz,mdf_hz,rms_uv,t_end_s,t_start_s\nok,A,90,80,10,2,1\n");
    const auto data = semg::report::load_report_data(dir_);
    EXPECT_EQ(data["epochs"]["channels"][0]["mdf"], json({80.0}));
    EXPECT_EQ(data["epochs"]["channels"][0]["t"], json({1.5}));
    EXPECT_EQ(data["pairs"], json::array()); // no pairs listed, no pairs.csv: fine
}

TEST_F(Report, PageIsSelfContainedAndComplete) {
    write_result();
    const auto html = semg::report::render_report(dir_);
    EXPECT_EQ(html.find("{{"), std::string::npos) << "a template placeholder was left";
    EXPECT_NE(html.find("<title>semg report: rec.bdf</title>"), std::string::npos);
    EXPECT_NE(html.find("var uPlot="), std::string::npos) << "uPlot is not embedded";
    EXPECT_NE(html.find(".uplot"), std::string::npos) << "uPlot's style is not embedded";
    EXPECT_NE(html.find("SemgReport"), std::string::npos) << "report.js is not embedded";
    EXPECT_NE(html.find("The MIT License"), std::string::npos) << "uPlot's licence is missing";
    EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
    for (const char* external : {"<script src", "<link", "@import", "src=\"http", "href=\"http"})
        EXPECT_EQ(html.find(external), std::string::npos) << external;
    EXPECT_EQ(embedded_data(html), semg::report::load_report_data(dir_));
}

TEST_F(Report, LabelsCannotCloseTheScriptOrTheTitle) {
    const std::string evil = "L</script><script>alert(1)</script>";
    write_result(evil, "R&<b>");
    write("summary.json", [&] {
        auto s = summary(evil, "R&<b>");
        s["input"]["path"] = "/data/a<b>&c.bdf";
        return s.dump();
    }());
    const auto html = semg::report::render_report(dir_);
    EXPECT_EQ(html.find("<script>alert(1)"), std::string::npos);
    EXPECT_EQ(html.find("a<b>&c"), std::string::npos);
    EXPECT_NE(html.find("<title>semg report: a&lt;b&gt;&amp;c.bdf</title>"), std::string::npos);
    const auto data = embedded_data(html); // parses: the JSON was not cut short
    EXPECT_EQ(data["epochs"]["channels"][0]["label"], evil);
    EXPECT_EQ(data["pairs"][0]["right"], "R&<b>");
}

TEST_F(Report, CommandWritesReportAtomically) {
    write_result();
    const auto r = run("report " + dir_.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("report.html"), std::string::npos);
    const auto html = read(dir_ / "report.html");
    EXPECT_EQ(embedded_data(html), semg::report::load_report_data(dir_));
    EXPECT_TRUE(html.ends_with("</html>\n")) << "report.html is cut short";
    for (const auto& entry : fs::directory_iterator(dir_))
        EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST_F(Report, FailureLeavesTheOldReport) {
    write_result();
    write("report.html", "old report");
    write(
        "epochs.csv",
        "t_start_s,t_end_s,channel,mdf_hz,mnf_hz,rms_uv,quality\n0,1,ES L,80,90,10,ok\n0,1,ES R\n");
    expect_failure("epochs.csv:3: 3 fields, the header has 7");
    EXPECT_EQ(read(dir_ / "report.html"), "old report");
}

TEST_F(Report, NoSuchFolder) {
    const auto r = run("report " + (dir_ / "nope").string());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("nope: no such folder"), std::string::npos) << r.output;
}

TEST_F(Report, MissingSummary) {
    write_result();
    fs::remove(dir_ / "summary.json");
    expect_failure("summary.json: missing");
}

TEST_F(Report, MalformedSummary) {
    write_result();
    write("summary.json", "{\"channels\": [");
    expect_failure("summary.json: not valid JSON");
}

TEST_F(Report, SummaryWithoutChannels) {
    write_result();
    write("summary.json", "{\"settings\": {}}");
    expect_failure("summary.json: not a semg summary (no \"channels\" list)");
}

TEST_F(Report, MissingEpochs) {
    write_result();
    fs::remove(dir_ / "epochs.csv");
    expect_failure("epochs.csv: missing");
}

TEST_F(Report, EpochsWithoutAColumnNamesIt) {
    write_result();
    write("epochs.csv", "t_start_s,t_end_s,channel,rms_uv,mnf_hz,quality\n0,1,ES L,10,90,ok\n");
    expect_failure("epochs.csv: no column 'mdf_hz'");
}

TEST_F(Report, EpochsWithTextInANumberNamesLineAndColumn) {
    write_result();
    write(
        "epochs.csv",
        "t_start_s,t_end_s,channel,mdf_hz,mnf_hz,rms_uv,quality\n0,1,ES L,80,90,10,ok\n0.5,1.5,ES L,eighty,90,10,ok\n");
    expect_failure("epochs.csv:3: column 'mdf_hz': 'eighty' is not a number");
}

TEST_F(Report, EpochsWithOnlyAHeader) {
    write_result();
    write("epochs.csv", "t_start_s,t_end_s,channel,mdf_hz,mnf_hz,rms_uv,quality\n");
    expect_failure("epochs.csv: no epochs");
}

TEST_F(Report, PairsListedButNoPairsFile) {
    write_result();
    fs::remove(dir_ / "pairs.csv");
    expect_failure("pairs.csv: missing (summary.json lists 1 bilateral pairs)");
}

namespace {

// `semg ARGS` with the environment changed first (sh syntax: NAME=value ...).
Run run_with_env(const std::string& env, const std::string& args) {
    const std::string cmd = env + " " + std::string(SEMG_EXE) + " " + args + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe))
        out.append(buf.data(), n);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool have_chromium() {
    return std::system("command -v chromium >/dev/null 2>&1 || command -v chromium-browser "
                       ">/dev/null 2>&1 || "
                       "command -v google-chrome >/dev/null 2>&1") == 0;
}

std::string first_bytes(const fs::path& path, std::size_t n) {
    std::ifstream in(path, std::ios::binary);
    std::string s(n, '\0');
    in.read(s.data(), static_cast<std::streamsize>(n));
    s.resize(static_cast<std::size_t>(in.gcount()));
    return s;
}

} // namespace

// --pdf without Chromium: one line saying what is missing and how to get it, exit 1; the page
// itself is written, no PDF and no temporary file are left.
TEST_F(Report, PdfWithoutChromiumIsOneClearError) {
    write_result();
    const auto r = run_with_env("CHROMIUM=/nonexistent/chromium PATH=/nonexistent",
                                "report " + dir_.string() + " --pdf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("--pdf needs Chromium"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("apt-get install chromium"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 2)
        << "report.html's path, then the error: " << r.output;
    EXPECT_TRUE(fs::exists(dir_ / "report.html"));
    EXPECT_FALSE(fs::exists(dir_ / "report.pdf"));
    for (const auto& entry : fs::directory_iterator(dir_))
        EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

// `semg analyze --pdf` without Chromium stops before reading anything: a usage error (exit 2),
// not a failure after minutes of analysis, and no result folder.
TEST_F(Report, AnalyzePdfWithoutChromiumStopsBeforeTheAnalysis) {
    const fs::path dataset = fs::path(SEMG_SOURCE_DIR) / "datasets" / "sorensen-sim.bdf";
    const fs::path out = dir_ / "analyzed";
    const auto r =
        run_with_env("CHROMIUM=/nonexistent/chromium PATH=/nonexistent",
                     "analyze " + dataset.string() + " --out " + out.string() + " --pdf");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("--pdf needs Chromium"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(fs::exists(out));
}

// `semg report --pdf` and `semg analyze --pdf` print the page through headless Chromium.
TEST_F(Report, PdfIsPrintedThroughHeadlessChromium) {
    if (!have_chromium())
        GTEST_SKIP() << "no Chromium on PATH (Debian: apt-get install chromium)";
    write_result();
    const auto r = run("report " + dir_.string() + " --pdf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("report.pdf"), std::string::npos) << r.output;
    EXPECT_EQ(first_bytes(dir_ / "report.pdf", 5), "%PDF-");
    EXPECT_GT(fs::file_size(dir_ / "report.pdf"), 10000u) << "a page with tables and charts";
    // The page rebuilt without --pdf: the old PDF no longer shows it, and is removed, with a
    // notice.
    const auto rebuilt = run("report " + dir_.string());
    ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.output;
    EXPECT_FALSE(fs::exists(dir_ / "report.pdf"));
    EXPECT_NE(rebuilt.output.find("showed the previous report"), std::string::npos)
        << rebuilt.output;

    const fs::path dataset = fs::path(SEMG_SOURCE_DIR) / "datasets" / "sorensen-sim.bdf";
    const fs::path out = dir_ / "analyzed";
    const auto a = run("analyze " + dataset.string() + " --out " + out.string() + " --pdf -q");
    ASSERT_EQ(a.exit_code, 0) << a.output;
    EXPECT_EQ(first_bytes(out / "report.pdf", 5), "%PDF-");
    // A second run into the same folder replaces it: report.pdf is one of analyze's own files.
    const auto again = run("analyze " + dataset.string() + " --out " + out.string() + " -q");
    EXPECT_EQ(again.exit_code, 0) << again.output;
}
