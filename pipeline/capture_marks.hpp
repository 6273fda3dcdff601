// The marker book of `semg capture` (docs/capture.md, "Markers"): every annotation that is not
// a sample gap, from where it is made to where it goes.
//
// Made by: the semg-keys thread (key()), the semg-control socket thread (request()) and the
// session thread (a contraction still going on at the end, "device lost" / "reconnected").
// Taken by: the recorder (take_for_recorder(): live annotations in raw.bdf as they happen, and
// the session's notes for the close), the DSP worker (take_for_dsp(): marked contractions and the
// stream position before which no marker can come any more), the session (live_marks(),
// take_new_lines() for the view; markers() for summary.json).
// Owns: the book and its mutex, nothing else; every method is thread-safe. A change posts
// MarksChanged on the event queue.
// Times are whole 0.1 ms units of the stream (frames received when the marker came, floored):
// raw.bdf's annotations hold them exactly, so the live analysis and a later `semg analyze` see
// the same contraction boundaries.
#pragma once

#include "acquisition/edf.hpp"
#include "pipeline/capture_events.hpp"
#include "pipeline/capture_view.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace semg::pipeline {

class CaptureMarks {
public:
    struct RecorderMark {
        bool update = false; // set the duration of mark `key`
        std::size_t key = 0;
        acquisition::Annotation note;
    };

    // `contraction`: the annotation text of a marked contraction (AnalysisSettings::annotation).
    CaptureMarks(std::string contraction, CaptureEventQueue& events)
        : contraction_(std::move(contraction)), events_(events) {}

    // Session thread, once the recorder runs: `frames_now` gives the frames received so far
    // (the reader's count) at `fs`. Requests before this are refused.
    void open(double fs, std::function<std::uint64_t()> frames_now);
    bool is_open() const noexcept { return open_.load(std::memory_order_acquire); }
    // The recorder has stopped: requests are refused again.
    void close() noexcept { open_.store(false, std::memory_order_release); }

    // A request as the control socket takes it ("start", "stop", "toggle", "mark [TEXT]");
    // returns "ok ..." or "error: ...".
    std::string request(const std::string& request);
    // One key from the terminal: space starts or stops a contraction; m records the time and
    // takes a note, Enter saves it (no text: "marker"), Esc drops it, Backspace edits.
    void key(int key);
    // The end: a note being typed is dropped, a contraction going on ends now.
    void close_at_end();
    // A note the recorder adds to raw.bdf when it closes (before open(): dropped).
    void note_for_close(double t_s, std::string text);

    // Recorder: what to annotate live, and the notes for the close.
    void take_for_recorder(std::vector<RecorderMark>& marks);
    void take_notes_for_close(std::vector<acquisition::Annotation>& notes);
    // DSP worker: marked contractions (start, end; end infinite while it goes on) and the
    // horizon in seconds.
    double take_for_dsp(std::vector<std::pair<double, double>>& contractions);

    // Session: the view's share.
    LiveMarks live_marks(bool keys);
    std::vector<std::string> take_new_lines();
    // Markers and contractions as written to raw.bdf, a contraction once (with its duration),
    // by onset.
    std::vector<acquisition::Annotation> markers() const;

private:
    std::uint64_t units_now() const; // caller holds mutex_
    static double seconds_of(std::uint64_t units) { return static_cast<double>(units) / 1e4; }
    std::string add_note(std::uint64_t units, std::string text);
    std::string start_contraction(std::uint64_t units);
    std::string stop_contraction(std::uint64_t units);
    void line(std::string text); // caller holds mutex_

    const std::string contraction_;
    CaptureEventQueue& events_;
    std::atomic<bool> open_{false};
    mutable std::mutex mutex_;
    // Everything below is guarded by mutex_.
    double fs_ = 0.0;
    std::function<std::uint64_t()> frames_now_;
    std::vector<RecorderMark> recorder_marks_;
    std::vector<acquisition::Annotation> close_notes_;
    std::vector<std::pair<double, double>> dsp_marks_;
    std::optional<std::pair<std::uint64_t, std::size_t>> open_mark_; // start units, key
    std::size_t next_key_ = 0;
    std::vector<acquisition::Annotation> markers_; // as written (the report)
    std::vector<std::string> recent_;              // for the view
    std::vector<std::string> new_lines_;           // for the plain view
    bool typing_ = false;                          // `m` pressed, note being typed
    std::string typed_;
    std::uint64_t typing_units_ = 0;
};

} // namespace semg::pipeline
