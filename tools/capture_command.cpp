// `semg capture --port PORT --out DIR`: records a serial device losslessly to DIR/raw.bdf,
// analyses it live (the same analysis as `semg analyze`) and writes the same result files.
// Threads, rings and stop behaviour: docs/capture.md.
#include "acquisition/file_source.hpp"
#include "acquisition/serial_port.hpp"
#include "pipeline/bids.hpp"
#include "pipeline/capture.hpp"
#include "pipeline/capture_control.hpp"
#include "pipeline/dashboard.hpp"
#include "pipeline/montage.hpp"
#include "pipeline/mvc.hpp"
#include "pipeline/output_dir.hpp"
#include "pipeline/results.hpp"
#include "report/report.hpp"
#include "tools/cli_util.hpp"
#include "tools/commands.hpp"
#include "tools/fatigue_table.hpp"
#include "tools/session_log.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace semg::tools {
namespace {

struct CaptureOptions {
    std::string port;
    std::optional<unsigned> baud;
    std::string parity = "none";
    std::string stop_bits = "1";
    std::string flow_control = "none";
    std::string protocol = "semg";
    std::optional<double> fs_hz;
    double gain = 24.0;
    std::optional<std::size_t> channels;
    std::string labels;
    std::optional<double> scale_uv;
    std::optional<double> offset_counts;
    std::optional<double> duration_s;
    double reconnect_s = 5.0;
    double start_timeout_s = 10.0;
    double stall_timeout_s = 5.0;
    std::uint64_t max_sync_failures = 100;
    double max_fill_pct = 50.0;
    std::string range_uv;
    std::filesystem::path out;
    std::string live = "auto";
    std::string dashboard; // [ADDR:]PORT; empty: none
    bool quiet = false;
    std::filesystem::path recover;
    AnalysisOptions analysis;
    // BIDS-EMG (docs/bids.md): the raw recording goes into the dataset with its sidecars.
    std::filesystem::path bids_root;
    std::string subject, session, task, run; // subject and session also name the session log's
    SessionLogOptions log;                   // --db, --no-db, --note
    std::string bids_reference = "not stated at capture (semg capture --bids-reference)";
    std::string bids_placement =
        "not stated at capture (semg capture --bids-placement); sites as the channel labels "
        "name them (muscle, vertebral level, side)";
};

namespace bids = pipeline::bids;

// sub-S/[ses-X/]emg and sub-S_[ses-X_]task-T[_run-N] of a BIDS capture.
std::pair<std::filesystem::path, std::string> bids_place(const CaptureOptions& o) {
    std::filesystem::path folder = "sub-" + o.subject;
    std::string stem = "sub-" + o.subject;
    if (!o.session.empty()) {
        folder /= "ses-" + o.session;
        stem += "_ses-" + o.session;
    }
    stem += "_task-" + o.task;
    if (!o.run.empty())
        stem += "_run-" + o.run;
    return {folder / "emg", stem};
}

std::string read_text_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The sidecars of a BIDS capture, each written atomically once the recording is closed:
// *_emg.json, *_channels.tsv (+ .json describing semg's level and side columns), and the
// dataset's dataset_description.json and participants.tsv where absent (a new subject is added).
void write_bids_sidecars(const CaptureOptions& o, acquisition::Protocol protocol,
                         const pipeline::CaptureReport& r) {
    const auto [folder, stem] = bids_place(o);
    const std::filesystem::path dir = o.bids_root / folder;
    bids::CaptureSidecar c;
    c.task = o.task;
    c.sampling_frequency_hz = r.sample_rate_hz;
    c.duration_s = r.duration_s;
    c.labels = r.labels;
    c.placement_description = o.bids_placement;
    c.reference = o.bids_reference;
    const auto& device = acquisition::traits(protocol);
    if (!device.manufacturer.empty())
        c.manufacturer = device.manufacturer;
    c.software_version = pipeline::software_version();
    c.device = device.name;
    {
        const auto raw = acquisition::open_file_source(r.raw_path);
        const auto& ch = raw->info().channels;
        if (!ch.empty() && ch[0].physical_min_uv && ch[0].physical_max_uv)
            c.range_uv = {*ch[0].physical_min_uv, *ch[0].physical_max_uv};
    }
    // PowerLineFrequency: --mains 50/60, else what the analysis detected, else "n/a".
    if (o.analysis.mains == "50" || o.analysis.mains == "60") {
        c.power_line_hz = std::stod(o.analysis.mains);
    } else if (r.results_written) {
        try {
            std::ifstream in(o.out / "summary.json");
            const auto j = nlohmann::json::parse(in);
            const auto& hz = j.at("settings").at("mains").at("frequency_hz");
            if (hz.is_number())
                c.power_line_hz = hz.get<double>();
        } catch (const std::exception&) {
        }
    }
    pipeline::Montage montage;
    try {
        montage = o.analysis.montage.empty() ? pipeline::infer_montage(r.labels)
                                             : pipeline::load_montage(o.analysis.montage, r.labels);
    } catch (const std::exception& e) {
        log_warning(std::string("channels.tsv: no sites (") + e.what() + ")");
        montage = {};
    }
    for (std::size_t i = 0; i < r.labels.size(); ++i)
        c.emg_channel_count += i >= montage.channels.size() || montage.channels[i].is_emg ? 1 : 0;
    pipeline::write_file_atomically(dir / (stem + "_emg.json"), bids::emg_json_text(c));
    pipeline::write_file_atomically(dir / (stem + "_channels.tsv"),
                                    bids::channels_tsv_text(c, montage));
    pipeline::write_file_atomically(dir / (stem + "_channels.json"), bids::channels_json_text());
    const auto description = o.bids_root / "dataset_description.json";
    if (!std::filesystem::exists(description))
        pipeline::write_file_atomically(description,
                                        bids::dataset_description_text("semg capture"));
    const auto participants = o.bids_root / "participants.tsv";
    const std::string current =
        std::filesystem::exists(participants) ? read_text_file(participants) : std::string();
    const std::string updated = bids::participants_with(current, o.subject, participants.string());
    if (updated != current)
        pipeline::write_file_atomically(participants, updated);
    // The results are a derivative dataset of their own.
    const auto derivatives = o.bids_root / "derivatives" / "semg";
    if (r.results_written && o.out.string().starts_with(derivatives.string()) &&
        !std::filesystem::exists(derivatives / "dataset_description.json"))
        pipeline::write_file_atomically(
            derivatives / "dataset_description.json",
            bids::derivative_description_text(pipeline::software_version(), std::string("../..")));
    if (!o.quiet)
        std::cout << "BIDS: " << (dir / (stem + "_emg.bdf")).string()
                  << " with _emg.json, _channels.tsv, _channels.json\n";
}

// NaN and infinity are not a gain, a scale or a time: one line naming the option.
void check_finite(const std::optional<double>& value, const std::string& option, bool positive) {
    if (value && !(std::isfinite(*value) && (!positive || *value > 0.0)))
        throw std::invalid_argument(option + " must be a " + (positive ? "positive" : "finite") +
                                    " number, got " + fmt::format("{}", *value));
}

pipeline::CaptureSettings settings_from(const CaptureOptions& o) {
    if (o.fs_hz)
        pipeline::check_sample_rate(*o.fs_hz, "--fs");
    check_finite(o.gain, "--gain", true);
    check_finite(o.scale_uv, "--scale-uv", false);
    if (o.scale_uv && *o.scale_uv == 0.0)
        throw std::invalid_argument("--scale-uv must not be 0");
    check_finite(o.offset_counts, "--offset-counts", false);
    check_finite(o.duration_s, "--duration-s", true);
    check_finite(o.reconnect_s, "--reconnect-s", false);
    check_finite(o.start_timeout_s, "--start-timeout-s", true);
    const auto protocol = parse_protocol(o.protocol, "--protocol");
    pipeline::CaptureSettings s;
    s.serial.port = o.port;
    s.serial.baud_rate = o.baud.value_or(acquisition::traits(protocol).default_baud);
    s.serial.parity = acquisition::parity_from_string(o.parity);
    s.serial.stop_bits = acquisition::stop_bits_from_string(o.stop_bits);
    s.serial.flow_control = acquisition::flow_control_from_string(o.flow_control);

    using acquisition::Protocol;
    auto& p = s.protocol;
    p.name = protocol;
    p.cyton.gain = o.gain;
    if (p.name == Protocol::Ascii) {
        if (!o.fs_hz)
            throw std::invalid_argument(
                "--protocol ascii needs --fs: text devices send no sample rate");
        p.ascii.sample_rate_hz = *o.fs_hz;
        if (o.scale_uv)
            p.ascii.scale_uv_per_count = *o.scale_uv;
        if (o.offset_counts)
            p.ascii.offset_counts = *o.offset_counts;
    } else if (o.fs_hz) {
        if (p.name != Protocol::Cyton && p.name != Protocol::CytonDaisy)
            throw std::invalid_argument("--fs applies to ascii (and cyton's packet rate); " +
                                        to_string(p.name) + " streams give their own rate");
        p.cyton.sample_rate_hz = *o.fs_hz;
    }
    if (p.name == Protocol::OpenEeg) {
        if (o.scale_uv)
            p.openeeg.scale_uv_per_count = *o.scale_uv;
        if (o.offset_counts)
            p.openeeg.offset_counts = *o.offset_counts;
    }
    if (o.channels && p.name != Protocol::Ascii)
        throw std::invalid_argument(
            "--channel-count applies to --protocol ascii (the other protocols fix or send it)");
    s.expected_channels = o.channels;
    s.labels = split_list(o.labels);

    s.analysis = analysis_settings_from(o.analysis);
    // --contractions annotations: the contractions marked during the capture (keys, semg mark).
    s.out_dir = o.out;
    s.control_socket = o.out / "control.sock";
    s.keys = true;
    s.duration_s = o.duration_s;
    s.reconnect_s = o.reconnect_s;
    s.start_timeout_s = o.start_timeout_s;
    s.stall_timeout_s = o.stall_timeout_s;
    s.max_sync_failures = o.max_sync_failures;
    s.max_fill_pct = o.max_fill_pct;
    if (!o.range_uv.empty())
        s.range_uv = parse_range(o.range_uv, "--range-uv");

    if (o.quiet || o.live == "none")
        s.live = pipeline::LiveMode::None;
    else if (o.live == "plain")
        s.live = pipeline::LiveMode::Plain;
    else if (o.live == "terminal")
        s.live = pipeline::LiveMode::Terminal;
    else if (o.live == "auto")
        s.live =
            ::isatty(STDOUT_FILENO) == 1 ? pipeline::LiveMode::Terminal : pipeline::LiveMode::Plain;
    else
        throw std::invalid_argument("--live must be auto, terminal, plain or none, got '" + o.live +
                                    "'");

    // Montage and MVC need the channel labels, which only the stream gives.
    const auto montage = o.analysis.montage;
    const auto mvc = o.analysis.mvc;
    const auto mvc_segment = o.analysis.mvc_segment;
    if (mvc.empty() && !mvc_segment.empty())
        throw std::invalid_argument(
            "--mvc-segment needs --mvc FILE: the live stream cannot be its own MVC reference");
    s.configure = [montage, mvc, mvc_segment](const acquisition::SourceInfo& info,
                                              pipeline::AnalysisSettings& a) {
        std::vector<std::string> labels;
        for (const auto& ch : info.channels)
            labels.push_back(ch.label);
        if (!montage.empty())
            a.montage = pipeline::load_montage(montage, labels);
        if (!mvc.empty()) {
            auto source = acquisition::open_file_source(mvc);
            std::optional<std::pair<double, double>> segment;
            if (!mvc_segment.empty())
                segment = parse_range(mvc_segment, "--mvc-segment");
            a.mvc_rms_uv = pipeline::mvc_reference_rms_for(*source, info, a, segment);
        }
    };
    s.warn = [](const std::string& m) { log_warning(m); };
    s.notice = [](const std::string& m) { log_notice(m); };
    return s;
}

std::filesystem::path default_out_dir() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    ::localtime_r(&now, &local);
    char name[64];
    std::strftime(name, sizeof name, "capture-%Y%m%d-%H%M%S.semg", &local);
    return name;
}

void capture(CaptureOptions o) {
    if (!o.recover.empty()) {
        const auto records = pipeline::recover_raw_bdf(o.recover);
        if (!o.quiet)
            std::cout << o.recover.string() << ": " << records
                      << " whole data records kept (one per second); gap annotations are not "
                         "recoverable\n";
        return;
    }
    if (o.port.empty())
        throw UsageError("--port is required");
    std::filesystem::path bids_raw;
    pipeline::CaptureSettings settings;
    std::optional<pipeline::DashboardEndpoint> endpoint;
    try {
        if (!o.bids_root.empty()) {
            if (o.subject.empty() || o.task.empty())
                throw std::invalid_argument("--bids-root needs --subject and --task");
            bids::check_label(o.subject, "--subject");
            bids::check_label(o.task, "--task");
            if (!o.session.empty())
                bids::check_label(o.session, "--session");
            if (!o.run.empty())
                bids::check_label(o.run, "--run");
            const auto [folder, stem] = bids_place(o);
            bids_raw = o.bids_root / folder / (stem + "_emg.bdf");
            if (o.out.empty())
                o.out = o.bids_root / "derivatives" / "semg" / folder / (stem + "_desc-fatigue");
        } else if (!o.task.empty() || !o.run.empty()) {
            throw std::invalid_argument(
                "--task and --run need --bids-root (--subject and --session "
                "alone name the session log's subject and visit)");
        }
        if (o.out.empty())
            o.out = default_out_dir();
        settings = settings_from(o);
        settings.raw_path = bids_raw;
        if (!o.dashboard.empty())
            endpoint = pipeline::parse_dashboard_endpoint(o.dashboard);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what()); // the command line, before any port is opened
    }

    // Ctrl-C, SIGTERM and SIGHUP (the terminal went away): blocked in every thread, taken by one
    // thread with sigtimedwait, so no work ever runs in a signal handler. Blocked before any
    // thread starts (the dashboard's included): threads inherit the mask, and a thread without
    // it would take the signal's default action and kill the process mid-recording. They stay
    // blocked until exit: a late signal must not kill us while the files are being closed.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGWINCH); // the terminal view's size
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    // Listening before the capture starts: a port in use or a bad address stops us here.
    std::unique_ptr<pipeline::DashboardServer> dashboard;
    if (!o.dashboard.empty()) {
        pipeline::DashboardSettings server;
        server.endpoint = *endpoint;
        server.page = report::render_live_html;
        dashboard = std::make_unique<pipeline::DashboardServer>(std::move(server));
        settings.dashboard = dashboard.get();
        // Printed even with -q: with --dashboard 0 the address exists only here.
        std::cerr << "semg: dashboard (read-only): " << dashboard->url() << std::endl;
    }
    const auto protocol = settings.protocol.name; // settings move into the session
    std::optional<pipeline::Capture> session_storage;
    try {
        session_storage.emplace(std::move(settings));
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what()); // a setting out of range (--range-uv, timeouts)
    }
    pipeline::Capture& session = *session_storage;

    std::jthread signal_thread([&session, signals](std::stop_token stop) {
        acquisition::set_current_thread_name("semg-signals");
        const timespec poll{0, 100'000'000};
        while (!stop.stop_requested()) {
            const int sig = ::sigtimedwait(&signals, nullptr, &poll);
            if (sig == SIGINT)
                session.request_stop("interrupted (SIGINT)");
            else if (sig == SIGTERM)
                session.request_stop("terminated (SIGTERM)");
            else if (sig == SIGHUP)
                session.request_stop("hung up (SIGHUP)");
            else if (sig == SIGWINCH)
                session.terminal_resized();
        }
    });

    const pipeline::CaptureReport r = session.run();
    signal_thread.request_stop();
    signal_thread.join();
    if (!o.bids_root.empty() && r.frames > 0 && std::filesystem::exists(r.raw_path))
        write_bids_sidecars(o, protocol, r);

    const auto& k = r.counters;
    const std::string counts =
        fmt::format("{} samples x {} channels at {} Hz ({:.1f} s); lost {} samples in {} gaps, {} "
                    "sync losses, {} bad "
                    "checksums{}",
                    r.frames, r.labels.size(), r.sample_rate_hz, r.duration_s, k.lost_samples,
                    k.gaps, k.sync_losses, k.bad_checksums,
                    k.bad_lines > 0 ? fmt::format(", {} bad lines", k.bad_lines) : std::string());
    if (r.stop_reason.rfind("device gone", 0) == 0)
        log_warning(fmt::format("{}: {}; kept what was received in {}", r.port, r.stop_reason,
                                r.raw_path.string()));
    if (!r.results_written) {
        const bool too_short = r.results_error.find("shorter than one epoch") != std::string::npos;
        const std::string text = fmt::format("{}: {}; the raw recording is kept: {} ({})", r.port,
                                             r.results_error, r.raw_path.string(), counts);
        if (too_short) {
            log_warning(text);
            return;
        }
        // A stream that was not the protocol, or a recording that could not be written, is
        // the device's or the disk's problem (3); an analysis that failed is the input's (1).
        if (r.stream_rejected || r.results_error.rfind("raw recording failed", 0) == 0)
            throw DeviceError(text);
        throw std::runtime_error(text);
    }
    // The same page as `semg analyze` writes, from the files just written. A failure here
    // leaves the recording and result files as they are, and says so.
    bool report_written = false;
    try {
        report::write_report(o.out);
        report_written = true;
    } catch (const std::exception& e) {
        log_warning(std::string("report.html not written: ") + e.what());
    }
    log_session(o.log, o.out, {o.subject, o.session, o.task}, "capture");
    if (!o.quiet) {
        std::cout << fmt::format("captured {} from {} (stop: {})\n", counts, r.port, r.stop_reason);
        std::cout << fmt::format(
            "{} epochs; latency of an epoch's result after its last sample: p50 {:.1f} ms, p99 "
            "{:.1f} ms (analysis delay included)\n",
            r.epochs, r.epoch_latency.p50_ms, r.epoch_latency.p99_ms);
        std::string files = o.bids_root.empty() ? "raw.bdf, epochs.csv, " : "epochs.csv, ";
        if (std::filesystem::exists(o.out / "pairs.csv"))
            files += "pairs.csv, ";
        std::cout << "wrote " << files << "summary.json" << (report_written ? ", report.html" : "")
                  << " in " << o.out.string() << "\n";
        if (r.longest_silence_s >= 1.0)
            std::cout << fmt::format("longest wait for a frame: {:.1f} s\n", r.longest_silence_s);
        if (r.dashboard)
            std::cout << fmt::format("dashboard {}: {} clients; {} updates dropped for slow "
                                     "clients, {} disconnected for not reading\n",
                                     r.dashboard_url, r.dashboard->clients_served,
                                     r.dashboard->dropped_updates, r.dashboard->stalled_clients);
        if (r.result)
            print_fatigue_table(*r.result, std::cout);
    }
    // Results for what arrived are written, but a session that ended this way did not do its
    // job: exit non-zero so that a script notices.
    if (r.stalled)
        throw DeviceError(fmt::format("{}: {}; results for the {:.1f} s received are in {}", r.port,
                                      r.stop_reason, r.duration_s, o.out.string()));
}

} // namespace

namespace {

struct MarkOptions {
    std::filesystem::path target;
    bool start = false;
    bool stop = false;
    std::optional<std::string> note;
    bool quiet = false;
};

// `semg mark RUN_DIR|SOCKET [--start|--stop|--note TEXT]`: a marker in a running capture, through
// its control socket (the same as the keys: --start/--stop as space, a note as `m`).
void mark(const MarkOptions& o) {
    if (static_cast<int>(o.start) + static_cast<int>(o.stop) +
            static_cast<int>(o.note.has_value()) >
        1)
        throw std::invalid_argument("semg mark: give one of --start, --stop, --note");
    std::string request = "mark";
    if (o.start)
        request = "start";
    else if (o.stop)
        request = "stop";
    else if (o.note) {
        if (o.note->find('\n') != std::string::npos)
            throw std::invalid_argument("--note: one line, no newline");
        if (!o.note->empty())
            request += " " + *o.note;
    }
    const std::string reply = pipeline::send_control_request(o.target, request);
    if (reply.rfind("ok", 0) != 0)
        throw std::runtime_error(pipeline::control_socket_path(o.target).string() + ": " +
                                 (reply.rfind("error: ", 0) == 0 ? reply.substr(7) : reply));
    if (!o.quiet)
        std::cout << reply.substr(reply.size() > 3 ? 3 : reply.size()) << '\n';
}

void register_mark(CLI::App& app) {
    auto o = std::make_shared<MarkOptions>();
    auto* cmd = app.add_subcommand(
        "mark", "Put a marker into a running capture (as its keys do) from another process");
    cmd->add_option("target", o->target,
                    "The capture's output folder (its control.sock) or the socket itself")
        ->required();
    cmd->add_flag("--start", o->start, "A contraction starts now (the space key)");
    cmd->add_flag("--stop", o->stop, "The contraction going on ends now (the space key)");
    cmd->add_option("--note", o->note,
                    "A marker with this note (the m key); without an option: "
                    "a marker with no note");
    cmd->add_flag("-q,--quiet", o->quiet, "Print nothing on success");
    // Not reaching the capture is an I/O failure (3); a bad command line is caught before (2).
    cmd->callback([o]() { run_command([&] { mark(*o); }, ExitCode::DeviceIo); });
}

} // namespace

void register_capture(CLI::App& app) {
    auto o = std::make_shared<CaptureOptions>();
    auto* cmd =
        app.add_subcommand("capture", "Record a serial EMG device to BDF+ and analyse it live");
    cmd->add_option("--port", o->port,
                    "Serial port: /dev/ttyUSB0, /dev/ttyACM0, a pty or socat link (required)");
    cmd->add_option("--protocol", o->protocol,
                    acquisition::protocol_names() + " (docs/protocol.md)")
        ->capture_default_str();
    cmd->add_option("--baud", o->baud,
                    "Baud rate (default: cyton/ascii 115200, openeeg 57600, semg 921600)");
    cmd->add_option("--parity", o->parity, "none, odd or even")->capture_default_str();
    cmd->add_option("--stop-bits", o->stop_bits, "1, 1.5 or 2")->capture_default_str();
    cmd->add_option("--flow-control", o->flow_control, "none, software or hardware")
        ->capture_default_str();
    cmd->add_option("--fs", o->fs_hz,
                    "Sample rate in Hz: required for ascii; cyton's packet rate (250)");
    cmd->add_option("--gain", o->gain, "Cyton PGA gain set on the board (scales counts to uV)")
        ->capture_default_str();
    cmd->add_option("--channel-count", o->channels,
                    "ascii: the number of values per line the device sends");
    // --channels was this count here but the channel selection in `semg analyze`.
    add_deprecated_alias(*cmd, "--channels", o->channels, "--channel-count");
    cmd->add_option(
        "--labels", o->labels,
        "Comma-separated channel names (default: from the device, else ch1..chN); names like "
        "'ES L4 L' let the montage be inferred");
    cmd->add_option("--scale-uv", o->scale_uv, "ascii/openeeg: uV per count");
    cmd->add_option("--offset-counts", o->offset_counts, "ascii/openeeg: count of 0 uV");
    cmd->add_option("--out", o->out,
                    "Output folder for raw.bdf and the results (default: capture-DATE-TIME.semg)");
    cmd->add_option("--duration-s", o->duration_s,
                    "Stop after this many seconds of samples (rounded up to whole s)");
    cmd->add_option("--reconnect-s", o->reconnect_s,
                    "When the device disappears, keep trying to reopen it this long")
        ->capture_default_str();
    cmd->add_option("--start-timeout-s", o->start_timeout_s,
                    "Give up if no frame arrives within this")
        ->capture_default_str();
    cmd->add_option("--stall-timeout-s", o->stall_timeout_s,
                    "After the first frame, stop with an error (exit 1) when no frame comes for "
                    "this long; results for what arrived are written")
        ->capture_default_str();
    cmd->add_option("--max-sync-failures", o->max_sync_failures,
                    "Reject the stream (exit 1, no result files, raw.bdf kept) after this many "
                    "sync failures with no frame between them: not this protocol")
        ->capture_default_str();
    cmd->add_option("--max-fill-pct", o->max_fill_pct,
                    "Reject the stream when more than this % of its samples are gap fill, once "
                    "there are 10 s of them (random bytes read as Cyton)")
        ->capture_default_str();
    cmd->add_option(
        "--range-uv", o->range_uv,
        "Physical range MIN:MAX of raw.bdf in whole uV (default: the device's range, else "
        "-100000:100000)");
    add_analysis_options(*cmd, o->analysis, true);
    cmd->add_option("--live", o->live,
                    "Live view: auto (terminal if stdout is one, else plain lines), terminal, "
                    "plain or none")
        ->capture_default_str();
    cmd->add_option("--dashboard", o->dashboard,
                    "Serve a live dashboard (the report's charts, updated every epoch, and the "
                    "link's health) at [ADDR:]PORT: 8080 is 127.0.0.1:8080, 0 a free port; "
                    "read-only");
    cmd->add_option(
        "--bids-root", o->bids_root,
        "Write the raw recording into this BIDS-EMG dataset as "
        "sub-S/[ses-X/]emg/sub-S_[ses-X_]task-T[_run-N]_emg.bdf with its _emg.json and "
        "_channels.tsv, and dataset_description.json and participants.tsv where absent; "
        "results go to DIR/derivatives/semg/... unless --out (docs/bids.md)");
    cmd->add_option(
        "--subject", o->subject,
        "Subject label: of the session log, and with --bids-root of the dataset (letters "
        "and digits)");
    cmd->add_option(
        "--session", o->session,
        "Session (visit) label: of the session log, and with --bids-root of the dataset "
        "(optional)");
    cmd->add_option("--task", o->task, "--bids-root: task label, also the sidecar's TaskName");
    cmd->add_option("--run", o->run, "--bids-root: run index (optional)");
    cmd->add_option("--bids-reference", o->bids_reference,
                    "--bids-root: EMGReference, how channels are referenced (e.g. \"bipolar\")");
    cmd->add_option("--bids-placement", o->bids_placement,
                    "--bids-root: EMGPlacementSchemeDescription, how the sites were chosen (e.g. "
                    "\"SENIAM, by palpation\")");
    cmd->add_flag("-q,--quiet", o->quiet,
                  "No live view and no summary on stdout; warnings and errors only on stderr");
    add_session_log_options(*cmd, o->log, false);
    cmd->add_option(
        "--recover", o->recover,
        "Make the raw.bdf of a killed capture readable (sets its record count from the file size) "
        "and exit");
    cmd->callback([o]() {
        set_quiet(o->quiet);
        run_command([&] { capture(*o); });
    });
    register_mark(app);
}

} // namespace semg::tools
