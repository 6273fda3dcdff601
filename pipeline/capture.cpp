#include "pipeline/capture.hpp"

#include "acquisition/edf.hpp"
#include "acquisition/protocol_source.hpp"
#include "acquisition/protocols/cyton.hpp"
#include "acquisition/protocols/openeeg.hpp"
#include "pipeline/capture_control.hpp"
#include "pipeline/capture_ring.hpp"
#include "pipeline/capture_view.hpp"
#include "pipeline/output_dir.hpp"
#include "pipeline/results.hpp"
#include "pipeline/temp_cleanup.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <limits>
#include <mutex>
#include <thread>

#include <unistd.h>

namespace semg::pipeline {

using Clock = std::chrono::steady_clock;
using acquisition::Annotation;

// ---------------------------------------------------------------------------------------------
// BDF grid
// ---------------------------------------------------------------------------------------------

BdfGrid::BdfGrid(double physical_min_uv, double physical_max_uv)
    : min_uv_(physical_min_uv), max_uv_(physical_max_uv) {
    auto header_exact = [](double v) {
        // EDF header fields are 8 ASCII characters: whole numbers of up to 7 digits and a sign.
        return std::isfinite(v) && v == std::round(v) && std::abs(v) <= 9999999.0;
    };
    if (!header_exact(min_uv_) || !header_exact(max_uv_) || !(min_uv_ < max_uv_))
        throw std::invalid_argument(fmt::format(
            "raw recording range {}:{} uV: need whole numbers MIN < MAX within +-9999999", min_uv_,
            max_uv_));
    // As EdfWriter::write computes the digital value ...
    scale_ = (digital_max - digital_min) / (max_uv_ - min_uv_);
    // ... and as EdfSource turns it back into µV (the round trip is tested bit for bit).
    bit_uv_ = (max_uv_ - min_uv_) / (digital_max - digital_min);
    offset_uv_ = min_uv_ - digital_min * bit_uv_;
}

float BdfGrid::quantise(float uv) const noexcept {
    const double v = std::isfinite(uv) ? static_cast<double>(uv) : 0.0;
    const double d = std::clamp<double>(std::round((v - min_uv_) * scale_) + digital_min,
                                        digital_min, digital_max);
    return static_cast<float>(d * bit_uv_ + offset_uv_);
}

std::pair<double, double> default_range_uv(const acquisition::ProtocolConfig& protocol) {
    using acquisition::Protocol;
    if (protocol.name == Protocol::Cyton || protocol.name == Protocol::CytonDaisy) {
        const double full = std::ceil(4.5 / protocol.cyton.gain * 1e6);
        return {-full, full};
    }
    if (protocol.name == Protocol::OpenEeg) {
        const auto& o = protocol.openeeg;
        const double a = std::abs((0.0 - o.offset_counts) * o.scale_uv_per_count);
        const double b =
            std::abs((acquisition::openeeg::max_counts - o.offset_counts) * o.scale_uv_per_count);
        const double full = std::max(1.0, std::ceil(std::max(a, b)));
        return {-full, full};
    }
    return {-100000.0, 100000.0};
}

// ---------------------------------------------------------------------------------------------
// Crash recovery
// ---------------------------------------------------------------------------------------------

std::uint64_t recover_raw_bdf(const std::filesystem::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    if (!f)
        throw acquisition::SourceError(path.string() + ": cannot open for repair");
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(f, &std::fclose);
    auto field = [&](long offset, std::size_t width) {
        std::string text(width, ' ');
        if (std::fseek(f, offset, SEEK_SET) != 0 || std::fread(text.data(), 1, width, f) != width)
            throw acquisition::SourceError(path.string() +
                                           ": not an EDF/BDF file (header too short)");
        return text;
    };
    auto number = [&](long offset, std::size_t width) {
        const std::string text = field(offset, width);
        try {
            return std::stoll(text);
        } catch (const std::exception&) {
            throw acquisition::SourceError(path.string() + ": not an EDF/BDF file (header field '" +
                                           text + "')");
        }
    };
    const bool bdf = static_cast<unsigned char>(field(0, 1)[0]) == 0xFF;
    const long long header_bytes = number(184, 8);
    const long long signals = number(252, 4);
    if (signals <= 0 || header_bytes != 256 * (signals + 1))
        throw acquisition::SourceError(path.string() +
                                       ": not an EDF/BDF file (inconsistent header)");
    long long record_bytes = 0;
    for (long long s = 0; s < signals; ++s)
        record_bytes += number(256 + signals * 216 + s * 8, 8) * (bdf ? 3 : 2);
    if (record_bytes <= 0)
        throw acquisition::SourceError(path.string() + ": no samples per record in the header");
    const auto size = static_cast<long long>(std::filesystem::file_size(path));
    const long long records = std::max(0LL, (size - header_bytes) / record_bytes);
    const std::string count = fmt::format("{:<8}", records);
    if (std::fseek(f, 236, SEEK_SET) != 0 || std::fwrite(count.data(), 1, 8, f) != 8)
        throw acquisition::SourceError(path.string() + ": cannot write the header");
    file.reset();
    std::filesystem::resize_file(
        path, static_cast<std::uintmax_t>(header_bytes + records * record_bytes));
    return static_cast<std::uint64_t>(records);
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

nlohmann::ordered_json acquisition_json(const CaptureReport& r) {
    auto number_or_null = [](double v) {
        return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
    };
    nlohmann::ordered_json j;
    j["protocol"] = r.protocol;
    j["port"] = r.port;
    j["sample_rate_hz"] = r.sample_rate_hz;
    j["frames"] = r.frames;
    j["duration_s"] = r.duration_s;
    j["lost_samples"] = r.counters.lost_samples;
    j["gaps"] = r.counters.gaps;
    j["sync_losses"] = r.counters.sync_losses;
    j["bad_checksums"] = r.counters.bad_checksums;
    j["bad_lines"] = r.counters.bad_lines;
    j["skipped_bytes"] = r.counters.skipped_bytes;
    j["bytes"] = r.counters.bytes;
    j["counter_resets"] = r.counters.counter_resets;
    j["format_mismatches"] = r.counters.format_mismatches;
    j["filled_samples"] = r.filled_samples;
    j["unfilled_samples"] = r.unfilled_samples;
    j["recorder_overrun_samples"] = r.recorder_overrun_samples;
    j["dsp_overrun_samples"] = r.dsp_overrun_samples;
    j["clipped_samples"] = r.clipped_samples;
    j["live_view_dropped_epochs"] = r.live_dropped_epochs;
    j["reconnects"] = r.reconnects;
    j["stalls"] = r.stalls;
    {
        auto markers = nlohmann::ordered_json::array();
        for (const auto& m : r.markers) {
            nlohmann::ordered_json x;
            x["onset_s"] = m.onset_s;
            x["duration_s"] = m.duration_s >= 0.0 ? nlohmann::ordered_json(m.duration_s)
                                                  : nlohmann::ordered_json();
            x["text"] = m.text;
            markers.push_back(std::move(x));
        }
        j["markers"] = std::move(markers);
        j["control_socket"] = r.control_socket.empty() ? nlohmann::ordered_json()
                                                       : nlohmann::ordered_json(r.control_socket);
        j["control_refused_clients"] = r.control_refused;
    }
    j["stall_timeout_s"] = r.stall_timeout_s;
    j["longest_silence_s"] = r.longest_silence_s;
    if (r.dashboard)
        j["dashboard"] = {{"url", r.dashboard_url},
                          {"clients_served", r.dashboard->clients_served},
                          {"epochs", r.dashboard->epochs},
                          {"dropped_epochs", r.dashboard->dropped_epochs},
                          {"dropped_updates", r.dashboard->dropped_updates},
                          {"stalled_clients", r.dashboard->stalled_clients},
                          {"refused_clients", r.dashboard->refused_clients}};
    j["stop_reason"] = r.stop_reason;
    j["epoch_latency_ms"] = {
        {"epochs", r.epoch_latency.epochs},
        {"p50", number_or_null(r.epoch_latency.p50_ms)},
        {"p99", number_or_null(r.epoch_latency.p99_ms)},
        {"max", number_or_null(r.epoch_latency.max_ms)},
        {"definition", "host time from the read that delivered an epoch's last sample to "
                       "the epoch's rows being written (includes the analysis' fixed delay)"}};
    j["analysis_delay_s"] = r.analysis_delay_s;
    j["processing_latency_ms"] = {
        {"p50", number_or_null(r.processing_latency.p50_ms)},
        {"p99", number_or_null(r.processing_latency.p99_ms)},
        {"max", number_or_null(r.processing_latency.max_ms)},
        {"definition", "host time from the read whose samples completed the epoch in the "
                       "analysis to the epoch's rows being written"}};
    j["queue_latency_ms"] = {
        {"p50", number_or_null(r.queue_latency.p50_ms)},
        {"p99", number_or_null(r.queue_latency.p99_ms)},
        {"max", number_or_null(r.queue_latency.max_ms)},
        {"definition", "host time from that read to the analysis thread starting on its samples "
                       "(rings and wake-up; the rest of processing_latency is the analysis)"}};
    j["raw"] = {
        {"path", r.raw_path.filename().string()},
        {"format", "bdf+"},
        {"lost_samples", "filled with 0 uV and annotated 'gap N samples'"},
        {"quantisation",
         "the analysis saw the samples on the BDF grid, as `semg analyze` reads them back"}};
    return j;
}

namespace {

// Per-epoch latency, 0.05 ms bins up to 2 s: no allocation on the DSP thread.
class LatencyHistogram {
public:
    void add(double ms) noexcept {
        ++count_;
        max_ = std::max(max_, ms);
        const auto bin = static_cast<std::size_t>(std::max(0.0, ms) / kBinMs);
        ++bins_[std::min(bin, bins_.size() - 1)];
    }
    LatencyStats stats() const {
        LatencyStats s;
        s.epochs = count_;
        const double nan = std::numeric_limits<double>::quiet_NaN();
        s.p50_ms = count_ ? quantile(0.50) : nan;
        s.p99_ms = count_ ? quantile(0.99) : nan;
        s.max_ms = count_ ? max_ : nan;
        return s;
    }

private:
    static constexpr double kBinMs = 0.05;
    double quantile(double q) const {
        const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(count_)));
        std::size_t seen = 0;
        for (std::size_t b = 0; b < bins_.size(); ++b) {
            seen += bins_[b];
            if (seen >= std::max<std::size_t>(rank, 1))
                return std::min((static_cast<double>(b) + 1) * kBinMs, max_);
        }
        return max_;
    }
    std::vector<std::uint32_t> bins_ = std::vector<std::uint32_t>(40000, 0);
    std::size_t count_ = 0;
    double max_ = 0.0;
};

struct RawSlot {
    std::uint64_t first_frame = 0;
    std::size_t frames = 0;
    std::uint64_t lost_frames = 0;
    std::uint64_t filled_frames = 0;
    Clock::time_point arrival{};
    std::vector<float> samples; // planar, channels × slot capacity
};

std::size_t next_pow2(std::size_t v) {
    std::size_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

std::string start_commands(acquisition::Protocol protocol) {
    return std::string(acquisition::traits(protocol).start_commands);
}

std::string stop_commands(acquisition::Protocol protocol) {
    return std::string(acquisition::traits(protocol).stop_commands);
}

// EDFlib keeps one annotation per data record (the rest would be dropped silently at close):
// merge gap annotations that fall into the same window, doubling the window until they fit.
// A merged annotation keeps the counts: "gaps K, N samples".
void fit_annotations(std::vector<Annotation>& notes, std::size_t budget) {
    std::stable_sort(notes.begin(), notes.end(), [](const Annotation& a, const Annotation& b) {
        return a.onset_s < b.onset_s;
    });
    auto gap_counts = [](const Annotation& a, unsigned long long& events,
                         unsigned long long& samples) {
        if (std::sscanf(a.text.c_str(), "gaps %llu, %llu samples", &events, &samples) == 2)
            return true;
        events = 1;
        return std::sscanf(a.text.c_str(), "gap %llu samples", &samples) == 1;
    };
    for (double window_s = 1.0; notes.size() > budget && window_s < 1e7; window_s *= 2.0) {
        std::vector<Annotation> merged;
        std::vector<Annotation> group;
        unsigned long long group_events = 0, group_samples = 0;
        auto close_group = [&] {
            if (group.empty())
                return;
            if (group.size() == 1) {
                merged.push_back(group.front());
            } else {
                const double start = group.front().onset_s;
                double end = start;
                for (const auto& g : group)
                    end = std::max(end, g.onset_s + std::max(0.0, g.duration_s));
                merged.push_back({start, end - start,
                                  fmt::format("gaps {}, {} samples", group_events, group_samples)});
            }
            group.clear();
            group_events = group_samples = 0;
        };
        for (const auto& a : notes) {
            unsigned long long events = 0, samples = 0;
            if (!gap_counts(a, events, samples)) {
                close_group();
                merged.push_back(a);
                continue;
            }
            if (!group.empty() &&
                std::floor(a.onset_s / window_s) != std::floor(group.front().onset_s / window_s))
                close_group();
            group.push_back(a);
            group_events += events;
            group_samples += samples;
        }
        close_group();
        notes = std::move(merged);
    }
    if (notes.size() > budget)
        notes.resize(budget);
}

} // namespace

// ---------------------------------------------------------------------------------------------
// The session
// ---------------------------------------------------------------------------------------------

struct Capture::Impl {
    explicit Impl(CaptureSettings s) : settings(std::move(s)) {}

    CaptureSettings settings;

    // ---- control <- everyone: wake-ups ----
    std::mutex mutex;
    std::condition_variable cv;
    bool event = false;
    std::string stop_reason;    // guarded by mutex
    std::string device_message; // guarded by mutex
    std::string reader_fatal;   // guarded by mutex
    std::atomic<int> stop_requests{0};
    std::atomic<bool> stop_at_second{false};
    std::atomic<bool> device_ended{false};
    std::atomic<bool> fatal{false};

    void notify() {
        {
            std::lock_guard lock(mutex);
            event = true;
        }
        cv.notify_one();
    }
    void wait_event(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex);
        cv.wait_for(lock, timeout, [&] { return event; });
        event = false;
    }

    // ---- reader (I/O thread; the control thread only while no transport runs) ----
    std::unique_ptr<acquisition::Parser> parser;
    std::unique_ptr<acquisition::FrameAssembler> assembler;
    std::unique_ptr<acquisition::SerialTransport> transport;
    Clock::time_point read_time{};
    bool second_limit_set = false;
    std::uint64_t clipped_local = 0;
    // Is this the protocol at all, and is it still coming (see check_stream)?
    std::uint64_t seen_failures = 0, seen_frames = 0, failure_streak = 0;
    bool fill_baseline_pending = false; // after a reconnection: the next frames set the baseline
    std::uint64_t fill_base_frames = 0, fill_base_lost = 0;
    Clock::time_point last_frame_read{};
    std::atomic<double> longest_silence_s{0.0};  // written by the reader only
    std::atomic<Clock::rep> last_frame_ticks{0}; // last_frame_read, for the control thread
    std::atomic<bool> stream_rejected{false};

    // Format: written by the reader before format_ready (release), read after it (acquire).
    std::atomic<bool> format_ready{false};
    double fs = 0.0;
    std::size_t channels = 0;
    std::size_t slot_frames = 0;
    std::vector<std::string> labels;
    std::optional<BdfGrid> grid;
    std::unique_ptr<SpscRing<RawSlot>> dsp_ring;
    std::unique_ptr<SpscRing<RawSlot>> recorder_ring;

    std::atomic<std::uint64_t> stop_at_frame{std::numeric_limits<std::uint64_t>::max()};
    std::atomic<bool> limit_reached{false};
    std::atomic<std::uint64_t> frames_received{0};
    std::atomic<std::uint64_t> recorder_overrun{0};
    std::atomic<std::uint64_t> dsp_overrun{0};
    std::atomic<std::uint64_t> clipped{0};
    std::mutex counters_mutex;
    acquisition::ParserCounters counters; // guarded by counters_mutex

    // ---- DSP thread ----
    std::optional<FatigueAnalysis> analysis;
    std::optional<EpochsCsvWriter> epochs_csv;
    std::optional<PairsCsvWriter> pairs_csv;
    std::unique_ptr<DropOldestRing<LiveEpoch>> live;
    LatencyHistogram latency; // last input sample of the epoch read -> epoch emitted
    // The read whose samples made the analysis emit the epoch -> the epoch emitted ...
    LatencyHistogram processing_latency;
    // ... -> the DSP thread starting on those samples (the rings and the wake-up only).
    LatencyHistogram queue_latency;
    Clock::time_point current_arrival{};
    Clock::time_point current_start{};
    // When the reads that delivered recent samples arrived: (end frame of a slot, arrival).
    // The analysis may hold samples back (its ECG stage delays the stream by a fixed amount),
    // so an epoch's last sample can lie some slots back.
    std::vector<std::pair<std::uint64_t, Clock::time_point>> arrivals =
        std::vector<std::pair<std::uint64_t, Clock::time_point>>(8192);
    std::uint64_t arrivals_count = 0;
    bool flushing = false; // the end: no latency for the epochs pushed out by flush()
    std::atomic<std::uint64_t> dsp_frames{0};
    std::atomic<bool> dsp_failed{false};
    std::string dsp_error; // written by the DSP thread before dsp_failed
    std::jthread dsp_thread;

    // ---- recorder thread ----
    std::unique_ptr<acquisition::EdfWriter> writer;
    std::vector<Annotation> annotations; // recorder thread
    std::mutex extra_mutex;
    std::vector<Annotation> extra_annotations; // control -> recorder
    std::atomic<std::uint64_t> recorder_frames{0};
    std::atomic<bool> recorder_failed{false};
    std::string recorder_error; // written by the recorder before recorder_failed
    std::jthread recorder_thread;

    // ---- control ----
    std::unique_ptr<OutputDir> out;
    std::unique_ptr<LiveView> view;
    std::filesystem::path raw_path;
    bool out_dir_created = false;              // by this capture: removed again if the set-up fails
    std::optional<InputFacts> dashboard_facts; // the input as the dashboard's summaries give it
    std::uint64_t dsp_epochs = 0, fits_published = 0; // DSP thread
    acquisition::SourceInfo info;
    std::uint64_t reconnects = 0;
    std::atomic<std::uint64_t> stalls{0};
    std::deque<std::pair<Clock::time_point, std::uint64_t>> rate_window;

    // ---- markers: keys (semg-keys), the socket (semg-control) -> recorder, DSP, view ----
    // Times are whole 0.1 ms units of the stream (frames received when the marker came, floored):
    // raw.bdf's annotations hold them exactly, so the live analysis and a later `semg analyze`
    // see the same contraction boundaries.
    struct RecorderMark {
        bool update = false; // set the duration of mark `key`
        std::size_t key = 0;
        Annotation note;
    };
    std::mutex marks_mutex;
    std::vector<RecorderMark> recorder_marks;           // guarded; taken by the recorder
    std::vector<std::pair<double, double>> dsp_marks;  // guarded; taken by the DSP thread
    std::optional<std::pair<std::uint64_t, std::size_t>> open_mark; // start units, key
    std::size_t next_mark_key = 0;
    std::vector<Annotation> markers;       // guarded: as written (the report)
    std::vector<std::string> recent_marks; // guarded: for the view
    std::vector<std::string> new_mark_lines; // guarded: for the plain view
    bool typing = false;                   // guarded: `m` pressed, note being typed
    std::string typed;
    std::uint64_t typing_units = 0;
    std::atomic<bool> marks_changed{false};
    std::atomic<bool> resized{false};
    std::vector<std::size_t> live_ids; // recorder thread: key -> EdfWriter live annotation id
    std::unique_ptr<TerminalKeys> keys;
    std::jthread keys_thread;
    std::unique_ptr<ControlSocket> control; // last: stopped before what its handler uses
    TemporaryRegistration control_registration;
    bool control_listened = false;
    std::uint64_t control_refused = 0;

    // =========================================================================================
    // Messages

    void warn(const std::string& text) {
        if (view)
            view->message("semg: warning: " + text);
        else if (settings.warn)
            settings.warn(text);
        else
            std::cerr << "semg: warning: " << text << '\n';
    }
    void notice(const std::string& text) {
        if (view)
            view->message("semg: " + text);
        else if (settings.notice)
            settings.notice(text);
        else
            std::cerr << "semg: " << text << '\n';
    }

    // =========================================================================================
    // Reader side

    void on_bytes(std::span<const std::uint8_t> bytes) {
        read_time = Clock::now();
        parser->feed(bytes, *assembler);
        assembler->flush(); // a frame never waits for the next read
        check_stream(parser->counters());
        std::lock_guard lock(counters_mutex);
        counters = parser->counters();
    }

    void mark_frame_time(Clock::time_point t) {
        last_frame_read = t;
        last_frame_ticks.store(t.time_since_epoch().count(), std::memory_order_release);
    }

    // Host time since the last frame arrived; 0 before the first.
    double silence_s() const {
        const auto ticks = last_frame_ticks.load(std::memory_order_acquire);
        if (ticks == 0)
            return 0.0;
        return std::chrono::duration<double>(Clock::now() -
                                             Clock::time_point(Clock::duration(ticks)))
            .count();
    }

    // Bytes that are not the protocol (random data, a wrong baud rate) still pass its checks
    // now and then, so they do not stop at the start timeout: they make a recording of noise and
    // fill. Two signs reject the stream (docs/capture.md, "Stopping"): sync failures in a row
    // with no frame between them (text lines, checksummed frames), and a recording that is
    // mostly gap fill (Cyton, whose 8-bit counter makes every false packet a gap).
    void check_stream(const acquisition::ParserCounters& k) {
        const std::uint64_t failures = k.sync_losses + k.bad_checksums + k.bad_lines;
        const bool frames = k.frames > seen_frames;
        if (frames) {
            // Per read: a read that decoded a frame ends the run of failures.
            failure_streak = 0;
            if (last_frame_read != Clock::time_point{})
                longest_silence_s.store(
                    std::max(longest_silence_s.load(),
                             std::chrono::duration<double>(read_time - last_frame_read).count()));
            mark_frame_time(read_time);
            if (fill_baseline_pending) {
                // The first frames after a reconnection reveal the outage as one gap: a device
                // that kept counting, not a sign of a wrong stream.
                fill_baseline_pending = false;
                fill_base_frames = k.frames;
                fill_base_lost = k.lost_samples;
            }
        } else {
            failure_streak += failures - seen_failures;
        }
        seen_failures = failures;
        seen_frames = k.frames;
        const std::string hint =
            fmt::format("is the device sending {} data? check --protocol and --baud",
                        to_string(settings.protocol.name));
        if (failure_streak >= settings.max_sync_failures) {
            reject(fmt::format("{} sync failures (sync losses, bad checksums, bad lines) with no "
                               "frame between them (--max-sync-failures {}): {}",
                               failure_streak, settings.max_sync_failures, hint));
            return;
        }
        check_fill(k, settings.fill_min_stream_s);
    }

    // The gap-fill share since the start or the last reconnection, once the stream holds
    // min_stream_s of samples (the reader), and at the end of the capture whatever its length:
    // slower noise can stall before it makes fill_min_stream_s.
    void check_fill(const acquisition::ParserCounters& k, double min_stream_s) {
        const double rate_hz = parser->sample_rate_hz();
        if (fill_baseline_pending || !(rate_hz > 0.0))
            return;
        const std::uint64_t lost = k.lost_samples - fill_base_lost;
        const std::uint64_t total = k.frames - fill_base_frames + lost;
        if (total > 0 && static_cast<double>(total) >= min_stream_s * rate_hz &&
            100.0 * static_cast<double>(lost) > settings.max_fill_pct * static_cast<double>(total))
            reject(fmt::format("{:.1f} % of the {:.1f} s of stream is gap fill (--max-fill-pct "
                               "{}): the sample counter jumps at random; is the device sending "
                               "{} data? check --protocol and --baud",
                               100.0 * static_cast<double>(lost) / static_cast<double>(total),
                               static_cast<double>(total) / rate_hz, settings.max_fill_pct,
                               to_string(settings.protocol.name)));
    }

    void reject(const std::string& why) {
        if (stream_rejected.exchange(true))
            return;
        {
            std::lock_guard lock(mutex);
            reader_fatal = why;
        }
        fatal = true;
        notify();
    }

    void on_end(const std::error_code& ec) {
        {
            std::lock_guard lock(mutex);
            device_message = ec.message();
        }
        device_ended = true;
        notify();
    }

    void on_format(std::size_t n) {
        try {
            fs = parser->sample_rate_hz();
            if (!(fs > 0.0) || !std::isfinite(fs))
                throw CaptureError("the " + std::string(parser->name()) +
                                   " stream gives no sample rate");
            if (fs != std::round(fs))
                throw CaptureError(
                    fmt::format("the device sends {} Hz: raw.bdf needs a whole number of samples "
                                "per second",
                                fs));
            if (settings.expected_channels && *settings.expected_channels != n)
                throw CaptureError(fmt::format("the device sends {} channels, --channels says {}",
                                               n, *settings.expected_channels));
            labels = settings.labels.empty() ? parser->channel_labels() : settings.labels;
            if (labels.size() != n)
                throw CaptureError(
                    fmt::format("{} labels given for {} channels", labels.size(), n));
            for (auto& l : labels)
                if (l.size() > 16)
                    l.resize(16); // the EDF label field
            channels = n;
            const auto range = settings.range_uv.value_or(default_range_uv(settings.protocol));
            grid.emplace(range.first, range.second);
            // About 5 ms of frames per slot: reads of a fast stream fill it, one frame of a
            // 250 Hz stream does not waste much.
            slot_frames = std::clamp<std::size_t>(
                next_pow2(static_cast<std::size_t>(std::ceil(fs * 0.005))), 4, 1024);
            assembler->set_block_frames(slot_frames);
            assembler->set_max_gap_fill_frames(
                static_cast<std::uint64_t>(settings.max_gap_fill_s * fs));
            auto slots_for = [&](double seconds) {
                // Twice the nominal count: slots of small reads are only partly filled.
                return std::max<std::size_t>(
                    64, static_cast<std::size_t>(
                            std::ceil(seconds * fs / static_cast<double>(slot_frames))) *
                            2);
            };
            const auto init = [this](RawSlot& s) {
                s.samples.assign(channels * slot_frames, 0.0f);
            };
            dsp_ring = std::make_unique<SpscRing<RawSlot>>(slots_for(settings.dsp_ring_s), init);
            recorder_ring =
                std::make_unique<SpscRing<RawSlot>>(slots_for(settings.recorder_ring_s), init);
            if (settings.duration_s) {
                const double whole_s = std::ceil(*settings.duration_s - 1e-9);
                stop_at_frame = static_cast<std::uint64_t>(std::max(1.0, whole_s) * fs);
            }
            mark_frame_time(read_time); // the stall clock starts with the first frame
            format_ready.store(true, std::memory_order_release);
        } catch (const std::exception& e) {
            {
                std::lock_guard lock(mutex);
                reader_fatal = e.what();
            }
            fatal = true;
        }
        notify();
    }

    bool push(SpscRing<RawSlot>& ring, const acquisition::AssembledBlock& b, std::size_t n,
              std::atomic<std::uint64_t>& overrun) {
        RawSlot* slot = ring.try_claim();
        if (!slot) {
            // Never drop silently: wait for the consumer (the kernel buffers the port meanwhile),
            // and only then count the frames as lost for this consumer.
            const auto deadline = Clock::now() + settings.block_wait;
            while (!(slot = ring.try_claim()) && Clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        if (!slot) {
            overrun += n;
            return false;
        }
        slot->first_frame = b.first_frame;
        slot->frames = n;
        slot->lost_frames = b.lost_frames;
        slot->filled_frames = b.filled_frames;
        slot->arrival = read_time;
        for (std::size_t c = 0; c < channels; ++c)
            std::copy_n(b.samples.channel(c), n, slot->samples.data() + c * slot_frames);
        ring.publish();
        return true;
    }

    void on_block(const acquisition::AssembledBlock& b) {
        if (!format_ready.load(std::memory_order_relaxed) || fatal)
            return;
        if (stop_at_second && !second_limit_set) {
            // The reader computes the whole-second limit from its own position, so no frame
            // already handed on can lie beyond it.
            const auto fs_frames = static_cast<std::uint64_t>(fs);
            const std::uint64_t limit = (b.first_frame + fs_frames - 1) / fs_frames * fs_frames;
            stop_at_frame = std::min(stop_at_frame.load(), limit);
            second_limit_set = true;
        }
        const std::uint64_t limit = stop_at_frame.load();
        if (b.first_frame >= limit) {
            if (!limit_reached.exchange(true))
                notify();
            return;
        }
        const auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>(b.samples.frames, limit - b.first_frame));
        for (std::size_t c = 0; c < channels; ++c) {
            float* x = b.samples.channel(c);
            for (std::size_t i = 0; i < n; ++i) {
                if (grid->clips(x[i]))
                    ++clipped_local;
                x[i] = grid->quantise(x[i]);
            }
        }
        clipped.store(clipped_local, std::memory_order_relaxed);
        // Received before it is handed on: the DSP thread, which takes the marker horizon from
        // this, never sees a sample beyond it.
        frames_received.store(b.first_frame + n);
        push(*recorder_ring, b, n, recorder_overrun);
        push(*dsp_ring, b, n, dsp_overrun);
        if (b.first_frame + n >= limit && !limit_reached.exchange(true))
            notify();
    }

    // =========================================================================================
    // DSP thread

    // Arrival of the read that delivered frame `frame`; the oldest remembered if it is older.
    Clock::time_point arrival_of(std::uint64_t frame) const noexcept {
        const std::size_t cap = arrivals.size();
        const std::uint64_t kept = std::min<std::uint64_t>(arrivals_count, cap);
        Clock::time_point t = current_arrival;
        for (std::uint64_t k = 0; k < kept; ++k) {
            const auto& [end, when] = arrivals[(arrivals_count - 1 - k) % cap];
            if (end <= frame)
                break;
            t = when;
        }
        return t;
    }

    void on_epoch(const dsp::EpochFrame& f, const EpochDerived& d) {
        epochs_csv->write(f, d);
        if (pairs_csv)
            pairs_csv->write(f, d);
        ++dsp_epochs;
        if (settings.dashboard)
            settings.dashboard->publish_epoch(f.index, epochs_csv->last_rows(),
                                              pairs_csv ? std::string_view(pairs_csv->last_rows())
                                                        : std::string_view());
        const auto now = Clock::now();
        const auto end_frame = static_cast<std::uint64_t>(std::llround(f.t_end_s * fs));
        const double ms = std::chrono::duration<double, std::milli>(
                              now - arrival_of(end_frame > 0 ? end_frame - 1 : 0))
                              .count();
        if (!flushing) {
            latency.add(ms);
            processing_latency.add(
                std::chrono::duration<double, std::milli>(now - current_arrival).count());
            queue_latency.add(
                std::chrono::duration<double, std::milli>(current_start - current_arrival).count());
        }
        // The view's running fits: the current contraction's MDF line so far (after the
        // latency is taken: this is the costlier part).
        const ContractionResult* current = nullptr;
        std::optional<AnalysisResult> snap;
        if (settings.live != LiveMode::None) {
            snap = analysis->snapshot();
            if (!snap->contractions.empty() &&
                snap->contraction_source.rfind("whole recording", 0) != 0)
                current = &snap->contractions.back();
        }
        const double nan = std::numeric_limits<double>::quiet_NaN();
        live->push([&](LiveEpoch& e) {
            e.contraction_start_s = current ? current->start_s : nan;
            e.contraction_end_s = current ? current->end_s : nan;
            for (std::size_t c = 0; c < e.slope_pct_per_s.size(); ++c) {
                const LinearFit* fit = current && c < current->channels.size()
                                           ? &current->channels[c].mdf
                                           : nullptr;
                const double scale = fit ? 100.0 / fit->initial : nan;
                e.slope_pct_per_s[c] = fit ? fit->slope_pct_per_s : nan;
                e.slope_ci_low_pct_per_s[c] = fit ? fit->slope_ci95[0] * scale : nan;
                e.slope_ci_high_pct_per_s[c] = fit ? fit->slope_ci95[1] * scale : nan;
            }
            e.index = f.index;
            e.t_start_s = f.t_start_s;
            e.t_end_s = f.t_end_s;
            for (std::size_t c = 0; c < f.channels.size() && c < e.mdf_hz.size(); ++c) {
                e.mdf_hz[c] = f.channels[c].mdf_hz;
                e.rms_uv[c] = f.channels[c].rms_uv;
                e.quality[c] = f.channels[c].quality;
            }
            for (std::size_t p = 0; p < e.ai_pct.size() && p < d.ai_pct.size(); ++p)
                e.ai_pct[p] = d.ai_pct[p];
            e.latency_ms = ms;
        });
    }

    // The dashboard's fits, every kFitsEpochs epochs (5 s at the default hop), after the epoch's
    // rows and latency are done.
    static constexpr std::uint64_t kFitsEpochs = 10;
    void publish_fits() {
        if (!settings.dashboard || dsp_epochs < fits_published + kFitsEpochs)
            return;
        fits_published = dsp_epochs;
        settings.dashboard->publish_fits(summary_json(*dashboard_facts, analysis->settings(), analysis->snapshot()));
    }

    void dsp_main() {
        acquisition::set_current_thread_name("semg-dsp");
        dsp::Block zeros(channels, slot_frames);
        const float zero = grid->quantise(0.0f);
        for (std::size_t c = 0; c < channels; ++c)
            std::fill_n(zeros.channel(c), slot_frames, zero);
        const EpochObserver observer = [this](const dsp::EpochFrame& f, const EpochDerived& d) {
            on_epoch(f, d);
        };
        std::uint64_t expected = 0;
        for (;;) {
            RawSlot* s = dsp_ring->wait_front(std::chrono::milliseconds(200));
            if (!s) {
                if (dsp_ring->closed() && !dsp_ring->front())
                    break;
                continue;
            }
            if (!dsp_failed) {
                try {
                    take_dsp_marks();
                    current_start = Clock::now();
                    current_arrival = s->arrival;
                    arrivals[arrivals_count++ % arrivals.size()] = {s->first_frame + s->frames,
                                                                    s->arrival};
                    // An overrun of this ring: analyse zeros, as the recorder writes them.
                    if (s->first_frame > expected)
                        analysis->note_gap(s->first_frame - expected);
                    while (s->first_frame > expected) {
                        const auto n = static_cast<std::size_t>(
                            std::min<std::uint64_t>(slot_frames, s->first_frame - expected));
                        zeros.set_frames(n);
                        analysis->process(zeros.cref(), observer);
                        expected += n;
                    }
                    // A device gap: the block starts with the zeros that fill it.
                    if (s->lost_frames > 0)
                        analysis->note_gap(s->lost_frames);
                    analysis->process(
                        dsp::ConstBlockRef(s->samples.data(), s->frames, channels, slot_frames),
                        observer);
                    publish_fits();
                } catch (const std::exception& e) {
                    dsp_error = e.what();
                    dsp_failed = true;
                    notify();
                }
            }
            expected = s->first_frame + s->frames;
            dsp_frames.store(expected);
            dsp_ring->pop();
        }
        // The analysis holds its delay's worth of samples: push them through, so that the
        // last epochs reach epochs.csv as they do in `semg analyze`.
        if (!dsp_failed) {
            try {
                flushing = true;
                take_dsp_marks();
                analysis->flush(observer);
            } catch (const std::exception& e) {
                dsp_error = e.what();
                dsp_failed = true;
            }
        }
    }

    // =========================================================================================
    // Recorder thread

    void take_extra_annotations() {
        std::lock_guard lock(extra_mutex);
        annotations.insert(annotations.end(), extra_annotations.begin(), extra_annotations.end());
        extra_annotations.clear();
    }

    void recorder_main() {
        acquisition::set_current_thread_name("semg-recorder");
        dsp::Block zeros(channels, slot_frames);
        const float zero = grid->quantise(0.0f);
        for (std::size_t c = 0; c < channels; ++c)
            std::fill_n(zeros.channel(c), slot_frames, zero);
        std::uint64_t expected = 0;
        auto last_flush = Clock::now();
        for (;;) {
            RawSlot* s = recorder_ring->wait_front(std::chrono::milliseconds(250));
            if (!recorder_failed) {
                try {
                    take_recorder_marks();
                } catch (const std::exception& e) {
                    recorder_error = e.what();
                    recorder_failed = true;
                    notify();
                }
            }
            if (s) {
                if (!recorder_failed) {
                    try {
                        if (s->first_frame > expected) {
                            const std::uint64_t missing = s->first_frame - expected;
                            annotations.push_back(
                                {static_cast<double>(expected) / fs,
                                 static_cast<double>(missing) / fs,
                                 fmt::format("gap {} samples (overrun)", missing)});
                            for (std::uint64_t left = missing; left > 0;) {
                                const auto n = static_cast<std::size_t>(
                                    std::min<std::uint64_t>(left, slot_frames));
                                zeros.set_frames(n);
                                writer->write(zeros.cref());
                                left -= n;
                            }
                        }
                        if (s->lost_frames > 0) {
                            const std::string text =
                                s->filled_frames == s->lost_frames
                                    ? fmt::format("gap {} samples", s->lost_frames)
                                    : fmt::format("gap {} samples ({} filled)", s->lost_frames,
                                                  s->filled_frames);
                            annotations.push_back({static_cast<double>(s->first_frame) / fs,
                                                   static_cast<double>(s->filled_frames) / fs,
                                                   text});
                        }
                        writer->write(dsp::ConstBlockRef(s->samples.data(), s->frames, channels,
                                                         slot_frames));
                    } catch (const std::exception& e) {
                        recorder_error = e.what();
                        recorder_failed = true;
                        notify();
                    }
                }
                expected = s->first_frame + s->frames;
                recorder_frames.store(expected);
                recorder_ring->pop();
            } else if (recorder_ring->closed() && !recorder_ring->front()) {
                break;
            }
            if (Clock::now() - last_flush >= std::chrono::seconds(1)) {
                // EdfWriter (durable) pushes each record and its count to the kernel as the
                // record completes; this catches anything else buffered in stdio.
                std::fflush(nullptr);
                take_extra_annotations();
                last_flush = Clock::now();
            }
        }
        take_extra_annotations();
        if (recorder_failed)
            return;
        try {
            take_recorder_marks();
            const std::uint64_t frames = writer->frames_written();
            const auto per_record = static_cast<std::uint64_t>(fs);
            const std::uint64_t records = (frames + per_record - 1) / per_record;
            const bool padded = frames % per_record != 0; // EdfWriter then adds "Recording ends"
            fit_annotations(annotations,
                            static_cast<std::size_t>(records - (padded && records > 0 ? 1 : 0)));
            for (const auto& a : annotations)
                writer->annotate(a);
            writer->close();
            if (writer->dropped_annotations() > 0)
                warn(fmt::format("{} annotations found no room in raw.bdf",
                                 writer->dropped_annotations()));
        } catch (const std::exception& e) {
            recorder_error = e.what();
            recorder_failed = true;
        }
    }

    // =========================================================================================
    // Control

    void open_transport() {
        transport = std::make_unique<acquisition::SerialTransport>(settings.serial);
        device_ended = false;
        transport->start([this](std::span<const std::uint8_t> b) { on_bytes(b); },
                         [this](const std::error_code& ec) { on_end(ec); });
        transport->send(start_commands(settings.protocol.name));
    }

    void close_transport(bool polite) {
        if (!transport)
            return;
        transport->stop(polite ? stop_commands(settings.protocol.name) : std::string());
        transport.reset();
    }

    void annotate_from_control(double t_s, std::string text) {
        if (!format_ready.load(std::memory_order_acquire))
            return;
        std::lock_guard lock(extra_mutex);
        extra_annotations.push_back({t_s, -1.0, std::move(text)});
    }

    // ---- markers ----

    // The stream position now in 0.1 ms units (floored). Caller holds marks_mutex.
    std::uint64_t units_now() const {
        const auto fs_int = static_cast<std::uint64_t>(fs);
        return frames_received.load() * 10000 / fs_int;
    }
    static double seconds_of(std::uint64_t units) { return static_cast<double>(units) / 1e4; }

    // Caller holds marks_mutex.
    std::string add_note(std::uint64_t units, std::string text) {
        const std::size_t key = next_mark_key++;
        Annotation a{seconds_of(units), -1.0, std::move(text)};
        recorder_marks.push_back({false, key, a});
        markers.push_back(a);
        const std::string line = fmt::format("{:.1f} s: {}", a.onset_s, a.text);
        recent_marks.push_back(line);
        new_mark_lines.push_back(line);
        marks_changed = true;
        return fmt::format("ok marker at {:.4f} s: {}", a.onset_s, a.text);
    }

    // Caller holds marks_mutex.
    std::string start_contraction(std::uint64_t units) {
        if (open_mark)
            return fmt::format("error: a contraction is going on since {:.4f} s",
                               seconds_of(open_mark->first));
        const std::size_t key = next_mark_key++;
        open_mark = {units, key};
        const double t_s = seconds_of(units);
        recorder_marks.push_back({false, key, {t_s, -1.0, settings.analysis.annotation}});
        dsp_marks.emplace_back(t_s, std::numeric_limits<double>::infinity());
        const std::string line = fmt::format("{:.1f} s: contraction start", t_s);
        recent_marks.push_back(line);
        new_mark_lines.push_back(line);
        marks_changed = true;
        return fmt::format("ok contraction start at {:.4f} s", t_s);
    }

    // Caller holds marks_mutex.
    std::string stop_contraction(std::uint64_t units) {
        if (!open_mark)
            return "error: no contraction is going on (start one first)";
        if (units <= open_mark->first)
            return "error: the contraction has not lasted 0.1 ms yet";
        const double start_s = seconds_of(open_mark->first);
        const double duration_s = seconds_of(units - open_mark->first);
        // As a reader of raw.bdf computes it: onset + duration.
        const double end_s = start_s + duration_s;
        recorder_marks.push_back(
            {true, open_mark->second, {start_s, duration_s, settings.analysis.annotation}});
        dsp_marks.emplace_back(start_s, end_s);
        markers.push_back({start_s, duration_s, settings.analysis.annotation});
        open_mark.reset();
        const std::string line = fmt::format("{:.1f} s: contraction stop ({:.1f} s)", end_s,
                                             duration_s);
        recent_marks.push_back(line);
        new_mark_lines.push_back(line);
        marks_changed = true;
        return fmt::format("ok contraction {:.4f}-{:.4f} s", start_s, end_s);
    }

    std::string mark_request(const std::string& request) {
        if (!format_ready.load(std::memory_order_acquire) || !recorder_thread.joinable())
            return "error: the capture has not started recording yet";
        std::string req = request;
        while (!req.empty() && (req.back() == '\r' || req.back() == ' '))
            req.pop_back();
        const auto space = req.find(' ');
        const std::string verb = req.substr(0, space);
        const std::string arg = space == std::string::npos ? "" : req.substr(space + 1);
        std::string reply;
        {
            std::lock_guard lock(marks_mutex);
            const std::uint64_t u = units_now();
            if (verb == "start")
                reply = start_contraction(u);
            else if (verb == "stop")
                reply = stop_contraction(u);
            else if (verb == "toggle")
                reply = open_mark ? stop_contraction(u) : start_contraction(u);
            else if (verb == "mark")
                reply = add_note(u, arg.empty() ? "marker" : arg);
            else
                reply = "error: unknown request '" + verb +
                        "' (start, stop, toggle or mark [TEXT])";
        }
        notify();
        return reply;
    }

    // semg-keys: space starts or stops a contraction; m records the time and takes a note,
    // Enter saves it (no text: "marker"), Esc drops it, Backspace edits.
    void keys_main(std::stop_token stop) {
        acquisition::set_current_thread_name("semg-keys");
        while (!stop.stop_requested()) {
            const int key = keys->read_key(100);
            if (key < 0)
                continue;
            std::string reply;
            {
                std::lock_guard lock(marks_mutex);
                if (typing) {
                    if (key == '\r' || key == '\n') {
                        typing = false;
                        reply = add_note(typing_units, typed.empty() ? "marker" : typed);
                    } else if (key == 27) {
                        typing = false;
                    } else if (key == 127 || key == 8) {
                        while (!typed.empty() &&
                               (static_cast<unsigned char>(typed.back()) & 0xC0) == 0x80)
                            typed.pop_back();
                        if (!typed.empty())
                            typed.pop_back();
                    } else if ((key >= 32 || key >= 0x80) && typed.size() < 60) {
                        typed += static_cast<char>(key);
                    }
                } else if (key == ' ') {
                    reply = open_mark ? stop_contraction(units_now())
                                      : start_contraction(units_now());
                } else if (key == 'm' || key == 'M') {
                    typing = true;
                    typed.clear();
                    typing_units = units_now();
                }
                marks_changed = true;
            }
            if (reply.rfind("error: ", 0) == 0) {
                std::lock_guard lock(marks_mutex);
                recent_marks.push_back(reply.substr(7));
            }
            notify();
        }
    }

    LiveMarks live_marks() {
        std::lock_guard lock(marks_mutex);
        LiveMarks m;
        m.holding = open_mark.has_value();
        m.hold_start_s = open_mark ? seconds_of(open_mark->first) : 0.0;
        for (const auto& a : markers)
            m.contractions += a.duration_s >= 0.0;
        if (recent_marks.size() > 3)
            recent_marks.erase(recent_marks.begin(),
                               recent_marks.end() - 3);
        m.recent = recent_marks;
        m.typing = typing;
        m.typed = typed;
        m.keys = keys != nullptr;
        return m;
    }

    void show_marks(bool force) {
        if (!marks_changed.exchange(false) && !force)
            return;
        if (!view)
            return;
        std::vector<std::string> lines;
        {
            std::lock_guard lock(marks_mutex);
            lines.swap(new_mark_lines);
        }
        for (const auto& l : lines)
            view->marker_line(l);
        view->marks(live_marks());
    }

    // The recorder's share of the markers: written into raw.bdf as they come.
    void take_recorder_marks() {
        std::vector<RecorderMark> marks;
        {
            std::lock_guard lock(marks_mutex);
            marks.swap(recorder_marks);
        }
        for (auto& m : marks) {
            if (!m.update) {
                if (live_ids.size() <= m.key)
                    live_ids.resize(m.key + 1, 0);
                live_ids[m.key] = writer->annotate_live(m.note);
            } else if (m.key < live_ids.size()) {
                writer->set_live_duration(live_ids[m.key], m.note.duration_s);
            }
        }
    }

    // The DSP's share: marked contractions, and the stream position before which no marker can
    // come any more (a marker taken later has a later position, floored to the same units).
    void take_dsp_marks() {
        if (!analysis->settings().live_marks)
            return;
        std::vector<std::pair<double, double>> marks;
        double horizon_s = 0.0;
        {
            std::lock_guard lock(marks_mutex);
            marks.swap(dsp_marks);
            horizon_s = seconds_of(units_now());
        }
        for (const auto& [a, b] : marks)
            analysis->mark_contraction(a, b);
        analysis->set_marks_decided_until_s(horizon_s);
    }

    // The device is gone: keep what we have, try to reopen for reconnect_s.
    bool reconnect() {
        std::string why;
        {
            std::lock_guard lock(mutex);
            why = device_message;
        }
        const auto t0 = Clock::now();
        close_transport(false);
        const double t_s = fs > 0.0 ? static_cast<double>(frames_received.load()) / fs : 0.0;
        annotate_from_control(t_s, "device lost");
        if (settings.reconnect_s <= 0.0)
            return false;
        // No transport runs now: the reader's state is ours until open_transport().
        fill_baseline_pending = true;
        mark_frame_time(Clock::now()); // the stall clock restarts with the port
        notice(fmt::format("{}: device gone ({}); samples so far are kept; retrying for {:.1f} s",
                           settings.serial.port, why, settings.reconnect_s));
        while (std::chrono::duration<double>(Clock::now() - t0).count() < settings.reconnect_s) {
            if (stop_requests.load() > 0)
                return false;
            try {
                open_transport();
                ++reconnects;
                const double away_s = std::chrono::duration<double>(Clock::now() - t0).count();
                annotate_from_control(t_s, fmt::format("reconnected after {:.1f} s", away_s));
                notice(fmt::format(
                    "{}: reconnected after {:.1f} s{}", settings.serial.port, away_s,
                    acquisition::traits(settings.protocol.name).uncounted_loss_on_reconnect
                        ? " (samples sent meanwhile are lost without a count)"
                        : ""));
                return true;
            } catch (const acquisition::SerialError&) {
                wait_event(std::chrono::milliseconds(250));
            }
        }
        std::lock_guard lock(mutex);
        device_message = why;
        return false;
    }

    acquisition::ParserCounters counters_snapshot() {
        std::lock_guard lock(counters_mutex);
        return counters;
    }

    CaptureHealth health() {
        CaptureHealth h;
        const auto now = Clock::now();
        h.connected = transport != nullptr && !device_ended;
        h.frames = frames_received.load();
        h.stream_s = fs > 0.0 ? static_cast<double>(h.frames) / fs : 0.0;
        rate_window.emplace_back(now, h.frames);
        while (rate_window.size() > 2 && now - rate_window.front().first > std::chrono::seconds(3))
            rate_window.pop_front();
        const double span_s =
            std::chrono::duration<double>(now - rate_window.front().first).count();
        h.rate_hz = span_s > 0.2
                        ? static_cast<double>(h.frames - rate_window.front().second) / span_s
                        : 0.0;
        const auto k = counters_snapshot();
        h.gaps = k.gaps;
        h.lost_samples = k.lost_samples;
        h.sync_losses = k.sync_losses;
        h.bad_checksums = k.bad_checksums;
        h.bad_lines = k.bad_lines;
        h.clipped_samples = clipped.load();
        h.overrun_samples = recorder_overrun.load() + dsp_overrun.load();
        if (fs > 0.0)
            h.dsp_lag_ms =
                static_cast<double>(h.frames - std::min(h.frames, dsp_frames.load())) / fs * 1e3;
        if (dsp_ring)
            h.dsp_ring_pct = 100.0 * static_cast<double>(dsp_ring->size()) /
                             static_cast<double>(dsp_ring->capacity());
        if (recorder_ring)
            h.recorder_ring_pct = 100.0 * static_cast<double>(recorder_ring->size()) /
                                  static_cast<double>(recorder_ring->capacity());
        if (live)
            h.live_dropped = live->dropped();
        if (h.connected)
            h.silent_s = silence_s();
        h.stalls = stalls.load();
        return h;
    }

    void setup() {
        info.format = "serial " + to_string(settings.protocol.name);
        info.sample_rate_hz = fs;
        for (const auto& l : labels) {
            acquisition::ChannelInfo ch;
            ch.label = l;
            ch.physical_min_uv = grid->min_uv();
            ch.physical_max_uv = grid->max_uv();
            ch.resolution_uv = grid->step_uv();
            info.channels.push_back(ch);
        }
        notice(fmt::format("{}: {} channels at {} Hz ({})", settings.serial.port, channels, fs,
                           to_string(settings.protocol.name)));
        // A slow board is warned about once, by the analysis (FatigueAnalysis::prepare).
        // raw.bdf first, its header on disk at once: a capture killed while the analysis is
        // being prepared still leaves a readable (empty) recording.
        std::error_code ec;
        out_dir_created = !std::filesystem::exists(settings.out_dir, ec);
        std::filesystem::create_directories(settings.out_dir, ec);
        if (ec)
            throw CaptureError(settings.out_dir.string() + ": cannot create (" + ec.message() +
                               ")");
        if (!raw_path.parent_path().empty())
            std::filesystem::create_directories(raw_path.parent_path(), ec);
        if (ec)
            throw CaptureError(raw_path.parent_path().string() + ": cannot create (" +
                               ec.message() + ")");
        acquisition::EdfWriterConfig cfg;
        cfg.format = acquisition::EdfFormat::BdfPlus;
        cfg.sample_rate_hz = static_cast<int>(fs);
        cfg.labels = labels;
        cfg.physical_min_uv = grid->min_uv();
        cfg.physical_max_uv = grid->max_uv();
        cfg.equipment = "semg capture " + to_string(settings.protocol.name);
        cfg.prefilter = "none";
        cfg.durable = true; // readable as it stands after a kill: header now, count kept current
        writer = std::make_unique<acquisition::EdfWriter>(raw_path, cfg);
        AnalysisSettings a = settings.analysis;
        a.live_marks = true; // keys and `semg mark` (annotations in raw.bdf as they happen)
        if (settings.configure)
            settings.configure(info, a);
        analysis.emplace(a);
        analysis->prepare(info, [this](const std::string& w) { warn(w); });
        for (const auto& n : analysis->montage_notices())
            notice(n);

        // The folder exists now, so OutputDir never removes it (raw.bdf lives there).
        out = std::make_unique<OutputDir>(settings.out_dir);
        epochs_csv.emplace(out->open("epochs.csv"), analysis->labels(), analysis->sites());
        if (!analysis->pairs().empty())
            pairs_csv.emplace(out->open("pairs.csv"), analysis->labels(), analysis->pairs());
        const std::size_t analysed = analysis->labels().size();
        const std::size_t pairs = analysis->pairs().size();
        live = std::make_unique<DropOldestRing<LiveEpoch>>(16, [&](LiveEpoch& e) {
            e.mdf_hz.assign(analysed, 0.0);
            e.rms_uv.assign(analysed, 0.0);
            e.quality.assign(analysed, 0);
            e.ai_pct.assign(pairs, 0.0);
            e.slope_pct_per_s.assign(analysed, 0.0);
            e.slope_ci_low_pct_per_s.assign(analysed, 0.0);
            e.slope_ci_high_pct_per_s.assign(analysed, 0.0);
        });
        if (settings.live != LiveMode::None) {
            view = std::make_unique<LiveView>(
                *settings.live_out, std::cerr,
                settings.live == LiveMode::Terminal ? LiveView::Style::Terminal
                                                    : LiveView::Style::Plain,
                fmt::format("semg capture {} ({}, {} ch @ {} Hz) -> {}", settings.serial.port,
                            to_string(settings.protocol.name), channels, fs,
                            settings.out_dir.string()),
                analysis->labels(), analysis->pairs(), STDOUT_FILENO);
        }
        if (settings.dashboard) {
            dashboard_facts.emplace(InputFacts{std::filesystem::absolute(raw_path),
                                               "computed when the capture ends", info});
            auto header = start_summary_json(*dashboard_facts, *analysis);
            header["acquisition"] = {{"protocol", to_string(settings.protocol.name)},
                                     {"port", settings.serial.port},
                                     {"sample_rate_hz", fs}};
            settings.dashboard->start(header);
        }
        recorder_thread = std::jthread([this] { recorder_main(); });
        dsp_thread = std::jthread([this] { dsp_main(); });
        // Markers: last, once everything they feed runs. Neither is essential to the recording:
        // a failure is a warning.
        if (!settings.control_socket.empty()) {
            try {
                control = std::make_unique<ControlSocket>(
                    settings.control_socket,
                    [this](const std::string& request) { return mark_request(request); });
                control_registration = TemporaryRegistration(settings.control_socket);
                notice("markers from scripts: semg mark " + settings.out_dir.string() +
                       " [--start|--stop|--note TEXT]");
            } catch (const std::exception& e) {
                warn(std::string("no control socket (semg mark): ") + e.what());
            }
        }
        if (settings.keys && view && settings.live == LiveMode::Terminal) {
            keys = TerminalKeys::open();
            if (keys)
                keys_thread = std::jthread([this](std::stop_token st) { keys_main(st); });
        }
        marks_changed = true;
    }

    void show_live() {
        if (!live)
            return;
        LiveEpoch e;
        while (live->pop([&](const LiveEpoch& x) { e = x; }))
            if (view)
                view->epoch(e, health());
    }

    CaptureReport run();
    void write_results(CaptureReport& r, std::optional<nlohmann::ordered_json>& summary);
};

CaptureReport Capture::Impl::run() {
    auto& s = settings;
    if (s.out_dir.empty())
        throw std::invalid_argument("capture: no output folder");
    raw_path = s.raw_path.empty() ? s.out_dir / "raw.bdf" : s.raw_path;
    if (std::filesystem::exists(raw_path))
        throw CaptureError(raw_path.string() + " exists: choose another " +
                           (s.raw_path.empty() ? "--out folder" : "name") +
                           " (a capture never overwrites a recording)");
    parser = acquisition::make_parser(s.protocol);
    assembler = std::make_unique<acquisition::FrameAssembler>(
        acquisition::FrameAssembler::Config{}, [this](std::size_t n) { on_format(n); },
        [this](const acquisition::AssembledBlock& b) { on_block(b); });
    const auto start = Clock::now();
    open_transport(); // SerialError: nothing was written
    notice(fmt::format("{}: opened ({} baud, {}); waiting for {} frames", s.serial.port,
                       s.serial.baud_rate, to_string(s.protocol.name), to_string(s.protocol.name)));

    // ---- until the first frame: the stream's format ----
    for (;;) {
        if (fatal) {
            close_transport(true);
            std::lock_guard lock(mutex);
            throw CaptureError(s.serial.port + ": " + reader_fatal);
        }
        if (format_ready.load(std::memory_order_acquire))
            break;
        if (stop_requests.load() > 0) {
            close_transport(true);
            std::lock_guard lock(mutex);
            throw CaptureError("stopped (" + stop_reason +
                               ") before any frame arrived: nothing recorded");
        }
        if (device_ended && !reconnect()) {
            std::lock_guard lock(mutex);
            throw CaptureError(s.serial.port + ": device gone (" + device_message +
                               ") before any frame arrived: nothing recorded");
        }
        if (std::chrono::duration<double>(Clock::now() - start).count() > s.start_timeout_s) {
            const auto k = counters_snapshot();
            close_transport(true);
            throw CaptureError(
                fmt::format("{}: no {} frame within {:.0f} s ({} bytes received, {} sync losses, "
                            "{} bad checksums, {} bad "
                            "lines): check --protocol, --baud and that the device is streaming",
                            s.serial.port, to_string(s.protocol.name), s.start_timeout_s, k.bytes,
                            k.sync_losses, k.bad_checksums, k.bad_lines));
        }
        wait_event(std::chrono::milliseconds(100));
    }

    // ---- set-up: analysis, files, threads ----
    try {
        setup();
    } catch (const std::exception& e) {
        close_transport(true);
        if (dsp_ring)
            dsp_ring->close();
        if (recorder_ring)
            recorder_ring->close();
        if (dsp_thread.joinable())
            dsp_thread.join();
        if (recorder_thread.joinable())
            recorder_thread.join();
        writer.reset();
        std::error_code ec;
        std::filesystem::remove(raw_path, ec); // nothing but a header in it yet
        if (out_dir_created)
            std::filesystem::remove(s.out_dir, ec); // only if empty
        throw CaptureError(e.what());
    }

    // ---- running ----
    std::string reason;
    auto last_health = Clock::now();
    auto last_dashboard_health = last_health;
    std::optional<Clock::time_point> stop_deadline;
    bool silence_told = false;
    bool stalled = false;
    for (;;) {
        wait_event(std::chrono::milliseconds(100));
        show_live();
        show_marks(resized.exchange(false));
        if (Clock::now() - last_health >= std::chrono::milliseconds(500)) {
            if (view)
                view->health(health());
            last_health = Clock::now();
        }
        if (s.dashboard && Clock::now() - last_dashboard_health >= std::chrono::seconds(1)) {
            s.dashboard->publish_health(health());
            last_dashboard_health = Clock::now();
        }
        if (recorder_failed) {
            reason = "recording failed: " + recorder_error;
            break;
        }
        // The analysis failed: stop now rather than record on with a view that never moves
        // (raw.bdf keeps what came; the error is the run's result).
        if (dsp_failed) {
            reason = "analysis failed: " + dsp_error;
            break;
        }
        if (fatal) {
            std::lock_guard lock(mutex);
            reason = (stream_rejected ? "stream rejected: " : "stream failed: ") + reader_fatal;
            break;
        }
        if (transport && !device_ended) {
            // A stall: the port is open but nothing comes (a device that hung, a cable with
            // power but no data). Said live at 1 s, the end at the stall timeout.
            const double silent_s = silence_s();
            if (silent_s > s.stall_timeout_s) {
                reason = fmt::format("stalled: no frame for {:.1f} s (--stall-timeout-s {})",
                                     silent_s, s.stall_timeout_s);
                stalled = true;
                break;
            }
            if (silent_s >= 1.0 && !silence_told) {
                ++stalls;
                if (view)
                    view->health(health()); // at once
                notice(fmt::format("{}: no frame for {:.1f} s; the capture stops at {} s "
                                   "(--stall-timeout-s)",
                                   s.serial.port, silent_s, s.stall_timeout_s));
                silence_told = true;
            } else if (silent_s < 1.0 && silence_told) {
                notice(fmt::format("{}: frames again (longest silence so far {:.1f} s)",
                                   s.serial.port, longest_silence_s.load()));
                silence_told = false;
            }
        }
        if (limit_reached) {
            std::lock_guard lock(mutex);
            reason = stop_requests.load() > 0 ? stop_reason : "duration";
            break;
        }
        if (stop_requests.load() > 0) {
            if (!stop_deadline) {
                stop_at_second = true;
                stop_deadline = Clock::now() + std::chrono::seconds(2);
            }
            if (stop_requests.load() > 1 || Clock::now() > *stop_deadline) {
                std::lock_guard lock(mutex);
                reason = stop_reason;
                break;
            }
        }
        if (device_ended && !reconnect()) {
            std::lock_guard lock(mutex);
            reason = "device gone (" + device_message + ")";
            break;
        }
    }

    // ---- shutdown: every file closed, whatever the reason ----
    close_transport(!device_ended);
    keys_thread = std::jthread(); // joins: no key after this
    keys.reset();                  // the terminal as it was
    control_listened = control != nullptr;
    control_refused = control ? control->refused() : 0;
    control.reset();               // no request after this; the socket file is removed
    control_registration.release();
    // The reader has stopped: its state is ours. A short stream of noise is rejected too.
    if (!stream_rejected) {
        check_fill(parser->counters(), 0.0);
        if (stream_rejected) {
            std::lock_guard lock(mutex);
            reason = "stream rejected: " + reader_fatal + " (at the end; it had " + reason + ")";
            stalled = false;
        }
    }
    assembler->flush();
    {
        // A contraction still going on ends with the recording.
        std::lock_guard lock(marks_mutex);
        typing = false;
        if (open_mark)
            stop_contraction(units_now());
    }
    dsp_ring->close();
    recorder_ring->close();
    recorder_thread.join();
    dsp_thread.join();
    show_live();

    CaptureReport r;
    r.protocol = to_string(s.protocol.name);
    r.port = s.serial.port;
    r.sample_rate_hz = fs;
    r.labels = labels;
    r.frames = recorder_frames.load();
    r.duration_s = static_cast<double>(r.frames) / fs;
    r.counters = parser->counters();
    r.filled_samples = assembler->filled_frames();
    r.unfilled_samples = assembler->unfilled_frames();
    r.recorder_overrun_samples = recorder_overrun.load();
    r.dsp_overrun_samples = dsp_overrun.load();
    r.live_dropped_epochs = live->dropped();
    r.clipped_samples = clipped.load();
    r.reconnects = reconnects;
    r.stalls = stalls.load();
    {
        std::lock_guard lock(marks_mutex);
        for (const auto& m : markers)
            if (m.text != s.analysis.annotation || m.duration_s >= 0.0)
                r.markers.push_back(m); // a contraction once, with its duration
        std::stable_sort(r.markers.begin(), r.markers.end(),
                         [](const Annotation& x, const Annotation& y) { return x.onset_s < y.onset_s; });
    }
    r.control_socket = control_listened ? s.control_socket.string() : std::string();
    r.control_refused = control_refused;
    r.stall_timeout_s = s.stall_timeout_s;
    r.longest_silence_s = longest_silence_s.load();
    if (stalled)
        r.longest_silence_s = std::max(r.longest_silence_s, silence_s());
    r.stalled = stalled;
    r.stream_rejected = stream_rejected;
    r.stop_reason = reason;
    r.epoch_latency = latency.stats();
    r.processing_latency = processing_latency.stats();
    r.queue_latency = queue_latency.stats();
    r.analysis_delay_s = static_cast<double>(analysis->ecg().delay_frames()) / fs;
    r.raw_path = raw_path;
    auto last = health();
    last.stopped = true;
    if (view) {
        show_marks(true);
        view->health(last);
        view->close();
        view.reset();
    }
    if (s.dashboard) {
        s.dashboard->publish_health(last);
        r.dashboard_url = s.dashboard->url();
        r.dashboard = s.dashboard->stats();
    }
    if (r.clipped_samples > 0)
        warn(fmt::format("{} samples were beyond the raw.bdf range {:.0f}:{:.0f} uV and saved at "
                         "the rail (--range-uv)",
                         r.clipped_samples, grid->min_uv(), grid->max_uv()));
    std::optional<nlohmann::ordered_json> summary;
    write_results(r, summary);
    if (s.dashboard) {
        s.dashboard->finish(summary, r.results_error);
        r.dashboard = s.dashboard->stats();
    }
    return r;
}

// The result files, when the recorder and the analysis got through; else why not.
void Capture::Impl::write_results(CaptureReport& r,
                                  std::optional<nlohmann::ordered_json>& summary) {
    if (recorder_failed) {
        r.results_error = "raw recording failed: " + recorder_error;
        return;
    }
    if (stream_rejected) {
        // Results of a stream that is not the protocol would be a wrong answer.
        r.results_error = r.stop_reason + "; no result files";
        return;
    }
    if (dsp_failed) {
        r.results_error = "analysis failed: " + dsp_error;
        return;
    }
    try {
        const AnalysisResult result = analysis->finish();
        if (!result.contraction_warning.empty()) warn(result.contraction_warning);
        r.epochs = result.epochs;
        if (result.epochs == 0) {
            r.results_error =
                fmt::format("{} samples is shorter than one epoch ({} samples): no result files",
                            r.frames, analysis->analyzer().epoch_frames());
            return;
        }
        const InputFacts facts{
            std::filesystem::weakly_canonical(std::filesystem::absolute(raw_path)),
            sha256_file(raw_path), info};
        auto j = summary_json(facts, analysis->settings(), result);
        j["acquisition"] = acquisition_json(r);
        out->open("summary.json") << j.dump(2) << '\n';
        epochs_csv.reset();
        pairs_csv.reset();
        out->commit();
        r.results_written = true;
        r.result = result;
        summary = std::move(j);
    } catch (const std::exception& e) {
        r.results_error = e.what();
    }
}

Capture::Capture(CaptureSettings settings) : impl_(std::make_unique<Impl>(std::move(settings))) {
    auto& s = impl_->settings;
    if (s.duration_s && !(*s.duration_s > 0.0))
        throw std::invalid_argument("--duration-s must be > 0");
    if (!(s.reconnect_s >= 0.0))
        throw std::invalid_argument("--reconnect-s must be >= 0");
    if (!(s.start_timeout_s > 0.0))
        throw std::invalid_argument("start timeout must be > 0");
    if (!(s.stall_timeout_s > 0.0))
        throw std::invalid_argument("--stall-timeout-s must be > 0");
    if (s.max_sync_failures == 0)
        throw std::invalid_argument("--max-sync-failures must be >= 1");
    if (!(s.max_fill_pct > 0.0 && s.max_fill_pct <= 100.0))
        throw std::invalid_argument("--max-fill-pct must be > 0 and <= 100");
    if (!(s.fill_min_stream_s >= 0.0))
        throw std::invalid_argument("fill_min_stream_s must be >= 0");
    if (!(s.dsp_ring_s > 0.0) || !(s.recorder_ring_s > 0.0))
        throw std::invalid_argument("ring sizes must be > 0");
    if (!(s.max_gap_fill_s >= 0.0))
        throw std::invalid_argument("max gap fill must be >= 0");
    if (s.range_uv)
        BdfGrid check(s.range_uv->first, s.range_uv->second);
    if (!s.live_out)
        s.live_out = &std::cout;
}

Capture::~Capture() {
    // run() joins everything on every path; this only covers exceptions thrown out of run().
    if (impl_) {
        impl_->keys_thread = std::jthread();
        impl_->keys.reset();
        impl_->control.reset();
        if (impl_->transport)
            impl_->transport->stop();
        if (impl_->dsp_ring)
            impl_->dsp_ring->close();
        if (impl_->recorder_ring)
            impl_->recorder_ring->close();
    }
}

CaptureReport Capture::run() { return impl_->run(); }

std::string Capture::mark(const std::string& request) { return impl_->mark_request(request); }

void Capture::terminal_resized() {
    impl_->resized = true;
    impl_->notify();
}

void Capture::request_stop(const std::string& reason) {
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->stop_requests.load() == 0)
            impl_->stop_reason = reason;
    }
    ++impl_->stop_requests;
    impl_->notify();
}

} // namespace semg::pipeline
