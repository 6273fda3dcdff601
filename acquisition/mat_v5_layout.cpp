#include "acquisition/mat_v5_layout.hpp"

#include "acquisition/source.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <new>
#include <string>

namespace semg::acquisition {
namespace {

// v5 data types and array classes (MathWorks, "MAT-File Format", tables 1-1 and 1-3).
constexpr std::uint32_t kMiInt8 = 1, kMiInt32 = 5, kMiUint32 = 6, kMiMatrix = 14,
                        kMiCompressed = 15;
constexpr std::uint32_t kCell = 1, kStruct = 2, kObject = 3, kChar = 4, kDouble = 6, kUint64 = 15,
                        kFunction = 16, kOpaque = 17;
constexpr std::uint32_t kComplexFlag = 0x0800;

std::uint64_t padded(std::uint64_t bytes) { return (bytes + 7) / 8 * 8; }

// A 32-bit word in the file's byte order (`swap`: written big-endian).
std::uint32_t word(const unsigned char* p, bool swap) {
    return swap ? std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 |
                      p[3]
                : std::uint32_t{p[3]} << 24 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[1]} << 8 |
                      p[0];
}

// a·b, or the largest value when it does not fit.
std::uint64_t times(std::uint64_t a, std::uint64_t b) {
    return b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b
               ? std::numeric_limits<std::uint64_t>::max()
               : a * b;
}

// The bytes of one data element: the file, or an miCOMPRESSED element inflated as it is read.
class Bytes {
public:
    virtual ~Bytes() = default;
    // n bytes into `out`; false when the bytes end first.
    virtual bool read(unsigned char* out, std::size_t n) = 0;
    virtual bool skip(std::uint64_t n) = 0;
};

class FileBytes final : public Bytes {
public:
    explicit FileBytes(std::ifstream& in) : in_(in) {}
    bool read(unsigned char* out, std::size_t n) override {
        return static_cast<bool>(
            in_.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(n)));
    }
    // The top-level element was checked to end inside the file, and what is skipped inside it.
    bool skip(std::uint64_t n) override {
        return static_cast<bool>(in_.seekg(static_cast<std::streamoff>(n), std::ios::cur));
    }

private:
    std::ifstream& in_;
};

class InflatedBytes final : public Bytes {
public:
    // The `compressed` bytes that follow in `in`, inflated by zlib (the same library matio uses).
    InflatedBytes(std::ifstream& in, std::uint64_t compressed) : in_(in), left_(compressed) {
        if (inflateInit(&z_) != Z_OK)
            throw std::bad_alloc();
    }
    ~InflatedBytes() override { inflateEnd(&z_); }
    InflatedBytes(const InflatedBytes&) = delete;
    InflatedBytes& operator=(const InflatedBytes&) = delete;

    bool read(unsigned char* out, std::size_t n) override {
        z_.next_out = out;
        z_.avail_out = static_cast<uInt>(n);
        while (z_.avail_out > 0) {
            if (z_.avail_in == 0) {
                if (left_ == 0)
                    return false;
                const auto chunk =
                    static_cast<std::size_t>(std::min<std::uint64_t>(left_, input_->size()));
                if (!in_.read(reinterpret_cast<char*>(input_->data()),
                              static_cast<std::streamsize>(chunk)))
                    return false;
                left_ -= chunk;
                z_.next_in = input_->data();
                z_.avail_in = static_cast<uInt>(chunk);
            }
            const int r = inflate(&z_, Z_NO_FLUSH);
            if (r == Z_STREAM_END)
                return z_.avail_out == 0;
            if (r != Z_OK)
                return false;
        }
        return true;
    }
    bool skip(std::uint64_t n) override {
        while (n > 0) {
            const auto chunk =
                static_cast<std::size_t>(std::min<std::uint64_t>(n, scratch_->size()));
            if (!read(scratch_->data(), chunk))
                return false;
            n -= chunk;
        }
        return true;
    }

private:
    using Buffer = std::array<unsigned char, 1 << 16>;
    std::ifstream& in_;
    std::uint64_t left_;
    z_stream z_{};
    std::unique_ptr<Buffer> input_ = std::make_unique<Buffer>();
    std::unique_ptr<Buffer> scratch_ = std::make_unique<Buffer>();
};

// Walks the headers of one variable (a miMATRIX element and what it nests), each read within the
// bytes `left` of what holds it.
class Walk {
public:
    Walk(std::string file, bool swap, std::string where)
        : file_(std::move(file)), swap_(swap), where_(std::move(where)) {}

    // The contents of a miMATRIX element of `left` bytes (none: an empty cell or field).
    void matrix(Bytes& in, std::uint64_t left, std::size_t depth) {
        if (left == 0)
            return;
        if (depth > kMaxMatNesting)
            fail("nests cells or structs more than " + std::to_string(kMaxMatNesting) + " deep");
        const Tag flags = tag(in, left, "array flags");
        if (flags.small || (flags.type != kMiUint32 && flags.type != kMiInt32) || flags.bytes != 8)
            fail("has a matrix without array flags");
        std::array<unsigned char, 8> f{};
        read(in, f.data(), 8, left, "array flags");
        const std::uint32_t cls = word(f.data()) & 0xff;
        const bool complex = (word(f.data()) & kComplexFlag) != 0;
        if (cls == kOpaque) // no dimensions: names, a class name and MATLAB's own data
            return subelements(in, left);

        const Tag dims = tag(in, left, "dimensions");
        if (dims.small || dims.type != kMiInt32 || dims.bytes % 4 != 0 ||
            dims.bytes > 4 * kMaxMatRank)
            fail("has a matrix with invalid dimensions (" + std::to_string(dims.bytes / 4) +
                 " of at most " + std::to_string(kMaxMatRank) + ")");
        std::array<unsigned char, 4 * kMaxMatRank> d{};
        read(in, d.data(), dims.bytes, left, "dimensions");
        skip(in, left, padded(dims.bytes) - dims.bytes);
        std::uint64_t n = 1;
        for (std::size_t i = 0; i < dims.bytes; i += 4)
            n = times(n, word(d.data() + i));
        data(in, left, tag(in, left, "name"));

        if (cls == kCell) {
            elements(in, left, n, depth, "a cell");
        } else if (cls == kStruct || cls == kObject) {
            if (cls == kObject)
                data(in, left, tag(in, left, "class name"));
            // matio takes the second word of this small element as the length, whatever it says.
            const Tag length = tag(in, left, "field name length");
            const std::uint32_t per_name = word(length.data.data());
            if (!length.small || length.type != kMiInt32 || per_name == 0)
                fail("has a struct without a field name length");
            const Tag names = tag(in, left, "field names");
            if (names.type != kMiInt8)
                fail("has a struct whose field names are not text");
            data(in, left, names);
            elements(in, left, times(n, names.bytes / per_name), depth,
                     "a struct's fields (elements x fields)");
        } else if (cls == kFunction) {
            // matio 1.5.23 lists a handle's parts as the variables that follow it in the file,
            // and leaks them: the file would be misread.
            fail("is a function handle, which libmatio cannot read (save the file without it)");
        } else {
            if (cls == kChar || (cls >= kDouble && cls <= kUint64)) {
                const std::uint64_t values = times(n, complex ? 2 : 1);
                if (values > left)
                    fail("claims an array of " + std::to_string(values) + " values in " +
                         std::to_string(left) + " bytes");
            }
            subelements(in, left); // real and imaginary parts, a sparse matrix's indices, text
        }
        skip(in, left, left);
    }

private:
    // A tag, and for the small format (length in the upper half of the first word) its data.
    struct Tag {
        std::uint32_t type = 0, bytes = 0;
        bool small = false;
        std::array<unsigned char, 4> data{};
    };

    std::uint32_t word(const unsigned char* p) const { return semg::acquisition::word(p, swap_); }

    [[noreturn]] void fail(const std::string& what) const {
        throw SourceError(file_ + ": damaged MATLAB v5 file: the variable in " + where_ + " " +
                          what);
    }

    void read(Bytes& in, unsigned char* out, std::size_t n, std::uint64_t& left, const char* what) {
        if (n > left)
            fail(std::string("has a matrix whose ") + what + " do not fit in it");
        if (!in.read(out, n))
            fail(std::string("ends in its ") + what + " (cut short, or it does not inflate)");
        left -= n;
    }
    void skip(Bytes& in, std::uint64_t& left, std::uint64_t n) {
        n = std::min(n, left);
        if (!in.skip(n))
            fail("ends before its matrix does (cut short, or it does not inflate)");
        left -= n;
    }

    // A subelement's tag: its data (a normal tag's) must fit in what is left.
    Tag tag(Bytes& in, std::uint64_t& left, const char* what) {
        std::array<unsigned char, 8> t{};
        read(in, t.data(), 8, left, what);
        Tag tag;
        const std::uint32_t first = word(t.data());
        if (first >> 16 != 0) {
            tag.small = true;
            tag.type = first & 0xffff;
            tag.bytes = first >> 16;
            std::copy(t.begin() + 4, t.end(), tag.data.begin());
            if (tag.bytes > 4)
                fail(std::string("has a small ") + what + " element of " +
                     std::to_string(tag.bytes) + " bytes (at most 4)");
        } else {
            tag.type = first;
            tag.bytes = word(t.data() + 4);
            std::copy(t.begin() + 4, t.end(), tag.data.begin());
            if (tag.bytes > left)
                fail(std::string("claims ") + std::to_string(tag.bytes) + " bytes of " + what +
                     " where its matrix has " + std::to_string(left) + " left");
        }
        return tag;
    }
    // Skips a normal tag's data and its padding.
    void data(Bytes& in, std::uint64_t& left, const Tag& tag) {
        if (!tag.small)
            skip(in, left, padded(tag.bytes));
    }

    // The subelements that fill the rest of a matrix, each inside it.
    void subelements(Bytes& in, std::uint64_t& left) {
        while (left >= 8)
            data(in, left, tag(in, left, "data"));
        skip(in, left, left);
    }

    // `n` nested matrices, each a tag and its contents.
    void elements(Bytes& in, std::uint64_t& left, std::uint64_t n, std::size_t depth,
                  const char* what) {
        if (n > left / 8)
            fail(std::string("claims ") + what + " of " + std::to_string(n) + " elements in " +
                 std::to_string(left) + " bytes (each needs at least 8)");
        for (std::uint64_t i = 0; i < n; ++i) {
            const Tag element = tag(in, left, "element");
            if (element.small || (element.bytes != 0 && element.type != kMiMatrix))
                fail("has an element " + std::to_string(i + 1) + " that is not a matrix");
            left -= element.bytes;
            matrix(in, element.bytes, depth + 1);
        }
    }

    std::string file_;
    bool swap_;
    std::string where_;
};

struct Header {
    MatLayout layout = MatLayout::v4;
    bool swap = false;
};

Header header(std::ifstream& in) {
    std::array<unsigned char, 128> h{};
    if (!in.read(reinterpret_cast<char*>(h.data()), h.size()))
        return {};
    Header r;
    if (h[126] == 'I' && h[127] == 'M')
        r.swap = false;
    else if (h[126] == 'M' && h[127] == 'I')
        r.swap = true;
    else
        return {};
    const unsigned version = r.swap ? h[124] << 8 | h[125] : h[125] << 8 | h[124];
    r.layout = version == 0x0100 ? MatLayout::v5 : version == 0x0200 ? MatLayout::v73 : r.layout;
    return r;
}

} // namespace

MatLayout mat_layout(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return header(in).layout;
}

void check_mat_v5_layout(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    const Header h = header(in);
    if (h.layout != MatLayout::v5)
        return;
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::uint64_t>(in.tellg());
    std::uint64_t pos = 128;
    for (std::size_t element = 1; pos + 8 <= size; ++element) {
        std::array<unsigned char, 8> t{};
        in.seekg(static_cast<std::streamoff>(pos));
        if (!in.read(reinterpret_cast<char*>(t.data()), t.size()))
            return;
        const std::string where =
            "data element " + std::to_string(element) + " at byte " + std::to_string(pos);
        const std::uint32_t type = word(t.data(), h.swap), bytes = word(t.data() + 4, h.swap);
        // libmatio reads a variable cut short by a truncated file without a word.
        std::uint64_t end = pos + 8 + bytes;
        if (type != kMiCompressed)
            end = padded(end); // miCOMPRESSED is not padded
        if (end > size && !(type != kMiCompressed && pos + 8 + bytes <= size))
            throw SourceError(path.string() + ": truncated: " + where + " needs " +
                              std::to_string(pos + 8 + bytes) + " bytes, the file has " +
                              std::to_string(size));
        Walk walk(path.string(), h.swap, where);
        if (type == kMiMatrix) {
            FileBytes file(in);
            walk.matrix(file, bytes, 0);
        } else if (type == kMiCompressed) {
            InflatedBytes inflated(in, bytes);
            std::array<unsigned char, 8> inner{};
            if (!inflated.read(inner.data(), inner.size()))
                throw SourceError(path.string() + ": damaged MATLAB v5 file: the compressed " +
                                  where + " does not inflate");
            // What matio lists of a compressed element: a matrix; anything else it skips.
            if (word(inner.data(), h.swap) == kMiMatrix)
                walk.matrix(inflated, word(inner.data() + 4, h.swap), 0);
        }
        pos = end;
    }
}

} // namespace semg::acquisition
