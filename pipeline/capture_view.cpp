#include "pipeline/capture_view.hpp"

#include "dsp/features.hpp"

#include <fmt/format.h>

#include <cmath>

namespace semg::pipeline {
namespace {

std::string num(double v, int precision) {
    return std::isfinite(v) ? fmt::format("{:.{}f}", v, precision) : std::string("-");
}

std::string signed_num(double v, int precision) {
    return std::isfinite(v) ? fmt::format("{:+.{}f}", v, precision) : std::string("-");
}

// Plenty for a lab terminal; the cells wrap into as many columns as fit.
constexpr std::size_t kTerminalWidth = 100;

} // namespace

std::string format_health(const CaptureHealth& h) {
    std::string s =
        fmt::format("{} {:.1f} s  {:.1f} Hz  frames {}  gaps {}  lost {}  sync losses {}",
                    h.stopped     ? "stopped"
                    : h.connected ? "receiving"
                                  : "DISCONNECTED",
                    h.stream_s, h.rate_hz, h.frames, h.gaps, h.lost_samples, h.sync_losses);
    if (h.bad_checksums > 0)
        s += fmt::format("  bad CRC {}", h.bad_checksums);
    if (h.bad_lines > 0)
        s += fmt::format("  bad lines {}", h.bad_lines);
    if (h.clipped_samples > 0)
        s += fmt::format("  clipped {}", h.clipped_samples);
    if (h.overrun_samples > 0)
        s += fmt::format("  OVERRUN {}", h.overrun_samples);
    if (h.silent_s >= 1.0 && !h.stopped)
        s += fmt::format("  NO FRAME FOR {:.1f} s", h.silent_s);
    s += fmt::format("  dsp lag {:.0f} ms  rings dsp {:.0f}% raw {:.0f}%", h.dsp_lag_ms,
                     h.dsp_ring_pct, h.recorder_ring_pct);
    if (h.live_dropped > 0)
        s += fmt::format("  view skipped {} epochs", h.live_dropped);
    return s;
}

LiveView::LiveView(std::ostream& out, std::ostream& messages, Style style, std::string title,
                   std::vector<std::string> labels, std::vector<BilateralPair> pairs)
    : out_(out), messages_(messages), style_(style), title_(std::move(title)),
      labels_(std::move(labels)), pairs_(std::move(pairs)) {
    if (style_ == Style::Plain)
        out_ << title_ << '\n' << std::flush;
}

void LiveView::epoch(const LiveEpoch& e, const CaptureHealth& h) {
    health_ = h;
    if (style_ == Style::Terminal) {
        last_ = e;
        have_epoch_ = true;
        redraw();
        return;
    }
    std::string line =
        fmt::format("epoch {} {:.2f}-{:.2f} s  MDF_Hz/RMS_uV", e.index, e.t_start_s, e.t_end_s);
    for (std::size_t c = 0; c < labels_.size() && c < e.mdf_hz.size(); ++c) {
        line += fmt::format("  {} {}/{}", labels_[c], num(e.mdf_hz[c], 1), num(e.rms_uv[c], 1));
        if (e.quality[c] != dsp::QualityOk)
            line += "(" + dsp::quality_to_string(e.quality[c]) + ")";
    }
    if (!pairs_.empty()) {
        line += "  AI_%";
        for (std::size_t p = 0; p < pairs_.size() && p < e.ai_pct.size(); ++p)
            line += fmt::format("  {} {} {}", pairs_[p].muscle, pairs_[p].level,
                                signed_num(e.ai_pct[p], 1));
    }
    line += fmt::format("  lost {}  latency {:.1f} ms", h.lost_samples, e.latency_ms);
    out_ << line << '\n' << std::flush;
}

void LiveView::health(const CaptureHealth& h) {
    health_ = h;
    if (style_ == Style::Terminal) {
        redraw();
        return;
    }
    if (h.stream_s - last_plain_health_s_ >= 5.0) {
        last_plain_health_s_ = h.stream_s;
        out_ << "health: " << format_health(h) << '\n' << std::flush;
    }
}

void LiveView::message(const std::string& text) {
    if (style_ == Style::Terminal) {
        clear_block();
        out_ << std::flush;
        messages_ << text << '\n' << std::flush;
        redraw();
        return;
    }
    messages_ << text << '\n' << std::flush;
}

void LiveView::close() {
    if (style_ == Style::Terminal)
        out_ << std::flush;
    else
        out_ << "health: " << format_health(health_) << '\n' << std::flush;
}

void LiveView::clear_block() {
    if (shown_lines_ == 0)
        return;
    // Cursor to the first line of the block, then clear to the end of the screen.
    out_ << "\033[" << shown_lines_ << "F\033[J";
    shown_lines_ = 0;
}

void LiveView::redraw() {
    block_.clear();
    block_.push_back(title_ + "   (Ctrl-C stops)");
    block_.push_back(format_health(health_));
    if (have_epoch_) {
        const auto& e = last_;
        block_.push_back(
            fmt::format("epoch {}  {:.2f}-{:.2f} s  result {:.1f} ms after its last sample",
                        e.index, e.t_start_s, e.t_end_s, e.latency_ms));
        std::size_t width = 8;
        for (const auto& l : labels_)
            width = std::max(width, l.size());
        const std::string head =
            fmt::format("{:<{}} {:>7} {:>8}", "channel", width, "MDF_Hz", "RMS_uV");
        constexpr std::size_t kFlagWidth = 11; // " " + a flag name cut to 10
        const std::size_t cell = head.size() + kFlagWidth + 2;
        const std::size_t columns = std::max<std::size_t>(1, kTerminalWidth / cell);
        const std::size_t rows = (labels_.size() + columns - 1) / columns;
        std::string line;
        for (std::size_t k = 0; k < std::min(columns, labels_.size()); ++k)
            line += fmt::format("{:<{}}", head, cell);
        block_.push_back(line);
        for (std::size_t r = 0; r < rows; ++r) {
            line.clear();
            for (std::size_t k = 0; k < columns; ++k) {
                const std::size_t c = k * rows + r;
                if (c >= labels_.size() || c >= e.mdf_hz.size())
                    break;
                std::string flag;
                if (e.quality[c] != dsp::QualityOk) {
                    // The first flag, cut to fit; '+' when there are more (epochs.csv has them
                    // all).
                    const std::string all = dsp::quality_to_string(e.quality[c]);
                    const auto bar = all.find('|');
                    flag = " " + all.substr(0, std::min<std::size_t>(bar, kFlagWidth - 2)) +
                           (bar != std::string::npos ? "+" : "");
                }
                line += fmt::format("{:<{}}",
                                    fmt::format("{:<{}} {:>7} {:>8}{}", labels_[c], width,
                                                num(e.mdf_hz[c], 1), num(e.rms_uv[c], 1), flag),
                                    cell);
            }
            block_.push_back(line);
        }
        if (!pairs_.empty()) {
            line = "AI_% (L-R)/(L+R):";
            for (std::size_t p = 0; p < pairs_.size() && p < e.ai_pct.size(); ++p) {
                const std::string item = fmt::format("  {} {} {}", pairs_[p].muscle,
                                                     pairs_[p].level, signed_num(e.ai_pct[p], 1));
                if (line.size() + item.size() > kTerminalWidth) {
                    block_.push_back(line);
                    line = "                 ";
                }
                line += item;
            }
            block_.push_back(line);
        }
    } else {
        block_.push_back("waiting for the first epoch...");
    }
    clear_block();
    for (const auto& l : block_)
        out_ << l << "\033[K\n";
    out_ << std::flush;
    shown_lines_ = block_.size();
}

} // namespace semg::pipeline
