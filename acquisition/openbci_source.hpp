// OpenBCI GUI text exports ("OpenBCI-RAW-*.txt"): the EXG channels, in µV, as EMG.
//
// Two generations of the GUI are read, told apart by the first row after the '%' lines:
//  - v3/v4: '%' header lines ("%OpenBCI Raw EEG Data", "%Sample Rate = 200.0 Hz", perhaps
//    "%Number of channels = 4"), then rows "index, ch1, ..., chN, acc1, acc2, acc3[, HH:MM:SS.mmm]"
//    without a column header. N is the header's channel count, else the fields of the first row
//    less the index, the three accelerometer/aux fields and the time of day when the last field
//    is one. Labels ch1..chN.
//  - v5/v6: "%OpenBCI Raw EXG Data" (v5.0: "EEG"), "%Number of channels = 8", "%Sample Rate = 250
//    Hz", "%Board = OpenBCI_GUI$BoardCytonSerial", then a column header "Sample Index, EXG Channel
//    0, ..., Accel Channel 0, ..., Other, ..., Analog Channel 0, ..., Timestamp, [Marker Channel,]
//    Timestamp (Formatted)". EMG: the "EXG Channel k" columns, under those labels.
// Values are µV as the GUI wrote them (scaled with the board's gain by the GUI: the file carries
// no gain). The sample rate is the header's. Every other column (sample index, accelerometer,
// aux, analog, digital, marker, timestamps) is left out of the EMG and listed as skipped; the
// skipped columns are not parsed, only counted.
// Sample index: a step that is not +1 or the wrap to 0 is reported as lost samples
// (SequenceGaps), and a step of the time of day (v3/v4) or Unix timestamp (v5/v6) above 1 s as a
// pause; both are warnings, and the samples either side are read as continuous (the file has no
// samples for the gap).
// Two passes, as CsvSource: the constructor checks every row (field count, numbers, index, time)
// and counts them; read() reads the rows again. Memory does not grow with the file.
#pragma once

#include "acquisition/source.hpp"
#include "acquisition/text_lines.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace semg::acquisition {

class OpenBciSource final : public Source {
public:
    static constexpr double max_sample_rate_hz = 1e6;
    // A step of the time column above this is a pause in the recording.
    static constexpr double pause_s = 1.0;

    explicit OpenBciSource(const std::filesystem::path& path); // throws SourceError
    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;

    // The first bytes of a file are an OpenBCI GUI export's.
    static bool recognises(std::string_view head);
    // "v3/v4" or "v5/v6"; the board as the header names it ("" for v3/v4, which do not).
    const std::string& generation() const noexcept { return generation_; }
    const std::string& board() const noexcept { return board_; }

private:
    enum class Role { Index, Emg, ClockTime, UnixTime, Skip };

    void scan();
    void layout_from_header(std::string_view header_line);
    void layout_from_row(std::size_t fields, std::string_view last_field,
                         std::optional<int> channels);
    // Splits line into fields_; false for a blank or '%' line.
    bool split(std::string_view line);
    double number(std::size_t column) const;
    [[noreturn]] void fail(const std::string& what) const; // at the current line

    std::filesystem::path path_;
    TextLines lines_;
    TextLines::Mark data_;
    std::uint64_t remaining_ = 0; // rows read() may still return
    std::string generation_, board_;
    std::vector<Role> roles_;
    std::vector<std::string> names_;
    std::vector<std::size_t> emg_columns_;
    std::vector<std::string_view> fields_;
    SourceInfo info_;
};

} // namespace semg::acquisition
