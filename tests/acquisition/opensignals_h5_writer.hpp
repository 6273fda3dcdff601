// An OpenSignals .h5 in OpenSignals' layout (/<MAC>/raw/channel_N, nSeq, device attributes),
// written through the HDF5 C API: for the reader's tests and the fuzz seeds.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace semg::test {

inline void set_string(hid_t object, const char* name, const std::string& value) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* text = value.c_str();
    H5Awrite(attr, type, &text);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
}

inline void set_ints(hid_t object, const char* name, const std::vector<int>& values) {
    const hsize_t n = values.size();
    const hid_t space = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
    const hid_t attr = H5Acreate2(object, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, H5T_NATIVE_INT, values.data());
    H5Aclose(attr);
    H5Sclose(space);
}

inline hid_t column(hid_t group, const char* name, hid_t file_type,
                    const std::vector<std::uint32_t>& values) {
    const hsize_t dims[2] = {values.size(), 1};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t d =
        H5Dcreate2(group, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Sclose(space);
    return d;
}

struct H5Spec {
    std::string device = "biosignalsplux";
    std::vector<int> resolution{16};
    bool with_rate = true;
    std::vector<std::uint32_t> emg, ecg, nseq;
};

inline void write_h5(const std::filesystem::path& path, const H5Spec& spec) {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t device =
        H5Gcreate2(file, "00:07:80:0F:30:8C", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (spec.with_rate)
        set_ints(device, "sampling rate", {2000});
    set_ints(device, "resolution", spec.resolution);
    set_ints(device, "channels", {1, 2});
    set_string(device, "device", spec.device);
    const hid_t raw = H5Gcreate2(device, "raw", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d = column(raw, "channel_1", H5T_STD_U16LE, spec.emg);
    set_string(d, "label", "PORT1_CHN1");
    set_string(d, "sensor", "EMG");
    H5Dclose(d);
    d = column(raw, "channel_2", H5T_STD_U16LE, spec.ecg);
    set_string(d, "label", "ECG chest");
    set_string(d, "sensor", "ECG");
    H5Dclose(d);
    H5Dclose(column(raw, "nSeq", H5T_STD_U16LE, spec.nseq));
    H5Gclose(raw);
    H5Gclose(device);
    H5Fclose(file);
}

} // namespace semg::test
