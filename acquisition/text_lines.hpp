// Lines of a text recording for the header-then-rows readers (OpenBCI GUI, OpenSignals): a
// UTF-8 byte order mark before the first line and a trailing '\r' are dropped, lines are
// numbered from 1 for messages, a line longer than max_bytes is an error, and a position can be
// marked and returned to (the second pass over the rows).
#pragma once

#include "acquisition/source.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace semg::acquisition {

class TextLines {
public:
    static constexpr std::size_t max_bytes = std::size_t{1} << 20;
    struct Mark {
        std::uint64_t offset = 0;
        std::size_t number = 0; // lines before it
    };

    explicit TextLines(const std::filesystem::path& path) : path_(path) {
        in_.open(path, std::ios::binary);
        if (!in_)
            throw SourceError(path.string() + ": cannot open");
    }
    // The next line, valid until the next call; false at the end of the file.
    bool next(std::string_view& line) {
        if (!std::getline(in_, line_)) {
            if (in_.bad())
                throw SourceError(path_.string() + ": read error after line " +
                                  std::to_string(number_));
            return false;
        }
        offset_ += line_.size() + (in_.eof() ? 0 : 1);
        ++number_;
        if (line_.size() > max_bytes)
            throw SourceError(path_.string() + ": line " + std::to_string(number_) +
                              " is longer than " + std::to_string(max_bytes) +
                              " bytes: not a text recording");
        if (!line_.empty() && line_.back() == '\r')
            line_.pop_back();
        line = line_;
        if (number_ == 1 && line.starts_with("\xEF\xBB\xBF"))
            line.remove_prefix(3); // UTF-8 BOM
        return true;
    }
    std::size_t number() const noexcept { return number_; }   // of the line last returned
    Mark mark() const noexcept { return {offset_, number_}; } // before the next line
    void rewind(const Mark& m) {
        in_.clear();
        in_.seekg(static_cast<std::streamoff>(m.offset));
        offset_ = m.offset;
        number_ = m.number;
    }

private:
    std::filesystem::path path_;
    std::ifstream in_;
    std::string line_;
    std::uint64_t offset_ = 0;
    std::size_t number_ = 0;
};

} // namespace semg::acquisition
