// ASCII lines (Arduino, MyoWare, BioAmp and similar), any baud rate.
//
// Decodes one frame per line: numbers separated by commas, spaces or tabs (runs count as one
// separator), each optionally labelled as `name:value` (Arduino Serial Plotter style; a space
// after the colon is allowed). Lines end with LF, CR or CR LF; empty lines are ignored.
// Units: µV = (value − offset_counts) × scale_uv_per_count, from the config.
// Rate: from the config; such devices are often not timer-paced and send no counter, so the
// parser cannot see lost lines and reports no gaps.
// Format: the first data line fixes the channel count; later lines of another width are bad.
// Channel names come from the labels of that first line, else from the last text line before
// it if it has as many fields (a header), else "ch1".."chN". A text line that does not match
// is taken for boot chatter and ignored.
// Errors: a line with a non-numeric or non-finite field (or one whose µV exceed a float), of
// the wrong width, text after the first data line, or longer than max_line_bytes, is dropped
// and counted in bad_lines.
// Guarantees: see protocol.hpp (never throws on data, no allocation in feed except once, when
// the first data line fixes the channel names; chunk-invariant).
#pragma once

#include "acquisition/protocols/framing.hpp"
#include "acquisition/protocols/protocol.hpp"

#include <string>
#include <vector>

namespace semg::acquisition {

class AsciiParser final : public Parser {
public:
    explicit AsciiParser(AsciiConfig config); // throws std::invalid_argument (rate, scale, size)

    std::string_view name() const noexcept override { return protocol_name(Protocol::Ascii); }
    void feed(std::span<const std::uint8_t> bytes, FrameSink& sink) override;
    void reset() noexcept override;
    const ParserCounters& counters() const noexcept override { return counters_; }
    std::size_t channels() const noexcept override { return channels_; }
    double sample_rate_hz() const noexcept override { return config_.sample_rate_hz; }
    std::vector<std::string> channel_labels() const override;

private:
    enum class LineKind { Empty, Data, Text, Bad };
    LineKind classify(std::string_view line, bool* all_labelled);
    void on_line(std::string_view line, FrameSink& sink);
    void fix_format(std::string_view line, bool all_labelled);

    AsciiConfig config_;
    std::vector<char> line_; // the partial line, capacity max_line_bytes
    std::size_t line_bytes_ = 0;
    bool discarding_ = false; // inside an over-long line, until its end
    std::string header_;      // last text line before the first data line
    std::vector<double> values_;
    std::vector<float> frame_uv_;
    std::vector<std::string> labels_;
    std::size_t channels_ = 0;
    detail::FrameClock clock_;
    ParserCounters counters_;
};

} // namespace semg::acquisition
