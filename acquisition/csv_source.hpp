// CSV/TSV recordings: a header row of channel names, then one row per sample instant.
// Delimiter: tab, semicolon or comma, whichever splits the header and the first data row alike;
// with a tab or semicolon delimiter a decimal comma is read as a decimal point. A UTF-8 BOM before
// the header is skipped.
// Sample rate: a first column named time/time_s/t/seconds (or time_ms/t_ms) gives it, as the
// least-squares step over every timestamp (so timestamps rounded to 1 ms or 1 µs, or with jitter,
// still give the rate to better than 0.01 %). Every step is checked: time must increase, by no
// less than 1 µs (1 MHz) and by no more than 2.5 sample intervals (a gap). Without a time column
// the rate must be given (--fs); with one, a given rate that differs by more than 0.1 % is an error
// unless `force_sample_rate` is set, and then the time column is not read.
// Units come from the column name suffix (_uV, _mV, _V, "(mV)", "[uV]"). A column without one is
// µV, unless its RMS about the mean is below 0.01 (below any amplifier's noise in µV, typical of
// sEMG in volts): then it is read as volts, and a notice says so and which suffix to add.
// Streams in two passes: the constructor reads the file once (checks every row's field count and
// time, fits the rate, measures the unit-less columns, counts the rows), read() then reads it
// again and parses every field. Memory does not grow with the file's length; a line longer than
// max_line_bytes is an error. Only regular files are read (a FIFO or a device such as /dev/zero
// named .csv is refused).
#pragma once

#include "acquisition/source.hpp"

#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>

namespace semg::acquisition {

class CsvSource final : public Source {
public:
    struct Options {
        std::optional<double> sample_rate_hz; // required when there is no time column
        bool force_sample_rate = false;       // sample_rate_hz wins over the time column
    };
    static constexpr std::size_t max_line_bytes = std::size_t{1} << 20;
    static constexpr double max_sample_rate_hz = 1e6;
    // A column without a unit suffix whose RMS about the mean is below this is read as volts.
    static constexpr double volts_below_rms = 0.01;
    // A time step above this many sample intervals is a gap in the recording.
    static constexpr double gap_steps = 2.5;

    CsvSource(const std::filesystem::path& path, Options options); // throws SourceError
    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;

private:
    // Lines through one fixed buffer of max_line_bytes: a long line is an error, never growth.
    class LineReader {
    public:
        enum class Status { Line, End, TooLong };
        bool open(const std::filesystem::path& path);
        // The next line without its '\n', valid until the next call.
        Status next(std::string_view& line);
        std::uint64_t offset() const { return buffer_offset_ + begin_; } // of the next line
        void seek(std::uint64_t offset);
        bool failed() const { return in_.bad(); }

    private:
        std::ifstream in_;
        std::vector<char> buffer_;
        std::size_t begin_ = 0, end_ = 0;
        std::uint64_t buffer_offset_ = 0; // file offset of buffer_[0]
        bool eof_ = false;
    };

    // The next line (line_number_ counts it); fails on a line longer than max_line_bytes.
    bool next_line(std::string_view& line);
    // Reads the next non-blank data row into values_; false at the end of the file.
    bool next_row();
    double parse_field(std::string_view field, std::size_t column) const;
    // The first pass: every row parsed and checked, rate fitted, columns measured, rows counted.
    void scan(const Options& options);
    [[noreturn]] void fail(const std::string& what) const;                      // at line_number_
    [[noreturn]] void fail_at(std::size_t line, const std::string& what) const; // 0: the whole file

    std::filesystem::path path_;
    LineReader lines_;
    std::uint64_t data_offset_ = 0; // the first line after the header
    char separator_ = ',';
    bool decimal_comma_ = false;             // allowed: the delimiter is not a comma
    mutable bool saw_decimal_comma_ = false; // for the notice
    bool has_time_ = false;
    double time_unit_s_ = 1.0; // seconds per unit of the time column
    SourceInfo info_;
    std::vector<std::string> names_; // every column, for messages
    std::vector<double> to_uv_;
    std::vector<double> values_;
    std::vector<char> parse_; // per column: next_row() parses it (all but in the first pass)
    std::size_t line_number_ = 0;
};

} // namespace semg::acquisition
