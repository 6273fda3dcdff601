// Real-time capture from a serial device: `semg capture`. Design and guarantees: docs/capture.md
// ("Threads, rings and the event queue").
//
// Capture is a CaptureSession (pipeline/capture_session.hpp), which owns four objects, each in
// its own file with a header that says what it owns and which thread runs it:
//   CaptureReader   semg-serial (the SerialTransport's Asio I/O thread): bytes -> parser ->
//                   FrameAssembler -> BDF quantisation -> the two rings below. Never waits on the
//                   disk or the DSP except when a ring is full (bounded wait, then a counted loss).
//   CaptureDsp      semg-dsp: FatigueAnalysis on every sample (the same code as `semg analyze`),
//                   epochs.csv and pairs.csv rows, per-epoch latency, live epochs.
//   CaptureRecorder semg-recorder: raw.bdf through EdfWriter, lost samples filled with 0 µV and
//                   annotated.
//   CaptureMarks    the marker book: keys (semg-keys) and the control socket (semg-control) in,
//                   the recorder, the DSP worker and the session out.
//   CaptureSession  the caller's thread: start-up, stop conditions, reconnection, health, results.
// They talk only through the rings and one event queue (pipeline/capture_events.hpp): the workers
// post what happened (format known, device gone, limit reached, a failure, ...) and the session
// sleeps on it. The terminal view and the dashboard (optional, semg-dashboard; nothing waits
// for it) subscribe to that queue.
// Rings: reader -> DSP and reader -> recorder are bounded SPSC rings; the reader never drops
// silently (it waits up to block_wait, then counts the frames as an overrun, which the consumer
// fills with zeros and annotates). DSP -> live view (the queue's live lane) drops the oldest
// epoch and counts it.
//
// Online equals offline: samples are quantised onto the BDF grid of raw.bdf before the analysis
// sees them, so `semg analyze raw.bdf` analyses exactly the values the capture analysed.
#pragma once

#include "acquisition/protocols/protocol.hpp"
#include "acquisition/serial_port.hpp"
#include "pipeline/analysis.hpp"
#include "pipeline/dashboard.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace semg::pipeline {

// The 24-bit BDF grid of a physical range: the value EDFlib reads back after EdfWriter wrote a
// sample. Ranges are whole µV so that the 8-character header fields hold them exactly.
class BdfGrid {
public:
    static constexpr int digital_min = -8388608;
    static constexpr int digital_max = 8388607;
    BdfGrid(double physical_min_uv, double physical_max_uv); // throws std::invalid_argument
    float quantise(float uv) const noexcept;                 // clamps to the range
    bool clips(float uv) const noexcept { return !(uv >= min_uv_ && uv <= max_uv_); }
    double step_uv() const noexcept { return bit_uv_; }
    double min_uv() const noexcept { return min_uv_; }
    double max_uv() const noexcept { return max_uv_; }

private:
    double min_uv_, max_uv_;
    double scale_;     // digital steps per µV (EdfWriter)
    double bit_uv_;    // µV per digital step (EdfSource)
    double offset_uv_; // µV of digital 0 (EdfSource)
};

// Physical range of the raw recording for a protocol, in µV: the device's input range where the
// protocol fixes it (Cyton: ±4.5 V / gain; OpenEEG: the 10-bit range × scale), else ±100 mV.
std::pair<double, double> default_range_uv(const acquisition::ProtocolConfig& protocol);

enum class LiveMode { None, Plain, Terminal };

struct CaptureSettings {
    acquisition::SerialSettings serial;
    acquisition::ProtocolConfig protocol;
    AnalysisSettings analysis;
    std::vector<std::string> labels;              // channel names; empty: from the device
    std::optional<std::size_t> expected_channels; // the device must send this many
    std::filesystem::path out_dir;
    // The raw recording; empty: out_dir/raw.bdf. Its folder is created like out_dir.
    std::filesystem::path raw_path;
    std::optional<double> duration_s; // rounded up to whole seconds (BDF data records)
    double reconnect_s = 5.0;         // after the device disappears, keep trying this long
    double start_timeout_s = 10.0;    // no frame within this: wrong port, protocol or baud
    // After the first frame, no frame for this long while the port is open: the capture stops
    // (results for what arrived, raw.bdf closed) and reports the stall.
    double stall_timeout_s = 5.0;
    // A stream that is not the protocol (random bytes, wrong baud rate) must not become a
    // recording. It is rejected when this many sync failures (sync losses, bad checksums, bad
    // lines) come with no frame decoded between them ...
    std::uint64_t max_sync_failures = 100;
    // ... or when more than this share of the samples since the start (or since a reconnection)
    // is gap fill, once they make fill_min_stream_s of stream: random bytes that pass a weak
    // check (Cyton) carry random counters, so nearly every sample is fill.
    double max_fill_pct = 50.0;
    double fill_min_stream_s = 10.0;
    std::optional<std::pair<double, double>> range_uv; // raw.bdf physical range
    double dsp_ring_s = 4.0;                           // reader -> DSP ring, seconds of samples
    double recorder_ring_s = 10.0;              // reader -> recorder ring, seconds of samples
    std::chrono::milliseconds block_wait{2000}; // a full ring holds the reader this long
    double max_gap_fill_s = 60.0;               // longer counter gaps are filled up to this
    LiveMode live = LiveMode::Plain;
    std::ostream* live_out = nullptr; // default std::cout
    // Runs on the control thread once the stream's format is known, before the analysis is
    // prepared: montage files, MVC references. May throw (the capture then ends, nothing written).
    std::function<void(const acquisition::SourceInfo&, AnalysisSettings&)> configure;
    // Live dashboard, already listening (so that its errors come before the capture); not owned.
    // Gets the page at the first frame, every epoch's rows, health and the summary.
    DashboardServer* dashboard = nullptr;
    // Markers (docs/capture.md, "Markers"): a control socket at this path (empty: none) for
    // `semg mark`, and keys read from the controlling terminal (with the terminal view only).
    std::filesystem::path control_socket;
    bool keys = false;
    std::function<void(const std::string&)> warn;   // default: stderr
    std::function<void(const std::string&)> notice; // default: stderr
};

struct LatencyStats {
    std::size_t epochs = 0;
    double p50_ms = 0.0; // NaN without epochs
    double p99_ms = 0.0;
    double max_ms = 0.0;
};

struct CaptureReport {
    std::string protocol;
    std::string port;
    double sample_rate_hz = 0.0;
    std::vector<std::string> labels;
    std::uint64_t frames = 0;             // in raw.bdf (lost samples filled with zeros included)
    double duration_s = 0.0;              // frames / sample rate
    acquisition::ParserCounters counters; // summed over the whole session
    std::uint64_t filled_samples = 0;     // lost frames filled with zeros
    std::uint64_t unfilled_samples = 0;   // lost frames beyond max_gap_fill_s
    std::uint64_t recorder_overrun_samples = 0; // frames the recorder ring could not take
    std::uint64_t dsp_overrun_samples = 0;      // frames the DSP ring could not take
    std::uint64_t live_dropped_epochs = 0;
    std::uint64_t clipped_samples = 0; // beyond the raw.bdf range, saved at the rail
    std::uint64_t reconnects = 0;
    std::uint64_t stalls = 0; // times no frame came for 1 s or more while the port was open
    // Markers and marked contractions, as written to raw.bdf (onset and duration to 0.1 ms).
    std::vector<acquisition::Annotation> markers;
    std::string control_socket;        // its path, when it was listening
    std::uint64_t control_refused = 0; // clients of another uid
    double stall_timeout_s = 0.0;
    double longest_silence_s = 0.0; // longest wait for a frame while connected, after the first
    bool stalled = false;           // stopped by the stall timeout
    bool stream_rejected = false;   // stopped as not being the protocol: no result files
    // With a dashboard: its address, and its counts when the capture ended.
    std::optional<DashboardStats> dashboard;
    std::string dashboard_url;
    std::string stop_reason; // "duration", "interrupted (SIGINT)", "device gone (...)", ...
    // Last sample of an epoch read -> its rows written. Includes the analysis' fixed delay (with
    // --ecg template its ECG stage holds the stream back by 0.416 s) ...
    LatencyStats epoch_latency;
    // ... which this one leaves out: the read whose samples made the analysis emit the epoch ->
    // its rows written (what the capture's threads and the DSP cost).
    LatencyStats processing_latency;
    LatencyStats queue_latency; // the part of processing_latency before the DSP thread starts

    double analysis_delay_s =
        0.0; // the analysis' fixed delay (its ECG stage), part of epoch_latency
    std::filesystem::path raw_path; // raw.bdf
    bool results_written = false;   // epochs.csv, pairs.csv, summary.json
    std::string results_error;      // why not
    // The fits summary.json was written from (with results_written): the same terminal table
    // as `semg analyze` prints is made from it.
    std::optional<AnalysisResult> result;
    std::size_t epochs = 0;
};

// A killed capture (SIGKILL, power loss, a crash) leaves raw.bdf with every completed record and
// their count in the header (EdfWriter's durable mode), which `semg analyze` reads as it stands;
// captures of older versions left EDFlib's "-1", and a kill during a record's write leaves a
// count one behind the length, which other readers refuse. This sets the count from the file
// size and cuts a partial last record; the annotations (gaps), which EDFlib writes only when it
// closes the file, are lost. Returns the records kept.
// Throws acquisition::SourceError when the file has no EDF/BDF header.
std::uint64_t recover_raw_bdf(const std::filesystem::path& path);

// The `acquisition` object of summary.json.
nlohmann::ordered_json acquisition_json(const CaptureReport& report);

// Nothing usable was captured (no frame, or the setup failed before raw.bdf was opened).
class CaptureError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Capture {
public:
    explicit Capture(CaptureSettings settings); // throws std::invalid_argument
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // Runs the session on the calling thread and returns when it has stopped and every file is
    // closed. Throws acquisition::SerialError when the port cannot be opened at the start and
    // CaptureError when nothing usable was captured.
    CaptureReport run();
    // Thread-safe; the signal thread calls it. The first request ends the capture at the next
    // whole second of samples (so raw.bdf needs no padding; at most 2 s of waiting), a second
    // one at once.
    void request_stop(const std::string& reason);
    // Thread-safe: a marker request as the control socket takes it ("start", "stop", "toggle",
    // "mark [TEXT]"); returns "ok ..." or "error: ...".
    std::string mark(const std::string& request);
    // Thread-safe: the terminal changed size (SIGWINCH); the view redraws at once.
    void terminal_resized();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace semg::pipeline
