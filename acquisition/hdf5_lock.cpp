#include "acquisition/hdf5_lock.hpp"

#include <hdf5.h>

namespace semg::acquisition {

std::mutex& hdf5_mutex() {
    // libhdf5 closes itself at exit; after a damaged file it could not open (objects it left
    // behind) that prints "HDF5: infinite loop closing library" and a page of its internals to
    // stderr. semg closes every handle it opens and writes no HDF5 file: the step is skipped.
    // (It must come before the library starts; where something else started it, it is a no-op.)
    [[maybe_unused]] static const herr_t no_atexit = H5dont_atexit();
    static std::mutex m;
    return m;
}

} // namespace semg::acquisition
