// Issue 17: the mistakes people make on the command line, one table row each: the command line,
// the exit code (tools/exit_codes.hpp: 0 ok, 1 input, 2 usage, 3 device/IO) and text the output
// must (and must not) contain: suggestions for near misses, deprecated spellings that still work
// with one warning, bad values, missing files, -q, --version, numbers as people write them.
//
// Each row runs `semg` in its own empty folder holding rec.csv (3 s of two channels at 1 kHz),
// so relative names work and nothing leaks between rows.
#include "tests/test_util.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;

struct Row {
    std::string name;
    std::string args; // shell words after `semg`
    int exit_code;
    std::vector<std::string> present; // each must be in stdout + stderr
    std::vector<std::string> absent = {};
};

void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

fs::path fresh_dir(const std::string& name) {
    const auto dir = fs::path(SEMG_BINARY_DIR) / "test_cli_mistakes" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

constexpr int kOk = 0, kInput = 1, kUsage = 2, kDevice = 3;

std::string csv_recording() {
    std::ostringstream out;
    out << "time_s,left_uV,right_uV\n";
    const auto a = semg::test::white_noise(3000, 50.0, 1),
               b = semg::test::white_noise(3000, 40.0, 2);
    for (std::size_t i = 0; i < a.size(); ++i)
        out << static_cast<double>(i) / 1000.0 << ',' << a[i] << ',' << b[i] << '\n';
    return out.str();
}

semg::test::Run run_in(const fs::path& dir, const std::string& args) {
    const std::string cmd = "cd '" + dir.string() + "' && " + SEMG_EXE + " " + args + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe))
        out.append(buf.data(), n);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

const std::string q = " -q --contractions whole --out out"; // a quick analysis that succeeds

std::vector<Row> rows() {
    return {
        // Commands.
        {"analyse_is_analyze", "analyse rec.csv" + q, kOk, {}, {"error"}},
        {"command_misspelt",
         "analzye rec.csv",
         kUsage,
         {"unknown command 'analzye' (did you mean 'analyze'?)"}},
        {"command_unknown",
         "fit rec.csv",
         kUsage,
         {"unknown command 'fit': the commands are analyze, simulate"}},
        {"no_command",
         "",
         kUsage,
         {"a command is required: analyze, simulate, capture, mark, report, info, merge"}},
        // Options: near misses get a suggestion, CLI11's 109/106/104 become 2.
        {"output_for_out",
         "analyze rec.csv --output res",
         kUsage,
         {"unknown option --output for `semg analyze` (did you mean --out?)"}},
        {"epoch_for_epoch_s", "analyze rec.csv --epoch 2", kUsage, {"(did you mean --epoch-s?)"}},
        {"transposed_letters",
         "analyze rec.csv --ovrelap 0.5",
         kUsage,
         {"(did you mean --overlap?)"}},
        {"misspelt_deprecated_name_suggests_the_new_one",
         "capture --port /dev/null --chanels 4",
         kUsage,
         {"unknown option --chanels for `semg capture` (did you mean --channel-count?)"}},
        {"option_of_another_command",
         "simulate x.bdf --select a",
         kUsage,
         {"unknown option --select for `semg simulate`"}},
        {"nothing_close",
         "analyze rec.csv --zzzzzz",
         kUsage,
         {"unknown option --zzzzzz for `semg analyze` (semg analyze --help lists them)"}},
        {"option_without_value",
         "analyze rec.csv --epoch-s",
         kUsage,
         {"--epoch-s"},
         {"106", "109", "114"}},
        {"value_of_the_wrong_type", "analyze rec.csv --order 2.5", kUsage, {"--order"}, {"104"}},
        {"missing_required_input", "analyze --out res", kUsage, {"inputs is required"}},
        // Bad values: the message lists what is allowed.
        {"mains_lists_auto",
         "analyze rec.csv --mains 55",
         kUsage,
         {"--mains must be auto, 50, 60 or off, got '55'"}},
        {"epoch_out_of_range",
         "analyze rec.csv --epoch-s 0",
         kUsage,
         {"--epoch-s must be within 0.1 to 10 s, got 0"}},
        {"capture_protocol_unknown",
         "capture --port /dev/null --protocol morse",
         kUsage,
         {"--protocol must be cyton"}},
        {"capture_protocol_misspelt",
         "capture --port /dev/null --protocol cyten",
         kUsage,
         {"--protocol must be cyton, cyton-daisy, ascii, openeeg or semg, got 'cyten' (did you mean cyton?)"}},
        {"simulate_protocol_unknown",
         "simulate --serial /dev/null --protocol morse",
         kUsage,
         {"--protocol must be cyton, cyton-daisy, ascii, openeeg or semg, got 'morse'"},
         {"did you mean"}},
        {"dashboard_address", "capture --port /dev/null --dashboard 99999", kUsage, {"0 to 65535"}},
        {"simulate_rate_not_whole",
         "simulate x.bdf --fs 2048.5",
         kUsage,
         {"whole-number sample rate, not 2048.5 Hz"},
         {"2048.500000"}},
        // Missing files: an input is an input failure, a file named by an option is usage.
        {"input_missing", "analyze missing.csv --out res", kInput, {"missing.csv: no such file"}},
        {"montage_missing",
         "analyze rec.csv --montage nope.toml",
         kUsage,
         {"--montage nope.toml: no such file"}},
        {"report_folder_missing", "report nope", kInput, {"nope: no such folder"}},
        // Devices.
        {"port_missing",
         "capture --port /dev/no-such-semg-port --out cap",
         kDevice,
         {"no-such-semg-port: cannot open"}},
        {"port_not_given", "capture --out cap", kUsage, {"--port is required"}},
        // Deprecated spellings: still work, one warning naming the new one.
        {"analyze_channels_is_select",
         "analyze rec.csv --channels left_uV" + q,
         kOk,
         {"warning: `semg analyze --channels` is deprecated: use --select"}},
        {"old_and_new_spelling_together",
         "analyze rec.csv --channels left_uV --select right_uV",
         kUsage,
         {"--channels is the old spelling of --select: give one of them"}},
        {"simulate_duration_is_hold",
         "simulate s.bdf --duration-s 4 --rest-s 1 --pairs 1 -q",
         kOk,
         {"warning: `semg simulate --duration-s` is deprecated: use --hold-s"}},
        {"simulate_contractions_is_a_count",
         "simulate s.bdf --contractions 2 --hold-s 3 --rest-s 1 --pairs 1 -q",
         kOk,
         {"use --contraction-count"}},
        {"simulate_ecg_is_a_ratio",
         "simulate s.bdf --ecg 0.5 --hold-s 3 --rest-s 1 --pairs 1 -q",
         kOk,
         {"use --ecg-ratio"}},
        {"capture_channels_is_a_count",
         "capture --port /dev/null --channels 4",
         kUsage,
         {"use --channel-count", "--channel-count applies to --protocol ascii"}},
        // -q: warnings and errors only; numbers as people write them.
        {"quiet_silences_notices",
         "analyze rec.csv --band 20:480 --fs 1000" + q,
         kOk,
         {"warning: rec.csv: band-pass upper edge 480 Hz clamped to 450 Hz"},
         {"info:", "480.000000"}},
        {"notices_without_quiet",
         "analyze rec.csv --contractions whole --out out",
         kOk,
         {"info: rec.csv: ECG"}},
        // --help and --version.
        {"help_lists_exit_codes",
         "capture --help",
         kOk,
         {"Exit codes:", "2  usage", "3  device or I/O"}},
        {"version",
         "--version",
         kOk,
         {"semg ", "(git ", "FFTW 3", "Eigen 3", "Boost 1", "EDFlib ", "spdlog "}},
    };
}

class CliMistakes : public ::testing::TestWithParam<Row> {};

TEST_P(CliMistakes, ExitCodeAndMessage) {
    const Row& r = GetParam();
    const fs::path dir = fresh_dir(r.name);
    std::ofstream(dir / "rec.csv") << csv_recording();
    const auto o = run_in(dir, r.args);
    const std::string context = "semg " + r.args + "\n" + o.output;
    EXPECT_EQ(o.exit_code, r.exit_code) << context;
    for (const auto& part : r.present)
        EXPECT_NE(o.output.find(part), std::string::npos)
            << "missing '" << part << "' in: " << context;
    for (const auto& part : r.absent)
        EXPECT_EQ(o.output.find(part), std::string::npos)
            << "unexpected '" << part << "' in: " << context;
    if (r.exit_code != kOk) {
        EXPECT_EQ(count_of(o.output, "semg: error:"), 1u) << "one error line: " << context;
    }
    EXPECT_LE(count_of(o.output, "is deprecated"), 1u) << "one warning: " << context;
}

INSTANTIATE_TEST_SUITE_P(Table, CliMistakes, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row>& row) { return row.param.name; });

// The deprecated spelling does what the new one does: the same channel analysed.
TEST(CliMistakes, DeprecatedSelectionSelects) {
    const fs::path dir = fresh_dir("deprecated-selects");
    std::ofstream(dir / "rec.csv") << csv_recording();
    for (const std::string option : {"--channels", "--select"}) {
        const auto o = run_in(dir, "analyze rec.csv " + option + " right_uV" + q + option);
        ASSERT_EQ(o.exit_code, 0) << o.output;
        const auto summary = semg::test::load_json(dir / ("out" + option) / "summary.json");
        ASSERT_EQ(summary["channels"].size(), 1u) << option;
        EXPECT_EQ(summary["channels"][0]["label"], "right_uV") << option;
    }
}

} // namespace
