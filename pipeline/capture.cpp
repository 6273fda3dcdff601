#include "pipeline/capture.hpp"

#include "acquisition/edf.hpp"
#include "acquisition/protocol_source.hpp"
#include "acquisition/protocols/cyton.hpp"
#include "acquisition/protocols/openeeg.hpp"
#include "pipeline/capture_session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace semg::pipeline {

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

// ---------------------------------------------------------------------------------------------
// The session: pipeline/capture_session.hpp (reader, DSP worker, recorder, event queue)
// ---------------------------------------------------------------------------------------------

struct Capture::Impl : CaptureSession {
    using CaptureSession::CaptureSession;
};

Capture::Capture(CaptureSettings settings) {
    DeviceCommands commands;
    const auto& device = acquisition::traits(settings.protocol.name);
    commands.start = std::string(device.start_commands);
    commands.stop = std::string(device.stop_commands);
    commands.reconnect_loss_uncounted = device.uncounted_loss_on_reconnect;
    impl_ = std::make_unique<Impl>(std::move(settings), std::move(commands));
    auto& s = impl_->settings();
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

Capture::~Capture() = default;

CaptureReport Capture::run() { return impl_->run(); }

std::string Capture::mark(const std::string& request) { return impl_->mark(request); }

void Capture::terminal_resized() { impl_->terminal_resized(); }

void Capture::request_stop(const std::string& reason) { impl_->request_stop(reason); }

} // namespace semg::pipeline
