#include "acquisition/hdf5_superblock.hpp"

#include "acquisition/source.hpp"

#include <array>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

namespace semg::acquisition {

void check_hdf5_superblock(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::uint64_t>(in.tellg());
    const auto fail = [&](const std::string& what) {
        return SourceError(path.string() + ": damaged HDF5 file: its superblock " + what);
    };
    // HDF5 looks for the signature at 0 and at every power of two from 512.
    constexpr std::string_view kSignature("\x89HDF\r\n\x1a\n", 8);
    std::array<unsigned char, 96> sb{};
    std::uint64_t at = 0;
    for (;; at = at == 0 ? 512 : 2 * at) {
        if (at + kSignature.size() > size)
            return;
        in.seekg(static_cast<std::streamoff>(at));
        in.read(reinterpret_cast<char*>(sb.data()), sb.size());
        in.clear(); // a superblock near the end of the file is checked below
        if (std::string_view(reinterpret_cast<const char*>(sb.data()), 8) == kSignature)
            break;
    }
    if (at + 16 > size)
        throw fail("is cut short by the end of the file");
    const unsigned version = sb[8];
    if (version > 3)
        throw fail("has version " + std::to_string(version) + " (HDF5 writes 0 to 3)");
    // Versions 0 and 1: sizes at 13-14, addresses after 24 (28 in version 1) bytes; versions 2
    // and 3: sizes at 9-10, addresses after 12 bytes.
    const unsigned offsets = version < 2 ? sb[13] : sb[9];
    const std::size_t first = version == 0 ? 24 : version == 1 ? 28 : 12;
    if (offsets != 2 && offsets != 4 && offsets != 8)
        throw fail("has addresses of " + std::to_string(offsets) + " bytes (2, 4 or 8)");
    if (at + first + 4 * offsets > size) // the four addresses read below
        throw fail("is cut short by the end of the file");
    const auto address = [&](std::size_t i) {
        std::uint64_t a = 0;
        for (std::size_t b = offsets; b-- > 0;)
            a = a << 8 | sb[first + i * offsets + b];
        return a;
    };
    const std::uint64_t undefined =
        offsets == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * offsets)) - 1;
    // Versions 0 and 1: base, free space, end of file, driver information; 2 and 3: base,
    // superblock extension, end of file, root group.
    // The stored end counts the bytes before the base address too (HDF5's own truncation test:
    // the end of the file, relative to the base, plus the base).
    const std::uint64_t base = address(0), end = address(2);
    if (base > size || end > size)
        throw fail("states the file ends at byte " + std::to_string(end) + " (base " +
                   std::to_string(base) + "), but it has " + std::to_string(size) +
                   " bytes (cut short?)");
    if (version < 2 && address(3) != undefined)
        throw fail("has a driver information block (a multi-file HDF5 driver's, which semg does "
                   "not read)");
}

} // namespace semg::acquisition
