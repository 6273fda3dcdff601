#include "acquisition/edf.hpp"

#include <edflib.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>

namespace semg::acquisition {
namespace {

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

// µV per physical unit, or nullopt when the dimension is not a voltage.
std::optional<double> microvolts_per(const std::string& dimension) {
    static const std::map<std::string, double> factors{
        {"uV", 1.0},   {"µV", 1.0}, {"UV", 1.0},  {"microV", 1.0}, {"mV", 1e3},
        {"MV", 1e3},   {"V", 1e6},  {"v", 1e6},   {"nV", 1e-3}};
    auto it = factors.find(dimension);
    if (it == factors.end()) return std::nullopt;
    return it->second;
}

} // namespace

EdfSource::EdfSource(const std::filesystem::path& path) : path_(path) {
    edf_hdr_struct hdr{};
    if (edfopen_file_readonly(path.c_str(), &hdr, EDFLIB_READ_ALL_ANNOTATIONS) != 0)
        throw SourceError(path.string() + ": " + open_error(hdr.filetype));
    const bool bdf = hdr.filetype == EDFLIB_FILETYPE_BDF || hdr.filetype == EDFLIB_FILETYPE_BDFPLUS;
    const bool plus =
        hdr.filetype == EDFLIB_FILETYPE_EDFPLUS || hdr.filetype == EDFLIB_FILETYPE_BDFPLUS;
    info_.format = std::string(bdf ? "bdf" : "edf") + (plus ? "+" : "");
    bytes_per_sample_ = bdf ? 3 : 2;
    records_ = static_cast<std::uint64_t>(hdr.datarecords_in_file);
    for (long long a = 0; a < hdr.annotations_in_file; ++a) {
        edf_annotation_struct an{};
        if (edf_get_annotation(hdr.handle, static_cast<int>(a), &an) != 0) continue;
        Annotation note;
        note.onset_s = static_cast<double>(an.onset) / EDFLIB_TIME_DIMENSION;
        if (an.duration_l >= 0)
            note.duration_s = static_cast<double>(an.duration_l) / EDFLIB_TIME_DIMENSION;
        note.text = an.annotation;
        info_.annotations.push_back(std::move(note));
    }
    edfclose_file(hdr.handle);

    // The data layout needs every signal, annotation signals included, which EDFlib hides:
    // read the count and the samples per record from the header EDFlib has just validated.
    file_.reset(std::fopen(path.c_str(), "rb"));
    if (!file_) throw SourceError(path.string() + ": cannot open");
    auto header_field = [&](long offset, std::size_t width) {
        std::string text(width, ' ');
        if (std::fseek(file_.get(), offset, SEEK_SET) != 0 || std::fread(text.data(), 1, width, file_.get()) != width)
            throw SourceError(path.string() + ": cannot read the header");
        return trim(text);
    };
    const std::size_t all_signals = std::stoul(header_field(252, 4));
    header_bytes_ = 256 * (all_signals + 1);
    std::vector<std::size_t> start(all_signals + 1, 0); // byte offset of each signal in a record
    std::vector<bool> annotation(all_signals);
    for (std::size_t i = 0; i < all_signals; ++i) {
        const auto label = header_field(static_cast<long>(256 + 16 * i), 16);
        annotation[i] = label == "EDF Annotations" || label == "BDF Annotations";
        const auto samples = std::stoul(header_field(static_cast<long>(256 + 216 * all_signals + 8 * i), 8));
        start[i + 1] = start[i] + samples * bytes_per_sample_;
    }
    record_bytes_ = start[all_signals];

    const double record_s = static_cast<double>(hdr.datarecord_duration) / EDFLIB_TIME_DIMENSION;
    auto rate_of = [&](int s) { return hdr.signalparam[s].smp_in_datarecord / record_s; };
    // EMG is the fastest voltage signal; slower signals (accelerometers, ...) are skipped.
    double emg_rate = 0.0;
    for (int s = 0; s < hdr.edfsignals; ++s)
        if (microvolts_per(trim(hdr.signalparam[s].physdimension)) || !*hdr.signalparam[s].physdimension)
            emg_rate = std::max(emg_rate, rate_of(s));
    std::size_t file_signal = 0;
    for (int s = 0; s < hdr.edfsignals; ++s, ++file_signal) {
        while (annotation[file_signal]) ++file_signal; // EDFlib's signal s, in the file's order
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
            skip("sampled at " + std::to_string(rate_of(s)) + " Hz, the EMG signals at " +
                 std::to_string(emg_rate) + " Hz");
            continue;
        }
        if (dim.empty()) info_.notices.push_back("signal '" + label + "' has no unit: taken as uV");
        const double f = factor.value_or(1.0);
        const double step = (p.phys_max - p.phys_min) / (p.dig_max - p.dig_min);
        ChannelInfo ch;
        ch.label = label;
        ch.physical_min_uv = p.phys_min * f;
        ch.physical_max_uv = p.phys_max * f;
        if (p.dig_max > p.dig_min) ch.resolution_uv = step * f;
        info_.channels.push_back(ch);
        layout_.push_back({start[file_signal], step * f, (p.phys_min - p.dig_min * step) * f});
        samples_per_record_ = static_cast<std::size_t>(p.smp_in_datarecord);
        info_.total_frames = static_cast<std::uint64_t>(p.smp_in_file);
    }
    info_.sample_rate_hz = emg_rate;
    record_.resize(record_bytes_);
    if (std::fseek(file_.get(), static_cast<long>(header_bytes_), SEEK_SET) != 0)
        throw SourceError(path.string() + ": cannot seek to the data records");
}

EdfSource::~EdfSource() = default;

bool EdfSource::load_record() {
    if (next_record_ >= records_) return false;
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
        if (in_record_ == record_frames_ && !load_record()) break;
        const std::size_t n = std::min(out.frames - done, record_frames_ - in_record_);
        for (std::size_t c = 0; c < layout_.size(); ++c) {
            const unsigned char* src = record_.data() + layout_[c].offset_bytes + in_record_ * bytes_per_sample_;
            float* dst = out.channel(c) + done;
            const double scale = layout_[c].scale_uv, offset = layout_[c].offset_uv;
            if (bytes_per_sample_ == 3) {
                for (std::size_t i = 0; i < n; ++i, src += 3) {
                    const std::int32_t v = static_cast<std::int32_t>(static_cast<std::uint32_t>(src[0]) |
                                                                     static_cast<std::uint32_t>(src[1]) << 8 |
                                                                     static_cast<std::uint32_t>(src[2]) << 16)
                                               << 8 >> 8; // sign-extend 24 bits
                    dst[i] = static_cast<float>(v * scale + offset);
                }
            } else {
                for (std::size_t i = 0; i < n; ++i, src += 2) {
                    const auto v = static_cast<std::int16_t>(static_cast<std::uint16_t>(src[0] | src[1] << 8));
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
    const int type = c.format == EdfFormat::BdfPlus ? EDFLIB_FILETYPE_BDFPLUS : EDFLIB_FILETYPE_EDFPLUS;
    const int handle = edfopen_file_writeonly(path.c_str(), type, n);
    if (handle < 0) throw SourceError(path.string() + ": cannot create (" + open_error(handle) + ")");
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
    record_.assign(static_cast<std::size_t>(n) * static_cast<std::size_t>(config_.sample_rate_hz), 0);
    if (config_.durable) {
        try {
            write_header_now();
        } catch (...) {
            edfclose_file(handle_);
            handle_ = -1;
            if (header_fd_ >= 0) ::close(header_fd_);
            throw;
        }
    }
}

// EDFlib writes the header only with the first data record. For a file that is readable from
// the start, EDFlib makes the same header (same settings and start time) in a scratch file with
// one record of zeros; its header goes into our file now with a record count of 0, and EDFlib
// later writes the same bytes over it (count -1, which the first record's count replaces).
void EdfWriter::write_header_now() {
    auto scratch = std::filesystem::temp_directory_path() / "semg-edf-header-XXXXXX";
    std::string name = scratch.string();
    const int scratch_fd = ::mkstemp(name.data());
    if (scratch_fd < 0) throw SourceError(path_.string() + ": cannot make the scratch header file");
    ::close(scratch_fd);
    scratch = name;
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
        if (!ok || !f || header.size() <= 256) throw SourceError(path_.string() + ": cannot make the header");
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(scratch, ignored);
        throw;
    }
    std::error_code ec;
    std::filesystem::remove(scratch, ec);
    header.replace(236, 8, "0       ");
    header_fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (header_fd_ < 0 ||
        ::pwrite(header_fd_, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
        throw SourceError(path_.string() + ": cannot write the header (" + std::strerror(errno) + ")");
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
    if (handle_ >= 0) edfclose_file(handle_);
    if (header_fd_ >= 0) ::close(header_fd_);
}

void EdfWriter::write(dsp::ConstBlockRef block) {
    const auto per_record = static_cast<std::size_t>(config_.sample_rate_hz);
    const double scale = (digital_max_ - digital_min_) / (config_.physical_max_uv - config_.physical_min_uv);
    std::size_t done = 0;
    while (done < block.frames) {
        const std::size_t take = std::min(block.frames - done, per_record - record_fill_);
        for (std::size_t c = 0; c < block.channels; ++c) {
            const float* src = block.channel(c) + done;
            int* dst = record_.data() + c * per_record + record_fill_;
            for (std::size_t i = 0; i < take; ++i) {
                const double d = std::round((src[i] - config_.physical_min_uv) * scale) + digital_min_;
                dst[i] = static_cast<int>(std::clamp<double>(d, digital_min_, digital_max_));
            }
        }
        record_fill_ += take;
        done += take;
        if (record_fill_ == per_record) flush_record();
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
    if (header_fd_ >= 0) write_record_count();
}

void EdfWriter::annotate(const Annotation& annotation) {
    const auto onset = static_cast<long long>(std::llround(annotation.onset_s * 1e4));
    const long long duration =
        annotation.duration_s < 0 ? -1 : static_cast<long long>(std::llround(annotation.duration_s * 1e4));
    if (edfwrite_annotation_utf8(handle_, onset, duration, annotation.text.c_str()) != 0)
        throw SourceError(path_.string() + ": cannot write annotation '" + annotation.text + "'");
}

void EdfWriter::close() {
    if (handle_ < 0) return;
    if (record_fill_ > 0) {
        const double end_s = static_cast<double>(frames_written_) / config_.sample_rate_hz;
        annotate({end_s, -1.0, "Recording ends"});
        const auto per_record = static_cast<std::size_t>(config_.sample_rate_hz);
        // Pad with the digital value of 0 µV.
        const double scale = (digital_max_ - digital_min_) / (config_.physical_max_uv - config_.physical_min_uv);
        const int zero = static_cast<int>(std::round(-config_.physical_min_uv * scale)) + digital_min_;
        for (std::size_t c = 0; c < config_.labels.size(); ++c)
            std::fill(record_.begin() + static_cast<long>(c * per_record + record_fill_),
                      record_.begin() + static_cast<long>((c + 1) * per_record), zero);
        flush_record();
    }
    const int rc = edfclose_file(handle_);
    handle_ = -1;
    if (header_fd_ >= 0) {
        ::close(header_fd_);
        header_fd_ = -1;
    }
    if (rc != 0) throw SourceError(path_.string() + ": closing failed");
}

} // namespace semg::acquisition
