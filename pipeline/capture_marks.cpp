#include "pipeline/capture_marks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace semg::pipeline {

using acquisition::Annotation;

void CaptureMarks::open(double fs, std::function<std::uint64_t()> frames_now) {
    {
        std::lock_guard lock(mutex_);
        fs_ = fs;
        frames_now_ = std::move(frames_now);
    }
    open_.store(true, std::memory_order_release);
}

std::uint64_t CaptureMarks::units_now() const {
    const auto fs_int = static_cast<std::uint64_t>(fs_);
    return frames_now_() * 10000 / fs_int;
}

void CaptureMarks::line(std::string text) {
    recent_.push_back(text);
    new_lines_.push_back(std::move(text));
}

std::string CaptureMarks::add_note(std::uint64_t units, std::string text) {
    const std::size_t key = next_key_++;
    Annotation a{seconds_of(units), -1.0, std::move(text)};
    recorder_marks_.push_back({false, key, a});
    markers_.push_back(a);
    line(fmt::format("{:.1f} s: {}", a.onset_s, a.text));
    return fmt::format("ok marker at {:.4f} s: {}", a.onset_s, a.text);
}

std::string CaptureMarks::start_contraction(std::uint64_t units) {
    if (open_mark_)
        return fmt::format("error: a contraction is going on since {:.4f} s",
                           seconds_of(open_mark_->first));
    const std::size_t key = next_key_++;
    open_mark_ = {units, key};
    const double t_s = seconds_of(units);
    recorder_marks_.push_back({false, key, {t_s, -1.0, contraction_}});
    dsp_marks_.emplace_back(t_s, std::numeric_limits<double>::infinity());
    line(fmt::format("{:.1f} s: contraction start", t_s));
    return fmt::format("ok contraction start at {:.4f} s", t_s);
}

std::string CaptureMarks::stop_contraction(std::uint64_t units) {
    if (!open_mark_)
        return "error: no contraction is going on (start one first)";
    if (units <= open_mark_->first)
        return "error: the contraction has not lasted 0.1 ms yet";
    const double start_s = seconds_of(open_mark_->first);
    const double duration_s = seconds_of(units - open_mark_->first);
    // As a reader of raw.bdf computes it: onset + duration.
    const double end_s = start_s + duration_s;
    recorder_marks_.push_back({true, open_mark_->second, {start_s, duration_s, contraction_}});
    dsp_marks_.emplace_back(start_s, end_s);
    markers_.push_back({start_s, duration_s, contraction_});
    open_mark_.reset();
    line(fmt::format("{:.1f} s: contraction stop ({:.1f} s)", end_s, duration_s));
    return fmt::format("ok contraction {:.4f}-{:.4f} s", start_s, end_s);
}

std::string CaptureMarks::request(const std::string& request) {
    if (!is_open())
        return "error: the capture has not started recording yet";
    std::string req = request;
    while (!req.empty() && (req.back() == '\r' || req.back() == ' '))
        req.pop_back();
    const auto space = req.find(' ');
    const std::string verb = req.substr(0, space);
    const std::string arg = space == std::string::npos ? "" : req.substr(space + 1);
    std::string reply;
    bool changed = true;
    {
        std::lock_guard lock(mutex_);
        const std::uint64_t u = units_now();
        if (verb == "start")
            reply = start_contraction(u);
        else if (verb == "stop")
            reply = stop_contraction(u);
        else if (verb == "toggle")
            reply = open_mark_ ? stop_contraction(u) : start_contraction(u);
        else if (verb == "mark")
            reply = add_note(u, arg.empty() ? "marker" : arg);
        else
            reply = "error: unknown request '" + verb + "' (start, stop, toggle or mark [TEXT])";
        changed = reply.rfind("error: ", 0) != 0;
    }
    if (changed)
        events_.post(CaptureEventKind::MarksChanged);
    return reply;
}

void CaptureMarks::key(int key) {
    std::string reply;
    {
        std::lock_guard lock(mutex_);
        if (typing_) {
            if (key == '\r' || key == '\n') {
                typing_ = false;
                reply = add_note(typing_units_, typed_.empty() ? "marker" : typed_);
            } else if (key == 27) {
                typing_ = false;
            } else if (key == 127 || key == 8) {
                while (!typed_.empty() &&
                       (static_cast<unsigned char>(typed_.back()) & 0xC0) == 0x80)
                    typed_.pop_back();
                if (!typed_.empty())
                    typed_.pop_back();
            } else if ((key >= 32 || key >= 0x80) && typed_.size() < 60) {
                typed_ += static_cast<char>(key);
            }
        } else if (key == ' ') {
            reply = open_mark_ ? stop_contraction(units_now()) : start_contraction(units_now());
        } else if (key == 'm' || key == 'M') {
            typing_ = true;
            typed_.clear();
            typing_units_ = units_now();
        }
        if (reply.rfind("error: ", 0) == 0)
            recent_.push_back(reply.substr(7));
    }
    events_.post(CaptureEventKind::MarksChanged);
}

void CaptureMarks::close_at_end() {
    {
        std::lock_guard lock(mutex_);
        typing_ = false;
        if (!open_mark_)
            return;
        stop_contraction(units_now());
    }
    events_.post(CaptureEventKind::MarksChanged);
}

void CaptureMarks::note_for_close(double t_s, std::string text) {
    std::lock_guard lock(mutex_);
    close_notes_.push_back({t_s, -1.0, std::move(text)});
}

void CaptureMarks::take_for_recorder(std::vector<RecorderMark>& marks) {
    marks.clear();
    std::lock_guard lock(mutex_);
    marks.swap(recorder_marks_);
}

void CaptureMarks::take_notes_for_close(std::vector<Annotation>& notes) {
    std::lock_guard lock(mutex_);
    notes.insert(notes.end(), close_notes_.begin(), close_notes_.end());
    close_notes_.clear();
}

double CaptureMarks::take_for_dsp(std::vector<std::pair<double, double>>& contractions) {
    contractions.clear();
    std::lock_guard lock(mutex_);
    contractions.swap(dsp_marks_);
    return seconds_of(units_now());
}

LiveMarks CaptureMarks::live_marks(bool keys) {
    std::lock_guard lock(mutex_);
    LiveMarks m;
    m.holding = open_mark_.has_value();
    m.hold_start_s = open_mark_ ? seconds_of(open_mark_->first) : 0.0;
    for (const auto& a : markers_)
        m.contractions += a.duration_s >= 0.0;
    if (recent_.size() > 3)
        recent_.erase(recent_.begin(), recent_.end() - 3);
    m.recent = recent_;
    m.typing = typing_;
    m.typed = typed_;
    m.keys = keys;
    return m;
}

std::vector<std::string> CaptureMarks::take_new_lines() {
    std::vector<std::string> lines;
    std::lock_guard lock(mutex_);
    lines.swap(new_lines_);
    return lines;
}

std::vector<Annotation> CaptureMarks::markers() const {
    std::vector<Annotation> out;
    std::lock_guard lock(mutex_);
    for (const auto& m : markers_)
        if (m.text != contraction_ || m.duration_s >= 0.0)
            out.push_back(m); // a contraction once, with its duration
    std::stable_sort(out.begin(), out.end(), [](const Annotation& x, const Annotation& y) {
        return x.onset_s < y.onset_s;
    });
    return out;
}

} // namespace semg::pipeline
