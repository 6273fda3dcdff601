#include "acquisition/edf.hpp"

#include "acquisition/units.hpp"

#include <edflib.h>
#include <fcntl.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>

namespace semg::acquisition {
namespace {

// ".1234567": a fraction of a second given in units of 100 ns, trailing zeros dropped.
std::string fmt_subsecond(long long units_100ns) {
    char text[32];
    std::snprintf(text, sizeof text, ".%07lld", units_100ns);
    std::string out = text;
    while (out.back() == '0')
        out.pop_back();
    return out;
}

std::string open_error(int code) {
    switch (code) {
    case EDFLIB_MALLOC_ERROR: return "out of memory";
    case EDFLIB_NO_SUCH_FILE_OR_DIRECTORY: return "no such file";
    case EDFLIB_FILE_CONTAINS_FORMAT_ERRORS:
        return "not a valid EDF/BDF file (header or data size inconsistent; truncated?)";
    case EDFLIB_MAXFILES_REACHED: return "too many files open";
    case EDFLIB_FILE_READ_ERROR: return "read error";
    case EDFLIB_FILE_ALREADY_OPENED: return "file already opened";
    case EDFLIB_FILETYPE_ERROR: return "unknown file type";
    case EDFLIB_FILE_WRITE_ERROR: return "write error";
    case EDFLIB_NUMBER_OF_SIGNALS_INVALID: return "invalid number of signals";
    case EDFLIB_FILE_IS_DISCONTINUOUS: return "discontinuous EDF+D/BDF+D files are not supported";
    case EDFLIB_INVALID_READ_ANNOTS_VALUE: return "invalid annotation setting";
    default: return "error " + std::to_string(code);
    }
}

std::string trim(std::string s) {
    auto not_space = [](unsigned char ch) { return !std::isspace(ch); };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
    s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
    return s;
}

std::string number_text(double v) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%.10g", v);
    return text.data();
}

// A header field as the message shows it: non-printable bytes as \xNN.
std::string shown(std::string_view field) {
    std::string out;
    for (const unsigned char ch : field) {
        if (ch >= 32 && ch <= 126) {
            out += static_cast<char>(ch);
        } else {
            std::array<char, 5> hex{};
            std::snprintf(hex.data(), hex.size(), "\\x%02X", ch);
            out += hex.data();
        }
    }
    return trim(out);
}

bool printable(std::string_view field) {
    return std::all_of(field.begin(), field.end(),
                       [](unsigned char ch) { return ch >= 32 && ch <= 126; });
}

// EDFlib's number syntax, so that what passes here passes there: an optional sign, digits
// (one '.' allowed in a real), an exponent for reals, then nothing but trailing spaces.
std::optional<double> parse_number(std::string_view field, bool whole) {
    std::size_t end = field.find_last_not_of(' ');
    if (end == std::string_view::npos)
        return std::nullopt;
    std::string text(field.substr(0, end + 1));
    if (text.find(' ') != std::string::npos)
        return std::nullopt;
    std::size_t i = text[0] == '+' || text[0] == '-' ? 1 : 0;
    std::size_t digits = 0, dots = 0;
    for (; i < text.size(); ++i) {
        const char ch = text[i];
        if (ch >= '0' && ch <= '9')
            ++digits;
        else if (ch == '.' && !whole && ++dots == 1)
            continue;
        else if ((ch == 'e' || ch == 'E') && !whole && digits > 0)
            break;
        else
            return std::nullopt;
    }
    if (digits == 0)
        return std::nullopt;
    if (i < text.size()) { // exponent
        std::size_t j = i + 1, exp_digits = 0;
        if (j < text.size() && (text[j] == '+' || text[j] == '-'))
            ++j;
        for (; j < text.size(); ++j, ++exp_digits)
            if (text[j] < '0' || text[j] > '9')
                return std::nullopt;
        if (exp_digits == 0)
            return std::nullopt;
    }
    if (text[0] == '+')
        text.erase(0, 1);
    double value = 0.0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value))
        return std::nullopt;
    return value;
}

// The header as far as the reader needs it, checked field by field so that a fault is named
// (EDFlib reports every one of them as the same "format error"). Checks mirror EDFlib's, so a
// file that passes them fails in EDFlib only for its EDF+ subfields and annotation lists.
struct HeaderSignal {
    std::string label; // trimmed
    std::size_t samples_per_record = 0;
    bool annotation = false; // an annotation signal that EDFlib hides
};

struct Header {
    bool bdf = false;
    bool plus = false;
    std::string bytes; // the whole header, as in the file
    std::size_t header_bytes = 0;
    std::size_t record_bytes = 0;
    long long records_field = 0;   // as the header says; -1: the writer never finished
    std::uint64_t records = 0;     // complete data records to read
    bool length_disagrees = false; // records_field or a partial record: EDFlib refuses the file
    std::vector<HeaderSignal> signals;
    std::vector<std::size_t> start; // byte offset of each signal in a record; back(): record size
    std::string warning;            // why the record count comes from the file's length
};

constexpr long long kMaxSignals = EDFLIB_MAXSIGNALS;

[[noreturn]] void not_valid(const std::string& name, const std::string& what) {
    throw SourceError(name + ": not a valid EDF/BDF file: " + what);
}

Header read_header(std::FILE* file, const std::string& name, std::uintmax_t file_size) {
    Header h;
    if (file_size < 256)
        not_valid(name, std::to_string(file_size) + " bytes, shorter than the 256-byte header");
    h.bytes.resize(256);
    if (std::fread(h.bytes.data(), 1, 256, file) != 256)
        throw SourceError(name + ": cannot read the header");
    const std::string_view fixed(h.bytes);
    auto field = [&](std::size_t offset, std::size_t width) { return fixed.substr(offset, width); };

    const auto version = field(0, 8);
    h.bdf = static_cast<unsigned char>(version[0]) == 0xFF && version.substr(1) == "BIOSEMI";
    if (!h.bdf && version != "0       ")
        not_valid(name, "version field '" + shown(version) +
                            "' is neither '0' (EDF) nor 0xFF 'BIOSEMI' (BDF)");
    struct Named {
        std::size_t offset, width;
        const char* name;
    };
    for (const Named& f :
         {Named{8, 80, "patient identification"}, Named{88, 80, "recording identification"},
          Named{168, 8, "start date"}, Named{176, 8, "start time"},
          Named{184, 8, "number of bytes in header"}, Named{192, 44, "reserved"},
          Named{236, 8, "number of data records"}, Named{244, 8, "duration of a data record"},
          Named{252, 4, "number of signals"}})
        if (!printable(field(f.offset, f.width)))
            not_valid(name, std::string(f.name) + " field '" + shown(field(f.offset, f.width)) +
                                "' holds a byte that is not printable ASCII");
    auto two_digits = [](std::string_view s, std::size_t at) {
        return std::isdigit(static_cast<unsigned char>(s[at])) &&
                       std::isdigit(static_cast<unsigned char>(s[at + 1]))
                   ? (s[at] - '0') * 10 + (s[at + 1] - '0')
                   : -1;
    };
    const auto date = field(168, 8), time = field(176, 8);
    const int day = two_digits(date, 0), month = two_digits(date, 3), year = two_digits(date, 6);
    if (date[2] != '.' || date[5] != '.' || day < 1 || day > 31 || month < 1 || month > 12 ||
        year < 0)
        not_valid(name, "start date '" + shown(date) + "' is not dd.mm.yy");
    const int hour = two_digits(time, 0), minute = two_digits(time, 3),
              second = two_digits(time, 6);
    if (time[2] != '.' || time[5] != '.' || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
        second < 0 || second > 59)
        not_valid(name, "start time '" + shown(time) + "' is not hh.mm.ss");

    const auto signals = parse_number(field(252, 4), true);
    if (!signals || *signals < 1 || *signals > kMaxSignals)
        not_valid(name, "number of signals '" + shown(field(252, 4)) +
                            "' is not a whole number from 1 to " + std::to_string(kMaxSignals));
    const auto n = static_cast<std::size_t>(*signals);
    h.header_bytes = 256 * (n + 1);
    const auto header_bytes = parse_number(field(184, 8), true);
    if (!header_bytes || *header_bytes != static_cast<double>(h.header_bytes))
        not_valid(name, "number of bytes in header '" + shown(field(184, 8)) + "' should be " +
                            std::to_string(h.header_bytes) + " for " + std::to_string(n) +
                            " signals");
    const std::string reserved(field(192, 44)); // a copy: the header buffer grows below
    const std::string plus_mark = h.bdf ? "BDF+" : "EDF+";
    h.plus = reserved.substr(0, 5) == plus_mark + "C" || reserved.substr(0, 5) == plus_mark + "D";
    if (h.plus && reserved[4] == 'D')
        throw SourceError(name + ": discontinuous EDF+D/BDF+D files are not supported");
    const auto records = parse_number(field(236, 8), true);
    if (!records || *records < -1)
        not_valid(name, "number of data records '" + shown(field(236, 8)) +
                            "' is not a whole number (or -1)");
    h.records_field = static_cast<long long>(*records);
    const auto duration = parse_number(field(244, 8), false);
    if (!duration || !(*duration > 0.0))
        not_valid(name, "duration of a data record '" + shown(field(244, 8)) +
                            "' is not a positive number of seconds");
    if (file_size < h.header_bytes)
        not_valid(name, "the header of " + std::to_string(n) + " signals needs " +
                            std::to_string(h.header_bytes) + " bytes, the file has " +
                            std::to_string(file_size));

    h.bytes.resize(h.header_bytes);
    if (std::fread(h.bytes.data() + 256, 1, h.header_bytes - 256, file) != h.header_bytes - 256)
        throw SourceError(name + ": cannot read the header");
    const std::string_view all(h.bytes);
    // Signal i's field of a given width, starting at `column` bytes per signal into the block.
    auto signal_field = [&](std::size_t column, std::size_t width, std::size_t i) {
        return all.substr(256 + column * n + width * i, width);
    };
    // EDFlib hides an annotation signal only in an EDF+/BDF+ file and only under the label of
    // the file's own type; anywhere else it is an ordinary signal.
    const std::string annotation_label = h.bdf ? "BDF Annotations " : "EDF Annotations ";
    const double digital_low = h.bdf ? -8388608.0 : -32768.0,
                 digital_high = h.bdf ? 8388607.0 : 32767.0;
    const std::size_t bytes_per_sample = h.bdf ? 3 : 2;
    h.signals.resize(n);
    h.start.assign(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
        auto& s = h.signals[i];
        const auto label = signal_field(0, 16, i);
        s.label = shown(label);
        const std::string which = "signal " + std::to_string(i + 1) + " '" + s.label + "'";
        struct Column {
            std::size_t column, width;
            const char* name;
        };
        for (const Column& c :
             {Column{0, 16, "label"}, Column{16, 80, "transducer type"},
              Column{96, 8, "physical dimension"}, Column{104, 8, "physical minimum"},
              Column{112, 8, "physical maximum"}, Column{120, 8, "digital minimum"},
              Column{128, 8, "digital maximum"}, Column{136, 80, "prefiltering"},
              Column{216, 8, "samples per record"}, Column{224, 32, "reserved"}})
            if (!printable(signal_field(c.column, c.width, i)))
                not_valid(name, std::string(c.name) + " of " + which +
                                    " holds a byte that is not printable ASCII");
        s.annotation = h.plus && label == annotation_label;
        const auto physical_min = parse_number(signal_field(104, 8, i), false);
        if (!physical_min)
            not_valid(name, "physical minimum of " + which + " '" + shown(signal_field(104, 8, i)) +
                                "' is not a number");
        const auto physical_max = parse_number(signal_field(112, 8, i), false);
        if (!physical_max)
            not_valid(name, "physical maximum of " + which + " '" + shown(signal_field(112, 8, i)) +
                                "' is not a number");
        if (*physical_min == *physical_max)
            not_valid(name, "physical minimum and maximum of " + which + " are both " +
                                number_text(*physical_min));
        const auto digital_min = parse_number(signal_field(120, 8, i), true);
        const auto digital_max = parse_number(signal_field(128, 8, i), true);
        const auto digital_range = std::to_string(static_cast<long>(digital_low)) + " to " +
                                   std::to_string(static_cast<long>(digital_high));
        if (!digital_min || *digital_min < digital_low || *digital_min > digital_high)
            not_valid(name, "digital minimum of " + which + " '" + shown(signal_field(120, 8, i)) +
                                "' is not a whole number from " + digital_range);
        if (!digital_max || *digital_max < digital_low || *digital_max > digital_high)
            not_valid(name, "digital maximum of " + which + " '" + shown(signal_field(128, 8, i)) +
                                "' is not a whole number from " + digital_range);
        if (!(*digital_max > *digital_min))
            not_valid(name, "digital maximum of " + which + " (" + number_text(*digital_max) +
                                ") is not above its digital minimum (" + number_text(*digital_min) +
                                ")");
        const auto samples = parse_number(signal_field(216, 8, i), true);
        if (!samples || *samples < 1)
            not_valid(name, "samples per record of " + which + " '" +
                                shown(signal_field(216, 8, i)) +
                                "' is not a whole number of at least 1");
        s.samples_per_record = static_cast<std::size_t>(*samples);
        h.start[i + 1] = h.start[i] + s.samples_per_record * bytes_per_sample;
    }
    if (h.plus && std::none_of(h.signals.begin(), h.signals.end(),
                               [](const auto& s) { return s.annotation; }))
        not_valid(name, "reserved field '" + shown(reserved) + "' marks the file as " + plus_mark +
                            ", which needs a signal labelled '" + trim(annotation_label) +
                            "': there is none");
    h.record_bytes = h.start[n];
    const std::size_t edflib_max_record_bytes =
        std::size_t{h.bdf ? 15u : 10u} * 1024 * 1024; // EDFlib's limit
    if (h.record_bytes > edflib_max_record_bytes)
        not_valid(name, "a data record of " + std::to_string(h.record_bytes) +
                            " bytes (the samples per record of " +
                            "all signals) is larger than EDFlib's limit of " +
                            std::to_string(edflib_max_record_bytes) + " bytes");

    // A writer that was stopped before it closed the file (a killed capture) leaves -1 as the
    // record count, or the count of its last header update, which lags the data: the records
    // the file holds are then the truth, and a partial last one is left out.
    const std::uintmax_t data_bytes = file_size - h.header_bytes;
    const std::uint64_t complete = data_bytes / h.record_bytes;
    const std::uintmax_t partial = data_bytes % h.record_bytes;
    const std::string of_bytes = " data records of " + std::to_string(h.record_bytes) + " bytes";
    if (h.records_field >= 0 && static_cast<std::uint64_t>(h.records_field) > complete)
        not_valid(name, "the file is shorter than its header says: number of data records " +
                            std::to_string(h.records_field) + of_bytes + " needs " +
                            std::to_string(static_cast<std::uintmax_t>(h.records_field) *
                                           h.record_bytes) +
                            " bytes after the header, the file has " + std::to_string(data_bytes) +
                            " (truncated?)");
    h.records = complete;
    h.length_disagrees = h.records_field != static_cast<long long>(complete) || partial != 0;
    if (complete == 0)
        not_valid(name, "the file holds no complete data record (" + std::to_string(data_bytes) +
                            " bytes after the header, a record is " +
                            std::to_string(h.record_bytes) + ")");
    const std::string ignored =
        partial ? ", a partial last record of " + std::to_string(partial) + " bytes ignored"
                : std::string();
    if (h.records_field == -1)
        h.warning =
            "number of data records is -1 in the header (its writer did not finish, e.g. a killed "
            "capture): reading the " +
            std::to_string(complete) + " complete" + of_bytes + " the file holds" + ignored;
    else if (static_cast<std::uint64_t>(h.records_field) < complete)
        h.warning = "number of data records is " + std::to_string(h.records_field) +
                    " in the header but the file holds " + std::to_string(complete) +
                    " complete ones (its writer did not finish?): reading all " +
                    std::to_string(complete) + ignored;
    else if (partial)
        h.warning = "the file ends with a partial data record of " + std::to_string(partial) +
                    " bytes: ignored";
    return h;
}

// EDFlib refuses a file whose length disagrees with its record count, and the user's file is
// never written to. EDFlib reads only the header and the annotation signals, so it gets an
// anonymous in-memory file of the same layout: the header with the count of complete records,
// the annotation signals copied, the samples left as holes (which take no memory).
class CorrectedView {
public:
    CorrectedView(std::FILE* source, const Header& h, const std::string& name) {
        fd_ = ::memfd_create("semg-edf-view", MFD_CLOEXEC);
        auto fail = [&](const std::string& what) {
            throw SourceError(name + ": cannot make a corrected view of the header (" + what +
                              ": " + std::generic_category().message(errno) + ")");
        };
        if (fd_ < 0)
            fail("memfd_create");
        const std::uint64_t data_bytes = h.records * h.record_bytes;
        if (::ftruncate(fd_, static_cast<off_t>(h.header_bytes + data_bytes)) != 0)
            fail("ftruncate");
        std::string header = h.bytes;
        std::string count = std::to_string(h.records);
        count.resize(8, ' ');
        header.replace(236, 8, count);
        if (::pwrite(fd_, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
            fail("write");
        const int in = ::fileno(source);
        std::vector<char> buffer;
        for (std::size_t s = 0; s < h.signals.size(); ++s) {
            if (!h.signals[s].annotation)
                continue;
            buffer.resize(h.start[s + 1] - h.start[s]);
            for (std::uint64_t r = 0; r < h.records; ++r) {
                const auto at =
                    static_cast<off_t>(h.header_bytes + r * h.record_bytes + h.start[s]);
                if (::pread(in, buffer.data(), buffer.size(), at) !=
                    static_cast<ssize_t>(buffer.size()))
                    fail("read");
                if (::pwrite(fd_, buffer.data(), buffer.size(), at) !=
                    static_cast<ssize_t>(buffer.size()))
                    fail("write");
            }
        }
    }
    ~CorrectedView() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    CorrectedView(const CorrectedView&) = delete;
    CorrectedView& operator=(const CorrectedView&) = delete;
    [[nodiscard]] std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

private:
    int fd_ = -1;
};

} // namespace

// Readers on several threads take it (the writers run one per process: capture, simulate).
static std::mutex& edflib_mutex() {
    static std::mutex m;
    return m;
}

EdfSource::EdfSource(const std::filesystem::path& path) : path_(path) {
    const std::string name = path.string();
    file_.reset(std::fopen(path.c_str(), "rb"));
    if (!file_)
        throw SourceError(
            name + ": " +
            (errno == ENOENT ? "no such file" : std::generic_category().message(errno)));
    std::error_code ec;
    const auto file_size = std::filesystem::file_size(path, ec);
    if (ec)
        throw SourceError(name + ": " + ec.message());
    const Header h = read_header(file_.get(), name, file_size);
    if (!h.warning.empty())
        info_.warnings.push_back(h.warning);

    std::optional<CorrectedView> view;
    if (h.length_disagrees)
        view.emplace(file_.get(), h, name);
    // EDFlib keeps its open files in a global table: opened, read and closed under one lock
    // (`semg analyze --jobs` opens recordings on several threads). The samples are read
    // without EDFlib, outside the lock.
    const std::lock_guard edflib_lock(edflib_mutex());
    edf_hdr_struct hdr{};
    if (edfopen_file_readonly(view ? view->path().c_str() : path.c_str(), &hdr,
                              EDFLIB_READ_ALL_ANNOTATIONS) != 0) {
        // The header checks above mirror EDFlib's except for what EDF+/BDF+ add.
        if (hdr.filetype == EDFLIB_FILE_CONTAINS_FORMAT_ERRORS && h.plus)
            throw SourceError(
                name + ": not a valid EDF/BDF file: EDFlib rejects its " +
                (h.bdf ? "BDF+" : "EDF+") +
                " fields (patient or recording identification, or the annotation signal)");
        if (hdr.filetype == EDFLIB_FILE_CONTAINS_FORMAT_ERRORS)
            throw SourceError(name + ": not a valid EDF/BDF file: EDFlib rejects its header");
        throw SourceError(name + ": " + open_error(hdr.filetype));
    }
    const bool bdf = hdr.filetype == EDFLIB_FILETYPE_BDF || hdr.filetype == EDFLIB_FILETYPE_BDFPLUS;
    const bool plus =
        hdr.filetype == EDFLIB_FILETYPE_EDFPLUS || hdr.filetype == EDFLIB_FILETYPE_BDFPLUS;
    info_.format = std::string(bdf ? "bdf" : "edf") + (plus ? "+" : "");
    {
        char start[96];
        std::snprintf(start, sizeof start, "%04d-%02d-%02dT%02d:%02d:%02d", hdr.startdate_year,
                      hdr.startdate_month, hdr.startdate_day, hdr.starttime_hour,
                      hdr.starttime_minute, hdr.starttime_second);
        info_.start_time = start;
        if (hdr.starttime_subsecond > 0) // units of 100 ns (EDF+/BDF+ only)
            *info_.start_time += fmt_subsecond(hdr.starttime_subsecond);
    }
    bytes_per_sample_ = bdf ? 3 : 2;
    records_ = h.records;
    header_bytes_ = h.header_bytes;
    record_bytes_ = h.record_bytes;
    const double record_s = static_cast<double>(hdr.datarecord_duration) / EDFLIB_TIME_DIMENSION;
    const double recording_s = static_cast<double>(records_) * record_s;
    std::vector<std::string> outside; // annotations that cannot belong to this recording
    for (long long a = 0; a < hdr.annotations_in_file; ++a) {
        edf_annotation_struct an{};
        if (edf_get_annotation(hdr.handle, static_cast<int>(a), &an) != 0)
            continue;
        Annotation note;
        note.onset_s = static_cast<double>(an.onset) / EDFLIB_TIME_DIMENSION;
        if (an.duration_l >= 0)
            note.duration_s = static_cast<double>(an.duration_l) / EDFLIB_TIME_DIMENSION;
        note.text = an.annotation;
        if (!std::isfinite(note.onset_s) || note.onset_s < 0.0 || note.onset_s > recording_s) {
            outside.push_back("'" + note.text + "' at " + number_text(note.onset_s) + " s");
            continue;
        }
        info_.annotations.push_back(std::move(note));
    }
    if (!outside.empty()) {
        std::string list;
        for (std::size_t i = 0; i < outside.size() && i < 3; ++i)
            list += (i ? ", " : "") + outside[i];
        if (outside.size() > 3)
            list += " and " + std::to_string(outside.size() - 3) + " more";
        info_.warnings.push_back("ignoring " + std::to_string(outside.size()) + " annotation" +
                                 (outside.size() > 1 ? "s" : "") +
                                 " with an onset outside the recording (0 to " +
                                 number_text(recording_s) + " s): " + list);
    }

    // EDFlib's signal s is the s-th signal it does not hide. Its labels and sample counts must
    // agree with the header read here, or the samples would be read from another signal's place.
    std::vector<std::size_t> visible;
    for (std::size_t i = 0; i < h.signals.size(); ++i)
        if (!h.signals[i].annotation)
            visible.push_back(i);
    const bool agree = visible.size() == static_cast<std::size_t>(hdr.edfsignals) &&
                       std::equal(visible.begin(), visible.end(), hdr.signalparam,
                                  [&](std::size_t i, const auto& p) {
                                      return h.signals[i].label == trim(p.label) &&
                                             h.signals[i].samples_per_record ==
                                                 static_cast<std::size_t>(p.smp_in_datarecord);
                                  });
    if (!agree) {
        edfclose_file(hdr.handle);
        throw SourceError(
            name + ": EDFlib and the header disagree on which signals are annotation signals");
    }

    auto rate_of = [&](int s) { return hdr.signalparam[s].smp_in_datarecord / record_s; };
    // EMG is the fastest voltage signal; slower signals (accelerometers, ...) are skipped.
    double emg_rate = 0.0;
    for (int s = 0; s < hdr.edfsignals; ++s)
        if (microvolts_per(trim(hdr.signalparam[s].physdimension)) ||
            !*hdr.signalparam[s].physdimension)
            emg_rate = std::max(emg_rate, rate_of(s));
    for (int s = 0; s < hdr.edfsignals; ++s) {
        const std::size_t file_signal = visible[static_cast<std::size_t>(s)];
        const auto& p = hdr.signalparam[s];
        const std::string label = trim(p.label);
        const std::string dim = trim(p.physdimension);
        auto skip = [&](const std::string& reason) {
            info_.notices.push_back("skipping signal '" + label + "': " + reason);
            info_.skipped.push_back({label, rate_of(s), reason});
        };
        const auto factor = microvolts_per(dim);
        if (!factor && !dim.empty()) {
            skip("unit '" + dim + "' is not a voltage");
            continue;
        }
        if (std::abs(rate_of(s) - emg_rate) > 1e-9) {
            skip("sampled at " + number_text(rate_of(s)) + " Hz, the EMG signals at " +
                 number_text(emg_rate) + " Hz");
            continue;
        }
        if (dim.empty())
            info_.notices.push_back("signal '" + label + "' has no unit: taken as uV");
        const double f = factor.value_or(1.0);
        const double step = (p.phys_max - p.phys_min) / (p.dig_max - p.dig_min);
        ChannelInfo ch;
        ch.label = label;
        ch.physical_min_uv = p.phys_min * f;
        ch.physical_max_uv = p.phys_max * f;
        if (p.dig_max > p.dig_min)
            ch.resolution_uv = step * f;
        info_.channels.push_back(ch);
        layout_.push_back({h.start[file_signal], step * f, (p.phys_min - p.dig_min * step) * f});
        samples_per_record_ = h.signals[file_signal].samples_per_record;
        info_.total_frames = records_ * samples_per_record_;
    }
    edfclose_file(hdr.handle);
    info_.sample_rate_hz = emg_rate;
    record_.resize(record_bytes_);
    if (std::fseek(file_.get(), static_cast<long>(header_bytes_), SEEK_SET) != 0)
        throw SourceError(name + ": cannot seek to the data records");
}

EdfSource::~EdfSource() = default;

bool EdfSource::load_record() {
    if (next_record_ >= records_)
        return false;
    if (std::fread(record_.data(), 1, record_bytes_, file_.get()) != record_bytes_)
        throw SourceError(path_.string() + ": data record " + std::to_string(next_record_) +
                          " is incomplete (file truncated?)");
    ++next_record_;
    in_record_ = 0;
    record_frames_ = samples_per_record_;
    return true;
}

std::size_t EdfSource::read(dsp::BlockRef out) {
    std::size_t done = 0;
    while (done < out.frames) {
        if (in_record_ == record_frames_ && !load_record())
            break;
        const std::size_t n = std::min(out.frames - done, record_frames_ - in_record_);
        for (std::size_t c = 0; c < layout_.size(); ++c) {
            const unsigned char* src =
                record_.data() + layout_[c].offset_bytes + in_record_ * bytes_per_sample_;
            float* dst = out.channel(c) + done;
            const double scale = layout_[c].scale_uv, offset = layout_[c].offset_uv;
            if (bytes_per_sample_ == 3) {
                for (std::size_t i = 0; i < n; ++i, src += 3) {
                    const std::int32_t v =
                        static_cast<std::int32_t>(static_cast<std::uint32_t>(src[0]) |
                                                  static_cast<std::uint32_t>(src[1]) << 8 |
                                                  static_cast<std::uint32_t>(src[2]) << 16)
                            << 8 >>
                        8; // sign-extend 24 bits
                    dst[i] = static_cast<float>(v * scale + offset);
                }
            } else {
                for (std::size_t i = 0; i < n; ++i, src += 2) {
                    const auto v =
                        static_cast<std::int16_t>(static_cast<std::uint16_t>(src[0] | src[1] << 8));
                    dst[i] = static_cast<float>(v * scale + offset);
                }
            }
        }
        in_record_ += n;
        done += n;
    }
    return done;
}

namespace {

// An EDFlib write handle for `path` with every header setting of `c` applied.
int open_edflib_writer(const std::filesystem::path& path, const EdfWriterConfig& c, int digital_min,
                       int digital_max) {
    const int n = static_cast<int>(c.labels.size());
    const int type =
        c.format == EdfFormat::BdfPlus ? EDFLIB_FILETYPE_BDFPLUS : EDFLIB_FILETYPE_EDFPLUS;
    const int handle = edfopen_file_writeonly(path.c_str(), type, n);
    if (handle < 0)
        throw SourceError(path.string() + ": cannot create (" + open_error(handle) + ")");
    bool ok = true;
    for (int s = 0; s < n; ++s) {
        ok = ok && edf_set_samplefrequency(handle, s, c.sample_rate_hz) == 0;
        ok = ok && edf_set_physical_maximum(handle, s, c.physical_max_uv) == 0;
        ok = ok && edf_set_physical_minimum(handle, s, c.physical_min_uv) == 0;
        ok = ok && edf_set_digital_maximum(handle, s, digital_max) == 0;
        ok = ok && edf_set_digital_minimum(handle, s, digital_min) == 0;
        ok = ok && edf_set_label(handle, s, c.labels[static_cast<std::size_t>(s)].c_str()) == 0;
        ok = ok && edf_set_physical_dimension(handle, s, "uV") == 0;
        if (!c.prefilter.empty())
            ok = ok && edf_set_prefilter(handle, s, c.prefilter.c_str()) == 0;
    }
    ok = ok && edf_set_equipment(handle, c.equipment.c_str()) == 0;
    if (c.start) {
        const auto& t = *c.start;
        ok = ok && edf_set_startdatetime(handle, t[0], t[1], t[2], t[3], t[4], t[5]) == 0;
    }
    if (!ok) {
        edfclose_file(handle);
        throw SourceError(path.string() + ": EDFlib rejected the header settings");
    }
    return handle;
}

} // namespace

EdfWriter::EdfWriter(const std::filesystem::path& path, EdfWriterConfig config)
    : path_(path), config_(std::move(config)) {
    const int n = static_cast<int>(config_.labels.size());
    if (n == 0 || n > EDFLIB_MAXSIGNALS)
        throw SourceError(path.string() + ": cannot write " + std::to_string(n) + " signals");
    if (config_.sample_rate_hz <= 0)
        throw SourceError(path.string() + ": EDF/BDF output needs a whole-number sample rate");
    const bool bdf = config_.format == EdfFormat::BdfPlus;
    digital_max_ = bdf ? 8388607 : 32767;
    digital_min_ = bdf ? -8388608 : -32768;
    if (config_.durable && !config_.start) {
        // EDFlib's default start is "now" at open: fix it, so that the header written at open
        // and the one EDFlib writes with the first record are the same bytes.
        const std::time_t now = std::time(nullptr);
        std::tm local{};
        ::localtime_r(&now, &local);
        config_.start = std::array<int, 6>{local.tm_year + 1900, local.tm_mon + 1, local.tm_mday,
                                           local.tm_hour,        local.tm_min,     local.tm_sec};
    }
    handle_ = open_edflib_writer(path_, config_, digital_min_, digital_max_);
    record_.assign(static_cast<std::size_t>(n) * static_cast<std::size_t>(config_.sample_rate_hz),
                   0);
    if (config_.durable) {
        try {
            write_header_now();
        } catch (...) {
            edfclose_file(handle_);
            handle_ = -1;
            if (header_fd_ >= 0)
                ::close(header_fd_);
            throw;
        }
    }
}

// EDFlib writes the header only with the first data record. For a file that is readable from
// the start, EDFlib makes the same header (same settings and start time) in a scratch file with
// one record of zeros; its header goes into our file now with a record count of 0, and EDFlib
// later writes the same bytes over it (count -1, which the first record's count replaces).
void EdfWriter::write_header_now() {
    // In the system's temporary folder, else next to the file (which is writable).
    std::error_code no_tmp;
    const auto tmp = std::filesystem::temp_directory_path(no_tmp);
    std::filesystem::path scratch;
    int scratch_fd = -1;
    for (const auto& folder : {no_tmp ? path_.parent_path() : tmp, path_.parent_path()}) {
        std::string name =
            ((folder.empty() ? std::filesystem::path(".") : folder) / ".semg-edf-header-XXXXXX")
                .string();
        scratch_fd = ::mkstemp(name.data());
        if (scratch_fd >= 0) {
            scratch = name;
            break;
        }
    }
    if (scratch_fd < 0)
        throw SourceError(path_.string() + ": cannot make the scratch header file (" +
                          std::strerror(errno) + ")");
    ::close(scratch_fd);
    std::string header;
    try {
        const int h = open_edflib_writer(scratch, config_, digital_min_, digital_max_);
        std::vector<int> zeros(static_cast<std::size_t>(config_.sample_rate_hz), 0);
        bool ok = true;
        for (std::size_t c = 0; c < config_.labels.size(); ++c)
            ok = ok && edfwrite_digital_samples(h, zeros.data()) == 0;
        ok = edfclose_file(h) == 0 && ok;
        std::FILE* f = std::fopen(scratch.c_str(), "rb");
        if (f) {
            char field[9] = {};
            const bool read = std::fseek(f, 184, SEEK_SET) == 0 && std::fread(field, 1, 8, f) == 8;
            const long bytes = read ? std::atol(field) : 0;
            header.resize(static_cast<std::size_t>(std::max(0L, bytes)));
            ok = ok && bytes > 256 && std::fseek(f, 0, SEEK_SET) == 0 &&
                 std::fread(header.data(), 1, header.size(), f) == header.size();
            std::fclose(f);
        }
        if (!ok || !f || header.size() <= 256)
            throw SourceError(path_.string() + ": cannot make the header");
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(scratch, ignored);
        throw;
    }
    std::error_code ec;
    std::filesystem::remove(scratch, ec);
    header.replace(236, 8, "0       ");
    // Where the annotation signal sits in a data record: live annotations are written there.
    {
        const bool bdf = config_.format == EdfFormat::BdfPlus;
        const std::size_t bps = bdf ? 3 : 2;
        const std::size_t ns = static_cast<std::size_t>(std::atol(header.substr(252, 4).c_str()));
        const std::string annotation_label = bdf ? "BDF Annotations " : "EDF Annotations ";
        header_bytes_ = header.size();
        record_bytes_ = 0;
        for (std::size_t i = 0; i < ns && 256 + ns * 216 + i * 8 + 8 <= header.size(); ++i) {
            const auto samples = static_cast<std::size_t>(
                std::atol(header.substr(256 + ns * 216 + i * 8, 8).c_str()));
            if (header.compare(256 + i * 16, 16, annotation_label) == 0 && annotation_bytes_ == 0) {
                annotation_offset_ = record_bytes_;
                annotation_bytes_ = samples * bps;
            }
            record_bytes_ += samples * bps;
        }
    }
    header_fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (header_fd_ < 0 || ::pwrite(header_fd_, header.data(), header.size(), 0) !=
                              static_cast<ssize_t>(header.size()))
        throw SourceError(path_.string() + ": cannot write the header (" + std::strerror(errno) +
                          ")");
}

void EdfWriter::write_record_count() {
    // EDFlib writes through a stdio stream it does not expose: flush them all, so that every
    // record the count includes is in the kernel (a killed process loses nothing the kernel has).
    if (std::fflush(nullptr) != 0)
        throw SourceError(path_.string() + ": write failed (" + std::strerror(errno) + ")");
    char count[16];
    std::snprintf(count, sizeof count, "%-8llu", static_cast<unsigned long long>(records_written_));
    if (records_written_ > 99999999ULL || ::pwrite(header_fd_, count, 8, 236) != 8)
        throw SourceError(path_.string() + ": cannot update the header's record count");
}

EdfWriter::~EdfWriter() {
    if (handle_ >= 0)
        edfclose_file(handle_);
    if (header_fd_ >= 0)
        ::close(header_fd_);
}

void EdfWriter::write(dsp::ConstBlockRef block) {
    const auto per_record = static_cast<std::size_t>(config_.sample_rate_hz);
    const double scale =
        (digital_max_ - digital_min_) / (config_.physical_max_uv - config_.physical_min_uv);
    std::size_t done = 0;
    while (done < block.frames) {
        const std::size_t take = std::min(block.frames - done, per_record - record_fill_);
        for (std::size_t c = 0; c < block.channels; ++c) {
            const float* src = block.channel(c) + done;
            int* dst = record_.data() + c * per_record + record_fill_;
            for (std::size_t i = 0; i < take; ++i) {
                const double d =
                    std::round((src[i] - config_.physical_min_uv) * scale) + digital_min_;
                dst[i] = static_cast<int>(std::clamp<double>(d, digital_min_, digital_max_));
            }
        }
        record_fill_ += take;
        done += take;
        if (record_fill_ == per_record)
            flush_record();
    }
    frames_written_ += block.frames;
}

void EdfWriter::flush_record() {
    const auto per_record = static_cast<std::size_t>(config_.sample_rate_hz);
    for (std::size_t c = 0; c < config_.labels.size(); ++c)
        if (edfwrite_digital_samples(handle_, record_.data() + c * per_record) != 0)
            throw SourceError(path_.string() + ": write failed (disk full?)");
    record_fill_ = 0;
    ++records_written_;
    if (header_fd_ >= 0) {
        write_record_count();
        // Live annotations waiting: into the record just written (in the kernel now).
        const auto last = static_cast<long long>(records_written_) - 1;
        if (annotation_bytes_ > 0 &&
            std::any_of(notes_.begin(), notes_.end(),
                        [](const PlacedNote& n) { return n.record < 0 && n.live; }))
            place_waiting(last, last, true);
    }
}

namespace {

// An EDF+ TAL: "+onset[\x15duration]\x14text\x14\0", times in seconds to 0.1 ms.
std::string tal_of(const Annotation& a) {
    auto seconds = [](double s) {
        const long long units = std::llround(std::max(0.0, s) * 1e4);
        char text[32];
        std::snprintf(text, sizeof text, "%lld.%04lld", units / 10000, units % 10000);
        return std::string(text);
    };
    std::string t = "+" + seconds(a.onset_s);
    if (a.duration_s >= 0.0)
        t += "\x15" + seconds(a.duration_s);
    t += '\x14';
    t += a.text;
    t += '\x14';
    t += '\0';
    return t;
}

} // namespace

// The record's annotation signal: its time-keeping TAL as EDFlib wrote it, then the notes placed
// in it, then zeros. False (nothing written) when they do not fit.
bool EdfWriter::render_record(long long record) {
    std::string area(annotation_bytes_, '\0');
    const auto at = static_cast<off_t>(
        header_bytes_ + static_cast<std::size_t>(record) * record_bytes_ + annotation_offset_);
    if (::pread(header_fd_, area.data(), area.size(), at) != static_cast<ssize_t>(area.size()))
        throw SourceError(path_.string() + ": cannot read back data record " +
                          std::to_string(record));
    std::string out = area.substr(0, area.find('\0') + 1); // the time-keeping TAL
    for (const auto& n : notes_)
        if (n.record == record)
            out += tal_of(n.note);
    if (out.size() > annotation_bytes_)
        return false;
    out.resize(annotation_bytes_, '\0');
    if (::pwrite(header_fd_, out.data(), out.size(), at) != static_cast<ssize_t>(out.size()))
        throw SourceError(path_.string() + ": cannot write an annotation");
    return true;
}

// Notes not yet written go, in order, into the first record in [first, last] with room. At
// close (all notes) from record 0, as EDFlib places its own.
void EdfWriter::place_waiting(long long first_record, long long last_record, bool live_only) {
    for (auto& n : notes_) {
        if (n.record >= 0 || (live_only && !n.live))
            continue;
        for (long long r = first_record; r <= last_record; ++r) {
            n.record = r;
            if (render_record(r))
                break;
            n.record = -1;
        }
    }
}

std::size_t EdfWriter::annotate_live(Annotation annotation) {
    if (header_fd_ < 0 || annotation_bytes_ == 0)
        throw SourceError(path_.string() + ": live annotations need a durable BDF+/EDF+ writer");
    // Room in an empty record: its time-keeping TAL ("+99999999\x14\x14\0") and the note's own
    // "+onset\x15duration\x14...\x14\0" take at most 40 bytes.
    const std::size_t room = annotation_bytes_ > 40 ? annotation_bytes_ - 40 : 0;
    if (annotation.text.size() > room) {
        std::size_t cut = room;
        while (cut > 0 && (static_cast<unsigned char>(annotation.text[cut]) & 0xC0) == 0x80)
            --cut;
        annotation.text.resize(cut);
    }
    for (auto& ch : annotation.text)
        if (ch == '\x14' || ch == '\x15' || ch == '\0')
            ch = ' '; // TAL delimiters
    notes_.push_back({std::move(annotation), -1, true});
    return notes_.size() - 1;
}

void EdfWriter::set_live_duration(std::size_t id, double duration_s) {
    if (id >= notes_.size())
        return;
    auto& n = notes_[id];
    n.note.duration_s = duration_s;
    if (n.record < 0)
        return;
    if (render_record(n.record))
        return;
    const long long old = n.record;
    n.record = -1; // it goes into the next record with room
    render_record(old);
    if (records_written_ > 0)
        place_waiting(static_cast<long long>(records_written_) - 1,
                      static_cast<long long>(records_written_) - 1, true);
}

void EdfWriter::annotate(const Annotation& annotation) {
    if (header_fd_ >= 0 && annotation_bytes_ > 0) {
        notes_.push_back({annotation, -1, false}); // written at close, where there is room
        return;
    }
    const auto onset = static_cast<long long>(std::llround(annotation.onset_s * 1e4));
    const long long duration =
        annotation.duration_s < 0
            ? -1
            : static_cast<long long>(std::llround(annotation.duration_s * 1e4));
    if (edfwrite_annotation_utf8(handle_, onset, duration, annotation.text.c_str()) != 0)
        throw SourceError(path_.string() + ": cannot write annotation '" + annotation.text + "'");
}

void EdfWriter::close() {
    if (handle_ < 0)
        return;
    if (record_fill_ > 0) {
        const double end_s = static_cast<double>(frames_written_) / config_.sample_rate_hz;
        annotate({end_s, -1.0, "Recording ends"});
        const auto per_record = static_cast<std::size_t>(config_.sample_rate_hz);
        // Pad with the digital value of 0 µV.
        const double scale =
            (digital_max_ - digital_min_) / (config_.physical_max_uv - config_.physical_min_uv);
        const int zero =
            static_cast<int>(std::round(-config_.physical_min_uv * scale)) + digital_min_;
        for (std::size_t c = 0; c < config_.labels.size(); ++c)
            std::fill(record_.begin() + static_cast<long>(c * per_record + record_fill_),
                      record_.begin() + static_cast<long>((c + 1) * per_record), zero);
        flush_record();
    }
    const int rc = edfclose_file(handle_);
    handle_ = -1;
    if (header_fd_ >= 0 && annotation_bytes_ > 0 && rc == 0) {
        // EDFlib had no annotations: those still waiting go where there is room.
        place_waiting(0, static_cast<long long>(records_written_) - 1, false);
        dropped_annotations_ = static_cast<std::size_t>(std::count_if(
            notes_.begin(), notes_.end(), [](const PlacedNote& n) { return n.record < 0; }));
    }
    if (header_fd_ >= 0) {
        ::close(header_fd_);
        header_fd_ = -1;
    }
    if (rc != 0)
        throw SourceError(path_.string() + ": closing failed");
}

} // namespace semg::acquisition
