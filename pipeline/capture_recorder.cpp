#include "pipeline/capture_recorder.hpp"

#include "acquisition/serial_port.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace semg::pipeline {

using acquisition::Annotation;
using Clock = CaptureClock;

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

CaptureRecorder::CaptureRecorder(const std::filesystem::path& raw_path,
                                 const acquisition::EdfWriterConfig& cfg,
                                 const StreamFormat& format, SpscRing<RawSlot>& ring,
                                 CaptureMarks& marks, CaptureEventQueue& events)
    : format_(format), ring_(ring), marks_(marks), events_(events),
      writer_(std::make_unique<acquisition::EdfWriter>(raw_path, cfg)) {}

CaptureRecorder::~CaptureRecorder() { join(); }

void CaptureRecorder::start() {
    thread_ = std::jthread([this] { main(); });
}

void CaptureRecorder::join() {
    if (thread_.joinable())
        thread_.join();
}

// The recorder's share of the markers: written into raw.bdf as they come.
void CaptureRecorder::take_marks() {
    marks_.take_for_recorder(marks_taken_);
    for (auto& m : marks_taken_) {
        if (!m.update) {
            if (live_ids_.size() <= m.key)
                live_ids_.resize(m.key + 1, 0);
            live_ids_[m.key] = writer_->annotate_live(m.note);
        } else if (m.key < live_ids_.size()) {
            writer_->set_live_duration(live_ids_[m.key], m.note.duration_s);
        }
    }
}

void CaptureRecorder::main() {
    acquisition::set_current_thread_name("semg-recorder");
    const double fs = format_.fs;
    const std::size_t channels = format_.channels;
    const std::size_t slot_frames = format_.slot_frames;
    dsp::Block zeros = format_.zero_block();
    auto fail = [&](const std::exception& e) {
        failed_ = true;
        events_.post(CaptureEventKind::RecorderFailed, e.what());
    };
    std::uint64_t expected = 0;
    auto last_flush = Clock::now();
    for (;;) {
        RawSlot* s = ring_.wait_front(std::chrono::milliseconds(250));
        if (!failed_) {
            try {
                take_marks();
            } catch (const std::exception& e) {
                fail(e);
            }
        }
        if (s) {
            if (!failed_) {
                try {
                    if (s->first_frame > expected) {
                        const std::uint64_t missing = s->first_frame - expected;
                        annotations_.push_back({static_cast<double>(expected) / fs,
                                                static_cast<double>(missing) / fs,
                                                fmt::format("gap {} samples (overrun)", missing)});
                        for (std::uint64_t left = missing; left > 0;) {
                            const auto n = static_cast<std::size_t>(
                                std::min<std::uint64_t>(left, slot_frames));
                            zeros.set_frames(n);
                            writer_->write(zeros.cref());
                            left -= n;
                        }
                    }
                    if (s->lost_frames > 0) {
                        const std::string text =
                            s->filled_frames == s->lost_frames
                                ? fmt::format("gap {} samples", s->lost_frames)
                                : fmt::format("gap {} samples ({} filled)", s->lost_frames,
                                              s->filled_frames);
                        annotations_.push_back({static_cast<double>(s->first_frame) / fs,
                                                static_cast<double>(s->filled_frames) / fs, text});
                    }
                    writer_->write(
                        dsp::ConstBlockRef(s->samples.data(), s->frames, channels, slot_frames));
                } catch (const std::exception& e) {
                    fail(e);
                }
            }
            expected = s->first_frame + s->frames;
            frames_.store(expected);
            ring_.pop();
        } else if (ring_.closed() && !ring_.front()) {
            break;
        }
        if (Clock::now() - last_flush >= std::chrono::seconds(1)) {
            // EdfWriter (durable) pushes each record and its count to the kernel as the record
            // completes; this catches anything else buffered in stdio.
            std::fflush(nullptr);
            marks_.take_notes_for_close(annotations_);
            last_flush = Clock::now();
        }
    }
    marks_.take_notes_for_close(annotations_);
    if (failed_)
        return;
    try {
        close_file();
    } catch (const std::exception& e) {
        fail(e);
    }
}

void CaptureRecorder::close_file() {
    take_marks();
    const std::uint64_t frames = writer_->frames_written();
    const auto per_record = static_cast<std::uint64_t>(format_.fs);
    const std::uint64_t records = (frames + per_record - 1) / per_record;
    const bool padded = frames % per_record != 0; // EdfWriter then adds "Recording ends"
    fit_annotations(annotations_,
                    static_cast<std::size_t>(records - (padded && records > 0 ? 1 : 0)));
    for (const auto& a : annotations_)
        writer_->annotate(a);
    writer_->close();
    if (writer_->dropped_annotations() > 0)
        events_.post(
            CaptureEventKind::Warning,
            fmt::format("{} annotations found no room in raw.bdf", writer_->dropped_annotations()));
}

} // namespace semg::pipeline
