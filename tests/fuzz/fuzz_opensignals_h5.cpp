// libFuzzer harness: OpenSignalsH5Source (PLUX OpenSignals .h5 through Debian's libhdf5) on
// arbitrary file contents, after check_hdf5_superblock. How run.sh treats libhdf5's own
// allocations and leaks: docs/testing.md, "Fuzz harnesses".
// Documented failure: SourceError (a std::runtime_error) naming the file and the HDF5 object.
#include "acquisition/opensignals_source.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static semg::fuzz::MemFile file("fuzz.h5");
    file.assign(data, size);
    try {
        semg::acquisition::OpenSignalsH5Source source(file.path());
        const std::uint64_t frames = semg::fuzz::read_all(source);
        FUZZ_CHECK(frames == *source.info().total_frames);
    } catch (const std::runtime_error&) {
    }
    return 0;
}
