// libFuzzer harness: OpenBciSource (OpenBCI GUI v3/v4 and v5/v6 text exports) on arbitrary file
// contents. Documented failure: SourceError (a std::runtime_error) naming the line.
#include "acquisition/openbci_source.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static semg::fuzz::MemFile file("fuzz-openbci.txt");
    file.assign(data, size);
    try {
        semg::acquisition::OpenBciSource source(file.path());
        const std::uint64_t frames = semg::fuzz::read_all(source);
        // The constructor checked every row: read() hands out exactly the rows it counted.
        FUZZ_CHECK(source.info().total_frames && frames == *source.info().total_frames);
        FUZZ_CHECK(!source.info().channels.empty());
    } catch (const std::runtime_error&) {
    }
    return 0;
}
