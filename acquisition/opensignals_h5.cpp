#include "acquisition/opensignals_source.hpp"

#include "acquisition/hdf5_lock.hpp"
#include "acquisition/hdf5_superblock.hpp"
#include "acquisition/sequence_gaps.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

namespace semg::acquisition {
namespace {

// HDF5's own error stack printing is off while a reader works: its faults become SourceErrors
// with the file and object named. Per thread (Debian's libhdf5 is built thread-safe).
class QuietHdf5 {
public:
    QuietHdf5() {
        H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }
    ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
    QuietHdf5(const QuietHdf5&) = delete;
    QuietHdf5& operator=(const QuietHdf5&) = delete;

private:
    H5E_auto2_t func_ = nullptr;
    void* data_ = nullptr;
};

// An open HDF5 object, closed with its own close function.
class Handle {
public:
    Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
    ~Handle() {
        if (id_ >= 0)
            close_(id_);
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    hid_t get() const noexcept { return id_; }
    explicit operator bool() const noexcept { return id_ >= 0; }
    hid_t release() noexcept { return std::exchange(id_, -1); }

private:
    hid_t id_;
    herr_t (*close_)(hid_t);
};

std::optional<std::string> string_attribute(hid_t object, const char* name) {
    if (H5Aexists(object, name) <= 0)
        return std::nullopt;
    Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
    if (!attr)
        return std::nullopt;
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    if (!type || H5Tget_class(type.get()) != H5T_STRING)
        return std::nullopt;
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    if (H5Sget_simple_extent_npoints(space.get()) != 1)
        return std::nullopt;
    if (H5Tis_variable_str(type.get()) > 0) {
        Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(memory.get(), H5T_VARIABLE);
        H5Tset_cset(memory.get(), H5Tget_cset(type.get()));
        char* text = nullptr;
        if (H5Aread(attr.get(), memory.get(), &text) < 0 || text == nullptr)
            return std::nullopt;
        std::string out(text);
        H5free_memory(text);
        return out;
    }
    const std::size_t size = H5Tget_size(type.get());
    if (size == 0 || size > (1u << 20))
        return std::nullopt;
    std::string out(size, '\0');
    Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory.get(), size);
    if (H5Aread(attr.get(), memory.get(), out.data()) < 0)
        return std::nullopt;
    out.resize(std::strlen(out.c_str()));
    return out;
}

// An integer or float attribute with 1 to 1024 values, as doubles.
std::optional<std::vector<double>> number_attribute(hid_t object, const char* name) {
    if (H5Aexists(object, name) <= 0)
        return std::nullopt;
    Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
    if (!attr)
        return std::nullopt;
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    const auto cls = H5Tget_class(type.get());
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        return std::nullopt;
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (n < 1 || n > 1024)
        return std::nullopt;
    std::vector<double> out(static_cast<std::size_t>(n));
    if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, out.data()) < 0)
        return std::nullopt;
    return out;
}

std::vector<std::string> link_names(hid_t group) {
    std::vector<std::string> names;
    H5G_info_t info{};
    if (H5Gget_info(group, &info) < 0)
        return names;
    for (hsize_t i = 0; i < info.nlinks && i < 100000; ++i) {
        const ssize_t size =
            H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (size <= 0)
            continue;
        std::string name(static_cast<std::size_t>(size) + 1, '\0');
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                           H5P_DEFAULT);
        name.resize(static_cast<std::size_t>(size));
        names.push_back(name);
    }
    return names;
}

bool is(hid_t location, const std::string& name, H5O_type_t type) {
    if (H5Lexists(location, name.c_str(), H5P_DEFAULT) <= 0)
        return false;
    H5O_info_t info{};
    if (H5Oget_info_by_name(location, name.c_str(), &info, H5P_DEFAULT) < 0)
        return false;
    return info.type == type;
}

// Rows of an N x 1 (or N) dataset; nullopt for another shape.
std::optional<hsize_t> column_length(hid_t dataset) {
    Handle space(H5Dget_space(dataset), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 1 || rank > 2)
        return std::nullopt;
    hsize_t dims[2] = {0, 1};
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    if (rank == 2 && dims[1] != 1)
        return std::nullopt;
    return dims[0];
}

// Rows [first, first + n) of an N x 1 (or N) dataset as doubles.
bool read_rows(hid_t dataset, hsize_t first, hsize_t n, double* out) {
    Handle space(H5Dget_space(dataset), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    const hsize_t start[2] = {first, 0}, count[2] = {n, 1};
    if (H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0)
        return false;
    Handle memory(H5Screate_simple(rank, count, nullptr), H5Sclose);
    return H5Dread(dataset, H5T_NATIVE_DOUBLE, memory.get(), space.get(), H5P_DEFAULT, out) >= 0;
}

} // namespace

bool OpenSignalsH5Source::recognises(std::string_view head) {
    return head.starts_with(std::string_view("\x89HDF\r\n\x1a\n", 8));
}

OpenSignalsH5Source::OpenSignalsH5Source(const std::filesystem::path& path) : path_(path) {
    const std::lock_guard lock(hdf5_mutex()); // every HDF5 call: acquisition/hdf5_lock.hpp
    info_.format = "opensignals-h5";
    const QuietHdf5 quiet;
    const std::string name = path.string();
    const auto error = [&](const std::string& what) { return SourceError(name + ": " + what); };
    check_hdf5_superblock(path);
    Handle file(H5Fopen(name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file)
        throw error("not a readable HDF5 file");

    std::optional<double> rate_hz;
    std::optional<hsize_t> frames;
    std::string skipped;
    GapWarnings gaps;
    std::map<std::string, int> label_uses;
    try {
        for (const std::string& mac : link_names(file.get())) {
            if (!is(file.get(), mac, H5O_TYPE_GROUP) ||
                !is(file.get(), mac + "/raw", H5O_TYPE_GROUP))
                continue;
            Handle device(H5Gopen2(file.get(), mac.c_str(), H5P_DEFAULT), H5Gclose);
            const std::string where = "device group '/" + mac + "'";
            const auto rate = number_attribute(device.get(), "sampling rate");
            if (!rate || rate->size() != 1 || !((*rate)[0] > 0.0) || (*rate)[0] > 1e6)
                throw error(
                    where +
                    ": attribute 'sampling rate' is missing or not a rate in Hz (0 to 1 MHz)");
            const auto resolution = number_attribute(device.get(), "resolution");
            if (!resolution)
                throw error(where + ": no attribute 'resolution' (ADC bits)");
            const auto numbers = number_attribute(device.get(), "channels");
            const std::string device_name = string_attribute(device.get(), "device").value_or("");
            const auto date = string_attribute(device.get(), "date");
            const auto time = string_attribute(device.get(), "time");
            if (!info_.start_time && date && time)
                info_.start_time = plux_start_time(*date, *time);
            const PluxEmgTransfer transfer = plux_emg_transfer(device_name);

            Handle raw(H5Gopen2(device.get(), "raw", H5P_DEFAULT), H5Gclose);
            std::vector<std::pair<long, std::string>> datasets;
            for (const std::string& link : link_names(raw.get())) {
                if (!link.starts_with("channel_") || !is(raw.get(), link, H5O_TYPE_DATASET))
                    continue;
                char* end = nullptr;
                const long n = std::strtol(link.c_str() + 8, &end, 10);
                if (*end == '\0' && end != link.c_str() + 8)
                    datasets.emplace_back(n, link);
            }
            std::sort(datasets.begin(), datasets.end());
            for (const auto& [number, link] : datasets) {
                const std::string dataset = "/" + mac + "/raw/" + link;
                Handle d(H5Dopen2(raw.get(), link.c_str(), H5P_DEFAULT), H5Dclose);
                if (!d)
                    throw error(dataset + ": cannot be opened");
                std::string label =
                    string_attribute(d.get(), "label").value_or("CH" + std::to_string(number));
                if (label_uses[label]++ > 0)
                    label += " " + mac;
                const std::string sensor = string_attribute(d.get(), "sensor").value_or("");
                const auto skip = [&](const std::string& reason) {
                    skipped += (skipped.empty() ? "" : ", ") + label + " (" + reason + ")";
                    info_.skipped.push_back({label, (*rate)[0], reason});
                };
                if (!plux_is_emg(sensor)) {
                    skip(sensor.empty() ? "no sensor attribute"
                                        : "sensor '" + sensor + "', not EMG");
                    continue;
                }
                if (rate_hz && *rate_hz != (*rate)[0]) {
                    skip("EMG at another rate than the first device's");
                    continue;
                }
                // One resolution for the device, or one per entry of its 'channels' list.
                double bits = (*resolution)[0];
                if (resolution->size() > 1) {
                    std::optional<std::size_t> at;
                    if (numbers && numbers->size() == resolution->size())
                        for (std::size_t i = 0; i < numbers->size(); ++i)
                            if ((*numbers)[i] == static_cast<double>(number))
                                at = i;
                    if (!at)
                        throw error(where + ": attribute 'resolution' has " +
                                    std::to_string(resolution->size()) +
                                    " entries and 'channels' does not say which is channel " +
                                    std::to_string(number));
                    bits = (*resolution)[*at];
                }
                if (bits != std::floor(bits) || bits < 1 || bits > 32)
                    throw error(where + ": resolution " + std::to_string(bits) +
                                " is not a bit count from 1 to 32");
                const auto length = column_length(d.get());
                if (!length)
                    throw error(dataset + ": not an N x 1 column of samples");
                Handle type(H5Dget_type(d.get()), H5Tclose);
                if (H5Tget_class(type.get()) != H5T_INTEGER)
                    throw error(dataset + ": not integer ADC counts");
                if (frames && *frames != *length) {
                    info_.warnings.push_back(dataset + " has " + std::to_string(*length) +
                                             " samples, the first EMG channel " +
                                             std::to_string(*frames) +
                                             ": the shorter length is read");
                    frames = std::min(*frames, *length);
                } else if (!frames)
                    frames = *length;
                if (!transfer.known)
                    info_.warnings.push_back(
                        where + ": device '" + device_name +
                        "' has no known EMG transfer "
                        "function here: the biosignalsplux one is used (VCC 3 V, gain 1000)");
                rate_hz = (*rate)[0];
                Channel c{dataset, d.release(), PluxScale::make(transfer, static_cast<int>(bits))};
                info_.channels.push_back(c.scale.channel(label));
                channels_.push_back(std::move(c));
            }
            // nSeq: lost samples, in chunks so that memory stays flat.
            if (is(raw.get(), "nSeq", H5O_TYPE_DATASET) && rate_hz && *rate_hz == (*rate)[0]) {
                Handle seq(H5Dopen2(raw.get(), "nSeq", H5P_DEFAULT), H5Dclose);
                const auto length = column_length(seq.get());
                if (!length)
                    throw error("/" + mac + "/raw/nSeq: not an N x 1 column");
                // OpenSignals stores nSeq as uint16 and lets it stay at 65535 once the count passes
                // it: a repeat of the type's largest value ends the check.
                Handle seq_type(H5Dget_type(seq.get()), H5Tclose);
                const std::size_t bytes = H5Tget_size(seq_type.get());
                const double type_max = bytes >= 1 && bytes <= 6
                                            ? std::ldexp(1.0, 8 * static_cast<int>(bytes)) - 1.0
                                            : -1.0;
                SequenceGaps sequence;
                std::vector<double> chunk(65536);
                bool saturated = false;
                for (hsize_t at = 0; at < *length && !saturated; at += chunk.size()) {
                    const hsize_t n = std::min<hsize_t>(chunk.size(), *length - at);
                    if (!read_rows(seq.get(), at, n, chunk.data()))
                        throw error("/" + mac + "/raw/nSeq: read error");
                    for (hsize_t i = 0; i < n; ++i) {
                        const double v = chunk[i];
                        if (!(v >= 0.0) || v != std::floor(v) || v > 1e15)
                            throw error("/" + mac + "/raw/nSeq[" + std::to_string(at + i) +
                                        "]: not a whole number >= 0");
                        const std::uint64_t previous = sequence.previous();
                        if (at + i > 0 && v == type_max &&
                            static_cast<double>(previous) == type_max) {
                            info_.notices.push_back("/" + mac + "/raw/nSeq stays at " +
                                                    std::to_string(static_cast<std::uint64_t>(v)) +
                                                    " (its type's largest value) from sample " +
                                                    std::to_string(at + i - 1) +
                                                    " on: lost samples are checked before it only");
                            saturated = true;
                            break;
                        }
                        if (const auto lost = sequence.step(static_cast<std::uint64_t>(v));
                            lost > 0)
                            gaps.add("/" + mac + "/raw/nSeq[" + std::to_string(at + i) +
                                         "]: " + std::to_string(previous) + " then " +
                                         std::to_string(static_cast<std::uint64_t>(v)) + " (" +
                                         std::to_string(lost) + " samples lost; it wraps after " +
                                         std::to_string(sequence.highest()) + ")",
                                     lost);
                    }
                }
            }
        }
    } catch (...) {
        for (auto& c : channels_)
            H5Dclose(c.id);
        throw;
    }
    if (channels_.empty()) {
        throw error(
            skipped.empty()
                ? "not an OpenSignals HDF5 file (no group '/<MAC>/raw' with channel_N datasets)"
                : "no channel with an EMG sensor (" + skipped + ")");
    }
    if (*frames == 0) {
        for (auto& c : channels_)
            H5Dclose(c.id);
        throw error("the EMG channels hold no samples");
    }
    file_ = file.release();
    info_.sample_rate_hz = *rate_hz;
    info_.total_frames = *frames;
    gaps.report(info_.warnings, "nSeq", "the recording is read as continuous");
    std::string note =
        "OpenSignals HDF5: " + std::to_string(channels_.size()) + " EMG channel(s) at " +
        std::to_string(static_cast<long long>(std::llround(*rate_hz))) + " Hz, ADC counts to uV";
    if (!skipped.empty())
        note += "; not read: " + skipped;
    info_.notices.push_back(note);
}

OpenSignalsH5Source::~OpenSignalsH5Source() {
    const std::lock_guard lock(hdf5_mutex());
    for (auto& c : channels_)
        H5Dclose(c.id);
    if (file_ >= 0)
        H5Fclose(file_);
}

std::size_t OpenSignalsH5Source::read(dsp::BlockRef out) {
    const std::uint64_t total = *info_.total_frames;
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(out.frames, total - position_));
    if (n == 0)
        return 0;
    const std::lock_guard lock(hdf5_mutex());
    const QuietHdf5 quiet;
    buffer_.resize(n);
    for (std::size_t k = 0; k < channels_.size(); ++k) {
        const Channel& c = channels_[k];
        if (!read_rows(c.id, position_, n, buffer_.data()))
            throw SourceError(path_.string() + ": " + c.dataset + ": read error at sample " +
                              std::to_string(position_));
        float* dst = out.channel(k);
        for (std::size_t i = 0; i < n; ++i) {
            const double v = buffer_[i];
            if (v < 0.0 || v > c.scale.max_count)
                throw SourceError(path_.string() + ": " + c.dataset + "[" +
                                  std::to_string(position_ + i) + "]: count " +
                                  std::to_string(static_cast<long long>(v)) + " is outside 0.." +
                                  std::to_string(static_cast<long long>(c.scale.max_count)) +
                                  " (the device's 'resolution' attribute)");
            dst[i] = static_cast<float>(v * c.scale.scale_uv + c.scale.offset_uv);
        }
    }
    position_ += n;
    return n;
}

} // namespace semg::acquisition
