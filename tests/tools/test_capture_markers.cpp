// Markers during `semg capture`, as a lab engineer makes them: the terminal view driven in a real
// pseudo-terminal (tmux, its own server socket, 80x24 and 200x50) against a simulated board on a
// socat pty pair: space at 5 s and 35 s of stream time, `m` with a typed note. Checked: the
// annotations in raw.bdf at the right sample, the final fits over exactly the marked segment,
// the screen never wider than the terminal, the note on screen, the terminal restored. Then
// `semg mark` from another process, and a second user who cannot get in.
#include "acquisition/edf.hpp"
#include "acquisition/simulator.hpp"
#include "tests/pipeline/test_capture_util.hpp"
#include "tests/test_util.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

using namespace semg;
using test::labels_of;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

// Runs a command (no shell), returns its exit code and output (stdout and stderr). The output
// goes through a file, not a pipe: a daemon it starts (the tmux server) keeps its descriptors.
std::pair<int, std::string> run(const std::vector<std::string>& args) {
    char name[] = "/tmp/semg-markers-run-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0)
        throw std::runtime_error("mkstemp");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fd, 1);
    posix_spawn_file_actions_adddup2(&actions, fd, 2);
    posix_spawn_file_actions_addclose(&actions, fd);
    std::vector<std::string> a = args;
    std::vector<char*> argv;
    for (auto& s : a)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fd);
    int status = 0;
    if (rc == 0)
        ::waitpid(pid, &status, 0);
    std::ifstream in(name);
    std::stringstream ss;
    ss << in.rdbuf();
    ::unlink(name);
    if (rc != 0)
        return {127, "cannot start " + args[0]};
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

bool have(const std::string& tool) { return run({"sh", "-c", "command -v " + tool}).first == 0; }

// Columns of a UTF-8 line (the view's block characters are one column each).
std::size_t columns_of(const std::string& s) {
    std::size_t n = 0;
    for (const unsigned char ch : s)
        n += (ch & 0xC0) != 0x80;
    return n;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A tmux server of our own (-L), killed at the end whatever happens.
class Tmux {
public:
    Tmux(std::string socket, int columns, int rows, const std::string& command)
        : socket_(std::move(socket)) {
        const auto [rc, out] =
            run({"tmux", "-L", socket_, "-f", "/dev/null", "new-session", "-d", "-s", "cap", "-x",
                 std::to_string(columns), "-y", std::to_string(rows), command});
        if (rc != 0)
            throw std::runtime_error("tmux new-session failed: " + out);
    }
    ~Tmux() { run({"tmux", "-L", socket_, "kill-server"}); }
    void keys(const std::vector<std::string>& keys, bool literal = false) const {
        std::vector<std::string> a = {"tmux", "-L", socket_, "send-keys", "-t", "cap"};
        if (literal)
            a.push_back("-l");
        a.insert(a.end(), keys.begin(), keys.end());
        run(a);
    }
    // The screen as text; -J joins wrapped lines, so a line wider than the pane shows as such.
    std::string screen() const {
        return run({"tmux", "-L", socket_, "capture-pane", "-p", "-J", "-t", "cap"}).second;
    }

private:
    std::string socket_;
};

struct TerminalRun {
    int columns = 0, rows = 0;
    fs::path out;
    std::size_t screens = 0;
    std::size_t widest = 0; // columns of the widest screen line seen
    std::string widest_line;
    bool note_typed_seen = false; // "note: subject shifted_" while typing
    bool note_saved_seen = false; // the saved marker in the view
    bool hold_seen = false;       // "HOLD" while the contraction went on
    double start_pressed_s = 0.0, note_pressed_s = 0.0, stop_pressed_s = 0.0; // stream time
    std::string rc, stty_before, stty_after, log;
    std::string error;
};

// 5 s rest, 30 s hold, 5 s rest; one pair at 1 kHz (light on the shared machine).
acquisition::Scenario bench_hold() {
    acquisition::Scenario scenario;
    scenario.sample_rate_hz = 1000.0;
    scenario.pairs = acquisition::default_pairs(1);
    scenario.protocol.rest_before_s = 5.0;
    scenario.protocol.hold_s = 30.0;
    scenario.protocol.rest_after_s = 5.0;
    return scenario;
}

// `sim` is made on the main thread: FFTW plans (the simulator makes some) are not thread-safe.
TerminalRun drive_terminal(int columns, int rows, const fs::path& dir,
                           acquisition::Simulator& sim) {
    TerminalRun r;
    r.columns = columns;
    r.rows = rows;
    r.out = dir / "run";
    try {
        fs::create_directories(dir);
        test::SocatPair pair(dir);
        const std::string semg = SEMG_EXE;
        // The shell records the terminal's settings before and after: the capture must leave
        // them as it found them. It stays open (sleep) so that the pane can still be read.
        const std::string command =
            "stty -g > " + (dir / "stty-before").string() + "; " + semg + " capture --port " +
            pair.host_side() + " --protocol semg --duration-s 40 --labels '" + labels_of(sim) +
            "' --out " + r.out.string() + " 2> " + (dir / "capture.log").string() + "; echo $? > " +
            (dir / "rc").string() + "; stty -g > " + (dir / "stty-after").string() + "; sleep 120";
        Tmux tmux("semg-markers-" + std::to_string(::getpid()) + "-" + std::to_string(columns),
                  columns, rows, command);
        std::this_thread::sleep_for(500ms); // the capture opens the port
        acquisition::SerialStreamerConfig dev;
        dev.packets.protocol = acquisition::Protocol::Semg;
        dev.speed = 1.0; // real time: the keys are pressed at stream times
        const auto t0 = Clock::now();
        test::FakeDevice device(sim, pair.device_side(), dev);
        auto stream_s = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
        auto look = [&] {
            const std::string screen = tmux.screen();
            // The view's lines, until the capture's closing summary (ordinary text that the
            // terminal wraps) is printed under the last block.
            const bool view_only = screen.find("\ncaptured ") == std::string::npos;
            r.screens += view_only;
            if (view_only) // kept for a look: build/test_capture_markers/terminal/*/screen.txt
                std::ofstream(dir / "screen.txt") << screen;
            std::istringstream lines(screen);
            for (std::string line; std::getline(lines, line);) {
                if (view_only && columns_of(line) > r.widest) {
                    r.widest = columns_of(line);
                    r.widest_line = line;
                }
                if (line.find("note: subject shifted_") != std::string::npos)
                    r.note_typed_seen = true;
                if (line.find(": subject shifted") != std::string::npos)
                    r.note_saved_seen = true;
                if (line.find("HOLD ") != std::string::npos)
                    r.hold_seen = true;
            }
        };
        auto until = [&](double t_s) {
            while (stream_s() < t_s) {
                look();
                std::this_thread::sleep_for(200ms);
            }
        };
        until(5.0);
        r.start_pressed_s = stream_s();
        tmux.keys({"Space"});
        until(20.0);
        r.note_pressed_s = stream_s();
        tmux.keys({"m"}, true);
        tmux.keys({"subject shifted"}, true);
        std::this_thread::sleep_for(300ms);
        look(); // the note as it is typed
        tmux.keys({"Enter"});
        until(35.0);
        r.stop_pressed_s = stream_s();
        tmux.keys({"Space"});
        const auto end = Clock::now() + 40s;
        while (!fs::exists(dir / "stty-after") && Clock::now() < end) {
            look();
            std::this_thread::sleep_for(200ms);
        }
        std::this_thread::sleep_for(200ms);
        look();
        device.stop();
        r.rc = read_text(dir / "rc");
        r.stty_before = read_text(dir / "stty-before");
        r.stty_after = read_text(dir / "stty-after");
        r.log = read_text(dir / "capture.log") + "\n--- screen ---\n" + tmux.screen();
    } catch (const std::exception& e) {
        r.error = e.what();
    }
    return r;
}

nlohmann::json contraction_fits(const nlohmann::json& summary) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : summary["contractions"]) {
        nlohmann::json x = c;
        x.erase("index");
        out.push_back(x);
    }
    return out;
}

// Must show 1: space at 5 s and 35 s and `m` with a note in a real terminal, 80x24 and 200x50.
TEST(CaptureMarkers, KeysInARealTerminalMarkTheHold) {
    SEMG_REQUIRE_SOCAT();
    if (!have("tmux"))
        GTEST_SKIP() << "tmux is missing (tools/install-deps.sh installs it): the terminal test "
                        "drives the capture's view in a tmux pane";
    const auto base = test::fresh_test_dir("test_capture_markers", "terminal");
    // Both sizes at once (each with its own tmux server, socat pair and device): 45 s, not 90.
    acquisition::Simulator sim_small(bench_hold()), sim_large(bench_hold());
    auto small =
        std::async(std::launch::async, drive_terminal, 80, 24, base / "80x24", std::ref(sim_small));
    auto large = std::async(std::launch::async, drive_terminal, 200, 50, base / "200x50",
                            std::ref(sim_large));
    for (TerminalRun r : {small.get(), large.get()}) {
        SCOPED_TRACE(std::to_string(r.columns) + "x" + std::to_string(r.rows));
        ASSERT_TRUE(r.error.empty()) << r.error;
        ASSERT_EQ(r.rc, "0\n") << r.log;
        EXPECT_EQ(r.stty_before, r.stty_after) << "the terminal was not restored";
        EXPECT_GT(r.screens, 100u);
        // The view stays inside the terminal (the last column is left free).
        EXPECT_LT(r.widest, static_cast<std::size_t>(r.columns)) << r.widest_line;
        EXPECT_GT(r.widest, 40u) << "no view on screen?\n" << r.log;
        EXPECT_TRUE(r.note_typed_seen) << r.log;
        EXPECT_TRUE(r.note_saved_seen) << r.log;
        EXPECT_TRUE(r.hold_seen) << r.log;

        // raw.bdf: the contraction with its duration and the note, at the samples the keys
        // were pressed. The test knows the press times only from its own clock against the
        // device's start (pty and thread wake-ups: tens of ms); one epoch (1 s) of tolerance.
        acquisition::EdfSource raw(r.out / "raw.bdf");
        const acquisition::Annotation* contraction = nullptr;
        const acquisition::Annotation* note = nullptr;
        for (const auto& a : raw.info().annotations) {
            if (a.text == "contraction")
                contraction = &a;
            if (a.text == "subject shifted")
                note = &a;
        }
        ASSERT_NE(contraction, nullptr) << r.log;
        ASSERT_NE(note, nullptr) << r.log;
        EXPECT_NEAR(contraction->onset_s, r.start_pressed_s, 1.0);
        EXPECT_NEAR(contraction->onset_s + contraction->duration_s, r.stop_pressed_s, 1.0);
        EXPECT_NEAR(note->onset_s, r.note_pressed_s, 1.0);

        // The final fits: over exactly that segment. The capture's summary names it, and
        // `semg analyze raw.bdf --segment START:END` over the same samples gives the same fits.
        const auto live = test::load_json(r.out / "summary.json");
        EXPECT_EQ(live["contraction_source"], "annotations 'contraction'");
        ASSERT_EQ(live["contractions"].size(), 1u);
        EXPECT_DOUBLE_EQ(live["contractions"][0]["start_s"].get<double>(), contraction->onset_s);
        EXPECT_DOUBLE_EQ(live["contractions"][0]["end_s"].get<double>(),
                         contraction->onset_s + contraction->duration_s);
        const std::string segment = fmt::format("{}:{}", contraction->onset_s,
                                                contraction->onset_s + contraction->duration_s);
        const auto [rc, out] =
            run({SEMG_EXE, "analyze", (r.out / "raw.bdf").string(), "--out",
                 (r.out.parent_path() / "segment").string(), "--segment", segment, "-q"});
        ASSERT_EQ(rc, 0) << out;
        const auto offline = test::load_json(r.out.parent_path() / "segment" / "summary.json");
        EXPECT_EQ(contraction_fits(live), contraction_fits(offline));
        const auto& markers = live["acquisition"]["markers"];
        ASSERT_EQ(markers.size(), 2u) << markers.dump();
        EXPECT_EQ(markers[1]["text"], "subject shifted");
    }
}

// Must show 2: `semg mark` adds an annotation to a running capture from another process; the
// socket is the owner's only, and a second user cannot get in (as root: a user made for it).
TEST(CaptureMarkers, MarkFromAnotherProcessAndNotFromAnotherUser) {
    SEMG_REQUIRE_SOCAT();
    // A world-traversable folder, so that only the socket's own permissions stand in the way.
    const fs::path dir =
        fs::temp_directory_path() / ("semg-mark-test-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    test::SocatPair pair(dir);
    acquisition::Scenario scenario = bench_hold();
    scenario.protocol.rest_before_s = 2.0;
    scenario.protocol.hold_s = 6.0;
    scenario.protocol.rest_after_s = 2.0;
    acquisition::Simulator sim(scenario);
    const fs::path out = dir / "run";
    const std::string semg = SEMG_EXE;
    auto capture = std::async(std::launch::async, [&] {
        return run({semg, "capture", "--port", pair.host_side(), "--protocol", "semg",
                    "--duration-s", "10", "--labels", labels_of(sim), "--out", out.string(),
                    "--live", "plain"});
    });
    std::this_thread::sleep_for(500ms);
    acquisition::SerialStreamerConfig dev;
    dev.packets.protocol = acquisition::Protocol::Semg;
    dev.speed = 1.0;
    const auto t0 = Clock::now();
    test::FakeDevice device(sim, pair.device_side(), dev);
    const fs::path socket = out / "control.sock";
    while (!fs::exists(socket) && Clock::now() - t0 < 10s)
        std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(fs::exists(socket));
    struct stat st {};
    ASSERT_EQ(::stat(socket.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "the control socket is the owner's only";

    std::this_thread::sleep_for(3s);
    const double pressed_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto [mark_rc, mark_out] = run({semg, "mark", out.string(), "--note", "from a script"});
    EXPECT_EQ(mark_rc, 0) << mark_out;
    EXPECT_NE(mark_out.find("from a script"), std::string::npos) << mark_out;
    const auto [bad_rc, bad_out] = run({semg, "mark", out.string(), "--stop"});
    EXPECT_NE(bad_rc, 0) << "no contraction is going on: " << bad_out;
    EXPECT_NE(bad_out.find("no contraction is going on"), std::string::npos) << bad_out;

    std::string other_user_out;
    int other_user_rc = 0, peercred_rc = 0;
    std::string peercred_out;
    const bool root = ::geteuid() == 0;
    const std::string user = "semgmark" + std::to_string(::getpid() % 100000);
    if (root && have("useradd") && have("runuser")) {
        // The binary where the new user can run it.
        const fs::path exe = dir / "semg";
        fs::copy_file(semg, exe);
        fs::permissions(exe, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec |
                                 fs::perms::group_read | fs::perms::others_read);
        const auto [add_rc, add_out] = run({"useradd", "-M", "-s", "/bin/sh", user});
        ASSERT_EQ(add_rc, 0) << add_out;
        std::tie(other_user_rc, other_user_out) = run({"runuser", "-u", user, "--", exe.string(),
                                                       "mark", out.string(), "--note", "intruder"});
        // Past the file permissions (as if they were wrong): the peer's uid is checked too.
        fs::permissions(socket, fs::perms::all);
        std::tie(peercred_rc, peercred_out) = run({"runuser", "-u", user, "--", exe.string(),
                                                   "mark", out.string(), "--note", "intruder 2"});
        fs::permissions(socket, fs::perms::owner_read | fs::perms::owner_write);
        run({"userdel", user});
    }
    const auto [capture_rc, capture_out] = capture.get();
    device.stop();
    ASSERT_EQ(capture_rc, 0) << capture_out;
    EXPECT_NE(capture_out.find("marker: "), std::string::npos) << "the plain view shows markers";
    EXPECT_FALSE(fs::exists(socket)) << "the socket is removed at the end";

    acquisition::EdfSource raw(out / "raw.bdf");
    const acquisition::Annotation* note = nullptr;
    for (const auto& a : raw.info().annotations) {
        EXPECT_EQ(a.text.find("intruder"), std::string::npos) << "another user got a marker in";
        if (a.text == "from a script")
            note = &a;
    }
    ASSERT_NE(note, nullptr);
    EXPECT_NEAR(note->onset_s, pressed_s, 1.0); // one epoch: the test's clock against the device's
    const auto summary = test::load_json(out / "summary.json");
    fs::remove_all(dir);
    if (!root)
        GTEST_SKIP() << "not root: cannot create a second user to check that it is refused (the "
                        "rest of the test ran)";
    EXPECT_NE(other_user_rc, 0) << other_user_out;
    EXPECT_NE(other_user_out.find("cannot connect"), std::string::npos) << other_user_out;
    EXPECT_NE(other_user_out.find("another user"), std::string::npos) << other_user_out;
    EXPECT_NE(peercred_rc, 0) << peercred_out;
    EXPECT_NE(peercred_out.find("refused: uid"), std::string::npos) << peercred_out;
    EXPECT_EQ(summary["acquisition"]["control_refused_clients"], 1);
}

} // namespace
