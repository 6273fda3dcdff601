#pragma once
// The layout of a MATLAB .mat file, checked before libmatio lists it (acquisition/mat_source).
//
// libmatio 1.5.23 allocates what a variable's header claims before it reads the bytes behind the
// claim: a cell's or struct's elements from its dimensions, a small cell's data from its
// dimensions, names and field names from their tags. A 1 kB file claiming a 65536 x 65536 cell
// costs it 32 GB. check_mat_v5_layout reads the same headers, inflating miCOMPRESSED variables
// as it goes, and refuses a file where a claim does not fit in what holds it:
//  - every data element ends inside the file, and every subelement (flags, dimensions, name,
//    data) inside its matrix;
//  - a cell or struct has room for its elements (each at least an 8-byte tag);
//  - no function handle (matio reads the variables that follow as its parts, and leaks them);
//  - a numeric or char array has room for its values (each at least one byte);
//  - at most kMaxMatRank dimensions, at most kMaxMatNesting levels of cells and structs, and a
//    compressed variable inflates to the matrix it claims.
// MATLAB, scipy and matio write nothing that fails these.
#include <cstddef>
#include <filesystem>

namespace semg::acquisition {

inline constexpr std::size_t kMaxMatNesting = 32;
inline constexpr std::size_t kMaxMatRank = 32;

// How libmatio's Mat_Open reads a file: v5 or v7.3 by the version and endian mark at the end of
// a 128-byte header ("IM" or "MI" at bytes 126-127, version 0x0100 or 0x0200), otherwise v4,
// which has no header.
enum class MatLayout { v4, v5, v73 };
MatLayout mat_layout(const std::filesystem::path& path);

// For a v5 file: throws SourceError naming the file, the data element and what does not fit.
void check_mat_v5_layout(const std::filesystem::path& path);

} // namespace semg::acquisition
