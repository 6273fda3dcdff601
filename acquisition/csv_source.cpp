#include "acquisition/csv_source.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

namespace semg::acquisition {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '"' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '"' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view line, char separator) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = line.find(separator, start);
        fields.push_back(trim(line.substr(start, end - start)));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return fields;
}

std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return r;
}

bool is_time_column(std::string_view name) {
    const std::string n = lower(name);
    return n == "time" || n == "time_s" || n == "t" || n == "t_s" || n == "seconds" ||
           n == "time (s)" || n == "time[s]" || n == "time [s]" || n == "time(s)";
}

// µV per unit from a column-name suffix; nullopt when the name carries no unit.
std::optional<double> unit_from_name(std::string_view name) {
    static constexpr std::pair<std::string_view, double> units[] = {
        {"uv", 1.0}, {"µv", 1.0}, {"microvolt", 1.0}, {"mv", 1e3}, {"millivolt", 1e3}, {"v", 1e6}, {"volt", 1e6}};
    const std::string n = lower(name);
    for (const auto& [unit, factor] : units) {
        for (const std::string& form : {"_" + std::string(unit), "(" + std::string(unit) + ")",
                                        "[" + std::string(unit) + "]", " " + std::string(unit)})
            if (n.size() > form.size() && n.ends_with(form)) return factor;
    }
    return std::nullopt;
}

} // namespace

CsvSource::CsvSource(const std::filesystem::path& path, Options options) : path_(path), in_(path) {
    if (!in_) throw SourceError(path.string() + ": cannot open (no such file or no permission)");
    if (!std::getline(in_, line_)) throw SourceError(path.string() + ": empty file");
    line_number_ = 1;
    separator_ = line_.find('\t') != std::string::npos ? '\t'
                 : line_.find(',') != std::string::npos ? ','
                 : line_.find(';') != std::string::npos ? ';'
                                                         : ',';
    for (auto name : split(line_, separator_)) names_.emplace_back(name);
    double probe = 0.0;
    if (!names_.empty() && std::from_chars(names_[0].data(), names_[0].data() + names_[0].size(), probe).ec == std::errc())
        fail("the first line must be a header of column names, found numbers");
    has_time_ = !names_.empty() && is_time_column(names_[0]);
    info_.format = separator_ == '\t' ? "tsv" : "csv";
    for (std::size_t i = has_time_ ? 1 : 0; i < names_.size(); ++i) {
        if (names_[i].empty()) fail("column " + std::to_string(i + 1) + " has no name");
        const auto factor = unit_from_name(names_[i]);
        if (!factor)
            info_.notices.push_back("column '" + names_[i] + "' has no unit suffix: taken as uV");
        to_uv_.push_back(factor.value_or(1.0));
        info_.channels.push_back({names_[i], std::nullopt, std::nullopt, std::nullopt});
    }
    if (info_.channels.empty()) fail("no signal columns");
    values_.resize(names_.size());

    if (has_time_) {
        // The sample interval is the median step of the first rows; the rows are then pending.
        std::vector<double> times;
        std::streampos start = in_.tellg();
        const std::size_t first_line = line_number_;
        while (times.size() < 1001 && next_row()) times.push_back(values_[0]);
        if (times.size() >= 2) {
            std::vector<double> steps;
            for (std::size_t i = 1; i < times.size(); ++i) steps.push_back(times[i] - times[i - 1]);
            std::nth_element(steps.begin(), steps.begin() + static_cast<long>(steps.size() / 2), steps.end());
            const double step = steps[steps.size() / 2];
            if (!(step > 0.0)) fail("time column '" + names_[0] + "' does not increase");
            info_.sample_rate_hz = 1.0 / step;
            // Round a rate that is a whole number up to the column's printed precision.
            if (std::abs(info_.sample_rate_hz - std::round(info_.sample_rate_hz)) < 1e-3 * info_.sample_rate_hz * step)
                info_.sample_rate_hz = std::round(info_.sample_rate_hz);
        }
        in_.clear();
        in_.seekg(start);
        line_number_ = first_line;
    }
    if (options.sample_rate_hz) {
        if (!(*options.sample_rate_hz > 0.0)) fail("--fs must be positive");
        if (has_time_ && std::abs(*options.sample_rate_hz - info_.sample_rate_hz) > 1e-6 * info_.sample_rate_hz)
            info_.notices.push_back("--fs " + std::to_string(*options.sample_rate_hz) +
                                    " Hz overrides the time column (" +
                                    std::to_string(info_.sample_rate_hz) + " Hz)");
        info_.sample_rate_hz = *options.sample_rate_hz;
    }
    if (!(info_.sample_rate_hz > 0.0))
        fail(has_time_ ? "too few rows to measure the sample rate from the time column"
                       : "no time column (time_s) in the header: give the sample rate with --fs");
}

void CsvSource::fail(const std::string& what) const {
    throw SourceError(path_.string() + (line_number_ > 0 ? ":" + std::to_string(line_number_) : "") +
                      ": " + what);
}

bool CsvSource::next_row() {
    while (std::getline(in_, line_)) {
        ++line_number_;
        if (trim(line_).empty()) continue;
        const auto fields = split(line_, separator_);
        if (fields.size() != names_.size())
            fail("expected " + std::to_string(names_.size()) + " fields, found " +
                 std::to_string(fields.size()));
        for (std::size_t i = 0; i < fields.size(); ++i) {
            const auto f = fields[i];
            const auto* begin = f.data() + (!f.empty() && f.front() == '+' ? 1 : 0);
            const auto [end, ec] = std::from_chars(begin, f.data() + f.size(), values_[i]);
            if (ec != std::errc() || end != f.data() + f.size() || f.empty())
                fail("column '" + names_[i] + "': '" + std::string(f) + "' is not a number");
            if (!std::isfinite(values_[i]))
                fail("column '" + names_[i] + "': " + std::string(f) + " sample");
        }
        return true;
    }
    if (in_.bad()) fail("read error");
    return false;
}

std::size_t CsvSource::read(dsp::BlockRef out) {
    const std::size_t first = has_time_ ? 1 : 0;
    std::size_t n = 0;
    while (n < out.frames && next_row()) {
        for (std::size_t c = 0; c < info_.channels.size(); ++c)
            out.channel(c)[n] = static_cast<float>(values_[first + c] * to_uv_[c]);
        ++n;
    }
    return n;
}

} // namespace semg::acquisition
