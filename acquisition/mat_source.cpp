#include "acquisition/mat_source.hpp"
#include "acquisition/hdf5_lock.hpp"
#include "acquisition/hdf5_superblock.hpp"
#include "acquisition/mat_v5_layout.hpp"
#include "acquisition/units.hpp"

#include "acquisition/csv_source.hpp" // the volts-or-µV rule for data without units

#include <matio.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace semg::acquisition {
namespace {

constexpr std::size_t kMaxVariables = 4096;
constexpr std::size_t kMaxTextElements = std::size_t{1} << 20;
constexpr double kMaxSampleRateHz = 1e6;
constexpr double kMaxInflation = 1100.0;

// matio keeps global state (its log function, HDF5's library state): one file at a time, and
// not while an OpenSignals .h5 file is read (acquisition/hdf5_lock.hpp).
std::mutex& matio_mutex() { return hdf5_mutex(); }

// matio's messages go here instead of stderr, and into the error that follows them.
thread_local std::string matio_log;
void log_to_buffer(int level, char* message) {
    if ((level & (MATIO_LOG_LEVEL_ERROR | MATIO_LOG_LEVEL_CRITICAL | MATIO_LOG_LEVEL_WARNING)) ==
            0 ||
        message == nullptr)
        return;
    if (matio_log.size() > 400)
        return;
    if (!matio_log.empty())
        matio_log += "; ";
    matio_log += message;
}

std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
    return r;
}

std::string text(double v, int digits = 10) {
    std::array<char, 32> buf{};
    const auto r =
        std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::general, digits);
    return {buf.data(), r.ptr};
}

struct MatCloser {
    void operator()(mat_t* m) const { Mat_Close(m); }
};
struct VarFree {
    void operator()(matvar_t* v) const { Mat_VarFree(v); }
};
using VarPtr = std::unique_ptr<matvar_t, VarFree>;

bool is_numeric(matio_classes c) { return c >= MAT_C_DOUBLE && c <= MAT_C_UINT64; }

const char* class_name(const matvar_t& v) {
    if (v.isLogical)
        return "logical";
    switch (v.class_type) {
    case MAT_C_CELL: return "cell";
    case MAT_C_STRUCT: return "struct";
    case MAT_C_OBJECT: return "object";
    case MAT_C_CHAR: return "char";
    case MAT_C_SPARSE: return "sparse";
    case MAT_C_DOUBLE: return v.isComplex ? "complex double" : "double";
    case MAT_C_SINGLE: return v.isComplex ? "complex single" : "single";
    case MAT_C_INT8: return "int8";
    case MAT_C_UINT8: return "uint8";
    case MAT_C_INT16: return "int16";
    case MAT_C_UINT16: return "uint16";
    case MAT_C_INT32: return "int32";
    case MAT_C_UINT32: return "uint32";
    case MAT_C_INT64: return "int64";
    case MAT_C_UINT64: return "uint64";
    case MAT_C_FUNCTION: return "function";
    case MAT_C_OPAQUE: return "opaque";
    default: return "empty";
    }
}

// What the header of a variable says, before its data are read.
struct VarInfo {
    std::string name;
    matio_classes class_type = MAT_C_EMPTY;
    bool complex = false, logical = false;
    std::vector<std::size_t> dims;
    std::string shown; // "Data (double 29x17184)"

    std::optional<std::size_t> elements() const {
        std::size_t n = 1;
        for (const auto d : dims) {
            if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d)
                return std::nullopt;
            n *= d;
        }
        return n;
    }
    bool real_matrix() const {
        return is_numeric(class_type) && !complex && !logical && dims.size() == 2;
    }
};

bool is_one_of(const std::string& name, std::initializer_list<const char*> names) {
    const std::string n = lower(name);
    return std::any_of(names.begin(), names.end(), [&](const char* c) { return n == c; });
}
bool is_rate_name(const std::string& n) {
    return is_one_of(n, {"fs", "srate", "sampling_rate", "samplerate", "sample_rate",
                         "sample_rate_hz", "fs_hz", "sampling_frequency", "samplingfrequency"});
}
bool is_label_name(const std::string& n) {
    return is_one_of(n, {"channels", "labels", "channel_names", "channelnames", "channel_labels"});
}
bool is_unit_name(const std::string& n) { return is_one_of(n, {"units", "unit"}); }
bool is_time_name(const std::string& n) { return is_one_of(n, {"time", "t", "time_s"}); }
bool is_data_name(const std::string& n) {
    return is_one_of(n, {"data", "emg", "signals", "signal"});
}

std::string trim(std::string s) {
    const auto keep = [](unsigned char c) {
        return c != ' ' && c != '\0' && c != '\t' && c != '\r' && c != '\n';
    };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), keep));
    s.erase(std::find_if(s.rbegin(), s.rend(), keep).base(), s.end());
    return s;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | cp >> 6);
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xE0 | cp >> 12);
        out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

class Reader {
public:
    Reader(const std::filesystem::path& path, mat_t* mat, std::uint64_t file_bytes)
        : name_(path.string()), mat_(mat), file_bytes_(file_bytes) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw SourceError(name_ + ": " + what);
    }

    std::vector<VarInfo> list() {
        std::vector<VarInfo> vars;
        Mat_Rewind(mat_);
        while (VarPtr v{Mat_VarReadNextInfo(mat_)}) {
            if (vars.size() == kMaxVariables)
                fail("more than " + std::to_string(kMaxVariables) + " variables");
            VarInfo info;
            info.name = v->name ? v->name : "";
            info.class_type = v->class_type;
            info.complex = v->isComplex != 0;
            info.logical = v->isLogical != 0;
            if (v->rank < 0 || v->rank > 32 || (v->rank > 0 && v->dims == nullptr))
                fail("variable '" + info.name + "' has an invalid rank " + std::to_string(v->rank));
            info.dims.assign(v->dims, v->dims + v->rank);
            info.shown = info.name + " (" + class_name(*v) + " ";
            for (std::size_t i = 0; i < info.dims.size(); ++i)
                info.shown += (i ? "x" : "") + std::to_string(info.dims[i]);
            info.shown += ")";
            vars.push_back(std::move(info));
        }
        return vars;
    }

    // Reads a variable whole after checking what its header claims: a size beyond `max_bytes`
    // in memory is refused before matio allocates it.
    VarPtr read(const VarInfo& info, std::size_t max_bytes) {
        const auto n = info.elements();
        // A cell or struct costs matio a matvar_t (about 100 bytes) an element.
        const std::size_t per = info.class_type == MAT_C_CHAR ? 2
                                : is_numeric(info.class_type) ? Mat_SizeOfClass(info.class_type)
                                                              : 100;
        if (!n || (per > 0 && *n > max_bytes / per))
            fail("variable '" + info.name + "' is too large to read (" + info.shown + "; at most " +
                 std::to_string(max_bytes >> 20) + " MiB)");
        // zlib (v5 and HDF5's deflate) compresses at most about 1032:1: a variable that claims
        // more than that of the whole file is damaged, and is refused before matio allocates it.
        if (per > 0 && static_cast<double>(*n) * static_cast<double>(per) >
                           kMaxInflation * static_cast<double>(file_bytes_) + 4096.0)
            fail("variable " + info.shown + " claims more data than the " +
                 std::to_string(file_bytes_) +
                 "-byte file can hold, even compressed: the file is damaged");
        matio_log.clear();
        VarPtr v{Mat_VarRead(mat_, info.name.c_str())};
        if (!v)
            fail("cannot read variable '" + info.name + "'" +
                 (matio_log.empty() ? "" : " (" + matio_log + ")"));
        if (v->rank != static_cast<int>(info.dims.size()) ||
            !std::equal(info.dims.begin(), info.dims.end(), v->dims))
            fail("variable '" + info.name + "' changed its size between listing and reading");
        return v;
    }

    // The numbers of a real numeric variable as doubles.
    std::vector<double> numbers(const VarInfo& info, std::size_t max_bytes) {
        if (!is_numeric(info.class_type) || info.complex || info.logical)
            fail("variable " + info.shown + " is not a real numeric array");
        const VarPtr v = read(info, max_bytes);
        const std::size_t n = *info.elements();
        const std::size_t size = Mat_SizeOfClass(v->class_type);
        if (n > 0 && (v->data == nullptr || v->class_type != info.class_type ||
                      static_cast<std::size_t>(v->data_size) != size || v->nbytes < n * size))
            fail("variable '" + info.name + "': its data do not match its header");
        std::vector<double> out(n);
        const void* d = v->data;
        auto copy = [&](auto tag) {
            using T = decltype(tag);
            const auto* p = static_cast<const T*>(d);
            for (std::size_t i = 0; i < n; ++i)
                out[i] = static_cast<double>(p[i]);
        };
        switch (v->class_type) {
        case MAT_C_DOUBLE: copy(double{}); break;
        case MAT_C_SINGLE: copy(float{}); break;
        case MAT_C_INT8: copy(std::int8_t{}); break;
        case MAT_C_UINT8: copy(std::uint8_t{}); break;
        case MAT_C_INT16: copy(std::int16_t{}); break;
        case MAT_C_UINT16: copy(std::uint16_t{}); break;
        case MAT_C_INT32: copy(std::int32_t{}); break;
        case MAT_C_UINT32: copy(std::uint32_t{}); break;
        case MAT_C_INT64: copy(std::int64_t{}); break;
        case MAT_C_UINT64: copy(std::uint64_t{}); break;
        default: fail("variable " + info.shown + " is not numeric");
        }
        return out;
    }

    // The strings of a char matrix (one per row) or of a cell array of char rows.
    std::vector<std::string> strings(const VarInfo& info) {
        const VarPtr v = read(info, kMaxTextElements * 2);
        if (v->class_type == MAT_C_CHAR)
            return char_rows(*v, info.name);
        if (v->class_type != MAT_C_CELL)
            fail("variable " + info.shown + " is neither text (char) nor a cell array of text");
        std::vector<std::string> out;
        const std::size_t n = *info.elements();
        for (std::size_t i = 0; i < n; ++i) {
            matvar_t* cell = Mat_VarGetCell(v.get(), static_cast<int>(i));
            if (cell == nullptr || cell->class_type != MAT_C_CHAR) {
                if (cell != nullptr && cell->class_type == MAT_C_EMPTY) {
                    out.emplace_back();
                    continue;
                }
                fail("variable '" + info.name + "': cell " + std::to_string(i + 1) +
                     " is not text");
            }
            std::string joined;
            for (const auto& row : char_rows(*cell, info.name))
                joined += row;
            out.push_back(trim(joined));
        }
        return out;
    }

private:
    std::vector<std::string> char_rows(const matvar_t& v, const std::string& name) {
        if (v.rank != 2 || v.dims == nullptr)
            fail("variable '" + name + "': text that is not a 2-D char array");
        const std::size_t rows = v.dims[0], cols = v.dims[1];
        // Rows are counted too: a 16777216 x 0 char array is no text, but as many strings.
        if (rows > kMaxTextElements || (rows != 0 && cols > kMaxTextElements / rows))
            fail("variable '" + name + "': text too large (" + std::to_string(rows) + " x " +
                 std::to_string(cols) + " characters)");
        const std::size_t n = rows * cols;
        std::vector<std::string> out(rows);
        if (n == 0)
            return out;
        const std::size_t width = v.data_size == 2 || v.data_type == MAT_T_UINT16 ||
                                          v.data_type == MAT_T_UTF16 || v.data_type == MAT_T_INT16
                                      ? 2
                                      : 1;
        if (v.data == nullptr || v.nbytes < n * width || (v.data_size != 1 && v.data_size != 2))
            fail("variable '" + name + "': its text does not match its size");
        const auto* b = static_cast<const unsigned char*>(v.data);
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t c = 0; c < cols; ++c) {
                const std::size_t i = c * rows + r; // column-major
                if (width == 2) {
                    std::uint16_t u = 0;
                    std::memcpy(&u, b + 2 * i, 2);
                    append_utf8(out[r], u);
                } else {
                    out[r] += static_cast<char>(b[i]);
                }
            }
            out[r] = trim(out[r]);
        }
        return out;
    }

    std::string name_;
    mat_t* mat_;
    std::uint64_t file_bytes_;
};

// A v4 file has no header: a list of matrices, each 5 int32 (type MOPT, rows, columns,
// imaginary flag, name length), the name, then the data. libmatio allocates what a v4 header
// claims before reading it (a gigabyte for a text file's bytes); each matrix must end inside
// the file first.
void check_v4_matrices(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::uint64_t>(in.tellg());
    std::uint64_t pos = 0;
    for (std::size_t matrix = 1; pos < size; ++matrix) {
        std::array<unsigned char, 20> h{};
        in.seekg(static_cast<std::streamoff>(pos));
        const auto bad = [&](const std::string& why) {
            throw SourceError(path.string() +
                              ": not a MATLAB .mat file (read as v4, which has no header: matrix " +
                              std::to_string(matrix) + " at byte " + std::to_string(pos) + " " +
                              why + ")");
        };
        if (!in.read(reinterpret_cast<char*>(h.data()), h.size()))
            bad("is cut short");
        const auto le = [&](std::size_t i) {
            return std::uint32_t{h[i]} | std::uint32_t{h[i + 1]} << 8 |
                   std::uint32_t{h[i + 2]} << 16 | std::uint32_t{h[i + 3]} << 24;
        };
        const auto be = [&](std::size_t i) {
            return std::uint32_t{h[i]} << 24 | std::uint32_t{h[i + 1]} << 16 |
                   std::uint32_t{h[i + 2]} << 8 | std::uint32_t{h[i + 3]};
        };
        const bool big = le(0) > 4052;
        const auto word = [&](std::size_t i) { return big ? be(4 * i) : le(4 * i); };
        const std::uint32_t type = word(0);
        const std::uint32_t precision = type / 10 % 10, form = type % 10;
        if (type > 4052 || type / 100 % 10 != 0 || precision > 5 || form > 2)
            bad("has an invalid type");
        static constexpr std::uint64_t bytes_of[] = {8, 4, 4, 2, 2, 1};
        const std::uint64_t data =
            std::uint64_t{word(1)} * word(2) * bytes_of[precision] * (word(3) ? 2 : 1);
        const std::uint64_t end = pos + 20 + word(4) + data;
        if (word(3) > 1 || end > size)
            bad("claims more bytes than the file has");
        pos = end;
    }
}

} // namespace

bool looks_like_mat(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::array<char, 19> head{};
    if (!in.read(head.data(), head.size()))
        return false;
    const std::string_view h(head.data(), head.size());
    return h == "MATLAB 5.0 MAT-file" || h == "MATLAB 7.3 MAT-file";
}

MatSource::MatSource(const std::filesystem::path& path, Options options) {
    const std::string name = path.string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw SourceError(name + ": not a regular file (no such file, a FIFO or a device)");
    switch (mat_layout(path)) {
    case MatLayout::v5: check_mat_v5_layout(path); break;
    case MatLayout::v4: check_v4_matrices(path); break;
    case MatLayout::v73: check_hdf5_superblock(path); break;
    }
    const std::lock_guard lock(matio_mutex());
    static std::once_flag log_once;
    std::call_once(log_once, [] { Mat_LogInitFunc("semg", log_to_buffer); });
    matio_log.clear();
    const std::unique_ptr<mat_t, MatCloser> mat{Mat_Open(path.c_str(), MAT_ACC_RDONLY)};
    if (!mat)
        throw SourceError(name + ": not a MATLAB .mat file that libmatio can read" +
                          (matio_log.empty() ? "" : " (" + matio_log + ")"));
    switch (Mat_GetVersion(mat.get())) {
    case MAT_FT_MAT73: info_.format = "mat-v7.3"; break;
    case MAT_FT_MAT4: info_.format = "mat-v4"; break;
    default: info_.format = "mat-v5"; break;
    }
    Reader reader(path, mat.get(), std::filesystem::file_size(path, ec));
    const auto vars = reader.list();
    std::string listing;
    for (const auto& v : vars)
        listing += (listing.empty() ? "" : ", ") + v.shown;
    if (vars.empty())
        listing = "none";
    const std::string convention =
        " (docs/formats.md: a 2-D numeric matrix named Data/data/emg/signals, or the "
        "only one; the rate in fs/Fs/srate/sampling_rate/SampleRate; labels in "
        "channels/labels; units in units)";
    auto find = [&](bool (*is)(const std::string&)) -> const VarInfo* {
        for (const auto& v : vars)
            if (is(v.name))
                return &v;
        return nullptr;
    };

    // The data variable.
    const VarInfo* data = find(is_data_name);
    if (data && !data->real_matrix())
        reader.fail("variable " + data->shown +
                    " is not a real 2-D numeric matrix; variables: " + listing + convention);
    if (!data) {
        std::vector<const VarInfo*> candidates;
        for (const auto& v : vars)
            if (v.real_matrix() && v.elements().value_or(0) >= 2 && !is_rate_name(v.name) &&
                !is_label_name(v.name) && !is_unit_name(v.name) && !is_time_name(v.name))
                candidates.push_back(&v);
        if (candidates.size() != 1)
            reader.fail(std::string(candidates.empty()
                                        ? "no numeric matrix to read as the data"
                                        : "several numeric matrices, none named as the data") +
                        "; variables: " + listing + convention);
        data = candidates[0];
    }
    const VarInfo* rate_var = find(is_rate_name);
    const VarInfo* label_var = find(is_label_name);
    const VarInfo* unit_var = find(is_unit_name);
    const VarInfo* time_var = find(is_time_name);
    const bool delsys = data->name == "Data" && rate_var && rate_var->name == "Fs" && label_var &&
                        label_var->name == "Channels";

    const std::vector<std::string> labels =
        label_var ? reader.strings(*label_var) : std::vector<std::string>{};
    const std::size_t rows = data->dims[0], cols = data->dims[1];
    bool channels_in_rows = false;
    if (!labels.empty()) {
        if (rows == labels.size() && cols != labels.size())
            channels_in_rows = true;
        else if (cols == labels.size() && rows != labels.size())
            channels_in_rows = false;
        else if (rows == labels.size())
            channels_in_rows = rows <= cols;
        else
            reader.fail("variable '" + label_var->name + "' has " + std::to_string(labels.size()) +
                        " labels, but the data " + data->shown +
                        " has no dimension of that length");
    } else {
        if (rows == cols && rows > 1)
            reader.fail("the data " + data->shown +
                        " is square: cannot tell channels from samples (add a labels variable)");
        channels_in_rows = rows < cols;
    }
    const std::size_t n_channels = channels_in_rows ? rows : cols;
    const std::size_t n_frames = channels_in_rows ? cols : rows;
    if (n_channels == 0 || n_frames == 0)
        reader.fail("the data " + data->shown + " is empty");

    // Rates.
    std::vector<double> rates;
    if (rate_var) {
        if (options.sample_rate_hz)
            reader.fail("--fs cannot override the rate in the file (variable '" + rate_var->name +
                        "')");
        rates = reader.numbers(*rate_var, 1 << 20);
        if (rates.size() == 1)
            rates.assign(n_channels, rates[0]);
        if (rates.size() != n_channels)
            reader.fail("rate variable " + rate_var->shown + " has " +
                        std::to_string(rates.size()) + " values for " + std::to_string(n_channels) +
                        " channels (one, or one per channel)");
        for (const double r : rates)
            if (!(r > 0.0 && r <= kMaxSampleRateHz))
                reader.fail("rate variable '" + rate_var->name + "' holds " + text(r) +
                            " Hz, not in (0, 1 MHz]");
    } else if (options.sample_rate_hz) {
        if (!(*options.sample_rate_hz > 0.0 && *options.sample_rate_hz <= kMaxSampleRateHz))
            reader.fail("--fs must be in (0, 1 MHz]");
        rates.assign(n_channels, *options.sample_rate_hz);
    } else {
        reader.fail(
            "no sample-rate variable (fs, Fs, srate, sampling_rate, SampleRate): give --fs; variables: " +
            listing);
    }

    // Units.
    std::vector<std::string> units;
    if (unit_var) {
        units = reader.strings(*unit_var);
        if (units.size() == 1)
            units.assign(n_channels, units[0]);
        if (units.size() != n_channels)
            reader.fail("units variable " + unit_var->shown + " has " +
                        std::to_string(units.size()) + " units for " + std::to_string(n_channels) +
                        " channels (one, or one per channel)");
    }

    // Which channels are kept.
    std::vector<std::string> label_of(n_channels);
    for (std::size_t c = 0; c < n_channels; ++c)
        label_of[c] =
            !labels.empty() && !labels[c].empty() ? labels[c] : "ch" + std::to_string(c + 1);
    auto skip = [&](std::size_t c, const std::string& reason) {
        info_.notices.push_back("skipping signal '" + label_of[c] + "': " + reason);
        info_.skipped.push_back({label_of[c], rates[c], reason});
    };
    const bool any_emg = std::any_of(label_of.begin(), label_of.end(), [](const std::string& l) {
        return lower(l).find("emg") != std::string::npos;
    });
    std::vector<std::size_t> candidates;
    std::string not_emg; // one notice for them all: a Delsys sensor has six ACC/GYRO signals
    std::size_t not_emg_count = 0;
    for (std::size_t c = 0; c < n_channels; ++c) {
        if (any_emg && lower(label_of[c]).find("emg") == std::string::npos) {
            info_.skipped.push_back(
                {label_of[c], rates[c], "not an EMG channel (no 'EMG' in its label)"});
            not_emg += (not_emg.empty() ? "'" : ", '") + label_of[c] + "'";
            ++not_emg_count;
            continue;
        }
        if (!units.empty() && !microvolts_per(units[c])) {
            skip(c, "unit '" + units[c] + "' is not a voltage");
            continue;
        }
        candidates.push_back(c);
    }
    if (not_emg_count > 0)
        info_.notices.push_back("skipping " + std::to_string(not_emg_count) +
                                " signals that are not EMG (no 'EMG' in their label): " + not_emg);
    if (candidates.empty())
        reader.fail("no channel left to analyse");
    // The rate group with the most channels (ties: the faster).
    auto same = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(a, b); };
    double rate_hz = 0.0;
    std::size_t best = 0;
    for (const auto c : candidates) {
        const auto n = static_cast<std::size_t>(
            std::count_if(candidates.begin(), candidates.end(),
                          [&](std::size_t d) { return same(rates[d], rates[c]); }));
        if (n > best || (n == best && rates[c] > rate_hz)) {
            best = n;
            rate_hz = rates[c];
        }
    }
    std::vector<std::size_t> kept;
    for (const auto c : candidates) {
        if (same(rates[c], rate_hz))
            kept.push_back(c);
        else
            skip(c, "sampled at " + text(rates[c], 7) + " Hz, the " + std::to_string(best) + " " +
                        (any_emg ? "EMG " : "") + "channels kept at " + text(rate_hz, 7) + " Hz");
    }
    info_.sample_rate_hz = rate_hz;

    // The samples, and where the recording really ends.
    const auto values = reader.numbers(*data, max_data_bytes);
    auto at = [&](std::size_t c, std::size_t f) {
        return values[channels_in_rows ? f * rows + c : c * rows + f];
    };
    std::size_t frames = n_frames;
    if (delsys) {
        std::size_t end = 0; // one past the last real sample of any kept channel
        for (const auto c : kept)
            for (std::size_t f = n_frames; f > end; --f)
                if (at(c, f - 1) != 0.0 && !std::isnan(at(c, f - 1))) {
                    end = f;
                    break;
                }
        if (time_var && time_var->dims == data->dims) {
            const auto time = reader.numbers(*time_var, max_data_bytes);
            auto t = [&](std::size_t c, std::size_t f) {
                return time[channels_in_rows ? f * rows + c : c * rows + f];
            };
            const std::size_t c0 = kept.front();
            std::size_t increasing = 1;
            while (increasing < n_frames && t(c0, increasing) > t(c0, increasing - 1))
                ++increasing;
            end = std::min(end, increasing);
            if (n_frames >= 2) {
                const double step_s = t(c0, 1) - t(c0, 0);
                if (!(std::abs(step_s * rate_hz - 1.0) <= 1e-3))
                    info_.warnings.push_back("variable 'Time' steps by " + text(step_s, 6) +
                                             " s for '" + label_of[c0] + "', Fs says " +
                                             text(1.0 / rate_hz, 6) + " s: Fs is used");
            }
        }
        frames = end;
        if (frames < n_frames)
            info_.notices.push_back(
                "Delsys export: every row is padded with zeros to " + std::to_string(n_frames) +
                " samples; cut after the kept channels' last sample: " + std::to_string(frames) +
                " samples (" + text(static_cast<double>(frames) / rate_hz, 5) + " s) read");
        if (frames == 0)
            reader.fail("the kept channels hold nothing but zeros");
    }
    info_.total_frames = frames;

    samples_uv_.resize(kept.size());
    for (std::size_t k = 0; k < kept.size(); ++k) {
        const std::size_t c = kept[k];
        double to_uv = 1.0;
        if (!units.empty()) {
            to_uv = *microvolts_per(units[c]);
        } else if (delsys) {
            to_uv = 1e6;
        } else {
            // The CSV reader's rule: an RMS about the mean below any amplifier's noise in µV is
            // volts.
            double sum = 0.0, sum2 = 0.0;
            const double first = at(c, 0);
            for (std::size_t f = 0; f < frames; ++f) {
                const double d = at(c, f) - first;
                sum += d;
                sum2 += d * d;
            }
            const double n = static_cast<double>(frames);
            const double rms = std::sqrt(std::max(0.0, sum2 / n - (sum / n) * (sum / n)));
            if (rms > 0.0 && rms < CsvSource::volts_below_rms) {
                to_uv = 1e6;
                info_.notices.push_back(
                    "channel '" + label_of[c] + "' has no unit and an RMS of " + text(rms, 2) +
                    " about its mean, far below any amplifier's noise in uV: read as volts "
                    "(add a units variable to say so)");
            } else {
                info_.notices.push_back("channel '" + label_of[c] + "' has no unit: taken as uV");
            }
        }
        auto& x = samples_uv_[k];
        x.resize(frames);
        for (std::size_t f = 0; f < frames; ++f) {
            const double uv = at(c, f) * to_uv;
            if (!(std::abs(uv) <= std::numeric_limits<float>::max()))
                reader.fail("variable '" + data->name + "', channel '" + label_of[c] +
                            "', sample " + std::to_string(f + 1) + ": " + text(at(c, f)) +
                            " is not a finite sample");
            x[f] = static_cast<float>(uv);
        }
        info_.channels.push_back({label_of[c], std::nullopt, std::nullopt, std::nullopt});
    }
    if (delsys)
        info_.notices.push_back("Delsys export (Data, Fs, Channels): channels x samples in volts");
    else
        info_.notices.push_back(
            "data: variable '" + data->name + "' (" +
            (channels_in_rows ? "channels x samples" : "samples x channels") + ")" +
            (rate_var ? ", rate: variable '" + rate_var->name + "'" : ", rate: --fs") +
            (label_var ? ", labels: variable '" + label_var->name + "'" : ""));
}

std::size_t MatSource::read(dsp::BlockRef out) {
    const std::size_t total = samples_uv_.empty() ? 0 : samples_uv_[0].size();
    const std::size_t n = std::min(out.frames, total - position_);
    for (std::size_t c = 0; c < samples_uv_.size(); ++c)
        std::copy_n(samples_uv_[c].begin() + static_cast<std::ptrdiff_t>(position_), n,
                    out.channel(c));
    position_ += n;
    return n;
}

} // namespace semg::acquisition
