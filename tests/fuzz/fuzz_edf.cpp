// libFuzzer harness: EdfSource (EDF/EDF+/BDF/BDF+ through EDFlib) on arbitrary file contents.
// Documented failure: SourceError (a std::runtime_error) for a file it cannot read.
#include "acquisition/edf.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static semg::fuzz::MemFile file("fuzz.bdf");
    file.assign(data, size);
    try {
        semg::acquisition::EdfSource source(file.path());
        const std::uint64_t frames = semg::fuzz::read_all(source);
        // EDFlib has checked the file size against the header: every announced frame is there.
        if (source.info().total_frames)
            FUZZ_CHECK(frames == *source.info().total_frames);
    } catch (const std::runtime_error&) {
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
