// libFuzzer harness: MatSource (MATLAB .mat v4/v5/v7.3 through libmatio and HDF5) on arbitrary
// file contents, with and without --fs. The seeds regress_*.mat are inputs that made libmatio
// or libhdf5 allocate gigabytes before the reader checked the layout (acquisition/mat_v5_layout,
// acquisition/hdf5_superblock).
// Documented failure: SourceError (a std::runtime_error) naming the file and the variable.
#include "acquisition/mat_source.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static semg::fuzz::MemFile file("fuzz.mat");
    file.assign(data, size);
    for (const auto fs_hz : {std::optional<double>{}, std::optional<double>{1000.0}}) {
        try {
            semg::acquisition::MatSource source(file.path(), {fs_hz});
            const std::uint64_t frames = semg::fuzz::read_all(source);
            FUZZ_CHECK(frames == *source.info().total_frames);
        } catch (const std::runtime_error&) {
        }
    }
    return 0;
}
