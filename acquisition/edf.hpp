// EDF/EDF+ and BDF/BDF+ through EDFlib: a Source that reads, and a writer.
// Units: physical dimensions uV, mV, V and nV are converted to µV.
#pragma once

#include "acquisition/source.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

namespace semg::acquisition {

// Reads the EMG signals of an EDF/BDF file. Signals at another sample rate than the fastest
// voltage signals, and signals whose dimension is not a voltage, are skipped with a notice.
// The header is first checked here field by field, so that a fault is named (EDFlib reports
// them all as one "format error"), and gives the data layout with every signal, annotation
// signals included, decided by EDFlib's rule. EDFlib then validates the rest and reads the
// annotations; the samples are read a data record at a time with one fread and decoded here,
// because EDFlib reads them with one getc per byte, which is slow and, once the process has a
// second thread, slower still.
// A file whose writer did not finish (record count -1 or lagging, a partial last record) is
// read up to its last complete record with a warning (EDFlib is given a corrected in-memory
// view of header and annotation signals; the file is never written). Annotations with an onset
// outside the recording are dropped with a warning.
class EdfSource final : public Source {
public:
    explicit EdfSource(const std::filesystem::path& path); // throws SourceError
    ~EdfSource() override;
    EdfSource(const EdfSource&) = delete;
    EdfSource& operator=(const EdfSource&) = delete;

    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;

private:
    struct Layout { // where channel c's samples sit in a data record, and how to scale them
        std::size_t offset_bytes;
        double scale_uv, offset_uv; // µV = digital * scale + offset
    };
    bool load_record();

    std::filesystem::path path_;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_{nullptr, &std::fclose};
    SourceInfo info_;
    std::vector<Layout> layout_;
    std::size_t bytes_per_sample_ = 2;
    std::size_t samples_per_record_ = 0; // of the EMG signals
    std::size_t header_bytes_ = 0;
    std::size_t record_bytes_ = 0;
    std::uint64_t records_ = 0;
    std::uint64_t next_record_ = 0;
    std::vector<unsigned char> record_;
    std::size_t in_record_ = 0; // frames of the loaded record already handed out
    std::size_t record_frames_ = 0;
};

// EDFlib writes the '+' variants only (plain EDF/BDF readers accept them).
enum class EdfFormat { EdfPlus, BdfPlus };

struct EdfWriterConfig {
    EdfFormat format = EdfFormat::BdfPlus;
    int sample_rate_hz = 0; // integer: one data record per second
    std::vector<std::string> labels;
    double physical_min_uv = -100000.0; // ±100 mV: a BDF step is then 0.012 µV
    double physical_max_uv = 100000.0;
    std::string equipment = "semg";
    std::string prefilter;
    // Start date and time in the header; empty: EDFlib's default (now). A fixed start makes
    // files reproducible byte for byte (the simulator uses 2000-01-01 00:00:00).
    std::optional<std::array<int, 6>> start; // year, month, day, hour, minute, second
    // Readable after a kill at any moment (a capture's raw.bdf): the header is on disk from the
    // start, and after every data record the record is pushed to the kernel and the header's
    // record count rewritten. Without it EDFlib writes the header with the first record and
    // leaves its count at -1 until close(), which readers refuse.
    bool durable = false;
};

// Writes float µV blocks as digital samples, one data record per second. An unfinished last
// record is padded with zeros on close and an annotation marks where the recording really ends.
// The caller chooses the path; use a temporary name and rename after close() for atomic output.
class EdfWriter {
public:
    EdfWriter(const std::filesystem::path& path, EdfWriterConfig config); // throws SourceError
    ~EdfWriter();
    EdfWriter(const EdfWriter&) = delete;
    EdfWriter& operator=(const EdfWriter&) = delete;

    void write(dsp::ConstBlockRef block);
    // Onset and duration in seconds from the start of the file (EDF+/BDF+ only). Durable: kept
    // until close(), then written into the annotation signal of records with room (several per
    // record where they fit); otherwise EDFlib writes them at close, one per record.
    void annotate(const Annotation& annotation);
    // Durable only: an annotation written into the recording as it is made, in the annotation
    // signal of the next data record to complete (a kill after that keeps it), onset and
    // duration to 0.1 ms. Text longer than a record's annotation signal allows is cut (at a
    // UTF-8 character). Returns an id for set_live_duration().
    std::size_t annotate_live(Annotation annotation);
    // Sets (or changes) the duration of a live annotation; a written one is rewritten in place
    // (or in a later record when it no longer fits its own).
    void set_live_duration(std::size_t id, double duration_s);
    // Durable: annotations close() found no room for (0 unless there are more than fit).
    std::size_t dropped_annotations() const noexcept { return dropped_annotations_; }
    void close();
    std::uint64_t frames_written() const noexcept { return frames_written_; }
    std::uint64_t records_written() const noexcept { return records_written_; }

private:
    void flush_record();
    void write_header_now();
    void write_record_count();

    std::filesystem::path path_;
    EdfWriterConfig config_;
    int handle_ = -1;
    int digital_min_ = 0;
    int digital_max_ = 0;
    std::vector<int> record_; // one data record, channel after channel
    std::size_t record_fill_ = 0;
    std::uint64_t frames_written_ = 0;
    std::uint64_t records_written_ = 0;
    int header_fd_ = -1; // durable: a second descriptor on the file for the header's count

    // Durable annotations, written here into the annotation signal (EDFlib is given none).
    struct PlacedNote {
        Annotation note;
        long long record = -1; // data record holding it; -1: not written yet
        bool live = false;     // annotate_live(): into the next record; else at close()
    };
    bool render_record(long long record);
    void place_waiting(long long first_record, long long last_record, bool live_only);
    std::vector<PlacedNote> notes_;
    std::size_t header_bytes_ = 0;
    std::size_t record_bytes_ = 0;
    std::size_t annotation_offset_ = 0; // of the annotation signal in a record
    std::size_t annotation_bytes_ = 0;
    std::size_t dropped_annotations_ = 0;
};

} // namespace semg::acquisition
