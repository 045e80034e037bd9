#include "kernel_image.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

namespace kho::tools::image {
namespace {

constexpr size_t kSetupSectsOffset = 0x1f1;
constexpr size_t kHeaderMagicOffset = 0x202;  // "HdrS"
constexpr size_t kVersionOffset = 0x206;
constexpr size_t kPayloadOffset = 0x248;
constexpr size_t kPayloadLength = 0x24c;
constexpr size_t kMaxVmlinux = size_t(1) << 30;

uint32_t le32(const std::vector<uint8_t>& b, size_t at) {
    uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
}

bool starts(const uint8_t* p, size_t n, std::initializer_list<uint8_t> magic) {
    return n >= magic.size() && std::equal(magic.begin(), magic.end(), p);
}

// Each decoder stops at the end of the first stream: the kernel appends the
// decompressed size after it (arch/x86/boot/compressed/mkpiggy.c).
std::string gunzip(const uint8_t* p, size_t n, std::vector<uint8_t>* out) {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return "zlib: inflateInit2 failed";
    z.next_in = const_cast<uint8_t*>(p);
    z.avail_in = uInt(n);
    int rc = Z_OK;
    while (rc == Z_OK) {
        size_t have = out->size();
        if (have >= kMaxVmlinux) break;
        out->resize(have + (size_t(8) << 20));
        z.next_out = out->data() + have;
        z.avail_out = uInt(out->size() - have);
        rc = inflate(&z, Z_NO_FLUSH);
        out->resize(out->size() - z.avail_out);
    }
    inflateEnd(&z);
    return rc == Z_STREAM_END ? "" : "gzip payload is corrupt or truncated";
}

std::string unxz(const uint8_t* p, size_t n, std::vector<uint8_t>* out) {
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK) return "liblzma: decoder init failed";
    s.next_in = p;
    s.avail_in = n;
    lzma_ret rc = LZMA_OK;
    while (rc == LZMA_OK && out->size() < kMaxVmlinux) {
        size_t have = out->size();
        out->resize(have + (size_t(8) << 20));
        s.next_out = out->data() + have;
        s.avail_out = out->size() - have;
        rc = lzma_code(&s, LZMA_FINISH);
        out->resize(out->size() - s.avail_out);
    }
    lzma_end(&s);
    return rc == LZMA_STREAM_END ? "" : "xz payload is corrupt or truncated";
}

std::string unzstd(const uint8_t* p, size_t n, std::vector<uint8_t>* out) {
    ZSTD_DStream* d = ZSTD_createDStream();
    if (!d) return "libzstd: ZSTD_createDStream failed";
    ZSTD_inBuffer in{p, n, 0};
    size_t rc = 1;
    while (rc != 0 && !ZSTD_isError(rc) && out->size() < kMaxVmlinux) {
        size_t have = out->size();
        out->resize(have + (size_t(8) << 20));
        ZSTD_outBuffer o{out->data() + have, out->size() - have, 0};
        size_t before = in.pos;
        rc = ZSTD_decompressStream(d, &o, &in);
        out->resize(have + o.pos);
        if (rc != 0 && in.pos == before && o.pos == 0) break;  // no progress: truncated
    }
    ZSTD_freeDStream(d);
    return rc == 0 ? "" : "zstd payload is corrupt or truncated";
}

bool is_name_char(uint8_t c) { return std::isalnum(c) || c == '-' || c == '_'; }

// The whole file, or the error naming it.
std::string read_file(const std::string& path, std::vector<uint8_t>* out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return path + ": " + std::strerror(errno);
    out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    return "";
}

std::string header_error(const std::string& path, const std::vector<uint8_t>& b) {
    if (b.size() < kPayloadLength + 4 || std::memcmp(b.data() + kHeaderMagicOffset, "HdrS", 4) ||
        b[0x1fe] != 0x55 || b[0x1ff] != 0xaa)
        return path + ": not a bzImage (no boot sector signature or \"HdrS\" setup header)";
    return "";
}

}  // namespace

std::string check_bzimage(const std::string& path) {
    std::vector<uint8_t> b;
    std::string err = read_file(path, &b);
    return err.empty() ? header_error(path, b) : err;
}

std::string read_kernel_image(const std::string& path, KernelImage* out) {
    std::vector<uint8_t> b;
    std::string err = read_file(path, &b);
    if (err.empty()) err = header_error(path, b);
    if (!err.empty()) return err;
    uint16_t version = uint16_t(b[kVersionOffset] | b[kVersionOffset + 1] << 8);
    if (version < 0x208) return path + ": boot protocol older than 2.08 (no payload_offset)";
    size_t setup = (size_t(b[kSetupSectsOffset] ? b[kSetupSectsOffset] : 4) + 1) * 512;
    uint64_t off = setup + uint64_t(le32(b, kPayloadOffset)), len = le32(b, kPayloadLength);
    if (off + len > b.size() || len < 8) return path + ": payload lies outside the file (truncated image?)";
    const uint8_t* p = b.data() + off;
    if (starts(p, len, {0x1f, 0x8b})) out->compression = "gzip", err = gunzip(p, len, &out->vmlinux);
    else if (starts(p, len, {0xfd, '7', 'z', 'X', 'Z', 0})) out->compression = "xz", err = unxz(p, len, &out->vmlinux);
    else if (starts(p, len, {0x28, 0xb5, 0x2f, 0xfd})) out->compression = "zstd", err = unzstd(p, len, &out->vmlinux);
    else return path + ": kernel compressed with a format khotool does not read (gzip, xz and zstd are)";
    return err.empty() ? "" : path + ": " + err;
}

std::vector<std::string> abi_versions(const std::vector<uint8_t>& bytes, const std::string& prefix) {
    std::set<std::string> found;
    auto it = bytes.begin();
    while ((it = std::search(it, bytes.end(), prefix.begin(), prefix.end())) != bytes.end()) {
        // Not the tail of a longer name ("xkho-v4"); the byte before may be
        // anything else: a compatible can sit in a struct's char array
        // (memfd's .compatible = "memfd-v2") after other fields.
        bool starts_string = it == bytes.begin() || !is_name_char(*(it - 1));
        auto end = it + prefix.size();
        auto digits = end;
        while (digits != bytes.end() && *digits >= '0' && *digits <= '9') ++digits;
        if (starts_string && digits != end && digits != bytes.end() && *digits == 0)
            found.insert(std::string(it, digits));
        it = end;
    }
    return {found.begin(), found.end()};
}

bool contains(const std::vector<uint8_t>& bytes, const std::string& text) {
    return std::search(bytes.begin(), bytes.end(), text.begin(), text.end()) != bytes.end();
}

}  // namespace kho::tools::image
