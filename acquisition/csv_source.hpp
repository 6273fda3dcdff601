// CSV/TSV recordings: a header row of channel names, then one row per sample instant.
// A first column named time/time_s/t/seconds (in seconds) gives the sample rate; otherwise it
// must be given. Units come from the column name suffix (_uV, _mV, _V, "(mV)", "[uV]");
// a column without one is taken as µV with a notice. Streams: memory does not grow with length.
#pragma once

#include "acquisition/source.hpp"

#include <filesystem>
#include <fstream>
#include <optional>

namespace semg::acquisition {

class CsvSource final : public Source {
public:
    struct Options {
        std::optional<double> sample_rate_hz; // required when there is no time column
    };
    CsvSource(const std::filesystem::path& path, Options options); // throws SourceError
    const SourceInfo& info() const override { return info_; }
    std::size_t read(dsp::BlockRef out) override;

private:
    // Parses one data row into values_; returns false at the end of the file.
    bool next_row();
    [[noreturn]] void fail(const std::string& what) const;

    std::filesystem::path path_;
    std::ifstream in_;
    char separator_ = ',';
    bool has_time_ = false;
    SourceInfo info_;
    std::vector<std::string> names_; // every column, for messages
    std::vector<double> to_uv_;
    std::vector<double> values_;
    std::string line_;
    std::size_t line_number_ = 0;
};

} // namespace semg::acquisition
