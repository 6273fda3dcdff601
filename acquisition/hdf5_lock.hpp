// One lock for the HDF5 C library and matio (which reads v7.3 .mat files through HDF5): Debian's
// libhdf5 is built without thread safety, so every call into it, from any reader, holds this
// lock (`semg analyze --jobs` reads recordings on several threads).
#pragma once

#include <mutex>

namespace semg::acquisition {

// The first call also tells libhdf5 not to close itself at exit (hdf5_lock.cpp says why).
std::mutex& hdf5_mutex();

} // namespace semg::acquisition
