// The session of `semg capture`: start-up, the stop conditions, reconnection, shut-down and the
// report; the Capture class of pipeline/capture.hpp is this object.
//
// Thread: the caller's (run()). request_stop(), mark() and terminal_resized() are thread-safe:
// they post to the event queue or go to the marker book.
// Owns: the settings, the event queue, the marker book, the reader, the recorder and the DSP
// worker (made in that order, joined in the reverse), the result folder, the subscribers (the
// terminal view, the dashboard), the marker inputs (semg-keys thread, the semg-control socket)
// and the state the events tell it (stop requests, the device's end, failures, the frame limit):
// nothing of it is shared with another thread.
// It sleeps on the event queue (at most 100 ms, for the stall clock and the health ticks) and
// hands the live epochs, the markers and the health to the subscribers.
#pragma once

#include "pipeline/capture.hpp"
#include "pipeline/capture_control.hpp"
#include "pipeline/capture_dsp.hpp"
#include "pipeline/capture_events.hpp"
#include "pipeline/capture_marks.hpp"
#include "pipeline/capture_reader.hpp"
#include "pipeline/capture_recorder.hpp"
#include "pipeline/output_dir.hpp"
#include "pipeline/temp_cleanup.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace semg::pipeline {

class CaptureSession {
public:
    CaptureSession(CaptureSettings settings, DeviceCommands commands);
    ~CaptureSession(); // covers exceptions out of run(): stops the inputs, the port, the rings
    CaptureSession(const CaptureSession&) = delete;
    CaptureSession& operator=(const CaptureSession&) = delete;

    CaptureSettings& settings() noexcept { return settings_; }
    CaptureReport run();
    void request_stop(const std::string& reason) {
        events_.post(CaptureEventKind::StopRequested, reason);
    }
    std::string mark(const std::string& request) { return marks_.request(request); }
    void terminal_resized() { events_.post(CaptureEventKind::Resized); }

private:
    // ---- the steps of run() ----
    void open_port();
    void wait_for_format();
    void start_workers();
    void setup();
    std::string watch(bool& stalled);
    std::optional<std::string> stop_condition(bool& stalled);
    void stop_workers(std::string& reason, bool& stalled);
    CaptureReport report(const std::string& reason, bool stalled);
    void write_results(CaptureReport& r, std::optional<nlohmann::ordered_json>& summary);

    // ---- events and subscribers ----
    void pump(std::chrono::milliseconds timeout);
    void apply(const CaptureEvent& e);
    void open_transport();
    bool reconnect();
    void start_marker_inputs();
    void stop_marker_inputs();
    void keys_main(std::stop_token stop);
    void show_live();
    void show_marks(bool force);
    void send_health();
    CaptureHealth health();
    void warn(const std::string& text);
    void notice(const std::string& text);
    bool to_subscribers(const std::string& message);

    CaptureSettings settings_;
    CaptureEventQueue events_;
    CaptureMarks marks_;
    std::vector<std::unique_ptr<CaptureSubscriber>> subscribers_; // the view, the dashboard
    const DeviceCommands commands_;
    std::unique_ptr<CaptureReader> reader_;
    std::filesystem::path raw_path_;
    bool out_dir_created_ = false; // by this capture: removed again if the set-up fails
    acquisition::SourceInfo info_;
    std::unique_ptr<OutputDir> out_;
    std::unique_ptr<CaptureRecorder> recorder_;
    std::unique_ptr<CaptureDsp> dsp_;

    // What the events said (session thread only).
    std::vector<CaptureEvent> batch_;
    bool fatal_ = false, rejected_ = false;
    std::string reader_fatal_;
    bool device_ended_ = false;
    std::string device_message_;
    bool limit_reached_ = false;
    bool recorder_failed_ = false, dsp_failed_ = false;
    std::string recorder_error_, dsp_error_;
    int stop_requests_ = 0;
    std::string stop_reason_;
    bool marks_changed_ = false, resized_ = false;

    // Watching.
    std::uint64_t reconnects_ = 0;
    std::uint64_t stalls_ = 0;
    bool silence_told_ = false;
    std::optional<CaptureClock::time_point> stop_deadline_;
    std::vector<CaptureClock::time_point> last_health_; // per subscriber
    std::deque<std::pair<CaptureClock::time_point, std::uint64_t>> rate_window_;

    // Marker inputs: last, stopped before what they use.
    std::unique_ptr<TerminalKeys> keys_;
    std::jthread keys_thread_;
    std::unique_ptr<ControlSocket> control_;
    TemporaryRegistration control_registration_;
    bool control_listened_ = false;
    std::uint64_t control_refused_ = 0;
};

} // namespace semg::pipeline
