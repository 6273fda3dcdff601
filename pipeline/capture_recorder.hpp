// The recorder of `semg capture`: raw.bdf, lossless.
//
// Thread: semg-recorder (start() .. join()); the constructor and the accessors after join() run
// on the session thread.
// Owns: the EdfWriter of raw.bdf (durable BDF+, its header on disk at construction), the gap
// annotations and the live marker ids. Takes: slots from the reader -> recorder ring (consumer
// end; a jump in frame numbers is a ring overrun, written as 0 µV and annotated
// `gap N samples (overrun)`), device gaps from the slots, its share of the marker book.
// Tells the session through the event queue: RecorderFailed, Warning.
#pragma once

#include "acquisition/edf.hpp"
#include "pipeline/capture_events.hpp"
#include "pipeline/capture_marks.hpp"
#include "pipeline/capture_reader.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace semg::pipeline {

class CaptureRecorder {
public:
    // Creates raw.bdf (throws on failure).
    CaptureRecorder(const std::filesystem::path& raw_path, const acquisition::EdfWriterConfig& cfg,
                    const StreamFormat& format, SpscRing<RawSlot>& ring, CaptureMarks& marks,
                    CaptureEventQueue& events);
    ~CaptureRecorder(); // joins (the ring must be closed first)
    CaptureRecorder(const CaptureRecorder&) = delete;
    CaptureRecorder& operator=(const CaptureRecorder&) = delete;

    void start();
    bool running() const noexcept { return thread_.joinable(); }
    void join();
    // Frames in raw.bdf so far (any thread).
    std::uint64_t frames() const noexcept { return frames_.load(); }

private:
    void main();
    void take_marks();
    void close_file();

    const StreamFormat& format_;
    SpscRing<RawSlot>& ring_;
    CaptureMarks& marks_;
    CaptureEventQueue& events_;
    std::unique_ptr<acquisition::EdfWriter> writer_;
    std::vector<acquisition::Annotation> annotations_; // written at the close
    std::vector<std::size_t> live_ids_;                // marker key -> EdfWriter live annotation id
    std::vector<CaptureMarks::RecorderMark> marks_taken_;
    bool failed_ = false;
    std::atomic<std::uint64_t> frames_{0};
    std::jthread thread_;
};

// EDFlib keeps one annotation per data record (the rest would be dropped silently at close):
// merge gap annotations that fall into the same window, doubling the window until they fit.
// A merged annotation keeps the counts: "gaps K, N samples".
void fit_annotations(std::vector<acquisition::Annotation>& notes, std::size_t budget);

} // namespace semg::pipeline
