// EDF/EDF+ and BDF/BDF+ through EDFlib: a Source that reads, and a writer.
// Units: physical dimensions uV, mV, V and nV are converted to µV.
#pragma once

#include "acquisition/source.hpp"

#include <array>
#include <filesystem>
#include <optional>
#include <memory>

namespace semg::acquisition {

// Reads the EMG signals of an EDF/BDF file. Signals at another sample rate than the fastest
// voltage signals, and signals whose dimension is not a voltage, are skipped with a notice.
class EdfSource final : public Source {
public:
    explicit EdfSource(const std::filesystem::path& path); // throws SourceError
    ~EdfSource() override;
    EdfSource(const EdfSource&) = delete;
    EdfSource& operator=(const EdfSource&) = delete;

    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;

private:
    std::filesystem::path path_;
    int handle_ = -1;
    SourceInfo info_;
    std::vector<int> signals_;       // EDF signal index of each channel
    std::vector<double> to_uv_;      // physical unit -> µV, per channel
    std::vector<double> scratch_;
    std::uint64_t position_ = 0;
};

enum class EdfFormat { Edf, EdfPlus, Bdf, BdfPlus };

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
    // Onset and duration in seconds from the start of the file (EDF+/BDF+ only).
    void annotate(const Annotation& annotation);
    void close();
    std::uint64_t frames_written() const noexcept { return frames_written_; }

private:
    void flush_record();

    std::filesystem::path path_;
    EdfWriterConfig config_;
    int handle_ = -1;
    int digital_min_ = 0;
    int digital_max_ = 0;
    std::vector<int> record_; // one data record, channel after channel
    std::size_t record_fill_ = 0;
    std::uint64_t frames_written_ = 0;
};

EdfFormat edf_format_for(const std::filesystem::path& path, bool plus);

} // namespace semg::acquisition
