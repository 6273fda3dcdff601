#include "acquisition/opensignals_source.hpp"

#include "acquisition/sequence_gaps.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

namespace semg::acquisition {
namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
    return r;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

} // namespace

PluxEmgTransfer plux_emg_transfer(std::string_view device) {
    const std::string d = lower(trim(device));
    for (const char* name : {"bioplux", "bioplux_exp", "biosignalsplux", "channeller", "rachimeter",
                             "swifter", "ddme_openbanplux"})
        if (d == name)
            return {3000.0, 1000.0, true};
    if (d == "bitalino")
        return {3300.0, 1008.0, true};
    if (d == "bitalino_rev" || d == "bitalino_riot")
        return {3300.0, 1009.0, true};
    return {3000.0, 1000.0, false};
}

bool plux_is_emg(std::string_view sensor) { return lower(trim(sensor)).starts_with("emg"); }

std::optional<std::string> plux_start_time(std::string_view date, std::string_view time) {
    // Whole numbers separated by `sep`, each within its range; `rest` takes what follows the last.
    const auto numbers = [](std::string_view text, char sep, std::initializer_list<int> max,
                            std::string_view* rest) -> std::optional<std::vector<int>> {
        std::vector<int> out;
        const char* p = text.data();
        const char* end = text.data() + text.size();
        for (const int m : max) {
            if (!out.empty() && (p == end || *p++ != sep))
                return std::nullopt;
            int v = -1;
            const auto r = std::from_chars(p, end, v);
            if (r.ec != std::errc{} || r.ptr - p > 4 || v < 0 || v > m)
                return std::nullopt;
            out.push_back(v);
            p = r.ptr;
        }
        if (rest)
            *rest = std::string_view(p, static_cast<std::size_t>(end - p));
        else if (p != end)
            return std::nullopt;
        return out;
    };
    std::string_view fraction;
    const auto d = numbers(trim(date), '-', {9999, 12, 31}, nullptr);
    const auto t = numbers(trim(time), ':', {23, 59, 60}, &fraction);
    if (!d || !t || (*d)[0] < 1900 || (*d)[1] < 1 || (*d)[2] < 1)
        return std::nullopt;
    if (!fraction.empty() && (fraction.size() < 2 || fraction[0] != '.' ||
                              !std::all_of(fraction.begin() + 1, fraction.end(),
                                           [](unsigned char c) { return std::isdigit(c); })))
        return std::nullopt;
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d", (*d)[0], (*d)[1],
                  (*d)[2], (*t)[0], (*t)[1], (*t)[2]);
    return std::string(buf.data()) + std::string(fraction.substr(0, 10));
}

PluxScale PluxScale::make(const PluxEmgTransfer& transfer, int resolution_bits) {
    PluxScale s;
    const double steps = std::ldexp(1.0, resolution_bits);
    const double full_scale_uv = transfer.vcc_mv / transfer.gain * 1000.0;
    s.scale_uv = full_scale_uv / steps;
    s.offset_uv = -0.5 * full_scale_uv;
    s.max_count = steps - 1.0;
    return s;
}

ChannelInfo PluxScale::channel(std::string label) const {
    return {std::move(label), offset_uv, max_count * scale_uv + offset_uv, scale_uv};
}

// ---- text ---------------------------------------------------------------------------------------

bool OpenSignalsTextSource::recognises(std::string_view head) {
    if (head.starts_with("\xEF\xBB\xBF"))
        head.remove_prefix(3);
    return head.starts_with("# OpenSignals");
}

OpenSignalsTextSource::OpenSignalsTextSource(const std::filesystem::path& path)
    : path_(path), lines_(path) {
    info_.format = "opensignals-txt";
    scan();
}

void OpenSignalsTextSource::fail(const std::string& what) const {
    throw SourceError(path_.string() + ": line " + std::to_string(lines_.number()) + ": " + what);
}

void OpenSignalsTextSource::parse_header(std::string_view text, std::size_t line) {
    const auto where = [&](const std::string& what) {
        return SourceError(path_.string() + ": line " + std::to_string(line) +
                           ": header JSON: " + what);
    };
    nlohmann::ordered_json header;
    try {
        header = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw where(std::string("not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object() || header.empty())
        throw where("not an object of devices");

    struct Device {
        std::string key;
        double position = 0.0;
        const nlohmann::ordered_json* json = nullptr;
    };
    std::vector<Device> devices;
    for (const auto& [key, value] : header.items()) {
        if (!value.is_object())
            throw where("device '" + key + "' is not an object");
        double position = static_cast<double>(devices.size());
        if (const auto p = value.find("position"); p != value.end() && p->is_number())
            position = p->get<double>();
        devices.push_back({key, position, &value});
    }
    std::stable_sort(devices.begin(), devices.end(),
                     [](const Device& a, const Device& b) { return a.position < b.position; });

    const auto strings = [&](const nlohmann::ordered_json& d, const std::string& device,
                             const char* field) {
        std::vector<std::string> out;
        const auto f = d.find(field);
        if (f == d.end() || !f->is_array())
            throw where("device '" + device + "': no \"" + field + "\" list");
        for (const auto& v : *f) {
            if (!v.is_string())
                throw where("device '" + device + "': \"" + field + "\" holds a non-string");
            out.push_back(v.get<std::string>());
        }
        return out;
    };

    std::optional<double> emg_rate_hz;
    std::map<std::string, int> label_uses;
    std::string skipped;
    std::size_t field = 0;
    for (const Device& d : devices) {
        const auto& j = *d.json;
        const auto rate = j.find("sampling rate");
        if (rate == j.end() || !rate->is_number() || !(rate->get<double>() > 0.0) ||
            rate->get<double>() > 1e6)
            throw where("device '" + d.key +
                        "': \"sampling rate\" is missing or not a rate in Hz (0 to 1 MHz)");
        const double rate_hz = rate->get<double>();
        if (const auto date = j.find("date"), time = j.find("time");
            !info_.start_time && date != j.end() && date->is_string() && time != j.end() &&
            time->is_string())
            info_.start_time = plux_start_time(date->get<std::string>(), time->get<std::string>());
        const auto columns = strings(j, d.key, "column");
        const auto labels = strings(j, d.key, "label");
        const auto sensors = strings(j, d.key, "sensor");
        if (sensors.size() != labels.size())
            throw where("device '" + d.key + "': " + std::to_string(sensors.size()) +
                        " sensors for " + std::to_string(labels.size()) + " labels");
        std::vector<int> resolutions;
        if (const auto r = j.find("resolution"); r != j.end() && r->is_array()) {
            for (const auto& v : *r) {
                if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 32)
                    throw where("device '" + d.key +
                                "': a \"resolution\" is not a bit count from 1 to 32");
                resolutions.push_back(v.get<int>());
            }
        } else if (r != j.end() && r->is_number_integer() && r->get<long long>() >= 1 &&
                   r->get<long long>() <= 32) {
            resolutions.assign(labels.size(), r->get<int>());
        }
        if (resolutions.size() != labels.size())
            throw where("device '" + d.key +
                        "': \"resolution\" must give one bit count per label (" +
                        std::to_string(labels.size()) + ")");
        std::string device_name;
        if (const auto n = j.find("device"); n != j.end() && n->is_string())
            device_name = n->get<std::string>();
        const PluxEmgTransfer transfer = plux_emg_transfer(device_name);

        for (const auto& column : columns) {
            const auto at = std::find(labels.begin(), labels.end(), column);
            if (column == "nSeq") {
                sequence_fields_.push_back(field);
                sequence_devices_.push_back(d.key);
            } else if (at == labels.end()) {
                skipped += (skipped.empty() ? "" : ", ") + column + " (digital)";
                info_.skipped.push_back(
                    {column, rate_hz, "a digital input/output of device " + d.key});
            } else {
                const auto i = static_cast<std::size_t>(at - labels.begin());
                std::string label = column;
                if (label_uses[label]++ > 0)
                    label += " " + d.key;
                if (!plux_is_emg(sensors[i])) {
                    skipped +=
                        (skipped.empty() ? "" : ", ") + label + " (sensor " + sensors[i] + ")";
                    info_.skipped.push_back(
                        {label, rate_hz, "sensor '" + sensors[i] + "', not EMG"});
                } else if (emg_rate_hz && *emg_rate_hz != rate_hz) {
                    skipped += (skipped.empty() ? "" : ", ") + label + " (at another rate)";
                    info_.skipped.push_back(
                        {label, rate_hz,
                         "EMG at " + std::to_string(rate_hz) + " Hz, not the first device's rate"});
                } else {
                    emg_rate_hz = rate_hz;
                    if (!transfer.known)
                        info_.warnings.push_back(
                            "device '" + d.key + "' is a '" + device_name +
                            "', whose EMG transfer function is not known here: the "
                            "biosignalsplux one is used (VCC 3 V, gain 1000)");
                    emg_fields_.push_back(field);
                    scales_.push_back(PluxScale::make(transfer, resolutions[i]));
                    info_.channels.push_back(scales_.back().channel(label));
                }
            }
            ++field;
        }
    }
    fields_per_row_ = field;
    if (info_.channels.empty())
        throw where("no channel with an EMG sensor" +
                    (skipped.empty() ? std::string() : " (" + skipped + ")"));
    info_.sample_rate_hz = *emg_rate_hz;
    std::string note = "OpenSignals text: " + std::to_string(info_.channels.size()) +
                       " EMG channel(s) at " +
                       std::to_string(static_cast<long long>(std::llround(info_.sample_rate_hz))) +
                       " Hz, ADC counts to uV";
    if (!skipped.empty())
        note += "; not read: " + skipped;
    info_.notices.push_back(note);
}

bool OpenSignalsTextSource::split(std::string_view line) {
    fields_.clear();
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == '\t' || line[i] == ' '))
            ++i;
        if (i == line.size())
            break;
        const std::size_t start = i;
        while (i < line.size() && line[i] != '\t' && line[i] != ' ')
            ++i;
        fields_.push_back(line.substr(start, i - start));
    }
    if (fields_.empty())
        return false;
    if (fields_.size() != fields_per_row_)
        fail(std::to_string(fields_.size()) + " fields, the header's columns are " +
             std::to_string(fields_per_row_));
    return true;
}

double OpenSignalsTextSource::count(std::size_t field, std::size_t channel) const {
    const std::string_view s = fields_[field];
    double v = 0.0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v) ||
        v != std::floor(v))
        fail("channel '" + info_.channels[channel].label + "': '" + std::string(s.substr(0, 40)) +
             "' is not an ADC count");
    if (v < 0.0 || v > scales_[channel].max_count)
        fail("channel '" + info_.channels[channel].label + "': count " +
             std::string(s.substr(0, 40)) + " is outside 0.." +
             std::to_string(static_cast<long long>(scales_[channel].max_count)) +
             " (the header's resolution)");
    return v;
}

void OpenSignalsTextSource::scan() {
    std::string_view line;
    bool header = false, end = false;
    while (!end && lines_.next(line)) {
        const std::string_view t = trim(line);
        if (t.empty())
            continue;
        if (t.front() != '#')
            fail("a data row before '# EndOfHeader'");
        const std::string_view body = trim(t.substr(1));
        if (body == "EndOfHeader")
            end = true;
        else if (!body.empty() && body.front() == '{') {
            if (header)
                fail("a second header JSON line");
            parse_header(body, lines_.number());
            header = true;
        }
    }
    if (!end)
        throw SourceError(path_.string() + ": no '# EndOfHeader' line");
    if (!header)
        throw SourceError(path_.string() +
                          ": no header JSON line ('# {...}') before '# EndOfHeader'");
    data_ = lines_.mark();

    std::vector<SequenceGaps> sequences(sequence_fields_.size());
    GapWarnings gaps;
    std::uint64_t rows = 0;
    while (lines_.next(line)) {
        if (!split(line))
            continue;
        for (std::size_t c = 0; c < emg_fields_.size(); ++c)
            count(emg_fields_[c], c);
        for (std::size_t k = 0; k < sequence_fields_.size(); ++k) {
            const std::string_view s = fields_[sequence_fields_[k]];
            std::uint64_t n = 0;
            const auto r = std::from_chars(s.data(), s.data() + s.size(), n);
            if (r.ec != std::errc() || r.ptr != s.data() + s.size())
                fail("nSeq of device " + sequence_devices_[k] + ": '" +
                     std::string(s.substr(0, 40)) + "' is not a whole number >= 0");
            const std::uint64_t previous = sequences[k].previous();
            if (const std::uint64_t lost = sequences[k].step(n); lost > 0)
                gaps.add("line " + std::to_string(lines_.number()) + ": nSeq of device " +
                             sequence_devices_[k] + " " + std::to_string(previous) + " then " +
                             std::to_string(n) + " (" + std::to_string(lost) +
                             " samples lost; it wraps after " +
                             std::to_string(sequences[k].highest()) + ")",
                         lost);
        }
        ++rows;
    }
    if (rows == 0)
        throw SourceError(path_.string() + ": no data rows after '# EndOfHeader'");
    info_.total_frames = rows;
    remaining_ = rows;
    gaps.report(info_.warnings, "nSeq", "the recording is read as continuous");
    lines_.rewind(data_);
}

std::size_t OpenSignalsTextSource::read(dsp::BlockRef out) {
    std::size_t n = 0;
    std::string_view line;
    while (n < out.frames && remaining_ > 0 && lines_.next(line)) {
        if (!split(line))
            continue;
        for (std::size_t c = 0; c < emg_fields_.size(); ++c)
            out.channel(c)[n] = static_cast<float>(count(emg_fields_[c], c) * scales_[c].scale_uv +
                                                   scales_[c].offset_uv);
        ++n;
        --remaining_;
    }
    return n;
}

} // namespace semg::acquisition
