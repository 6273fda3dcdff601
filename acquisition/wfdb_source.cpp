#include "acquisition/wfdb_source.hpp"

#include "acquisition/units.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <system_error>

namespace semg::acquisition {
namespace {

constexpr std::size_t kMaxHeaderBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxSignals = 4096;
constexpr double kMaxSampleRateHz = 1e6;
constexpr std::size_t kChunkFrames = 4096; // even: every chunk starts on a 212 pair

std::string text(double v) {
    std::array<char, 32> buf{};
    const auto r =
        std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::general, 12);
    return {buf.data(), r.ptr};
}

// A field as a message shows it: printable ASCII, other bytes as \xNN, at most 40 characters.
std::string shown(std::string_view s) {
    std::string out;
    for (const unsigned char ch : s.substr(0, 40)) {
        if (ch >= 32 && ch < 127) {
            out += static_cast<char>(ch);
        } else {
            std::array<char, 5> hex{};
            std::snprintf(hex.data(), hex.size(), "\\x%02X", ch);
            out += hex.data();
        }
    }
    if (s.size() > 40)
        out += "...";
    return out;
}

struct Token {
    std::string_view text;
    std::size_t at; // offset in the line
};

std::vector<Token> tokens(std::string_view line) {
    std::vector<Token> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        if (i == line.size())
            break;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            ++i;
        out.push_back({line.substr(start, i - start), start});
    }
    return out;
}

class LineParser {
public:
    LineParser(const std::string& name, std::size_t line) : name_(name), line_(line) {}
    [[noreturn]] void fail(const std::string& what) const {
        throw SourceError(name_ + ":" + std::to_string(line_) + ": " + what);
    }
    std::int64_t integer(std::string_view s, const char* field) const {
        std::int64_t v = 0;
        const char* begin = s.data() + (!s.empty() && s.front() == '+' ? 1 : 0);
        const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size())
            fail(std::string(field) + " '" + shown(s) + "' is not a whole number");
        return v;
    }
    double real(std::string_view s, const char* field) const {
        double v = 0.0;
        const char* begin = s.data() + (!s.empty() && s.front() == '+' ? 1 : 0);
        const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
            fail(std::string(field) + " '" + shown(s) + "' is not a number");
        return v;
    }

private:
    const std::string& name_;
    std::size_t line_;
};

int format_bits(int format) {
    switch (format) {
    case 80: return 8;
    case 212: return 12;
    case 16:
    case 61: return 16;
    case 24: return 24;
    case 32: return 32;
    default: return 0;
    }
}

} // namespace

std::optional<WfdbPacking> wfdb_packing(int format) {
    switch (format) {
    case 80: return WfdbPacking{1, 1};
    case 212: return WfdbPacking{3, 2};
    case 16:
    case 61: return WfdbPacking{2, 1};
    case 24: return WfdbPacking{3, 1};
    case 32: return WfdbPacking{4, 1};
    default: return std::nullopt;
    }
}

std::int32_t wfdb_invalid_sample(int format) {
    const int bits = format_bits(format);
    return bits == 0 ? 0 : static_cast<std::int32_t>(-(std::int64_t{1} << (bits - 1)));
}

void decode_wfdb_samples(int format, const unsigned char* b, std::size_t count, std::int32_t* out) {
    switch (format) {
    case 80:
        for (std::size_t i = 0; i < count; ++i)
            out[i] = static_cast<std::int32_t>(b[i]) - 128;
        break;
    case 16:
        for (std::size_t i = 0; i < count; ++i, b += 2)
            out[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(b[0] | b[1] << 8));
        break;
    case 61:
        for (std::size_t i = 0; i < count; ++i, b += 2)
            out[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(b[0] << 8 | b[1]));
        break;
    case 24:
        for (std::size_t i = 0; i < count; ++i, b += 3) {
            const auto u = static_cast<std::uint32_t>(b[0]) |
                           static_cast<std::uint32_t>(b[1]) << 8 |
                           static_cast<std::uint32_t>(b[2]) << 16;
            out[i] = static_cast<std::int32_t>(u << 8) >> 8; // sign-extend 24 bits
        }
        break;
    case 32:
        for (std::size_t i = 0; i < count; ++i, b += 4)
            out[i] = static_cast<std::int32_t>(
                static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
                static_cast<std::uint32_t>(b[2]) << 16 | static_cast<std::uint32_t>(b[3]) << 24);
        break;
    case 212:
        // Each pair: the first sample's low 8 bits, then a byte whose low nibble holds the
        // first's high 4 bits and whose high nibble the second's, then the second's low 8 bits.
        for (std::size_t i = 0; i < count; i += 2, b += 3) {
            const auto first =
                static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) & 0x0F) << 8;
            out[i] = static_cast<std::int32_t>(first << 20) >> 20;
            if (i + 1 < count) {
                const auto second = static_cast<std::uint32_t>(b[2]) |
                                    (static_cast<std::uint32_t>(b[1]) & 0xF0) << 4;
                out[i + 1] = static_cast<std::int32_t>(second << 20) >> 20;
            }
        }
        break;
    default: std::fill(out, out + count, 0); break;
    }
}

WfdbHeader parse_wfdb_header(std::string_view all, const std::string& name) {
    WfdbHeader h;
    if (all.size() > kMaxHeaderBytes)
        throw SourceError(name + ": header longer than 1 MiB: not a WFDB header");
    bool have_record = false;
    std::size_t expected = 0, line_number = 0, record_line = 0;
    std::size_t start = 0;
    while (start <= all.size()) {
        std::size_t end = all.find('\n', start);
        if (end == std::string_view::npos)
            end = all.size();
        std::string_view line = all.substr(start, end - start);
        start = end + 1;
        ++line_number;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.remove_suffix(1);
        const LineParser p(name, line_number);
        if (line.find('\0') != std::string_view::npos)
            p.fail("a NUL byte: not a WFDB header (text)");
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos)
            continue;
        if (line[first] == '#') {
            auto comment = line.substr(first + 1);
            while (!comment.empty() && comment.front() == ' ')
                comment.remove_prefix(1);
            if (!comment.empty())
                h.comments.emplace_back(comment);
            continue;
        }
        const auto t = tokens(line);
        if (!have_record) {
            have_record = true;
            record_line = line_number;
            // NAME[/SEGMENTS] NSIG [FS[/COUNTER[(BASE)]] [NSAMP [BASE_TIME [BASE_DATE]]]]
            const auto record = t[0].text;
            if (record.find('/') != std::string_view::npos)
                p.fail("record name '" + shown(record) +
                       "' has a segment count: multi-segment records are not read");
            h.record_name = record;
            if (t.size() < 2)
                p.fail("record line: number of signals missing (expected 'NAME NSIG FS NSAMP')");
            const auto nsig = p.integer(t[1].text, "number of signals");
            if (nsig < 1 || static_cast<std::uint64_t>(nsig) > kMaxSignals)
                p.fail("number of signals " + std::to_string(nsig) + " is not from 1 to " +
                       std::to_string(kMaxSignals));
            expected = static_cast<std::size_t>(nsig);
            if (t.size() >= 3) {
                auto fs = t[2].text;
                fs = fs.substr(0, fs.find('/')); // counter frequency and base counter not used
                h.sample_rate_hz = p.real(fs, "sampling frequency");
                if (!(h.sample_rate_hz > 0.0) || h.sample_rate_hz > kMaxSampleRateHz)
                    p.fail("sampling frequency " + text(h.sample_rate_hz) +
                           " Hz is not in (0, 1 MHz]");
                h.rate_given = true;
            }
            if (t.size() >= 4) {
                const auto n = p.integer(t[3].text, "number of samples per signal");
                if (n < 0)
                    p.fail("number of samples per signal " + std::to_string(n) + " is negative");
                if (n > 0)
                    h.samples = static_cast<std::uint64_t>(n); // 0: not given
            }
            if (t.size() >= 5)
                h.base_time = t[4].text;
            if (t.size() >= 6)
                h.base_date = t[5].text;
            if (t.size() > 6)
                p.fail("record line has " + std::to_string(t.size()) + " fields, at most 6");
            continue;
        }
        if (h.signals.size() == expected)
            p.fail("a line beyond the " + std::to_string(expected) +
                   " signal lines the record line announces (comments start with '#')");
        WfdbSignalSpec s;
        s.line = line_number;
        s.file_name = t[0].text;
        if (t.size() < 2)
            p.fail("signal line: format missing after file name '" + shown(s.file_name) + "'");
        // FORMAT[xSPF][:SKEW][+OFFSET]
        {
            const auto spec = t[1].text;
            const auto digits = std::min(spec.find_first_not_of("0123456789"), spec.size());
            if (digits == 0)
                p.fail("format field '" + shown(spec) + "' does not start with a format number");
            s.format = static_cast<int>(
                std::clamp<std::int64_t>(p.integer(spec.substr(0, digits), "format"), 0, 100000));
            std::string_view rest = spec.substr(digits);
            auto part = [&](char mark, const char* field) -> std::optional<std::int64_t> {
                if (rest.empty() || rest.front() != mark)
                    return std::nullopt;
                rest.remove_prefix(1);
                const auto n = std::min(rest.find_first_not_of("0123456789"), rest.size());
                const auto v = p.integer(rest.substr(0, n), field);
                rest.remove_prefix(n);
                return v;
            };
            const auto spf = part('x', "samples per frame");
            const auto skew = part(':', "skew");
            const auto offset = part('+', "byte offset");
            if (!rest.empty())
                p.fail("format field '" + shown(spec) + "' is not FORMAT[xSPF][:SKEW][+OFFSET]");
            if (spf && *spf > 1)
                p.fail("signal '" + shown(s.file_name) + "' has " + std::to_string(*spf) +
                       " samples per frame: multi-rate records are not read");
            if (skew && *skew != 0)
                p.fail("signal skew " + std::to_string(*skew) + " is not supported");
            if (offset)
                s.byte_offset = *offset;
            if (s.format != 0 && !wfdb_packing(s.format))
                p.fail("format " + std::to_string(s.format) +
                       " is not read (formats 16, 61, 80, 212, 24, 32; 0 for a null signal)");
        }
        // GAIN[(BASELINE)][/UNITS]
        bool baseline_given = false;
        if (t.size() >= 3) {
            auto spec = t[2].text;
            const auto slash = spec.find('/');
            if (slash != std::string_view::npos) {
                s.units = spec.substr(slash + 1);
                if (s.units.empty())
                    p.fail("units after '/' missing in '" + shown(spec) + "'");
                spec = spec.substr(0, slash);
            }
            if (const auto paren = spec.find('('); paren != std::string_view::npos) {
                if (spec.back() != ')')
                    p.fail("baseline in '" + shown(t[2].text) + "' is not closed by ')'");
                s.baseline_adu =
                    p.integer(spec.substr(paren + 1, spec.size() - paren - 2), "baseline");
                baseline_given = true;
                spec = spec.substr(0, paren);
            }
            const double gain = p.real(spec, "gain");
            s.gain_given = gain != 0.0;
            s.gain_adu = gain == 0.0 ? 200.0 : gain;
        }
        if (t.size() >= 4) {
            const auto bits = p.integer(t[3].text, "ADC resolution");
            if (bits < 0 || bits > 32)
                p.fail("ADC resolution " + std::to_string(bits) + " bits is not from 0 to 32");
            s.adc_resolution_bits = static_cast<int>(bits);
        }
        if (t.size() >= 5)
            s.adc_zero = p.integer(t[4].text, "ADC zero");
        if (!baseline_given)
            s.baseline_adu = s.adc_zero;
        if (t.size() >= 6)
            s.initial_value = p.integer(t[5].text, "initial value");
        if (t.size() >= 7)
            s.checksum = p.integer(t[6].text, "checksum");
        if (t.size() >= 8)
            p.integer(t[7].text, "block size");
        if (t.size() >= 9)
            s.description = line.substr(t[8].at);
        h.signals.push_back(std::move(s));
    }
    if (!have_record)
        throw SourceError(name + ": no record line: not a WFDB header");
    if (h.signals.size() < expected)
        throw SourceError(name + ":" + std::to_string(record_line) +
                          ": the record line announces " + std::to_string(expected) +
                          " signals, the header has " + std::to_string(h.signals.size()) +
                          " signal lines");
    return h;
}

std::optional<std::filesystem::path> wfdb_header_for(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (ext == ".hea")
        return path;
    if (ext == ".dat") {
        std::error_code ec;
        for (const char* e : {".hea", ".HEA"}) {
            auto header = path;
            header.replace_extension(e);
            if (std::filesystem::is_regular_file(header, ec))
                return header;
        }
    }
    return std::nullopt;
}

WfdbSource::WfdbSource(const std::filesystem::path& header_path) : path_(header_path) {
    const std::string name = header_path.string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(header_path, ec))
        throw SourceError(name + ": not a regular file (no such file, a FIFO or a device)");
    const auto size = std::filesystem::file_size(header_path, ec);
    if (ec)
        throw SourceError(name + ": cannot read (" + ec.message() + ")");
    if (size > kMaxHeaderBytes)
        throw SourceError(name + ": header longer than 1 MiB: not a WFDB header");
    std::string all(static_cast<std::size_t>(size), '\0');
    {
        std::ifstream in(header_path, std::ios::binary);
        if (!in || !in.read(all.data(), static_cast<std::streamsize>(all.size())))
            throw SourceError(name + ": cannot read");
    }
    const WfdbHeader h = parse_wfdb_header(all, name);
    info_.format = "wfdb";
    info_.sample_rate_hz = h.sample_rate_hz;
    if (!h.rate_given)
        info_.notices.push_back(
            "the record line gives no sampling frequency: 250 Hz, the WFDB default");
    for (const auto& c : h.comments)
        info_.notices.push_back("header: " + c);
    if (!h.base_time.empty())
        info_.notices.push_back("start: " + h.base_time +
                                (h.base_date.empty() ? "" : " " + h.base_date));

    // Signal files, each with its interleaved signals in header order.
    std::map<std::string, std::size_t> group_of;
    std::vector<std::size_t> index_in_group(h.signals.size());
    const auto folder = header_path.parent_path();
    for (std::size_t i = 0; i < h.signals.size(); ++i) {
        const auto& s = h.signals[i];
        const std::string where = name + ":" + std::to_string(s.line) + ": ";
        auto [it, added] = group_of.try_emplace(s.file_name, groups_.size());
        if (added) {
            if (s.file_name == "-" || s.file_name.starts_with("~"))
                throw SourceError(where + "signal file '" + shown(s.file_name) +
                                  "': standard input and null files are not read");
            Group g;
            g.path = folder / s.file_name;
            g.format = s.format;
            g.offset = s.byte_offset;
            groups_.push_back(std::move(g));
        }
        Group& g = groups_[it->second];
        if (g.format != s.format || g.offset != s.byte_offset)
            throw SourceError(where + "signals in file '" + shown(s.file_name) +
                              "' differ in format or byte offset");
        index_in_group[i] = g.signals++;
    }
    for (auto& g : groups_) {
        if (g.format == 0)
            continue; // null signals: no file
        const std::string gname = g.path.string();
        if (!std::filesystem::is_regular_file(g.path, ec))
            throw SourceError(name + ": signal file " + gname +
                              " is missing (or not a regular file)");
        g.file.reset(std::fopen(g.path.c_str(), "rb"));
        if (!g.file)
            throw SourceError(gname + ": cannot open");
        const auto bytes = std::filesystem::file_size(g.path, ec);
        if (ec)
            throw SourceError(gname + ": cannot read its size");
        g.packing = *wfdb_packing(g.format);
        if (g.offset < 0 || static_cast<std::uint64_t>(g.offset) > bytes)
            throw SourceError(name + ": byte offset " + std::to_string(g.offset) +
                              " is beyond the end of " + gname + " (" + std::to_string(bytes) +
                              " bytes)");
        const std::uint64_t samples =
            (bytes - static_cast<std::uint64_t>(g.offset)) / g.packing.bytes * g.packing.samples;
        g.frames = samples / g.signals;
    }
    std::optional<std::uint64_t> file_frames;
    for (const auto& g : groups_)
        if (g.format != 0)
            file_frames = std::min(file_frames.value_or(g.frames), g.frames);
    if (!file_frames)
        throw SourceError(name + ": every signal is a null signal (format 0): nothing to read");
    if (h.samples) {
        frames_ = std::min(*h.samples, *file_frames);
        if (*file_frames < *h.samples)
            info_.warnings.push_back("the header announces " + std::to_string(*h.samples) +
                                     " samples per signal, the signal files hold " +
                                     std::to_string(*file_frames) +
                                     ": read up to the last complete frame (file truncated?)");
        else if (*file_frames > *h.samples)
            info_.notices.push_back("the signal files hold " + std::to_string(*file_frames) +
                                    " frames, the header announces " + std::to_string(*h.samples) +
                                    ": the rest is not read");
    } else {
        frames_ = *file_frames;
        info_.notices.push_back("the header gives no number of samples: " +
                                std::to_string(frames_) + " from the signal files' length");
    }
    info_.total_frames = frames_;

    // Which signals are read, and their scale.
    std::vector<std::size_t> read_signals;
    for (std::size_t i = 0; i < h.signals.size(); ++i) {
        const auto& s = h.signals[i];
        const std::string label =
            s.description.empty() ? "signal " + std::to_string(i + 1) : s.description;
        auto skip = [&](const std::string& reason) {
            info_.notices.push_back("skipping signal '" + label + "': " + reason);
            info_.skipped.push_back({label, h.sample_rate_hz, reason});
        };
        if (s.format == 0) {
            skip("a null signal (format 0)");
            continue;
        }
        const auto factor = microvolts_per(s.units);
        if (!factor) {
            skip("unit '" + s.units + "' is not a voltage");
            continue;
        }
        if (!s.gain_given)
            info_.notices.push_back("signal '" + label + "': no gain in the header: 200 per " +
                                    s.units + ", the WFDB default");
        const double scale = *factor / s.gain_adu;
        // Every code of a 32-bit format, less the baseline, must stay a float sample.
        const double largest_uv =
            (std::ldexp(1.0, 31) + std::abs(static_cast<double>(s.baseline_adu))) * std::abs(scale);
        if (!(largest_uv < 1e30))
            throw SourceError(name + ":" + std::to_string(s.line) + ": gain " + text(s.gain_adu) +
                              " and baseline " + std::to_string(s.baseline_adu) +
                              " give samples beyond what a float holds");
        ChannelInfo ch;
        ch.label = label;
        const int bits = s.adc_resolution_bits > 0 ? s.adc_resolution_bits : format_bits(s.format);
        const double half = std::ldexp(1.0, bits - 1);
        const double lo =
            (static_cast<double>(s.adc_zero) - half - static_cast<double>(s.baseline_adu)) * scale;
        const double hi =
            (static_cast<double>(s.adc_zero) + half - 1.0 - static_cast<double>(s.baseline_adu)) *
            scale;
        ch.physical_min_uv = std::min(lo, hi);
        ch.physical_max_uv = std::max(lo, hi);
        ch.resolution_uv = std::abs(scale);
        info_.channels.push_back(ch);
        const auto g = group_of.at(s.file_name);
        channels_.push_back({g, index_in_group[i], scale, static_cast<double>(s.baseline_adu)});
        read_signals.push_back(i);
    }
    if (channels_.empty())
        throw SourceError(name + ": no signal is a voltage: nothing to analyse");

    // First pass: checksums, initial values, invalid samples.
    samples_.resize(groups_.size());
    std::vector<std::uint16_t> sums(channels_.size(), 0);
    std::vector<std::optional<std::int32_t>> firsts(channels_.size());
    std::vector<std::uint64_t> invalid(channels_.size(), 0);
    for (std::uint64_t done = 0; done < frames_;) {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(kChunkFrames, frames_ - done));
        for (auto& g : groups_)
            if (g.format != 0)
                load(g, n);
        for (std::size_t c = 0; c < channels_.size(); ++c) {
            const auto& ch = channels_[c];
            const auto& g = groups_[ch.group];
            const auto& x = samples_[ch.group];
            const std::int32_t bad = wfdb_invalid_sample(g.format);
            if (!firsts[c])
                firsts[c] = x[ch.index];
            for (std::size_t f = 0; f < n; ++f) {
                const std::int32_t v = x[f * g.signals + ch.index];
                sums[c] = static_cast<std::uint16_t>(sums[c] + static_cast<std::uint32_t>(v));
                invalid[c] += v == bad ? 1 : 0;
            }
        }
        done += n;
    }
    for (std::size_t c = 0; c < channels_.size(); ++c) {
        const auto& s = h.signals[read_signals[c]];
        const std::string& label = info_.channels[c].label;
        const bool whole = !h.samples || frames_ == *h.samples;
        if (s.checksum && whole &&
            static_cast<std::int16_t>(sums[c]) != static_cast<std::int16_t>(*s.checksum))
            info_.warnings.push_back("signal '" + label + "': checksum " +
                                     std::to_string(static_cast<std::int16_t>(sums[c])) +
                                     " of the samples disagrees with the header's " +
                                     std::to_string(*s.checksum) + " (line " +
                                     std::to_string(s.line) + "): data or header damaged?");
        if (s.initial_value && firsts[c] && *firsts[c] != *s.initial_value)
            info_.warnings.push_back(
                "signal '" + label + "': first sample " + std::to_string(*firsts[c]) +
                " disagrees with the header's initial value " + std::to_string(*s.initial_value) +
                " (line " + std::to_string(s.line) + ")");
        if (invalid[c] > 0)
            info_.warnings.push_back("signal '" + label + "': " + std::to_string(invalid[c]) +
                                     " samples hold WFDB's invalid-sample code: read as 0 uV");
    }
    rewind();
}

void WfdbSource::rewind() {
    for (auto& g : groups_)
        if (g.file && std::fseek(g.file.get(), static_cast<long>(g.offset), SEEK_SET) != 0)
            throw SourceError(g.path.string() + ": cannot seek");
    position_ = 0;
}

void WfdbSource::load(Group& g, std::size_t frames) {
    const std::size_t count = frames * g.signals;
    const std::size_t units = (count + g.packing.samples - 1) / g.packing.samples;
    bytes_.resize(units * g.packing.bytes);
    if (std::fread(bytes_.data(), 1, bytes_.size(), g.file.get()) != bytes_.size())
        throw SourceError(g.path.string() + ": read error or file shrank while being read");
    auto& x = samples_[static_cast<std::size_t>(&g - groups_.data())];
    x.resize(units * g.packing.samples);
    decode_wfdb_samples(g.format, bytes_.data(), count, x.data());
}

std::size_t WfdbSource::read(dsp::BlockRef out) {
    std::size_t done = 0;
    while (done < out.frames && position_ < frames_) {
        // Chunks of kChunkFrames from frame 0, so a 212 file is always read from a pair boundary.
        const std::uint64_t in_chunk = position_ % kChunkFrames;
        const auto chunk = static_cast<std::size_t>(
            std::min<std::uint64_t>(kChunkFrames, frames_ - (position_ - in_chunk)));
        if (in_chunk == 0)
            for (auto& g : groups_)
                if (g.format != 0)
                    load(g, chunk);
        const std::size_t n =
            std::min<std::size_t>(out.frames - done, chunk - static_cast<std::size_t>(in_chunk));
        for (std::size_t c = 0; c < channels_.size(); ++c) {
            const auto& ch = channels_[c];
            const auto& g = groups_[ch.group];
            const auto& x = samples_[ch.group];
            const std::int32_t bad = wfdb_invalid_sample(g.format);
            float* dst = out.channel(c) + done;
            for (std::size_t i = 0; i < n; ++i) {
                const std::int32_t v =
                    x[(static_cast<std::size_t>(in_chunk) + i) * g.signals + ch.index];
                dst[i] = v == bad ? 0.0f : static_cast<float>((v - ch.baseline_adu) * ch.scale_uv);
            }
        }
        position_ += n;
        done += n;
    }
    return done;
}

} // namespace semg::acquisition
