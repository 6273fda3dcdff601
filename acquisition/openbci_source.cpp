#include "acquisition/openbci_source.hpp"

#include "acquisition/sequence_gaps.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace semg::acquisition {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::optional<double> to_number(std::string_view s) {
    s = trim(s);
    if (!s.empty() && s.front() == '+')
        s.remove_prefix(1);
    double v = 0.0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v))
        return std::nullopt;
    return v;
}

// "HH:MM:SS.mmm" (v3/v4 time of day) in seconds since midnight.
std::optional<double> clock_seconds(std::string_view s) {
    s = trim(s);
    const auto c1 = s.find(':'), c2 = s.rfind(':');
    if (c1 == std::string_view::npos || c2 == c1)
        return std::nullopt;
    const auto h = to_number(s.substr(0, c1)), m = to_number(s.substr(c1 + 1, c2 - c1 - 1)),
               sec = to_number(s.substr(c2 + 1));
    if (!h || !m || !sec || *h < 0 || *h > 23 || *m < 0 || *m > 59 || *sec < 0 || *sec >= 61)
        return std::nullopt;
    return *h * 3600.0 + *m * 60.0 + *sec;
}

std::string fixed(double v, int decimals) {
    std::array<char, 48> buf{};
    const auto r =
        std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed, decimals);
    return {buf.data(), r.ptr};
}

// "%Key = value" header lines: the value, or nullopt when the line is another one.
std::optional<std::string_view> header_value(std::string_view line, std::string_view key) {
    line.remove_prefix(1); // '%'
    line = trim(line);
    if (!line.starts_with(key))
        return std::nullopt;
    line.remove_prefix(key.size());
    line = trim(line);
    if (line.empty() || line.front() != '=')
        return std::nullopt;
    return trim(line.substr(1));
}

bool is_exg(std::string_view name) {
    constexpr std::string_view prefix = "EXG Channel ";
    if (!name.starts_with(prefix) || name.size() == prefix.size())
        return false;
    return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

bool OpenBciSource::recognises(std::string_view head) {
    if (head.starts_with("\xEF\xBB\xBF"))
        head.remove_prefix(3);
    return head.starts_with("%OpenBCI") || head.starts_with("%Number of channels");
}

OpenBciSource::OpenBciSource(const std::filesystem::path& path) : path_(path), lines_(path) {
    info_.format = "openbci-txt";
    scan();
}

void OpenBciSource::fail(const std::string& what) const {
    throw SourceError(path_.string() + ": line " + std::to_string(lines_.number()) + ": " + what);
}

bool OpenBciSource::split(std::string_view line) {
    fields_.clear();
    if (trim(line).empty() || line.front() == '%')
        return false;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = line.find(',', start);
        fields_.push_back(trim(line.substr(start, end - start)));
        if (end == std::string_view::npos)
            break;
        start = end + 1;
    }
    if (!roles_.empty() && fields_.size() != roles_.size())
        fail(std::to_string(fields_.size()) + " fields, expected " + std::to_string(roles_.size()) +
             (generation_ == "v5/v6" ? " (the column header's)" : " (the first row's)"));
    return true;
}

double OpenBciSource::number(std::size_t column) const {
    const auto v = to_number(fields_[column]);
    if (!v)
        fail("column " + std::to_string(column + 1) + " ('" + names_[column] + "'): '" +
             std::string(fields_[column].substr(0, 40)) + "' is not a number");
    return *v;
}

void OpenBciSource::layout_from_header(std::string_view header_line) {
    generation_ = "v5/v6";
    std::size_t exg = 0;
    for (const auto& name : fields_) {
        names_.emplace_back(name);
        if (name == "Sample Index")
            roles_.push_back(Role::Index);
        else if (is_exg(name)) {
            roles_.push_back(Role::Emg);
            ++exg;
        } else if (name == "Timestamp")
            roles_.push_back(Role::UnixTime);
        else
            roles_.push_back(Role::Skip);
    }
    if (exg == 0)
        fail("the column header names no 'EXG Channel' column: '" +
             std::string(header_line.substr(0, 80)) + "'");
    if (std::count(roles_.begin(), roles_.end(), Role::Index) > 1 ||
        std::count(roles_.begin(), roles_.end(), Role::UnixTime) > 1)
        fail("the column header names 'Sample Index' or 'Timestamp' twice");
}

void OpenBciSource::layout_from_row(std::size_t fields, std::string_view last_field,
                                    std::optional<int> channels) {
    generation_ = "v3/v4";
    const bool clock = clock_seconds(last_field).has_value();
    const std::size_t extra = 1 + (clock ? 1 : 0);
    std::size_t n = 0;
    if (channels) {
        n = static_cast<std::size_t>(*channels);
        if (fields < n + extra)
            fail(std::to_string(fields) + " fields: too few for the index and the header's " +
                 std::to_string(n) + " channels");
    } else {
        if (fields < extra + 3 + 1)
            fail(std::to_string(fields) +
                 " fields: too few for an index, channels and the three "
                 "accelerometer fields (and no '%Number of channels' line)");
        n = fields - extra - 3;
    }
    names_.push_back("index");
    roles_.push_back(Role::Index);
    for (std::size_t c = 1; c <= n; ++c) {
        names_.push_back("ch" + std::to_string(c));
        roles_.push_back(Role::Emg);
    }
    for (std::size_t a = 1; names_.size() < fields - (clock ? 1 : 0); ++a) {
        names_.push_back("acc" + std::to_string(a));
        roles_.push_back(Role::Skip);
    }
    if (clock) {
        names_.push_back("time of day");
        roles_.push_back(Role::ClockTime);
    }
}

void OpenBciSource::scan() {
    std::optional<double> rate_hz;
    std::optional<int> channels;
    std::string_view line;
    TextLines::Mark before = lines_.mark();
    bool has_row = false;
    // Header: '%' lines up to the first other non-blank line.
    for (; lines_.next(line); before = lines_.mark()) {
        if (trim(line).empty())
            continue;
        if (line.front() != '%') {
            has_row = true;
            break;
        }
        if (auto v = header_value(line, "Sample Rate")) {
            std::string_view value = *v;
            if (value.ends_with("Hz"))
                value = trim(value.substr(0, value.size() - 2));
            rate_hz = to_number(value);
            if (!rate_hz || *rate_hz <= 0.0 || *rate_hz > max_sample_rate_hz)
                fail("sample rate '" + std::string(v->substr(0, 40)) +
                     "' is not a rate in Hz (0 to 1 MHz)");
        } else if (auto count = header_value(line, "Number of channels")) {
            const auto n = to_number(*count);
            if (!n || *n < 1 || *n > 1024 || *n != std::floor(*n))
                fail("number of channels '" + std::string(count->substr(0, 40)) +
                     "' is not a count from 1 to 1024");
            channels = static_cast<int>(*n);
        } else if (auto board = header_value(line, "Board")) {
            board_ = std::string(*board);
            if (const auto dollar = board_.rfind('$'); dollar != std::string::npos)
                board_.erase(0, dollar + 1);
        }
    }
    if (!has_row)
        throw SourceError(path_.string() + ": an OpenBCI GUI header without data rows");
    if (!rate_hz)
        fail("no '%Sample Rate = ... Hz' line before the data: the rate is not known");
    info_.sample_rate_hz = *rate_hz;

    split(line);
    const bool column_header = !to_number(fields_.front()).has_value();
    if (column_header) {
        layout_from_header(line);
        data_ = lines_.mark();
    } else {
        layout_from_row(fields_.size(), fields_.back(), channels);
        data_ = before;
        lines_.rewind(data_); // the first row is data: read it again below
    }
    for (std::size_t c = 0; c < roles_.size(); ++c)
        if (roles_[c] == Role::Emg) {
            emg_columns_.push_back(c);
            info_.channels.push_back({names_[c], std::nullopt, std::nullopt, std::nullopt});
        }
    if (channels && static_cast<std::size_t>(*channels) != emg_columns_.size())
        info_.warnings.push_back("the header says " + std::to_string(*channels) +
                                 " channels, the columns hold " +
                                 std::to_string(emg_columns_.size()) + ": the columns are read");

    // Rows: every field count, EMG value, index and time checked.
    const auto index_at = std::find(roles_.begin(), roles_.end(), Role::Index);
    const auto time_at = std::find_if(roles_.begin(), roles_.end(), [](Role r) {
        return r == Role::ClockTime || r == Role::UnixTime;
    });
    SequenceGaps sequence;
    GapWarnings gaps;
    std::optional<double> previous_time;
    std::uint64_t rows = 0;
    while (lines_.next(line)) {
        if (!split(line))
            continue;
        for (const std::size_t c : emg_columns_) {
            const double v = number(c);
            if (std::abs(v) > std::numeric_limits<float>::max())
                fail("column '" + names_[c] + "': " + std::string(fields_[c]) +
                     " is beyond a float sample");
        }
        std::string what;
        std::uint64_t lost = 0;
        if (index_at != roles_.end()) {
            const std::size_t c = static_cast<std::size_t>(index_at - roles_.begin());
            const double index = number(c);
            if (index < 0 || index != std::floor(index) || index > 1e15)
                fail("sample index '" + std::string(fields_[c].substr(0, 40)) +
                     "' is not a whole number >= 0");
            const std::uint64_t previous = sequence.previous();
            lost = sequence.step(static_cast<std::uint64_t>(index));
            if (lost > 0)
                what = "sample index " + std::to_string(previous) + " then " +
                       std::to_string(static_cast<std::uint64_t>(index)) + " (" +
                       std::to_string(lost) + " samples lost by the index" +
                       (static_cast<std::uint64_t>(index) <= previous
                            ? ", which wraps after " + std::to_string(sequence.highest())
                            : std::string()) +
                       ")";
        }
        if (time_at != roles_.end()) {
            const std::size_t c = static_cast<std::size_t>(time_at - roles_.begin());
            const bool clock = *time_at == Role::ClockTime;
            const auto t = clock ? clock_seconds(fields_[c]) : to_number(fields_[c]);
            if (!t)
                fail("column '" + names_[c] + "': '" + std::string(fields_[c].substr(0, 40)) +
                     "' is not " +
                     (clock ? "a time of day HH:MM:SS.mmm" : "a Unix time in seconds"));
            if (previous_time) {
                double step_s = *t - *previous_time;
                if (clock && step_s < -43200.0)
                    step_s += 86400.0; // past midnight
                if (step_s > pause_s) {
                    what += std::string(what.empty() ? "the " : " and the ") +
                            (clock ? "time of day" : "timestamp") + " jumps " + fixed(step_s, 3) +
                            " s (about " +
                            std::to_string(static_cast<std::uint64_t>(
                                std::llround(step_s * info_.sample_rate_hz))) +
                            " sample intervals): a pause in the recording";
                }
            }
            previous_time = *t;
        }
        if (!what.empty())
            gaps.add("line " + std::to_string(lines_.number()) + ": " + what +
                         "; the samples either side are "
                         "read as continuous",
                     lost);
        ++rows;
    }
    if (rows == 0)
        throw SourceError(path_.string() + ": no data rows after the header");
    info_.total_frames = rows;
    remaining_ = rows;
    gaps.report(info_.warnings, "sample index or time", "the recording is read as continuous");

    std::string skipped;
    for (std::size_t c = 0; c < roles_.size(); ++c)
        if (roles_[c] != Role::Emg) {
            info_.skipped.push_back({names_[c], info_.sample_rate_hz, "not an EXG channel"});
            skipped += (skipped.empty() ? "" : ", ") + names_[c];
        }
    info_.notices.push_back("OpenBCI GUI " + generation_ + " text export" +
                            (board_.empty() ? std::string() : ", board " + board_) + ": " +
                            std::to_string(emg_columns_.size()) + " EXG channels in uV at " +
                            fixed(info_.sample_rate_hz, 1) + " Hz; not EMG, skipped: " + skipped);
    lines_.rewind(data_);
}

std::size_t OpenBciSource::read(dsp::BlockRef out) {
    std::size_t n = 0;
    std::string_view line;
    while (n < out.frames && remaining_ > 0 && lines_.next(line)) {
        if (!split(line))
            continue;
        for (std::size_t k = 0; k < emg_columns_.size(); ++k)
            out.channel(k)[n] = static_cast<float>(number(emg_columns_[k]));
        ++n;
        --remaining_;
    }
    return n;
}

} // namespace semg::acquisition
