#include "pipeline/capture_session.hpp"

#include "acquisition/serial_port.hpp"
#include "pipeline/dashboard.hpp"
#include "pipeline/results.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include <unistd.h>

namespace semg::pipeline {

using Clock = CaptureClock;
using Topic = CaptureSubscriber::Topic;

namespace {

// The terminal view (or plain lines): epochs, markers, health every 0.5 s and at once when a
// stall begins, and the session's messages, which must not tear its redrawn block.
class ViewSubscriber final : public CaptureSubscriber {
public:
    explicit ViewSubscriber(std::unique_ptr<LiveView> view) : view_(std::move(view)) {}
    bool wants(Topic t) const override {
        return view_ && (t == Topic::Epochs || t == Topic::Marks || t == Topic::Messages ||
                         t == Topic::Stalls);
    }
    void epoch(const LiveEpoch& e, const CaptureHealth& h) override { view_->epoch(e, h); }
    std::chrono::milliseconds health_period() const override {
        return std::chrono::milliseconds(500);
    }
    void health(const CaptureHealth& h) override {
        if (view_)
            view_->health(h);
    }
    void stall(const CaptureHealth& h) override { health(h); }
    void marks(const std::vector<std::string>& new_lines, const LiveMarks& m) override {
        for (const auto& l : new_lines)
            view_->marker_line(l);
        view_->marks(m);
    }
    void message(const std::string& text) override { view_->message(text); }
    void stopped(const CaptureHealth& last) override {
        view_->health(last);
        view_->close();
        view_.reset(); // messages from here on go to the log
    }

private:
    std::unique_ptr<LiveView> view_;
};

// The dashboard: each epoch's rows and the running fits straight from the DSP thread (its own
// drop-oldest hand-over never waits), health once a second, the summary at the end.
class DashboardSubscriber final : public CaptureSubscriber {
public:
    explicit DashboardSubscriber(DashboardServer& server) : server_(server) {}
    bool wants(Topic t) const override { return t == Topic::Fits; }
    void epoch_rows(std::uint64_t index, std::string_view epochs_rows,
                    std::string_view pairs_rows) override {
        server_.publish_epoch(index, epochs_rows, pairs_rows);
    }
    void fits(nlohmann::ordered_json summary) override { server_.publish_fits(std::move(summary)); }
    void started(const nlohmann::ordered_json& header) override { server_.start(header); }
    std::chrono::milliseconds health_period() const override { return std::chrono::seconds(1); }
    void health(const CaptureHealth& h) override { server_.publish_health(h); }
    void stopped(const CaptureHealth& last) override { server_.publish_health(last); }
    void finished(const std::optional<nlohmann::ordered_json>& summary,
                  const std::string& error) override {
        server_.finish(summary, error);
    }

private:
    DashboardServer& server_;
};

} // namespace

CaptureSession::CaptureSession(CaptureSettings settings, DeviceCommands commands)
    : settings_(std::move(settings)), marks_(settings_.analysis.annotation, events_),
      commands_(std::move(commands)) {}

CaptureSession::~CaptureSession() {
    // run() joins everything on every path; this only covers exceptions thrown out of run().
    stop_marker_inputs();
    if (reader_) {
        reader_->close(false);
        reader_->close_rings();
    }
}

// =============================================================================================
// run()

CaptureReport CaptureSession::run() {
    open_port();
    wait_for_format();
    start_workers();
    bool stalled = false;
    std::string reason = watch(stalled);
    stop_workers(reason, stalled);
    return report(reason, stalled);
}

void CaptureSession::open_port() {
    const auto& s = settings_;
    if (s.out_dir.empty())
        throw std::invalid_argument("capture: no output folder");
    raw_path_ = s.raw_path.empty() ? s.out_dir / "raw.bdf" : s.raw_path;
    if (std::filesystem::exists(raw_path_))
        throw CaptureError(raw_path_.string() + " exists: choose another " +
                           (s.raw_path.empty() ? "--out folder" : "name") +
                           " (a capture never overwrites a recording)");
    reader_ = std::make_unique<CaptureReader>(settings_, commands_, events_);
    open_transport(); // SerialError: nothing was written
    notice(fmt::format("{}: opened ({} baud, {}); waiting for {} frames", s.serial.port,
                       s.serial.baud_rate, to_string(s.protocol.name), to_string(s.protocol.name)));
}

// Until the first frame: the stream's format (the single truth for rate and channels).
void CaptureSession::wait_for_format() {
    const auto& s = settings_;
    const auto start = Clock::now();
    for (auto wait = std::chrono::milliseconds(0);; wait = std::chrono::milliseconds(100)) {
        pump(wait);
        if (fatal_) {
            reader_->close(true);
            throw CaptureError(s.serial.port + ": " + reader_fatal_);
        }
        if (reader_->format_ready())
            return;
        if (stop_requests_ > 0) {
            reader_->close(true);
            throw CaptureError("stopped (" + stop_reason_ +
                               ") before any frame arrived: nothing recorded");
        }
        if (device_ended_ && !reconnect())
            throw CaptureError(s.serial.port + ": device gone (" + device_message_ +
                               ") before any frame arrived: nothing recorded");
        if (std::chrono::duration<double>(Clock::now() - start).count() > s.start_timeout_s) {
            const auto k = reader_->counters();
            reader_->close(true);
            throw CaptureError(
                fmt::format("{}: no {} frame within {:.0f} s ({} bytes received, {} sync losses, "
                            "{} bad checksums, {} bad "
                            "lines): check --protocol, --baud and that the device is streaming",
                            s.serial.port, to_string(s.protocol.name), s.start_timeout_s, k.bytes,
                            k.sync_losses, k.bad_checksums, k.bad_lines));
        }
    }
}

// Set-up: analysis, files, threads. A failure leaves nothing behind.
void CaptureSession::start_workers() {
    try {
        setup();
    } catch (const std::exception& e) {
        reader_->close(true);
        reader_->close_rings();
        dsp_.reset();      // joins
        recorder_.reset(); // joins, closes raw.bdf
        std::error_code ec;
        std::filesystem::remove(raw_path_, ec); // nothing but a header in it yet
        if (out_dir_created_)
            std::filesystem::remove(settings_.out_dir, ec); // only if empty
        throw CaptureError(e.what());
    }
}

void CaptureSession::setup() {
    const auto& s = settings_;
    const StreamFormat& f = reader_->format();
    info_.format = "serial " + to_string(s.protocol.name);
    info_.sample_rate_hz = f.fs;
    for (const auto& l : f.labels) {
        acquisition::ChannelInfo ch;
        ch.label = l;
        ch.physical_min_uv = f.grid->min_uv();
        ch.physical_max_uv = f.grid->max_uv();
        ch.resolution_uv = f.grid->step_uv();
        info_.channels.push_back(ch);
    }
    notice(fmt::format("{}: {} channels at {} Hz ({})", s.serial.port, f.channels, f.fs,
                       to_string(s.protocol.name)));
    // A slow board is warned about once, by the analysis (FatigueAnalysis::prepare).
    // raw.bdf first, its header on disk at once: a capture killed while the analysis is being
    // prepared still leaves a readable (empty) recording.
    std::error_code ec;
    out_dir_created_ = !std::filesystem::exists(s.out_dir, ec);
    std::filesystem::create_directories(s.out_dir, ec);
    if (ec)
        throw CaptureError(s.out_dir.string() + ": cannot create (" + ec.message() + ")");
    if (!raw_path_.parent_path().empty())
        std::filesystem::create_directories(raw_path_.parent_path(), ec);
    if (ec)
        throw CaptureError(raw_path_.parent_path().string() + ": cannot create (" + ec.message() +
                           ")");
    acquisition::EdfWriterConfig cfg;
    cfg.format = acquisition::EdfFormat::BdfPlus;
    cfg.sample_rate_hz = static_cast<int>(f.fs);
    cfg.labels = f.labels;
    cfg.physical_min_uv = f.grid->min_uv();
    cfg.physical_max_uv = f.grid->max_uv();
    cfg.equipment = "semg capture " + to_string(s.protocol.name);
    cfg.prefilter = "none";
    cfg.durable = true; // readable as it stands after a kill: header now, count kept current
    recorder_ = std::make_unique<CaptureRecorder>(raw_path_, cfg, f, reader_->recorder_ring(),
                                                  marks_, events_);
    AnalysisSettings a = s.analysis;
    a.live_marks = true; // keys and `semg mark` (annotations in raw.bdf as they happen)
    if (s.configure)
        s.configure(info_, a);
    dsp_ = std::make_unique<CaptureDsp>(
        std::move(a), info_, [this](const std::string& w) { warn(w); }, f, reader_->dsp_ring(),
        marks_, events_, s.live != LiveMode::None);
    const FatigueAnalysis& analysis = dsp_->analysis();
    for (const auto& n : analysis.montage_notices())
        notice(n);

    // The folder exists now, so OutputDir never removes it (raw.bdf lives there).
    out_ = std::make_unique<OutputDir>(s.out_dir);
    dsp_->open_outputs(*out_);
    const std::size_t analysed = analysis.labels().size();
    const std::size_t pairs = analysis.pairs().size();
    events_.open_epoch_lane([&](LiveEpoch& e) {
        e.mdf_hz.assign(analysed, 0.0);
        e.rms_uv.assign(analysed, 0.0);
        e.quality.assign(analysed, 0);
        e.ai_pct.assign(pairs, 0.0);
        e.slope_pct_per_s.assign(analysed, 0.0);
        e.slope_ci_low_pct_per_s.assign(analysed, 0.0);
        e.slope_ci_high_pct_per_s.assign(analysed, 0.0);
    });
    if (s.live != LiveMode::None) {
        subscribers_.push_back(std::make_unique<ViewSubscriber>(std::make_unique<LiveView>(
            *s.live_out, std::cerr,
            s.live == LiveMode::Terminal ? LiveView::Style::Terminal : LiveView::Style::Plain,
            fmt::format("semg capture {} ({}, {} ch @ {} Hz) -> {}", s.serial.port,
                        to_string(s.protocol.name), f.channels, f.fs, s.out_dir.string()),
            analysis.labels(), analysis.pairs(), STDOUT_FILENO)));
        events_.subscribe(*subscribers_.back());
    }
    if (s.dashboard) {
        InputFacts facts{std::filesystem::absolute(raw_path_), "computed when the capture ends",
                         info_};
        auto header = start_summary_json(facts, analysis);
        header["acquisition"] = {{"protocol", to_string(s.protocol.name)},
                                 {"port", s.serial.port},
                                 {"sample_rate_hz", f.fs}};
        dsp_->set_fits_input(std::move(facts));
        subscribers_.push_back(std::make_unique<DashboardSubscriber>(*s.dashboard));
        events_.subscribe(*subscribers_.back());
        subscribers_.back()->started(header);
    }
    recorder_->start();
    marks_.open(f.fs, [reader = reader_.get()] { return reader->frames_received(); });
    dsp_->start();
    start_marker_inputs();
    marks_changed_ = true;
}

// Running: until a stop condition. Returns the stop reason.
std::string CaptureSession::watch(bool& stalled) {
    last_health_.assign(subscribers_.size(), Clock::now());
    for (;;) {
        pump(std::chrono::milliseconds(100));
        show_live();
        show_marks(std::exchange(resized_, false));
        send_health();
        if (auto reason = stop_condition(stalled))
            return *reason;
    }
}

// The stop conditions, in order of precedence.
std::optional<std::string> CaptureSession::stop_condition(bool& stalled) {
    const auto& s = settings_;
    if (recorder_failed_)
        return "recording failed: " + recorder_error_;
    // The analysis failed: stop now rather than record on with a view that never moves (raw.bdf
    // keeps what came; the error is the run's result).
    if (dsp_failed_)
        return "analysis failed: " + dsp_error_;
    if (fatal_)
        return (rejected_ ? "stream rejected: " : "stream failed: ") + reader_fatal_;
    if (reader_->has_transport() && !device_ended_) {
        // A stall: the port is open but nothing comes (a device that hung, a cable with power
        // but no data). Said live at 1 s, the end at the stall timeout.
        const double silent_s = reader_->silence_s();
        if (silent_s > s.stall_timeout_s) {
            stalled = true;
            return fmt::format("stalled: no frame for {:.1f} s (--stall-timeout-s {})", silent_s,
                               s.stall_timeout_s);
        }
        if (silent_s >= 1.0 && !silence_told_) {
            ++stalls_;
            if (events_.wanted(Topic::Stalls)) {
                const auto h = health(); // at once
                for (auto* sub : events_.subscribers())
                    if (sub->wants(Topic::Stalls))
                        sub->stall(h);
            }
            notice(fmt::format("{}: no frame for {:.1f} s; the capture stops at {} s "
                               "(--stall-timeout-s)",
                               s.serial.port, silent_s, s.stall_timeout_s));
            silence_told_ = true;
        } else if (silent_s < 1.0 && silence_told_) {
            notice(fmt::format("{}: frames again (longest silence so far {:.1f} s)", s.serial.port,
                               reader_->longest_silence_s()));
            silence_told_ = false;
        }
    }
    if (limit_reached_)
        return stop_requests_ > 0 ? stop_reason_ : "duration";
    if (stop_requests_ > 0) {
        if (!stop_deadline_) {
            reader_->stop_at_next_second();
            stop_deadline_ = Clock::now() + std::chrono::seconds(2);
        }
        if (stop_requests_ > 1 || Clock::now() > *stop_deadline_)
            return stop_reason_;
    }
    if (device_ended_ && !reconnect())
        return "device gone (" + device_message_ + ")";
    return std::nullopt;
}

// Shut-down: every file closed, whatever the reason.
void CaptureSession::stop_workers(std::string& reason, bool& stalled) {
    pump(std::chrono::milliseconds(0));
    reader_->close(!device_ended_);
    stop_marker_inputs();
    pump(std::chrono::milliseconds(0)); // what the reader said before it stopped
    // The reader has stopped: its state is ours. A short stream of noise is rejected too.
    if (!rejected_) {
        if (auto why = reader_->check_fill_at_end()) {
            rejected_ = fatal_ = true;
            reader_fatal_ = *why;
            reason = "stream rejected: " + *why + " (at the end; it had " + reason + ")";
            stalled = false;
        }
    }
    reader_->flush();
    marks_.close_at_end(); // a contraction still going on ends with the recording
    reader_->close_rings();
    recorder_->join();
    marks_.close(); // nothing more reaches raw.bdf
    dsp_->join();
    pump(std::chrono::milliseconds(0)); // the workers' last failures and warnings
    show_live();
}

CaptureReport CaptureSession::report(const std::string& reason, bool stalled) {
    const auto& s = settings_;
    const StreamFormat& f = reader_->format();
    CaptureReport r;
    r.protocol = to_string(s.protocol.name);
    r.port = s.serial.port;
    r.sample_rate_hz = f.fs;
    r.labels = f.labels;
    r.frames = recorder_->frames();
    r.duration_s = static_cast<double>(r.frames) / f.fs;
    r.counters = reader_->final_counters();
    r.filled_samples = reader_->filled_frames();
    r.unfilled_samples = reader_->unfilled_frames();
    r.recorder_overrun_samples = reader_->recorder_overrun();
    r.dsp_overrun_samples = reader_->dsp_overrun();
    r.live_dropped_epochs = events_.epochs_dropped();
    r.clipped_samples = reader_->clipped();
    r.reconnects = reconnects_;
    r.stalls = stalls_;
    r.markers = marks_.markers();
    r.control_socket = control_listened_ ? s.control_socket.string() : std::string();
    r.control_refused = control_refused_;
    r.stall_timeout_s = s.stall_timeout_s;
    r.longest_silence_s = reader_->longest_silence_s();
    if (stalled)
        r.longest_silence_s = std::max(r.longest_silence_s, reader_->silence_s());
    r.stalled = stalled;
    r.stream_rejected = rejected_;
    r.stop_reason = reason;
    r.epoch_latency = dsp_->epoch_latency();
    r.processing_latency = dsp_->processing_latency();
    r.queue_latency = dsp_->queue_latency();
    r.analysis_delay_s = static_cast<double>(dsp_->analysis().ecg().delay_frames()) / f.fs;
    r.raw_path = raw_path_;
    auto last = health();
    last.stopped = true;
    show_marks(true);
    for (auto* sub : events_.subscribers())
        sub->stopped(last);
    if (s.dashboard) {
        r.dashboard_url = s.dashboard->url();
        r.dashboard = s.dashboard->stats();
    }
    if (r.clipped_samples > 0)
        warn(fmt::format("{} samples were beyond the raw.bdf range {:.0f}:{:.0f} uV and saved at "
                         "the rail (--range-uv)",
                         r.clipped_samples, f.grid->min_uv(), f.grid->max_uv()));
    std::optional<nlohmann::ordered_json> summary;
    write_results(r, summary);
    for (auto* sub : events_.subscribers())
        sub->finished(summary, r.results_error);
    if (s.dashboard)
        r.dashboard = s.dashboard->stats();
    return r;
}

// The result files, when the recorder and the analysis got through; else why not.
void CaptureSession::write_results(CaptureReport& r,
                                   std::optional<nlohmann::ordered_json>& summary) {
    if (recorder_failed_) {
        r.results_error = "raw recording failed: " + recorder_error_;
        return;
    }
    if (rejected_) {
        // Results of a stream that is not the protocol would be a wrong answer.
        r.results_error = r.stop_reason + "; no result files";
        return;
    }
    if (dsp_failed_) {
        r.results_error = "analysis failed: " + dsp_error_;
        return;
    }
    try {
        FatigueAnalysis& analysis = dsp_->finished_analysis();
        const AnalysisResult result = analysis.finish();
        if (!result.contraction_warning.empty())
            warn(result.contraction_warning);
        r.epochs = result.epochs;
        if (result.epochs == 0) {
            r.results_error =
                fmt::format("{} samples is shorter than one epoch ({} samples): no result files",
                            r.frames, analysis.analyzer().epoch_frames());
            return;
        }
        const InputFacts facts{
            std::filesystem::weakly_canonical(std::filesystem::absolute(raw_path_)),
            sha256_file(raw_path_), info_};
        auto j = summary_json(facts, analysis.settings(), result);
        j["acquisition"] = acquisition_json(r);
        out_->open("summary.json") << j.dump(2) << '\n';
        dsp_->close_outputs();
        out_->commit();
        r.results_written = true;
        r.result = result;
        summary = std::move(j);
    } catch (const std::exception& e) {
        r.results_error = e.what();
    }
}

// =============================================================================================
// Events

void CaptureSession::pump(std::chrono::milliseconds timeout) {
    events_.wait(timeout, batch_);
    for (const auto& e : batch_)
        apply(e);
}

void CaptureSession::apply(const CaptureEvent& e) {
    switch (e.kind) {
    case CaptureEventKind::FormatReady: // reader_->format_ready() says it
        break;
    case CaptureEventKind::ReaderFailed:
        fatal_ = true;
        reader_fatal_ = e.text;
        break;
    case CaptureEventKind::StreamRejected:
        fatal_ = rejected_ = true;
        reader_fatal_ = e.text;
        break;
    case CaptureEventKind::DeviceEnded:
        device_ended_ = true;
        device_message_ = e.text;
        break;
    case CaptureEventKind::LimitReached: limit_reached_ = true; break;
    case CaptureEventKind::RecorderFailed:
        recorder_failed_ = true;
        recorder_error_ = e.text;
        break;
    case CaptureEventKind::DspFailed:
        dsp_failed_ = true;
        dsp_error_ = e.text;
        break;
    case CaptureEventKind::Warning: warn(e.text); break;
    case CaptureEventKind::StopRequested:
        if (stop_requests_ == 0)
            stop_reason_ = e.text;
        ++stop_requests_;
        break;
    case CaptureEventKind::MarksChanged: marks_changed_ = true; break;
    case CaptureEventKind::Resized: resized_ = true; break;
    }
}

void CaptureSession::open_transport() {
    reader_->open();
    device_ended_ = false;
}

// The device is gone: keep what we have, try to reopen for reconnect_s.
bool CaptureSession::reconnect() {
    const auto& s = settings_;
    const std::string why = device_message_;
    const auto t0 = Clock::now();
    reader_->close(false);
    const double fs = reader_->format().fs;
    const double t_s = fs > 0.0 ? static_cast<double>(reader_->frames_received()) / fs : 0.0;
    if (reader_->format_ready())
        marks_.note_for_close(t_s, "device lost");
    if (s.reconnect_s <= 0.0)
        return false;
    // No transport runs now: the reader's state is ours until open_transport().
    reader_->begin_reconnect();
    notice(fmt::format("{}: device gone ({}); samples so far are kept; retrying for {:.1f} s",
                       s.serial.port, why, s.reconnect_s));
    while (std::chrono::duration<double>(Clock::now() - t0).count() < s.reconnect_s) {
        if (stop_requests_ > 0)
            return false;
        try {
            open_transport();
            ++reconnects_;
            const double away_s = std::chrono::duration<double>(Clock::now() - t0).count();
            if (reader_->format_ready())
                marks_.note_for_close(t_s, fmt::format("reconnected after {:.1f} s", away_s));
            notice(fmt::format("{}: reconnected after {:.1f} s{}", s.serial.port, away_s,
                               commands_.reconnect_loss_uncounted
                                   ? " (samples sent meanwhile are lost without a count)"
                                   : ""));
            return true;
        } catch (const acquisition::SerialError&) {
            pump(std::chrono::milliseconds(250));
        }
    }
    device_message_ = why;
    return false;
}

// Markers: the control socket and the keys, once everything they feed runs. Neither is
// essential to the recording: a failure is a warning.
void CaptureSession::start_marker_inputs() {
    const auto& s = settings_;
    if (!s.control_socket.empty()) {
        try {
            control_ = std::make_unique<ControlSocket>(
                s.control_socket, [this](const std::string& request) { return mark(request); });
            control_registration_ = TemporaryRegistration(s.control_socket);
            notice("markers from scripts: semg mark " + s.out_dir.string() +
                   " [--start|--stop|--note TEXT]");
        } catch (const std::exception& e) {
            warn(std::string("no control socket (semg mark): ") + e.what());
        }
    }
    if (s.keys && events_.wanted(Topic::Marks) && s.live == LiveMode::Terminal) {
        keys_ = TerminalKeys::open();
        if (keys_)
            keys_thread_ = std::jthread([this](std::stop_token st) { keys_main(st); });
    }
}

void CaptureSession::stop_marker_inputs() {
    keys_thread_ = std::jthread(); // joins: no key after this
    keys_.reset();                 // the terminal as it was
    if (control_) {
        control_listened_ = true;
        control_refused_ = control_->refused();
    }
    control_.reset(); // no request after this; the socket file is removed
    control_registration_.release();
}

// semg-keys: one key at a time into the marker book.
void CaptureSession::keys_main(std::stop_token stop) {
    acquisition::set_current_thread_name("semg-keys");
    while (!stop.stop_requested()) {
        const int key = keys_->read_key(100);
        if (key >= 0)
            marks_.key(key);
    }
}

// =============================================================================================
// Subscribers

void CaptureSession::show_live() {
    LiveEpoch e;
    while (events_.pop_epoch([&](const LiveEpoch& x) { e = x; }))
        if (events_.wanted(Topic::Epochs)) {
            const auto h = health();
            for (auto* sub : events_.subscribers())
                if (sub->wants(Topic::Epochs))
                    sub->epoch(e, h);
        }
}

void CaptureSession::show_marks(bool force) {
    if (!std::exchange(marks_changed_, false) && !force)
        return;
    if (!events_.wanted(Topic::Marks))
        return;
    const auto lines = marks_.take_new_lines();
    const auto m = marks_.live_marks(keys_ != nullptr);
    for (auto* sub : events_.subscribers())
        if (sub->wants(Topic::Marks))
            sub->marks(lines, m);
}

void CaptureSession::send_health() {
    const auto& subs = events_.subscribers();
    for (std::size_t i = 0; i < subs.size(); ++i) {
        const auto period = subs[i]->health_period();
        if (period.count() > 0 && Clock::now() - last_health_[i] >= period) {
            subs[i]->health(health());
            last_health_[i] = Clock::now();
        }
    }
}

CaptureHealth CaptureSession::health() {
    CaptureHealth h;
    const auto now = Clock::now();
    const double fs = reader_->format().fs;
    h.connected = reader_->has_transport() && !device_ended_;
    h.frames = reader_->frames_received();
    h.stream_s = fs > 0.0 ? static_cast<double>(h.frames) / fs : 0.0;
    rate_window_.emplace_back(now, h.frames);
    while (rate_window_.size() > 2 && now - rate_window_.front().first > std::chrono::seconds(3))
        rate_window_.pop_front();
    const double span_s = std::chrono::duration<double>(now - rate_window_.front().first).count();
    h.rate_hz =
        span_s > 0.2 ? static_cast<double>(h.frames - rate_window_.front().second) / span_s : 0.0;
    const auto k = reader_->counters();
    h.gaps = k.gaps;
    h.lost_samples = k.lost_samples;
    h.sync_losses = k.sync_losses;
    h.bad_checksums = k.bad_checksums;
    h.bad_lines = k.bad_lines;
    h.clipped_samples = reader_->clipped();
    h.overrun_samples = reader_->recorder_overrun() + reader_->dsp_overrun();
    if (fs > 0.0) {
        const std::uint64_t analysed = dsp_ ? dsp_->frames_done() : 0;
        h.dsp_lag_ms = static_cast<double>(h.frames - std::min(h.frames, analysed)) / fs * 1e3;
    }
    h.dsp_ring_pct = reader_->ring_pct(true);
    h.recorder_ring_pct = reader_->ring_pct(false);
    h.live_dropped = events_.epochs_dropped();
    if (h.connected)
        h.silent_s = reader_->silence_s();
    h.stalls = stalls_;
    return h;
}

// The messages go to the view while it runs (they must not tear its block), else to the log.
bool CaptureSession::to_subscribers(const std::string& message) {
    bool taken = false;
    for (auto* sub : events_.subscribers())
        if (sub->wants(Topic::Messages)) {
            sub->message(message);
            taken = true;
        }
    return taken;
}

void CaptureSession::warn(const std::string& text) {
    if (to_subscribers("semg: warning: " + text))
        return;
    if (settings_.warn)
        settings_.warn(text);
    else
        std::cerr << "semg: warning: " << text << '\n';
}

void CaptureSession::notice(const std::string& text) {
    if (to_subscribers("semg: " + text))
        return;
    if (settings_.notice)
        settings_.notice(text);
    else
        std::cerr << "semg: " << text << '\n';
}

} // namespace semg::pipeline
