// libFuzzer harness: CsvSource (CSV/TSV with a header row) on arbitrary file contents, with the
// sample rate from the time column and with --fs given.
// Documented failure: SourceError (a std::runtime_error) naming the line.
#include "acquisition/csv_source.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static semg::fuzz::MemFile file("fuzz.csv");
    file.assign(data, size);
    for (const auto fs_hz : {std::optional<double>{}, std::optional<double>{1000.0}}) {
        try {
            semg::acquisition::CsvSource source(file.path(), {fs_hz});
            semg::fuzz::read_all(source);
        } catch (const std::runtime_error&) {
        } catch (const std::invalid_argument&) {
        }
    }
    return 0;
}
