#pragma once
// The HDF5 superblock of a file, checked before the HDF5 library opens it (OpenSignals .h5 and
// MATLAB v7.3 .mat files).
//
// Debian's libhdf5 1.10 allocates what a superblock's driver information block claims before it
// compares the file's stated end with its real size (a 1 kB file found by fuzz_mat cost it
// 2.3 GB). This check reads the superblock (format versions 0 to 3) at the offsets HDF5 looks at
// (0, 512, 1024, ...) and refuses a file that states an end beyond its real size, or has a driver
// information block: that block is written only by HDF5's multi-file drivers, which nothing semg
// reads uses.
#include <filesystem>

namespace semg::acquisition {

// Throws SourceError naming the file and the field. A file without an HDF5 signature is left to
// the library, which says so.
void check_hdf5_superblock(const std::filesystem::path& path);

} // namespace semg::acquisition
