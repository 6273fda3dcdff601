// One lock for the HDF5 C library and matio (which reads v7.3 .mat files through HDF5): Debian's
// libhdf5 is built without thread safety, so every call into it, from any reader, holds this
// lock (`semg analyze --jobs` reads recordings on several threads).
#pragma once

#include <mutex>

namespace semg::acquisition {

inline std::mutex& hdf5_mutex() {
    static std::mutex m;
    return m;
}

} // namespace semg::acquisition
