// The live view of `semg capture`: per epoch, per channel MDF and RMS, per pair AI, and the
// health of the acquisition. On a terminal it redraws one block in place, never wider than the
// terminal (its size is read before each redraw; a change clears the screen) nor taller: per
// channel (left/right pairs together) the MDF now, the running slope of the MDF fit over the
// current contraction with its 95 % CI, AI, a sparkline of MDF and one of the RMS envelope;
// above them the link's health (a stall at once, in reverse video, and counted), the hold time
// and the markers. Otherwise (a pipe, a log file) it writes plain lines: one per epoch, one per
// marker and a health line every few seconds.
// Runs on the control thread only; messages (warnings, reconnections) go through message() so
// that they do not tear the redrawn block.
#pragma once

#include "pipeline/montage.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace semg::pipeline {

struct LiveEpoch {
    std::uint64_t index = 0;
    double t_start_s = 0.0;
    double t_end_s = 0.0;
    std::vector<double> mdf_hz;         // per analysed channel
    std::vector<double> rms_uv;         // per analysed channel
    std::vector<std::uint32_t> quality; // per analysed channel, dsp quality bits (0: ok)
    std::vector<double> ai_pct;         // per pair
    double latency_ms = 0.0;            // last sample read -> epoch emitted
    // The MDF fit of the current contraction so far, per analysed channel (NaN: none yet).
    std::vector<double> slope_pct_per_s, slope_ci_low_pct_per_s, slope_ci_high_pct_per_s;
    double contraction_start_s = 0.0; // NaN: no contraction yet
    double contraction_end_s = 0.0;   // infinity while it goes on
};

// Markers and keys, as the capture knows them (control thread).
struct LiveMarks {
    bool holding = false;      // a marked contraction goes on
    double hold_start_s = 0.0; // its start
    std::size_t contractions = 0;
    std::vector<std::string> recent; // the last markers, newest last ("12.3 s: subject shifted")
    bool typing = false;             // `m` pressed: a note is being typed
    std::string typed;
    bool keys = false; // keys are read from the terminal
};

struct CaptureHealth {
    bool connected = true;
    bool stopped = false;  // the capture has ended
    double stream_s = 0.0; // samples received / sample rate
    double rate_hz = 0.0;  // frames per second of host time, over the last seconds
    std::uint64_t frames = 0;
    std::uint64_t gaps = 0;
    std::uint64_t lost_samples = 0;
    std::uint64_t sync_losses = 0;
    std::uint64_t bad_checksums = 0;
    std::uint64_t bad_lines = 0;
    std::uint64_t clipped_samples = 0;
    std::uint64_t overrun_samples = 0; // recorder + DSP ring overruns
    double dsp_lag_ms = 0.0;           // samples received but not yet analysed
    double dsp_ring_pct = 0.0;
    double recorder_ring_pct = 0.0;
    std::uint64_t live_dropped = 0;
    double silent_s = 0.0;    // host time since the last frame arrived (a stall when it grows)
    std::uint64_t stalls = 0; // times the silence reached 1 s
};

std::string format_health(const CaptureHealth& h);

class LiveView {
public:
    enum class Style { Plain, Terminal };
    // tty_fd: the terminal whose size bounds the block (-1: 80x24).
    LiveView(std::ostream& out, std::ostream& messages, Style style, std::string title,
             std::vector<std::string> labels, std::vector<BilateralPair> pairs, int tty_fd = -1);
    void epoch(const LiveEpoch& e, const CaptureHealth& h);
    void marks(const LiveMarks& m);            // terminal: redraws; plain: prints new markers
    void marker_line(const std::string& text); // plain: one line per marker
    void health(const CaptureHealth& h);       // periodic; plain style prints every few seconds
    void message(const std::string& text);
    void close(); // leaves the last block on screen

private:
    void redraw();
    void clear_block();

    std::ostream& out_;
    std::ostream& messages_;
    Style style_;
    std::string title_;
    std::vector<std::string> labels_;
    std::vector<BilateralPair> pairs_;
    std::vector<std::string> block_; // terminal: the lines currently shown
    std::size_t shown_lines_ = 0;
    int tty_fd_ = -1;
    int columns_ = 0, rows_ = 0;                                 // of the last redraw
    std::vector<std::vector<double>> mdf_history_, rms_history_; // per channel, newest last
    LiveMarks marks_;
    LiveEpoch last_;
    bool have_epoch_ = false;
    CaptureHealth health_;
    double last_plain_health_s_ = -1e9;
};

} // namespace semg::pipeline
