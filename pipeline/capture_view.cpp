#include "pipeline/capture_view.hpp"

#include "dsp/features.hpp"

#include <fmt/format.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace semg::pipeline {
namespace {

std::string num(double v, int precision) {
    return std::isfinite(v) ? fmt::format("{:.{}f}", v, precision) : std::string("-");
}

std::string signed_num(double v, int precision) {
    return std::isfinite(v) ? fmt::format("{:+.{}f}", v, precision) : std::string("-");
}

// Epochs of MDF and RMS kept per channel for the sparklines (the widest terminal's worth).
constexpr std::size_t kHistory = 256;

// Columns a UTF-8 string takes (every code point here is one column wide).
std::size_t columns_of(const std::string& s) {
    std::size_t n = 0;
    for (const unsigned char ch : s)
        n += (ch & 0xC0) != 0x80;
    return n;
}

// The first `width` columns of s (escape sequences are not used inside lines).
std::string cut(const std::string& s, std::size_t width) {
    std::size_t n = 0, i = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (n == width)
                break;
            ++n;
        }
    }
    return s.substr(0, i);
}

// Padded or cut to exactly `width` columns.
std::string pad(const std::string& s, std::size_t width) {
    std::string t = cut(s, width);
    t.append(width - columns_of(t), ' ');
    return t;
}

// The last `width` values as block characters, scaled between lo and hi; gaps (NaN) blank.
std::string sparkline(const std::vector<double>& v, std::size_t width, bool from_zero) {
    static const char* const kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    const std::size_t n = std::min(width, v.size());
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (std::size_t i = v.size() - n; i < v.size(); ++i)
        if (std::isfinite(v[i])) {
            lo = std::min(lo, v[i]);
            hi = std::max(hi, v[i]);
        }
    if (from_zero)
        lo = 0.0;
    std::string out(width - n, ' ');
    for (std::size_t i = v.size() - n; i < v.size(); ++i) {
        if (!std::isfinite(v[i])) {
            out += ' ';
            continue;
        }
        const double x = hi > lo ? (v[i] - lo) / (hi - lo) : 0.5;
        out += kBars[std::clamp(static_cast<int>(x * 7.999), 0, 7)];
    }
    return out;
}

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
                   std::vector<std::string> labels, std::vector<BilateralPair> pairs, int tty_fd)
    : out_(out), messages_(messages), style_(style), title_(std::move(title)),
      labels_(std::move(labels)), pairs_(std::move(pairs)), tty_fd_(tty_fd),
      mdf_history_(labels_.size()), rms_history_(labels_.size()) {
    if (style_ == Style::Plain)
        out_ << title_ << '\n' << std::flush;
}

void LiveView::epoch(const LiveEpoch& e, const CaptureHealth& h) {
    health_ = h;
    for (std::size_t c = 0; c < labels_.size() && c < e.mdf_hz.size(); ++c) {
        auto& m = mdf_history_[c];
        auto& r = rms_history_[c];
        const bool flagged = e.quality[c] != dsp::QualityOk;
        m.push_back(flagged ? std::numeric_limits<double>::quiet_NaN() : e.mdf_hz[c]);
        r.push_back(e.rms_uv[c]);
        if (m.size() > kHistory)
            m.erase(m.begin());
        if (r.size() > kHistory)
            r.erase(r.begin());
    }
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

void LiveView::marks(const LiveMarks& m) {
    marks_ = m;
    if (style_ == Style::Terminal)
        redraw();
}

void LiveView::marker_line(const std::string& text) {
    if (style_ == Style::Plain)
        out_ << "marker: " << text << '\n' << std::flush;
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
    int cols = 80, rows = 24;
    winsize ws{};
    if (tty_fd_ >= 0 && ::ioctl(tty_fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        cols = ws.ws_col;
        rows = ws.ws_row;
    }
    const bool resized = (cols != columns_ || rows != rows_) && columns_ != 0;
    columns_ = cols;
    rows_ = rows;
    // One column short of the width: a line that fills the last column leaves the cursor in
    // the margin on some terminals, and the cursor-up count would be off by one.
    const auto width = static_cast<std::size_t>(std::max(cols - 1, 20));
    block_.clear();
    block_.push_back(title_);
    {
        // Link health; a stall first, in reverse video (the only escape inside a line).
        const auto& h = health_;
        std::string line;
        if (h.silent_s >= 1.0 && !h.stopped)
            line = fmt::format("\033[7m STALL: no data for {:.1f} s \033[0m ", h.silent_s);
        line += fmt::format("{} {:.1f} s {:.0f} Hz  gaps {} lost {} sync {} crc {}",
                            h.stopped     ? "stopped"
                            : h.connected ? "rx"
                                          : "DISCONNECTED",
                            h.stream_s, h.rate_hz, h.gaps, h.lost_samples, h.sync_losses,
                            h.bad_checksums + h.bad_lines);
        line += fmt::format("  stalls {}  ovr {}  lag {:.0f} ms", h.stalls, h.overrun_samples,
                            h.dsp_lag_ms);
        if (h.clipped_samples > 0)
            line += fmt::format("  clip {}", h.clipped_samples);
        if (h.live_dropped > 0)
            line += fmt::format("  skipped {}", h.live_dropped);
        block_.push_back(line);
    }
    {
        std::string line;
        if (marks_.holding)
            line = fmt::format("HOLD {:.1f} s (marked at {:.1f} s)",
                               std::max(0.0, health_.stream_s - marks_.hold_start_s),
                               marks_.hold_start_s);
        else if (have_epoch_ && std::isfinite(last_.contraction_start_s))
            line = fmt::format("contraction {:.1f}-{} s", last_.contraction_start_s,
                               std::isfinite(last_.contraction_end_s)
                                   ? fmt::format("{:.1f}", last_.contraction_end_s)
                                   : std::string("..."));
        else
            line = "no contraction";
        line += fmt::format("  marked {}", marks_.contractions);
        if (!marks_.recent.empty())
            line += "  last marker " + marks_.recent.back();
        block_.push_back(line);
        if (marks_.typing)
            block_.push_back("note: " + marks_.typed + "_  (Enter: save, Esc: drop)");
        else if (marks_.keys)
            block_.push_back("keys: space start/stop contraction, m marker + note, Ctrl-C stop");
        else
            block_.push_back("Ctrl-C stops; markers: semg mark RUN_DIR");
    }
    if (have_epoch_) {
        const auto& e = last_;
        std::size_t label_w = 7;
        for (const auto& l : labels_)
            label_w = std::max(label_w, l.size());
        label_w = std::min<std::size_t>(label_w, 16);
        const bool with_ci = width >= 72;
        const std::size_t fixed = label_w + 1 + 6 + 1 + (with_ci ? 22 : 7) + 1 + 6 + 1;
        const std::size_t sparks = width > fixed + 9 ? width - fixed - 1 : 8;
        const std::size_t mdf_w = sparks / 2, env_w = sparks - mdf_w;
        block_.push_back(fmt::format("{:<{}} {:>6} {:<{}} {:>6} {:<{}} {}", "channel", label_w,
                                     "MDF Hz", with_ci ? "slope %/s [95% CI]" : "%/s",
                                     with_ci ? 22 : 7, "AI %", "MDF trend", mdf_w, "envelope"));
        // Rows: each pair's left and right together, then the channels in no pair.
        std::vector<std::pair<std::size_t, double>> order; // channel, AI to show (NaN: none)
        std::vector<bool> done(labels_.size(), false);
        const double nan = std::numeric_limits<double>::quiet_NaN();
        for (std::size_t p = 0; p < pairs_.size(); ++p) {
            const double ai = p < e.ai_pct.size() ? e.ai_pct[p] : nan;
            if (pairs_[p].left < done.size() && !done[pairs_[p].left]) {
                order.emplace_back(pairs_[p].left, ai);
                done[pairs_[p].left] = true;
            }
            if (pairs_[p].right < done.size() && !done[pairs_[p].right]) {
                order.emplace_back(pairs_[p].right, nan);
                done[pairs_[p].right] = true;
            }
        }
        for (std::size_t c = 0; c < labels_.size(); ++c)
            if (!done[c])
                order.emplace_back(c, nan);
        const std::size_t room =
            static_cast<std::size_t>(std::max(rows - 1, 1)) > block_.size()
                ? static_cast<std::size_t>(std::max(rows - 1, 1)) - block_.size()
                : 0;
        const std::size_t shown = order.size() <= room ? order.size() : (room > 0 ? room - 1 : 0);
        for (std::size_t k = 0; k < shown; ++k) {
            const std::size_t c = order[k].first;
            if (c >= e.mdf_hz.size())
                continue;
            auto at = [&](const std::vector<double>& v) { return c < v.size() ? v[c] : nan; };
            std::string slope;
            if (with_ci)
                slope = std::isfinite(at(e.slope_pct_per_s))
                            ? fmt::format("{:+.2f} [{},{}]", at(e.slope_pct_per_s),
                                          signed_num(at(e.slope_ci_low_pct_per_s), 2),
                                          signed_num(at(e.slope_ci_high_pct_per_s), 2))
                            : std::string("-");
            else
                slope = signed_num(at(e.slope_pct_per_s), 2);
            const std::string mdf =
                e.quality[c] != dsp::QualityOk ? num(e.mdf_hz[c], 1) + "!" : num(e.mdf_hz[c], 1);
            block_.push_back(fmt::format(
                "{} {:>6} {} {:>6} {} {}", pad(labels_[c], label_w), mdf,
                pad(slope, with_ci ? 22 : 7), signed_num(order[k].second, 1),
                sparkline(mdf_history_[c], mdf_w, false), sparkline(rms_history_[c], env_w, true)));
        }
        if (shown < order.size())
            block_.push_back(
                fmt::format("(+{} channels: a taller terminal shows them)", order.size() - shown));
    } else {
        block_.push_back("waiting for the first epoch...");
    }
    // Never taller than the terminal (one line spare for the cursor).
    if (block_.size() > static_cast<std::size_t>(std::max(rows - 1, 1)))
        block_.resize(static_cast<std::size_t>(std::max(rows - 1, 1)));
    if (resized) {
        // Old lines may have wrapped at the new width: the cursor-up count is unknown.
        out_ << "\033[H\033[2J";
        shown_lines_ = 0;
    }
    clear_block();
    for (const auto& l : block_) {
        // Reverse-video escapes take no columns.
        const auto esc = l.find("\033[0m");
        const std::size_t hidden = esc == std::string::npos ? 0 : 8;
        out_ << cut(l, width + hidden) << "\033[0m\033[K\n";
    }
    out_ << std::flush;
    shown_lines_ = block_.size();
}

} // namespace semg::pipeline
