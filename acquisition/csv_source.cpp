#include "acquisition/csv_source.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace semg::acquisition {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '"' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '"' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view line, char separator) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = line.find(separator, start);
        fields.push_back(trim(line.substr(start, end - start)));
        if (end == std::string_view::npos)
            break;
        start = end + 1;
    }
    return fields;
}

std::size_t count_fields(std::string_view line, char separator) {
    return static_cast<std::size_t>(std::count(line.begin(), line.end(), separator)) + 1;
}

std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    return r;
}

// Seconds per unit of a time column's name (1 for seconds, 1e-3 for milliseconds); nullopt when
// the name is not a time column's.
std::optional<double> time_column_unit_s(std::string_view name) {
    const std::string n = lower(name);
    if (n == "time" || n == "time_s" || n == "t" || n == "t_s" || n == "seconds" ||
        n == "time (s)" || n == "time[s]" || n == "time [s]" || n == "time(s)")
        return 1.0;
    if (n == "time_ms" || n == "t_ms" || n == "milliseconds" || n == "time (ms)" ||
        n == "time[ms]" || n == "time [ms]" || n == "time(ms)")
        return 1e-3;
    return std::nullopt;
}

// µV per unit from a column-name suffix; nullopt when the name carries no unit.
std::optional<double> unit_from_name(std::string_view name) {
    static constexpr std::pair<std::string_view, double> units[] = {
        {"uv", 1.0},        {"µv", 1.0}, {"microvolt", 1.0}, {"mv", 1e3},
        {"millivolt", 1e3}, {"v", 1e6},  {"volt", 1e6}};
    const std::string n = lower(name);
    for (const auto& [unit, factor] : units) {
        for (const std::string& form : {"_" + std::string(unit), "(" + std::string(unit) + ")",
                                        "[" + std::string(unit) + "]", " " + std::string(unit)})
            if (n.size() > form.size() && n.ends_with(form))
                return factor;
    }
    return std::nullopt;
}

// v for messages: 12 significant digits by default, so a time read as 5.0009999999999994 shows
// as 5.001.
std::string text(double v, int digits = 12) {
    std::array<char, 32> buf{};
    const auto r =
        std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::general, digits);
    return {buf.data(), r.ptr};
}

// Of tab, semicolon and comma, the first that splits the header into as many fields as the first
// data row (so "time_s;emg_mV" over "0,001;0,25" is semicolon-delimited with decimal commas).
// Failing that, the first present in the header; the row check then names the line that differs.
char detect_separator(std::string_view header, std::string_view first_row) {
    for (const char c : {'\t', ';', ','})
        if (header.find(c) != std::string_view::npos &&
            (first_row.empty() || count_fields(header, c) == count_fields(first_row, c)))
            return c;
    for (const char c : {'\t', ',', ';'})
        if (header.find(c) != std::string_view::npos)
            return c;
    return ',';
}

// Least-squares line t = t0 + step * i through every timestamp, from running co-moments (Welford):
// memory stays flat, and an offset such as a Unix time cancels no digits. The standard error of
// the step comes from the residuals (rounding or jitter of the timestamps).
class StepFit {
public:
    void add(double t) {
        if (n_ == 0)
            t0_ = t;
        const double i = n_, u = t - t0_;
        n_ += 1.0;
        const double di = i - mean_i_, du = u - mean_u_;
        mean_i_ += di / n_;
        mean_u_ += du / n_;
        c_iu_ += di * (u - mean_u_);
        m2_i_ += di * (i - mean_i_);
        m2_u_ += du * (u - mean_u_);
    }
    [[nodiscard]] double step() const { return c_iu_ / m2_i_; }
    [[nodiscard]] double step_se() const {
        if (n_ < 3.0)
            return 0.0;
        const double rss = std::max(0.0, m2_u_ - c_iu_ * c_iu_ / m2_i_);
        return std::sqrt(rss / (n_ - 2.0) / m2_i_);
    }

private:
    double n_ = 0.0, t0_ = 0.0, mean_i_ = 0.0, mean_u_ = 0.0, c_iu_ = 0.0, m2_i_ = 0.0, m2_u_ = 0.0;
};

} // namespace

bool CsvSource::LineReader::open(const std::filesystem::path& path) {
    in_.open(path, std::ios::binary);
    buffer_.resize(max_line_bytes + 1); // the longest line and its '\n'
    return static_cast<bool>(in_);
}

CsvSource::LineReader::Status CsvSource::LineReader::next(std::string_view& line) {
    while (true) {
        const char* data = buffer_.data();
        if (const auto* nl =
                static_cast<const char*>(std::memchr(data + begin_, '\n', end_ - begin_))) {
            const auto at = static_cast<std::size_t>(nl - data);
            line = {data + begin_, at - begin_};
            begin_ = at + 1;
            return Status::Line;
        }
        if (begin_ == 0 && end_ == buffer_.size())
            return Status::TooLong;
        if (eof_) {
            if (begin_ == end_)
                return Status::End;
            line = {data + begin_, end_ - begin_}; // a last line without '\n'
            begin_ = end_;
            return Status::Line;
        }
        // Keep the partial line at the front and fill the rest.
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        buffer_offset_ += begin_;
        end_ -= begin_;
        begin_ = 0;
        in_.read(buffer_.data() + end_, static_cast<std::streamsize>(buffer_.size() - end_));
        end_ += static_cast<std::size_t>(in_.gcount());
        if (!in_)
            eof_ = true; // end of file, or a read error (failed())
    }
}

void CsvSource::LineReader::seek(std::uint64_t offset) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    begin_ = end_ = 0;
    buffer_offset_ = offset;
    eof_ = false;
}

CsvSource::CsvSource(const std::filesystem::path& path, Options options) : path_(path) {
    // A FIFO would block and /dev/zero would never end: only regular files (checked before opening,
    // which blocks on a FIFO).
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
        throw SourceError(path.string() + ": not a regular file (a FIFO, device or directory): "
                                          "recordings are read from regular files");
    if (ec || !lines_.open(path))
        throw SourceError(path.string() + ": cannot open (no such file or no permission)");
    std::string_view line;
    if (!next_line(line))
        throw SourceError(path.string() + ": empty file");
    std::string header(line);
    if (header.starts_with("\xEF\xBB\xBF"))
        header.erase(0, 3); // UTF-8 byte order mark
    data_offset_ = lines_.offset();
    std::string first_row;
    while (next_line(line))
        if (!trim(line).empty()) {
            first_row = line;
            break;
        }
    line_number_ = 1;
    separator_ = detect_separator(header, first_row);
    // Any row may be the first with a decimal comma ("0;12" then "0,001;12,5").
    decimal_comma_ = separator_ != ',';
    for (auto name : split(header, separator_))
        names_.emplace_back(name);
    double probe = 0.0;
    if (!names_.empty() &&
        std::from_chars(names_[0].data(), names_[0].data() + names_[0].size(), probe).ec ==
            std::errc())
        fail("the first line must be a header of column names, found numbers");
    const auto time_unit_s = names_.empty() ? std::nullopt : time_column_unit_s(names_[0]);
    has_time_ = time_unit_s.has_value();
    time_unit_s_ = time_unit_s.value_or(1.0);
    info_.format = separator_ == '\t' ? "tsv" : "csv";
    for (std::size_t i = has_time_ ? 1 : 0; i < names_.size(); ++i) {
        if (names_[i].empty())
            fail("column " + std::to_string(i + 1) + " has no name");
        const auto factor = unit_from_name(names_[i]);
        to_uv_.push_back(factor.value_or(1.0));
        info_.channels.push_back({names_[i], std::nullopt, std::nullopt, std::nullopt});
    }
    if (info_.channels.empty())
        fail("no signal columns");
    values_.resize(names_.size());
    parse_.assign(names_.size(), 1);

    lines_.seek(data_offset_);
    scan(options);
    parse_.assign(names_.size(), 1);
    if (saw_decimal_comma_)
        info_.notices.push_back(std::string("decimal commas read as decimal points (delimiter ") +
                                (separator_ == '\t' ? "tab" : "';'") + ")");
    lines_.seek(data_offset_);
    line_number_ = 1;
}

void CsvSource::scan(const Options& options) {
    if (options.force_sample_rate && !options.sample_rate_hz)
        fail_at(0, "--force-fs needs --fs");
    if (options.sample_rate_hz &&
        !(*options.sample_rate_hz > 0.0 && std::isfinite(*options.sample_rate_hz)))
        fail_at(0, "--fs must be positive");
    if (!has_time_ && !options.sample_rate_hz)
        fail_at(0, "no time column (time_s) in the header: give the sample rate with --fs");
    // With --force-fs the time column is not read: no checks, no fit.
    const bool read_time = has_time_ && !options.force_sample_rate;
    const std::string time_name = has_time_ ? "time column '" + names_[0] + "'" : "";
    const std::string ignore_it = "; give --fs with --force-fs to ignore the time column";
    StepFit fit;
    // The sample interval that gaps are measured against: the median of the first steps, so that
    // a gap among them does not become the reference.
    struct Step {
        double from_s, to_s;
        std::size_t line;
    };
    constexpr std::size_t reference_steps = 32;
    std::vector<Step> first_steps;
    first_steps.reserve(reference_steps);
    double interval_s = 0.0;
    const auto check_gap = [&](const Step& s) {
        if (s.to_s - s.from_s > gap_steps * interval_s)
            fail_at(s.line,
                    time_name + " jumps by " + text(s.to_s - s.from_s) + " s (from " +
                        text(s.from_s) + " to " + text(s.to_s) + "; the sample interval is " +
                        text(interval_s) +
                        " s): a gap in the recording (analyse the parts as separate files)" +
                        ignore_it);
    };
    const auto set_interval = [&] {
        std::vector<double> steps;
        steps.reserve(first_steps.size());
        for (const auto& s : first_steps)
            steps.push_back(s.to_s - s.from_s);
        std::nth_element(steps.begin(), steps.begin() + static_cast<long>(steps.size() / 2),
                         steps.end());
        interval_s = steps[steps.size() / 2];
        for (const auto& s : first_steps)
            check_gap(s);
    };
    const auto check_step = [&](double from_s, double to_s) {
        const double step_s = to_s - from_s;
        if (!(step_s > 0.0))
            fail(time_name + (step_s < 0.0 ? " goes backwards (" : " does not increase (") +
                 text(to_s) + " s after " + text(from_s) + " s)" + ignore_it);
        if (step_s < 1.0 / max_sample_rate_hz)
            fail(time_name + " steps by " + text(step_s) + " s (from " + text(from_s) + " to " +
                 text(to_s) + "), a sample rate above " + text(max_sample_rate_hz / 1e6) +
                 " MHz: is the column in seconds?" + ignore_it);
        const Step s{from_s, to_s, line_number_};
        if (interval_s > 0.0)
            check_gap(s);
        else {
            first_steps.push_back(s);
            if (first_steps.size() == reference_steps)
                set_interval();
        }
    };

    // Per column, sums about the first value (no cancellation for a large offset): the RMS about
    // the mean, for the unit of a column without a suffix.
    struct Sums {
        double first = 0.0, sum = 0.0, sum2 = 0.0;
    };
    std::vector<Sums> sums(names_.size());
    // Parsing is most of the cost: this pass parses only the time and the columns without a unit;
    // read() parses the others (and names the line of a bad value just the same).
    for (std::size_t i = 0; i < names_.size(); ++i)
        parse_[i] = (i == 0 && read_time) || (!(i == 0 && has_time_) && !unit_from_name(names_[i]));
    std::uint64_t rows = 0;
    double previous_s = 0.0;
    while (next_row()) {
        for (std::size_t i = 0; i < values_.size(); ++i) {
            if (!parse_[i])
                continue;
            if (rows == 0)
                sums[i].first = values_[i];
            const double d = values_[i] - sums[i].first;
            sums[i].sum += d;
            sums[i].sum2 += d * d;
        }
        if (read_time) {
            const double t = values_[0] * time_unit_s_;
            if (rows > 0)
                check_step(previous_s, t);
            fit.add(t);
            previous_s = t;
        }
        ++rows;
    }
    if (read_time && interval_s == 0.0 && !first_steps.empty())
        set_interval();
    info_.total_frames = rows;

    if (read_time) {
        if (rows < 2)
            fail("too few rows to measure the sample rate from the " + time_name);
        const double step_s = fit.step();
        double rate_hz = 1.0 / step_s;
        // A whole number of Hz within the timestamps' own uncertainty (3 standard errors) is taken
        // as the rate, never moving it by more than 0.01 %.
        const double se_hz = rate_hz * fit.step_se() / step_s;
        const double whole_hz = std::round(rate_hz);
        if (std::abs(rate_hz - whole_hz) <=
            std::min(1e-4 * rate_hz, std::max(1e-9 * rate_hz, 3.0 * se_hz)))
            rate_hz = whole_hz;
        if (options.sample_rate_hz) {
            const double fs_hz = *options.sample_rate_hz;
            // A time column in milliseconds under a name that says seconds is off by 1000 exactly.
            const bool in_ms =
                time_unit_s_ == 1.0 && std::abs(fs_hz - 1e3 * rate_hz) <= 1e-3 * fs_hz;
            if (std::abs(fs_hz - rate_hz) > 1e-3 * rate_hz)
                fail_at(
                    0,
                    "--fs " + text(fs_hz) + " Hz disagrees with the " + time_name + " (" +
                        text(rate_hz) + " Hz from " + std::to_string(rows) + " timestamps) by " +
                        text(std::round(1e3 * std::abs(fs_hz - rate_hz) / rate_hz) / 10.0) +
                        " %: " +
                        (in_ms ? "if the column is in milliseconds, name it time_ms; else " : "") +
                        "leave out --fs, or add --force-fs to use it and ignore the time column");
            if (fs_hz != rate_hz)
                info_.notices.push_back("--fs " + text(fs_hz) + " Hz agrees with the " + time_name +
                                        " within 0.1 %; the time column's " + text(rate_hz) +
                                        " Hz is used");
        }
        info_.sample_rate_hz = rate_hz;
    } else if (options.sample_rate_hz) {
        info_.sample_rate_hz = *options.sample_rate_hz;
        if (has_time_)
            info_.notices.push_back("--force-fs: " + text(info_.sample_rate_hz) +
                                    " Hz from --fs; the " + time_name + " is not read");
    }

    const std::size_t first = has_time_ ? 1 : 0;
    for (std::size_t c = 0; c < info_.channels.size(); ++c) {
        const std::string& name = names_[first + c];
        if (unit_from_name(name))
            continue;
        const Sums& s = sums[first + c];
        const double n = static_cast<double>(std::max<std::uint64_t>(rows, 1));
        const double mean = s.sum / n;
        const double rms = std::sqrt(std::max(0.0, s.sum2 / n - mean * mean));
        if (rms > 0.0 && rms < volts_below_rms) {
            to_uv_[c] = 1e6;
            std::string notice = "column '" + name + "' has no unit suffix and an RMS of ";
            notice += text(rms, 2);
            notice +=
                " about its mean, far below any amplifier's noise in uV: read as volts. Name it '";
            notice += name;
            notice += "_V' to say so (or '";
            notice += name;
            notice += "_uV' if it is uV)";
            info_.notices.push_back(std::move(notice));
        } else {
            info_.notices.push_back("column '" + name + "' has no unit suffix: taken as uV");
        }
    }
}

void CsvSource::fail(const std::string& what) const { fail_at(line_number_, what); }

void CsvSource::fail_at(std::size_t line, const std::string& what) const {
    throw SourceError(path_.string() + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what);
}

bool CsvSource::next_line(std::string_view& line) {
    switch (lines_.next(line)) {
    case LineReader::Status::Line: ++line_number_; return true;
    case LineReader::Status::End: break;
    case LineReader::Status::TooLong:
        ++line_number_;
        fail("line longer than " + std::to_string(max_line_bytes >> 20) +
             " MiB: not a CSV/TSV recording");
    }
    if (lines_.failed())
        fail("read error");
    return false;
}

double CsvSource::parse_field(std::string_view field, std::size_t column) const {
    std::string_view f = field;
    std::array<char, 64> decimal_point{};
    if (const auto comma = f.find(',');
        decimal_comma_ && comma != f.npos && f.size() <= decimal_point.size()) {
        std::copy(f.begin(), f.end(), decimal_point.begin());
        decimal_point[comma] = '.';
        saw_decimal_comma_ = true;
        f = {decimal_point.data(), f.size()};
    }
    const auto* begin = f.data() + (!f.empty() && f.front() == '+' ? 1 : 0);
    double v = 0.0;
    const auto [end, ec] = std::from_chars(begin, f.data() + f.size(), v);
    if (ec != std::errc() || end != f.data() + f.size() || f.empty())
        fail("column '" + names_[column] + "': '" + std::string(field) + "' is not a number");
    if (!std::isfinite(v))
        fail("column '" + names_[column] + "': " + std::string(field) + " sample");
    return v;
}

bool CsvSource::next_row() {
    std::string_view line;
    while (next_line(line)) {
        if (trim(line).empty())
            continue;
        const std::size_t fields = count_fields(line, separator_);
        if (fields != names_.size())
            fail("expected " + std::to_string(names_.size()) + " fields, found " +
                 std::to_string(fields));
        std::size_t start = 0;
        for (std::size_t i = 0; i < fields; ++i) {
            const std::size_t end = line.find(separator_, start);
            if (parse_[i])
                values_[i] = parse_field(trim(line.substr(start, end - start)), i);
            start = end + 1;
        }
        return true;
    }
    return false;
}

std::size_t CsvSource::read(dsp::BlockRef out) {
    const std::size_t first = has_time_ ? 1 : 0;
    std::size_t n = 0;
    while (n < out.frames && next_row()) {
        for (std::size_t c = 0; c < info_.channels.size(); ++c) {
            // Finite as a double but beyond a float sample (e.g. 4e106 µV): an error, not inf.
            const double uv = values_[first + c] * to_uv_[c];
            if (!(std::abs(uv) <= std::numeric_limits<float>::max()))
                fail("column '" + names_[first + c] + "': " + std::to_string(uv) +
                     " uV is beyond what a sample can hold");
            out.channel(c)[n] = static_cast<float>(uv);
        }
        ++n;
    }
    return n;
}

} // namespace semg::acquisition
