// libFuzzer harness: the WFDB reader. An input is a header's text, a NUL byte, then the bytes of
// its signal file. The header parser and every format's decoder run on the bytes directly; when
// every signal names the file r.dat, the whole WfdbSource runs on r.hea and r.dat in a private
// temporary folder.
// Documented failure: SourceError (a std::runtime_error) naming the file and line.
#include "acquisition/wfdb_source.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string_view>

namespace {

std::filesystem::path folder() {
    static const std::filesystem::path dir = [] {
        const char* shm = "/dev/shm";
        std::string templ =
            (std::filesystem::is_directory(shm) ? std::string(shm)
                                                : std::filesystem::temp_directory_path().string()) +
            "/fuzz-wfdb-XXXXXX";
        if (!::mkdtemp(templ.data()))
            std::abort();
        return std::filesystem::path(templ);
    }();
    return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace semg::acquisition;
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    const auto nul = all.find('\0');
    const std::string_view header = all.substr(0, nul);
    const std::string_view dat =
        nul == std::string_view::npos ? std::string_view{} : all.substr(nul + 1);

    for (const int format : {16, 61, 80, 212, 24, 32}) {
        const auto packing = *wfdb_packing(format);
        const std::size_t count = dat.size() / packing.bytes * packing.samples;
        std::vector<std::int32_t> out(count);
        decode_wfdb_samples(format, reinterpret_cast<const unsigned char*>(dat.data()), count,
                            out.data());
        const int bits = format == 212  ? 12
                         : format == 80 ? 8
                         : format == 24 ? 24
                         : format == 32 ? 32
                                        : 16;
        for (const auto v : out)
            if (bits < 32)
                FUZZ_CHECK(v >= -(1 << (bits - 1)) && v < (1 << (bits - 1)));
    }

    bool local = false;
    try {
        const WfdbHeader h = parse_wfdb_header(header, "fuzz.hea");
        FUZZ_CHECK(!h.signals.empty() && h.sample_rate_hz > 0.0);
        local = true;
        for (const auto& s : h.signals)
            local = local && s.file_name == "r.dat";
    } catch (const std::runtime_error&) {
    }
    if (!local)
        return 0;
    const auto dir = folder();
    std::ofstream(dir / "r.hea", std::ios::binary | std::ios::trunc)
        .write(header.data(), static_cast<std::streamsize>(header.size()));
    std::ofstream(dir / "r.dat", std::ios::binary | std::ios::trunc)
        .write(dat.data(), static_cast<std::streamsize>(dat.size()));
    try {
        WfdbSource source(dir / "r.hea");
        const std::uint64_t frames = semg::fuzz::read_all(source);
        // The constructor measured the files: every announced frame is read.
        FUZZ_CHECK(frames == *source.info().total_frames);
    } catch (const std::runtime_error&) {
    }
    return 0;
}
