#include "acquisition/protocols/ascii.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace semg::acquisition {

namespace {

bool is_separator(char c) noexcept { return c == ',' || c == ' ' || c == '\t'; }

// Calls f(token) for every token of the line.
template <class F> void for_each_token(std::string_view line, F&& f) {
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_separator(line[i]))
            ++i;
        const std::size_t start = i;
        while (i < line.size() && !is_separator(line[i]))
            ++i;
        if (i > start)
            f(line.substr(start, i - start));
    }
}

enum class Number { Finite, NonFinite, NotANumber };

// Locale-independent and allocation-free, unlike strtod and streams.
Number parse_number(std::string_view s, double& value) noexcept {
    if (!s.empty() && s.front() == '+') {
        s.remove_prefix(1);
        if (!s.empty() && (s.front() == '+' || s.front() == '-'))
            return Number::NotANumber;
    }
    if (s.empty())
        return Number::NotANumber;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size())
        return Number::NotANumber;
    return std::isfinite(value) ? Number::Finite : Number::NonFinite;
}

std::string_view strip_quotes(std::string_view s) noexcept {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
        return s.substr(1, s.size() - 2);
    return s;
}

} // namespace

AsciiParser::AsciiParser(AsciiConfig config) : config_(config) {
    if (!(config_.sample_rate_hz > 0.0) || !std::isfinite(config_.sample_rate_hz))
        throw std::invalid_argument("AsciiParser: sample_rate_hz must be given (> 0)");
    if (!std::isfinite(config_.scale_uv_per_count) || config_.scale_uv_per_count == 0.0)
        throw std::invalid_argument("AsciiParser: scale_uv_per_count must be finite, non-zero");
    if (!std::isfinite(config_.offset_counts))
        throw std::invalid_argument("AsciiParser: offset_counts must be finite");
    if (config_.max_line_bytes < 2 || config_.max_line_bytes > (1u << 20))
        throw std::invalid_argument("AsciiParser: max_line_bytes must be in [2, 1 MiB]");
    line_.resize(config_.max_line_bytes);
    header_.reserve(config_.max_line_bytes);
    // A field takes at least one character and one separator: this bounds the fields per line.
    values_.reserve(config_.max_line_bytes / 2 + 1);
    frame_uv_.reserve(config_.max_line_bytes / 2 + 1);
}

void AsciiParser::feed(std::span<const std::uint8_t> bytes, FrameSink& sink) {
    counters_.bytes += bytes.size();
    for (const std::uint8_t b : bytes) {
        if (b == '\n' || b == '\r') {
            if (!discarding_ && line_bytes_ > 0)
                on_line(std::string_view(line_.data(), line_bytes_), sink);
            discarding_ = false;
            line_bytes_ = 0;
            continue;
        }
        if (discarding_)
            continue;
        if (line_bytes_ == line_.size()) {
            ++counters_.bad_lines;
            discarding_ = true;
            line_bytes_ = 0;
            continue;
        }
        line_[line_bytes_++] = static_cast<char>(b);
    }
}

AsciiParser::LineKind AsciiParser::classify(std::string_view line, bool* all_labelled) {
    values_.clear();
    std::size_t numbers = 0, texts = 0, non_finite = 0;
    bool labelled = true;
    bool pending_label = false; // "name:" then the value as the next field
    for_each_token(line, [&](std::string_view token) {
        std::string_view value = token;
        bool has_label = pending_label;
        if (!pending_label) {
            if (const auto colon = token.find(':'); colon != std::string_view::npos) {
                value = token.substr(colon + 1);
                has_label = true;
                if (value.empty()) {
                    pending_label = true;
                    return;
                }
            }
        }
        pending_label = false;
        double v = 0.0;
        Number kind = parse_number(value, v);
        // A finite count whose µV do not fit a float (e.g. 1e39) would reach the sink as an
        // infinite sample: a bad line, like "inf" itself.
        if (kind == Number::Finite &&
            !(std::abs((v - config_.offset_counts) * config_.scale_uv_per_count) <=
              std::numeric_limits<float>::max()))
            kind = Number::NonFinite;
        switch (kind) {
        case Number::Finite:
            ++numbers;
            labelled = labelled && has_label;
            values_.push_back(v); // capacity bounds the fields of a line: never reallocates
            break;
        case Number::NonFinite: ++non_finite; break;
        case Number::NotANumber: ++texts; break;
        }
    });
    if (pending_label)
        ++texts;
    *all_labelled = labelled;
    if (numbers == 0 && texts == 0 && non_finite == 0)
        return LineKind::Empty;
    if (non_finite > 0 || (numbers > 0 && texts > 0))
        return LineKind::Bad;
    return numbers > 0 ? LineKind::Data : LineKind::Text;
}

void AsciiParser::on_line(std::string_view line, FrameSink& sink) {
    bool all_labelled = false;
    switch (classify(line, &all_labelled)) {
    case LineKind::Empty: return;
    case LineKind::Bad: ++counters_.bad_lines; return;
    case LineKind::Text:
        if (channels_ == 0)
            header_.assign(line); // within the reserved capacity: no allocation
        else
            ++counters_.bad_lines;
        return;
    case LineKind::Data: break;
    }
    if (channels_ == 0) {
        fix_format(line, all_labelled);
    } else if (values_.size() != channels_) {
        ++counters_.bad_lines;
        return;
    }
    frame_uv_.resize(channels_); // within capacity
    for (std::size_t c = 0; c < channels_; ++c)
        frame_uv_[c] =
            static_cast<float>((values_[c] - config_.offset_counts) * config_.scale_uv_per_count);
    clock_.emit(sink, counters_, 0, frame_uv_);
}

void AsciiParser::fix_format(std::string_view line, bool all_labelled) {
    channels_ = values_.size();
    labels_.clear();
    if (all_labelled) {
        // Labels of the first data line; "name:" followed by a separate value field is one.
        for_each_token(line, [&](std::string_view token) {
            if (const auto colon = token.find(':'); colon != std::string_view::npos)
                labels_.emplace_back(token.substr(0, colon));
        });
    } else if (!header_.empty()) {
        std::vector<std::string> names;
        for_each_token(header_, [&](std::string_view t) { names.emplace_back(strip_quotes(t)); });
        if (names.size() == channels_)
            labels_ = std::move(names);
    }
    if (labels_.size() != channels_)
        labels_.clear();
}

std::vector<std::string> AsciiParser::channel_labels() const {
    return labels_.empty() ? Parser::channel_labels() : labels_;
}

void AsciiParser::reset() noexcept {
    line_bytes_ = 0;
    discarding_ = false;
    header_.clear();
    values_.clear();
    labels_.clear();
    channels_ = 0;
    clock_.reset();
    counters_ = {};
}

} // namespace semg::acquisition
